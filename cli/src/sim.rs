//! `sim`: the deterministic simulation. Iteration i runs seed S+i on a fresh thread through
//! the core's lifecycle (`jepsen_core::test_run`) in the simulated world
//! (`jepsen_sim::SimWorld`); without `--workload` or `--nemesis` each seed draws its own
//! configuration (`jepsen_sim::swarm`). A failing iteration is kept in the store and its
//! configuration and replay commands are printed: the simulation's, and the real
//! cluster's for its fault schedule; `--shrink` shrinks it first (`jepsen_sim::shrink`).
//! A run of one iteration is always kept. Each run (or `--shard I/N` of one) writes its
//! summary into the store; `sim summarize STORE` merges the shards (`jepsen_sim::sweep`).

use crate::exit::{self, Failure};
use clap::{Args, Subcommand};
use jepsen_core::checker::Validity;
use jepsen_core::fault::SCHEDULE_JSON;
use jepsen_core::test_run::Keep;
pub use jepsen_sim::options::SimArgs;
use jepsen_sim::restate::Bug;
use jepsen_sim::shrink::shrink;
use jepsen_sim::sweep::{summarize, sweep_name, SeedFailure, Shard, ShardSummary};
use jepsen_sim::{check_determinism, run_seeds, run_test, SimTest};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `sim` and its one subcommand.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimCli {
    #[command(subcommand)]
    pub command: Option<SimCommand>,
    #[command(flatten)]
    pub args: SimArgs,
}

#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Merge the summaries of the sweeps (all shards of each) kept in STORE: counts, and
    /// the failing seeds with their replay commands. Exit 0 valid, 1 invalid, 2 unknown
    /// or a shard missing.
    Summarize {
        /// The store the shards wrote to (their --store).
        store: PathBuf,
        /// Print the merged summaries as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What one iteration found, as the summary needs it.
struct Iteration {
    verdict: Validity,
    why: String,
    ops: usize,
    simulated_ns: i64,
    kept: Option<PathBuf>,
}

pub fn run(cli: SimCli) -> Result<i32, Failure> {
    match cli.command {
        Some(SimCommand::Summarize { store, json }) => summarize_store(&store, json),
        None => run_sim(cli.args),
    }
}

fn summarize_store(store: &Path, json: bool) -> Result<i32, Failure> {
    let sweeps = summarize(store).map_err(Failure::bad_input)?;
    if sweeps.is_empty() {
        return Err(Failure::bad_input(format!(
            "{}: no sweep summaries in {}/sweeps: run `sim --store {}` (with or without --shard) first",
            store.display(),
            store.display(),
            store.display()
        )));
    }
    let mut overall = Validity::Valid;
    for s in &sweeps {
        if json {
            println!("{}", serde_json::to_string(s).expect("a summary is JSON"));
        } else {
            print!("{}", s.text());
        }
        let v = match (s.invalid, s.unknown, s.missing_shards.is_empty()) {
            (0, 0, true) => Validity::Valid,
            (0, _, _) => Validity::Unknown,
            _ => Validity::Invalid,
        };
        overall = overall.and(v);
    }
    Ok(exit::for_validity(overall))
}

fn run_sim(args: SimArgs) -> Result<i32, Failure> {
    if args.list_bugs {
        for bug in Bug::ALL {
            println!(
                "{:<32} {} (shows in {} under {})",
                bug.name(),
                bug.description(),
                bug.default_workload(),
                bug.default_nemesis()
            );
        }
        return Ok(0);
    }
    let all = args.seeds().map_err(Failure::bad_input)?;
    let shard = match &args.shard {
        Some(s) => s.parse::<Shard>().map_err(Failure::bad_input)?,
        None => Shard::WHOLE,
    };
    let seeds = shard.seeds(all);
    // Bad flags are found before anything runs (a swarm seed's own draw is valid).
    let first = args.test(seeds.start).map_err(Failure::bad_input)?;
    let started = Instant::now();
    let single = args.iterations == 1;
    tracing::info!(
        seed = args.seed,
        iterations = args.iterations,
        shard = %shard,
        swarm = args.is_swarm(),
        "sim starting"
    );
    let progress = crate::progress::IterationProgress::new(seeds.end - seeds.start);
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
            let test = args.test(seed).map_err(Failure::bad_input)?;
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
            let args = args.clone();
            move |seed: u64| {
                let test = args.test(seed).map_err(|e| format!("seed {seed}: {e}"))?;
                let keep = if single {
                    Keep::Always
                } else {
                    Keep::UnlessValid
                };
                let outcome = test.run_in_store(seed, keep, &store);
                outcome
                    .map(|o| Iteration {
                        verdict: o.result.valid,
                        why: o.result.reason(),
                        ops: o.history.len(),
                        simulated_ns: o.history.ops.last().map_or(0, |op| op.time),
                        kept: o.run_dir,
                    })
                    .map_err(|e| e.to_string())
            }
        };
        run_seeds(seeds.clone(), args.jobs, seed_run, |seed, outcome| {
            let outcome = match outcome {
                Ok(Ok(it)) => Ok(it),
                Ok(Err(e)) => {
                    store_error = Some(Failure::bad_input(e.clone()));
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
    let what = if args.is_swarm() {
        "swarm iterations (each seed its own configuration)".to_string()
    } else {
        format!(
            "iterations of {} under {}",
            first.workloads,
            first.nemesis_name()
        )
    };
    println!(
        "{total} {what}{}{}: {valid} valid, {invalid} invalid, {unknown} unknown",
        if first.bugs.is_empty() {
            String::new()
        } else {
            format!(" with bugs {:?}", args.bugs)
        },
        if shard == Shard::WHOLE {
            String::new()
        } else {
            format!(" (shard {shard}: seeds {}..{})", seeds.start, seeds.end)
        }
    );
    println!(
        "{ops} ops, {:.1} simulated s in {wall:.2} wall s: {:.1} iterations/s, {:.0}x real time",
        simulated as f64 / 1e9,
        total as f64 / wall.max(1e-9),
        simulated as f64 / 1e9 / wall.max(1e-9)
    );
    let mut summary_failures = Vec::new();
    for (seed, it) in &failures {
        let test = args.test(*seed).map_err(Failure::bad_input)?;
        println!("seed {seed}: {}{}", it.verdict.name(), it.why);
        if test.swarm {
            println!("  configuration: {}", test.config_line());
        }
        println!("  replay: {}", test.replay_command(*seed));
        let real = it.kept.as_ref().map(|dir| {
            let schedule = dir.join(SCHEDULE_JSON);
            test.real_replay_command(*seed)
                .replace("{schedule}", &schedule.display().to_string())
        });
        if let Some(real) = &real {
            println!("  replay on a real cluster: {real}");
        }
        summary_failures.push(SeedFailure {
            seed: *seed,
            verdict: it.verdict.name().to_string(),
            why: it.why.trim().to_string(),
            configuration: test.swarm.then(|| test.config_line()),
            replay: test.replay_command(*seed),
            replay_real: real,
            stored: it.kept.as_ref().map(|p| p.display().to_string()),
        });
        if args.shrink && !args.check_determinism {
            shrink_and_keep(&test, *seed, &args.test.store)?;
        }
    }
    for path in &kept {
        println!("stored: {}", path.display());
    }
    let flags = args.given_flags();
    let summary = ShardSummary {
        sweep: sweep_name(args.seed, args.iterations, &flags),
        seed: args.seed,
        iterations: args.iterations,
        flags,
        shard,
        seeds: seeds.clone(),
        valid,
        invalid,
        unknown,
        ops: ops as u64,
        failures: summary_failures,
    };
    if !args.check_determinism {
        let path = summary.write(&args.test.store).map_err(|e| {
            Failure::bad_input(format!(
                "{}: cannot write the sweep summary: {e}",
                args.test.store.display()
            ))
        })?;
        tracing::info!("summary: {}", path.display());
    }
    let overall = match (invalid, unknown) {
        (0, 0) => Validity::Valid,
        (0, _) => Validity::Unknown,
        _ => Validity::Invalid,
    };
    Ok(exit::for_validity(overall))
}

/// Shrinks the failure of `test` at `seed`, keeps the smallest run in the store (with its
/// schedule, history, results and report) and prints its sizes and replay commands.
fn shrink_and_keep(test: &SimTest, seed: u64, store: &Path) -> Result<(), Failure> {
    let started = Instant::now();
    let shrunk = match shrink(test, seed) {
        Ok(s) => s,
        Err(why) => {
            println!("  shrink: {why}");
            return Ok(());
        }
    };
    let mut small = shrunk.test.clone();
    if let Some(schedule) = &shrunk.test.schedule {
        let schedule_dir = store.join("shrunk");
        let io = |e: std::io::Error| {
            Failure::bad_input(format!("{}: cannot write: {e}", schedule_dir.display()))
        };
        std::fs::create_dir_all(&schedule_dir).map_err(io)?;
        let schedule_file = schedule_dir.join(format!("seed-{seed}-schedule.json"));
        std::fs::write(&schedule_file, schedule.to_json()).map_err(io)?;
        small.schedule_file = Some(schedule_file.display().to_string());
    }
    // On a fresh thread, as every simulation (see jepsen_sim::iteration).
    let mut outcome = None;
    let keep = {
        let (small, store) = (small.clone(), store.to_path_buf());
        move |seed: u64| {
            small
                .run_in_store(seed, Keep::Always, &store)
                .map_err(|e| e.to_string())
        }
    };
    run_seeds(seed..seed + 1, 1, keep, |_, o| outcome = Some(o));
    let outcome = match outcome {
        Some(Ok(Ok(o))) => o,
        Some(Ok(Err(e))) => return Err(Failure::bad_input(e)),
        Some(Err(panic)) => {
            println!("  shrunk run crashed: {panic}");
            return Ok(());
        }
        None => return Ok(()),
    };
    println!(
        "  shrunk in {} runs ({:.1} s): {} -> {}",
        shrunk.runs,
        started.elapsed().as_secs_f64(),
        shrunk.before.text(),
        shrunk.after.text()
    );
    println!(
        "  shrunk: {}{}",
        outcome.result.valid.name(),
        outcome.result.reason()
    );
    println!("  shrunk replay: {}", small.replay_command(seed));
    if let Some(dir) = &outcome.run_dir {
        let real = small
            .real_replay_command(seed)
            .replace("{schedule}", &dir.join(SCHEDULE_JSON).display().to_string());
        println!("  shrunk replay on a real cluster: {real}");
        println!("  shrunk stored: {}", dir.display());
    }
    Ok(())
}
