//! Checkers by name, as the command line and stored test options name them.
//!
//! `check` and `analyze` build their checker from a [`CheckerChoice`]; a stored run records
//! the same choice in its `test.json`, so `analyze` re-checks it with exactly the checkers
//! it ran with.

use super::linearizable::{KeySplit, Linearizable};
use super::{compose, CheckOptions, CheckResult, Checker, Validity};
use crate::history::{History, Op, Pairing, Value};
use crate::model::{model_names, ModelKind};
use std::ops::Range;

/// Every checker name the registry knows.
pub const CHECKER_NAMES: &[&str] = &[
    "linearizable",
    "set-full",
    "set",
    "counter",
    "stats",
    "unhandled-exceptions",
    "heal",
    "list-append",
];

/// Which checkers to run, as given on the command line or stored with a test.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckerChoice {
    /// Checker names; a model adds `linearizable` when it is not among them.
    pub checkers: Vec<String>,
    /// The model for `linearizable`.
    pub model: Option<String>,
    /// The model's initial state (nil when absent), e.g. `{:x 0 :y 0}` for multi-register.
    pub initial: Option<Value>,
    /// How `linearizable` splits the history into independent keys: `auto`, `none`,
    /// `key` (the op's `:key`) or `independent` (Jepsen's `[k v]` tuples).
    pub key_split: Option<String>,
    /// set-full's `linearizable?` option: stale reads are invalid.
    pub linearizable_reads: bool,
    /// list-append's consistency model (Elle's name); `None`: strict-serializable.
    pub consistency_model: Option<String>,
    /// Several workloads in one history: each part's checkers judge only the ops of its
    /// client threads (and the nemesis's); the checkers above judge the whole history.
    pub parts: Vec<CheckerPart>,
}

/// The checkers of one workload of several in a history.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckerPart {
    /// The workload's name; its result is kept under it.
    pub name: String,
    /// Its client threads; a process runs on thread `process mod concurrency`.
    pub threads: Range<usize>,
    pub concurrency: usize,
    pub choice: CheckerChoice,
}

/// Judges the ops of one part's threads (and every non-client op) with its checker.
struct PartChecker {
    threads: Range<usize>,
    concurrency: usize,
    checker: Box<dyn Checker>,
}

impl Checker for PartChecker {
    fn check(&self, history: &History, opts: &CheckOptions) -> CheckResult {
        let mine = |op: &Op| match op.process.clone().client() {
            Some(p) => self
                .threads
                .contains(&(p as usize % self.concurrency.max(1))),
            None => true,
        };
        let ops: Vec<Op> = history.ops.iter().filter(|op| mine(op)).cloned().collect();
        match History::paired(ops, self.checker.pairing()) {
            Ok(part) => self.checker.check(&part, opts),
            Err(e) => CheckResult::new(Validity::Unknown).with(
                "error",
                Value::Str(format!("the part's history: {}", e.message)),
            ),
        }
    }

    fn pairing(&self) -> Pairing {
        self.checker.pairing()
    }
}

/// Builds the composed checker, or a one-line error naming the bad input and the fix.
pub fn build(choice: &CheckerChoice) -> Result<Box<dyn Checker>, String> {
    let mut names = choice.checkers.clone();
    if names.is_empty() && choice.model.is_none() && choice.parts.is_empty() {
        return Err(format!(
            "no checker given: pass --model M (for linearizable) or --checker C, with C one of {}",
            CHECKER_NAMES.join(", ")
        ));
    }
    // A model always means the linearizable checker, whatever else runs beside it.
    if choice.model.is_some() && !names.iter().any(|n| n == "linearizable") {
        names.insert(0, "linearizable".to_string());
    }
    if choice.model.is_none() && (choice.initial.is_some() || choice.key_split.is_some()) {
        return Err(
            "--initial and --key-split are options of the linearizable checker: pass --model M too"
                .to_string(),
        );
    }
    let mut checkers: Vec<(String, Box<dyn Checker>)> = Vec::new();
    for name in names {
        let checker = build_one(&name, choice)?;
        checkers.push((name, checker));
    }
    for part in &choice.parts {
        let checker = build(&part.choice).map_err(|e| format!("{}: {e}", part.name))?;
        checkers.push((
            part.name.clone(),
            Box::new(PartChecker {
                threads: part.threads.clone(),
                concurrency: part.concurrency,
                checker,
            }),
        ));
    }
    Ok(Box::new(compose(checkers)))
}

fn build_one(name: &str, choice: &CheckerChoice) -> Result<Box<dyn Checker>, String> {
    use super::{counter, heal, set, set_full, stats, unhandled_exceptions};
    Ok(match name {
        "linearizable" => Box::new(linearizable(choice)?),
        "set-full" => Box::new(set_full::set_full(choice.linearizable_reads)),
        "set" => Box::new(set::set()),
        "counter" => Box::new(counter::counter()),
        "stats" => Box::new(stats::stats()),
        "unhandled-exceptions" => Box::new(unhandled_exceptions::unhandled_exceptions()),
        "heal" => Box::new(heal::heal()),
        "list-append" => Box::new(super::elle::ListAppend::new(
            match &choice.consistency_model {
                None => super::elle::ConsistencyModel::StrictSerializable,
                Some(m) => m.parse().map_err(|e| format!("--consistency-model: {e}"))?,
            },
        )),
        _ => {
            return Err(format!(
                "unknown checker {name:?}: use one of {}",
                CHECKER_NAMES.join(", ")
            ))
        }
    })
}

fn linearizable(choice: &CheckerChoice) -> Result<Linearizable, String> {
    let Some(model) = &choice.model else {
        return Err(format!(
            "the linearizable checker needs a model: pass --model M, with M one of {}",
            model_names().join(", ")
        ));
    };
    let model: ModelKind = model.parse().map_err(|e: String| format!("--model: {e}"))?;
    let mut checker = Linearizable::new(model);
    if let Some(initial) = &choice.initial {
        checker = checker.with_initial(initial.clone());
    }
    if let Some(split) = &choice.key_split {
        let split: KeySplit = split
            .parse()
            .map_err(|e: String| format!("--key-split: {e}"))?;
        checker = checker.with_key_split(split);
    }
    Ok(checker)
}

impl CheckerChoice {
    /// The fields a stored test map (`test.json`) records for this choice.
    pub fn to_fields(&self) -> Vec<(Value, Value)> {
        let name = |s: &Option<String>| s.clone().map(Value::Str).unwrap_or(Value::Nil);
        let mut fields = vec![
            (
                Value::keyword("checkers"),
                Value::Vec(
                    self.checkers
                        .iter()
                        .map(|c| Value::Str(c.clone()))
                        .collect(),
                ),
            ),
            (Value::keyword("model"), name(&self.model)),
            (
                Value::keyword("initial"),
                self.initial.clone().unwrap_or(Value::Nil),
            ),
            (Value::keyword("key-split"), name(&self.key_split)),
            (
                Value::keyword("linearizable-reads"),
                Value::Bool(self.linearizable_reads),
            ),
            (
                Value::keyword("consistency-model"),
                name(&self.consistency_model),
            ),
        ];
        if !self.parts.is_empty() {
            let parts = self.parts.iter().map(|p| {
                let mut fields = vec![
                    (Value::keyword("name"), Value::Str(p.name.clone())),
                    (
                        Value::keyword("threads"),
                        Value::Vec(vec![
                            Value::Int(p.threads.start as i64),
                            Value::Int(p.threads.end as i64),
                        ]),
                    ),
                    (
                        Value::keyword("concurrency"),
                        Value::Int(p.concurrency as i64),
                    ),
                ];
                fields.extend(p.choice.to_fields());
                Value::Map(fields)
            });
            fields.push((Value::keyword("parts"), Value::Vec(parts.collect())));
        }
        fields
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
        let name = |k: &str| test.get(k).and_then(|m| m.as_name()).map(str::to_string);
        Ok(CheckerChoice {
            checkers,
            model: name("model"),
            initial: test.get("initial").filter(|v| !v.is_nil()).cloned(),
            key_split: name("key-split"),
            linearizable_reads: matches!(test.get("linearizable-reads"), Some(Value::Bool(true))),
            consistency_model: name("consistency-model"),
            parts: match test.get("parts") {
                None | Some(Value::Nil) => Vec::new(),
                Some(parts) => parts
                    .as_slice()
                    .ok_or("test.json: `parts` must be a list")?
                    .iter()
                    .map(CheckerPart::from_value)
                    .collect::<Result<_, _>>()?,
            },
        })
    }
}

impl CheckerPart {
    fn from_value(v: &Value) -> Result<CheckerPart, String> {
        let bad = || {
            "test.json: each of `parts` needs a name, threads [from to] and concurrency".to_string()
        };
        let name = v.get("name").and_then(Value::as_name).ok_or_else(bad)?;
        let threads = match v.get("threads").and_then(Value::as_slice) {
            Some([Value::Int(a), Value::Int(b)]) if 0 <= *a && a <= b => *a as usize..*b as usize,
            _ => return Err(bad()),
        };
        let concurrency = match v.get("concurrency") {
            Some(Value::Int(c)) if *c > 0 => *c as usize,
            _ => return Err(bad()),
        };
        Ok(CheckerPart {
            name: name.to_string(),
            threads,
            concurrency,
            choice: CheckerChoice::from_test(v)?,
        })
    }
}
