//! The flags a test takes in either world (Jepsen's `test-opt-spec`): the workload, the
//! fault or a schedule to replay, and how hard and how long it runs. `sim` and `real`
//! flatten them into their own flags and give their own defaults; validation is here,
//! once: bad input is a one-line error naming the flag and the fix.

use crate::fault::{Fault, Schedule};
use crate::workload::{parse_concurrency, Workload, WorkloadOptions};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The flags both worlds share.
#[derive(Args, Debug, Clone, Default)]
pub struct TestArgs {
    /// The workload: set-vo, set-mds, register-vo or register-mds.
    #[arg(long)]
    pub workload: Option<String>,
    /// The fault the nemesis inflicts: partition-random-node, partition-random-halves,
    /// partition-majorities-ring, partition-bridge, partition-one-way, kill-random-node,
    /// pause-random-node, nuke-partition-state, packet-loss, latency-spike or none.
    #[arg(long)]
    pub nemesis: Option<String>,
    /// Replay this fault schedule (a stored run's schedule.json, simulated or real) instead
    /// of drawing faults: node i of the schedule is node i of the cluster.
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// Client threads: N, or Nn for N per node [default: 5].
    #[arg(long)]
    pub concurrency: Option<String>,
    /// Client ops per second over all threads [default: sim 50, real 10].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds the workload and the nemesis run before the final heal (simulated seconds
    /// in `sim`) [default: sim 4, real 60; with --schedule, the schedule's own].
    #[arg(long)]
    pub time_limit: Option<f64>,
    /// Seconds the workload runs after the final heal [default: sim 5, real 10].
    #[arg(long)]
    pub heal_time: Option<f64>,
    /// Seconds between a fault's start and stop, and a stop and the next start
    /// [default: sim 1, real 5].
    #[arg(long)]
    pub fault_interval: Option<f64>,
    /// Register workloads: ops on each key [default: sim 20, real 100].
    #[arg(long)]
    pub ops_per_key: Option<u64>,
    /// Where runs are kept.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

/// A world's defaults for the shared flags.
#[derive(Clone, Debug)]
pub struct TestDefaults {
    /// `None`: `--workload` must be given.
    pub workload: Option<Workload>,
    pub nemesis: Fault,
    pub rate: f64,
    pub time_limit: f64,
    pub heal_time: f64,
    pub fault_interval: f64,
    pub ops_per_key: u64,
}

/// What the shared flags chose.
#[derive(Clone, Debug)]
pub struct TestChoice {
    pub workload: Workload,
    pub nemesis: Fault,
    pub options: WorkloadOptions,
    pub schedule: Option<Schedule>,
    /// The schedule's file, as given.
    pub schedule_file: Option<String>,
}

fn seconds(flag: &str, s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{flag} {s}: give a positive number of seconds"))
}

impl TestArgs {
    /// The test the flags choose on a cluster of `nodes` (named `n1` … `nN`).
    pub fn resolve(&self, nodes: usize, defaults: &TestDefaults) -> Result<TestChoice, String> {
        let workload = match (&self.workload, defaults.workload) {
            (Some(name), _) => name.parse().map_err(|e| format!("--workload: {e}"))?,
            (None, Some(w)) => w,
            (None, None) => {
                let names: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
                return Err(format!("--workload: give one of {}", names.join(", ")));
            }
        };
        let nemesis = match &self.nemesis {
            Some(name) => name.parse().map_err(|e| format!("--nemesis: {e}"))?,
            None => defaults.nemesis,
        };
        let rate = self.rate.unwrap_or(defaults.rate);
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(format!(
                "--rate {rate}: give a positive number of ops per second"
            ));
        }
        let concurrency = parse_concurrency(self.concurrency.as_deref().unwrap_or("5"), nodes)?;
        let schedule = match &self.schedule {
            None => None,
            Some(file) => {
                let schedule = Schedule::load(file).map_err(|e| {
                    format!("--schedule {e}; give the schedule.json of a stored run")
                })?;
                let names: Vec<String> = (1..=nodes).map(|i| format!("n{i}")).collect();
                if let Some(missing) = schedule.nodes.iter().find(|n| !names.contains(n)) {
                    return Err(format!(
                        "--schedule {}: it names node {missing}, and the cluster has {nodes} nodes (node i is n<i>): give at least {}",
                        file.display(),
                        schedule.nodes.len()
                    ));
                }
                Some(schedule)
            }
        };
        let time_limit = self
            .time_limit
            .or_else(|| Some(schedule.as_ref()?.time_limit?.as_secs_f64()))
            .unwrap_or(defaults.time_limit);
        let ops_per_key = self.ops_per_key.unwrap_or(defaults.ops_per_key);
        if ops_per_key == 0 {
            return Err("--ops-per-key 0: give at least 1".to_string());
        }
        Ok(TestChoice {
            workload,
            nemesis,
            options: WorkloadOptions {
                concurrency,
                rate,
                time_limit: seconds("--time-limit", time_limit)?,
                heal_time: seconds("--heal-time", self.heal_time.unwrap_or(defaults.heal_time))?,
                fault_interval: seconds(
                    "--fault-interval",
                    self.fault_interval.unwrap_or(defaults.fault_interval),
                )?,
                ops_per_key,
                threads_per_key: nodes.min(concurrency),
                with_nemesis: false,
            },
            schedule,
            schedule_file: self.schedule.as_ref().map(|f| f.display().to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> TestDefaults {
        TestDefaults {
            workload: None,
            nemesis: Fault::None,
            rate: 10.0,
            time_limit: 60.0,
            heal_time: 10.0,
            fault_interval: 5.0,
            ops_per_key: 100,
        }
    }

    #[test]
    fn defaults_fill_in_and_bad_values_name_their_flag() {
        let args = TestArgs {
            workload: Some("set-vo".into()),
            concurrency: Some("2n".into()),
            ..TestArgs::default()
        };
        let choice = args.resolve(3, &defaults()).unwrap();
        assert_eq!(choice.options.concurrency, 6);
        assert_eq!(choice.options.time_limit, Duration::from_secs(60));
        for (bad, flag) in [
            (
                TestArgs {
                    rate: Some(-1.0),
                    ..args.clone()
                },
                "--rate",
            ),
            (
                TestArgs {
                    heal_time: Some(0.0),
                    ..args.clone()
                },
                "--heal-time",
            ),
            (
                TestArgs {
                    workload: None,
                    ..args.clone()
                },
                "--workload",
            ),
            (
                TestArgs {
                    schedule: Some("/no/such/schedule.json".into()),
                    ..args.clone()
                },
                "--schedule",
            ),
        ] {
            let e = bad.resolve(3, &defaults()).unwrap_err();
            assert!(e.starts_with(flag), "{e}");
        }
    }
}
