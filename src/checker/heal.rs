//! restatedev/jepsen's `all-nodes-ok-after-final-heal`: a liveness check that the cluster
//! recovered once the faults stopped. After the last nemesis op with `f` = `stop` (the
//! completion of the final heal; Jepsen records both halves of a nemesis op as `:info`),
//! take each node's last 5 client completions (the node is the op's `:node` field); the
//! history is invalid if any of them is an `:info` with an `:error`.
//!
//! The reference only looks at nodes that completed something after the heal, so a node
//! whose clients completed nothing at all passes there. Such a node shows neither recovery
//! nor failure, so here it makes the result `:unknown` (listed under `:silent-nodes`) when
//! the test's nodes are known (`CheckOptions::nodes`); errors still make it `false`.
//! Without a nemesis stop the whole history counts, as in the reference. `:fail`
//! completions (e.g. connection refused) are not errors here, as in the reference.

use super::{CheckOptions, CheckResult, Checker, Validity};
use crate::history::{History, Op, Pairing, Process, Value};
use std::collections::{BTreeMap, VecDeque};

/// The heal checker; `heal()` gives the reference's settings.
#[derive(Clone, Debug)]
pub struct Heal {
    /// How many of each node's last completions must be free of `:info` errors (5).
    pub tail: usize,
    /// The nemesis `f` that ends a fault (`stop`).
    pub stop_f: String,
}

/// restatedev/jepsen's `all-nodes-ok-after-final-heal`: the last 5 completions per node
/// after the last nemesis `:stop`.
pub fn heal() -> Heal {
    Heal {
        tail: 5,
        stop_f: "stop".to_string(),
    }
}

/// What one node's clients completed after the final heal.
#[derive(Default)]
struct NodeTail<'a> {
    completions: usize,
    last: VecDeque<&'a Op>,
}

fn is_error(op: &Op) -> bool {
    op.is_info() && op.error.is_some()
}

impl Checker for Heal {
    /// It only scans ops: a history Jepsen's checker takes, this one takes too.
    fn pairing(&self) -> Pairing {
        Pairing::Loose
    }

    fn check(&self, history: &History, opts: &CheckOptions) -> CheckResult {
        let final_heal = history
            .ops
            .iter()
            .rposition(|op| op.process == Process::Nemesis && op.f == self.stop_f);
        let after = final_heal.map_or(0, |p| p + 1);

        let mut nodes: BTreeMap<&str, NodeTail> = BTreeMap::new();
        for op in &history.ops[after..] {
            if !op.is_client() || op.is_invoke() {
                continue;
            }
            let Some(node) = op.extra.get("node").and_then(Value::as_name) else {
                continue;
            };
            let tail = nodes.entry(node).or_default();
            tail.completions += 1;
            tail.last.push_back(op);
            if tail.last.len() > self.tail {
                tail.last.pop_front();
            }
        }

        // The test's nodes in their order, then any other node seen.
        let mut order: Vec<&str> = opts.nodes.iter().map(String::as_str).collect();
        for node in nodes.keys() {
            if !order.contains(node) {
                order.push(node);
            }
        }
        let silent: Vec<&str> = order
            .iter()
            .copied()
            .filter(|n| !nodes.contains_key(n))
            .collect();
        let with_errors: Vec<&str> = order
            .iter()
            .copied()
            .filter(|n| {
                nodes
                    .get(n)
                    .is_some_and(|t| t.last.iter().any(|o| is_error(o)))
            })
            .collect();

        let valid = if !with_errors.is_empty() {
            Validity::Invalid
        } else if !silent.is_empty() {
            Validity::Unknown
        } else {
            Validity::Valid
        };
        let last_events = |node: &str| {
            Value::Vec(
                nodes
                    .get(node)
                    .map(|t| t.last.iter().map(|o| o.to_value()).collect())
                    .unwrap_or_default(),
            )
        };
        let names = |ns: &[&str]| Value::Vec(ns.iter().map(|&n| Value::from(n)).collect());

        let mut result = CheckResult::new(valid).with(
            "final-heal",
            final_heal.map_or(Value::Nil, |p| history.ops[p].to_value()),
        );
        if !with_errors.is_empty() {
            result = result
                .with(
                    "description",
                    Value::Str(format!(
                        "The last {} events from some node(s) contained errors",
                        self.tail
                    )),
                )
                .with(
                    "errors",
                    Value::Vec(
                        with_errors
                            .iter()
                            .map(|&n| {
                                Value::Map(vec![
                                    (Value::keyword("node"), Value::from(n)),
                                    (Value::keyword("last-events"), last_events(n)),
                                ])
                            })
                            .collect(),
                    ),
                );
        }
        if !silent.is_empty() {
            result = result.with("silent-nodes", names(&silent));
        }
        let per_node = order
            .iter()
            .map(|&n| {
                let tail = nodes.get(n);
                let kinds = tail.map_or(Vec::new(), |t| {
                    t.last
                        .iter()
                        .map(|o| Value::keyword(o.kind.name()))
                        .collect()
                });
                (
                    Value::from(n),
                    Value::Map(vec![
                        (
                            Value::keyword("completions"),
                            Value::Int(tail.map_or(0, |t| t.completions) as i64),
                        ),
                        (Value::keyword("last-types"), Value::Vec(kinds)),
                        (
                            Value::keyword("errors"),
                            Value::Int(
                                tail.map_or(0, |t| t.last.iter().filter(|o| is_error(o)).count())
                                    as i64,
                            ),
                        ),
                    ]),
                )
            })
            .collect();
        result.with("nodes", Value::Map(per_node))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history_str;

    fn opts(nodes: &[&str]) -> CheckOptions {
        CheckOptions {
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            ..CheckOptions::default()
        }
    }

    /// `n` add ops by process `p` on `node`, completing with `kind` (and an error for info;
    /// each crash moves on to a new process, as the interpreter does).
    fn adds(p: u64, node: &str, kind: &str, n: usize) -> String {
        let error = if kind == "info" {
            ", :error :timeout"
        } else {
            ""
        };
        (0..n)
            .map(|i| {
                let p = if kind == "info" { p + 1000 * i as u64 } else { p };
                format!(
                    "{{:type :invoke, :process {p}, :f :add, :value {i}, :node \"{node}\"}}\n\
                     {{:type :{kind}, :process {p}, :f :add, :value {i}, :node \"{node}\"{error}}}\n"
                )
            })
            .collect()
    }

    const STOP: &str = "{:type :info, :process :nemesis, :f :stop, :value nil}\n\
                        {:type :info, :process :nemesis, :f :stop, :value :healed}\n";
    const START: &str = "{:type :info, :process :nemesis, :f :start, :value nil}\n\
                         {:type :info, :process :nemesis, :f :start, :value :isolated}\n";

    fn check(text: &str, nodes: &[&str]) -> CheckResult {
        heal().check(&read_history_str("t", text).unwrap(), &opts(nodes))
    }

    #[test]
    fn errors_before_the_final_heal_do_not_count() {
        let h = [
            START,
            &adds(0, "n1", "info", 3),
            STOP,
            &adds(10, "n1", "ok", 5),
            &adds(1, "n2", "ok", 2),
        ]
        .concat();
        let r = check(&h, &["n1", "n2"]);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        let n1 = r.get("nodes").and_then(|n| n.get("n1")).unwrap();
        assert_eq!(n1.get("completions"), Some(&Value::Int(5)));
        assert_eq!(
            r.get("final-heal").and_then(|o| o.get("value")),
            Some(&Value::keyword("healed")),
            "the completion of the last stop"
        );
    }

    #[test]
    fn an_info_error_in_a_nodes_last_five_is_invalid() {
        let h = [
            STOP,
            &adds(0, "n1", "info", 1),
            &adds(10, "n1", "ok", 4),
            &adds(1, "n2", "ok", 3),
        ]
        .concat();
        let r = check(&h, &["n1", "n2"]);
        assert_eq!(r.valid, Validity::Invalid);
        let Some(Value::Vec(errors)) = r.get("errors") else {
            panic!("{r:?}")
        };
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].get("node"), Some(&Value::from("n1")));
        let Some(Value::Vec(last)) = errors[0].get("last-events") else {
            panic!()
        };
        assert_eq!(last.len(), 5);
        assert_eq!(last[0].get("type"), Some(&Value::keyword("info")));
    }

    #[test]
    fn only_the_last_five_count() {
        let h = [STOP, &adds(0, "n1", "info", 1), &adds(10, "n1", "ok", 5)].concat();
        assert_eq!(check(&h, &["n1"]).valid, Validity::Valid);
    }

    #[test]
    fn fails_and_errorless_infos_are_not_errors() {
        let h = [
            STOP,
            &adds(0, "n1", "fail", 2),
            "{:type :invoke, :process 1, :f :read, :value nil, :node \"n1\"}\n\
             {:type :info, :process 1, :f :read, :value nil, :node \"n1\"}\n",
        ]
        .concat();
        assert_eq!(check(&h, &["n1"]).valid, Validity::Valid);
    }

    #[test]
    fn a_node_silent_after_the_heal_is_unknown() {
        let h = [&adds(0, "n2", "ok", 5), STOP, &adds(1, "n1", "ok", 5)].concat();
        let r = check(&h, &["n1", "n2"]);
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(
            r.get("silent-nodes"),
            Some(&Value::Vec(vec![Value::from("n2")]))
        );
        // Without the node list, only the nodes seen are judged (as the reference does).
        assert_eq!(check(&h, &[]).valid, Validity::Valid);
    }

    #[test]
    fn without_a_nemesis_the_whole_history_counts() {
        let h = adds(0, "n1", "info", 1);
        let r = check(&h, &["n1"]);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.get("final-heal"), Some(&Value::Nil));
    }
}
