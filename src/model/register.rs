//! The registers: Knossos' `register` (read / write) and `cas-register` (read, write, and
//! cas with value `[old new]`), one model with cas switched on or off, initially nil. A
//! cas takes effect only if the register holds `old`; an `:ok` cas must have found it. An
//! `:ok` read of nil means the register held nil (stricter than Knossos, which lets a nil
//! read pass in any state: here a register that forgets its value is caught); an `:info`
//! read constrains nothing and is left out.

use super::{pair, unknown_f, value_interner, Interner, Model, Outcome};
use crate::history::Value;

/// A register; `CAS` says whether it also takes `:cas`.
pub struct RegisterModel<const CAS: bool> {
    values: Interner<Value>,
    initial: u32,
}

/// Knossos' `register`: read and write.
pub type Register = RegisterModel<false>;
/// Knossos' `cas-register`: read, write and cas.
pub type CasRegister = RegisterModel<true>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    Read(u32),
    Write(u32),
    Cas(u32, u32),
}

impl<const CAS: bool> Model for RegisterModel<CAS> {
    type State = u32;
    type Op = RegisterOp;

    fn new(initial: Option<&Value>) -> Result<Self, String> {
        let mut values = value_interner();
        let initial = values.intern(initial.cloned().unwrap_or(Value::Nil));
        Ok(RegisterModel { values, initial })
    }

    fn initial_state(&mut self) -> u32 {
        self.initial
    }

    fn encode(
        &mut self,
        f: &str,
        value: &Value,
        outcome: Outcome,
    ) -> Result<Option<RegisterOp>, String> {
        match f {
            "read" if outcome == Outcome::Info => Ok(None),
            "read" => Ok(Some(RegisterOp::Read(self.values.intern(value.clone())))),
            "write" => Ok(Some(RegisterOp::Write(self.values.intern(value.clone())))),
            "cas" if CAS => {
                let (old, new) = pair(value)
                    .ok_or_else(|| format!("a cas value must be [old new], found {value}"))?;
                Ok(Some(RegisterOp::Cas(
                    self.values.intern(old.clone()),
                    self.values.intern(new.clone()),
                )))
            }
            _ if CAS => Err(unknown_f("cas-register", f, ":read, :write or :cas")),
            _ => Err(unknown_f("register", f, ":read or :write")),
        }
    }

    fn is_blind(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Write(_))
    }

    fn step(&mut self, state: &u32, op: &RegisterOp) -> Option<u32> {
        match *op {
            RegisterOp::Read(v) => (v == *state).then_some(v),
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Cas(old, new) => (old == *state).then_some(new),
        }
    }

    fn render_state(&self, state: &u32) -> Value {
        self.values.get(*state).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NIL;

    fn op(m: &mut CasRegister, f: &str, v: Value) -> RegisterOp {
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

    #[test]
    fn reads_see_the_last_write_and_start_nil() {
        let mut m = Register::new(None).unwrap();
        let s = m.initial_state();
        let read_nil = m.encode("read", &Value::Nil, Outcome::Ok).unwrap().unwrap();
        let write1 = m
            .encode("write", &Value::from(1), Outcome::Ok)
            .unwrap()
            .unwrap();
        let read1 = m
            .encode("read", &Value::from(1), Outcome::Ok)
            .unwrap()
            .unwrap();
        assert_eq!(m.step(&s, &read_nil), Some(NIL));
        assert_eq!(m.step(&s, &read1), None);
        let s1 = m.step(&s, &write1).unwrap();
        assert_eq!(m.step(&s1, &read1), Some(s1));
        assert_eq!(m.step(&s1, &read_nil), None);
        assert_eq!(m.render_state(&s1), Value::from(1));
    }

    #[test]
    fn info_reads_are_left_out_and_unknown_fs_rejected() {
        let mut m = Register::new(None).unwrap();
        assert_eq!(m.encode("read", &Value::Nil, Outcome::Info), Ok(None));
        assert!(m
            .encode("cas", &Value::Nil, Outcome::Ok)
            .unwrap_err()
            .contains(":cas"));
    }

    #[test]
    fn initial_value_is_configurable() {
        let mut m = Register::new(Some(&Value::from(0))).unwrap();
        let s = m.initial_state();
        let read0 = m
            .encode("read", &Value::from(0), Outcome::Ok)
            .unwrap()
            .unwrap();
        assert_eq!(m.step(&s, &read0), Some(s));
    }
}
