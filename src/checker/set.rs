//! Jepsen's simple `set` checker: `:add` operations followed by a final `:read`. Every
//! acknowledged add must be in the last successful read (else it is `lost`), and the read
//! may hold only elements some add attempted (else they are `unexpected`). Elements of
//! indeterminate or failed adds found in the read are `recovered`.

use super::{CheckOptions, CheckResult, Checker, Validity};
use crate::history::{History, OpType, Pairing, Value};
use std::collections::BTreeSet;

/// Jepsen's `(checker/set)`.
#[derive(Clone, Debug, Default)]
pub struct SetChecker;

/// Jepsen's `set` checker.
pub fn set() -> SetChecker {
    SetChecker
}

impl Checker for SetChecker {
    /// It only scans ops: a history Jepsen's checker takes, this one takes too.
    fn pairing(&self) -> Pairing {
        Pairing::Loose
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let mut attempts = BTreeSet::new();
        let mut adds = BTreeSet::new();
        let mut final_read = None;
        for op in &history.ops {
            match (op.f.as_str(), op.kind) {
                ("add", OpType::Invoke) => {
                    attempts.insert(&op.value);
                }
                ("add", OpType::Ok) => {
                    adds.insert(&op.value);
                }
                ("read", OpType::Ok) => final_read = Some(op),
                _ => {}
            }
        }
        let Some(read) = final_read else {
            return CheckResult::new(Validity::Unknown)
                .with("error", Value::from("Set was never read"));
        };
        let final_read: BTreeSet<&Value> = match &read.value {
            Value::Nil => BTreeSet::new(),
            v => match v.as_slice() {
                Some(items) => items.iter().collect(),
                None => {
                    return CheckResult::new(Validity::Unknown).with(
                        "error",
                        Value::Str(format!(
                            "the final read (index {}) returned {}, not a collection",
                            read.index,
                            crate::printable::quote(&v.to_string())
                        )),
                    )
                }
            },
        };
        let ok: BTreeSet<&Value> = final_read.intersection(&attempts).copied().collect();
        let unexpected: BTreeSet<&Value> = final_read.difference(&attempts).copied().collect();
        let lost: BTreeSet<&Value> = adds.difference(&final_read).copied().collect();
        let recovered: BTreeSet<&Value> = ok.difference(&adds).copied().collect();
        let valid = if lost.is_empty() && unexpected.is_empty() {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        let count = |s: &BTreeSet<&Value>| Value::Int(s.len() as i64);
        CheckResult::new(valid)
            .with("attempt-count", count(&attempts))
            .with("acknowledged-count", count(&adds))
            .with("ok-count", count(&ok))
            .with("lost-count", count(&lost))
            .with("recovered-count", count(&recovered))
            .with("unexpected-count", count(&unexpected))
            .with("ok", Value::Str(interval_set_str(&ok)))
            .with("lost", Value::Str(interval_set_str(&lost)))
            .with("unexpected", Value::Str(interval_set_str(&unexpected)))
            .with("recovered", Value::Str(interval_set_str(&recovered)))
    }
}

/// Jepsen's `integer-interval-set-str`: a sorted set with runs of consecutive integers
/// collapsed, e.g. `#{1..3 5 7..8}`. Non-integers are written as themselves (Jepsen would
/// throw on them).
pub fn interval_set_str(set: &BTreeSet<&Value>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(i64, i64)> = None;
    let close = |run: (i64, i64), parts: &mut Vec<String>| {
        parts.push(if run.0 == run.1 {
            run.0.to_string()
        } else {
            format!("{}..{}", run.0, run.1)
        })
    };
    for v in set {
        match (v.as_int(), run) {
            (Some(i), Some((start, end))) if end.checked_add(1) == Some(i) => {
                run = Some((start, i))
            }
            (Some(i), _) => {
                if let Some(r) = run.take() {
                    close(r, &mut parts);
                }
                run = Some((i, i));
            }
            (None, _) => {
                if let Some(r) = run.take() {
                    close(r, &mut parts);
                }
                parts.push(v.to_string());
            }
        }
    }
    if let Some(r) = run {
        close(r, &mut parts);
    }
    format!("#{{{}}}", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history_str;

    fn check(text: &str) -> CheckResult {
        set().check(
            &read_history_str("t", text).unwrap(),
            &CheckOptions::default(),
        )
    }

    fn int(r: &CheckResult, key: &str) -> i64 {
        r.get(key).and_then(Value::as_int).unwrap()
    }

    #[test]
    fn all_acknowledged_adds_read_is_valid() {
        let r = check(
            "{:type :invoke, :process 0, :f :add, :value 1}
             {:type :ok, :process 0, :f :add, :value 1}
             {:type :invoke, :process 0, :f :add, :value 2}
             {:type :info, :process 0, :f :add, :value 2}
             {:type :invoke, :process 1, :f :add, :value 3}
             {:type :fail, :process 1, :f :add, :value 3}
             {:type :invoke, :process 1, :f :read, :value nil}
             {:type :ok, :process 1, :f :read, :value [1 2]}",
        );
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(int(&r, "attempt-count"), 3);
        assert_eq!(int(&r, "acknowledged-count"), 1);
        assert_eq!(int(&r, "ok-count"), 2);
        assert_eq!(r.get("recovered"), Some(&Value::from("#{2}")));
        assert_eq!(r.get("ok"), Some(&Value::from("#{1..2}")));
        assert_eq!(r.get("lost"), Some(&Value::from("#{}")));
    }

    #[test]
    fn a_missing_acknowledged_add_is_lost_and_a_stranger_unexpected() {
        let r = check(
            "{:type :invoke, :process 0, :f :add, :value 1}
             {:type :ok, :process 0, :f :add, :value 1}
             {:type :invoke, :process 0, :f :add, :value 2}
             {:type :ok, :process 0, :f :add, :value 2}
             {:type :invoke, :process 1, :f :read, :value nil}
             {:type :ok, :process 1, :f :read, :value [1 2]}
             {:type :invoke, :process 1, :f :read, :value nil}
             {:type :ok, :process 1, :f :read, :value [2 9]}",
        );
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.get("lost"), Some(&Value::from("#{1}")));
        assert_eq!(r.get("unexpected"), Some(&Value::from("#{9}")));
        assert_eq!(int(&r, "lost-count"), 1);
        assert_eq!(int(&r, "unexpected-count"), 1);
    }

    #[test]
    fn never_read_is_unknown() {
        let r = check(
            "{:type :invoke, :process 0, :f :add, :value 1}
             {:type :ok, :process 0, :f :add, :value 1}
             {:type :invoke, :process 1, :f :read, :value nil}
             {:type :fail, :process 1, :f :read, :value nil}",
        );
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(r.get("error"), Some(&Value::from("Set was never read")));
    }

    #[test]
    fn intervals_collapse_runs() {
        let vals: Vec<Value> = [7, 1, 2, 3, 5, 8].iter().map(|&i| Value::Int(i)).collect();
        let set: BTreeSet<&Value> = vals.iter().collect();
        assert_eq!(interval_set_str(&set), "#{1..3 5 7..8}");
        let k = [Value::keyword("a")];
        assert_eq!(interval_set_str(&k.iter().collect()), "#{:a}");
    }
}
