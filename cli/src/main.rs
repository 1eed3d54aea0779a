//! The one binary. Parses the command line (clap), hands each subcommand to its module, and
//! turns the outcome into Jepsen's exit codes: 0 valid, 1 invalid, 2 unknown, 254 bad
//! arguments or input, 255 crash. Errors are one line on stderr, never a backtrace. What a
//! command computes lives in a library: a test's lifecycle, record, flags and faults in the
//! core, each world's flags, `World` and fault effector in `sim` and `real`.

mod analyze;
mod bench;
mod check;
mod cluster;
mod exit;
mod logging;
mod progress;
mod real;
mod serve;
mod sim;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use exit::Failure;
use std::sync::Mutex;

/// The message of the last panic, for the one-line report of a crash.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

#[derive(Parser)]
#[command(
    name = "restate-jepsen",
    version,
    about = "A Jepsen for Restate: find consistency bugs in a simulated or real Restate cluster",
    long_about = "A Jepsen for Restate: find consistency bugs in a simulated or real Restate cluster.\n\n\
        `sim` and `real` run one test lifecycle (the core's test_run: store, streamed history, \
        checkers, results, schedule.json, report) in two worlds; the same faults, planned by \
        the core, leave the same history values in both, and a run's schedule.json replays in \
        either world with --schedule."
)]
struct Cli {
    /// How log lines on stderr look: text, or json (one JSON object per line, as Jepsen's
    /// --logging-json). The level comes from RUST_LOG (default info).
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check stored histories (EDN or JSON lines) with a checker; one verdict line per file.
    Check(check::CheckArgs),
    /// Run the deterministic simulation of a modeled Restate cluster, seed after seed.
    Sim(Box<sim::SimCli>),
    /// Re-check a stored run with the checkers it was run with, and rewrite its results.
    Analyze(analyze::AnalyzeArgs),
    /// Measure the speed figures: check on reference histories, set-full on 1M ops, the interpreter.
    Bench(bench::BenchArgs),
    /// Make (`up`) or remove (`down`) a real cluster's nodes on this machine: network namespaces with sshd.
    Cluster(cluster::ClusterArgs),
    /// Run a workload against a real Restate cluster over SSH, with genuine faults.
    Real(Box<real::RealArgs>),
    /// Serve the store over HTTP: the runs, newest first, with their reports, files and zips.
    Serve(serve::ServeArgs),
}

/// The log level when `RUST_LOG` does not say: info, except that a `sim` of many
/// iterations keeps the interpreter's per-run lines (`Healing cluster`, ...) to warnings:
/// thousands of them would bury what matters. A single iteration (a replay) logs them.
fn default_log_filter(command: &Command) -> &'static str {
    match command {
        Command::Sim(sim) if sim.command.is_none() && sim.args.iterations > 1 => {
            "info,jepsen_core::interpreter=warn"
        }
        Command::Bench(_) => "info,jepsen_core::interpreter=warn",
        _ => "info",
    }
}

fn run(cli: Cli) -> Result<i32, Failure> {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Sim(args) => sim::run(*args),
        Command::Bench(args) => bench::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Real(args) => real::run(*args),
        Command::Serve(args) => serve::run(args),
    }
}

fn main() {
    // Like any Unix filter, end quietly when the reader goes away (`sim ... | head`)
    // instead of failing on the next write. Rust ignores SIGPIPE by default.
    // SAFETY: restoring the default disposition of a signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                std::process::exit(
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        exit::BAD_ARGUMENTS
                    } else {
                        0
                    },
                );
            }
            let text = e.to_string();
            // clap's first paragraph, on one line (it may name missing arguments below).
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let first = first.join(" ");
            let first = first.trim_start_matches("error: ");
            eprintln!(
                "error: {} (see restate-jepsen --help)",
                jepsen_core::printable::line(first)
            );
            std::process::exit(exit::BAD_ARGUMENTS);
        }
    };
    logging::init(cli.log_format, default_log_filter(&cli.command));
    // A panic that reaches here is a crash of the tool (exit 255), reported on one line.
    // Panics caught on the way (a checker's, which `compose` turns into unknown) print
    // nothing: the hook only remembers the last message.
    std::panic::set_hook(Box::new(|info| {
        let message = jepsen_core::panic::panic_message(info.payload());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = format!("{message}{at}");
    }));
    let code = match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(failure)) => {
            // One line, however odd the input it quotes.
            eprintln!("error: {}", jepsen_core::printable::line(&failure.message));
            failure.code
        }
        Err(_) => {
            let message = LAST_PANIC.lock().map(|m| m.clone()).unwrap_or_default();
            eprintln!("internal error: {}", jepsen_core::printable::line(&message));
            exit::CRASH
        }
    };
    std::process::exit(code);
}
