//! Schedules: the fault actions of a run, in order, with their offsets from the start of
//! the workload, kept as `schedule.json` beside every run. A schedule found in one world
//! replays in the other: its ops are invoked at the same offsets and perform the recorded
//! actions instead of drawing new ones (see [`super::nemesis::FaultNemesis::scripted`]).
//!
//! ```json
//! {"nodes": ["n1","n2","n3"], "time-limit": 4.0,
//!  "ops": [{"time": 1000000000, "f": "start", "value": null, "actions": [{"kill": "n2"}]}, …]}
//! ```

use super::action::{actions_of, actions_value, Action, InForce};
use super::Grudge;
use crate::generator::{seq, template, Gen};
use crate::history::{History, Process, Value};
use std::fmt;
use std::path::Path;
use std::time::Duration;

/// The file name in a run's folder.
pub const SCHEDULE_JSON: &str = "schedule.json";

/// One nemesis op of a schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduledOp {
    /// When it was invoked, in ns from the start of the workload.
    pub time: i64,
    pub f: String,
    /// The invocation's value (e.g. a fault's name, or nil).
    pub value: Value,
    /// What it did.
    pub actions: Vec<Action>,
}

/// A run's fault actions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schedule {
    /// The logical node names the actions use.
    pub nodes: Vec<String>,
    /// How long the workload ran before the final heal, when known.
    pub time_limit: Option<Duration>,
    pub ops: Vec<ScheduledOp>,
}

/// Why a schedule file could not be read.
#[derive(Debug)]
pub struct ScheduleError(pub String);

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScheduleError {}

impl Schedule {
    /// The nemesis ops of `history` that completed, with what they did.
    pub fn from_history(
        history: &History,
        nodes: &[String],
        time_limit: Option<Duration>,
    ) -> Schedule {
        let ops = (0..history.ops.len())
            .filter(|&i| history.ops[i].process == Process::Nemesis)
            .filter_map(|i| {
                let completion = history.completion(i)?;
                let invocation = &history.ops[i];
                Some(ScheduledOp {
                    time: invocation.time,
                    f: invocation.f.clone(),
                    value: invocation.value.clone(),
                    actions: actions_of(&completion.value).ok()?,
                })
            })
            .collect();
        Schedule {
            nodes: nodes.to_vec(),
            time_limit,
            ops,
        }
    }

    /// Every action, in order.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.ops.iter().flat_map(|o| o.actions.iter())
    }

    /// How many actions inflict a fault (partition, kill, pause, wipe, shape): a
    /// schedule's size, as shrinking counts it (each heal only undoes one of them).
    pub fn fault_count(&self) -> usize {
        self.actions().filter(|a| a.inflicts()).count()
    }

    /// The schedule on `nodes` only, with every action that would do nothing left out: a
    /// heal of what is not in force, a start of a running node, a kill of a killed one,
    /// an action on a node not in `nodes`; then ops left with no action. What shrinking
    /// replays after it removed some of a schedule's faults.
    pub fn effective(&self, nodes: &[String]) -> Schedule {
        let known = |n: &String| nodes.contains(n);
        let mut in_force = InForce::default();
        let mut ops = Vec::new();
        for op in &self.ops {
            let mut actions = Vec::new();
            for action in &op.actions {
                let kept = match action {
                    Action::Partition(g) => {
                        let g: Grudge = g
                            .iter()
                            .filter(|(n, _)| known(n))
                            .map(|(n, from)| {
                                (
                                    n.clone(),
                                    from.iter().filter(|m| known(m)).cloned().collect(),
                                )
                            })
                            .filter(|(_, from): &(String, std::collections::BTreeSet<String>)| {
                                !from.is_empty()
                            })
                            .collect();
                        (!g.is_empty()).then_some(Action::Partition(g))
                    }
                    Action::HealNetwork => (!in_force.grudge.is_empty()).then(|| action.clone()),
                    Action::Kill(n) => {
                        (known(n) && !in_force.killed.contains(n)).then(|| action.clone())
                    }
                    Action::Start(n) | Action::WipePartitionStore(n) => {
                        in_force.killed.contains(n).then(|| action.clone())
                    }
                    Action::Pause(n) => {
                        (known(n) && !in_force.killed.contains(n) && !in_force.paused.contains(n))
                            .then(|| action.clone())
                    }
                    Action::Resume(n) => in_force.paused.contains(n).then(|| action.clone()),
                    Action::Shape(_) => Some(action.clone()),
                    Action::Unshape => in_force.shaped.is_some().then(|| action.clone()),
                };
                if let Some(a) = kept {
                    in_force.apply(&a);
                    actions.push(a);
                }
            }
            if !actions.is_empty() {
                ops.push(ScheduledOp {
                    actions,
                    ..op.clone()
                });
            }
        }
        Schedule {
            nodes: self.nodes.iter().filter(|n| known(n)).cloned().collect(),
            time_limit: self.time_limit,
            ops,
        }
    }

    /// The schedule as JSON.
    pub fn to_json(&self) -> String {
        let ops: Vec<serde_json::Value> = self
            .ops
            .iter()
            .map(|o| {
                serde_json::json!({
                    "time": o.time,
                    "f": o.f,
                    "value": o.value,
                    "actions": actions_value(&o.actions),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "nodes": self.nodes,
            "time-limit": self.time_limit.map(|d| d.as_secs_f64()),
            "ops": ops,
        });
        serde_json::to_string_pretty(&doc).expect("a schedule is JSON") + "\n"
    }

    /// Reads a schedule from JSON text.
    pub fn from_json(text: &str) -> Result<Schedule, ScheduleError> {
        let bad = |why: String| ScheduleError(format!("not a schedule: {why}"));
        let doc: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let names = |v: &Value| -> Option<Vec<String>> {
            v.as_slice()?
                .iter()
                .map(|n| n.as_name().map(str::to_string))
                .collect()
        };
        let nodes = doc
            .get("nodes")
            .and_then(names)
            .ok_or_else(|| bad("`nodes` must list node names".into()))?;
        let time_limit = match doc.get("time-limit") {
            None | Some(Value::Nil) => None,
            Some(Value::Int(s)) if *s > 0 => Some(Duration::from_secs(*s as u64)),
            Some(Value::Float(s)) => Some(
                Duration::try_from_secs_f64(*s)
                    .map_err(|_| bad(format!("`time-limit` {s} is not a duration")))?,
            ),
            Some(other) => return Err(bad(format!("`time-limit` {other} is not seconds"))),
        };
        let mut ops = Vec::new();
        let listed = doc.get("ops").and_then(Value::as_slice);
        for (i, op) in listed
            .ok_or_else(|| bad("`ops` must be a list".into()))?
            .iter()
            .enumerate()
        {
            let field = |k: &str| op.get(k).ok_or_else(|| bad(format!("op {i} has no `{k}`")));
            let time = field("time")?
                .as_int()
                .filter(|t| *t >= 0)
                .ok_or_else(|| bad(format!("op {i}: `time` must be ns, at least 0")))?;
            let f = field("f")?
                .as_name()
                .ok_or_else(|| bad(format!("op {i}: `f` must be a name")))?
                .to_string();
            let actions = actions_of(field("actions")?).map_err(|e| bad(format!("op {i}: {e}")))?;
            for a in &actions {
                let named = a.node().into_iter().chain(match a {
                    Action::Partition(g) => g
                        .iter()
                        .flat_map(|(n, d)| std::iter::once(n).chain(d))
                        .map(String::as_str)
                        .collect(),
                    _ => Vec::new(),
                });
                for n in named {
                    if !nodes.iter().any(|m| m == n) {
                        return Err(bad(format!("op {i} names node {n}, not in `nodes`")));
                    }
                }
            }
            ops.push(ScheduledOp {
                time,
                f,
                value: op.get("value").cloned().unwrap_or(Value::Nil),
                actions,
            });
        }
        if ops.windows(2).any(|w| w[0].time > w[1].time) {
            return Err(bad("ops must be in time order".into()));
        }
        Ok(Schedule {
            nodes,
            time_limit,
            ops,
        })
    }

    /// Reads `path` (a `schedule.json`, or a run folder holding one).
    pub fn load(path: &Path) -> Result<Schedule, ScheduleError> {
        let file = if path.is_dir() {
            path.join(SCHEDULE_JSON)
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file)
            .map_err(|e| ScheduleError(format!("{}: {e}", file.display())))?;
        Schedule::from_json(&text).map_err(|e| ScheduleError(format!("{}: {e}", file.display())))
    }

    /// The nemesis ops to replay it: each invoked at its recorded offset (or as soon as
    /// the nemesis is free after it), with its recorded `f` and value. Ops at or after
    /// `before` are left out (the final heal is the test's own).
    pub fn replay_gen(&self, before: Duration) -> Gen {
        let before = before.as_nanos() as i64;
        seq(self
            .ops
            .iter()
            .filter(|o| o.time < before)
            .map(|o| template(&o.f).value(o.value.clone()).time(o.time))
            .collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, OpType};

    fn nemesis_op(kind: OpType, f: &str, value: Value, time: i64) -> Op {
        Op::new(kind, Process::Nemesis, f, value).with_time(time)
    }

    #[test]
    fn a_history_gives_its_schedule_which_reads_back_from_json() {
        let kill = vec![Action::Kill("n2".into())];
        let start = vec![Action::Start("n2".into())];
        let ops = vec![
            nemesis_op(OpType::Info, "start", Value::Nil, 1_000),
            nemesis_op(OpType::Info, "start", actions_value(&kill), 2_000),
            nemesis_op(OpType::Info, "stop", Value::Nil, 3_000),
            nemesis_op(OpType::Info, "stop", actions_value(&start), 4_000),
        ];
        let history = History::from_ops(ops).unwrap();
        let nodes: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
        let schedule = Schedule::from_history(&history, &nodes, Some(Duration::from_secs(4)));
        assert_eq!(schedule.ops.len(), 2);
        assert_eq!(schedule.ops[0].time, 1_000);
        assert_eq!(schedule.ops[1].actions, start);
        let back = Schedule::from_json(&schedule.to_json()).unwrap();
        assert_eq!(back, schedule);
    }

    #[test]
    fn a_schedule_naming_an_unknown_node_or_out_of_order_is_refused() {
        let text = r#"{"nodes":["n1"],"ops":[{"time":5,"f":"start","actions":[{"kill":"n9"}]}]}"#;
        let e = Schedule::from_json(text).unwrap_err().to_string();
        assert!(e.contains("n9"), "{e}");
        let text = r#"{"nodes":["n1"],"ops":[{"time":5,"f":"start","actions":[]},{"time":4,"f":"stop","actions":[]}]}"#;
        assert!(Schedule::from_json(text).is_err());
        assert!(Schedule::from_json("[1,2]").is_err());
    }
}
