//! `kv`: one key of Porcupine's key-value store (the checker splits the history per
//! `:key`): `:get` returns the string, `:put` replaces it, `:append` concatenates; a key
//! never written reads as "".
//!
//! A state is one integer: a node of a trie of the writes that built the string (a put
//! starts at the root, each append adds a child), so an append costs one table lookup
//! instead of building and hashing an ever longer string. A get compares its string with
//! the node's fragments, after a length check. (The same text built by different writes
//! is then two states: only the search's cache sees fewer hits.)

use super::{unknown_f, Interner, Model, Outcome};
use crate::history::Value;
use hashbrown::HashMap;

pub struct Kv {
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
    /// Reads the string with this id.
    Get(u32),
    /// Writes / appends the fragment with this id.
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
            KvOp::Get(text) => self
                .spells(*state, self.strings.get(text))
                .then_some(*state),
            KvOp::Put(fragment) => Some(self.child(EMPTY, fragment)),
            KvOp::Append(fragment) => Some(self.child(*state, fragment)),
        }
    }

    fn render_state(&self, state: &u32) -> Value {
        Value::Str(self.text(*state))
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
    fn info_gets_are_left_out() {
        let mut m = Kv::new(None).unwrap();
        assert_eq!(m.encode("get", &Value::Nil, Outcome::Info), Ok(None));
        assert!(m.encode("cas", &Value::Nil, Outcome::Ok).is_err());
    }
}
