//! `analyze`: re-check a stored run with the checkers it was run with (recorded in its
//! `test.json`), rewrite its results and its `report.html`, and exit with the verdict.

use crate::exit::{self, Failure};
use clap::Args;
use jepsen_core::checker::registry;
use jepsen_core::checker::CheckOptions;
use jepsen_core::history::{ReadOptions, DEFAULT_MAX_BYTES};
use jepsen_core::printable;
use jepsen_core::store::Store;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// A run's folder in the store (or a `latest` link), e.g. store/latest.
    #[arg(value_name = "STORE_DIR")]
    pub run: PathBuf,
    /// Refuse a history file larger than this many MiB (its ops take several times its
    /// size in memory).
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_MAX_BYTES >> 20)]
    pub max_history_mb: u64,
}

pub fn run(args: AnalyzeArgs) -> Result<i32, Failure> {
    let dir = args.run.display();
    let run = Store::open_run(&args.run).map_err(|e| {
        Failure::bad_input(format!(
            "{dir}: {e} (give a run folder such as store/latest)"
        ))
    })?;
    let record = Store::load_record(&args.run).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => Failure::bad_input(format!("{dir}/{e}")),
        _ => Failure::bad_input(format!(
            "{dir}/test.json: {e} (was the run stored by this tool?)"
        )),
    })?;
    let choice = &record.checkers;
    if choice.checkers.is_empty() && choice.model.is_none() && choice.parts.is_empty() {
        return Err(Failure::bad_input(format!(
            "{dir}/test.json lists no checker (its checkers, model and parts are empty): nothing to re-check the run with; check its history with `check --checker C` instead"
        )));
    }
    let checker =
        registry::build(choice).map_err(|e| Failure::bad_input(format!("{dir}/test.json: {e}")))?;
    // As `check`: only the checkers that pair invocations with completions need them to.
    let read = ReadOptions {
        pairing: checker.pairing(),
        max_bytes: crate::check::max_bytes(args.max_history_mb)?,
        ..ReadOptions::default()
    };
    let history = Store::load_history_with(&args.run, &read)
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let result = checker.check(
        &history,
        &CheckOptions {
            time_limit: None,
            nodes: record.nodes,
        },
    );
    run.write_results(&result)
        .map_err(|e| Failure::bad_input(format!("{dir}: cannot write results: {e}")))?;
    jepsen_core::report::write_report(run.path())
        .map_err(|e| Failure::bad_input(format!("{dir}: cannot write the report: {e}")))?;
    println!(
        "{}\t{}",
        printable::line(&run.path().display().to_string()),
        result.valid.name()
    );
    Ok(exit::for_validity(result.valid))
}
