//! `kv`: one key of Porcupine's key-value store (the checker splits the history per
//! `:key`): `:get` returns the string, `:put` replaces it, `:append` concatenates; a key
//! never written reads as "". Strings, including every concatenation the search builds,
//! are interned, so a state is one integer.

use super::{unknown_f, Interner, Model, Outcome};
use crate::history::Value;
use hashbrown::HashMap;

pub struct Kv {
    strings: Interner<Box<str>>,
    appended: HashMap<(u32, u32), u32>,
    initial: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvOp {
    Get(u32),
    Put(u32),
    Append(u32),
}

impl Kv {
    fn string(&mut self, value: &Value) -> Result<u32, String> {
        let text = match value {
            Value::Nil => "",
            other => other
                .as_name()
                .ok_or_else(|| format!("a kv value must be a string, found {other}"))?,
        };
        Ok(self.strings.intern(text.into()))
    }
}

impl Model for Kv {
    type State = u32;
    type Op = KvOp;

    fn new(initial: Option<&Value>) -> Result<Kv, String> {
        let mut kv = Kv {
            strings: Interner::new(),
            appended: HashMap::new(),
            initial: 0,
        };
        kv.initial = kv.string(initial.unwrap_or(&Value::Nil))?;
        Ok(kv)
    }

    fn initial_state(&mut self) -> u32 {
        self.initial
    }

    fn encode(&mut self, f: &str, value: &Value, outcome: Outcome) -> Result<Option<KvOp>, String> {
        match f {
            "get" if outcome == Outcome::Info => Ok(None),
            "get" => Ok(Some(KvOp::Get(self.string(value)?))),
            "put" => Ok(Some(KvOp::Put(self.string(value)?))),
            "append" => Ok(Some(KvOp::Append(self.string(value)?))),
            _ => Err(unknown_f("kv", f, ":get, :put or :append")),
        }
    }

    fn step(&mut self, state: &u32, op: &KvOp) -> Option<u32> {
        match *op {
            KvOp::Get(v) => (v == *state).then_some(v),
            KvOp::Put(v) => Some(v),
            KvOp::Append(suffix) => {
                if let Some(&id) = self.appended.get(&(*state, suffix)) {
                    return Some(id);
                }
                let joined = format!("{}{}", self.strings.get(*state), self.strings.get(suffix));
                let id = self.strings.intern(joined.into());
                self.appended.insert((*state, suffix), id);
                Some(id)
            }
        }
    }

    fn render_state(&self, state: &u32) -> Value {
        Value::Str(self.strings.get(*state).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(m: &mut Kv, f: &str, v: &str) -> KvOp {
        m.encode(f, &Value::from(v), Outcome::Ok).unwrap().unwrap()
    }

    #[test]
    fn append_concatenates_and_missing_reads_empty() {
        let mut m = Kv::new(None).unwrap();
        let s0 = m.initial_state();
        let get_empty = op(&mut m, "get", "");
        assert_eq!(m.step(&s0, &get_empty), Some(s0));
        let put = op(&mut m, "put", "ab");
        let app = op(&mut m, "append", "c");
        let get_abc = op(&mut m, "get", "abc");
        let get_ab = op(&mut m, "get", "ab");
        let s1 = m.step(&s0, &put).unwrap();
        let s2 = m.step(&s1, &app).unwrap();
        assert_eq!(m.step(&s2, &get_abc), Some(s2));
        assert_eq!(m.step(&s2, &get_ab), None);
        assert_eq!(m.render_state(&s2), Value::from("abc"));
        // The same concatenation reached another way is the same state.
        let s3 = m.step(&s0, &app).unwrap();
        let put_ab = m.step(&s3, &put).unwrap();
        assert_eq!(m.step(&put_ab, &app), Some(s2));
    }

    #[test]
    fn info_gets_are_left_out() {
        let mut m = Kv::new(None).unwrap();
        assert_eq!(m.encode("get", &Value::Nil, Outcome::Info), Ok(None));
        assert!(m.encode("cas", &Value::Nil, Outcome::Ok).is_err());
    }
}
