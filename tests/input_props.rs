//! Property tests of what reads input and the checkers that do not search: random bytes,
//! random op sequences and mutated well-formed histories (a byte cut, inserted, a line
//! duplicated, swapped, dropped, the text truncated) never make a reader or a checker
//! panic or hang. A reader either gives a history or one printable line naming the line;
//! loose pairing takes every op sequence, strict pairing takes what pairs; a well-formed
//! history reads back as written in either format, and a report renders for any history. Every case is small and the case
//! counts are fixed, so the whole file runs in seconds.

use jepsen_core::checker::{counter, heal, set, set_full, stats, unhandled_exceptions};
use jepsen_core::checker::{CheckOptions, Checker, Validity};
use jepsen_core::history::{
    read_history_str, read_history_str_with, History, Op, OpType, Pairing, Process, Value,
};
use jepsen_core::printable::LINE_MAX;
use jepsen_core::report::{self, ReportInput};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        // Any case that takes a second is a hang here (each takes microseconds).
        timeout: 5_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn kind() -> impl Strategy<Value = OpType> {
    prop_oneof![
        4 => Just(OpType::Invoke),
        3 => Just(OpType::Ok),
        1 => Just(OpType::Fail),
        1 => Just(OpType::Info),
    ]
}

fn process() -> impl Strategy<Value = Process> {
    prop_oneof![
        8 => (0..4u64).prop_map(Process::Client),
        1 => Just(Process::Nemesis),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        (-3..10i64).prop_map(Value::Int),
        "[a-z\u{1b}\n]{0,4}".prop_map(Value::Str),
        Just(Value::keyword("timeout")),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Vec),
            prop::collection::vec((inner.clone(), inner), 0..3).prop_map(Value::Map),
        ]
    })
}

/// An op as any tool might have written it: any process, type, f and value, sometimes
/// an `:error` and a `:node`.
fn op() -> impl Strategy<Value = Op> {
    (
        kind(),
        process(),
        prop::sample::select(vec!["add", "read", "write", "cas", "start", "stop"]),
        value(),
        prop::option::of(value()),
        prop::option::of(prop::sample::select(vec!["n1", "n2", "n3"])),
    )
        .prop_map(|(kind, process, f, value, error, node)| {
            let mut op = Op::new(kind, process, f, value);
            op.error = error;
            if let Some(node) = node {
                op.extra.insert("node".to_string(), Value::from(node));
            }
            op
        })
}

/// A well-formed history: each client process invokes, then completes (or never does,
/// at the end), and a crashed process's thread goes on as a new process.
fn well_formed() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec((0..3u64, op(), kind()), 1..30).prop_map(|steps| {
        let mut ops = Vec::new();
        let mut process = [0u64, 1, 2];
        for (thread, mut invoke, end) in steps {
            let p = Process::Client(process[thread as usize]);
            invoke.kind = OpType::Invoke;
            invoke.process = p.clone();
            invoke.error = None;
            let mut done = invoke.clone();
            done.kind = if end == OpType::Invoke {
                OpType::Ok
            } else {
                end
            };
            if done.kind == OpType::Info {
                process[thread as usize] += 3;
            }
            ops.push(invoke);
            ops.push(done);
        }
        ops
    })
}

/// Whether `v` holds a map with a key that is not a string.
fn keyed_otherwise(v: &Value) -> bool {
    match v {
        Value::Map(entries) => entries
            .iter()
            .any(|(k, v)| !matches!(k, Value::Str(_)) || keyed_otherwise(v)),
        Value::Vec(items) | Value::Set(items) => items.iter().any(keyed_otherwise),
        _ => false,
    }
}

fn edn(ops: &[Op]) -> String {
    ops.iter().map(|o| o.to_edn() + "\n").collect()
}

/// Every checker that does not search, on `history`: none may panic.
fn check_all(history: &History, pairing: Pairing) {
    let opts = CheckOptions {
        nodes: vec!["n1".into(), "n2".into()],
        ..CheckOptions::default()
    };
    let mut checkers: Vec<Box<dyn Checker>> = vec![
        Box::new(set::set()),
        Box::new(stats::stats()),
        Box::new(unhandled_exceptions::unhandled_exceptions()),
        Box::new(heal::heal()),
    ];
    if pairing == Pairing::Strict {
        checkers.push(Box::new(counter::counter()));
        checkers.push(Box::new(set_full::set_full(false)));
        checkers.push(Box::new(set_full::set_full(true)));
    }
    let page = report::render(&ReportInput {
        title: "props".into(),
        history,
        results: None,
        test: None,
    });
    assert!(page.ends_with("</html>\n"));
    for checker in &checkers {
        assert!(pairing == Pairing::Strict || checker.pairing() == Pairing::Loose);
        let result = checker.check(history, &opts);
        let _ = result.to_value().to_string();
        assert!(matches!(
            result.valid,
            Validity::Valid | Validity::Invalid | Validity::Unknown
        ));
    }
}

/// A reader's error is one printable line, of bounded length.
fn assert_printable(e: &impl std::fmt::Display) {
    let text = e.to_string();
    assert!(!text.chars().any(char::is_control), "{text:?}");
    assert!(
        text.chars().count() <= LINE_MAX + 40,
        "{} chars",
        text.len()
    );
}

/// A mutation of a history's text.
#[derive(Clone, Debug)]
enum Mutation {
    Cut(usize, usize),
    Insert(usize, String),
    Truncate(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    DropLine(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let n = 0..10_000usize;
    prop_oneof![
        (n.clone(), 1..8usize).prop_map(|(a, b)| Mutation::Cut(a, b)),
        (n.clone(), "[\\[\\]{}()\":;#\\\\ ,\n0-9a-z\u{1b}é]{1,4}")
            .prop_map(|(a, s)| Mutation::Insert(a, s)),
        n.clone().prop_map(Mutation::Truncate),
        n.clone().prop_map(Mutation::DuplicateLine),
        (n.clone(), n.clone()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        n.prop_map(Mutation::DropLine),
    ]
}

fn mutate(text: &str, m: &Mutation) -> String {
    // Positions on character boundaries, modulo the text's length.
    let at = |i: usize| {
        let chars: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        chars.get(i % chars.len().max(1)).copied().unwrap_or(0)
    };
    let mut lines: Vec<&str> = text.lines().collect();
    let line = |i: usize| i % lines.len().max(1);
    match m {
        Mutation::Cut(a, len) => {
            let start = at(*a);
            let end = text[start..]
                .char_indices()
                .nth(*len)
                .map_or(text.len(), |(i, _)| start + i);
            format!("{}{}", &text[..start], &text[end..])
        }
        Mutation::Insert(a, s) => {
            let i = at(*a);
            format!("{}{s}{}", &text[..i], &text[i..])
        }
        Mutation::Truncate(a) => text[..at(*a)].to_string(),
        Mutation::DuplicateLine(a) => {
            if !lines.is_empty() {
                let i = line(*a);
                lines.insert(i, lines[i]);
            }
            lines.join("\n")
        }
        Mutation::SwapLines(a, b) => {
            if !lines.is_empty() {
                let (i, j) = (line(*a), line(*b));
                lines.swap(i, j);
            }
            lines.join("\n")
        }
        Mutation::DropLine(a) => {
            if !lines.is_empty() {
                lines.remove(line(*a));
            }
            lines.join("\n")
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic_the_reader(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        match read_history_str("random", &text) {
            Ok(h) => check_all(&h, Pairing::Strict),
            Err(e) => assert_printable(&e),
        }
    }

    #[test]
    fn random_op_sequences_pair_loosely_and_strictly_when_they_can(
        ops in prop::collection::vec(op(), 0..40)
    ) {
        let loose = History::paired(ops.clone(), Pairing::Loose).expect("loose takes all");
        check_all(&loose, Pairing::Loose);
        if let Ok(strict) = History::paired(ops, Pairing::Strict) {
            check_all(&strict, Pairing::Strict);
        }
        // Through the text, the same.
        let text = edn(&loose.ops);
        let again = read_history_str_with("loose", &text, Pairing::Loose)
            .expect("what loose pairing took, it reads back");
        prop_assert_eq!(again.ops, loose.ops);
    }

    #[test]
    fn well_formed_histories_read_back_in_both_formats(ops in well_formed()) {
        let history = History::from_ops(ops).expect("well formed");
        check_all(&history, Pairing::Strict);
        let json: String = history.ops.iter().map(|o| o.to_json() + "\n").collect();
        prop_assert_eq!(&read_history_str("e", &edn(&history.ops)).unwrap().ops, &history.ops);
        // JSON keys are strings: a map keyed otherwise reads back with string keys.
        let back = read_history_str("j", &json).unwrap().ops;
        if !history.ops.iter().any(|o| keyed_otherwise(&o.value)) {
            prop_assert_eq!(&back, &history.ops);
        }
    }

    #[test]
    fn mutated_histories_read_or_fail_on_one_line(
        ops in well_formed(),
        json in any::<bool>(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let history = History::from_ops(ops).unwrap();
        let mut text: String = if json {
            history.ops.iter().map(|o| o.to_json() + "\n").collect()
        } else {
            edn(&history.ops)
        };
        for m in &mutations {
            text = mutate(&text, m);
        }
        for pairing in [Pairing::Strict, Pairing::Loose] {
            match read_history_str_with("mutated", &text, pairing) {
                Ok(h) => check_all(&h, pairing),
                Err(e) => {
                    assert_printable(&e);
                    prop_assert!(e.to_string().starts_with("mutated:"), "{}", e);
                }
            }
        }
    }
}
