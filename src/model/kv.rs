//! `kv`: Porcupine's key-value store: `:get` returns the string of the op's `:key`, `:put`
//! replaces it, `:append` concatenates; a key never written reads as "" (or the initial
//! value). The checker usually splits the history per `:key`, and then each partition is
//! one key; checked whole (`--key-split none`), the state holds every key's string, as
//! Porcupine's `kvNoPartitionModel`. A `:get` may return exactly the key's string.
//!
//! A state is an interned vector with one string per key (keys numbered as first seen).
//! A state is one integer: a node of a trie of the writes that built the string (a put
//! starts at the root, each append adds a child), so an append costs one table lookup
//! instead of building and hashing an ever longer string. A get compares its string with
//! the node's fragments, after a length check. (The same text built by different writes
//! is then two states: only the search's cache sees fewer hits.)

use super::{unknown_f, Interner, Model, Outcome};
use crate::history::Value;
use hashbrown::HashMap;

pub struct Kv {
    /// The keys (one, nil, when the history is split per key).
    keys: Interner<Value>,
    /// States: each key's string, by key number.
    states: Interner<Vec<u32>>,
    /// State, key, new string -> state.
    moves: HashMap<(u32, u32, u32), u32>,
    /// Fragments written and strings read.
    strings: Interner<Box<str>>,
    /// Trie nodes; node 0 is the empty string.
    nodes: Vec<Node>,
    children: HashMap<(u32, u32), u32>,
    initial: u32,
}

struct Node {
    parent: u32,
    fragment: u32,
    len: usize,
}

const EMPTY: u32 = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// Reads the string with this id from the key with this number.
    Get(u32, u32),
    /// Writes / appends the fragment with this id to the key with this number.
    Put(u32, u32),
    Append(u32, u32),
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

    /// The node for `node`'s string followed by fragment `fragment`.
    fn child(&mut self, node: u32, fragment: u32) -> u32 {
        let len = self.strings.get(fragment).len();
        if len == 0 {
            return node;
        }
        if let Some(&child) = self.children.get(&(node, fragment)) {
            return child;
        }
        let child = self.nodes.len() as u32;
        self.nodes.push(Node {
            parent: node,
            fragment,
            len: self.nodes[node as usize].len + len,
        });
        self.children.insert((node, fragment), child);
        child
    }

    /// Whether `node` spells `text`.
    fn spells(&self, mut node: u32, text: &str) -> bool {
        if self.nodes[node as usize].len != text.len() {
            return false;
        }
        let mut end = text.len();
        while node != EMPTY {
            let n = &self.nodes[node as usize];
            let fragment = self.strings.get(n.fragment);
            if !text[..end].ends_with(&**fragment) {
                return false;
            }
            end -= fragment.len();
            node = n.parent;
        }
        end == 0
    }

    /// `state` with key `key`'s string set to `node`.
    fn with(&mut self, state: u32, key: u32, node: u32) -> u32 {
        if let Some(&next) = self.moves.get(&(state, key, node)) {
            return next;
        }
        let mut strings = self.states.get(state).clone();
        strings[key as usize] = node;
        let next = self.states.intern(strings);
        self.moves.insert((state, key, node), next);
        next
    }

    fn text(&self, mut node: u32) -> String {
        let mut fragments = Vec::new();
        while node != EMPTY {
            let n = &self.nodes[node as usize];
            fragments.push(&**self.strings.get(n.fragment));
            node = n.parent;
        }
        fragments.reverse();
        fragments.concat()
    }
}

impl Model for Kv {
    type State = u32;
    type Op = KvOp;

    fn new(initial: Option<&Value>) -> Result<Kv, String> {
        let mut kv = Kv {
            keys: Interner::new(),
            states: Interner::new(),
            moves: HashMap::new(),
            strings: Interner::new(),
            nodes: vec![Node {
                parent: EMPTY,
                fragment: 0,
                len: 0,
            }],
            children: HashMap::new(),
            initial: EMPTY,
        };
        let initial = kv.string(initial.unwrap_or(&Value::Nil))?;
        kv.initial = kv.child(EMPTY, initial);
        Ok(kv)
    }

    fn initial_state(&mut self) -> u32 {
        let keys = self.keys.len().max(1);
        self.states.intern(vec![self.initial; keys])
    }

    fn encode(&mut self, f: &str, value: &Value, outcome: Outcome) -> Result<Option<KvOp>, String> {
        self.encode_keyed(None, f, value, outcome)
    }

    fn encode_keyed(
        &mut self,
        key: Option<&Value>,
        f: &str,
        value: &Value,
        outcome: Outcome,
    ) -> Result<Option<KvOp>, String> {
        let key = self.keys.intern(key.cloned().unwrap_or(Value::Nil));
        match f {
            "get" if outcome == Outcome::Info => Ok(None),
            "get" => Ok(Some(KvOp::Get(key, self.string(value)?))),
            "put" => Ok(Some(KvOp::Put(key, self.string(value)?))),
            "append" => Ok(Some(KvOp::Append(key, self.string(value)?))),
            _ => Err(unknown_f("kv", f, ":get, :put or :append")),
        }
    }

    /// A put is blind when the state is one key's string (the history split per key).
    fn is_blind(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Put(..)) && self.keys.len() <= 1
    }

    fn step(&mut self, state: &u32, op: &KvOp) -> Option<u32> {
        let node = |kv: &Kv, key: u32| kv.states.get(*state)[key as usize];
        match *op {
            KvOp::Get(key, text) => self
                .spells(node(self, key), self.strings.get(text))
                .then_some(*state),
            KvOp::Put(key, fragment) => {
                let written = self.child(EMPTY, fragment);
                Some(self.with(*state, key, written))
            }
            KvOp::Append(key, fragment) => {
                let appended = self.child(node(self, key), fragment);
                Some(self.with(*state, key, appended))
            }
        }
    }

    fn render_state(&self, state: &u32) -> Value {
        let strings = self.states.get(*state);
        // One unnamed key: the history was split per key, and the state is its string.
        if self.keys.len() <= 1 && (self.keys.is_empty() || *self.keys.get(0) == Value::Nil) {
            return Value::Str(self.text(strings[0]));
        }
        Value::Map(
            (0..self.keys.len())
                .map(|k| {
                    let key = self.keys.get(k as u32).clone();
                    (key, Value::Str(self.text(strings[k])))
                })
                .collect(),
        )
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
        // The same text reached another way reads the same.
        let put_a = op(&mut m, "put", "a");
        let app_bc = op(&mut m, "append", "bc");
        let s3 = m.step(&s0, &put_a).unwrap();
        let s4 = m.step(&s3, &app_bc).unwrap();
        assert_eq!(m.step(&s4, &get_abc), Some(s4));
        assert_eq!(m.render_state(&s4), Value::from("abc"));
        assert_eq!(m.step(&s3, &get_ab), None);
    }

    #[test]
    fn a_whole_history_keeps_its_keys_apart() {
        let mut m = Kv::new(None).unwrap();
        let (a, b) = (Value::from("a"), Value::from("b"));
        let put_a = m.encode_keyed(Some(&a), "put", &Value::from("1"), Outcome::Ok);
        let get_b = m.encode_keyed(Some(&b), "get", &Value::from(""), Outcome::Ok);
        let get_a = m.encode_keyed(Some(&a), "get", &Value::from("1"), Outcome::Ok);
        let (put_a, get_b, get_a) = (
            put_a.unwrap().unwrap(),
            get_b.unwrap().unwrap(),
            get_a.unwrap().unwrap(),
        );
        let s0 = m.initial_state();
        let s1 = m.step(&s0, &put_a).unwrap();
        assert_eq!(m.step(&s1, &get_b), Some(s1), "b was never written");
        assert_eq!(m.step(&s1, &get_a), Some(s1));
        assert_eq!(m.step(&s0, &get_a), None);
        assert_eq!(
            m.render_state(&s1),
            Value::Map(vec![(a, Value::from("1")), (b, Value::from(""))])
        );
    }

    #[test]
    fn info_gets_are_left_out() {
        let mut m = Kv::new(None).unwrap();
        assert_eq!(m.encode("get", &Value::Nil, Outcome::Info), Ok(None));
        assert!(m.encode("cas", &Value::Nil, Outcome::Ok).is_err());
    }
}
