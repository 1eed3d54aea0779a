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
