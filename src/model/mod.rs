//! Sequential models of the datatypes the linearizability checker knows: what state a
//! single-threaded object goes through, and which operations it accepts in each state.
//!
//! A model is chosen by name ([`ModelKind`]); the checker builds one [`Model`] instance per
//! key partition and first *encodes* every operation into the model's compact `Op` (values
//! interned to integers), so that the search's hot loop never looks at a [`Value`] tree.
//! Models may intern states too (`&mut self` in [`Model::step`]), which keeps states small,
//! cheap to clone and to hash.

mod kv;
mod multi_register;
mod mutex;
mod register;
mod set;

pub use kv::Kv;
pub use multi_register::MultiRegister;
pub use mutex::Mutex;
pub use register::{CasRegister, Register};
pub use set::SetModel;

use crate::history::Value;
use hashbrown::HashMap;
use std::fmt;
use std::hash::Hash;
use std::str::FromStr;

/// How an operation ended, as far as the model needs to know. `:fail` operations never
/// reach a model: they did not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `:ok`: it took effect; its value is the completion's (e.g. what a read saw).
    Ok,
    /// `:info` or never completed: it may have taken effect, or not; its value is the
    /// invocation's (a read's result is unknown).
    Info,
}

/// A sequential specification, one instance per partition of the history.
pub trait Model: Sized + Send {
    /// The state; small, cheap to clone, hash and compare (the search caches states).
    type State: Clone + Eq + Hash + Send;
    /// An operation encoded for [`Model::step`]; equal ops act alike in every state.
    type Op: Send + PartialEq;

    /// A fresh model; `initial` overrides the initial state (e.g. `0` for a register),
    /// `None` means the model's default.
    fn new(initial: Option<&Value>) -> Result<Self, String>;

    /// The initial state; called after every operation of the partition is encoded.
    fn initial_state(&mut self) -> Self::State;

    /// Encodes an operation with function `f` and value `value` (the completion's value
    /// for `:ok`, the invocation's for `:info`). `Ok(None)` means the operation constrains
    /// nothing and can be left out (e.g. an `:info` read). An error names what is wrong.
    fn encode(
        &mut self,
        f: &str,
        value: &Value,
        outcome: Outcome,
    ) -> Result<Option<Self::Op>, String>;

    /// [`Model::encode`] for an op of a history that is not split per key, with the op's
    /// `:key` (if it has one): a model of several keys (kv) uses it, the others ignore it.
    fn encode_keyed(
        &mut self,
        key: Option<&Value>,
        f: &str,
        value: &Value,
        outcome: Outcome,
    ) -> Result<Option<Self::Op>, String> {
        let _ = key;
        self.encode(f, value, outcome)
    }

    /// Whether `op` is a blind write: the state after it does not depend on the state
    /// before (a register's write). The search uses it to skip one crashed op right after
    /// another when the second would overwrite the first. `false` is always safe.
    fn is_blind(&self, op: &Self::Op) -> bool {
        let _ = op;
        false
    }

    /// The state after `op`, or `None` if `op` cannot happen in `state`.
    fn step(&mut self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// The state as a Jepsen value, for reports.
    fn render_state(&self, state: &Self::State) -> Value;
}

/// The models, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Register,
    CasRegister,
    Kv,
    Set,
    Mutex,
    MultiRegister,
}

impl ModelKind {
    pub const ALL: [ModelKind; 6] = [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Kv,
        ModelKind::Set,
        ModelKind::Mutex,
        ModelKind::MultiRegister,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::Kv => "kv",
            ModelKind::Set => "set",
            ModelKind::Mutex => "mutex",
            ModelKind::MultiRegister => "multi-register",
        }
    }
}

/// The valid model names, in a stable order.
pub fn model_names() -> Vec<&'static str> {
    ModelKind::ALL.iter().map(|m| m.name()).collect()
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(name: &str) -> Result<ModelKind, String> {
        ModelKind::ALL
            .iter()
            .copied()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                format!(
                    "unknown model {name:?}; valid models: {}",
                    model_names().join(", ")
                )
            })
    }
}

/// Gives each distinct item a small integer id, and back.
#[derive(Clone, Debug)]
pub struct Interner<T> {
    ids: HashMap<T, u32>,
    items: Vec<T>,
}

impl<T: Hash + Eq + Clone> Interner<T> {
    pub fn new() -> Interner<T> {
        Interner {
            ids: HashMap::new(),
            items: Vec::new(),
        }
    }

    pub fn intern(&mut self, item: T) -> u32 {
        if let Some(&id) = self.ids.get(&item) {
            return id;
        }
        let id = self.items.len() as u32;
        self.items.push(item.clone());
        self.ids.insert(item, id);
        id
    }

    pub fn get(&self, id: u32) -> &T {
        &self.items[id as usize]
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<T: Hash + Eq + Clone> Default for Interner<T> {
    fn default() -> Self {
        Interner::new()
    }
}

/// Values interned with nil as id 0, as the register models use them.
pub(crate) fn value_interner() -> Interner<Value> {
    let mut values = Interner::new();
    values.intern(Value::Nil);
    values
}

pub(crate) const NIL: u32 = 0;

pub(crate) fn unknown_f(model: &str, f: &str, expected: &str) -> String {
    format!("the {model} model has no operation :{f} (expected {expected})")
}

/// The two elements of a `[a b]` pair, e.g. a cas value `[old new]`.
pub(crate) fn pair(value: &Value) -> Option<(&Value, &Value)> {
    match value.as_slice() {
        Some([a, b]) => Some((a, b)),
        _ => None,
    }
}
