//! `sim`: the deterministic simulation. Iteration i runs seed S+i on a fresh thread: the
//! workload, its schedule and the chosen fault against the modeled Restate cluster; then
//! the workload's checkers judge the history. A failing iteration prints the command that
//! replays it exactly and is kept in the store; a run of one iteration is always kept.

use crate::exit::{self, Failure};
use clap::Args;
use jepsen_core::checker::registry;
use jepsen_core::checker::{CheckOptions, CheckResult, Validity};
use jepsen_core::fault::Fault;
use jepsen_core::history::{History, Value};
use jepsen_core::store::Store;
use jepsen_core::workload::{Workload, WorkloadOptions};
use jepsen_sim::restate::{Bug, BugSet};
use jepsen_sim::{check_determinism, run_iterations, run_test, run_test_with_trace, SimTest};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

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
    /// Where failing (and single) iterations are kept.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

/// `Nn` (N per node) or `N`.
pub(crate) fn parse_concurrency(text: &str, nodes: usize) -> Result<usize, Failure> {
    let bad = || {
        Failure::bad_input(format!(
            "--concurrency {text}: give a number N, or Nn for N per node"
        ))
    };
    let n = match text.strip_suffix('n') {
        Some(per_node) => per_node.parse::<usize>().map_err(|_| bad())? * nodes,
        None => text.parse::<usize>().map_err(|_| bad())?,
    };
    if n == 0 {
        return Err(bad());
    }
    Ok(n)
}

fn test_from(args: &SimArgs) -> Result<SimTest, Failure> {
    let mut bugs = BugSet::new();
    for name in &args.bugs {
        bugs.insert(
            name.parse::<Bug>()
                .map_err(|e| Failure::bad_input(format!("--bug: {e}")))?,
        );
    }
    // Without --workload / --nemesis, the first bug's own (which find it), else ours.
    let first_bug = args.bugs.first().and_then(|b| b.parse::<Bug>().ok());
    let workload: Workload = match &args.workload {
        Some(name) => name
            .parse()
            .map_err(|e| Failure::bad_input(format!("--workload: {e}")))?,
        None => first_bug.map_or(Workload::RegisterMds, Bug::default_workload),
    };
    let nemesis: Fault = match &args.nemesis {
        Some(name) => name
            .parse()
            .map_err(|e| Failure::bad_input(format!("--nemesis: {e}")))?,
        None => first_bug.map_or(Fault::PartitionRandomNode, Bug::default_nemesis),
    };
    if args.nodes == 0 || args.nodes > 9 {
        return Err(Failure::bad_input(format!(
            "--nodes {}: give 1 to 9",
            args.nodes
        )));
    }
    let secs = |s: f64, flag: &str| {
        Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| {
                Failure::bad_input(format!("{flag} {s}: give a positive number of seconds"))
            })
    };
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        return Err(Failure::bad_input(format!(
            "--rate {}: give a positive number of ops per second",
            args.rate
        )));
    }
    if args.jobs == 0 {
        return Err(Failure::bad_input("--jobs 0: give at least 1"));
    }
    let concurrency = parse_concurrency(&args.concurrency, args.nodes)?;
    let client_timeout = secs(args.client_timeout, "--client-timeout")?;
    if args.heal_time <= args.client_timeout {
        return Err(Failure::bad_input(format!(
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
            fault_interval: Duration::from_secs(1),
            heal_time: secs(args.heal_time, "--heal-time")?,
            ops_per_key: 20,
            threads_per_key: args.nodes.min(concurrency),
            ..WorkloadOptions::default()
        },
    })
}

/// The command that replays `seed` alone, with every option that shapes the history.
fn replay_command(args: &SimArgs, test: &SimTest, seed: u64) -> String {
    let mut cmd = format!(
        "cargo run --release -- sim --seed {seed} --iterations 1 --workload {} --nemesis {} --nodes {} --time-limit {} --heal-time {} --client-timeout {} --rate {} --concurrency {}",
        test.workload, test.nemesis, args.nodes, args.time_limit, args.heal_time, args.client_timeout, args.rate, args.concurrency
    );
    for bug in &args.bugs {
        cmd.push_str(&format!(" --bug {bug}"));
    }
    cmd
}

fn judge(test: &SimTest, history: &History) -> CheckResult {
    let checker =
        registry::build(&test.workload.checkers()).expect("the workloads' checkers exist");
    checker.check(
        history,
        &CheckOptions {
            time_limit: Some(Duration::from_secs(60)),
            nodes: test.node_names(),
        },
    )
}

/// Keeps one iteration in the store: its history, results and options.
fn keep(
    args: &SimArgs,
    test: &SimTest,
    seed: u64,
    history: &History,
    result: &CheckResult,
    model_trace: Option<&str>,
) -> Result<PathBuf, Failure> {
    let name = format!("sim-{}-{}", test.workload, test.nemesis);
    let io = |e: std::io::Error| {
        Failure::bad_input(format!(
            "{}: cannot write the store: {e}",
            args.store.display()
        ))
    };
    let run = Store::create(&args.store, &name, SystemTime::now()).map_err(io)?;
    let mut writer = run.history_writer().map_err(io)?;
    for op in &history.ops {
        writer.record(op).map_err(io)?;
    }
    writer.finish().map_err(io)?;
    run.write_history_edn(history).map_err(io)?;
    run.write_results(result).map_err(io)?;
    if let Some(model_trace) = model_trace {
        std::fs::write(run.path().join("model-trace.log"), model_trace).map_err(io)?;
    }
    let mut fields = vec![
        (Value::keyword("name"), Value::Str(name.clone())),
        (Value::keyword("world"), Value::from("sim")),
        (Value::keyword("seed"), Value::Int(seed as i64)),
        (
            Value::keyword("workload"),
            Value::from(test.workload.name()),
        ),
        (Value::keyword("nemesis"), Value::from(test.nemesis.name())),
        (
            Value::keyword("bugs"),
            Value::Vec(test.bugs.iter().map(|b| Value::from(b.name())).collect()),
        ),
        (
            Value::keyword("nodes"),
            Value::Vec(test.node_names().into_iter().map(Value::Str).collect()),
        ),
        (
            Value::keyword("concurrency"),
            Value::Int(test.workload_options.concurrency as i64),
        ),
        (
            Value::keyword("rate"),
            Value::Float(test.workload_options.rate),
        ),
        (
            Value::keyword("time-limit"),
            Value::Float(test.workload_options.time_limit.as_secs_f64()),
        ),
        (
            Value::keyword("replay"),
            Value::Str(replay_command(args, test, seed)),
        ),
    ];
    fields.extend(test.workload.checkers().to_fields());
    run.write_test(&Value::Map(fields)).map_err(io)?;
    jepsen_core::report::write_report(run.path()).map_err(io)?;
    Ok(run.path().to_path_buf())
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
    let test = test_from(&args)?;
    let seeds = args.seed..args.seed.saturating_add(args.iterations);
    let started = Instant::now();
    let (mut valid, mut invalid, mut unknown, mut ops, mut simulated) =
        (0u64, 0u64, 0u64, 0usize, 0i64);
    let mut failures: Vec<(u64, Validity, String)> = Vec::new();
    let mut kept: Vec<PathBuf> = Vec::new();
    let mut store_error = None;
    let single = args.iterations == 1;
    tracing::info!(
        seed = args.seed,
        iterations = args.iterations,
        workload = %test.workload,
        nemesis = %test.nemesis,
        "sim starting"
    );
    let progress = crate::progress::IterationProgress::new(args.iterations);

    let make = {
        let test = test.clone();
        move |_rt| run_test(test)
    };
    // A replay (one iteration) also records the model trace for its store.
    let traced = {
        let test = test.clone();
        move |_rt| async move {
            if single {
                let (history, model_trace) = run_test_with_trace(test).await;
                (history, Some(model_trace))
            } else {
                (run_test(test).await, None)
            }
        }
    };
    // An iteration's outcome: its history, or why it has none (and the verdict that gives).
    type Outcome = Result<(History, Option<String>), (Validity, String)>;
    let mut each = |seed: u64, outcome: Outcome| {
        let (verdict, why, history) = match outcome {
            Ok((history, model_trace)) => {
                let result = judge(&test, &history);
                ops += history.len();
                simulated += history.ops.last().map_or(0, |o| o.time);
                let why = crate::check::reason(&result);
                if result.valid != Validity::Valid || single {
                    match keep(
                        &args,
                        &test,
                        seed,
                        &history,
                        &result,
                        model_trace.as_deref(),
                    ) {
                        Ok(path) => kept.push(path),
                        Err(e) => store_error = Some(e),
                    }
                }
                (result.valid, why, Some(history))
            }
            Err((verdict, why)) => (verdict, format!("\t{why}"), None),
        };
        match verdict {
            Validity::Valid => valid += 1,
            Validity::Invalid => invalid += 1,
            Validity::Unknown => unknown += 1,
        }
        progress.iteration_done(verdict == Validity::Valid);
        if verdict != Validity::Valid {
            failures.push((seed, verdict, why));
        }
        drop(history);
    };

    if args.check_determinism {
        for seed in seeds.clone() {
            let outcome = check_determinism(seed, make.clone())
                .map(|history| (history, None))
                .map_err(|e| (Validity::Invalid, format!("not deterministic: {e}")));
            each(seed, outcome);
        }
    } else {
        run_iterations(seeds, args.jobs, traced, |seed, outcome| {
            each(
                seed,
                outcome.map_err(|panic| {
                    (
                        Validity::Unknown,
                        format!("the simulation crashed: {panic}"),
                    )
                }),
            )
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
    for (seed, verdict, why) in &failures {
        println!("seed {seed}: {}{why}", crate::check::verdict_name(*verdict));
        println!("  replay: {}", replay_command(&args, &test, *seed));
    }
    for path in &kept {
        println!("stored: {}", path.display());
    }
    let overall = if invalid > 0 {
        Validity::Invalid
    } else if unknown > 0 {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    Ok(exit::for_validity(overall))
}
