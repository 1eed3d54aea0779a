//! Jepsen's `stats` checker: counts of client completions (ok / fail / info), overall and
//! per `:f`. Valid only if every `:f` had at least one `:ok`.
//!
//! Jepsen's docstring says such a history is `:unknown`, but its code merges the per-`:f`
//! `(pos? ok-count)` booleans, so a `:f` that never succeeded makes the result `false`;
//! this checker does what the code does.

use super::{CheckOptions, CheckResult, Checker, Validity};
use crate::history::{History, OpType, Pairing, Value};
use std::collections::BTreeMap;

/// Jepsen's `(checker/stats)`.
#[derive(Clone, Debug, Default)]
pub struct Stats;

/// Jepsen's `stats` checker.
pub fn stats() -> Stats {
    Stats
}

#[derive(Clone, Copy, Default)]
struct Counts {
    ok: i64,
    fail: i64,
    info: i64,
}

impl Counts {
    fn add(&mut self, kind: OpType) {
        match kind {
            OpType::Ok => self.ok += 1,
            OpType::Fail => self.fail += 1,
            OpType::Info => self.info += 1,
            OpType::Invoke => {}
        }
    }

    fn valid(&self) -> Validity {
        if self.ok > 0 {
            Validity::Valid
        } else {
            Validity::Invalid
        }
    }

    fn entries(&self) -> Vec<(Value, Value)> {
        vec![
            (
                Value::keyword("count"),
                Value::Int(self.ok + self.fail + self.info),
            ),
            (Value::keyword("ok-count"), Value::Int(self.ok)),
            (Value::keyword("fail-count"), Value::Int(self.fail)),
            (Value::keyword("info-count"), Value::Int(self.info)),
        ]
    }
}

impl Checker for Stats {
    /// It only scans ops: a history Jepsen's checker takes, this one takes too.
    fn pairing(&self) -> Pairing {
        Pairing::Loose
    }

    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        let mut all = Counts::default();
        let mut by_f: BTreeMap<&str, Counts> = BTreeMap::new();
        for op in history
            .ops
            .iter()
            .filter(|o| o.is_client() && !o.is_invoke())
        {
            all.add(op.kind);
            by_f.entry(op.f.as_str()).or_default().add(op.kind);
        }
        let valid = by_f.values().fold(Validity::Valid, |v, c| v.and(c.valid()));
        let mut result = CheckResult::new(valid);
        for (k, v) in all.entries() {
            result = result.with(k.as_name().unwrap(), v);
        }
        let by_f = by_f
            .iter()
            .map(|(f, c)| {
                let mut entries = vec![(Value::keyword("valid?"), c.valid().to_value())];
                entries.extend(c.entries());
                (Value::keyword(f), Value::Map(entries))
            })
            .collect();
        result.with("by-f", Value::Map(by_f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history_str;

    fn check(text: &str) -> CheckResult {
        stats().check(
            &read_history_str("t", text).unwrap(),
            &CheckOptions::default(),
        )
    }

    const HISTORY: &str = "{:type :invoke, :process 0, :f :add, :value 1}
        {:type :ok, :process 0, :f :add, :value 1}
        {:type :invoke, :process 0, :f :add, :value 2}
        {:type :info, :process 0, :f :add, :value 2}
        {:type :info, :process :nemesis, :f :start, :value nil}
        {:type :info, :process :nemesis, :f :start, :value :done}
        {:type :invoke, :process 1, :f :read, :value nil}
        {:type :fail, :process 1, :f :read, :value nil}";

    #[test]
    fn an_f_without_any_ok_is_invalid() {
        let r = check(HISTORY);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.get("count"), Some(&Value::Int(3)), "nemesis excluded");
        assert_eq!(r.get("ok-count"), Some(&Value::Int(1)));
        assert_eq!(r.get("fail-count"), Some(&Value::Int(1)));
        assert_eq!(r.get("info-count"), Some(&Value::Int(1)));
        let by_f = r.get("by-f").unwrap();
        assert_eq!(
            by_f.get("read").and_then(|m| m.get("valid?")),
            Some(&Value::Bool(false))
        );
        assert_eq!(
            by_f.get("add").and_then(|m| m.get("info-count")),
            Some(&Value::Int(1))
        );
        assert!(by_f.get("start").is_none());
    }

    #[test]
    fn every_f_with_an_ok_is_valid() {
        let more = format!(
            "{HISTORY}
            {{:type :invoke, :process 1, :f :read, :value nil}}
            {{:type :ok, :process 1, :f :read, :value [1]}}"
        );
        let r = check(&more);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(check("").valid, Validity::Valid, "no ops: nothing failed");
    }
}
