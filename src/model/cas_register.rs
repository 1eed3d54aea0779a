//! `cas-register`: Knossos' compare-and-set register: read, write, and cas with value
//! `[old new]`, initially nil. A cas takes effect only if the register holds `old`; an
//! `:ok` cas must have found it; an `:ok` read of nil means the register held nil; an
//! `:info` read constrains nothing and is left out.

use super::{pair, unknown_f, value_interner, Interner, Model, Outcome};
use crate::history::Value;

pub struct CasRegister {
    values: Interner<Value>,
    initial: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CasOp {
    Read(u32),
    Write(u32),
    Cas(u32, u32),
}

impl Model for CasRegister {
    type State = u32;
    type Op = CasOp;

    fn new(initial: Option<&Value>) -> Result<CasRegister, String> {
        let mut values = value_interner();
        let initial = values.intern(initial.cloned().unwrap_or(Value::Nil));
        Ok(CasRegister { values, initial })
    }

    fn initial_state(&mut self) -> u32 {
        self.initial
    }

    fn encode(
        &mut self,
        f: &str,
        value: &Value,
        outcome: Outcome,
    ) -> Result<Option<CasOp>, String> {
        match f {
            "read" if outcome == Outcome::Info => Ok(None),
            "read" => Ok(Some(CasOp::Read(self.values.intern(value.clone())))),
            "write" => Ok(Some(CasOp::Write(self.values.intern(value.clone())))),
            "cas" => {
                let (old, new) = pair(value)
                    .ok_or_else(|| format!("a cas value must be [old new], found {value}"))?;
                Ok(Some(CasOp::Cas(
                    self.values.intern(old.clone()),
                    self.values.intern(new.clone()),
                )))
            }
            _ => Err(unknown_f("cas-register", f, ":read, :write or :cas")),
        }
    }

    fn step(&mut self, state: &u32, op: &CasOp) -> Option<u32> {
        match *op {
            CasOp::Read(v) => (v == *state).then_some(v),
            CasOp::Write(v) => Some(v),
            CasOp::Cas(old, new) => (old == *state).then_some(new),
        }
    }

    fn render_state(&self, state: &u32) -> Value {
        self.values.get(*state).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(m: &mut CasRegister, f: &str, v: Value) -> CasOp {
        m.encode(f, &v, Outcome::Ok).unwrap().unwrap()
    }

    #[test]
    fn cas_succeeds_only_from_the_expected_value() {
        let mut m = CasRegister::new(None).unwrap();
        let s0 = m.initial_state();
        let w1 = op(&mut m, "write", Value::from(1));
        let cas12 = op(
            &mut m,
            "cas",
            Value::from(vec![Value::from(1), Value::from(2)]),
        );
        let cas32 = op(
            &mut m,
            "cas",
            Value::from(vec![Value::from(3), Value::from(2)]),
        );
        let r2 = op(&mut m, "read", Value::from(2));
        assert_eq!(m.step(&s0, &cas12), None, "nil is not 1");
        let s1 = m.step(&s0, &w1).unwrap();
        assert_eq!(m.step(&s1, &cas32), None);
        let s2 = m.step(&s1, &cas12).unwrap();
        assert_eq!(m.step(&s2, &r2), Some(s2));
        assert_eq!(m.render_state(&s2), Value::from(2));
    }

    #[test]
    fn malformed_cas_is_an_error() {
        let mut m = CasRegister::new(None).unwrap();
        assert!(m.encode("cas", &Value::from(1), Outcome::Ok).is_err());
        assert_eq!(m.encode("read", &Value::Nil, Outcome::Info), Ok(None));
    }
}
