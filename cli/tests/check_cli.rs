//! `check` from the outside: verdict lines, Jepsen's exit codes, and bad input that ends in
//! one clear line and exit 254.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/histories")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restate-jepsen"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temporary file with `text`, unique per test.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("check-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn assert_one_line_error(o: &Output, must_contain: &[&str]) {
    assert_eq!(o.status.code(), Some(254), "stderr: {}", stderr(o));
    let err = stderr(o);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected, got: {err}"
    );
    for s in must_contain {
        assert!(err.contains(s), "{s:?} not in {err:?}");
    }
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn valid_and_invalid_histories_exit_0_and_1() {
    let etcd = shared().join("etcd");
    let ok = run(&[
        "check",
        "--model",
        "cas-register",
        etcd.join("etcd_002.edn").to_str().unwrap(),
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout)
        .trim_end()
        .ends_with("\tvalid"));
    let bad = run(&[
        "check",
        "--model",
        "cas-register",
        etcd.join("etcd_002.edn").to_str().unwrap(),
        etcd.join("etcd_000.edn").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    let out = String::from_utf8_lossy(&bad.stdout).into_owned();
    assert_eq!(out.lines().count(), 2, "{out}");
    assert_eq!(
        out.lines().nth(1).unwrap().split('\t').nth(1),
        Some("invalid"),
        "{out}"
    );
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .contains("linearizable: no linearization includes"),
        "the reason follows: {out}"
    );
}

#[test]
fn json_output_is_one_object_per_file() {
    let f = shared().join("etcd/etcd_000.edn");
    let o = run(&[
        "check",
        "--json",
        "--model",
        "cas-register",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(line["valid?"], "invalid");
    assert_eq!(line["results"]["valid?"], false);
}

#[test]
fn a_missing_file_is_named() {
    let o = run(&[
        "check",
        "--model",
        "cas-register",
        "/nonexistent/history.edn",
    ]);
    assert_one_line_error(&o, &["/nonexistent/history.edn", "no such file"]);
}

#[test]
fn a_truncated_line_is_named_with_its_line() {
    let f = temp_file(
        "truncated.edn",
        "{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :read, :val",
    );
    let o = run(&["check", "--model", "cas-register", f.to_str().unwrap()]);
    assert_one_line_error(&o, &["truncated.edn:2:", "truncated"]);
}

#[test]
fn an_op_without_type_is_named_with_its_line() {
    let f = temp_file("notype.edn", "{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :read, :value nil, :process 0}\n{:f :read, :value nil, :process 1}\n");
    let o = run(&["check", "--model", "cas-register", f.to_str().unwrap()]);
    assert_one_line_error(&o, &["notype.edn:3:", ":type"]);
}

#[test]
fn a_completion_without_invocation_is_named_with_its_line() {
    let f = temp_file("orphan.edn", "{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :write, :value 3, :process 1}\n");
    let o = run(&["check", "--model", "cas-register", f.to_str().unwrap()]);
    assert_one_line_error(&o, &["orphan.edn:2:", "without an invocation"]);
}

#[test]
fn a_malformed_json_line_is_named() {
    let f = temp_file(
        "bad.jsonl",
        "{\"type\":\"invoke\",\"f\":\"read\",\"process\":0}\n{\"type\":\"ok\",\n",
    );
    let o = run(&["check", "--model", "cas-register", f.to_str().unwrap()]);
    assert_one_line_error(&o, &["bad.jsonl:2:"]);
}

#[test]
fn an_unknown_model_lists_the_known_ones() {
    let f = shared().join("etcd/etcd_000.edn");
    let o = run(&["check", "--model", "tree", f.to_str().unwrap()]);
    assert_one_line_error(&o, &["tree", "cas-register", "multi-register"]);
}

#[test]
fn an_unknown_checker_and_a_bad_flag_exit_254() {
    let f = shared().join("etcd/etcd_000.edn");
    assert_one_line_error(
        &run(&["check", "--checker", "bogus", f.to_str().unwrap()]),
        &["bogus", "set-full"],
    );
    assert_one_line_error(
        &run(&["check", "--frobnicate", f.to_str().unwrap()]),
        &["--frobnicate"],
    );
    assert_one_line_error(
        &run(&[
            "check",
            "--model",
            "cas-register",
            "--time-limit",
            "-3",
            f.to_str().unwrap(),
        ]),
        &["--time-limit"],
    );
    assert_one_line_error(&run(&["check", f.to_str().unwrap()]), &["--model"]);
    assert_one_line_error(&run(&["check", "--model", "register"]), &["<FILE>"]);
}

#[test]
fn initial_state_and_key_split_flags_reach_the_checker() {
    let f = shared().join("knossos/multi-register/good/multi-register.edn");
    let f = f.to_str().unwrap();
    let with = run(&[
        "check",
        "--model",
        "multi-register",
        "--initial",
        "{:x 0 :y 0}",
        f,
    ]);
    assert_eq!(with.status.code(), Some(0), "{}", stderr(&with));
    let without = run(&["check", "--model", "multi-register", f]);
    assert_eq!(
        without.status.code(),
        Some(1),
        "nil registers cannot explain the reads of 0"
    );
    assert_one_line_error(
        &run(&["check", "--model", "register", "--initial", "{:x", f]),
        &["--initial"],
    );
    assert_one_line_error(
        &run(&["check", "--model", "kv", "--key-split", "sideways", f]),
        &["--key-split", "sideways"],
    );
}

#[test]
fn porcupine_kv_histories_get_their_verdicts_through_the_cli() {
    let dir = shared().join("porcupine-kv");
    for (file, code) in [("c10-ok.edn", 0), ("c10-bad.edn", 1)] {
        let o = run(&["check", "--model", "kv", dir.join(file).to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(code), "{file}: {}", stderr(&o));
    }
}

#[test]
fn hostile_and_odd_files_get_one_line_and_254() {
    let deep = format!(
        "{{:type :invoke, :f :read, :process 0, :value {}{}}}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let cases = [
        ("deep.edn", deep.as_str(), "nested"),
        ("big.edn", "{:type :invoke, :f :write, :process 0, :value 99999999999999999999999}\n", "64 signed bits"),
        ("empty.edn", "; only a comment\n", "no operations"),
        ("array.json", "[{\"type\":\"invoke\",\"f\":\"read\",\"process\":0}]\n", "JSON lines"),
        ("reuse.edn", "{:type :invoke, :f :read, :process 0}\n{:type :info, :f :read, :process 0}\n{:type :invoke, :f :read, :process 0}\n", "after its :info"),
    ];
    for (name, text, says) in cases {
        let f = temp_file(name, text);
        assert_one_line_error(
            &run(&["check", "--model", "register", f.to_str().unwrap()]),
            &[name, says],
        );
    }
    let dir = std::env::temp_dir();
    assert_one_line_error(
        &run(&["check", "--model", "register", dir.to_str().unwrap()]),
        &["cannot read"],
    );
}

#[test]
fn json_written_by_other_tools_reads_as_jepsen_means_it() {
    // Quoted processes, keyword-ish names and a byte-order mark: a write of 1, then a read of 7.
    let text = "\u{feff}{\"type\":\":invoke\",\"f\":\":write\",\"process\":\"0\",\"value\":1}\n{\"type\":\"ok\",\"f\":\"write\",\"process\":\"0\",\"value\":1}\n{\"type\":\"invoke\",\"f\":\"read\",\"process\":\"1\",\"value\":null}\n{\"type\":\"ok\",\"f\":\"read\",\"process\":\"1\",\"value\":7}\n";
    let f = temp_file("other-tool.jsonl", text);
    let o = run(&["check", "--model", "register", f.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a read of a value never written: {}",
        stderr(&o)
    );
}

#[test]
fn a_model_always_brings_the_linearizable_checker() {
    let f = shared().join("etcd/etcd_000.edn");
    let o = run(&[
        "check",
        "--json",
        "--model",
        "cas-register",
        "--checker",
        "stats",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(line["results"]["linearizable"]["valid?"], false);
    assert_eq!(line["results"]["stats"]["valid?"], true);
    assert_one_line_error(
        &run(&[
            "check",
            "--checker",
            "stats",
            "--initial",
            "0",
            f.to_str().unwrap(),
        ]),
        &["--model"],
    );
}

/// A history Jepsen's own tests give the set, stats and unhandled-exceptions checkers:
/// process 0 invokes again after its `:info`, and process 5's final read has no
/// invocation.
const UNPAIRED: &str = "\
{:type :invoke, :f :add, :value 1, :process 0}
{:type :info, :f :add, :value 1, :process 0, :error :timeout}
{:type :invoke, :f :add, :value 2, :process 0}
{:type :ok, :f :add, :value 2, :process 0}
{:type :ok, :f :read, :value [1 2], :process 5}
";

#[test]
fn checkers_that_do_not_pair_ops_take_what_jepsens_take() {
    let f = temp_file("unpaired.edn", UNPAIRED);
    for checker in ["set", "stats", "unhandled-exceptions", "heal", "set,stats"] {
        let o = run(&["check", "--checker", checker, f.to_str().unwrap()]);
        assert!(
            matches!(o.status.code(), Some(0..=2)),
            "--checker {checker}: {:?} {}",
            o.status.code(),
            stderr(&o)
        );
    }
    let o = run(&["check", "--checker", "set", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The pairing checkers still refuse it, naming the line and the reason; with a
    // pairing checker among them, so does the composition.
    for args in [
        vec!["--checker", "set-full"],
        vec!["--checker", "counter"],
        vec!["--model", "set"],
        vec!["--checker", "set,set-full"],
    ] {
        let mut all = vec!["check"];
        all.extend(&args);
        all.push(f.to_str().unwrap());
        assert_one_line_error(&run(&all), &["unpaired.edn:3:", "after its :info"]);
    }
}

#[test]
fn a_huge_literal_is_quoted_short_in_the_error() {
    let huge = "9".repeat(5 << 20);
    let f = temp_file(
        "huge-int.edn",
        &format!("{{:type :invoke, :f :write, :process 0, :value {huge}}}\n"),
    );
    let o = run(&["check", "--model", "register", f.to_str().unwrap()]);
    assert_one_line_error(
        &o,
        &["huge-int.edn:1:", "64 signed bits", "more characters"],
    );
    assert!(stderr(&o).len() < 1000, "{} bytes", stderr(&o).len());
}

#[test]
fn a_huge_read_value_gives_a_short_verdict_line() {
    // A final read that returned 20 MB of text, not a collection: unknown, said briefly.
    let value = "x".repeat(20 << 20);
    let f = temp_file(
        "huge-read.edn",
        &format!("{{:type :invoke, :f :read, :process 0}}\n{{:type :ok, :f :read, :process 0, :value \"{value}\"}}\n"),
    );
    let o = run(&["check", "--checker", "set", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(out.lines().count(), 1, "{}", &out[..out.len().min(500)]);
    assert!(out.len() < 3000, "a verdict line of {} bytes", out.len());
    assert!(out.contains("not a collection"), "{out}");
    // --json keeps the results whole.
    let o = run(&["check", "--checker", "set", "--json", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn dev_zero_and_files_over_the_size_limit_are_refused_up_front() {
    let started = std::time::Instant::now();
    let o = run(&["check", "--checker", "stats", "/dev/zero"]);
    assert_one_line_error(&o, &["/dev/zero", "NUL"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    let mut text = String::new();
    while text.len() < 2 << 20 {
        text += "{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :read, :value 1, :process 0}\n";
    }
    let f = temp_file("two-mb.edn", &text);
    let o = run(&[
        "check",
        "--checker",
        "stats",
        "--max-history-mb",
        "1",
        f.to_str().unwrap(),
    ]);
    assert_one_line_error(&o, &["two-mb.edn", "limit of 1 MiB", "--max-history-mb"]);
    let o = run(&[
        "check",
        "--checker",
        "stats",
        "--max-history-mb",
        "3",
        f.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_one_line_error(
        &run(&[
            "check",
            "--checker",
            "stats",
            "--max-history-mb",
            "0",
            f.to_str().unwrap(),
        ]),
        &["--max-history-mb 0"],
    );
    // A pipe is read only up to the limit too.
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "{} check --checker stats --max-history-mb 1 <(yes '{{:type :invoke, :f :read, :process 0}}')",
            env!("CARGO_BIN_EXE_restate-jepsen")
        ))
        .output()
        .unwrap();
    assert_one_line_error(&o, &["limit of 1 MiB"]);
}

#[test]
fn control_characters_from_a_history_never_reach_the_terminal() {
    let esc = "\u{1b}[2J\u{1b}]0;owned\u{7}";
    // In an error: an :f with escapes, in a completion without an invocation.
    let f = temp_file(
        "escapes.edn",
        &format!("{{:type :ok, :f \"{esc}\", :value 1, :process 3}}\n"),
    );
    let o = run(&["check", "--model", "register", f.to_str().unwrap()]);
    assert_one_line_error(&o, &["escapes.edn:1:", "\\u{1b}"]);
    assert!(!stderr(&o).contains('\u{1b}'), "{:?}", stderr(&o));
    // In a verdict line: the read's value, quoted in the set checker's reason.
    let f = temp_file(
        "escapes-read.edn",
        &format!("{{:type :invoke, :f :read, :process 0}}\n{{:type :ok, :f :read, :process 0, :value \"{esc}\"}}\n"),
    );
    let o = run(&["check", "--checker", "set", f.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    // In a file's name: a newline cannot split the one line.
    let f = temp_file(
        "new\nline\u{1b}.edn",
        "{:type :ok, :f :read, :value 1, :process 3}\n",
    );
    let o = run(&["check", "--model", "register", f.to_str().unwrap()]);
    assert_one_line_error(&o, &["new\\nline\\u{1b}.edn:1:"]);
}

mod props {
    //! Exit codes as promised, whatever the file: 0, 1 or 2 with one verdict line, or 254
    //! with one error line; never a crash (255) or a panic. Few cases (each runs the
    //! binary), so that this stays a matter of seconds.
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = "\
{:type :invoke, :f :add, :value 1, :process 0, :time 1}
{:type :ok, :f :add, :value 1, :process 0, :time 2}
{:type :invoke, :f :read, :value nil, :process 1, :time 3}
{:type :info, :f :read, :value nil, :process 1, :time 4, :error :timeout}
{:type :invoke, :f :add, :value 2, :process 2, :time 5}
{:type :fail, :f :add, :value 2, :process 2, :time 6}
{:type :info, :f :start, :value nil, :process :nemesis, :time 7}
{:type :info, :f :start, :value :done, :process :nemesis, :time 8}
{:type :invoke, :f :read, :value nil, :process 3, :time 9}
{:type :ok, :f :read, :value [1], :process 3, :time 10}
";

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 48,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_file_gets_a_promised_exit_code(
            cuts in prop::collection::vec((0..GOOD.len(), 0..6usize, "[\\[\\]{}:\" 0-9a-z\n\u{1b}]{0,3}"), 1..4),
            checker in prop::sample::select(vec![
                "set", "stats", "unhandled-exceptions", "heal", "set-full", "counter",
                "set,stats,set-full",
            ]),
            json in any::<bool>(),
        ) {
            let mut text = GOOD.as_bytes().to_vec();
            for (at, len, insert) in &cuts {
                let at = at % (text.len() + 1);
                let end = (at + len).min(text.len());
                text.splice(at..end, insert.bytes());
            }
            let path = temp_file(
                &format!("prop-{}.edn", std::thread::current().name().unwrap_or("t").replace("::", "-")),
                "",
            );
            std::fs::write(&path, &text).unwrap();
            let mut args = vec!["check", "--checker", checker];
            if json {
                args.push("--json");
            }
            args.push(path.to_str().unwrap());
            let o = run(&args);
            let err = stderr(&o);
            prop_assert!(!err.contains("panicked") && !err.contains("internal error"), "{}", err);
            match o.status.code() {
                Some(0..=2) => {
                    prop_assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1);
                }
                Some(254) => {
                    prop_assert_eq!(err.trim_end().lines().count(), 1, "{}", err);
                    prop_assert!(!err.contains('\u{1b}'), "{:?}", err);
                }
                other => prop_assert!(false, "exit {:?}: {}", other, err),
            }
        }
    }
}

/// Elle's list-append checker through `check`: EDN and JSON lines histories of `:txn`
/// ops, the consistency model chosen by flag, anomalies listed as Elle lists them.
#[test]
fn list_append_reads_edn_and_json_transactions_and_names_the_anomaly() {
    let edn = temp_file(
        "g1c.edn",
        "{:process 1, :type :invoke, :f :txn, :value [[:append :x 1] [:r :y nil]]}\n\
         {:process 2, :type :invoke, :f :txn, :value [[:append :y 1] [:r :x nil]]}\n\
         {:process 1, :type :ok, :f :txn, :value [[:append :x 1] [:r :y [1]]]}\n\
         {:process 2, :type :ok, :f :txn, :value [[:append :y 1] [:r :x [1]]]}\n",
    );
    let json = temp_file(
        "g1c.jsonl",
        "{\"process\": 1, \"type\": \"invoke\", \"f\": \"txn\", \"value\": [[\"append\", \"x\", 1], [\"r\", \"y\", null]]}\n\
         {\"process\": 2, \"type\": \"invoke\", \"f\": \"txn\", \"value\": [[\"append\", \"y\", 1], [\"r\", \"x\", null]]}\n\
         {\"process\": 1, \"type\": \"ok\", \"f\": \"txn\", \"value\": [[\"append\", \"x\", 1], [\"r\", \"y\", [1]]]}\n\
         {\"process\": 2, \"type\": \"ok\", \"f\": \"txn\", \"value\": [[\"append\", \"y\", 1], [\"r\", \"x\", [1]]]}\n",
    );
    let o = run(&[
        "check",
        "--checker",
        "list-append",
        edn.to_str().unwrap(),
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        out.matches("G1c (1) under strict-serializable").count(),
        2,
        "{out}"
    );
    let j = run(&[
        "check",
        "--checker",
        "list-append",
        "--json",
        edn.to_str().unwrap(),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    let results = &v["results"]["list-append"];
    assert_eq!(results["anomaly-types"], serde_json::json!(["G1c"]));
    assert!(results["anomalies"]["G1c"][0]["explanation"]
        .as_str()
        .unwrap()
        .contains("a contradiction"));
    // Read uncommitted allows a G1c; an unknown model is refused.
    let ru = run(&[
        "check",
        "--checker",
        "list-append",
        "--consistency-model",
        "read-uncommitted",
        edn.to_str().unwrap(),
    ]);
    assert_eq!(ru.status.code(), Some(0), "{}", stderr(&ru));
    let bad = run(&[
        "check",
        "--checker",
        "list-append",
        "--consistency-model",
        "bogus",
        edn.to_str().unwrap(),
    ]);
    assert_one_line_error(&bad, &["--consistency-model", "strict-serializable"]);
}
