//! The list-append (Elle) checker on handmade histories: each anomaly class alone gives
//! that anomaly and only that one (the classic examples of the Elle paper and Adya's
//! thesis among them), the consistency model decides which are reported, and a large
//! valid history stays valid.

use jepsen_core::checker::elle::{ConsistencyModel, ListAppend};
use jepsen_core::checker::{CheckOptions, CheckResult, Checker, Validity};
use jepsen_core::history::{read_history_str, Value};

/// A history of transactions `(process, type, value)`: all invoked first, then all
/// completed in order, so that none precedes another in real time.
fn concurrent(txns: &[(u64, &str, &str)]) -> String {
    let mut text = String::new();
    for (p, _, value) in txns {
        // Invocations carry the appends; reads unknown.
        let invoke = value.replace("[:r", "[:rr");
        let invoke = strip_reads(&invoke);
        text.push_str(&format!(
            "{{:process {p}, :type :invoke, :f :txn, :value {invoke}}}\n"
        ));
    }
    for (p, kind, value) in txns {
        text.push_str(&format!(
            "{{:process {p}, :type :{kind}, :f :txn, :value {value}}}\n"
        ));
    }
    text
}

/// `[:rr k anything]` -> `[:r k nil]` (what an invocation says of a read).
fn strip_reads(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find("[:rr ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 5..];
        let key_end = after.find(' ').unwrap();
        out.push_str(&format!("[:r {} nil]", &after[..key_end]));
        // Skip the read's list: up to the bracket that closes the micro-op.
        let mut depth = 1;
        let mut end = key_end;
        for (i, c) in after[key_end..].char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = key_end + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn check_with(model: ConsistencyModel, text: &str) -> CheckResult {
    let history = read_history_str("inline", text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    ListAppend::new(model).check(&history, &CheckOptions::default())
}

fn types(result: &CheckResult) -> Vec<String> {
    match result.get("anomaly-types") {
        Some(Value::Vec(v)) => v.iter().map(|t| t.as_name().unwrap().to_string()).collect(),
        _ => Vec::new(),
    }
}

/// Under strict serializability, the history gives exactly `expected`.
fn expect(text: &str, expected: &[&str]) -> CheckResult {
    let r = check_with(ConsistencyModel::StrictSerializable, text);
    assert_eq!(types(&r), expected, "{}", r.to_value());
    assert_eq!(r.valid, Validity::Invalid);
    r
}

#[test]
fn g0_write_cycle() {
    let h = concurrent(&[
        (1, "ok", "[[:append :x 1] [:append :y 2]]"),
        (2, "ok", "[[:append :x 2] [:append :y 1]]"),
        (3, "ok", "[[:r :x [1 2]]]"),
        (4, "ok", "[[:r :y [1 2]]]"),
    ]);
    let r = expect(&h, &["G0"]);
    let text = r.to_value().to_string();
    assert!(
        text.contains("appended 2 after T1 appended 1 to :x"),
        "{text}"
    );
    assert!(text.contains("a contradiction"), "{text}");
    assert_eq!(
        r.get("not"),
        Some(&Value::Set(vec![Value::keyword("read-uncommitted")]))
    );
}

#[test]
fn g1c_circular_information_flow() {
    let h = concurrent(&[
        (1, "ok", "[[:append :x 1] [:r :y [1]]]"),
        (2, "ok", "[[:append :y 1] [:r :x [1]]]"),
    ]);
    let r = expect(&h, &["G1c"]);
    assert!(
        r.to_value()
            .to_string()
            .contains("observed T1's append of 1"),
        "{}",
        r.to_value()
    );
}

#[test]
fn g_single_read_skew() {
    let h = concurrent(&[
        (1, "ok", "[[:r :x nil] [:r :y [1]]]"),
        (2, "ok", "[[:append :x 1] [:append :y 1]]"),
        (3, "ok", "[[:r :x [1]]]"),
    ]);
    expect(&h, &["G-single-item"]);
    // Snapshot isolation prohibits it too; read committed does not.
    assert_eq!(
        check_with(ConsistencyModel::SnapshotIsolation, &h).valid,
        Validity::Invalid
    );
    assert_eq!(
        check_with(ConsistencyModel::ReadCommitted, &h).valid,
        Validity::Valid
    );
}

#[test]
fn g2_item_write_skew_is_allowed_by_snapshot_isolation() {
    let h = concurrent(&[
        (1, "ok", "[[:r :x []] [:append :y 1]]"),
        (2, "ok", "[[:r :y []] [:append :x 1]]"),
        (3, "ok", "[[:r :x [1]] [:r :y [1]]]"),
    ]);
    expect(&h, &["G2-item"]);
    assert_eq!(
        check_with(ConsistencyModel::Serializable, &h).valid,
        Validity::Invalid
    );
    let si = check_with(ConsistencyModel::SnapshotIsolation, &h);
    assert_eq!(si.valid, Validity::Valid, "{}", si.to_value());
}

#[test]
fn g_nonadjacent_item() {
    let h = concurrent(&[
        (1, "ok", "[[:r :x []] [:r :w [1]]]"),
        (2, "ok", "[[:append :x 1] [:append :y 1]]"),
        (3, "ok", "[[:r :y [1]] [:r :z []]]"),
        (4, "ok", "[[:append :z 1] [:append :w 1]]"),
        (5, "ok", "[[:r :x [1]] [:r :z [1]]]"),
    ]);
    expect(&h, &["G-nonadjacent-item"]);
    assert_eq!(
        check_with(ConsistencyModel::SnapshotIsolation, &h).valid,
        Validity::Invalid
    );
}

#[test]
fn g1a_aborted_read() {
    let h = concurrent(&[(1, "fail", "[[:append :x 1]]"), (2, "ok", "[[:r :x [1]]]")]);
    expect(&h, &["G1a"]);
}

#[test]
fn g1b_intermediate_read() {
    let h = concurrent(&[
        (1, "ok", "[[:append :x 1] [:append :x 2]]"),
        (2, "ok", "[[:r :x [1]]]"),
        (3, "ok", "[[:r :x [1 2]]]"),
    ]);
    expect(&h, &["G1b"]);
}

#[test]
fn dirty_update_comes_with_the_aborted_read_it_implies() {
    let h = concurrent(&[
        (1, "fail", "[[:append :x 1]]"),
        (2, "ok", "[[:append :x 2]]"),
        (3, "ok", "[[:r :x [1 2]]]"),
    ]);
    expect(&h, &["G1a", "dirty-update"]);
}

#[test]
fn internal_inconsistency() {
    let h = concurrent(&[(1, "ok", "[[:append :x 1] [:r :x []]]")]);
    expect(&h, &["internal"]);
}

#[test]
fn future_read() {
    let h = concurrent(&[(1, "ok", "[[:r :x [1]] [:append :x 1]]")]);
    expect(&h, &["future-read"]);
}

#[test]
fn duplicate_elements() {
    let h = concurrent(&[(1, "ok", "[[:append :x 1]]"), (2, "ok", "[[:r :x [1 1]]]")]);
    expect(&h, &["duplicate-elements"]);
}

#[test]
fn incompatible_order() {
    let h = concurrent(&[
        (1, "ok", "[[:append :x 1]]"),
        (2, "ok", "[[:append :x 2]]"),
        (3, "ok", "[[:r :x [1 2]]]"),
        (4, "ok", "[[:r :x [2 1]]]"),
    ]);
    expect(&h, &["incompatible-order"]);
}

#[test]
fn lost_update() {
    let h = concurrent(&[
        (1, "ok", "[[:r :x []] [:append :x 1]]"),
        (2, "ok", "[[:r :x []] [:append :x 2]]"),
        (3, "ok", "[[:r :x [1]]]"),
    ]);
    expect(&h, &["lost-update"]);
}

/// A process appends, then (later, same process) reads the key empty: a stale read that
/// only the process's own order (or real time) shows.
fn stale_own_read() -> String {
    "{:process 1, :type :invoke, :f :txn, :value [[:append :x 1]]}\n\
     {:process 1, :type :ok, :f :txn, :value [[:append :x 1]]}\n\
     {:process 1, :type :invoke, :f :txn, :value [[:r :x nil]]}\n\
     {:process 1, :type :ok, :f :txn, :value [[:r :x []]]}\n\
     {:process 2, :type :invoke, :f :txn, :value [[:r :x nil]]}\n\
     {:process 2, :type :ok, :f :txn, :value [[:r :x [1]]]}\n"
        .to_string()
}

#[test]
fn process_and_realtime_variants_follow_the_model() {
    let h = stale_own_read();
    let session = check_with(ConsistencyModel::StrongSessionSnapshotIsolation, &h);
    assert_eq!(
        types(&session),
        ["G-single-item-process"],
        "{}",
        session.to_value()
    );
    let strict = check_with(ConsistencyModel::StrictSerializable, &h);
    assert_eq!(
        types(&strict),
        ["G-single-item-realtime"],
        "{}",
        strict.to_value()
    );
    assert!(strict
        .to_value()
        .to_string()
        .contains("completed at index 1, before the invocation of"));
    let serializable = check_with(ConsistencyModel::Serializable, &h);
    assert_eq!(
        serializable.valid,
        Validity::Valid,
        "{}",
        serializable.to_value()
    );
}

#[test]
fn a_valid_history_of_100000_transactions_is_valid() {
    // Ten processes in turn, one transaction at a time: each appends to its own key and
    // reads its neighbour's, seeing every append so far. Keys are retired every 20
    // rounds (fresh key numbers), so lists stay short.
    let procs = 10u64;
    let mut text = String::new();
    let mut lists: Vec<Vec<u64>> = vec![Vec::new(); procs as usize];
    let mut v = 0u64;
    for round in 0..10_000u64 {
        let epoch = round / 20;
        if round % 20 == 0 {
            lists.iter_mut().for_each(Vec::clear);
        }
        for p in 0..procs {
            let (k, other) = (p, (p + 1) % procs);
            v += 1;
            lists[k as usize].push(v);
            let key = epoch * procs + k;
            let other_key = epoch * procs + other;
            let seen: Vec<String> = lists[other as usize]
                .iter()
                .map(|v| v.to_string())
                .collect();
            text.push_str(&format!(
                "{{:process {p}, :type :invoke, :f :txn, :value [[:append {key} {v}] [:r {other_key} nil]]}}\n\
                 {{:process {p}, :type :ok, :f :txn, :value [[:append {key} {v}] [:r {other_key} [{}]]]}}\n",
                seen.join(" ")
            ));
        }
    }
    let history = read_history_str("inline", &text).unwrap();
    assert_eq!(history.ops.len(), 200_000);
    let r = ListAppend::default().check(&history, &CheckOptions::default());
    assert_eq!(r.valid, Validity::Valid, "{}", r.to_value());
}
