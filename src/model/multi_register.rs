//! `multi-register`: Knossos' registers under transactions: `:txn` whose value is a list
//! of micro-ops `[:read k v]` / `[:write k v]`, applied in order. A read of nil is always
//! legal (Knossos: the value is unknown); registers start nil unless the initial value,
//! a map from register to value such as `{:x 0 :y 0}`, says otherwise.

use super::{unknown_f, value_interner, Interner, Model, Outcome, NIL};
use crate::history::Value;

pub struct MultiRegister {
    registers: Interner<Value>,
    values: Interner<Value>,
    initial: Vec<(Value, Value)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MicroOp {
    /// Register index, value id; reads of nil are left out when encoding.
    Read(u32, u32),
    Write(u32, u32),
}

impl MultiRegister {
    fn register(&mut self, name: &Value) -> u32 {
        self.registers.intern(name.clone())
    }
}

impl Model for MultiRegister {
    /// The value id of each register, by register index (missing = nil).
    type State = Box<[u32]>;
    type Op = Box<[MicroOp]>;

    fn new(initial: Option<&Value>) -> Result<MultiRegister, String> {
        let initial = match initial {
            None | Some(Value::Nil) => Vec::new(),
            Some(Value::Map(entries)) => entries.clone(),
            Some(other) => {
                return Err(format!(
                    "a multi-register starts from a map of register to value, not {other}"
                ))
            }
        };
        let mut m = MultiRegister {
            registers: Interner::new(),
            values: value_interner(),
            initial,
        };
        for (k, v) in m.initial.clone() {
            m.register(&k);
            m.values.intern(v);
        }
        Ok(m)
    }

    fn initial_state(&mut self) -> Box<[u32]> {
        let mut state = vec![NIL; self.registers.len()];
        for (k, v) in self.initial.clone() {
            let r = self.register(&k) as usize;
            state[r] = self.values.intern(v);
        }
        state.into_boxed_slice()
    }

    fn encode(
        &mut self,
        f: &str,
        value: &Value,
        outcome: Outcome,
    ) -> Result<Option<Box<[MicroOp]>>, String> {
        if f != "txn" {
            return Err(unknown_f("multi-register", f, ":txn"));
        }
        let micro_ops = value
            .as_slice()
            .ok_or_else(|| format!("a txn value must be a list of micro-ops, found {value}"))?;
        let mut encoded = Vec::with_capacity(micro_ops.len());
        for micro in micro_ops {
            let [mf, k, v] = micro.as_slice().unwrap_or(&[]) else {
                return Err(format!("a micro-op must be [f k v], found {micro}"));
            };
            let r = self.register(k);
            match mf.as_name() {
                Some("read") if v.is_nil() || outcome == Outcome::Info => {}
                Some("read") => encoded.push(MicroOp::Read(r, self.values.intern(v.clone()))),
                Some("write") => encoded.push(MicroOp::Write(r, self.values.intern(v.clone()))),
                _ => return Err(format!("a micro-op must be :read or :write, found {micro}")),
            }
        }
        if encoded.is_empty() && outcome == Outcome::Info {
            return Ok(None);
        }
        Ok(Some(encoded.into_boxed_slice()))
    }

    fn step(&mut self, state: &Box<[u32]>, op: &Box<[MicroOp]>) -> Option<Box<[u32]>> {
        let get = |s: &[u32], r: u32| s.get(r as usize).copied().unwrap_or(NIL);
        if op.iter().all(|m| matches!(m, MicroOp::Read(..))) {
            return op
                .iter()
                .all(|m| matches!(*m, MicroOp::Read(r, v) if get(state, r) == v))
                .then(|| state.clone());
        }
        let mut next = state.to_vec();
        next.resize(self.registers.len(), NIL);
        for m in op.iter() {
            match *m {
                MicroOp::Read(r, v) => {
                    if next[r as usize] != v {
                        return None;
                    }
                }
                MicroOp::Write(r, v) => next[r as usize] = v,
            }
        }
        Some(next.into_boxed_slice())
    }

    fn render_state(&self, state: &Box<[u32]>) -> Value {
        Value::Map(
            state
                .iter()
                .enumerate()
                .map(|(r, &v)| {
                    (
                        self.registers.get(r as u32).clone(),
                        self.values.get(v).clone(),
                    )
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::parse_edn_values;

    fn edn(text: &str) -> Value {
        parse_edn_values(text).unwrap().remove(0).0
    }

    #[test]
    fn transactions_apply_in_order_and_nil_reads_are_free() {
        let mut m = MultiRegister::new(Some(&edn("{:x 0 :y 0}"))).unwrap();
        let s0 = m.initial_state();
        let read_x0 = m
            .encode("txn", &edn("[[:read :x 0] [:read :y nil]]"), Outcome::Ok)
            .unwrap()
            .unwrap();
        let write_then_read = m
            .encode("txn", &edn("[[:write :x 1] [:read :x 1]]"), Outcome::Ok)
            .unwrap()
            .unwrap();
        let read_x1 = m
            .encode("txn", &edn("[[:read :x 1]]"), Outcome::Ok)
            .unwrap()
            .unwrap();
        let read_z = m
            .encode("txn", &edn("[[:read :z 5]]"), Outcome::Ok)
            .unwrap()
            .unwrap();
        assert_eq!(m.step(&s0, &read_x0).as_ref(), Some(&s0));
        assert_eq!(m.step(&s0, &read_x1), None);
        let s1 = m.step(&s0, &write_then_read).unwrap();
        assert!(m.step(&s1, &read_x1).is_some());
        assert_eq!(m.step(&s1, &read_z), None, "z was never written: nil");
        assert_eq!(m.render_state(&s1).get("x"), Some(&Value::from(1)));
    }

    #[test]
    fn info_read_only_txns_are_left_out() {
        let mut m = MultiRegister::new(None).unwrap();
        assert_eq!(
            m.encode("txn", &edn("[[:read :x nil]]"), Outcome::Info),
            Ok(None)
        );
        assert!(m.encode("read", &Value::Nil, Outcome::Ok).is_err());
    }
}
