//! Explaining a non-linearizable history in terms a Knossos user knows: the operation
//! that could not be linearized (`op`, with its `invocation`), the last `:ok` operation
//! before it (`previous-ok`), the longest prefix the search could linearize
//! (`longest-prefix`, Knossos' `:final-paths` reduced to the deepest path; only its last
//! [`PREFIX_SHOWN`] ops, `prefix-length` says how long it is) and the model state after
//! that prefix (`model-state`). `final-paths` holds, as Knossos' does, one path: the last
//! few ops of that prefix each with the model state after it, then the stuck op with
//! `:model :inconsistent` when the model rejects it there, or with the state it would
//! reach and `:explored true` when that configuration was already searched in vain.

use super::partition::Partition;
use super::search::{SearchOp, Stuck};
use crate::history::{History, Op, Value};
use crate::model::Model;

/// At most this many ops (the last ones) of the longest prefix are reported.
pub const PREFIX_SHOWN: usize = 64;

/// The ops of the prefix shown in `final-paths`, before the stuck op.
pub const PATH_SHOWN: usize = 8;

fn path_step(op: &Op, model: Value) -> Value {
    Value::Map(vec![
        (Value::keyword("op"), op.to_value()),
        (Value::keyword("model"), model),
    ])
}

/// The details of a failure. `kept[i]` is the partition op of search op `i`; `model` is
/// the partition's model, used to replay the prefix.
pub fn failure_details<M: Model>(
    history: &History,
    partition: &Partition<'_>,
    kept: &[usize],
    ops: &[SearchOp<M::Op>],
    model: &mut M,
    stuck: &Stuck<M::State>,
) -> Vec<(String, Value)> {
    let model_state = model.render_state(&stuck.state);
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
        .map(|c| history.ops[c].to_value())
        .unwrap_or(Value::Nil);
    let skipped = stuck.prefix.len().saturating_sub(PREFIX_SHOWN);
    let prefix: Vec<Value> = stuck.prefix[skipped..]
        .iter()
        .map(|&i| shown(i).to_value())
        .collect();
    let failing_op = &history.ops[failing_at];

    // Replay the prefix for the model states along the end of it.
    let mut state = model.initial_state();
    let mut path = Vec::new();
    for (n, &i) in stuck.prefix.iter().enumerate() {
        state = model
            .step(&state, &ops[i as usize].op)
            .expect("the search linearized this prefix");
        if n + PATH_SHOWN >= stuck.prefix.len() {
            path.push(path_step(shown(i), model.render_state(&state)));
        }
    }
    let last = match model.step(&state, &ops[stuck.op as usize].op) {
        None => path_step(failing_op, Value::keyword("inconsistent")),
        Some(next) => {
            let Value::Map(mut entries) = path_step(failing_op, model.render_state(&next)) else {
                unreachable!()
            };
            entries.push((Value::keyword("explored"), Value::Bool(true)));
            Value::Map(entries)
        }
    };
    path.push(last);
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
        ("op".to_string(), failing_op.to_value()),
        (
            "invocation".to_string(),
            history.ops[failing.invoke].to_value(),
        ),
        ("previous-ok".to_string(), previous_ok),
        ("longest-prefix".to_string(), Value::Vec(prefix)),
        (
            "prefix-length".to_string(),
            Value::Int(stuck.prefix.len() as i64),
        ),
        ("model-state".to_string(), model_state),
        (
            "final-paths".to_string(),
            Value::Set(vec![Value::Vec(path)]),
        ),
        ("error".to_string(), Value::Str(message)),
    ]);
    details
}
