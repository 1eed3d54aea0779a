//! Logging and progress from the outside: `--log-format json` makes every stderr line a
//! JSON object (Jepsen's `--logging-json`), text is the default, and progress bars write
//! nothing when stderr is not a terminal, so piped output stays parseable.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_restate-jepsen");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("the binary runs")
}

fn sim_once(store: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["sim", "--seed", "1", "--iterations", "1", "--store"];
    args.push(store.to_str().unwrap());
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn log_format_json_makes_every_stderr_line_a_json_object() {
    let store = tempfile::tempdir().unwrap();
    let out = sim_once(store.path(), &["--log-format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect();
    let start = lines
        .iter()
        .find(|l| l["fields"]["message"] == "sim starting")
        .unwrap_or_else(|| panic!("no `sim starting` event in {err}"));
    assert_eq!(start["level"], "INFO");
    assert_eq!(start["fields"]["seed"], 1);
    assert_eq!(start["fields"]["iterations"], 1);
    assert!(start["timestamp"].is_string(), "{start}");
    // stdout keeps the results, untouched.
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 swarm iterations"));
}

#[test]
fn log_format_text_is_the_default_and_the_flag_is_global() {
    let store = tempfile::tempdir().unwrap();
    let out = sim_once(store.path(), &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("sim starting"))
        .unwrap_or_else(|| panic!("no `sim starting` line in {err}"));
    assert!(line.contains("INFO") && line.contains("seed=1"), "{line}");
    assert!(serde_json::from_str::<serde_json::Value>(line).is_err());

    // Before the subcommand works too; a bad value is a one-line error.
    let out = run(&["--log-format", "json", "sim", "--list-bugs"]);
    assert_eq!(out.status.code(), Some(0));
    let out = run(&["--log-format", "xml", "sim", "--list-bugs"]);
    assert_eq!(out.status.code(), Some(254));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
}

#[test]
fn progress_bars_write_nothing_to_a_pipe() {
    let store = tempfile::tempdir().unwrap();
    // Logs off: whatever stderr then holds would come from the progress bars.
    let out = Command::new(BIN)
        .args(["sim", "--seed", "3", "--iterations", "4", "--store"])
        .arg(store.path())
        .env("RUST_LOG", "off")
        .env("TERM", "xterm-256color")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(0), "{:?}", out);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 valid"));

    let history = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/histories/knossos/cas-register/good/memstress3-0.edn");
    let out = Command::new(BIN)
        .args(["check", "--model", "cas-register"])
        .arg(&history)
        .env("RUST_LOG", "off")
        .env("TERM", "xterm-256color")
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(0), "{:?}", out);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(String::from_utf8_lossy(&out.stdout).contains("\tvalid"));
}
