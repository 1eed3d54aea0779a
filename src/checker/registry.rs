//! Checkers by name, as the command line and stored test options name them.
//!
//! `check` and `analyze` build their checker from a [`CheckerChoice`]; a stored run records
//! the same choice in its `test.json`, so `analyze` re-checks it with exactly the checkers
//! it ran with.

use super::{compose, Checker};
use crate::history::Value;

/// Every checker name the registry knows.
pub const CHECKER_NAMES: &[&str] = &[
    "linearizable",
    "set-full",
    "set",
    "counter",
    "stats",
    "unhandled-exceptions",
    "heal",
];

/// Which checkers to run, as given on the command line or stored with a test.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckerChoice {
    /// Checker names; empty with a model means `linearizable`.
    pub checkers: Vec<String>,
    /// The model for `linearizable`.
    pub model: Option<String>,
    /// set-full's `linearizable?` option: stale reads are invalid.
    #[serde(default)]
    pub linearizable_reads: bool,
}

/// Builds the composed checker, or a one-line error naming the bad input and the fix.
pub fn build(choice: &CheckerChoice) -> Result<Box<dyn Checker>, String> {
    let mut names = choice.checkers.clone();
    if names.is_empty() {
        if choice.model.is_none() {
            return Err(format!(
                "no checker given: pass --model M (for linearizable) or --checker C, with C one of {}",
                CHECKER_NAMES.join(", ")
            ));
        }
        names.push("linearizable".to_string());
    }
    let mut checkers: Vec<(String, Box<dyn Checker>)> = Vec::new();
    for name in names {
        let checker = build_one(&name, choice)?;
        checkers.push((name, checker));
    }
    Ok(Box::new(compose(checkers)))
}

fn build_one(name: &str, choice: &CheckerChoice) -> Result<Box<dyn Checker>, String> {
    use super::{counter, heal, set, set_full, stats, unhandled_exceptions};
    Ok(match name {
        "set-full" => Box::new(set_full::set_full(choice.linearizable_reads)),
        "set" => Box::new(set::set()),
        "counter" => Box::new(counter::counter()),
        "stats" => Box::new(stats::stats()),
        "unhandled-exceptions" => Box::new(unhandled_exceptions::unhandled_exceptions()),
        "heal" => Box::new(heal::heal()),
        _ => {
            return Err(format!(
                "unknown checker {name:?}: use one of {}",
                CHECKER_NAMES.join(", ")
            ))
        }
    })
}

impl CheckerChoice {
    /// The fields a stored test map (`test.json`) records for this choice.
    pub fn to_fields(&self) -> Vec<(Value, Value)> {
        vec![
            (
                Value::keyword("checkers"),
                Value::Vec(
                    self.checkers
                        .iter()
                        .map(|c| Value::Str(c.clone()))
                        .collect(),
                ),
            ),
            (
                Value::keyword("model"),
                self.model.clone().map(Value::Str).unwrap_or(Value::Nil),
            ),
            (
                Value::keyword("linearizable-reads"),
                Value::Bool(self.linearizable_reads),
            ),
        ]
    }

    /// Reads the choice back from a stored test map.
    pub fn from_test(test: &Value) -> Result<CheckerChoice, String> {
        let checkers = match test.get("checkers") {
            Some(v) => v
                .as_slice()
                .ok_or("test.json: `checkers` must be a list of checker names")?
                .iter()
                .map(|c| {
                    c.as_name()
                        .map(str::to_string)
                        .ok_or("test.json: `checkers` holds a non-name")
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let model = test
            .get("model")
            .and_then(|m| m.as_name())
            .map(str::to_string);
        let linearizable_reads = matches!(test.get("linearizable-reads"), Some(Value::Bool(true)));
        Ok(CheckerChoice {
            checkers,
            model,
            linearizable_reads,
        })
    }
}
