//! Benchmark: the register scenario of `tests/register_over_metadata.rs` and
//! `tests/register_over_objects.rs` (a 3-node modeled cluster, 300 ops from 5 threads
//! over about 6 simulated seconds, a partitioned node and a killed node) on the metadata
//! store (`mds`, the default) or the `Register` virtual object (`vo`), each iteration on
//! a fresh thread with its own seed, then checked with the cas-register linearizability
//! checker. Prints iterations/s (simulation alone, and with the check), the ratio of
//! simulated to wall time, and the verdicts.
//!
//!     cargo run --release -p restate-jepsen-sim --example register_mds_bench [ITERATIONS [JOBS [mds|vo]]]

#[path = "../tests/common/register.rs"]
mod register;

use jepsen_core::checker::linearizable::{KeySplit, Linearizable};
use jepsen_core::checker::{CheckOptions, Checker, Validity};
use jepsen_core::model::ModelKind;
use jepsen_sim::run_iterations;
use register::{register_run, Api, Scenario};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let iterations: u64 = args.next().map_or(100, |a| a.parse().expect("ITERATIONS"));
    let jobs: usize = args.next().map_or(2, |a| a.parse().expect("JOBS"));
    let api = match args.next().as_deref() {
        None | Some("mds") => Api::Metadata,
        Some("vo") => Api::VirtualObject,
        Some(other) => panic!("mds or vo, not {other}"),
    };
    let checker = Linearizable::new(ModelKind::CasRegister)
        .with_key_split(KeySplit::IndependentTuple)
        .with_threads(1);

    let start = Instant::now();
    let mut simulated = Duration::ZERO;
    let mut ops = 0;
    let mut histories = Vec::new();
    run_iterations(
        0..iterations,
        jobs,
        move |_rt| async move {
            let history = register_run(Scenario {
                api,
                ..Scenario::default()
            })
            .await;
            (history, madsim::time::TimeHandle::current().elapsed())
        },
        |seed, result| {
            let (history, elapsed) = result.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            simulated += elapsed;
            ops += history.ops.len();
            histories.push(history);
        },
    );
    let simulation = start.elapsed();

    let check_start = Instant::now();
    let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
    std::thread::scope(|scope| {
        let chunks: Vec<_> = histories
            .chunks(histories.len().div_ceil(jobs).max(1))
            .collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let checker = &checker;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|h| checker.check(h, &CheckOptions::default()).valid)
                        .collect::<Vec<Validity>>()
                })
            })
            .collect();
        for h in handles {
            for v in h.join().expect("a checker thread") {
                *verdicts.entry(format!("{v:?}")).or_default() += 1;
            }
        }
    });
    let checking = check_start.elapsed();
    let total = simulation + checking;

    println!(
        "register ({api:?}) over the modeled cluster: {iterations} iterations, {jobs} jobs, {ops} history ops"
    );
    println!(
        "  simulation: {:.2} s wall, {:.1} iterations/s, {:.1} simulated s per wall s ({:.1} simulated s in all)",
        simulation.as_secs_f64(),
        iterations as f64 / simulation.as_secs_f64(),
        simulated.as_secs_f64() / simulation.as_secs_f64(),
        simulated.as_secs_f64()
    );
    println!("  checking:   {:.2} s wall", checking.as_secs_f64());
    println!(
        "  together:   {:.1} iterations/s; verdicts {verdicts:?}",
        iterations as f64 / total.as_secs_f64()
    );
}
