//! The fault windows of a run, read from the nemesis ops in its history, so that the
//! plots and the timeline can shade when something was broken.
//!
//! A nemesis op whose `:f` starts a fault (`start…`, `kill…`, `pause…`, `partition…`)
//! opens a window; one that ends it (`stop…`, `heal…`, `resume…`, `restart…`) closes it.
//! Jepsen records each nemesis op twice (invocation and completion, both `:info`), so a
//! window runs from the first op that starts it to the last op that ends it. A window
//! still open when the history ends is closed there. Its label is the value the starting
//! op completed with (the node killed, the grudge), as Jepsen's plots name faults.

use super::html::{truncate, value_text};
use crate::fault::action::actions_label;
use crate::history::History;

/// One fault window, in history time (ns).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultInterval {
    pub start: i64,
    pub end: i64,
    /// The fault's `:f` and what it hit, e.g. `start n2`.
    pub label: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Edge {
    Starts,
    Ends,
}

fn edge(f: &str) -> Option<Edge> {
    const STARTS: [&str; 4] = ["start", "kill", "pause", "partition"];
    const ENDS: [&str; 4] = ["stop", "heal", "resume", "restart"];
    if STARTS.iter().any(|s| f.starts_with(s)) {
        Some(Edge::Starts)
    } else if ENDS.iter().any(|s| f.starts_with(s)) {
        Some(Edge::Ends)
    } else {
        None
    }
}

/// The fault windows of `history`, in time order.
pub fn fault_intervals(history: &History) -> Vec<FaultInterval> {
    let mut out: Vec<FaultInterval> = Vec::new();
    let mut open: Option<FaultInterval> = None;
    let mut last_edge = None;
    for op in history.ops.iter().filter(|op| !op.is_client()) {
        let Some(e) = edge(&op.f) else { continue };
        match e {
            Edge::Starts => {
                let window = open.get_or_insert_with(|| FaultInterval {
                    start: op.time,
                    end: op.time,
                    label: op.f.clone(),
                });
                if !op.value.is_nil() && window.label == op.f {
                    let what = actions_label(&op.value).unwrap_or_else(|| value_text(&op.value));
                    window.label = format!("{} {}", op.f, truncate(&what, 60));
                }
            }
            Edge::Ends => {
                if let Some(mut window) = open.take() {
                    window.end = op.time;
                    out.push(window);
                } else if last_edge == Some(Edge::Ends) {
                    if let Some(window) = out.last_mut() {
                        window.end = op.time;
                    }
                }
            }
        }
        last_edge = Some(e);
    }
    if let Some(mut window) = open {
        window.end = history.ops.last().map_or(window.start, |op| op.time);
        out.push(window);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, OpType, Process, Value};

    fn nemesis(f: &str, value: Value, time: i64) -> Op {
        Op::new(OpType::Info, Process::Nemesis, f, value).with_time(time)
    }

    #[test]
    fn pairs_starts_with_stops_across_both_halves() {
        let h = History::from_ops(vec![
            nemesis("start", Value::Nil, 10),
            nemesis("start", Value::from("n2"), 11),
            Op::invoke(0, "read", Value::Nil).with_time(12),
            Op::invoke(0, "read", Value::Nil)
                .complete(OpType::Ok)
                .with_time(13),
            nemesis("stop", Value::Nil, 20),
            nemesis("stop", Value::Vec(vec![Value::from("n2")]), 21),
            nemesis("kill", Value::Nil, 30),
            nemesis("kill", Value::Nil, 31),
        ])
        .unwrap();
        let windows = fault_intervals(&h);
        assert_eq!(
            windows,
            vec![
                FaultInterval {
                    start: 10,
                    end: 21,
                    label: "start n2".into()
                },
                // Still open at the end: closed at the last op.
                FaultInterval {
                    start: 30,
                    end: 31,
                    label: "kill".into()
                },
            ]
        );
    }

    #[test]
    fn ignores_other_nemesis_ops_and_clients() {
        let h = History::from_ops(vec![
            nemesis("noop", Value::Nil, 1),
            nemesis("noop", Value::Nil, 2),
            Op::invoke(0, "start", Value::Nil).with_time(3),
        ])
        .unwrap();
        assert!(fault_intervals(&h).is_empty());
    }

    #[test]
    fn a_window_started_by_recorded_actions_is_labelled_by_them() {
        use crate::fault::action::{actions_value, Action};
        let kill = actions_value(&[Action::Kill("n2".into())]);
        let h = History::from_ops(vec![
            nemesis("start", Value::Nil, 10),
            nemesis("start", kill, 11),
            nemesis("stop", Value::Nil, 20),
            nemesis("stop", Value::Nil, 21),
        ])
        .unwrap();
        assert_eq!(fault_intervals(&h)[0].label, "start kill n2");
    }
}
