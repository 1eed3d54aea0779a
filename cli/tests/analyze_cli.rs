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

/// A run in a fresh store with `test` as its test.json; the folder and the store.
fn stored_run(test: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let run = Store::create(
        root.path(),
        "demo",
        UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )
    .unwrap();
    std::fs::write(run.path().join("test.json"), test).unwrap();
    let path = run.path().to_path_buf();
    (root, path)
}

fn one_line_254(out: &std::process::Output, must_contain: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    for s in must_contain {
        assert!(err.contains(s), "{s:?} not in {err:?}");
    }
}

#[test]
fn analyze_reads_a_history_jsonl_cut_inside_a_character_up_to_its_last_op() {
    let (_root, run) = stored_run(r#"{"checkers": ["stats"]}"#);
    let whole = "{\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":\"é\"}\n\
                 {\"type\":\"ok\",\"process\":0,\"f\":\"add\",\"value\":\"é\"}\n";
    let mut bytes = whole.as_bytes().to_vec();
    // The run was killed in the middle of the next op's "é" (two bytes in UTF-8).
    bytes.extend_from_slice(b"{\"type\":\"invoke\",\"process\":0,\"f\":\"add\",\"value\":\"\xc3");
    std::fs::write(run.join("history.jsonl"), bytes).unwrap();
    let out = analyze(&run);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = Store::load_results(&run).unwrap();
    let stats = results.get("stats").expect("stats ran");
    assert_eq!(stats.get("count"), Some(&Value::Int(1)), "{stats}");
}

#[test]
fn analyze_of_a_test_json_without_a_checker_refuses_as_check_does() {
    for test in [
        r#"{"name": "demo"}"#,
        r#"{"checkers": []}"#,
        r#"{"checkers": [], "parts": []}"#,
        r#"{"checkers": [], "model": null}"#,
    ] {
        let (_root, run) = stored_run(test);
        std::fs::write(
            run.join("history.edn"),
            "{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :process 0, :value 1}\n",
        )
        .unwrap();
        one_line_254(&analyze(&run), &["test.json", "no checker"]);
    }
}

#[test]
fn analyze_uses_the_pairing_its_checkers_need() {
    // Process 0 invokes again after its :info: stats takes it, set-full does not.
    let history = "{:type :invoke, :f :add, :value 1, :process 0}\n\
                   {:type :info, :f :add, :value 1, :process 0}\n\
                   {:type :invoke, :f :add, :value 2, :process 0}\n\
                   {:type :ok, :f :add, :value 2, :process 0}\n";
    let (_root, run) = stored_run(r#"{"checkers": ["stats"]}"#);
    std::fs::write(run.join("history.edn"), history).unwrap();
    let out = analyze(&run);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_root, run) = stored_run(r#"{"checkers": ["set-full"]}"#);
    std::fs::write(run.join("history.edn"), history).unwrap();
    one_line_254(&analyze(&run), &["history.edn:3:", "after its :info"]);
}

#[test]
fn analyze_refuses_a_fifo_in_the_run_instead_of_waiting() {
    let (_root, run) = stored_run(r#"{"checkers": ["stats"]}"#);
    let made = Command::new("mkfifo")
        .arg(run.join("history.jsonl"))
        .status()
        .unwrap();
    assert!(made.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_restate-jepsen"))
        .arg("analyze")
        .arg(&run)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("analyze waited on the FIFO for 10 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    one_line_254(
        &child.wait_with_output().unwrap(),
        &["history.jsonl", "not a regular file"],
    );
}
