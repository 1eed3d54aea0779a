//! The flags a test takes in either world (Jepsen's `test-opt-spec`): the workload, the
//! fault or a schedule to replay, and how hard and how long it runs. `sim` and `real`
//! flatten them into their own flags and give their own defaults; validation is here,
//! once: bad input is a one-line error naming the flag and the fix.

use crate::fault::{parse_faults, Fault, FaultTiming, Schedule};
use crate::workload::{parse_concurrency, parse_workloads, Workload, WorkloadMix, WorkloadOptions};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The flags both worlds share.
#[derive(Args, Debug, Clone, Default)]
pub struct TestArgs {
    /// The workload: set-vo, set-mds, register-vo or register-mds; several, comma-separated,
    /// run at once, each on its own client threads, keys and objects.
    #[arg(long)]
    pub workload: Option<String>,
    /// The fault the nemesis inflicts: partition-random-node, partition-random-halves,
    /// partition-majorities-ring, partition-bridge, partition-one-way, kill-random-node,
    /// pause-random-node, nuke-partition-state, packet-loss, latency-spike or none;
    /// several, comma-separated: episodes of each, drawn from the seed, overlapping when
    /// --fault-gap is shorter than --fault-duration.
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
    /// Seconds between a fault's start and stop, and a stop and the next start, for one
    /// fault in restatedev/jepsen's cycle [default: sim 1, real 5].
    #[arg(long)]
    pub fault_interval: Option<f64>,
    /// Fault episodes instead of the cycle: seconds an episode lasts, on average (each
    /// drawn from half to one and a half times it) [default: --fault-interval].
    #[arg(long)]
    pub fault_duration: Option<f64>,
    /// Fault episodes: seconds from one episode's start to the next one's, on average
    /// [default: --fault-interval].
    #[arg(long)]
    pub fault_gap: Option<f64>,
    /// Register workloads: ops on each key [default: sim 20, real 100].
    #[arg(long)]
    pub ops_per_key: Option<u64>,
    /// At most this many client ops before the final heal (Jepsen's `limit`) [default:
    /// no limit].
    #[arg(long)]
    pub op_limit: Option<u64>,
    /// At most this many client ops after the final heal [default: no limit].
    #[arg(long)]
    pub heal_op_limit: Option<u64>,
    /// Where runs are kept.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

/// A world's defaults for the shared flags.
#[derive(Clone, Debug)]
pub struct TestDefaults {
    /// `None`: `--workload` must be given.
    pub workload: Option<Vec<Workload>>,
    /// No fault: no nemesis.
    pub nemesis: Vec<Fault>,
    /// `None`: restatedev/jepsen's cycle for one fault, episodes for several.
    pub fault_timing: Option<FaultTiming>,
    pub concurrency: usize,
    pub rate: f64,
    pub time_limit: f64,
    pub heal_time: f64,
    pub fault_interval: f64,
    pub ops_per_key: u64,
}

/// What the shared flags chose.
#[derive(Clone, Debug)]
pub struct TestChoice {
    pub workloads: WorkloadMix,
    pub faults: Vec<Fault>,
    /// `None`: restatedev/jepsen's cycle; else fault episodes.
    pub fault_timing: Option<FaultTiming>,
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
        let workloads = match (&self.workload, &defaults.workload) {
            (Some(names), _) => parse_workloads(names).map_err(|e| format!("--workload: {e}"))?,
            (None, Some(w)) => w.clone(),
            (None, None) => {
                let names: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
                return Err(format!("--workload: give one of {}", names.join(", ")));
            }
        };
        let faults = match &self.nemesis {
            Some(names) => parse_faults(names).map_err(|e| format!("--nemesis: {e}"))?,
            None => defaults.nemesis.clone(),
        };
        let rate = self.rate.unwrap_or(defaults.rate);
        if !(rate > 0.0 && rate.is_finite()) {
            return Err(format!(
                "--rate {rate}: give a positive number of ops per second"
            ));
        }
        let concurrency = match &self.concurrency {
            Some(text) => parse_concurrency(text, nodes)?,
            None => defaults.concurrency,
        };
        let workloads = WorkloadMix::split(&workloads, concurrency)?;
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
        let fault_interval = seconds(
            "--fault-interval",
            self.fault_interval.unwrap_or(defaults.fault_interval),
        )?;
        // The cycle for one fault, unless episodes are asked for or drawn (and not
        // overruled by --fault-interval); episodes for several.
        let pinned_interval = self.fault_interval.is_some().then_some(fault_interval);
        let episodes = self.fault_duration.is_some()
            || self.fault_gap.is_some()
            || faults.len() > 1
            || (defaults.fault_timing.is_some() && pinned_interval.is_none());
        let drawn = |f: fn(&FaultTiming) -> Duration| {
            pinned_interval
                .or(defaults.fault_timing.as_ref().map(f))
                .unwrap_or(fault_interval)
        };
        let fault_timing = if episodes {
            Some(FaultTiming {
                duration: match self.fault_duration {
                    Some(d) => seconds("--fault-duration", d)?,
                    None => drawn(|t| t.duration),
                },
                gap: match self.fault_gap {
                    Some(g) => seconds("--fault-gap", g)?,
                    None => drawn(|t| t.gap),
                },
            })
        } else {
            None
        };
        Ok(TestChoice {
            workloads,
            faults,
            fault_timing,
            options: WorkloadOptions {
                concurrency,
                rate,
                time_limit: seconds("--time-limit", time_limit)?,
                heal_time: seconds("--heal-time", self.heal_time.unwrap_or(defaults.heal_time))?,
                fault_interval,
                ops_per_key,
                threads_per_key: nodes.min(concurrency),
                with_nemesis: false,
                op_limit: self.op_limit,
                heal_op_limit: self.heal_op_limit,
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
            nemesis: Vec::new(),
            fault_timing: None,
            concurrency: 5,
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
