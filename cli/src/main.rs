//! The one binary. Parses the command line (clap), hands each subcommand to its module, and
//! turns the outcome into Jepsen's exit codes: 0 valid, 1 invalid, 2 unknown, 254 bad
//! arguments or input, 255 crash. Errors are one line on stderr, never a backtrace.

mod analyze;
mod bench;
mod check;
mod cluster;
mod exit;

use clap::{Parser, Subcommand};
use exit::Failure;

#[derive(Parser)]
#[command(
    name = "restate-jepsen",
    version,
    about = "A Jepsen for Restate: find consistency bugs in a simulated or real Restate cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check stored histories (EDN or JSON lines) with a checker; one verdict line per file.
    Check(check::CheckArgs),
    /// Re-check a stored run with the checkers it was run with, and rewrite its results.
    Analyze(analyze::AnalyzeArgs),
    /// Measure the speed figures: check on reference histories, set-full on 1M ops, the interpreter.
    Bench(bench::BenchArgs),
    /// Make (`up`) or remove (`down`) a real cluster's nodes on this machine: network namespaces with sshd.
    Cluster(cluster::ClusterArgs),
}

fn run(cli: Cli) -> Result<i32, Failure> {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Cluster(args) => cluster::run(args),
    }
}

fn main() {
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
            let first = text
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            eprintln!("error: {first} (see restate-jepsen --help)");
            std::process::exit(exit::BAD_ARGUMENTS);
        }
    };
    // A panic is a crash of the tool (exit 255), reported on one line.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("internal error: {message}{at}");
    }));
    let code = match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(code)) => code,
        Ok(Err(failure)) => {
            eprintln!("error: {}", failure.message);
            failure.code
        }
        Err(_) => exit::CRASH,
    };
    std::process::exit(code);
}
