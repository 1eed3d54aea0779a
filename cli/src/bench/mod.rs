//! `bench`: the speed figures the project promises, measured in one run on this machine.
//!
//! - `check`: parse + linearizability check of the reference etcd and porcupine-kv
//!   histories (Porcupine's own test data), against a parse-only baseline of the same run;
//! - `search`: histories that defeat a plain WGL search (a 10-client kv history checked
//!   whole, a million sequential ops, crashed writes read back), time and peak memory of a
//!   child `check` against its parse-only run;
//! - `set-full`: a synthetic 1,000,000-op set history, parsed and set-full-checked;
//! - `generator`: ops/s through Jepsen's generator simulator for common shapes;
//! - `interpreter`: client ops/s through the interpreter with a no-op client, on the
//!   deterministic runtime and on tokio, with and without streaming to `history.jsonl`;
//! - `list-append`: Elle's list-append checker on 1,000,000 generated transactions;
//! - `report`: rendering a 100,000-op run's `report.html` and loading it in Chromium;
//! - `sim-bugs`: per injected bug of the simulation, the median iterations to find it.
//!
//! Each figure is the best of `--repeat` runs (wall clock) with the CPU time of that run
//! beside it: on a shared machine the CPU time says what the wall clock would be alone.

mod check_speed;
mod chromium;
mod generator;
mod interpreter;
mod list_append;
mod report;
mod report_history;
mod search_scaling;
mod set_full;
mod sim_bugs;

use crate::exit::Failure;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Suite {
    Check,
    Search,
    SetFull,
    Generator,
    Interpreter,
    ListAppend,
    Report,
    SimBugs,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Which benchmarks to run (default: all), comma separated.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Suite>,
    /// Runs per figure; the best is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Ops for the set-full and interpreter benchmarks.
    #[arg(long, default_value_t = 1_000_000)]
    pub ops: usize,
    /// The reference histories (etcd/, porcupine-kv/).
    #[arg(long, default_value = "../shared/histories")]
    pub histories: PathBuf,
}

pub fn run(args: BenchArgs) -> Result<i32, Failure> {
    if args.repeat == 0 {
        return Err(Failure::bad_input("--repeat 0: give at least 1"));
    }
    if args.ops < 100 {
        return Err(Failure::bad_input(format!(
            "--ops {}: give at least 100",
            args.ops
        )));
    }
    let all = args.only.is_empty();
    // First: its children's peak memory counts this process's size when they start.
    if all || args.only.contains(&Suite::Search) {
        search_scaling::run(&args.histories, args.repeat)?;
    }
    if all || args.only.contains(&Suite::Check) {
        check_speed::run(&args.histories, args.repeat)?;
    }
    if all || args.only.contains(&Suite::SetFull) {
        set_full::run(args.ops, args.repeat)?;
    }
    if all || args.only.contains(&Suite::Generator) {
        generator::run(args.ops, args.repeat);
    }
    if all || args.only.contains(&Suite::Interpreter) {
        interpreter::run(args.ops, args.repeat);
    }
    if all || args.only.contains(&Suite::ListAppend) {
        list_append::run(args.repeat);
    }
    if all || args.only.contains(&Suite::Report) {
        report::run(args.repeat)?;
    }
    if all || args.only.contains(&Suite::SimBugs) {
        sim_bugs::run();
    }
    Ok(0)
}

/// CPU time this thread has run (Linux schedstat; zero elsewhere).
pub fn cpu_time() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// One measurement: wall clock and this thread's CPU time.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub wall: Duration,
    pub cpu: Duration,
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>8.1} ms (cpu {:>8.1} ms)",
            ms(self.wall),
            ms(self.cpu)
        )
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Runs `f` `repeat` times; returns the last result and the fastest run's timing.
pub fn best_of<T>(repeat: usize, mut f: impl FnMut() -> T) -> (T, Timing) {
    let mut best: Option<Timing> = None;
    let mut last = None;
    for _ in 0..repeat {
        let (wall, cpu) = (Instant::now(), cpu_time());
        let out = f();
        let t = Timing {
            wall: wall.elapsed(),
            cpu: cpu_time() - cpu,
        };
        if best.is_none_or(|b| t.wall < b.wall) {
            best = Some(t);
        }
        last = Some(out);
    }
    (last.expect("repeat >= 1"), best.expect("repeat >= 1"))
}
