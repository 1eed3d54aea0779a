//! `sim`: the deterministic simulation. Iteration i runs seed S+i on a fresh thread through
//! the core's lifecycle (`jepsen_core::test_run`) in the simulated world
//! (`jepsen_sim::SimWorld`); a failing iteration is kept in the store and its replay
//! commands are printed: the simulation's, and the real cluster's for its fault schedule.
//! A run of one iteration is always kept.

use crate::exit::{self, Failure};
use jepsen_core::checker::Validity;
use jepsen_core::fault::SCHEDULE_JSON;
use jepsen_core::test_run::{run_test as run_lifecycle, Keep};
pub use jepsen_sim::options::SimArgs;
use jepsen_sim::restate::Bug;
use jepsen_sim::{check_determinism, run_seeds, run_test, SimWorld};
use std::path::PathBuf;
use std::time::Instant;

/// What one iteration found, as the summary needs it.
struct Iteration {
    verdict: Validity,
    why: String,
    ops: usize,
    simulated_ns: i64,
    kept: Option<PathBuf>,
}

pub fn run(args: SimArgs) -> Result<i32, Failure> {
    if args.list_bugs {
        for bug in Bug::ALL {
            println!("{:<32} {}", bug.name(), bug.description());
        }
        return Ok(0);
    }
    if args.iterations == 0 {
        return Err(Failure::bad_input("--iterations 0: give at least 1"));
    }
    let test = args.test().map_err(Failure::bad_input)?;
    let seeds = args.seed..args.seed.saturating_add(args.iterations);
    let started = Instant::now();
    let single = args.iterations == 1;
    tracing::info!(
        seed = args.seed,
        iterations = args.iterations,
        workload = %test.workload,
        nemesis = %test.nemesis,
        "sim starting"
    );
    let progress = crate::progress::IterationProgress::new(args.iterations);
    let (mut valid, mut invalid, mut unknown, mut ops, mut simulated) = (0u64, 0, 0, 0, 0i64);
    let mut failures: Vec<(u64, Iteration)> = Vec::new();
    let mut kept: Vec<PathBuf> = Vec::new();
    let mut store_error = None;
    let mut each = |seed: u64, outcome: Result<Iteration, String>| {
        let it = outcome.unwrap_or_else(|why| Iteration {
            verdict: Validity::Unknown,
            why: format!("\t{why}"),
            ops: 0,
            simulated_ns: 0,
            kept: None,
        });
        match it.verdict {
            Validity::Valid => valid += 1,
            Validity::Invalid => invalid += 1,
            Validity::Unknown => unknown += 1,
        }
        ops += it.ops;
        simulated += it.simulated_ns;
        progress.iteration_done(it.verdict == Validity::Valid);
        kept.extend(it.kept.clone());
        if it.verdict != Validity::Valid {
            failures.push((seed, it));
        }
    };

    if args.check_determinism {
        for seed in seeds.clone() {
            let make = {
                let test = test.clone();
                move |_rt| run_test(test)
            };
            let outcome = match check_determinism(seed, make) {
                Ok(history) => {
                    let result = test.check(&history);
                    Iteration {
                        verdict: result.valid,
                        why: result.reason(),
                        ops: history.len(),
                        simulated_ns: history.ops.last().map_or(0, |o| o.time),
                        kept: None,
                    }
                }
                Err(e) => Iteration {
                    verdict: Validity::Invalid,
                    why: format!("\tnot deterministic: {e}"),
                    ops: 0,
                    simulated_ns: 0,
                    kept: None,
                },
            };
            each(seed, Ok(outcome));
        }
    } else {
        let store = args.test.store.clone();
        let seed_run = {
            let test = test.clone();
            move |seed: u64| {
                let mut world = SimWorld::new(test.clone(), seed, single);
                let keep = if single {
                    Keep::Always
                } else {
                    Keep::UnlessValid
                };
                let outcome = run_lifecycle(
                    &test.test_run(seed),
                    &mut world,
                    keep,
                    &store,
                    Box::new(|_| {}),
                );
                outcome.map(|o| Iteration {
                    verdict: o.result.valid,
                    why: o.result.reason(),
                    ops: o.history.len(),
                    simulated_ns: o.history.ops.last().map_or(0, |op| op.time),
                    kept: o.run_dir,
                })
            }
        };
        run_seeds(seeds, args.jobs, seed_run, |seed, outcome| {
            let outcome = match outcome {
                Ok(Ok(it)) => Ok(it),
                Ok(Err(e)) => {
                    store_error = Some(Failure::bad_input(e.to_string()));
                    Err(format!("the run failed: {e}"))
                }
                Err(panic) => Err(format!("the simulation crashed: {panic}")),
            };
            each(seed, outcome)
        });
    }
    progress.finish();
    if let Some(e) = store_error {
        return Err(e);
    }

    let wall = started.elapsed().as_secs_f64();
    let total = valid + invalid + unknown;
    println!(
        "{total} iterations of {} under {}{}: {valid} valid, {invalid} invalid, {unknown} unknown",
        test.workload,
        test.nemesis,
        if test.bugs.is_empty() {
            String::new()
        } else {
            format!(" with bugs {:?}", args.bugs)
        }
    );
    println!(
        "{ops} ops, {:.1} simulated s in {wall:.2} wall s: {:.1} iterations/s, {:.0}x real time",
        simulated as f64 / 1e9,
        total as f64 / wall.max(1e-9),
        simulated as f64 / 1e9 / wall.max(1e-9)
    );
    for (seed, it) in &failures {
        println!("seed {seed}: {}{}", it.verdict.name(), it.why);
        println!("  replay: {}", test.replay_command(*seed));
        if let Some(dir) = &it.kept {
            let schedule = dir.join(SCHEDULE_JSON);
            let real = test.real_replay_command(*seed);
            println!(
                "  replay on a real cluster: {}",
                real.replace("{schedule}", &schedule.display().to_string())
            );
        }
    }
    for path in &kept {
        println!("stored: {}", path.display());
    }
    let overall = match (invalid, unknown) {
        (0, 0) => Validity::Valid,
        (0, _) => Validity::Unknown,
        _ => Validity::Invalid,
    };
    Ok(exit::for_validity(overall))
}
