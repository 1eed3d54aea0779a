//! Explaining a non-linearizable history in terms a Knossos user knows: the operation
//! that could not be linearized (`op`, with its `invocation`), the last `:ok` operation
//! before it (`previous-ok`), the longest prefix the search could linearize
//! (`longest-prefix`, Knossos' `:final-paths` reduced to the deepest path; only its last
//! [`PREFIX_SHOWN`] ops, `prefix-length` says how long it is) and the model state after
//! that prefix (`model-state`).

use super::partition::Partition;
use super::search::Stuck;
use crate::history::{History, Op, Value};

/// At most this many ops (the last ones) of the longest prefix are reported.
pub const PREFIX_SHOWN: usize = 64;

/// An op as Jepsen's map: `{:index … :type … :process … :f … :value …}` plus extras.
pub fn op_value(op: &Op) -> Value {
    let mut entries = vec![
        (Value::keyword("index"), Value::Int(op.index)),
        (Value::keyword("type"), Value::keyword(op.kind.name())),
        (Value::keyword("process"), op.process.to_value()),
        (Value::keyword("f"), Value::keyword(&op.f)),
        (Value::keyword("value"), op.value.clone()),
    ];
    if op.time >= 0 {
        entries.insert(1, (Value::keyword("time"), Value::Int(op.time)));
    }
    if let Some(error) = &op.error {
        entries.push((Value::keyword("error"), error.clone()));
    }
    for (k, v) in &op.extra {
        entries.push((Value::keyword(k), v.clone()));
    }
    Value::Map(entries)
}

/// The details of a failure. `kept[i]` is the partition op of search op `i`.
pub fn failure_details<S>(
    history: &History,
    partition: &Partition<'_>,
    kept: &[usize],
    stuck: &Stuck<S>,
    model_state: Value,
) -> Vec<(String, Value)> {
    // An op as reported: its completion if it has one, else its invocation.
    let shown = |search_op: u32| {
        let op = &partition.ops[kept[search_op as usize]];
        &history.ops[op.complete.unwrap_or(op.invoke)]
    };
    let failing = &partition.ops[kept[stuck.op as usize]];
    let failing_at = failing.complete.unwrap_or(failing.invoke);
    let previous_ok = partition
        .ops
        .iter()
        .filter_map(|o| {
            o.complete
                .filter(|&c| c < failing_at && history.ops[c].is_ok())
        })
        .max()
        .map(|c| op_value(&history.ops[c]))
        .unwrap_or(Value::Nil);
    let skipped = stuck.prefix.len().saturating_sub(PREFIX_SHOWN);
    let prefix: Vec<Value> = stuck.prefix[skipped..]
        .iter()
        .map(|&i| op_value(shown(i)))
        .collect();
    let failing_op = &history.ops[failing_at];
    let message = format!(
        "no linearization includes :{} {} (index {}): the longest linearizable prefix found ({} ops, model state {}) cannot be extended by it",
        failing_op.f,
        failing_op.value,
        failing_op.index,
        stuck.prefix.len(),
        model_state
    );
    let mut details = Vec::new();
    if let Some(key) = &partition.key {
        details.push(("key".to_string(), key.clone()));
    }
    details.extend([
        ("op".to_string(), op_value(failing_op)),
        (
            "invocation".to_string(),
            op_value(&history.ops[failing.invoke]),
        ),
        ("previous-ok".to_string(), previous_ok),
        ("longest-prefix".to_string(), Value::Vec(prefix)),
        (
            "prefix-length".to_string(),
            Value::Int(stuck.prefix.len() as i64),
        ),
        ("model-state".to_string(), model_state),
        ("error".to_string(), Value::Str(message)),
    ]);
    details
}
