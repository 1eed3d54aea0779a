//! Fault actions: the one vocabulary in which both worlds inflict and undo faults, and the
//! one way each is written in a history and a schedule.
//!
//! A nemesis op's completion value is the vector of actions it performed, each a map with
//! one key, e.g. `[{:kill "n2"}]`, `[{:partition {"n1" ["n2" "n3"], …}}]`,
//! `[{:heal-network nil} {:start "n2"}]`. Node names are the test's logical names
//! (`n1` … `nN`) in both worlds; a world maps them to its own nodes (node i of a nodes
//! file is `n<i>`). [`InForce`] is what the actions so far leave in force.

use super::Grudge;
use crate::history::Value;
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

/// How a shaping action changes every link between nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum Netem {
    /// Each message is lost with this probability.
    Loss(f64),
    /// Each message takes this much longer.
    Delay(Duration),
}

/// One thing a nemesis does to the cluster.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Each node drops what it hears from the nodes the grudge lists for it (added to any
    /// cut already in force).
    Partition(Grudge),
    /// Every cut is healed.
    HealNetwork,
    /// The node's server is killed (SIGKILL: unsynced writes are lost).
    Kill(String),
    /// A killed node's server is started again.
    Start(String),
    /// The node's server is paused (SIGSTOP).
    Pause(String),
    /// A paused node's server continues (SIGCONT).
    Resume(String),
    /// A killed node's partition store is thrown away (it restarts from the log).
    WipePartitionStore(String),
    /// Every link between nodes is shaped.
    Shape(Netem),
    /// Shaping ends: the network's baseline again.
    Unshape,
}

/// Why a value is not an action.
#[derive(Clone, Debug, PartialEq)]
pub struct BadAction(pub String);

impl fmt::Display for BadAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a fault action: {}", self.0)
    }
}

impl std::error::Error for BadAction {}

impl Action {
    /// The action's name, the key of its encoding.
    /// Whether this action inflicts a fault (rather than undoing one).
    pub fn inflicts(&self) -> bool {
        matches!(
            self,
            Action::Partition(_)
                | Action::Kill(_)
                | Action::Pause(_)
                | Action::WipePartitionStore(_)
                | Action::Shape(_)
        )
    }

    pub fn name(&self) -> &'static str {
        match self {
            Action::Partition(_) => "partition",
            Action::HealNetwork => "heal-network",
            Action::Kill(_) => "kill",
            Action::Start(_) => "start",
            Action::Pause(_) => "pause",
            Action::Resume(_) => "resume",
            Action::WipePartitionStore(_) => "wipe-partition-store",
            Action::Shape(_) => "shape",
            Action::Unshape => "unshape",
        }
    }

    /// The node a single-node action acts on.
    pub fn node(&self) -> Option<&str> {
        match self {
            Action::Kill(n)
            | Action::Start(n)
            | Action::Pause(n)
            | Action::Resume(n)
            | Action::WipePartitionStore(n) => Some(n),
            _ => None,
        }
    }

    /// The action as recorded: a map with one key, its name.
    pub fn to_value(&self) -> Value {
        let argument = match self {
            Action::Partition(grudge) => Value::Map(
                grudge
                    .iter()
                    .map(|(node, dropped)| {
                        (
                            Value::Str(node.clone()),
                            Value::Vec(dropped.iter().cloned().map(Value::Str).collect()),
                        )
                    })
                    .collect(),
            ),
            Action::Shape(Netem::Loss(rate)) => {
                Value::Map(vec![(Value::keyword("loss"), Value::Float(*rate))])
            }
            Action::Shape(Netem::Delay(d)) => Value::Map(vec![(
                Value::keyword("delay-ms"),
                Value::Int(d.as_millis() as i64),
            )]),
            Action::HealNetwork | Action::Unshape => Value::Nil,
            other => Value::Str(other.node().expect("a node action").to_string()),
        };
        Value::Map(vec![(Value::keyword(self.name()), argument)])
    }

    /// Reads an action back from its recorded value (EDN or JSON alike).
    pub fn from_value(value: &Value) -> Result<Action, BadAction> {
        let bad = || BadAction(value.to_string());
        let Value::Map(entries) = value else {
            return Err(bad());
        };
        let [(key, argument)] = entries.as_slice() else {
            return Err(bad());
        };
        let node = || argument.as_name().map(str::to_string).ok_or_else(bad);
        Ok(match key.as_name().ok_or_else(bad)? {
            "partition" => {
                let Value::Map(cuts) = argument else {
                    return Err(bad());
                };
                let mut grudge = Grudge::new();
                for (node, dropped) in cuts {
                    let node = node.as_name().ok_or_else(bad)?.to_string();
                    let dropped: Option<BTreeSet<String>> = dropped
                        .as_slice()
                        .ok_or_else(bad)?
                        .iter()
                        .map(|d| d.as_name().map(str::to_string))
                        .collect();
                    grudge.insert(node, dropped.ok_or_else(bad)?);
                }
                Action::Partition(grudge)
            }
            "heal-network" => Action::HealNetwork,
            "kill" => Action::Kill(node()?),
            "start" => Action::Start(node()?),
            "pause" => Action::Pause(node()?),
            "resume" => Action::Resume(node()?),
            "wipe-partition-store" => Action::WipePartitionStore(node()?),
            "shape" => {
                if let Some(rate) = argument.get("loss") {
                    match rate {
                        Value::Float(r) => Action::Shape(Netem::Loss(*r)),
                        Value::Int(r) => Action::Shape(Netem::Loss(*r as f64)),
                        _ => return Err(bad()),
                    }
                } else {
                    let ms = argument.get("delay-ms").and_then(Value::as_int);
                    let ms = ms.and_then(|m| u64::try_from(m).ok()).ok_or_else(bad)?;
                    Action::Shape(Netem::Delay(Duration::from_millis(ms)))
                }
            }
            "unshape" => Action::Unshape,
            _ => return Err(bad()),
        })
    }

    /// A few words for people: `kill n2`, `partition n1 | n2 n3`, `heal network`.
    pub fn label(&self) -> String {
        match self {
            Action::Partition(grudge) => {
                let isolated: Vec<&String> = grudge
                    .iter()
                    .filter(|(_, d)| !d.is_empty())
                    .map(|(n, _)| n)
                    .collect();
                let names: Vec<&str> = isolated.iter().map(|s| s.as_str()).collect();
                format!("partition {}", names.join(" "))
            }
            Action::HealNetwork => "heal network".to_string(),
            Action::Shape(Netem::Loss(r)) => format!("loss {:.0}%", r * 100.0),
            Action::Shape(Netem::Delay(d)) => format!("delay {} ms", d.as_millis()),
            Action::Unshape => "unshape".to_string(),
            other => format!("{} {}", other.name(), other.node().unwrap_or("")),
        }
    }
}

/// A nemesis op's completion value: the actions it performed, in order.
pub fn actions_value(actions: &[Action]) -> Value {
    Value::Vec(actions.iter().map(Action::to_value).collect())
}

/// The actions a nemesis completion recorded (empty for a value that holds none).
pub fn actions_of(value: &Value) -> Result<Vec<Action>, BadAction> {
    match value {
        Value::Vec(items) => items.iter().map(Action::from_value).collect(),
        Value::Nil => Ok(Vec::new()),
        other => Err(BadAction(other.to_string())),
    }
}

/// A nemesis completion's actions in a few words (`kill n2, heal network`), or `None` when
/// the value records no action (nil, an empty list, or another tool's value).
pub fn actions_label(value: &Value) -> Option<String> {
    let actions = actions_of(value).ok().filter(|a| !a.is_empty())?;
    let labels: Vec<String> = actions.iter().map(Action::label).collect();
    Some(labels.join(", "))
}

/// What the actions so far leave in force.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InForce {
    /// Every cut in force: for each node, whom it does not hear.
    pub grudge: Grudge,
    pub killed: BTreeSet<String>,
    pub paused: BTreeSet<String>,
    pub shaped: Option<Netem>,
}

impl InForce {
    /// Notes that `action` was performed.
    pub fn apply(&mut self, action: &Action) {
        match action {
            Action::Partition(g) => {
                for (node, dropped) in g {
                    self.grudge
                        .entry(node.clone())
                        .or_default()
                        .extend(dropped.iter().cloned());
                }
                self.grudge.retain(|_, d| !d.is_empty());
            }
            Action::HealNetwork => self.grudge.clear(),
            Action::Kill(n) => {
                self.killed.insert(n.clone());
            }
            Action::Start(n) => {
                self.killed.remove(n);
            }
            Action::Pause(n) => {
                self.paused.insert(n.clone());
            }
            Action::Resume(n) => {
                self.paused.remove(n);
            }
            Action::WipePartitionStore(_) => {}
            Action::Shape(netem) => self.shaped = Some(netem.clone()),
            Action::Unshape => self.shaped = None,
        }
    }

    /// Whether no fault is in force.
    pub fn is_empty(&self) -> bool {
        self.grudge.is_empty()
            && self.killed.is_empty()
            && self.paused.is_empty()
            && self.shaped.is_none()
    }

    /// The nodes neither killed nor paused, in `nodes`' order.
    pub fn running<'a>(&self, nodes: &'a [String]) -> Vec<&'a String> {
        nodes
            .iter()
            .filter(|n| !self.killed.contains(*n) && !self.paused.contains(*n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::parse_edn_values;

    fn all_kinds() -> Vec<Action> {
        let grudge: Grudge = [
            ("n1".to_string(), BTreeSet::from(["n2".to_string()])),
            ("n2".to_string(), BTreeSet::from(["n1".to_string()])),
        ]
        .into();
        vec![
            Action::Partition(grudge),
            Action::HealNetwork,
            Action::Kill("n2".into()),
            Action::Start("n2".into()),
            Action::Pause("n3".into()),
            Action::Resume("n3".into()),
            Action::WipePartitionStore("n1".into()),
            Action::Shape(Netem::Loss(0.2)),
            Action::Shape(Netem::Delay(Duration::from_millis(500))),
            Action::Unshape,
        ]
    }

    #[test]
    fn every_action_reads_back_from_its_edn_and_json_encodings() {
        let actions = all_kinds();
        let value = actions_value(&actions);
        let edn = value.to_string();
        let (from_edn, _) = parse_edn_values(&edn).unwrap().remove(0);
        assert_eq!(actions_of(&from_edn).unwrap(), actions, "{edn}");
        let json = serde_json::to_string(&value).unwrap();
        let from_json: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(actions_of(&from_json).unwrap(), actions, "{json}");
    }

    #[test]
    fn a_kill_is_one_key_map_naming_the_node() {
        assert_eq!(
            Action::Kill("n2".into()).to_value().to_string(),
            "{:kill \"n2\"}"
        );
        assert!(Action::from_value(&Value::Str("n2".into())).is_err());
    }

    #[test]
    fn in_force_follows_the_actions() {
        let mut f = InForce::default();
        for a in all_kinds() {
            f.apply(&a);
        }
        assert!(f.is_empty(), "{f:?}");
        f.apply(&Action::Kill("n1".into()));
        let nodes: Vec<String> = ["n1", "n2"].map(String::from).to_vec();
        assert_eq!(f.running(&nodes), vec![&nodes[1]]);
    }
}
