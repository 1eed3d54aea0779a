//! The `sim` command's flags (the core's shared test flags plus the simulation's own) and
//! the [`SimTest`] each seed runs (validated: bad input is a one-line error naming the
//! flag and the fix).
//!
//! Without `--workload` or without `--nemesis`, the run is a swarm ([`crate::swarm`]):
//! each seed draws its configuration, and every flag given pins its dimension. With both,
//! the test is fixed, with the defaults below for what is not given.

use crate::network::NetworkConfig;
use crate::restate::{Bug, BugSet};
use crate::swarm;
use crate::test_run::SimTest;
use clap::Args;
use jepsen_core::fault::{parse_faults, Fault, FaultOptions};
use jepsen_core::test_args::{TestArgs, TestDefaults};
use jepsen_core::workload::mix::threads_needed;
use jepsen_core::workload::{parse_workloads, Workload};
use std::ops::Range;
use std::time::Duration;

/// The most iterations run at once (`--jobs`): each is a thread with a whole simulated
/// cluster, so more than a large machine's cores only costs memory.
pub const MAX_JOBS: usize = 1024;

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    /// The first iteration's seed; iteration i runs seed + i.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// How many iterations (seeds) to run.
    #[arg(long, default_value_t = 100)]
    pub iterations: u64,
    /// The workloads, faults, rates and times. Without --workload or --nemesis each seed
    /// draws its own configuration (the swarm), and each flag given pins its dimension.
    #[command(flatten)]
    pub test: TestArgs,
    /// A defect to switch on in the model (repeatable); see --list-bugs.
    #[arg(long = "bug")]
    pub bugs: Vec<String>,
    /// Nodes in the modeled cluster [default: 3; swarm: 3 or 5].
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Log servers that store each record (Restate's default-replication) [default: 2;
    /// swarm: 1, 2 or a majority].
    #[arg(long)]
    pub replication: Option<usize>,
    /// Simulated seconds a client waits for a response before its op ends :info; shorter
    /// than --heal-time, so that ops stuck in a fault have ended before the heal checker
    /// looks at each node's last ops [default: 1; swarm: 0.5–5].
    #[arg(long)]
    pub client_timeout: Option<f64>,
    /// The network's most one-way latency, in ms (from 1 ms) [default: 10; swarm: 2–30].
    #[arg(long)]
    pub latency: Option<u64>,
    /// The network's steady packet loss, a probability [default: 0; swarm: 0 or 0.001–0.03].
    #[arg(long)]
    pub loss: Option<f64>,
    /// packet-loss's loss while in force [default: 0.2; swarm: 0.05–0.5].
    #[arg(long)]
    pub fault_loss: Option<f64>,
    /// latency-spike's added latency while in force, in ms [default: 500; swarm: 100–2000].
    #[arg(long)]
    pub fault_latency: Option<u64>,
    /// Leave the stats checker (every kind of op succeeded at least once) out of the
    /// verdict [default: out in the swarm, where a short drawn run may have no ok cas
    /// without any bug; in for a fixed test, as restatedev/jepsen has it].
    #[arg(long)]
    pub no_stats: bool,
    /// Iterations run at once (each on its own thread).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Run only the I-th (from 0) of N disjoint slices of the seeds, e.g. 0/4 (a job
    /// array's task); `sim summarize STORE` merges the shards' summaries.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Shrink each failing seed: smaller runs (fewer faults, clients, ops, nodes,
    /// workloads, a shorter time) that still fail the same way; the smallest is kept in
    /// the store with its replay commands.
    #[arg(long)]
    pub shrink: bool,
    /// Run each seed twice and fail on any difference in the history.
    #[arg(long)]
    pub check_determinism: bool,
    /// List the bugs that --bug can switch on, one line each, and exit.
    #[arg(long)]
    pub list_bugs: bool,
}

/// The `sim` flags alone, for [`SimArgs::from_flags`].
#[derive(clap::Parser, Debug)]
struct SimFlags {
    #[command(flatten)]
    args: SimArgs,
}

impl SimArgs {
    /// The flags parsed from `flags` (as after `sim` on a command line).
    pub fn from_flags<S: AsRef<str>>(flags: &[S]) -> Result<SimArgs, String> {
        use clap::Parser;
        let argv = std::iter::once("sim").chain(flags.iter().map(AsRef::as_ref));
        SimFlags::try_parse_from(argv)
            .map(|f| f.args)
            .map_err(|e| e.to_string())
    }

    /// The seeds the iterations run, `seed .. seed + iterations`; an error when there are
    /// none or the last would pass the largest seed (seeds do not wrap around to 0).
    pub fn seeds(&self) -> Result<Range<u64>, String> {
        if self.iterations == 0 {
            return Err("--iterations 0: give at least 1".to_string());
        }
        match self.seed.checked_add(self.iterations) {
            Some(end) => Ok(self.seed..end),
            None => Err(format!(
                "--seed {} --iterations {}: the seeds would pass the largest seed, {}; give a smaller seed or fewer iterations (seed + iterations at most {})",
                self.seed,
                self.iterations,
                u64::MAX - 1,
                u64::MAX
            )),
        }
    }

    /// Whether seeds draw their configuration (no --workload, or no --nemesis).
    pub fn is_swarm(&self) -> bool {
        self.test.workload.is_none() || self.test.nemesis.is_none()
    }

    /// The bugs switched on.
    pub fn bug_set(&self) -> Result<BugSet, String> {
        let mut bugs = BugSet::new();
        for name in &self.bugs {
            bugs.insert(name.parse::<Bug>().map_err(|e| format!("--bug: {e}"))?);
        }
        Ok(bugs)
    }

    /// The test seed `seed` runs, or a one-line error naming the flag and the fix.
    pub fn test(&self, seed: u64) -> Result<SimTest, String> {
        let bugs = self.bug_set()?;
        if let Some(n) = self.nodes.filter(|n| !(3..=9).contains(n)) {
            return Err(format!(
                "--nodes {n}: give 3 to 9 (the metadata store needs a majority that survives a fault)"
            ));
        }
        if !(1..=MAX_JOBS).contains(&self.jobs) {
            return Err(format!(
                "--jobs {}: give 1 to {MAX_JOBS} (iterations run at once, a thread each)",
                self.jobs
            ));
        }
        let swarm = self.is_swarm();
        let drawn = swarm.then(|| swarm::draw(seed, self.nodes));
        let nodes = self.nodes.or(drawn.as_ref().map(|d| d.nodes)).unwrap_or(3);
        let defaults = match &drawn {
            None => TestDefaults {
                workload: Some(vec![Workload::RegisterMds]),
                nemesis: vec![Fault::PartitionRandomNode],
                fault_timing: None,
                concurrency: 5,
                rate: 50.0,
                time_limit: 4.0,
                heal_time: 5.0,
                fault_interval: 1.0,
                ops_per_key: 20,
            },
            Some(d) => {
                let workloads = match &self.test.workload {
                    Some(names) => parse_workloads(names).unwrap_or_default(),
                    None => d.workloads.clone(),
                };
                let need = threads_needed(&workloads);
                // Without faults there is no phase after the heal: the run gets its time.
                let faultless = match &self.test.nemesis {
                    Some(names) => parse_faults(names).is_ok_and(|f| f.is_empty()),
                    None => d.faults.is_empty(),
                };
                let time_limit = if faultless {
                    d.time_limit + d.heal_time
                } else {
                    d.time_limit
                };
                TestDefaults {
                    workload: Some(d.workloads.clone()),
                    nemesis: d.faults.clone(),
                    fault_timing: Some(d.fault_timing),
                    concurrency: (d.threads_per_node * nodes).max(need),
                    rate: d.rate,
                    time_limit: time_limit.as_secs_f64(),
                    heal_time: self
                        .client_timeout
                        .map_or(d.heal_time, |c| {
                            Duration::from_secs_f64(c.max(0.0)) + d.heal_time - d.client_timeout
                        })
                        .as_secs_f64(),
                    fault_interval: 1.0,
                    ops_per_key: d.ops_per_key,
                }
            }
        };
        let choice = self.test.resolve(nodes, &defaults)?;
        let client_timeout_s = self
            .client_timeout
            .or(drawn.as_ref().map(|d| d.client_timeout.as_secs_f64()))
            .unwrap_or(1.0);
        let client_timeout = Duration::try_from_secs_f64(client_timeout_s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                format!("--client-timeout {client_timeout_s}: give a positive number of seconds")
            })?;
        if choice.options.heal_time <= client_timeout {
            return Err(format!(
                "--heal-time {} must be longer than --client-timeout {}: ops stuck in a fault must end before the heal is judged",
                choice.options.heal_time.as_secs_f64(),
                client_timeout_s
            ));
        }
        let replication = self
            .replication
            .or(drawn.as_ref().map(|d| d.replication))
            .unwrap_or(2);
        if !(1..=nodes).contains(&replication) {
            return Err(format!(
                "--replication {replication}: give 1 to the number of nodes ({nodes})"
            ));
        }
        let latency_ms = self
            .latency
            .or(drawn.as_ref().map(|d| d.latency.as_millis() as u64))
            .unwrap_or(10);
        if latency_ms == 0 {
            return Err("--latency 0: give at least 1 (ms)".to_string());
        }
        let loss = self.loss.or(drawn.as_ref().map(|d| d.loss)).unwrap_or(0.0);
        let fault_loss = self
            .fault_loss
            .or(drawn.as_ref().map(|d| d.fault_loss))
            .unwrap_or(0.2);
        for (flag, p) in [("--loss", loss), ("--fault-loss", fault_loss)] {
            if !(0.0..1.0).contains(&p) {
                return Err(format!("{flag} {p}: give a probability from 0 to below 1"));
            }
        }
        let fault_latency = self
            .fault_latency
            .map(Duration::from_millis)
            .or(drawn.as_ref().map(|d| d.fault_latency))
            .unwrap_or(Duration::from_millis(500));
        Ok(SimTest {
            swarm,
            stats: !(swarm || self.no_stats),
            workloads: choice.workloads,
            faults: choice.faults,
            fault_timing: choice.fault_timing,
            bugs,
            nodes,
            replication,
            network: NetworkConfig {
                packet_loss: loss,
                latency: Duration::from_millis(1)..Duration::from_millis(latency_ms.max(2)),
            },
            fault_options: FaultOptions {
                packet_loss: fault_loss,
                latency_spike: fault_latency,
            },
            client_timeout,
            workload_options: choice.options,
            schedule: choice.schedule,
            schedule_file: choice.schedule_file,
            given_flags: self.given_flags(),
        })
    }

    /// The flags the user gave that shape a seed's test (with the bugs), as a command
    /// line would give them: with the seed, they replay it.
    pub fn given_flags(&self) -> Vec<String> {
        let t = &self.test;
        let mut flags = Vec::new();
        let mut put = |flag: &str, value: Option<String>| {
            if let Some(v) = value {
                flags.push(flag.to_string());
                flags.push(v);
            }
        };
        put("--workload", t.workload.clone());
        put("--nemesis", t.nemesis.clone());
        put("--nodes", self.nodes.map(|n| n.to_string()));
        put("--replication", self.replication.map(|n| n.to_string()));
        put("--concurrency", t.concurrency.clone());
        put("--rate", t.rate.map(|n| n.to_string()));
        put("--time-limit", t.time_limit.map(|n| n.to_string()));
        put("--heal-time", t.heal_time.map(|n| n.to_string()));
        put("--fault-interval", t.fault_interval.map(|n| n.to_string()));
        put("--fault-duration", t.fault_duration.map(|n| n.to_string()));
        put("--fault-gap", t.fault_gap.map(|n| n.to_string()));
        put("--ops-per-key", t.ops_per_key.map(|n| n.to_string()));
        put("--op-limit", t.op_limit.map(|n| n.to_string()));
        put("--heal-op-limit", t.heal_op_limit.map(|n| n.to_string()));
        put(
            "--client-timeout",
            self.client_timeout.map(|n| n.to_string()),
        );
        put("--latency", self.latency.map(|n| n.to_string()));
        put("--loss", self.loss.map(|n| n.to_string()));
        put("--fault-loss", self.fault_loss.map(|n| n.to_string()));
        put("--fault-latency", self.fault_latency.map(|n| n.to_string()));
        for bug in &self.bugs {
            put("--bug", Some(bug.clone()));
        }
        put(
            "--schedule",
            t.schedule.as_ref().map(|s| s.display().to_string()),
        );
        if self.no_stats {
            flags.push("--no-stats".to_string());
        }
        flags
    }
}
