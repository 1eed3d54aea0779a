//! Jepsen's `unhandled-exceptions` checker: groups the `:info` ops that ended in an error
//! the client did not handle, by class, most frequent first, each with a count and an
//! example op. Always valid: it informs, it does not judge.
//!
//! What counts as unhandled:
//! - Jepsen's own form: an `:exception` field (the datafied throwable); its class is
//!   `(-> exception :via first :type)`.
//! - Our interpreter's forms: a client that returned an error instead of a completion is
//!   recorded with `:error [:kind "message"]` (class = `kind`, e.g. `timeout`), and a
//!   client or nemesis that panicked with `:error "indeterminate: message"` (class
//!   `panic`).
//!
//! An `:error` that is a plain keyword or string (`:error :timeout`) is an error the client
//! caught and reported itself, as restatedev/jepsen's clients do; like Jepsen, it is not
//! listed.

use super::{CheckOptions, CheckResult, Checker, Validity};
use crate::history::{History, Op, Pairing, Value};
use std::collections::BTreeMap;

/// Jepsen's `(checker/unhandled-exceptions)`.
#[derive(Clone, Debug, Default)]
pub struct UnhandledExceptions;

/// Jepsen's `unhandled-exceptions` checker.
pub fn unhandled_exceptions() -> UnhandledExceptions {
    UnhandledExceptions
}

/// The class of the unhandled error an op ended in, if it ended in one.
pub fn exception_class(op: &Op) -> Option<String> {
    if !op.is_info() {
        return None;
    }
    if let Some(e) = op.extra.get("exception") {
        let class = e
            .get("via")
            .and_then(Value::as_slice)
            .and_then(|via| via.first())
            .and_then(|first| first.get("type"))
            .or_else(|| e.get("type"))
            .or_else(|| e.get("class"));
        return Some(match class {
            Some(c) => c.as_name().map_or_else(|| c.to_string(), str::to_string),
            None => "unknown".to_string(),
        });
    }
    match op.error.as_ref()? {
        Value::Vec(parts) => parts
            .first()
            .and_then(Value::as_name)
            .filter(|_| parts.len() == 2)
            .map(str::to_string),
        Value::Str(s) if s.starts_with("indeterminate: ") => Some("panic".to_string()),
        _ => None,
    }
}

impl Checker for UnhandledExceptions {
    /// It only scans ops: a history Jepsen's checker takes, this one takes too.
    fn pairing(&self) -> Pairing {
        Pairing::Loose
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let mut groups: BTreeMap<String, Vec<&Op>> = BTreeMap::new();
        for op in &history.ops {
            if let Some(class) = exception_class(op) {
                groups.entry(class).or_default().push(op);
            }
        }
        let mut groups: Vec<(String, Vec<&Op>)> = groups.into_iter().collect();
        // Most frequent first; ties by class name.
        groups.sort_by_key(|(_, ops)| std::cmp::Reverse(ops.len()));
        let result = CheckResult::new(Validity::Valid);
        if groups.is_empty() {
            return result;
        }
        let exceptions = groups
            .into_iter()
            .map(|(class, ops)| {
                Value::Map(vec![
                    (Value::keyword("count"), Value::Int(ops.len() as i64)),
                    (Value::keyword("class"), Value::Str(class)),
                    (Value::keyword("example"), ops[0].to_value()),
                ])
            })
            .collect();
        result.with("exceptions", Value::Vec(exceptions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history_str;

    #[test]
    fn groups_unhandled_errors_by_class_most_frequent_first() {
        let h = read_history_str(
            "t",
            r#"{:type :invoke, :process 0, :f :add, :value 1}
               {:type :info, :process 0, :f :add, :value 1, :error [:timeout "no completion within 5s"]}
               {:type :invoke, :process 1, :f :add, :value 2}
               {:type :info, :process 1, :f :add, :value 2, :error "indeterminate: boom"}
               {:type :invoke, :process 2, :f :add, :value 3}
               {:type :info, :process 2, :f :add, :value 3, :error [:timeout "again"]}
               {:type :invoke, :process 3, :f :read, :value nil}
               {:type :info, :process 3, :f :read, :value nil, :error "indeterminate: x", :exception {:via [{:type java.net.SocketException, :message "reset"}]}}
               {:type :invoke, :process 4, :f :add, :value 4}
               {:type :info, :process 4, :f :add, :value 4, :error :timeout}
               {:type :invoke, :process 5, :f :add, :value 5}
               {:type :fail, :process 5, :f :add, :value 5, :error [:no-client "refused"]}"#,
        )
        .unwrap();
        let r = unhandled_exceptions().check(&h, &CheckOptions::default());
        assert_eq!(r.valid, Validity::Valid);
        let Some(Value::Vec(ex)) = r.get("exceptions") else {
            panic!("{r:?}")
        };
        let summary: Vec<(String, i64)> = ex
            .iter()
            .map(|e| {
                (
                    e.get("class").unwrap().as_name().unwrap().to_string(),
                    e.get("count").unwrap().as_int().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("timeout".to_string(), 2),
                ("java.net.SocketException".to_string(), 1),
                ("panic".to_string(), 1),
            ]
        );
        assert_eq!(
            ex[0].get("example").and_then(|o| o.get("value")),
            Some(&Value::Int(1)),
            "the first op of the class"
        );
    }

    #[test]
    fn no_unhandled_errors_is_valid_without_details() {
        let h = read_history_str(
            "t",
            "{:type :invoke, :process 0, :f :add, :value 1}
             {:type :info, :process 0, :f :add, :value 1, :error :timeout}",
        )
        .unwrap();
        let r = unhandled_exceptions().check(&h, &CheckOptions::default());
        assert_eq!(r.valid, Validity::Valid);
        assert!(r.details.is_empty());
    }
}
