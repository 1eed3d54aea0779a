//! `list-append`: Elle's transactional checker for histories of list appends. Each
//! transaction (`:f :txn`) appends unique values to lists under keys (`[:append k v]`)
//! and reads lists back (`[:r k [v …]]`); the checker infers each key's order of appends
//! and the dependencies between transactions from the lists themselves ([`infer`]),
//! finds the cycles of those dependencies and names the anomaly each one is
//! ([`cycles`]), and judges the anomalies against a consistency model ([`models`];
//! `strict-serializable` by default). In time linear in the history, but for the cycle
//! search inside strongly connected components.
//!
//! The result is Elle's (with a one-line `error` summary for the verdict line):
//! `valid?`, `anomaly-types` and `anomalies` (only the anomalies
//! the model prohibits are reported, each with the transactions and an explanation:
//! which op, which key, which value, why each edge), and `not` / `also-not`, the
//! weakest of the offered models the anomalies rule out and the stronger ones.

pub mod cycles;
pub mod infer;
pub mod models;
pub mod txns;

use super::{CheckOptions, CheckResult, Checker, Validity};
use crate::history::{History, Value};
use infer::{Why, PROCESS, REALTIME, RW, WR, WW};
pub use models::ConsistencyModel;
use std::collections::BTreeMap;
use txns::Txns;

/// Elle's list-append checker under a consistency model.
#[derive(Clone, Debug)]
pub struct ListAppend {
    pub model: ConsistencyModel,
}

impl Default for ListAppend {
    fn default() -> Self {
        ListAppend {
            model: ConsistencyModel::StrictSerializable,
        }
    }
}

impl ListAppend {
    pub fn new(model: ConsistencyModel) -> ListAppend {
        ListAppend { model }
    }
}

/// `T3` for transaction index 2 (as Elle numbers the transactions of an explanation).
fn name(names: &mut Vec<u32>, txn: u32) -> String {
    let at = match names.iter().position(|t| *t == txn) {
        Some(at) => at,
        None => {
            names.push(txn);
            names.len() - 1
        }
    };
    format!("T{}", at + 1)
}

/// One sentence for an edge, as Elle's explanations say it.
fn because(
    t: &Txns,
    history: &History,
    names: &mut Vec<u32>,
    from: u32,
    to: u32,
    why: &Why,
) -> String {
    let (a, b) = (name(names, from), name(names, to));
    let key = || t.keys.get(why.key).to_string();
    let (v1, v2) = &why.values;
    match why.kind {
        WW => format!("{a} < {b}, because {b} appended {v2} after {a} appended {v1} to {}", key()),
        WR => format!("{a} < {b}, because {b} observed {a}'s append of {v1} to key {}", key()),
        RW if v1.is_nil() => format!(
            "{a} < {b}, because {a} observed the initial (empty) state of {}, which {b} created by appending {v2}",
            key()
        ),
        RW => format!(
            "{a} < {b}, because {a} observed {} ending at {v1}, and did not observe {b}'s append of {v2}",
            key()
        ),
        PROCESS => format!(
            "{a} < {b}, because process {} executed {a} before {b}",
            history.ops[t.txns[from as usize].invoke].process
        ),
        REALTIME => format!(
            "{a} < {b}, because {a} completed at index {}, before the invocation of {b}, at index {}",
            history.ops[t.txns[from as usize].position()].index,
            history.ops[t.txns[to as usize].invoke].index
        ),
        _ => format!("{a} < {b}"),
    }
}

fn kind_name(kind: u8) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        _ => "realtime",
    }
}

fn cycle_value(t: &Txns, history: &History, cycle: &cycles::Cycle) -> Value {
    let mut names = Vec::new();
    let mut lines = Vec::new();
    let mut steps = Vec::new();
    for (n, (from, to, why)) in cycle.steps.iter().enumerate() {
        let sentence = because(t, history, &mut names, *from, *to, why);
        lines.push(if n + 1 == cycle.steps.len() {
            format!("However, {sentence}: a contradiction!")
        } else {
            format!("{sentence}.")
        });
        let mut step = vec![(Value::keyword("type"), Value::keyword(kind_name(why.kind)))];
        if why.key != u32::MAX {
            step.push((Value::keyword("key"), t.keys.get(why.key).clone()));
            step.push((Value::keyword("value"), why.values.0.clone()));
            step.push((Value::keyword("value'"), why.values.1.clone()));
        }
        steps.push(Value::Map(step));
    }
    let lets: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, txn)| {
            format!(
                "T{} = {}",
                i + 1,
                history.ops[t.txns[*txn as usize].position()]
            )
        })
        .collect();
    let explanation = format!(
        "Let:\n  {}\n\nThen:\n  - {}",
        lets.join("\n  "),
        lines.join("\n  - ")
    );
    let ops: Vec<Value> = names
        .iter()
        .map(|txn| history.ops[t.txns[*txn as usize].position()].to_value())
        .collect();
    Value::Map(vec![
        (Value::keyword("cycle"), Value::Vec(ops)),
        (Value::keyword("steps"), Value::Vec(steps)),
        (Value::keyword("explanation"), Value::Str(explanation)),
    ])
}

fn finding_value(t: &Txns, history: &History, f: &infer::Finding) -> Value {
    let ops: Vec<Value> = f
        .txns
        .iter()
        .map(|txn| history.ops[t.txns[*txn as usize].position()].to_value())
        .collect();
    Value::Map(vec![
        (Value::keyword("ops"), Value::Vec(ops)),
        (Value::keyword("key"), t.keys.get(f.key).clone()),
        (Value::keyword("values"), Value::Vec(f.values.clone())),
        (Value::keyword("explanation"), Value::Str(f.why.clone())),
    ])
}

impl Checker for ListAppend {
    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let t = match txns::txns(history) {
            Ok(t) => t,
            Err(e) => return CheckResult::new(Validity::Unknown).with("error", Value::Str(e)),
        };
        let mut inference = infer::infer(&t);
        // As Elle: real-time edges only when the model prohibits a real-time anomaly
        // (they imply a process's order), else process edges only when it prohibits a
        // process anomaly, else neither.
        let prohibited = self.model.prohibited();
        let wants = |suffix: &str| {
            cycles::class_names().any(|c| c.ends_with(suffix) && prohibited.contains(c))
        };
        let keep = if wants("-realtime") {
            REALTIME
        } else if wants("-process") {
            PROCESS
        } else {
            0
        };
        inference
            .graph
            .edges
            .retain(|(_, _, why)| why.kind & (WW | WR | RW | keep) != 0);
        let found_cycles = cycles::find(t.txns.len(), &inference.graph);
        // Every anomaly found, by type.
        let mut anomalies: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
        for f in &inference.findings {
            anomalies
                .entry(f.kind)
                .or_default()
                .push(finding_value(&t, history, f));
        }
        for c in &found_cycles {
            anomalies
                .entry(c.anomaly)
                .or_default()
                .push(cycle_value(&t, history, c));
        }
        let found: Vec<&str> = anomalies.keys().copied().collect();
        let reportable: BTreeMap<&str, Vec<Value>> = anomalies
            .into_iter()
            .filter(|(kind, _)| prohibited.contains(kind))
            .collect();
        let mut result = CheckResult::new(if reportable.is_empty() {
            Validity::Valid
        } else {
            Validity::Invalid
        });
        result = result.with("consistency-model", Value::keyword(self.model.name()));
        if reportable.is_empty() {
            return result;
        }
        let (not, also_not) = models::boundary(&found);
        let summary = format!(
            "{} under {}; the history is not {}",
            reportable
                .iter()
                .map(|(k, v)| format!("{k} ({})", v.len()))
                .collect::<Vec<_>>()
                .join(", "),
            self.model,
            not.join(" or ")
        );
        result
            .with("error", Value::Str(summary))
            .with(
                "anomaly-types",
                Value::Vec(reportable.keys().map(|k| Value::keyword(k)).collect()),
            )
            .with(
                "anomalies",
                Value::Map(
                    reportable
                        .into_iter()
                        .map(|(k, v)| (Value::keyword(k), Value::Vec(v)))
                        .collect(),
                ),
            )
            .with(
                "not",
                Value::Set(not.into_iter().map(Value::keyword).collect()),
            )
            .with(
                "also-not",
                Value::Set(also_not.into_iter().map(Value::keyword).collect()),
            )
    }
}
