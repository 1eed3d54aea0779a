//! `analyze`: re-check a stored run with the checkers it was run with (recorded in its
//! `test.json`), rewrite its results and its `report.html`, and exit with the verdict.

use crate::exit::{self, Failure};
use clap::Args;
use jepsen_core::checker::registry;
use jepsen_core::checker::CheckOptions;
use jepsen_core::store::Store;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// A run's folder in the store (or a `latest` link), e.g. store/latest.
    #[arg(value_name = "STORE_DIR")]
    pub run: PathBuf,
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
    let checker = registry::build(&record.checkers)
        .map_err(|e| Failure::bad_input(format!("{dir}/test.json: {e}")))?;
    let history = Store::load_history(&args.run).map_err(|e| Failure::bad_input(e.to_string()))?;
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
    println!("{}\t{}", run.path().display(), result.valid.name());
    Ok(exit::for_validity(result.valid))
}
