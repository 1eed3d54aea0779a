//! The linearizable checker against histories with published verdicts
//! (../shared/histories), and against small hand-written histories that pin down Jepsen's
//! `:info` semantics and each model.

use jepsen_core::checker::linearizable::{KeySplit, Linearizable};
use jepsen_core::checker::{CheckOptions, CheckResult, Checker, Validity};
use jepsen_core::history::{read_history_file, read_history_str, History, Value};
use jepsen_core::model::{model_names, ModelKind};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

fn histories() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/histories")
}

fn edn_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "edn"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no histories in {}", dir.display());
    files
}

fn check_file(checker: &Linearizable, file: &Path) -> CheckResult {
    let history = read_history_file(file).unwrap_or_else(|e| panic!("{e}"));
    checker.check(&history, &CheckOptions::default())
}

fn expect_folder(checker: &Linearizable, folder: &str, expected: Validity) {
    for file in edn_files(&histories().join(folder)) {
        let result = check_file(checker, &file);
        assert_eq!(
            result.valid,
            expected,
            "{}: {:?}",
            file.display(),
            result.to_value().to_string()
        );
    }
}

#[test]
fn etcd_histories_get_their_published_verdicts() {
    let dir = histories().join("etcd");
    let verdicts = std::fs::read_to_string(dir.join("verdicts.txt")).unwrap();
    let checker = Linearizable::new(ModelKind::CasRegister);
    let mut checked = 0;
    for line in verdicts.lines().filter(|l| !l.trim().is_empty()) {
        let (file, verdict) = line.split_once(' ').unwrap();
        let expected = match verdict.trim() {
            "valid" => Validity::Valid,
            "invalid" => Validity::Invalid,
            other => panic!("verdict {other}"),
        };
        let result = check_file(&checker, &dir.join(file));
        assert_eq!(result.valid, expected, "{file}");
        checked += 1;
    }
    assert_eq!(checked, 51);
}

#[test]
fn knossos_cas_register_good_histories_are_linearizable() {
    expect_folder(
        &Linearizable::new(ModelKind::CasRegister),
        "knossos/cas-register/good",
        Validity::Valid,
    );
}

#[test]
fn knossos_cas_register_bad_histories_are_not() {
    expect_folder(
        &Linearizable::new(ModelKind::CasRegister),
        "knossos/cas-register/bad",
        Validity::Invalid,
    );
}

#[test]
fn knossos_multi_register_good_history_is_linearizable() {
    // Knossos' test checks it with (multi-register {:x 0 :y 0}).
    let initial = Value::Map(vec![
        (Value::keyword("x"), Value::from(0)),
        (Value::keyword("y"), Value::from(0)),
    ]);
    expect_folder(
        &Linearizable::new(ModelKind::MultiRegister).with_initial(initial),
        "knossos/multi-register/good",
        Validity::Valid,
    );
}

#[test]
fn knossos_multi_register_history_needs_its_initial_state() {
    // Its first transactions read y = 0 while the only write to y so far writes 2: only
    // the initial state Knossos' test uses, {:x 0 :y 0}, explains them.
    expect_folder(
        &Linearizable::new(ModelKind::MultiRegister),
        "knossos/multi-register/good",
        Validity::Invalid,
    );
}

#[test]
fn knossos_mutex_bad_history_is_not_linearizable() {
    expect_folder(
        &Linearizable::new(ModelKind::Mutex),
        "knossos/mutex/bad",
        Validity::Invalid,
    );
}

#[test]
fn porcupine_kv_histories_get_their_published_verdicts() {
    let checker = Linearizable::new(ModelKind::Kv);
    for file in edn_files(&histories().join("porcupine-kv")) {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let expected = if name.ends_with("-ok.edn") {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        let result = check_file(&checker, &file);
        assert_eq!(result.valid, expected, "{name}");
        assert!(result.get("keys").is_some(), "{name}: split per :key");
    }
}

// ---- Hand-written histories ----

fn history(text: &str) -> History {
    read_history_str("inline", text).unwrap_or_else(|e| panic!("{e}"))
}

fn check(model: ModelKind, text: &str) -> CheckResult {
    Linearizable::new(model).check(&history(text), &CheckOptions::default())
}

#[test]
fn an_info_write_can_take_effect_late_to_explain_a_read() {
    // The write of 2 times out; a later read (invoked after the write's :info) sees 2.
    let r = check(
        ModelKind::Register,
        r#"{:process 0, :type :invoke, :f :write, :value 1}
           {:process 0, :type :ok, :f :write, :value 1}
           {:process 1, :type :invoke, :f :write, :value 2}
           {:process 1, :type :info, :f :write, :value 2}
           {:process 0, :type :invoke, :f :read, :value nil}
           {:process 0, :type :ok, :f :read, :value 1}
           {:process 0, :type :invoke, :f :read, :value nil}
           {:process 0, :type :ok, :f :read, :value 2}"#,
    );
    assert_eq!(r.valid, Validity::Valid, "{}", r.to_value());
}

#[test]
fn an_info_write_can_be_left_out() {
    // A cas from 5 that timed out can never happen (the register never holds 5); it
    // must be dropped, not forced in.
    let r = check(
        ModelKind::CasRegister,
        r#"{:process 0, :type :invoke, :f :write, :value 1}
           {:process 0, :type :ok, :f :write, :value 1}
           {:process 1, :type :invoke, :f :cas, :value [5 2]}
           {:process 1, :type :info, :f :cas, :value [5 2]}
           {:process 0, :type :invoke, :f :read, :value nil}
           {:process 0, :type :ok, :f :read, :value 1}"#,
    );
    assert_eq!(r.valid, Validity::Valid, "{}", r.to_value());
}

#[test]
fn an_info_write_cannot_take_effect_before_its_invocation() {
    let r = check(
        ModelKind::Register,
        r#"{:process 0, :type :invoke, :f :read, :value nil}
           {:process 0, :type :ok, :f :read, :value 2}
           {:process 1, :type :invoke, :f :write, :value 2}
           {:process 1, :type :info, :f :write, :value 2}"#,
    );
    assert_eq!(r.valid, Validity::Invalid, "{}", r.to_value());
}

#[test]
fn a_never_completed_write_is_like_info_and_a_failed_one_never_happened() {
    let pending = check(
        ModelKind::Register,
        r#"{:process 1, :type :invoke, :f :write, :value 2}
           {:process 0, :type :invoke, :f :read, :value nil}
           {:process 0, :type :ok, :f :read, :value 2}"#,
    );
    assert_eq!(pending.valid, Validity::Valid);
    let failed = check(
        ModelKind::Register,
        r#"{:process 1, :type :invoke, :f :write, :value 2}
           {:process 0, :type :invoke, :f :read, :value nil}
           {:process 1, :type :fail, :f :write, :value 2}
           {:process 0, :type :ok, :f :read, :value 2}"#,
    );
    assert_eq!(failed.valid, Validity::Invalid);
}

#[test]
fn an_info_write_takes_effect_at_most_once() {
    // write 1 (info) can explain one change to 1, but not 1 -> 2 -> 1.
    let r = check(
        ModelKind::Register,
        r#"{:process 1, :type :invoke, :f :write, :value 1}
           {:process 1, :type :info, :f :write, :value 1}
           {:process 0, :type :invoke, :f :read, :value nil}
           {:process 0, :type :ok, :f :read, :value 1}
           {:process 0, :type :invoke, :f :write, :value 2}
           {:process 0, :type :ok, :f :write, :value 2}
           {:process 0, :type :invoke, :f :read, :value nil}
           {:process 0, :type :ok, :f :read, :value 1}"#,
    );
    assert_eq!(r.valid, Validity::Invalid);
}

#[test]
fn a_failure_is_explained_with_the_op_prefix_and_state() {
    let r = check(
        ModelKind::CasRegister,
        r#"{:process 0, :type :invoke, :f :write, :value 1, :index 0}
           {:process 0, :type :ok, :f :write, :value 1, :index 1}
           {:process 1, :type :invoke, :f :cas, :value [1 2], :index 2}
           {:process 1, :type :ok, :f :cas, :value [1 2], :index 3}
           {:process 0, :type :invoke, :f :read, :value nil, :index 4}
           {:process 0, :type :ok, :f :read, :value 1, :index 5}"#,
    );
    assert_eq!(r.valid, Validity::Invalid);
    let op = r.get("op").expect("op");
    assert_eq!(op.get("index"), Some(&Value::from(5)));
    assert_eq!(op.get("value"), Some(&Value::from(1)));
    assert_eq!(
        r.get("invocation").unwrap().get("index"),
        Some(&Value::from(4))
    );
    assert_eq!(
        r.get("previous-ok").unwrap().get("index"),
        Some(&Value::from(3))
    );
    let prefix = r.get("longest-prefix").unwrap().as_slice().unwrap();
    let indices: Vec<_> = prefix
        .iter()
        .map(|o| o.get("index").unwrap().clone())
        .collect();
    assert_eq!(indices, vec![Value::from(1), Value::from(3)]);
    assert_eq!(r.get("prefix-length"), Some(&Value::from(2)));
    // Knossos-style final path: each op with the model after it, ending inconsistent.
    let Some(Value::Set(paths)) = r.get("final-paths") else {
        panic!("final-paths: {}", r.to_value())
    };
    let path = paths[0].as_slice().unwrap();
    let models: Vec<_> = path
        .iter()
        .map(|s| s.get("model").unwrap().clone())
        .collect();
    assert_eq!(
        models,
        vec![
            Value::from(1),
            Value::from(2),
            Value::keyword("inconsistent")
        ]
    );
    assert_eq!(r.get("model-state"), Some(&Value::from(2)));
}

#[test]
fn the_failing_key_is_reported() {
    let r = check(
        ModelKind::Kv,
        r#"{:process 0, :type :invoke, :f :put, :key "a", :value "x"}
           {:process 0, :type :ok, :f :put, :key "a", :value "x"}
           {:process 1, :type :invoke, :f :get, :key "b", :value nil}
           {:process 1, :type :ok, :f :get, :key "b", :value "x"}
           {:process 0, :type :invoke, :f :append, :key "a", :value "y"}
           {:process 0, :type :ok, :f :append, :key "a", :value "y"}
           {:process 0, :type :invoke, :f :get, :key "a", :value nil}
           {:process 0, :type :ok, :f :get, :key "a", :value "xy"}"#,
    );
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.get("key"), Some(&Value::from("b")));
    assert_eq!(r.get("model-state"), Some(&Value::from("")));
}

#[test]
fn independent_tuples_split_per_key() {
    let text = r#"{:process 0, :type :invoke, :f :write, :value [1 5]}
                  {:process 0, :type :ok, :f :write, :value [1 5]}
                  {:process 0, :type :invoke, :f :read, :value [2 nil]}
                  {:process 0, :type :ok, :f :read, :value [2 nil]}
                  {:process 0, :type :invoke, :f :read, :value [1 nil]}
                  {:process 0, :type :ok, :f :read, :value [1 5]}"#;
    let checker = Linearizable::new(ModelKind::Register).with_key_split(KeySplit::IndependentTuple);
    let r = checker.check(&history(text), &CheckOptions::default());
    assert_eq!(r.valid, Validity::Valid, "{}", r.to_value());
    assert_eq!(r.get("keys"), Some(&Value::from(2)));
    let bad = text.replace("[2 nil]}\n", "[2 5]}\n");
    let r = checker.check(&history(&bad), &CheckOptions::default());
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(r.get("key"), Some(&Value::from(2)));
}

#[test]
fn set_model_checks_whole_set_reads() {
    let good = check(
        ModelKind::Set,
        r#"{:process 0, :type :invoke, :f :add, :value 1}
           {:process 1, :type :invoke, :f :add, :value 2}
           {:process 2, :type :invoke, :f :read, :value nil}
           {:process 2, :type :ok, :f :read, :value #{2}}
           {:process 0, :type :ok, :f :add, :value 1}
           {:process 1, :type :ok, :f :add, :value 2}
           {:process 2, :type :invoke, :f :read, :value nil}
           {:process 2, :type :ok, :f :read, :value #{1 2}}"#,
    );
    assert_eq!(good.valid, Validity::Valid, "{}", good.to_value());
    let lost = check(
        ModelKind::Set,
        r#"{:process 0, :type :invoke, :f :add, :value 1}
           {:process 0, :type :ok, :f :add, :value 1}
           {:process 2, :type :invoke, :f :read, :value nil}
           {:process 2, :type :ok, :f :read, :value #{}}"#,
    );
    assert_eq!(lost.valid, Validity::Invalid);
}

#[test]
fn mutex_model_rejects_double_acquire() {
    let text = r#"{:process 0, :type :invoke, :f :acquire, :value nil}
                  {:process 0, :type :ok, :f :acquire, :value nil}
                  {:process 1, :type :invoke, :f :acquire, :value nil}
                  {:process 1, :type :ok, :f :acquire, :value nil}"#;
    assert_eq!(check(ModelKind::Mutex, text).valid, Validity::Invalid);
    let released = text.replace(
        "{:process 1, :type :invoke, :f :acquire",
        "{:process 0, :type :invoke, :f :release, :value nil}\n{:process 0, :type :ok, :f :release, :value nil}\n{:process 1, :type :invoke, :f :acquire",
    );
    assert_eq!(check(ModelKind::Mutex, &released).valid, Validity::Valid);
}

#[test]
fn multi_register_model_reads_its_own_writes() {
    let r = check(
        ModelKind::MultiRegister,
        r#"{:process 0, :type :invoke, :f :txn, :value [[:write :x 1] [:write :y 2]]}
           {:process 0, :type :ok, :f :txn, :value [[:write :x 1] [:write :y 2]]}
           {:process 1, :type :invoke, :f :txn, :value [[:read :x nil] [:read :y nil]]}
           {:process 1, :type :ok, :f :txn, :value [[:read :x 1] [:read :y 1]]}"#,
    );
    assert_eq!(r.valid, Validity::Invalid);
    assert_eq!(
        r.get("model-state").unwrap().get("y"),
        Some(&Value::from(2))
    );
}

#[test]
fn model_names_parse_and_unknown_names_list_the_valid_ones() {
    for name in model_names() {
        assert_eq!(ModelKind::from_str(name).unwrap().name(), name);
    }
    assert_eq!(
        model_names(),
        vec![
            "register",
            "cas-register",
            "kv",
            "set",
            "mutex",
            "multi-register"
        ]
    );
    let err = ModelKind::from_str("queue").unwrap_err();
    assert!(
        err.contains("cas-register") && err.contains("multi-register"),
        "{err}"
    );
}

#[test]
fn an_unknown_operation_gives_unknown_with_the_reason() {
    let r = check(
        ModelKind::Register,
        r#"{:process 0, :type :invoke, :f :cas, :value [1 2]}
           {:process 0, :type :ok, :f :cas, :value [1 2]}"#,
    );
    assert_eq!(r.valid, Validity::Unknown);
    let error = r.get("error").unwrap().to_string();
    assert!(error.contains(":cas"), "{error}");
}

/// Many concurrent acknowledged writes and a read that no order explains: every search
/// must explore many orders of the writes before it could give a verdict (the frontier
/// search grows as their power set, the depth-first search visits as many subsets).
fn hard_history() -> History {
    let mut text = String::new();
    for p in 0..40 {
        text.push_str(&format!(
            "{{:process {p}, :type :invoke, :f :write, :value {p}}}\n"
        ));
    }
    for p in 0..40 {
        text.push_str(&format!(
            "{{:process {p}, :type :ok, :f :write, :value {p}}}\n"
        ));
    }
    text.push_str("{:process 999, :type :invoke, :f :read, :value nil}\n");
    text.push_str("{:process 999, :type :ok, :f :read, :value 77}\n");
    history(&text)
}

#[test]
fn the_time_limit_gives_unknown() {
    let opts = CheckOptions {
        time_limit: Some(Duration::from_millis(200)),
        ..CheckOptions::default()
    };
    let r = Linearizable::new(ModelKind::Register).check(&hard_history(), &opts);
    assert_eq!(r.valid, Validity::Unknown, "{}", r.to_value());
    assert!(r.get("error").unwrap().to_string().contains("time limit"));
}

#[test]
fn the_memory_limit_gives_unknown() {
    let r = Linearizable::new(ModelKind::Register)
        .with_max_cache_bytes(4 << 20)
        .check(&hard_history(), &CheckOptions::default());
    assert_eq!(r.valid, Validity::Unknown, "{}", r.to_value());
    assert!(r.get("error").unwrap().to_string().contains("memory limit"));
}

#[test]
fn the_reported_key_does_not_depend_on_threads() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/histories/porcupine-kv/c10-bad.edn");
    let history = read_history_file(&path).unwrap();
    let report = |threads| {
        let r = Linearizable::new(ModelKind::Kv)
            .with_threads(threads)
            .check(&history, &CheckOptions::default());
        assert_eq!(r.valid, Validity::Invalid);
        r.to_value()
    };
    let one = report(1);
    for _ in 0..10 {
        assert_eq!(report(2), one);
    }
}

// ---- Histories that used to defeat the search (issue 13) ----

/// Porcupine's `TestKvNoPartition…`: the kv histories checked whole, one state holding
/// every key (the search has no key split to lean on).
#[test]
fn porcupine_kv_10_client_histories_get_their_verdicts_unsplit() {
    let checker = Linearizable::new(ModelKind::Kv).with_key_split(KeySplit::None);
    for (name, expected) in [
        ("c01-ok.edn", Validity::Valid),
        ("c01-bad.edn", Validity::Invalid),
        ("c10-ok.edn", Validity::Valid),
        ("c10-bad.edn", Validity::Invalid),
    ] {
        let result = check_file(&checker, &histories().join("porcupine-kv").join(name));
        assert_eq!(result.valid, expected, "{name}: {}", result.to_value());
        assert!(result.get("keys").is_none(), "{name}: not split");
    }
}

/// A strictly sequential single-key register history of `ops` ops (writes and reads of
/// what was last written), plus, if `stale`, a final read of a value overwritten long ago.
fn sequential_register(ops: usize, stale: bool) -> History {
    use jepsen_core::history::{Op, OpType};
    let mut history = Vec::with_capacity(2 * ops + 2);
    let mut last = Value::Nil;
    // A fixed LCG: the same history every run.
    let mut x: u64 = 42;
    for i in 0..ops {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let p = (i % 5) as u64;
        let (invoke, ok) = if x >> 63 == 0 {
            let v = Value::from(((x >> 32) % 100) as i64);
            last = v.clone();
            let w = Op::invoke(p, "write", v);
            (w.clone(), w.complete(OpType::Ok))
        } else {
            let r = Op::invoke(p, "read", Value::Nil);
            let mut done = r.complete(OpType::Ok);
            done.value = last.clone();
            (r, done)
        };
        history.push(invoke);
        history.push(ok);
    }
    if stale {
        let r = Op::invoke(0, "read", Value::Nil);
        let mut done = r.complete(OpType::Ok);
        done.value = Value::from(1000);
        history.push(r);
        history.push(done);
    }
    History::from_ops(history).unwrap()
}

/// A million sequential ops on one key: each step of the search costs the same however
/// much of the history is behind it (time: `bench --only check-speed`).
#[test]
fn a_million_op_sequential_register_history_is_decided() {
    let checker = Linearizable::new(ModelKind::Register);
    let valid = checker.check(
        &sequential_register(1_000_000, false),
        &CheckOptions::default(),
    );
    assert_eq!(valid.valid, Validity::Valid, "{}", valid.to_value());
    let stale = checker.check(
        &sequential_register(1_000_000, true),
        &CheckOptions::default(),
    );
    assert_eq!(stale.valid, Validity::Invalid);
    assert_eq!(
        stale.get("op").and_then(|o| o.get("value")),
        Some(&Value::from(1000)),
        "the stale read is the op reported"
    );
}

/// `count` concurrent writes of distinct values that all crash (`:info`), then reads, one
/// after another, of the written values in a shuffled order; with `reread`, a value read
/// earlier is read again at the end, which no order of single writes explains.
fn crashed_writes_read_back(count: usize, reread: bool) -> History {
    let mut text = String::new();
    for p in 0..count {
        text.push_str(&format!(
            "{{:process {p}, :type :invoke, :f :write, :value {p}}}\n"
        ));
    }
    for p in 0..count {
        text.push_str(&format!(
            "{{:process {p}, :type :info, :f :write, :value {p}}}\n"
        ));
    }
    let mut order: Vec<usize> = (0..count).collect();
    let mut x: u64 = 7;
    for i in (1..order.len()).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        order.swap(i, (x >> 33) as usize % (i + 1));
    }
    if reread {
        order.push(order[3]);
    }
    for (i, v) in order.iter().enumerate() {
        let p = 100 + i;
        text.push_str(&format!(
            "{{:process {p}, :type :invoke, :f :read, :value nil}}\n"
        ));
        text.push_str(&format!(
            "{{:process {p}, :type :ok, :f :read, :value {v}}}\n"
        ));
    }
    history(&text)
}

/// Crashed writes are linearized only where a read observes them: 40 of them read back
/// in a random order are decided at once, both ways.
#[test]
fn forty_crashed_writes_read_back_in_any_order_are_decided() {
    let checker = Linearizable::new(ModelKind::Register);
    let opts = CheckOptions {
        time_limit: Some(Duration::from_secs(60)),
        ..CheckOptions::default()
    };
    let valid = checker.check(&crashed_writes_read_back(40, false), &opts);
    assert_eq!(valid.valid, Validity::Valid, "{}", valid.to_value());
    let reread = checker.check(&crashed_writes_read_back(40, true), &opts);
    assert_eq!(reread.valid, Validity::Invalid, "{}", reread.to_value());
}

/// Knossos' and Porcupine's set models reject a read that returns an element twice.
#[test]
fn a_set_read_with_a_duplicate_element_is_not_linearizable() {
    let text = "{:process 0, :type :invoke, :f :add, :value 100}\n\
                {:process 0, :type :ok, :f :add, :value 100}\n\
                {:process 1, :type :invoke, :f :add, :value 110}\n\
                {:process 1, :type :ok, :f :add, :value 110}\n\
                {:process 2, :type :invoke, :f :read, :value nil}\n\
                {:process 2, :type :ok, :f :read, :value [100 100 110]}\n";
    assert_eq!(check(ModelKind::Set, text).valid, Validity::Invalid);
    let fine = text.replace("[100 100 110]", "[110 100]");
    assert_eq!(check(ModelKind::Set, &fine).valid, Validity::Valid);
}

/// A long sequential register history in which 2% of the writes crash (`:info`, never
/// read back), plus, if `stale`, a last read of a value overwritten long ago: the crashed
/// writes stay open to the end, and each return must not try them all again in pairs.
fn sequential_with_crashes(ops: usize, stale: bool) -> History {
    use jepsen_core::history::{Op, OpType};
    let mut history = Vec::new();
    let (mut last, mut x, mut process) = (Value::Nil, 11u64, 0u64);
    for _ in 0..ops {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let roll = (x >> 33) % 100;
        let v = Value::from(((x >> 16) % 100) as i64);
        let w = Op::invoke(process, "write", v.clone());
        if roll < 2 {
            history.push(w.clone());
            history.push(w.complete(OpType::Info));
            process += 1; // a crashed process is replaced
        } else if roll < 50 {
            last = v;
            history.push(w.clone());
            history.push(w.complete(OpType::Ok));
        } else {
            let r = Op::invoke(process, "read", Value::Nil);
            let mut done = r.complete(OpType::Ok);
            done.value = last.clone();
            history.push(r);
            history.push(done);
        }
    }
    if stale {
        let r = Op::invoke(process, "read", Value::Nil);
        let mut done = r.complete(OpType::Ok);
        done.value = Value::from(1000);
        history.push(r);
        history.push(done);
    }
    History::from_ops(history).unwrap()
}

#[test]
fn a_long_history_with_many_crashed_writes_is_decided() {
    let opts = CheckOptions {
        time_limit: Some(Duration::from_secs(60)),
        ..CheckOptions::default()
    };
    for model in [ModelKind::Register, ModelKind::CasRegister] {
        let checker = Linearizable::new(model);
        let valid = checker.check(&sequential_with_crashes(20_000, false), &opts);
        assert_eq!(valid.valid, Validity::Valid, "{}", valid.to_value());
        let stale = checker.check(&sequential_with_crashes(20_000, true), &opts);
        assert_eq!(stale.valid, Validity::Invalid, "{}", stale.to_value());
    }
}
