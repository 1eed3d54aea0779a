//! `analyze` re-checks a stored run with the checkers its test.json names, rewrites its
//! results, and exits with the verdict.

use jepsen_core::checker::registry::CheckerChoice;
use jepsen_core::history::{read_history_str, Value};
use jepsen_core::store::Store;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

const LOST_ELEMENT: &str = "\
{:type :invoke, :f :add, :value 1, :process 0, :time 1}
{:type :ok, :f :add, :value 1, :process 0, :time 2}
{:type :invoke, :f :add, :value 2, :process 0, :time 3}
{:type :ok, :f :add, :value 2, :process 0, :time 4}
{:type :invoke, :f :read, :value nil, :process 1, :time 5000000000}
{:type :ok, :f :read, :value [1], :process 1, :time 5000000001}
";

fn analyze(dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_restate-jepsen"))
        .arg("analyze")
        .arg(dir)
        .output()
        .unwrap()
}

#[test]
fn analyze_rechecks_with_the_stored_checkers() {
    let root = tempfile::tempdir().unwrap();
    let run = Store::create(
        root.path(),
        "set-demo",
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )
    .unwrap();
    let choice = CheckerChoice {
        checkers: vec!["set-full".into(), "stats".into()],
        linearizable_reads: true,
        ..Default::default()
    };
    let mut fields = vec![(Value::keyword("name"), Value::from("set-demo"))];
    fields.extend(choice.to_fields());
    run.write_test(&Value::Map(fields)).unwrap();
    let history = read_history_str("h", LOST_ELEMENT).unwrap();
    run.write_history_edn(&history).unwrap();

    let out = analyze(&root.path().join("latest"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = Store::load_results(run.path()).unwrap();
    assert_eq!(results.get("valid?"), Some(&Value::Bool(false)));
    let set_full = results.get("set-full").expect("set-full ran");
    assert_eq!(
        set_full.get("lost-count"),
        Some(&Value::Int(1)),
        "{set_full}"
    );
    assert!(results.get("stats").is_some(), "stats ran too");
}

#[test]
fn analyze_of_a_folder_that_is_no_run_exits_254() {
    let root = tempfile::tempdir().unwrap();
    let out = analyze(root.path());
    assert_eq!(out.status.code(), Some(254));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}
