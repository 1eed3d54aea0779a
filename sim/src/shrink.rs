//! Shrinking a failing seed: smaller runs that still fail the same way, each candidate a
//! deterministic re-run of the same seed. The failing run is first turned into its fault
//! schedule (replayed, it fails as the original did); then, greedily, while the run
//! keeps failing: fewer workloads, fewer faults in its schedule (delta debugging over
//! the inflicted actions, the heals that undo nothing dropped with them:
//! [`Schedule::effective`]), a prefix of the ops, a shorter time limit, a lower rate,
//! fewer clients, fewer nodes, a shorter heal time. Greedy shrinking sticks in local
//! minima (a step taken early can bar a bigger one later), so it runs three times from
//! the same start with the steps in three orders, and keeps the smallest result.
//! "The same way": the candidate's verdict is the original's, and the checkers that fail
//! in it are some of those that failed in the original.

use crate::iteration::run_iteration;
use crate::test_run::{run_test, SimTest};
use jepsen_core::checker::{CheckResult, Validity};
use jepsen_core::fault::Schedule;
use jepsen_core::history::History;
use jepsen_core::workload::mix::threads_needed;
use jepsen_core::workload::{WorkloadMix, WorkloadOptions};
use std::time::Duration;

/// How big a run is.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSize {
    /// Faults inflicted (partitions, kills, pauses, wipes, shapings) before the final heal.
    pub fault_actions: usize,
    /// Client invocations.
    pub client_ops: usize,
    pub nodes: usize,
    pub workloads: usize,
    pub clients: usize,
    pub time_limit: Duration,
}

impl RunSize {
    fn of(test: &SimTest, history: &History) -> RunSize {
        let schedule = schedule_of(test, history);
        RunSize {
            fault_actions: schedule.fault_count(),
            client_ops: history
                .ops
                .iter()
                .filter(|o| o.is_client() && o.is_invoke())
                .count(),
            nodes: test.nodes,
            workloads: test.workloads.parts.len(),
            clients: test.workload_options.concurrency,
            time_limit: test.workload_options.time_limit,
        }
    }

    /// E.g. `3 fault actions, 412 client ops, 5 nodes, 2 workloads, 10 clients, 8.2 s`.
    pub fn text(&self) -> String {
        format!(
            "{} fault actions, {} client ops, {} nodes, {} workloads, {} clients, {} s",
            self.fault_actions,
            self.client_ops,
            self.nodes,
            self.workloads,
            self.clients,
            self.time_limit.as_secs_f64()
        )
    }
}

/// What shrinking found.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The smallest failing test found; it replays its schedule (`test.schedule`) unless
    /// the schedule replayed did not fail the same way (then its faults are drawn).
    pub test: SimTest,
    pub before: RunSize,
    pub after: RunSize,
    /// Candidate runs tried.
    pub runs: usize,
}

/// The schedule of `history`'s faults before the final heal (the heal is the test's own).
fn schedule_of(test: &SimTest, history: &History) -> Schedule {
    let time_limit = test.workload_options.time_limit;
    let mut schedule = Schedule::from_history(history, &test.node_names(), Some(time_limit));
    let before = time_limit.as_nanos() as i64;
    schedule.ops.retain(|o| o.time < before);
    schedule
}

/// The names of the checkers that did not pass.
fn failing_checkers(result: &CheckResult) -> Vec<String> {
    result
        .details
        .iter()
        .filter(|(_, v)| {
            v.get("valid?")
                .and_then(Validity::from_value)
                .is_none_or(|valid| valid != Validity::Valid)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// One seed's runs, judged against the original failure.
struct Runner {
    seed: u64,
    verdict: Validity,
    failing: Vec<String>,
    runs: usize,
}

impl Runner {
    /// The history of `test` if it fails the way the original did.
    fn fails(&mut self, test: &SimTest) -> Option<History> {
        self.runs += 1;
        let candidate = test.clone();
        let history = run_iteration(self.seed, move |_rt| run_test(candidate)).ok()?;
        let result = test.check(&history);
        let failing = failing_checkers(&result);
        // The same failure: the same verdict, from some of the original's failing
        // checkers and from no other.
        let same = result.valid == self.verdict
            && !failing.is_empty()
            && failing.iter().all(|c| self.failing.contains(c));
        same.then_some(history)
    }
}

/// Shrinks the failure of `test` at `seed`; `Err` says why it cannot (the seed does not
/// fail, or crashes).
pub fn shrink(test: &SimTest, seed: u64) -> Result<Shrunk, String> {
    let original = test.clone();
    let history = run_iteration(seed, move |_rt| run_test(original))
        .map_err(|e| format!("seed {seed} crashed: {e}"))?;
    let result = test.check(&history);
    if result.valid == Validity::Valid {
        return Err(format!("seed {seed} is valid: nothing to shrink"));
    }
    let before = RunSize::of(test, &history);
    let mut runner = Runner {
        seed,
        verdict: result.valid,
        failing: failing_checkers(&result),
        runs: 0,
    };
    // The run as its schedule, so that its faults can be taken away one by one. Should
    // the replayed schedule not fail the same way (an op replayed at its recorded time
    // may meet the cluster a moment apart), the rest of the shrinking goes on with the
    // faults drawn as before.
    let scripted = SimTest {
        swarm: false,
        schedule: Some(schedule_of(test, &history)),
        ..test.clone()
    };
    let (best, best_history) = match runner.fails(&scripted) {
        Some(h) => (scripted, h),
        None => (
            SimTest {
                swarm: false,
                ..test.clone()
            },
            history,
        ),
    };
    // Greedy shrinking gets stuck in local minima: two orders of the steps, each from the
    // same start, and the smaller result.
    let mut results = Vec::new();
    for order in [STEPS_FAULTS_FIRST, STEPS_OPS_FIRST, STEPS_SIZES_FIRST] {
        results.push(greedy(&best, &best_history, order, &mut runner));
    }
    let (best, best_history) = results
        .into_iter()
        .min_by_key(|(t, h)| {
            let size = RunSize::of(t, h);
            (size.client_ops, size.fault_actions)
        })
        .expect("two orders ran");
    let after = RunSize::of(&best, &best_history);
    Ok(Shrunk {
        test: best,
        before,
        after,
        runs: runner.runs,
    })
}

/// One kind of shrinking step.
#[derive(Clone, Copy)]
enum Step {
    /// Each workload left out in turn ([`fewer_workloads`]).
    Workloads,
    /// Delta debugging over the schedule's faults ([`fewer_faults`]).
    Faults,
    /// Candidates smallest first: the first that still fails is taken.
    Candidates(fn(&SimTest) -> Vec<SimTest>),
}

/// Faults and workloads first, then times, ops and sizes.
const STEPS_FAULTS_FIRST: &[Step] = &[
    Step::Workloads,
    Step::Faults,
    Step::Candidates(without_nemesis),
    Step::Candidates(earlier_faults),
    Step::Candidates(fewer_ops),
    Step::Candidates(fewer_heal_ops),
    Step::Candidates(shorter_time_limit),
    Step::Candidates(lower_rate),
    Step::Candidates(fewer_clients),
    Step::Candidates(fewer_ops_per_key),
    Step::Candidates(fewer_nodes),
    Step::Candidates(shorter_client_timeout),
    Step::Candidates(shorter_heal),
];

/// The ops cut to a prefix first (what comes after the failure goes), then the rest.
const STEPS_OPS_FIRST: &[Step] = &[
    Step::Candidates(fewer_ops),
    Step::Candidates(fewer_heal_ops),
    Step::Candidates(earlier_faults),
    Step::Faults,
    Step::Candidates(without_nemesis),
    Step::Workloads,
    Step::Candidates(fewer_clients),
    Step::Candidates(shorter_time_limit),
    Step::Candidates(lower_rate),
    Step::Candidates(fewer_ops_per_key),
    Step::Candidates(fewer_nodes),
    Step::Candidates(shorter_client_timeout),
    Step::Candidates(shorter_heal),
];

/// The cluster and the load made smaller first (nodes, clients, rate, time), then the rest.
const STEPS_SIZES_FIRST: &[Step] = &[
    Step::Candidates(fewer_nodes),
    Step::Candidates(fewer_clients),
    Step::Candidates(lower_rate),
    Step::Candidates(shorter_time_limit),
    Step::Candidates(shorter_heal),
    Step::Candidates(shorter_client_timeout),
    Step::Workloads,
    Step::Faults,
    Step::Candidates(without_nemesis),
    Step::Candidates(earlier_faults),
    Step::Candidates(fewer_ops),
    Step::Candidates(fewer_heal_ops),
    Step::Candidates(fewer_ops_per_key),
];

/// Passes over `steps` from `start` while one of them still shrinks (at most 16).
fn greedy(
    start: &SimTest,
    start_history: &History,
    steps: &[Step],
    runner: &mut Runner,
) -> (SimTest, History) {
    let (mut best, mut best_history) = (start.clone(), start_history.clone());
    let mut progress = true;
    let mut passes = 0;
    while progress && passes < 16 {
        progress = false;
        passes += 1;
        for step in steps {
            let found = match step {
                Step::Workloads => fewer_workloads(&best)
                    .into_iter()
                    .find_map(|c| runner.fails(&c).map(|h| (c, h))),
                Step::Faults => fewer_faults(&best, runner),
                Step::Candidates(shrinker) => shrinker(&best)
                    .into_iter()
                    .find_map(|c| runner.fails(&c).map(|h| (c, h))),
            };
            if let Some((t, h)) = found {
                (best, best_history, progress) = (t, h, true);
            }
        }
    }
    (best, best_history)
}

/// The test with `schedule`, made effective on its nodes.
fn with_schedule(test: &SimTest, schedule: Schedule) -> SimTest {
    SimTest {
        schedule: Some(schedule.effective(&test.node_names())),
        ..test.clone()
    }
}

/// Delta debugging over the inflicted actions: removes chunks of them (halves, then
/// quarters, … then single actions) while the run keeps failing.
fn fewer_faults(test: &SimTest, runner: &mut Runner) -> Option<(SimTest, History)> {
    let mut best: Option<(SimTest, History)> = None;
    let mut current = test.schedule.clone()?;
    let mut chunk = current.fault_count().div_ceil(2).max(1);
    loop {
        let total = current.fault_count();
        if total == 0 {
            break;
        }
        let mut start = 0;
        let mut removed_any = false;
        while start < current.fault_count() {
            let candidate = without_faults(&current, start..start + chunk);
            let t = with_schedule(test, candidate);
            match runner.fails(&t) {
                Some(h) => {
                    current = t.schedule.clone().expect("set above");
                    best = Some((t, h));
                    removed_any = true;
                }
                None => start += chunk,
            }
        }
        if chunk == 1 && !removed_any {
            break;
        }
        if !removed_any {
            chunk = chunk.div_ceil(2);
        }
    }
    best
}

/// `schedule` without its inflicted actions numbered `drop` (in order, from 0).
fn without_faults(schedule: &Schedule, drop: std::ops::Range<usize>) -> Schedule {
    let mut n = 0;
    let mut out = schedule.clone();
    for op in &mut out.ops {
        op.actions.retain(|a| {
            if !a.inflicts() {
                return true;
            }
            let keep = !drop.contains(&n);
            n += 1;
            keep
        });
    }
    out
}

/// Each workload left out in turn: the others keep their own number of client threads
/// (their generators see what they saw before), then share all of them.
fn fewer_workloads(test: &SimTest) -> Vec<SimTest> {
    let parts = &test.workloads.parts;
    if parts.len() < 2 {
        return Vec::new();
    }
    let mut candidates = Vec::new();
    for drop in 0..parts.len() {
        let kept: Vec<_> = parts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != drop)
            .map(|(_, p)| p.workload)
            .collect();
        let total = test.workload_options.concurrency;
        for concurrency in [total - parts[drop].threads.len(), total] {
            let Ok(mix) = WorkloadMix::split(&kept, concurrency) else {
                continue;
            };
            let mut t = test.clone();
            t.workloads = mix;
            t.workload_options.concurrency = concurrency;
            t.workload_options.threads_per_key = test.nodes.min(concurrency);
            candidates.push(t);
        }
    }
    candidates
}

/// The fractions of a time or rate tried, smallest first: a failure that keeps under one
/// is taken, the next pass tries again from there.
const FRACTIONS: [f64; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/// `s`, at least `floor`, rounded up to tenths of a second.
fn tenths(s: f64, floor: f64) -> Duration {
    Duration::from_secs_f64((s.max(floor) * 10.0).ceil() / 10.0)
}

fn shorter_time_limit(test: &SimTest) -> Vec<SimTest> {
    let limit = test.workload_options.time_limit.as_secs_f64();
    // At least up to the last fault of the schedule (and 1 s).
    let last = test
        .schedule
        .as_ref()
        .and_then(|s| s.ops.last())
        .map_or(0.0, |o| o.time as f64 / 1e9);
    FRACTIONS
        .iter()
        .map(|f| tenths(limit * f, 0.5f64.max(last + 0.1)))
        .filter(|t| t.as_secs_f64() < limit)
        .map(|t| {
            let mut c = test.clone();
            c.workload_options.time_limit = t;
            if let Some(s) = &mut c.schedule {
                s.time_limit = Some(t);
            }
            c
        })
        .collect()
}

/// No nemesis at all once no fault is left: no final heal and no phase after it.
fn without_nemesis(test: &SimTest) -> Vec<SimTest> {
    match &test.schedule {
        Some(s) if s.fault_count() == 0 => vec![SimTest {
            faults: Vec::new(),
            fault_timing: None,
            schedule: None,
            ..test.clone()
        }],
        _ => Vec::new(),
    }
}

/// The schedule's faults moved earlier (all by the same amount) and the time limit cut by
/// as much: the ops before the first fault are often only the way to it.
fn earlier_faults(test: &SimTest) -> Vec<SimTest> {
    let Some(schedule) = &test.schedule else {
        return Vec::new();
    };
    let Some(first) = schedule.ops.first().map(|o| o.time) else {
        return Vec::new();
    };
    let lead = 200_000_000i64; // 0.2 s: the cluster and the clients are up by then.
    let limit = test.workload_options.time_limit;
    [first - lead, (first - lead) / 2]
        .into_iter()
        .filter(|shift| *shift >= 100_000_000)
        .map(|shift| {
            let mut t = test.clone();
            let mut s = schedule.clone();
            for op in &mut s.ops {
                op.time -= shift;
            }
            let cut = Duration::from_nanos(shift as u64);
            let time_limit = tenths(limit.saturating_sub(cut).as_secs_f64(), 0.5);
            s.time_limit = Some(time_limit);
            t.workload_options.time_limit = time_limit;
            t.schedule = Some(s);
            t
        })
        .collect()
}

/// The run cut to a prefix of its client ops before the final heal: up to the limit,
/// the ops are the very same, so a failure inside the prefix stays.
fn fewer_ops(test: &SimTest) -> Vec<SimTest> {
    let o = &test.workload_options;
    prefixes(
        test,
        o.rate * o.time_limit.as_secs_f64(),
        o.op_limit,
        |o, k| o.op_limit = Some(k),
    )
}

/// The same after the final heal: a prefix of the ops of the phase after it.
fn fewer_heal_ops(test: &SimTest) -> Vec<SimTest> {
    if test.faults.is_empty() && test.schedule.is_none() {
        return Vec::new();
    }
    let o = &test.workload_options;
    prefixes(
        test,
        o.rate * o.heal_time.as_secs_f64(),
        o.heal_op_limit,
        |o, k| o.heal_op_limit = Some(k),
    )
}

/// Candidates limiting a phase of about `drawn` ops (or `limit`, if lower) to fractions of it.
fn prefixes(
    test: &SimTest,
    drawn: f64,
    limit: Option<u64>,
    set: fn(&mut WorkloadOptions, u64),
) -> Vec<SimTest> {
    let drawn = drawn.ceil() as u64;
    let n = limit.unwrap_or(drawn).min(drawn);
    FRACTIONS
        .iter()
        .map(|f| (n as f64 * f).round() as u64)
        .filter(|k| *k >= 1 && *k < n)
        .map(|k| {
            let mut t = test.clone();
            set(&mut t.workload_options, k);
            t
        })
        .collect()
}

fn lower_rate(test: &SimTest) -> Vec<SimTest> {
    let rate = test.workload_options.rate;
    FRACTIONS
        .iter()
        .map(|f| ((rate * f) * 10.0).round() / 10.0)
        .filter(|r| *r >= 1.0 && *r < rate)
        .map(|r| {
            let mut c = test.clone();
            c.workload_options.rate = r;
            c
        })
        .collect()
}

fn fewer_clients(test: &SimTest) -> Vec<SimTest> {
    let c = test.workload_options.concurrency;
    let workloads = test.workloads.workloads();
    let need = threads_needed(&workloads);
    let mut sizes: Vec<usize> = (need.max(1)..c).collect();
    sizes.dedup();
    sizes
        .into_iter()
        .filter(|n| *n >= need.max(1) && *n < c)
        .filter_map(|n| {
            let mix = WorkloadMix::split(&workloads, n).ok()?;
            let mut t = test.clone();
            t.workloads = mix;
            t.workload_options.concurrency = n;
            t.workload_options.threads_per_key = test.nodes.min(n);
            Some(t)
        })
        .collect()
}

fn fewer_ops_per_key(test: &SimTest) -> Vec<SimTest> {
    let k = test.workload_options.ops_per_key;
    let has_register = test.workloads.workloads().iter().any(|w| !w.is_set());
    [2, 4, k / 2]
        .into_iter()
        .filter(|n| has_register && *n >= 2 && *n < k)
        .map(|n| {
            let mut t = test.clone();
            t.workload_options.ops_per_key = n;
            t
        })
        .collect()
}

/// A shorter client timeout lets the heal time shrink too.
fn shorter_client_timeout(test: &SimTest) -> Vec<SimTest> {
    let ct = test.client_timeout.as_secs_f64();
    [0.5, ct / 2.0]
        .into_iter()
        .filter(|c| *c >= 0.5 && *c < ct)
        .map(|c| {
            let mut t = test.clone();
            t.client_timeout = tenths(c, 0.5);
            t
        })
        .collect()
}

fn fewer_nodes(test: &SimTest) -> Vec<SimTest> {
    if test.nodes <= 3 {
        return Vec::new();
    }
    let mut t = test.clone();
    t.nodes = 3;
    t.replication = t.replication.min(2);
    t.workload_options.threads_per_key = t.nodes.min(t.workload_options.concurrency);
    if let Some(s) = test.schedule.clone() {
        return vec![with_schedule(&t, s)];
    }
    vec![t]
}

fn shorter_heal(test: &SimTest) -> Vec<SimTest> {
    let heal = test.workload_options.heal_time.as_secs_f64();
    let floor = test.client_timeout.as_secs_f64() + 0.5;
    [floor, (floor + heal) / 2.0]
        .iter()
        .map(|s| tenths(*s, floor))
        .filter(|t| t.as_secs_f64() < heal)
        .map(|t| {
            let mut c = test.clone();
            c.workload_options.heal_time = t;
            c
        })
        .collect()
}
