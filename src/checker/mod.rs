//! Checkers judge a history. Each returns a validity (true, false or unknown) and details;
//! [`compose`] runs several and combines them as Jepsen does: false beats unknown beats
//! true, and a checker that panics yields unknown rather than a crash.

pub mod counter;
pub mod elle;
pub mod heal;
pub mod linearizable;
pub mod registry;
pub mod set;
pub mod set_full;
pub mod stats;
pub mod unhandled_exceptions;

use crate::history::{History, Pairing, Value};
use std::time::Duration;

/// Jepsen's `:valid?`: `true`, `false` or `:unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Validity {
    Valid,
    Invalid,
    Unknown,
}

impl Validity {
    /// Combines two verdicts: false beats unknown beats true.
    pub fn and(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    /// Jepsen's exit code for this verdict: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }

    /// As Jepsen writes it: `true`, `false`, `:unknown`.
    pub fn to_value(self) -> Value {
        match self {
            Validity::Valid => Value::Bool(true),
            Validity::Invalid => Value::Bool(false),
            Validity::Unknown => Value::keyword("unknown"),
        }
    }

    pub fn from_value(v: &Value) -> Option<Validity> {
        match v {
            Value::Bool(true) => Some(Validity::Valid),
            Value::Bool(false) => Some(Validity::Invalid),
            Value::Keyword(k) | Value::Str(k) if k == "unknown" => Some(Validity::Unknown),
            _ => None,
        }
    }

    /// The top-level verdict of a results map (a stored `results.json` or `results.edn`):
    /// its `valid?` (or `valid`) entry, `true`, `false` or `unknown` (also as the string
    /// `":unknown"`). `None` when there is none, e.g. a run that was never checked.
    pub fn of_results(results: &Value) -> Option<Validity> {
        match results.get("valid?").or_else(|| results.get("valid"))? {
            Value::Keyword(k) | Value::Str(k) if k.trim_start_matches(':') == "unknown" => {
                Some(Validity::Unknown)
            }
            v => Validity::from_value(v),
        }
    }

    /// The verdict as a word: `valid`, `invalid` or `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        }
    }
}

/// What a checker found: its verdict and a map of details (`:valid?` included when
/// rendered with [`CheckResult::to_value`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CheckResult {
    pub valid: Validity,
    /// Further fields, in order, e.g. `lost`, `stale`, `op`, `final-paths`.
    pub details: Vec<(String, Value)>,
}

impl CheckResult {
    pub fn new(valid: Validity) -> CheckResult {
        CheckResult {
            valid,
            details: Vec::new(),
        }
    }

    pub fn with(mut self, key: &str, value: Value) -> CheckResult {
        self.details.push((key.to_string(), value));
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.details.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The result as a Jepsen results map: `{:valid? …, …details}`.
    pub fn to_value(&self) -> Value {
        let mut entries = vec![(Value::keyword("valid?"), self.valid.to_value())];
        entries.extend(
            self.details
                .iter()
                .map(|(k, v)| (Value::keyword(k), v.clone())),
        );
        Value::Map(entries)
    }

    /// Why the result is not valid, in a few words, after a tab: each failing checker's
    /// `error`, or its verdict. Empty when every checker is valid.
    pub fn reason(&self) -> String {
        let mut parts = Vec::new();
        for (name, value) in &self.details {
            let valid = value.get("valid?").and_then(Validity::from_value);
            if valid == Some(Validity::Valid) {
                continue;
            }
            match value.get("error").and_then(|e| e.as_name()) {
                Some(error) => parts.push(format!("{name}: {error}")),
                None => {
                    // A workload of several: its own checkers' results, one level down.
                    let inner: Vec<String> = match value {
                        Value::Map(entries) => entries
                            .iter()
                            .filter_map(|(k, v)| {
                                let v_valid = v.get("valid?").and_then(Validity::from_value)?;
                                (v_valid != Validity::Valid).then(|| {
                                    let why = v
                                        .get("error")
                                        .and_then(|e| e.as_name())
                                        .unwrap_or(v_valid.name());
                                    format!("{name}/{}: {why}", k.as_name().unwrap_or("?"))
                                })
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    if inner.is_empty() {
                        parts.push(format!(
                            "{name}: {}",
                            valid.map_or("unknown", Validity::name)
                        ));
                    } else {
                        parts.extend(inner);
                    }
                }
            }
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("\t{}", parts.join("; "))
        }
    }
}

/// What a checker may need besides the history.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Give up (verdict unknown) after this long; `None` = no limit.
    pub time_limit: Option<Duration>,
    /// The test's nodes, for checkers that look per node.
    pub nodes: Vec<String>,
}

/// A checker: judges a history.
pub trait Checker: Send + Sync {
    fn check(&self, history: &History, opts: &CheckOptions) -> CheckResult;

    /// How the history must pair invocations with completions for this checker: strict
    /// unless the checker only counts or scans ops (see [`Pairing`]).
    fn pairing(&self) -> Pairing {
        Pairing::Strict
    }
}

/// Runs every named checker (catching panics: a checker that throws gives unknown) and
/// combines their verdicts; the details hold each checker's result under its name.
pub struct Compose {
    pub checkers: Vec<(String, Box<dyn Checker>)>,
}

pub fn compose(checkers: Vec<(String, Box<dyn Checker>)>) -> Compose {
    Compose { checkers }
}

impl Checker for Compose {
    fn check(&self, history: &History, opts: &CheckOptions) -> CheckResult {
        let mut result = CheckResult::new(Validity::Valid);
        for (name, checker) in &self.checkers {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                checker.check(history, opts)
            }))
            .unwrap_or_else(|panic| {
                let message = crate::panic::panic_message(panic.as_ref());
                CheckResult::new(Validity::Unknown).with("error", Value::Str(message))
            });
            result.valid = result.valid.and(r.valid);
            result.details.push((name.clone(), r.to_value()));
        }
        result
    }

    fn pairing(&self) -> Pairing {
        self.checkers
            .iter()
            .fold(Pairing::Loose, |p, (_, c)| p.and(c.pairing()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Validity);
    impl Checker for Fixed {
        fn check(&self, _: &History, _: &CheckOptions) -> CheckResult {
            CheckResult::new(self.0)
        }
    }
    struct Panics;
    impl Checker for Panics {
        fn check(&self, _: &History, _: &CheckOptions) -> CheckResult {
            panic!("boom")
        }
    }

    fn run(checkers: Vec<Box<dyn Checker>>) -> CheckResult {
        let named = checkers
            .into_iter()
            .enumerate()
            .map(|(i, c)| (format!("c{i}"), c))
            .collect();
        compose(named).check(&History::default(), &CheckOptions::default())
    }

    #[test]
    fn false_beats_unknown_beats_true() {
        use Validity::*;
        assert_eq!(
            run(vec![Box::new(Fixed(Valid)), Box::new(Fixed(Valid))]).valid,
            Valid
        );
        assert_eq!(
            run(vec![Box::new(Fixed(Valid)), Box::new(Fixed(Unknown))]).valid,
            Unknown
        );
        assert_eq!(
            run(vec![Box::new(Fixed(Invalid)), Box::new(Fixed(Unknown))]).valid,
            Invalid
        );
    }

    #[test]
    fn verdict_of_a_results_map() {
        let results = |k: &str, v: Value| Value::Map(vec![(Value::from(k), v)]);
        use Validity::*;
        assert_eq!(
            Validity::of_results(&results("valid?", Value::Bool(true))),
            Some(Valid)
        );
        assert_eq!(
            Validity::of_results(&results("valid", Value::Bool(false))),
            Some(Invalid)
        );
        for unknown in [
            Value::keyword("unknown"),
            Value::from("unknown"),
            Value::from(":unknown"),
        ] {
            assert_eq!(
                Validity::of_results(&results("valid?", unknown)),
                Some(Unknown)
            );
        }
        assert_eq!(Validity::of_results(&results("valid?", Value::Nil)), None);
        assert_eq!(
            Validity::of_results(&results("other", Value::Bool(true))),
            None
        );
        assert_eq!(Validity::of_results(&Value::Vec(vec![])), None);
    }

    #[test]
    fn reason_names_each_checker_that_is_not_valid() {
        let r = run(vec![
            Box::new(Fixed(Validity::Valid)),
            Box::new(Panics),
            Box::new(Fixed(Validity::Invalid)),
        ]);
        assert_eq!(r.reason(), "\tc1: boom; c2: invalid");
        assert_eq!(run(vec![Box::new(Fixed(Validity::Valid))]).reason(), "");
    }

    #[test]
    fn a_panicking_checker_gives_unknown() {
        let r = run(vec![Box::new(Fixed(Validity::Valid)), Box::new(Panics)]);
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(
            r.get("c1").unwrap().get("error"),
            Some(&Value::from("boom"))
        );
    }
}
