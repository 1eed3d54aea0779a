//! `register`: a read / write register, initially nil. An `:ok` read of nil means the
//! register held nil; an `:info` read constrains nothing and is left out.

use super::{unknown_f, value_interner, Interner, Model, Outcome};
use crate::history::Value;

pub struct Register {
    values: Interner<Value>,
    initial: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterOp {
    Read(u32),
    Write(u32),
}

impl Model for Register {
    type State = u32;
    type Op = RegisterOp;

    fn new(initial: Option<&Value>) -> Result<Register, String> {
        let mut values = value_interner();
        let initial = values.intern(initial.cloned().unwrap_or(Value::Nil));
        Ok(Register { values, initial })
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
            _ => Err(unknown_f("register", f, ":read or :write")),
        }
    }

    fn step(&mut self, state: &u32, op: &RegisterOp) -> Option<u32> {
        match *op {
            RegisterOp::Read(v) => (v == *state).then_some(v),
            RegisterOp::Write(v) => Some(v),
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
