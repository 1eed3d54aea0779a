//! The operation history: Jepsen's op model, its pairing of invocations with completions,
//! and its EDN and JSON-lines forms (read whole, written as a stream).

mod edn;
mod input;
mod json;
mod op;
mod read;
mod value;
mod writer;

pub use edn::{parse_edn_ops, parse_edn_values, EdnError};
pub use input::{mib, read_bounded, Source, DEFAULT_MAX_BYTES};
pub use op::{Op, OpType, Process};
pub use read::{
    detect_format, op_from_value, read_history_file, read_history_file_with, read_history_str,
    read_history_str_with, Format, ReadError, ReadOptions,
};
pub use value::Value;
pub use writer::{write_edn, HistoryWriter};

use std::collections::HashMap;

/// A history: operations in the order they happened, each invocation paired with its
/// completion (if any).
#[derive(Clone, Debug, Default)]
pub struct History {
    pub ops: Vec<Op>,
    /// For each op, the position of its partner: an invocation's completion or a
    /// completion's invocation. `None` for an invocation that never completed.
    partner: Vec<Option<usize>>,
}

/// Why a sequence of ops is not a well-formed history; `position` is the op's place in it.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryError {
    pub position: usize,
    pub message: String,
}

/// How a history's client invocations must pair with their completions.
///
/// Checkers that reason about an op's whole span (linearizable, set-full, counter) need
/// every completion to follow its invocation: [`Pairing::Strict`], the default, refuses a
/// history where they do not. Checkers that only count or scan ops (set, stats,
/// unhandled-exceptions, heal) take what Jepsen's take: [`Pairing::Loose`] pairs what it
/// can and leaves the rest unpaired (Jepsen's own tests of those checkers have a process
/// invoking again after its `:info`, and `:ok`s without an invocation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Pairing {
    #[default]
    Strict,
    Loose,
}

impl Pairing {
    /// Strict if either is: what two checkers judging one history need.
    pub fn and(self, other: Pairing) -> Pairing {
        if self == Pairing::Strict || other == Pairing::Strict {
            Pairing::Strict
        } else {
            Pairing::Loose
        }
    }
}

impl History {
    /// Builds a history, assigning `index` where missing and pairing each client
    /// invocation with the next op of the same process. A completion whose process has
    /// no open invocation, an invocation while one is open, or an invocation by a client
    /// process after its `:info` is an error. Nemesis (and
    /// other named) processes alternate invocation / completion, whatever their `:type`
    /// (Jepsen records both halves of a nemesis op as `:info`).
    pub fn from_ops(ops: Vec<Op>) -> Result<History, HistoryError> {
        History::paired(ops, Pairing::Strict)
    }

    /// Builds a history as [`History::from_ops`] does; with [`Pairing::Loose`] nothing is
    /// an error: an invocation while one is open leaves the earlier one unpaired, and a
    /// completion without an open invocation stays unpaired.
    pub fn paired(mut ops: Vec<Op>, pairing: Pairing) -> Result<History, HistoryError> {
        let strict = pairing == Pairing::Strict;
        let mut partner = vec![None; ops.len()];
        let mut open: HashMap<Process, usize> = HashMap::new();
        // Client processes that crashed (`:info`), with the crash's index.
        let mut crashed: HashMap<Process, i64> = HashMap::new();
        for i in 0..ops.len() {
            if ops[i].index < 0 {
                ops[i].index = i as i64;
            }
            let op = &ops[i];
            let client = op.is_client();
            match open.remove(&op.process) {
                Some(inv) if client && op.is_invoke() => {
                    if strict {
                        return Err(HistoryError {
                            position: i,
                            message: format!(
                                "process {} invokes again while its invocation (index {}) has not completed",
                                crate::printable::quote(&op.process.to_string()),
                                ops[inv].index
                            ),
                        });
                    }
                    open.insert(op.process.clone(), i);
                }
                Some(inv) => {
                    partner[inv] = Some(i);
                    partner[i] = Some(inv);
                    if client && op.is_info() {
                        crashed.insert(op.process.clone(), op.index);
                    }
                }
                None => {
                    if let Some(crash) = crashed.get(&op.process).filter(|_| strict) {
                        return Err(HistoryError {
                            position: i,
                            message: format!(
                                "process {} invokes again after its :info (index {crash}): a crashed process never does (its thread continues as a new process)",
                                crate::printable::quote(&op.process.to_string())
                            ),
                        });
                    }
                    if client && !op.is_invoke() {
                        if strict {
                            return Err(HistoryError {
                                position: i,
                                message: format!(
                                    "a completion (:{} of :{}) by process {} without an invocation",
                                    op.kind.name(),
                                    crate::printable::quote(&op.f),
                                    crate::printable::quote(&op.process.to_string())
                                ),
                            });
                        }
                        continue;
                    }
                    open.insert(op.process.clone(), i);
                }
            }
        }
        Ok(History { ops, partner })
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The completion of the invocation at `position`, if it completed.
    pub fn completion(&self, position: usize) -> Option<&Op> {
        if self.ops[position].is_invoke() || !self.ops[position].is_client() {
            self.partner[position]
                .filter(|&p| p > position)
                .map(|p| &self.ops[p])
        } else {
            None
        }
    }

    /// The position of the partner of the op at `position`.
    pub fn partner(&self, position: usize) -> Option<usize> {
        self.partner[position]
    }

    /// The invocation of the completion at `position`.
    pub fn invocation(&self, position: usize) -> Option<&Op> {
        self.partner[position]
            .filter(|&p| p < position)
            .map(|p| &self.ops[p])
    }

    /// Client operations as (invocation position, completion position) pairs, in
    /// invocation order. The completion is `None` when the op never completed.
    pub fn client_pairs(&self) -> impl Iterator<Item = (usize, Option<usize>)> + '_ {
        (0..self.ops.len())
            .filter(|&i| self.ops[i].is_client() && self.ops[i].is_invoke())
            .map(|i| (i, self.partner[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: OpType, p: u64, f: &str) -> Op {
        Op::new(kind, Process::Client(p), f, Value::Nil)
    }

    #[test]
    fn pairs_invocations_with_completions() {
        let h = History::from_ops(vec![
            op(OpType::Invoke, 0, "read"),
            op(OpType::Invoke, 1, "write"),
            op(OpType::Ok, 1, "write"),
            op(OpType::Info, 0, "read"),
            op(OpType::Invoke, 2, "read"),
        ])
        .unwrap();
        assert_eq!(h.completion(0).unwrap().kind, OpType::Info);
        assert_eq!(h.completion(1).unwrap().kind, OpType::Ok);
        assert!(h.completion(4).is_none());
        assert_eq!(h.invocation(2).unwrap().index, 1);
        let pairs: Vec<_> = h.client_pairs().collect();
        assert_eq!(pairs, vec![(0, Some(3)), (1, Some(2)), (4, None)]);
    }

    #[test]
    fn rejects_a_completion_without_invocation() {
        let err = History::from_ops(vec![op(OpType::Ok, 3, "read")]).unwrap_err();
        assert_eq!(err.position, 0);
        assert!(
            err.message.contains("without an invocation"),
            "{}",
            err.message
        );
    }

    #[test]
    fn rejects_a_double_invocation() {
        let err = History::from_ops(vec![
            op(OpType::Invoke, 3, "read"),
            op(OpType::Invoke, 3, "read"),
        ])
        .unwrap_err();
        assert_eq!(err.position, 1);
    }

    #[test]
    fn rejects_an_invocation_after_info() {
        let err = History::from_ops(vec![
            op(OpType::Invoke, 3, "read"),
            op(OpType::Info, 3, "read"),
            op(OpType::Invoke, 3, "read"),
        ])
        .unwrap_err();
        assert_eq!(err.position, 2);
        assert!(err.message.contains("after its :info"), "{}", err.message);
    }

    #[test]
    fn nemesis_info_pairs_alternate() {
        let mut a = op(OpType::Info, 0, "start");
        a.process = Process::Nemesis;
        let mut b = a.clone();
        b.value = Value::from("done");
        let h = History::from_ops(vec![a, b]).unwrap();
        assert_eq!(h.partner(0), Some(1));
    }
}
