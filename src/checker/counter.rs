//! Jepsen's `counter` checker: a counter starts at 0 and grows by `:add` deltas
//! (non-negative); each `:read` must lie between the sum of the adds acknowledged before
//! it was invoked (lower bound) and the sum of the adds that may have happened by the time
//! it completed (upper bound: every add invoked so far that did not fail).

use super::{CheckOptions, CheckResult, Checker, Validity};
use crate::history::{History, OpType, Process, Value};
use crate::printable::quote;
use std::collections::HashMap;

/// Jepsen's `(checker/counter)`.
#[derive(Clone, Debug, Default)]
pub struct Counter;

/// Jepsen's `counter` checker.
pub fn counter() -> Counter {
    Counter
}

impl Checker for Counter {
    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        match bounds(history) {
            Ok(reads) => {
                let errors: Vec<&[i64; 3]> = reads
                    .iter()
                    .filter(|[lower, value, upper]| !(lower <= value && value <= upper))
                    .collect();
                let triple = |r: &[i64; 3]| Value::Vec(r.iter().map(|&x| Value::Int(x)).collect());
                let valid = if errors.is_empty() {
                    Validity::Valid
                } else {
                    Validity::Invalid
                };
                CheckResult::new(valid)
                    .with("reads", Value::Vec(reads.iter().map(triple).collect()))
                    .with(
                        "errors",
                        Value::Vec(errors.into_iter().map(triple).collect()),
                    )
            }
            Err(message) => CheckResult::new(Validity::Unknown).with("error", Value::Str(message)),
        }
    }
}

/// Every `:ok` read as `[lower value upper]`, in completion order.
fn bounds(history: &History) -> Result<Vec<[i64; 3]>, String> {
    let mut lower = 0i64;
    let mut upper = 0i64;
    let mut pending: HashMap<&Process, (i64, i64)> = HashMap::new();
    let mut reads = Vec::new();
    let int = |p: usize| -> Result<i64, String> {
        let op = &history.ops[p];
        op.value.as_int().ok_or_else(|| {
            format!(
                "op {} (:{} :{}) has value {}, not an integer",
                op.index,
                op.kind.name(),
                quote(&op.f),
                quote(&op.value.to_string())
            )
        })
    };
    for (p, op) in history.ops.iter().enumerate() {
        match (op.kind, op.f.as_str()) {
            (OpType::Invoke, "read") => {
                if let Some(done) = history.completion(p).filter(|c| c.is_ok()) {
                    let value = history
                        .partner(p)
                        .map(int)
                        .unwrap_or_else(|| Err(format!("read {} has no value", done.index)))?;
                    pending.insert(&op.process, (lower, value));
                }
            }
            (OpType::Ok, "read") => {
                if let Some((low, value)) = pending.remove(&op.process) {
                    reads.push([low, value, upper]);
                }
            }
            (OpType::Invoke, "add") => {
                let delta = int(p)?;
                if delta < 0 {
                    return Err(format!(
                        "op {} adds {delta}: the counter checker allows no decrements",
                        op.index
                    ));
                }
                let failed = history.completion(p).is_some_and(|c| c.is_fail());
                if !failed {
                    upper += delta;
                }
            }
            (OpType::Ok, "add") => lower += int(p)?,
            _ => {}
        }
    }
    Ok(reads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history_str;

    fn check(text: &str) -> CheckResult {
        counter().check(
            &read_history_str("t", text).unwrap(),
            &CheckOptions::default(),
        )
    }

    fn triples(v: &[[i64; 3]]) -> Value {
        Value::Vec(
            v.iter()
                .map(|r| Value::Vec(r.iter().map(|&x| Value::Int(x)).collect()))
                .collect(),
        )
    }

    #[test]
    fn reads_within_bounds_are_valid() {
        let r = check(
            "{:type :invoke, :process 0, :f :add, :value 1}
             {:type :ok, :process 0, :f :add, :value 1}
             {:type :invoke, :process 0, :f :add, :value 2}
             {:type :invoke, :process 1, :f :read, :value nil}
             {:type :ok, :process 1, :f :read, :value 3}
             {:type :info, :process 0, :f :add, :value 2}
             {:type :invoke, :process 2, :f :add, :value 10}
             {:type :fail, :process 2, :f :add, :value 10}
             {:type :invoke, :process 1, :f :read, :value nil}
             {:type :ok, :process 1, :f :read, :value 1}",
        );
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        // The failed add of 10 never raises the upper bound.
        assert_eq!(r.get("reads"), Some(&triples(&[[1, 3, 3], [1, 1, 3]])));
        assert_eq!(r.get("errors"), Some(&triples(&[])));
    }

    #[test]
    fn a_read_outside_the_bounds_is_an_error() {
        let r = check(
            "{:type :invoke, :process 0, :f :add, :value 5}
             {:type :ok, :process 0, :f :add, :value 5}
             {:type :invoke, :process 1, :f :read, :value nil}
             {:type :ok, :process 1, :f :read, :value 4}
             {:type :invoke, :process 1, :f :read, :value nil}
             {:type :ok, :process 1, :f :read, :value 6}",
        );
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.get("errors"), Some(&triples(&[[5, 4, 5], [5, 6, 5]])));
    }

    #[test]
    fn the_lower_bound_is_taken_when_the_read_is_invoked() {
        // The add completes while the read is running: the read may still see 0.
        let r = check(
            "{:type :invoke, :process 0, :f :add, :value 1}
             {:type :invoke, :process 1, :f :read, :value nil}
             {:type :ok, :process 0, :f :add, :value 1}
             {:type :ok, :process 1, :f :read, :value 0}",
        );
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(r.get("reads"), Some(&triples(&[[0, 0, 1]])));
    }

    #[test]
    fn a_decrement_is_an_error() {
        let r = check(
            "{:type :invoke, :process 0, :f :add, :value -1}
             {:type :ok, :process 0, :f :add, :value -1}",
        );
        assert_eq!(r.valid, Validity::Unknown);
        assert!(r.get("error").is_some());
    }
}
