//! `mutex`: Knossos' lock: `:acquire` when held and `:release` when free are impossible.

use super::{unknown_f, Model, Outcome};
use crate::history::Value;

pub struct Mutex {
    initially_held: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MutexOp {
    Acquire,
    Release,
}

impl Model for Mutex {
    /// Whether the lock is held.
    type State = bool;
    type Op = MutexOp;

    fn new(initial: Option<&Value>) -> Result<Mutex, String> {
        let initially_held = match initial {
            None | Some(Value::Bool(false)) | Some(Value::Nil) => false,
            Some(Value::Bool(true)) => true,
            Some(other) => {
                return Err(format!(
                    "a mutex starts free (false) or held (true), not {other}"
                ))
            }
        };
        Ok(Mutex { initially_held })
    }

    fn initial_state(&mut self) -> bool {
        self.initially_held
    }

    fn encode(
        &mut self,
        f: &str,
        _value: &Value,
        _outcome: Outcome,
    ) -> Result<Option<MutexOp>, String> {
        match f {
            "acquire" => Ok(Some(MutexOp::Acquire)),
            "release" => Ok(Some(MutexOp::Release)),
            _ => Err(unknown_f("mutex", f, ":acquire or :release")),
        }
    }

    fn step(&mut self, held: &bool, op: &MutexOp) -> Option<bool> {
        match op {
            MutexOp::Acquire => (!held).then_some(true),
            MutexOp::Release => held.then_some(false),
        }
    }

    fn render_state(&self, held: &bool) -> Value {
        Value::keyword(if *held { "locked" } else { "free" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_needs_free_and_release_needs_held() {
        let mut m = Mutex::new(None).unwrap();
        let free = m.initial_state();
        assert_eq!(m.step(&free, &MutexOp::Release), None);
        let held = m.step(&free, &MutexOp::Acquire).unwrap();
        assert_eq!(m.step(&held, &MutexOp::Acquire), None);
        assert_eq!(m.step(&held, &MutexOp::Release), Some(false));
        assert_eq!(m.render_state(&held), Value::keyword("locked"));
    }
}
