//! The `sim` command's flags and the [`SimTest`] they describe (validated: bad input is a
//! one-line error naming the flag and the fix).

use crate::restate::{Bug, BugSet};
use crate::test_run::SimTest;
use clap::Args;
use jepsen_core::fault::{Fault, Schedule};
use jepsen_core::workload::{parse_concurrency, Workload, WorkloadOptions};
use std::path::PathBuf;
use std::time::Duration;

fn bad(message: impl Into<String>) -> String {
    message.into()
}

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// The first iteration's seed; iteration i runs seed + i.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// How many iterations (seeds) to run.
    #[arg(long, default_value_t = 100)]
    pub iterations: u64,
    /// The workload: set-vo, set-mds, register-vo or register-mds [default: register-mds,
    /// or the first --bug's own].
    #[arg(long)]
    pub workload: Option<String>,
    /// The fault the nemesis inflicts (partition-random-node, kill-random-node, ..., none)
    /// [default: partition-random-node, or the first --bug's own].
    #[arg(long)]
    pub nemesis: Option<String>,
    /// A defect to switch on in the model (repeatable); see --list-bugs.
    #[arg(long = "bug")]
    pub bugs: Vec<String>,
    /// Nodes in the modeled cluster.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Simulated seconds the workload (and nemesis) runs, before the final heal.
    #[arg(long, default_value_t = 4.0)]
    pub time_limit: f64,
    /// Simulated seconds the workload runs after the final heal (restatedev/jepsen: 10 s
    /// with a 5 s client timeout); longer than --client-timeout, so that ops stuck in a
    /// fault have ended before the heal checker looks at each node's last ops.
    #[arg(long, default_value_t = 5.0)]
    pub heal_time: f64,
    /// Simulated seconds a client waits for a response before its op ends :info.
    #[arg(long, default_value_t = 1.0)]
    pub client_timeout: f64,
    /// Client ops per simulated second, over all threads.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Client threads: N, or Nn for N per node.
    #[arg(long, default_value = "5")]
    pub concurrency: String,
    /// Iterations run at once (each on its own thread).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Run each seed twice and fail on any difference in the history.
    #[arg(long)]
    pub check_determinism: bool,
    /// List the bugs that --bug can switch on, one line each, and exit.
    #[arg(long)]
    pub list_bugs: bool,
    /// Seconds between a fault's start and stop, and a stop and the next start.
    #[arg(long, default_value_t = 1.0)]
    pub fault_interval: f64,
    /// Replay this fault schedule (a run's schedule.json, from the simulation or a real
    /// run) instead of drawing faults: node i of the schedule is node i of the cluster.
    #[arg(long)]
    pub schedule: Option<PathBuf>,
    /// Where failing (and single) iterations are kept.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

impl SimArgs {
    /// The test these flags describe, or a one-line error naming the flag and the fix.
    pub fn test(&self) -> Result<SimTest, String> {
        let args = self;
        let mut bugs = BugSet::new();
        for name in &args.bugs {
            bugs.insert(
                name.parse::<Bug>()
                    .map_err(|e| bad(format!("--bug: {e}")))?,
            );
        }
        // Without --workload / --nemesis, the first bug's own (which find it), else ours.
        let first_bug = args.bugs.first().and_then(|b| b.parse::<Bug>().ok());
        let workload: Workload = match &args.workload {
            Some(name) => name.parse().map_err(|e| bad(format!("--workload: {e}")))?,
            None => first_bug.map_or(Workload::RegisterMds, Bug::default_workload),
        };
        let nemesis: Fault = match &args.nemesis {
            Some(name) => name.parse().map_err(|e| bad(format!("--nemesis: {e}")))?,
            None => first_bug.map_or(Fault::PartitionRandomNode, Bug::default_nemesis),
        };
        if args.nodes == 0 || args.nodes > 9 {
            return Err(bad(format!("--nodes {}: give 1 to 9", args.nodes)));
        }
        let secs = |s: f64, flag: &str| {
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| bad(format!("{flag} {s}: give a positive number of seconds")))
        };
        if !(args.rate > 0.0 && args.rate.is_finite()) {
            return Err(bad(format!(
                "--rate {}: give a positive number of ops per second",
                args.rate
            )));
        }
        if args.jobs == 0 {
            return Err(bad("--jobs 0: give at least 1"));
        }
        let concurrency = parse_concurrency(&args.concurrency, args.nodes)?;
        let schedule = match &args.schedule {
            None => None,
            Some(file) => {
                let s = Schedule::load(file).map_err(|e| {
                    format!("--schedule {e}; give a schedule.json from a stored run")
                })?;
                let names: Vec<String> = (1..=args.nodes).map(|i| format!("n{i}")).collect();
                if let Some(missing) = s.nodes.iter().find(|n| !names.contains(n)) {
                    return Err(format!("--schedule {}: it names node {missing}, and the cluster has {} nodes: give --nodes {}", file.display(), args.nodes, s.nodes.len()));
                }
                Some(s)
            }
        };
        let client_timeout = secs(args.client_timeout, "--client-timeout")?;
        if args.heal_time <= args.client_timeout {
            return Err(bad(format!(
            "--heal-time {} must be longer than --client-timeout {}: ops stuck in a fault must end before the heal is judged",
            args.heal_time, args.client_timeout
        )));
        }
        Ok(SimTest {
            client_timeout,
            workload,
            nemesis,
            bugs,
            nodes: args.nodes,
            workload_options: WorkloadOptions {
                concurrency,
                rate: args.rate,
                time_limit: secs(args.time_limit, "--time-limit")?,
                fault_interval: secs(args.fault_interval, "--fault-interval")?,
                heal_time: secs(args.heal_time, "--heal-time")?,
                ops_per_key: 20,
                threads_per_key: args.nodes.min(concurrency),
                ..WorkloadOptions::default()
            },
            schedule,
            schedule_file: args.schedule.as_ref().map(|f| f.display().to_string()),
        })
    }
}
