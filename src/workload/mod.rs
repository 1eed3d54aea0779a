//! Workloads: what a test does to the system and how its history is judged. Each workload
//! is a generator of client operations, a client that turns them into requests over a
//! [`transport::Transport`], and the checkers that judge the result. They never know
//! whether the transport reaches a simulated cluster or a real one.
//!
//! The four are restatedev/jepsen's: `set-vo`, `set-mds`, `register-vo`, `register-mds`,
//! with its schedule ([`schedule`]) and checkers ([`Workload::checkers`]).

pub mod mix;
pub mod outcome;
pub mod register;
pub mod set;
pub mod transport;

use crate::checker::registry::CheckerChoice;
use crate::fault::Schedule;
use crate::generator::{any, cycle, limit, log, nemesis, once, op, phases, sleep, time_limit, Gen};
use crate::runtime::{Client, SharedRng};
pub use mix::WorkloadMix;
use register::{RegisterApi, RegisterClient};
use set::{SetApi, SetClient};
use std::fmt;
use std::rc::Rc;
use std::str::FromStr;
use std::time::Duration;
use transport::Transport;

/// The workloads, by their restatedev/jepsen names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    SetVo,
    SetMds,
    RegisterVo,
    RegisterMds,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload::SetVo,
        Workload::SetMds,
        Workload::RegisterVo,
        Workload::RegisterMds,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::SetVo => "set-vo",
            Workload::SetMds => "set-mds",
            Workload::RegisterVo => "register-vo",
            Workload::RegisterMds => "register-mds",
        }
    }

    pub fn is_set(self) -> bool {
        matches!(self, Workload::SetVo | Workload::SetMds)
    }

    /// The workload's client over `transport`. `rng` is a seeded stream of the runtime's
    /// (register-mds draws its write versions from it).
    pub fn client(self, transport: Rc<dyn Transport>, rng: SharedRng) -> Box<dyn Client> {
        match self {
            Workload::SetVo => Box::new(SetClient::new(transport, SetApi::VirtualObject)),
            Workload::SetMds => Box::new(SetClient::new(transport, SetApi::Metadata)),
            Workload::RegisterVo => Box::new(RegisterClient::new(
                transport,
                RegisterApi::VirtualObject,
                rng,
            )),
            Workload::RegisterMds => {
                Box::new(RegisterClient::new(transport, RegisterApi::Metadata, rng))
            }
        }
    }

    /// The client operations, without timing: sets add and read; registers work key by key.
    pub fn ops(self, opts: &WorkloadOptions) -> Gen {
        self.ops_on(opts, 0..opts.concurrency, 0)
    }

    /// [`Workload::ops`] on client threads `threads`, with set elements counted from
    /// `first`: the phase after the final heal adds elements of its own, since adding an
    /// element again would hide its loss. The register workloads start over at key 0: the
    /// phase after the heal revisits the keys, so a write lost in a fault shows in their
    /// reads.
    pub fn ops_on(
        self,
        opts: &WorkloadOptions,
        threads: std::ops::Range<usize>,
        first: i64,
    ) -> Gen {
        let n = threads.len();
        if self.is_set() {
            set::set_ops_from(threads.start, n, first)
        } else {
            let per_key = opts.threads_per_key.min(n);
            register::register_ops_by_key_from(threads.start, n, per_key, opts.ops_per_key)
        }
    }

    /// The checkers restatedev/jepsen runs: set-full with linearizable reads for the sets,
    /// a cas-register per key for the registers; the heal checker, stats and unhandled
    /// exceptions for all.
    pub fn checkers(self) -> CheckerChoice {
        let common = ["heal", "stats", "unhandled-exceptions"].map(String::from);
        if self.is_set() {
            CheckerChoice {
                checkers: std::iter::once("set-full".to_string())
                    .chain(common)
                    .collect(),
                linearizable_reads: true,
                ..CheckerChoice::default()
            }
        } else {
            CheckerChoice {
                checkers: std::iter::once("linearizable".to_string())
                    .chain(common)
                    .collect(),
                model: Some("cas-register".to_string()),
                key_split: Some("independent".to_string()),
                ..CheckerChoice::default()
            }
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Workload, String> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Workload::ALL.iter().map(|w| w.name()).collect();
                format!("unknown workload {s:?}: use one of {}", names.join(", "))
            })
    }
}

/// Workloads from a comma-separated list of names.
pub fn parse_workloads(text: &str) -> Result<Vec<Workload>, String> {
    text.split(',').map(|w| w.trim().parse()).collect()
}

/// How hard and how long a workload runs.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkloadOptions {
    /// Client threads.
    pub concurrency: usize,
    /// Client ops per second, over all threads (Jepsen's `stagger 1/rate`).
    pub rate: f64,
    /// How long the workload (and the nemesis) runs.
    pub time_limit: Duration,
    /// Whether a nemesis runs: then faults start and stop every `fault_interval`, the
    /// cluster is healed, and the workload goes on for `heal_time`.
    pub with_nemesis: bool,
    /// Time between a fault's start and stop, and between a stop and the next start.
    pub fault_interval: Duration,
    /// How long the workload runs after the final heal.
    pub heal_time: Duration,
    /// Register workloads: ops on each key, and threads working on one key together.
    pub ops_per_key: u64,
    pub threads_per_key: usize,
    /// At most this many client ops before the final heal (shrinking cuts a run to the
    /// prefix that fails: the ops before the limit are the same ops).
    pub op_limit: Option<u64>,
    /// At most this many client ops after the final heal.
    pub heal_op_limit: Option<u64>,
}

impl Default for WorkloadOptions {
    /// restatedev/jepsen's defaults (rate 10, 60 s, faults every 5 s, 10 s to heal,
    /// 100 ops per key).
    fn default() -> Self {
        WorkloadOptions {
            concurrency: 5,
            rate: 10.0,
            time_limit: Duration::from_secs(60),
            with_nemesis: false,
            fault_interval: Duration::from_secs(5),
            heal_time: Duration::from_secs(10),
            ops_per_key: 100,
            threads_per_key: 3,
            op_limit: None,
            heal_op_limit: None,
        }
    }
}

/// The most client threads a test runs: each is a task with its own history, and far
/// more would only exhaust memory (a billion asks for gigabytes before the first op).
pub const MAX_CONCURRENCY: usize = 10_000;

/// Client threads from `N`, or `Nn` for N per node; a one-line error naming the flag.
pub fn parse_concurrency(text: &str, nodes: usize) -> Result<usize, String> {
    let bad = || format!("--concurrency {text}: give a number N, or Nn for N per node");
    let n = match text.strip_suffix('n') {
        Some(per_node) => per_node
            .parse::<usize>()
            .map_err(|_| bad())?
            .saturating_mul(nodes),
        None => text.parse::<usize>().map_err(|_| bad())?,
    };
    if n == 0 {
        return Err(bad());
    }
    if n > MAX_CONCURRENCY {
        return Err(format!(
            "--concurrency {text}: {n} client threads, more than the most a test runs ({MAX_CONCURRENCY}); give fewer"
        ));
    }
    Ok(n)
}

/// Where the phase after the final heal starts counting set elements: above anything the
/// first phase can reach (it issues at most `rate × time-limit` ops).
pub const AFTER_HEAL_FIRST: i64 = 1_000_000_000;

/// restatedev/jepsen's schedule: the workloads at `rate` for `time_limit`, with the
/// nemesis cycling `[sleep, start, sleep, stop]`; then a final `stop` ("Healing
/// cluster"); then the workloads again for `heal_time`. Without a nemesis, the workloads
/// for `time_limit`. Unlike the original, the register workloads get faults too.
pub fn schedule(workloads: &WorkloadMix, opts: &WorkloadOptions) -> Gen {
    let faults = cycle(vec![
        sleep(opts.fault_interval),
        op("start"),
        sleep(opts.fault_interval),
        op("stop"),
    ]);
    schedule_with_faults(workloads, opts, time_limit(opts.time_limit, faults))
}

/// [`schedule`] with the nemesis's part of the first phase given: the ops of a schedule
/// being replayed ([`Schedule::replay_gen`]) or of drawn fault episodes
/// ([`crate::fault::episodes`]), performed at their offsets (the final heal and the
/// phase after it stay the test's own). Every op before the time limit is performed,
/// even if the world falls behind.
pub fn schedule_with_nemesis_ops(
    workloads: &WorkloadMix,
    opts: &WorkloadOptions,
    faults: Gen,
) -> Gen {
    let opts = WorkloadOptions {
        with_nemesis: true,
        ..opts.clone()
    };
    schedule_with_faults(workloads, &opts, faults)
}

/// [`schedule_with_nemesis_ops`] replaying `faults`.
pub fn replay_schedule(workloads: &WorkloadMix, opts: &WorkloadOptions, faults: &Schedule) -> Gen {
    schedule_with_nemesis_ops(workloads, opts, faults.replay_gen(opts.time_limit))
}

/// The schedule with `faults` (which must end) as the nemesis's part of the first phase.
fn schedule_with_faults(workloads: &WorkloadMix, opts: &WorkloadOptions, faults: Gen) -> Gen {
    let clients = |first: i64| workloads.ops_from(opts, first);
    // Before the final heal: at most `op_limit` client ops, if given (Jepsen's `limit`).
    let first_phase = match opts.op_limit {
        Some(n) => limit(n, clients(0)),
        None => clients(0),
    };
    if !opts.with_nemesis {
        return time_limit(opts.time_limit, first_phase);
    }
    let after_heal = match opts.heal_op_limit {
        Some(n) => limit(n, clients(AFTER_HEAL_FIRST)),
        None => clients(AFTER_HEAL_FIRST),
    };
    phases(vec![
        any(vec![
            time_limit(opts.time_limit, first_phase),
            nemesis(faults),
        ]),
        log("Healing cluster"),
        nemesis(once(op("stop"))),
        time_limit(opts.heal_time, after_heal),
    ])
}
