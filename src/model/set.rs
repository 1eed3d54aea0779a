//! `set`: Knossos' linearizable set: `:add x` inserts x, `:read` returns the whole set (a
//! collection) and must equal it: every element once, in any order. A read that returns
//! an element twice (`[100 100 110]`) matches no state, as in Knossos and Porcupine.
//! Elements are interned to integers and whole sets to one integer each, so a state is
//! one integer.

use super::{unknown_f, Interner, Model, Outcome};
use crate::history::Value;
use hashbrown::HashMap;

pub struct SetModel {
    elements: Interner<Value>,
    /// Each set as its sorted element ids.
    sets: Interner<Vec<u32>>,
    added: HashMap<(u32, u32), u32>,
    initial: u32,
}

/// The set id of a read that no set can match (it named an element twice).
const NO_SET: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetOp {
    Add(u32),
    /// Reads the set with this id.
    Read(u32),
}

impl SetModel {
    /// The id of the set a read returned; [`NO_SET`] if it holds an element twice.
    fn read_id(&mut self, value: &Value) -> Result<u32, String> {
        let len = value.as_slice().map_or(0, |items| items.len());
        let id = self.set_id(value)?;
        Ok(if self.sets.get(id).len() < len {
            NO_SET
        } else {
            id
        })
    }

    /// The id of the set of `value`'s elements (duplicates count once).
    fn set_id(&mut self, value: &Value) -> Result<u32, String> {
        let items = value
            .as_slice()
            .ok_or_else(|| format!("a set read must be a collection, found {value}"))?;
        let mut ids: Vec<u32> = items
            .iter()
            .map(|v| self.elements.intern(v.clone()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        Ok(self.sets.intern(ids))
    }
}

impl Model for SetModel {
    type State = u32;
    type Op = SetOp;

    fn new(initial: Option<&Value>) -> Result<SetModel, String> {
        let mut m = SetModel {
            elements: Interner::new(),
            sets: Interner::new(),
            added: HashMap::new(),
            initial: 0,
        };
        m.initial = m.set_id(initial.unwrap_or(&Value::Set(Vec::new())))?;
        Ok(m)
    }

    fn initial_state(&mut self) -> u32 {
        self.initial
    }

    fn encode(
        &mut self,
        f: &str,
        value: &Value,
        outcome: Outcome,
    ) -> Result<Option<SetOp>, String> {
        match f {
            "add" => Ok(Some(SetOp::Add(self.elements.intern(value.clone())))),
            "read" if outcome == Outcome::Info => Ok(None),
            "read" => Ok(Some(SetOp::Read(self.read_id(value)?))),
            _ => Err(unknown_f("set", f, ":add or :read")),
        }
    }

    fn step(&mut self, state: &u32, op: &SetOp) -> Option<u32> {
        match *op {
            SetOp::Read(set) => (set == *state).then_some(set),
            SetOp::Add(element) => {
                if let Some(&id) = self.added.get(&(*state, element)) {
                    return Some(id);
                }
                let mut ids = self.sets.get(*state).clone();
                if let Err(at) = ids.binary_search(&element) {
                    ids.insert(at, element);
                }
                let id = self.sets.intern(ids);
                self.added.insert((*state, element), id);
                Some(id)
            }
        }
    }

    fn render_state(&self, state: &u32) -> Value {
        let mut items: Vec<Value> = self
            .sets
            .get(*state)
            .iter()
            .map(|&e| self.elements.get(e).clone())
            .collect();
        items.sort();
        Value::Set(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[i64]) -> Value {
        Value::Set(items.iter().map(|&i| Value::from(i)).collect())
    }

    #[test]
    fn reads_must_equal_the_added_elements() {
        let mut m = SetModel::new(None).unwrap();
        let s0 = m.initial_state();
        let add1 = m
            .encode("add", &Value::from(1), Outcome::Ok)
            .unwrap()
            .unwrap();
        let add2 = m
            .encode("add", &Value::from(2), Outcome::Ok)
            .unwrap()
            .unwrap();
        let read_empty = m.encode("read", &set(&[]), Outcome::Ok).unwrap().unwrap();
        let read12 = m
            .encode(
                "read",
                &Value::from(vec![Value::from(2), Value::from(1)]),
                Outcome::Ok,
            )
            .unwrap()
            .unwrap();
        assert_eq!(m.step(&s0, &read_empty), Some(s0));
        let s1 = m.step(&s0, &add1).unwrap();
        assert_eq!(m.step(&s1, &read12), None);
        let s12 = m.step(&s1, &add2).unwrap();
        assert_eq!(m.step(&s12, &read12), Some(s12));
        // Adding in the other order, or twice, reaches the same state.
        let s2 = m.step(&s0, &add2).unwrap();
        let s21 = m.step(&s2, &add1).unwrap();
        assert_eq!(s21, s12);
        assert_eq!(m.step(&s21, &add1), Some(s12));
        assert_eq!(m.render_state(&s12), set(&[1, 2]));
    }
}
