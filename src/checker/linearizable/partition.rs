//! Splitting a history into independent per-key sub-histories. Linearizability is
//! compositional (P-compositionality, Herlihy & Wing): a history of independent objects is
//! linearizable iff each object's sub-history is, so each key is checked on its own, as
//! Jepsen's `independent` checker and Porcupine's partitions do.
//!
//! Here, too, the client operations are paired and judged: `:fail` operations never
//! happened and are dropped; `:info` or never-completed ones may have happened.

use crate::history::{History, Value};
use crate::model::Outcome;
use std::collections::BTreeMap;

/// How to find an operation's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KeySplit {
    /// `ExtraKey` if every client invocation has a `:key` field, otherwise `None`.
    /// (Independent tuples are never guessed: a cas value `[old new]` looks like one.)
    #[default]
    Auto,
    /// One object: no split.
    None,
    /// The key is the op's `:key` field (Porcupine's kv histories).
    ExtraKey,
    /// The value is a `[key value]` tuple (Jepsen's `independent`): split on the key and
    /// check the inner value.
    IndependentTuple,
}

impl KeySplit {
    pub const NAMES: [&'static str; 4] = ["auto", "none", "key", "independent"];
}

/// Parses `auto`, `none`, `key` (the `:key` field) or `independent` (`[key value]`).
impl std::str::FromStr for KeySplit {
    type Err = String;
    fn from_str(name: &str) -> Result<KeySplit, String> {
        match name {
            "auto" => Ok(KeySplit::Auto),
            "none" => Ok(KeySplit::None),
            "key" => Ok(KeySplit::ExtraKey),
            "independent" => Ok(KeySplit::IndependentTuple),
            _ => Err(format!(
                "unknown key split {name:?}; valid: {}",
                KeySplit::NAMES.join(", ")
            )),
        }
    }
}

/// One client operation as the checker sees it.
#[derive(Clone, Debug)]
pub struct PartOp<'h> {
    /// Position of the invocation in the history.
    pub invoke: usize,
    /// Position of the completion (`:ok` or `:info`), if any.
    pub complete: Option<usize>,
    pub outcome: Outcome,
    pub f: &'h str,
    /// The completion's value for `:ok`, the invocation's for `:info` (key removed).
    pub value: &'h Value,
}

/// The operations on one key (`key` is `None` when the history is not split).
#[derive(Clone, Debug)]
pub struct Partition<'h> {
    pub key: Option<Value>,
    pub ops: Vec<PartOp<'h>>,
}

/// The key and inner value of a `[key value]` tuple.
fn tuple(value: &Value) -> Option<(Value, &Value)> {
    match value.as_slice() {
        Some([k, v]) => Some((k.clone(), v)),
        _ => None,
    }
}

/// Splits the history's client operations by key, in key order; `:fail` ops are dropped.
pub fn partition(history: &History, split: KeySplit) -> Result<Vec<Partition<'_>>, String> {
    let split = match split {
        KeySplit::Auto => {
            let mut invocations = history
                .client_pairs()
                .map(|(i, _)| &history.ops[i])
                .peekable();
            if invocations.peek().is_some() && invocations.all(|op| op.extra.contains_key("key")) {
                KeySplit::ExtraKey
            } else {
                KeySplit::None
            }
        }
        other => other,
    };
    let mut by_key: BTreeMap<Option<Value>, Vec<PartOp<'_>>> = BTreeMap::new();
    for (invoke, complete) in history.client_pairs() {
        let inv = &history.ops[invoke];
        let completion = complete.map(|c| &history.ops[c]);
        let outcome = match completion {
            Some(c) if c.is_fail() => continue,
            Some(c) if c.is_ok() => Outcome::Ok,
            _ => Outcome::Info,
        };
        let carrier = match (outcome, completion) {
            (Outcome::Ok, Some(c)) => c,
            _ => inv,
        };
        let (key, value) = match split {
            KeySplit::ExtraKey => {
                let key = inv.extra.get("key").ok_or_else(|| {
                    format!("op {} has no :key to split the history on", inv.index)
                })?;
                (Some(key.clone()), &carrier.value)
            }
            KeySplit::IndependentTuple => {
                let (key, _) = tuple(&inv.value).ok_or_else(|| {
                    format!(
                        "op {}'s value {} is not a [key value] tuple",
                        inv.index, inv.value
                    )
                })?;
                let (_, value) = tuple(&carrier.value).ok_or_else(|| {
                    format!(
                        "op {}'s value {} is not a [key value] tuple",
                        carrier.index, carrier.value
                    )
                })?;
                (Some(key), value)
            }
            _ => (None, &carrier.value),
        };
        by_key.entry(key).or_default().push(PartOp {
            invoke,
            complete,
            outcome,
            f: &inv.f,
            value,
        });
    }
    Ok(by_key
        .into_iter()
        .map(|(key, ops)| Partition { key, ops })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, OpType};

    fn history(ops: Vec<Op>) -> History {
        History::from_ops(ops).unwrap()
    }

    #[test]
    fn drops_fails_and_keeps_info_and_open_ops() {
        let h = history(vec![
            Op::invoke(0, "write", Value::from(1)),
            Op::invoke(1, "write", Value::from(2)),
            Op::invoke(2, "read", Value::Nil),
            Op::invoke(0, "write", Value::from(1)).complete(OpType::Fail),
            Op::invoke(2, "read", Value::from(2)).complete(OpType::Ok),
            Op::invoke(1, "write", Value::from(2)).complete(OpType::Info),
            Op::invoke(3, "write", Value::from(3)),
        ]);
        let parts = partition(&h, KeySplit::Auto).unwrap();
        assert_eq!(parts.len(), 1);
        let ops = &parts[0].ops;
        let summary: Vec<_> = ops
            .iter()
            .map(|o| (o.f, o.outcome, o.value.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("write", Outcome::Info, Value::from(2)),
                ("read", Outcome::Ok, Value::from(2)),
                ("write", Outcome::Info, Value::from(3)),
            ]
        );
    }

    #[test]
    fn key_split_names_parse() {
        let parsed: Vec<KeySplit> = KeySplit::NAMES.iter().map(|n| n.parse().unwrap()).collect();
        assert_eq!(
            parsed,
            vec![
                KeySplit::Auto,
                KeySplit::None,
                KeySplit::ExtraKey,
                KeySplit::IndependentTuple
            ]
        );
        assert!("tuple"
            .parse::<KeySplit>()
            .unwrap_err()
            .contains("independent"));
    }

    #[test]
    fn splits_on_key_field_and_on_tuples() {
        let with_key =
            |p, k: &str| Op::invoke(p, "get", Value::Nil).with_extra("key", Value::from(k));
        let h = history(vec![
            with_key(0, "b"),
            with_key(1, "a"),
            with_key(0, "b").complete(OpType::Ok),
        ]);
        let parts = partition(&h, KeySplit::Auto).unwrap();
        let keys: Vec<_> = parts.iter().map(|p| p.key.clone()).collect();
        assert_eq!(keys, vec![Some(Value::from("a")), Some(Value::from("b"))]);

        let tuple = |k: i64, v: Value| Value::from(vec![Value::from(k), v]);
        let h = history(vec![
            Op::invoke(0, "read", tuple(7, Value::Nil)),
            Op::invoke(0, "read", tuple(7, Value::from(3))).complete(OpType::Ok),
        ]);
        assert_eq!(partition(&h, KeySplit::Auto).unwrap()[0].key, None);
        let parts = partition(&h, KeySplit::IndependentTuple).unwrap();
        assert_eq!(parts[0].key, Some(Value::from(7)));
        assert_eq!(parts[0].ops[0].value, &Value::from(3));
        assert!(partition(&h, KeySplit::ExtraKey).is_err());
    }
}
