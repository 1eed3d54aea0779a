//! How the modeled cluster suffers the core's fault actions ([`jepsen_core::fault::Action`]);
//! which actions a fault performs, and how they are recorded, is the core's
//! ([`jepsen_core::fault::FaultNemesis`]).
//!
//! - a partition clogs the links its grudge cuts between cluster nodes (never the control
//!   node's links: the clients keep reaching every node, as in Jepsen, where the control
//!   machine is outside the iptables rules); healing unclogs them all;
//! - kill: the node's tasks stop, its unsynced writes are lost; start: it runs again from
//!   its disk;
//! - pause: connections are accepted, nothing answers; resume: it works off its backlog;
//! - wipe-partition-store: nothing beyond the kill before it: the partition processor's
//!   state lives only in memory and is rebuilt from the log on start (the log servers'
//!   records are the log, not the partition store);
//! - shaping: packet loss or added latency on every message; unshape: the baseline again.

use super::cluster::SimCluster;
use super::trace;
use jepsen_core::fault::{Action, Fault, FaultEffector, FaultNemesis, FaultOptions, Netem};
use jepsen_core::runtime::{LocalBoxFuture, SharedRng};
use std::cell::RefCell;
use std::rc::Rc;

/// The modeled cluster as the nemesis's effector.
pub struct SimEffector {
    cluster: Rc<RefCell<SimCluster>>,
}

impl SimEffector {
    pub fn new(cluster: Rc<RefCell<SimCluster>>) -> SimEffector {
        SimEffector { cluster }
    }
}

impl SimCluster {
    /// Performs one fault action on the modeled cluster.
    pub fn apply(&mut self, action: &Action) {
        let network = self.network_mut();
        match action {
            Action::Partition(grudge) => network.partition(grudge),
            Action::HealNetwork => network.heal_partition(),
            Action::Kill(node) => network.kill(node),
            Action::Start(node) => network.restart(node),
            Action::Pause(node) => network.pause(node),
            Action::Resume(node) => network.resume(node),
            Action::WipePartitionStore(_) => {}
            Action::Shape(Netem::Loss(rate)) => network.set_packet_loss(*rate),
            Action::Shape(Netem::Delay(extra)) => network.start_latency_spike(*extra),
            Action::Unshape => {
                let rate = network.baseline().packet_loss;
                network.set_packet_loss(rate);
                network.end_latency_spike();
            }
        }
    }

    /// Undoes every fault: unclogs all links, restores loss and latency, resumes paused
    /// nodes and restarts killed ones.
    pub fn heal(&mut self) {
        self.network_mut().heal();
    }
}

impl FaultEffector for SimEffector {
    fn apply<'a>(&'a self, action: &'a Action) -> LocalBoxFuture<'a, Result<(), String>> {
        self.cluster.borrow_mut().apply(action);
        trace::event("nemesis", || action.label());
        Box::pin(async { Ok(()) })
    }
}

/// The nemesis of a simulated test: the core's, inflicting `fault` on `cluster` with
/// victims drawn from `rng` (e.g. the runtime's `"nemesis"` stream).
pub fn sim_nemesis(cluster: Rc<RefCell<SimCluster>>, fault: Fault, rng: SharedRng) -> FaultNemesis {
    let nodes = cluster.borrow().nodes();
    let options: FaultOptions = cluster.borrow().options().faults.clone();
    FaultNemesis::planned(
        vec![fault],
        nodes,
        options,
        rng,
        Rc::new(SimEffector::new(cluster)),
    )
}
