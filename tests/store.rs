//! The store: Jepsen's layout, `latest` links following the newest run, a history
//! readable while it is being streamed, and results and options read back as written.

use jepsen_core::checker::{CheckResult, Validity};
use jepsen_core::history::{parse_edn_values, History, Op, OpType, Process, Value};
use jepsen_core::store::{RunDir, Store};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn at(ms: u64) -> SystemTime {
    // 2026-11-22 02:11:43.000 UTC, plus `ms`.
    UNIX_EPOCH + Duration::from_millis(1_795_313_503_000 + ms)
}

fn op(index: i64, kind: OpType, process: u64, f: &str, value: Value) -> Op {
    let mut o = Op::new(kind, Process::Client(process), f, value);
    o.index = index;
    o.time = index * 1_000;
    o
}

fn sample_ops() -> Vec<Op> {
    vec![
        op(0, OpType::Invoke, 0, "add", Value::Int(1)),
        op(1, OpType::Invoke, 1, "read", Value::Nil),
        op(2, OpType::Ok, 0, "add", Value::Int(1)),
        op(3, OpType::Ok, 1, "read", Value::Vec(vec![Value::Int(1)]))
            .with_extra("node", Value::from("n2")),
    ]
}

fn link(path: &Path) -> PathBuf {
    fs::read_link(path).unwrap()
}

#[test]
fn a_run_has_jepsens_layout() {
    let root = tempfile::tempdir().unwrap();
    let run = Store::create(root.path(), "set-vo", at(42)).unwrap();
    assert_eq!(run.path(), root.path().join("set-vo/20261122T021143.042"));
    assert_eq!(run.test_name(), Some("set-vo"));
    let history = History::from_ops(sample_ops()).unwrap();
    let mut w = run.history_writer().unwrap();
    for o in &history.ops {
        w.record(o).unwrap();
    }
    w.finish().unwrap();
    run.write_history_edn(&history).unwrap();
    run.write_results(&CheckResult::new(Validity::Valid))
        .unwrap();
    run.write_test(&Value::Map(vec![(Value::keyword("seed"), Value::Int(7))]))
        .unwrap();
    fs::write(run.log_path(), "log\n").unwrap();
    let n1 = run.node_dir("n1").unwrap();
    fs::write(n1.join("restate.log"), "x").unwrap();
    let mut names: Vec<String> = fs::read_dir(run.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "history.edn",
            "history.jsonl",
            "jepsen.log",
            "n1",
            "results.edn",
            "results.json",
            "test.json"
        ]
    );
    assert!(run.path().join("n1").is_dir());
    assert!(run.node_dir("../etc").is_err());
    assert!(Store::create(root.path(), "a/b", at(1)).is_err());
    assert!(Store::create(root.path(), "latest", at(1)).is_err());
    // The same run folder is never made twice: a second run in the same millisecond
    // takes the next one.
    let again = Store::create(root.path(), "set-vo", at(42)).unwrap();
    assert_ne!(again.path(), run.path());
}

#[test]
fn latest_links_follow_the_newest_run() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let a = Store::create(r, "set-vo", at(0)).unwrap();
    assert_eq!(
        link(&r.join("set-vo/latest")),
        Path::new("20261122T021143.000")
    );
    assert_eq!(
        link(&r.join("latest")),
        Path::new("set-vo/20261122T021143.000")
    );
    let b = Store::create(r, "set-vo", at(1_500)).unwrap();
    assert_eq!(
        link(&r.join("set-vo/latest")),
        Path::new("20261122T021144.500")
    );
    let c = Store::create(r, "register-mds", at(3_000)).unwrap();
    assert_eq!(
        link(&r.join("latest")),
        Path::new("register-mds/20261122T021146.000")
    );
    assert_eq!(
        link(&r.join("set-vo/latest")),
        Path::new("20261122T021144.500")
    );
    // The links resolve to the runs (relative links survive moving the store).
    fs::write(b.path().join("test.json"), "{}").unwrap();
    fs::write(c.path().join("test.json"), "{}").unwrap();
    let moved = tempfile::tempdir().unwrap();
    let new_root = moved.path().join("store");
    fs::rename(r, &new_root).unwrap();
    let latest = Store::open_run(&new_root.join("latest")).unwrap();
    assert!(latest.path().ends_with("register-mds/20261122T021146.000"));
    let set_latest = Store::open_run(&new_root.join("set-vo/latest")).unwrap();
    assert!(set_latest.path().ends_with("set-vo/20261122T021144.500"));
    // No temporary links are left behind.
    let leftovers = fs::read_dir(&new_root)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(leftovers, 0);
    drop(a);
}

#[test]
fn the_history_can_be_read_while_it_is_streamed() {
    let root = tempfile::tempdir().unwrap();
    let run = Store::create(root.path(), "t", at(0)).unwrap();
    let ops = sample_ops();
    let mut w = run.history_writer().unwrap();
    w.record(&ops[0]).unwrap();
    w.record(&ops[1]).unwrap();
    // The run is still going: the history so far is readable.
    let partial = Store::load_history(run.path()).unwrap();
    assert_eq!(partial.ops, ops[..2]);
    w.record(&ops[2]).unwrap();
    w.record(&ops[3]).unwrap();
    w.finish().unwrap();
    assert_eq!(Store::load_history(run.path()).unwrap().ops, ops);
    // Once history.edn is written it is the one read, and it holds the same ops.
    let mut edn_only = ops.clone();
    edn_only[3].value = Value::Vec(vec![Value::Int(1), Value::Int(2)]);
    run.write_history_edn(&History::from_ops(edn_only.clone()).unwrap())
        .unwrap();
    assert_eq!(Store::load_history(run.path()).unwrap().ops, edn_only);
}

#[test]
fn a_run_killed_mid_write_loses_only_its_half_written_op() {
    let root = tempfile::tempdir().unwrap();
    let run = Store::create(root.path(), "t", at(0)).unwrap();
    let ops = sample_ops();
    let mut w = run.history_writer().unwrap();
    w.record(&ops[0]).unwrap();
    w.record(&ops[1]).unwrap();
    drop(w);
    // The process died while writing the third op: half a line, no newline.
    let jsonl = run.path().join("history.jsonl");
    let mut text = fs::read_to_string(&jsonl).unwrap();
    text.push_str(&ops[2].to_json()[..10]);
    fs::write(&jsonl, text).unwrap();
    assert_eq!(Store::load_history(run.path()).unwrap().ops, ops[..2]);
}

#[test]
fn results_and_test_options_round_trip() {
    let root = tempfile::tempdir().unwrap();
    let run = Store::create(root.path(), "t", at(0)).unwrap();
    let result = CheckResult::new(Validity::Invalid)
        .with("lost", Value::Set(vec![Value::Int(3), Value::Int(5)]))
        .with(
            "stats",
            Value::Map(vec![
                (Value::keyword("ok-count"), Value::Int(10)),
                (
                    Value::keyword("by-f"),
                    Value::Vec(vec![Value::keyword("add")]),
                ),
            ]),
        )
        .with("error", Value::from("a \"quoted\" message"));
    run.write_results(&result).unwrap();
    // EDN keeps everything: keywords and sets.
    let edn = fs::read_to_string(run.path().join("results.edn")).unwrap();
    let parsed = parse_edn_values(&edn).unwrap();
    assert_eq!(parsed.len(), 1);
    assert!(matches!(parsed[0].0, Value::Map(_)));
    assert_eq!(parsed[0].0.to_string(), result.to_value().to_string());
    // JSON keeps the values (sets become arrays).
    let json = Store::load_results(run.path()).unwrap();
    assert_eq!(json.get("valid?"), Some(&Value::Bool(false)));
    assert_eq!(
        json.get("lost"),
        Some(&Value::Vec(vec![Value::Int(3), Value::Int(5)]))
    );
    assert_eq!(json.get("stats"), result.get("stats"));
    assert_eq!(json.get("error"), result.get("error"));

    let test = Value::Map(vec![
        (Value::keyword("name"), Value::from("set-vo")),
        (Value::keyword("seed"), Value::Int(12345)),
        (
            Value::keyword("nemesis"),
            Value::from("partition-random-node"),
        ),
        (
            Value::keyword("checkers"),
            Value::Vec(vec![Value::from("set-full"), Value::from("stats")]),
        ),
        (
            Value::keyword("nodes"),
            Value::Vec(vec![Value::from("n1"), Value::from("n2")]),
        ),
    ]);
    run.write_test(&test).unwrap();
    assert_eq!(Store::load_test(run.path()).unwrap(), test);
}

#[test]
fn opening_something_that_is_not_a_run_says_so() {
    let root = tempfile::tempdir().unwrap();
    let run: RunDir = Store::create(root.path(), "t", at(0)).unwrap();
    let err = Store::open_run(run.path()).unwrap_err();
    assert!(err.to_string().contains("is not a stored run"), "{err}");
    let err = Store::open_run(&root.path().join("nope")).unwrap_err();
    assert!(err.to_string().contains("no stored run"), "{err}");
    let err = Store::load_history(&root.path().join("nope")).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

/// Completes every op at once, `:ok`.
struct OkClient;

impl jepsen_core::runtime::Client for OkClient {
    fn open(
        &self,
        _node: &str,
    ) -> jepsen_core::runtime::LocalBoxFuture<
        'static,
        Result<Box<dyn jepsen_core::runtime::Client>, jepsen_core::runtime::ClientError>,
    > {
        Box::pin(async { Ok(Box::new(OkClient) as Box<dyn jepsen_core::runtime::Client>) })
    }

    fn invoke(
        &mut self,
        op: Op,
    ) -> jepsen_core::runtime::LocalBoxFuture<'_, Result<Op, jepsen_core::runtime::ClientError>>
    {
        Box::pin(async move { Ok(op.complete(OpType::Ok)) })
    }
}

/// `n` adds on the lowest free client thread.
struct Adds(i64);

impl jepsen_core::generator::Generator for Adds {
    fn op(
        &self,
        _: &jepsen_core::generator::TestInfo,
        ctx: &jepsen_core::generator::Context,
    ) -> jepsen_core::generator::GenOp {
        use jepsen_core::generator::{GenOp, Thread};
        if self.0 == 0 {
            return GenOp::Exhausted;
        }
        match ctx.free_threads().find(|t| matches!(t, Thread::Client(_))) {
            Some(t) => GenOp::Op(
                Op::new(OpType::Invoke, ctx.process_of(t), "add", Value::Int(self.0))
                    .with_time(ctx.time),
                Some(std::rc::Rc::new(Adds(self.0 - 1))),
            ),
            None => GenOp::Pending,
        }
    }
}

#[test]
fn an_interpreted_run_streams_into_the_store() {
    use jepsen_core::interpreter::{run, InterpreterOptions};
    use jepsen_core::runtime::{DeterministicRuntime, NoopNemesis};
    let root = tempfile::tempdir().unwrap();
    let dir = Store::create(root.path(), "set", at(0)).unwrap();
    let mut writer = dir.history_writer().unwrap();
    let rt = DeterministicRuntime::new(3);
    let rt2 = rt.clone();
    let (history, writer) = rt.run(async move {
        let test = jepsen_core::generator::TestInfo {
            nodes: vec!["n1".into()],
            concurrency: 2,
        };
        let mut sink = |op: &Op| writer.record(op).unwrap();
        let h = run(
            rt2,
            &test,
            &InterpreterOptions::default(),
            Box::new(OkClient),
            Box::new(NoopNemesis),
            std::rc::Rc::new(Adds(50)),
            &mut sink,
        )
        .await
        .unwrap();
        (h, writer)
    });
    // Streamed before the writer is finished.
    assert_eq!(Store::load_history(dir.path()).unwrap().ops, history.ops);
    writer.finish().unwrap();
    dir.write_history_edn(&history).unwrap();
    assert_eq!(Store::load_history(dir.path()).unwrap().ops.len(), 100);
}
