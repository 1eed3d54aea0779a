//! The `sim` command's flags (the core's shared test flags plus the simulation's own) and
//! the [`SimTest`] they describe (validated: bad input is a one-line error naming the flag
//! and the fix).

use crate::restate::{Bug, BugSet};
use crate::test_run::SimTest;
use clap::Args;
use jepsen_core::fault::Fault;
use jepsen_core::test_args::{TestArgs, TestDefaults};
use jepsen_core::workload::Workload;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// The first iteration's seed; iteration i runs seed + i.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// How many iterations (seeds) to run.
    #[arg(long, default_value_t = 100)]
    pub iterations: u64,
    /// The workload, fault, rates and times (without --workload / --nemesis: the first
    /// --bug's own, else register-mds under partition-random-node).
    #[command(flatten)]
    pub test: TestArgs,
    /// A defect to switch on in the model (repeatable); see --list-bugs.
    #[arg(long = "bug")]
    pub bugs: Vec<String>,
    /// Nodes in the modeled cluster.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Simulated seconds a client waits for a response before its op ends :info; shorter
    /// than --heal-time, so that ops stuck in a fault have ended before the heal checker
    /// looks at each node's last ops.
    #[arg(long, default_value_t = 1.0)]
    pub client_timeout: f64,
    /// Iterations run at once (each on its own thread).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Run each seed twice and fail on any difference in the history.
    #[arg(long)]
    pub check_determinism: bool,
    /// List the bugs that --bug can switch on, one line each, and exit.
    #[arg(long)]
    pub list_bugs: bool,
}

impl SimArgs {
    /// The test these flags describe, or a one-line error naming the flag and the fix.
    pub fn test(&self) -> Result<SimTest, String> {
        let mut bugs = BugSet::new();
        for name in &self.bugs {
            bugs.insert(name.parse::<Bug>().map_err(|e| format!("--bug: {e}"))?);
        }
        if self.nodes == 0 || self.nodes > 9 {
            return Err(format!("--nodes {}: give 1 to 9", self.nodes));
        }
        if self.jobs == 0 {
            return Err("--jobs 0: give at least 1".to_string());
        }
        // Without --workload / --nemesis, the first bug's own (which find it), else ours.
        let first_bug = self.bugs.first().and_then(|b| b.parse::<Bug>().ok());
        let defaults = TestDefaults {
            workload: Some(first_bug.map_or(Workload::RegisterMds, Bug::default_workload)),
            nemesis: first_bug.map_or(Fault::PartitionRandomNode, Bug::default_nemesis),
            rate: 50.0,
            time_limit: 4.0,
            heal_time: 5.0,
            fault_interval: 1.0,
            ops_per_key: 20,
        };
        let choice = self.test.resolve(self.nodes, &defaults)?;
        let client_timeout = Duration::try_from_secs_f64(self.client_timeout)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                format!(
                    "--client-timeout {}: give a positive number of seconds",
                    self.client_timeout
                )
            })?;
        if choice.options.heal_time <= client_timeout {
            return Err(format!(
                "--heal-time {} must be longer than --client-timeout {}: ops stuck in a fault must end before the heal is judged",
                choice.options.heal_time.as_secs_f64(),
                self.client_timeout
            ));
        }
        Ok(SimTest {
            client_timeout,
            workload: choice.workload,
            nemesis: choice.nemesis,
            bugs,
            nodes: self.nodes,
            workload_options: choice.options,
            schedule: choice.schedule,
            schedule_file: choice.schedule_file,
        })
    }
}
