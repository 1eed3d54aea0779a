//! The named faults (`jepsen_core::fault::Fault`) inflicted on the modeled cluster, and
//! the nemesis that schedules them: `start` inflicts the configured fault, `stop` ends
//! it, teardown heals everything.
//!
//! - Partitions (random node, random halves, majorities ring, bridge, one-way): the
//!   fault's grudge, cut by clogging links between cluster nodes (never the control
//!   node's links: the clients keep reaching every node, as in Jepsen, where the
//!   control machine is outside the iptables rules). `stop` unclogs.
//! - `kill-random-node`: kills one running node (its unsynced writes are lost); `stop`
//!   restarts every killed node from its disk.
//! - `pause-random-node`: pauses one node (connections are accepted, nothing answers);
//!   `stop` resumes it.
//! - `nuke-partition-state`: kills a node and restarts it: its partition processor's
//!   state lives only in memory (rebuilt from the log), so that is what is wiped; the log
//!   servers' records stay (they are the log, not the partition store); `stop` does
//!   nothing.
//! - `packet-loss`: every message is lost with probability
//!   [`FaultOptions::packet_loss`]; `stop` restores the baseline.
//! - `latency-spike`: every message takes [`FaultOptions::latency_spike`] longer; `stop`
//!   restores the baseline.

use super::cluster::SimCluster;
use super::trace;
use jepsen_core::fault::{Fault, Grudge};
use jepsen_core::history::{Op, OpType, Value};
use jepsen_core::runtime::{ClientError, LocalBoxFuture, Nemesis, SharedRng};
use rand::seq::SliceRandom;
use rand::Rng;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// How hard the loss and latency faults hit.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultOptions {
    /// The probability that a message is lost during `packet-loss`.
    pub packet_loss: f64,
    /// The latency added to every message during `latency-spike`.
    pub latency_spike: Duration,
}

impl Default for FaultOptions {
    /// 20% loss; 500 ms more latency.
    fn default() -> Self {
        FaultOptions {
            packet_loss: 0.2,
            latency_spike: Duration::from_millis(500),
        }
    }
}

impl SimCluster {
    /// Inflicts `fault`, choosing its victims with `rng`, and returns what was done (the
    /// nemesis op's value): the grudge of a partition, the node killed or paused, the
    /// loss rate, the added latency in ms, or nil.
    pub fn start_fault<R: Rng + ?Sized>(&mut self, fault: Fault, rng: &mut R) -> Value {
        let nodes = self.nodes();
        if let Some(grudge) = fault.grudge(&nodes, rng) {
            self.network.partition(&grudge);
            return grudge_value(&grudge);
        }
        let running: Vec<String> = {
            let (killed, paused) = (self.network.killed(), self.network.paused());
            nodes
                .into_iter()
                .filter(|n| !killed.contains(n) && !paused.contains(n))
                .collect()
        };
        match fault {
            Fault::KillRandomNode | Fault::PauseRandomNode | Fault::NukePartitionState => {
                let Some(victim) = running.choose(rng).cloned() else {
                    return Value::Nil;
                };
                match fault {
                    Fault::KillRandomNode => self.network.kill(&victim),
                    Fault::PauseRandomNode => self.network.pause(&victim),
                    _ => self.network.restart(&victim),
                }
                Value::Str(victim)
            }
            Fault::PacketLoss => {
                let rate = self.options.faults.packet_loss;
                self.network.set_packet_loss(rate);
                Value::Float(rate)
            }
            Fault::LatencySpike => {
                let extra = self.options.faults.latency_spike;
                self.network.start_latency_spike(extra);
                Value::Int(extra.as_millis() as i64)
            }
            _ => Value::Nil,
        }
    }

    /// Ends `fault` (every instance of it in force), and returns what was undone.
    pub fn stop_fault(&mut self, fault: Fault) -> Value {
        if fault.is_partition() {
            let links = self.network.clogged_links();
            self.network.heal_partition();
            return Value::Int(links.len() as i64);
        }
        match fault {
            Fault::KillRandomNode => {
                let killed = self.network.killed();
                for node in &killed {
                    self.network.restart(node);
                }
                names_value(killed)
            }
            Fault::PauseRandomNode => {
                let paused = self.network.paused();
                for node in &paused {
                    self.network.resume(node);
                }
                names_value(paused)
            }
            Fault::PacketLoss => {
                let rate = self.network.baseline().packet_loss;
                self.network.set_packet_loss(rate);
                Value::Float(rate)
            }
            Fault::LatencySpike => {
                self.network.end_latency_spike();
                Value::Int(0)
            }
            _ => Value::Nil,
        }
    }

    /// Undoes every fault: unclogs all links, restores loss and latency, resumes paused
    /// nodes and restarts killed ones.
    pub fn heal(&mut self) {
        self.network.heal();
    }
}

fn names_value(names: Vec<String>) -> Value {
    Value::Vec(names.into_iter().map(Value::Str).collect())
}

/// A grudge as a value: each node and the nodes it drops traffic from.
pub fn grudge_value(grudge: &Grudge) -> Value {
    Value::Map(
        grudge
            .iter()
            .map(|(node, from)| {
                (
                    Value::Str(node.clone()),
                    Value::Set(from.iter().cloned().map(Value::Str).collect()),
                )
            })
            .collect(),
    )
}

/// The nemesis of a simulated test: `start` inflicts its fault on the cluster, `stop`
/// ends it; any other `f` fails. An op whose value names a fault (`"kill-random-node"`)
/// starts or stops that fault instead, so one nemesis can mix faults. Its teardown heals
/// the cluster.
pub struct SimNemesis {
    cluster: Rc<RefCell<SimCluster>>,
    fault: Fault,
    rng: SharedRng,
}

impl SimNemesis {
    /// Victims are drawn from `rng` (e.g. the runtime's `"nemesis"` stream).
    pub fn new(cluster: Rc<RefCell<SimCluster>>, fault: Fault, rng: SharedRng) -> SimNemesis {
        SimNemesis {
            cluster,
            fault,
            rng,
        }
    }
}

impl Nemesis for SimNemesis {
    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        let fault = match op.value.as_name() {
            Some(name) => name.parse::<Fault>(),
            None => Ok(self.fault),
        };
        let value = match (op.f.as_str(), fault) {
            (_, Err(unknown)) => Err(ClientError::new("unknown-fault", unknown.to_string())),
            ("start", Ok(fault)) => Ok(self
                .cluster
                .borrow_mut()
                .start_fault(fault, &mut *self.rng.borrow_mut())),
            ("stop", Ok(fault)) => Ok(self.cluster.borrow_mut().stop_fault(fault)),
            (other, _) => Err(ClientError::new(
                "unknown-f",
                format!("the nemesis does start and stop, not {other}"),
            )),
        };
        match &value {
            Ok(v) => trace::event("nemesis", || format!("{} {}: {v}", op.f, op.value)),
            Err(e) => trace::event("nemesis", || format!("{} {}: {e:?}", op.f, op.value)),
        }
        Box::pin(async move {
            let mut done = op.complete(OpType::Info);
            done.value = value?;
            Ok(done)
        })
    }

    fn teardown(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        self.cluster.borrow_mut().heal();
        Box::pin(async { Ok(()) })
    }

    fn fs(&self) -> Vec<String> {
        vec!["start".to_string(), "stop".to_string()]
    }
}
