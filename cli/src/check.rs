//! `check`: judge stored histories with a checker, one verdict line per file.
//!
//! Files are read and checked in parallel (one worker per core) and reported in the order
//! given. The exit code is Jepsen's: 0 all valid, 1 any invalid, 2 any unknown and none
//! invalid; 254 when an argument is bad or a file cannot be read or is malformed.

use crate::exit::{self, Failure};
use clap::Args;
use jepsen_core::checker::registry::{self, CheckerChoice};
use jepsen_core::checker::{CheckOptions, CheckResult, Checker, Validity};
use jepsen_core::history::{
    parse_edn_values, read_history_file_with, ReadError, ReadOptions, DEFAULT_MAX_BYTES,
};
use jepsen_core::printable;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The model for the linearizable checker (alone, it means --checker linearizable).
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// A checker to run; repeat it (or separate with commas) to compose several.
    #[arg(long = "checker", value_name = "C", value_delimiter = ',')]
    pub checkers: Vec<String>,
    /// The model's initial state, as EDN (default nil), e.g. '{:x 0 :y 0}' for multi-register.
    #[arg(long, value_name = "EDN")]
    pub initial: Option<String>,
    /// How linearizable splits a history into independent keys: auto (on :key when every
    /// op has one), none, key, or independent (Jepsen's [k v] tuples).
    #[arg(long, value_name = "HOW")]
    pub key_split: Option<String>,
    /// Give up on a file after this many seconds; its verdict is then unknown.
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub time_limit: Option<f64>,
    /// set-full: treat a stale read as invalid (Jepsen's `:linearizable? true`).
    #[arg(long)]
    pub linearizable_reads: bool,
    /// list-append: the consistency model the history must satisfy (Elle's names):
    /// read-uncommitted, read-committed, snapshot-isolation,
    /// strong-session-snapshot-isolation, serializable, strict-serializable (the default).
    #[arg(long, value_name = "MODEL")]
    pub consistency_model: Option<String>,
    /// Nodes of the test, for the heal checker (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub nodes: Vec<String>,
    /// Print one JSON object per file (verdict and full results) instead of a line.
    #[arg(long)]
    pub json: bool,
    /// Refuse a history file larger than this many MiB (its ops take several times its
    /// size in memory).
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_MAX_BYTES >> 20)]
    pub max_history_mb: u64,
    /// History files: Jepsen EDN (one map per line, or a vector of maps) or JSON lines.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

enum Outcome {
    Checked(CheckResult),
    Unreadable(ReadError),
}

pub fn run(args: CheckArgs) -> Result<i32, Failure> {
    let initial = match &args.initial {
        None => None,
        Some(text) => match parse_edn_values(text).as_deref() {
            Ok([(value, _)]) => Some(value.clone()),
            _ => {
                return Err(Failure::bad_input(format!(
                    "--initial {text}: give one EDN value, e.g. 0 or '{{:x 0 :y 0}}'"
                )))
            }
        },
    };
    let choice = CheckerChoice {
        checkers: args.checkers.clone(),
        model: args.model.clone(),
        initial,
        key_split: args.key_split.clone(),
        linearizable_reads: args.linearizable_reads,
        consistency_model: args.consistency_model.clone(),
        parts: Vec::new(),
    };
    let checker = registry::build(&choice).map_err(Failure::bad_input)?;
    let time_limit = match args.time_limit {
        None => None,
        Some(s) if s > 0.0 && Duration::try_from_secs_f64(s).is_ok() => {
            Some(Duration::from_secs_f64(s))
        }
        Some(s) => {
            return Err(Failure::bad_input(format!(
                "--time-limit {s}: give a positive number of seconds"
            )))
        }
    };
    let opts = CheckOptions {
        time_limit,
        nodes: args.nodes.clone(),
    };
    // Only the checkers that pair invocations with completions refuse a history whose
    // ops do not pair; the others take what Jepsen's take.
    let read = ReadOptions {
        pairing: checker.pairing(),
        max_bytes: max_bytes(args.max_history_mb)?,
        ..ReadOptions::default()
    };
    let outcomes = check_all(&args.files, checker.as_ref(), &opts, &read);

    let mut overall = Validity::Valid;
    let mut unreadable = false;
    for (file, outcome) in args.files.iter().zip(&outcomes) {
        match outcome {
            Outcome::Unreadable(e) => {
                unreadable = true;
                eprintln!("error: {e}");
            }
            Outcome::Checked(result) => {
                overall = overall.and(result.valid);
                if args.json {
                    let line = serde_json::json!({
                        "file": file.display().to_string(),
                        "valid?": result.valid.name(),
                        "results": result.to_value(),
                    });
                    println!("{line}");
                } else {
                    // The name and the reason are cut short and escaped (--json has them whole).
                    let reason = result.reason();
                    let why = match reason.strip_prefix('\t') {
                        Some(why) => format!("\t{}", printable::line(why)),
                        None => String::new(),
                    };
                    println!(
                        "{}\t{}{why}",
                        printable::line(&file.display().to_string()),
                        result.valid.name(),
                    );
                }
            }
        }
    }
    Ok(if unreadable {
        exit::BAD_ARGUMENTS
    } else {
        exit::for_validity(overall)
    })
}

/// Reads and checks every file, a worker per core, results in the files' order; a
/// spinner per file in progress when stderr is a terminal.
fn check_all(
    files: &[PathBuf],
    checker: &dyn Checker,
    opts: &CheckOptions,
    read: &ReadOptions,
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let progress = crate::progress::CheckProgress::new();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(files.len().max(1));
    let mut results: Vec<Option<Outcome>> = (0..files.len()).map(|_| None).collect();
    let done: Vec<Vec<(usize, Outcome)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        let spinner = progress.file(file);
                        let outcome = match read_history_file_with(file, read) {
                            Ok(history) => {
                                spinner.checking(file, history.len());
                                Outcome::Checked(checker.check(&history, opts))
                            }
                            Err(e) => Outcome::Unreadable(e),
                        };
                        spinner.finish();
                        mine.push((i, outcome));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a check worker crashed"))
            .collect()
    });
    for (i, outcome) in done.into_iter().flatten() {
        results[i] = Some(outcome);
    }
    results
        .into_iter()
        .map(|o| o.expect("every file was checked"))
        .collect()
}

/// `--max-history-mb` in bytes (at least 1 MiB, and no more than a 64-bit count of bytes).
pub fn max_bytes(mb: u64) -> Result<u64, Failure> {
    mb.checked_mul(1 << 20).filter(|_| mb > 0).ok_or_else(|| {
        Failure::bad_input(format!(
            "--max-history-mb {mb}: give a size in MiB from 1 (the default is {})",
            DEFAULT_MAX_BYTES >> 20
        ))
    })
}
