//! The fault plan: which actions a nemesis op performs, as a pure function of the fault,
//! the nodes, a seeded rng and the faults in force. Both worlds use it, so the same fault
//! with the same seed inflicts the same actions, recorded the same way, in either world.

use super::action::{Action, InForce, Netem};
use super::Fault;
use rand::seq::SliceRandom;
use rand::Rng;
use std::time::Duration;

/// How hard the shaping faults hit (named knobs, the same in both worlds).
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

/// The actions that start `fault`: the fault's grudge among all nodes; a victim drawn
/// from the running nodes to kill, pause or wipe (kill, wipe, start); the network shaped.
/// Nothing when no node is left to hit.
pub fn plan_start<R: Rng + ?Sized>(
    fault: Fault,
    nodes: &[String],
    in_force: &InForce,
    options: &FaultOptions,
    rng: &mut R,
) -> Vec<Action> {
    if let Some(grudge) = fault.grudge(nodes, rng) {
        return vec![Action::Partition(grudge)];
    }
    let mut victim = || in_force.running(nodes).choose(rng).map(|n| n.to_string());
    match fault {
        Fault::KillRandomNode => victim().map(Action::Kill).into_iter().collect(),
        Fault::PauseRandomNode => victim().map(Action::Pause).into_iter().collect(),
        Fault::NukePartitionState => victim()
            .map(|n| {
                vec![
                    Action::Kill(n.clone()),
                    Action::WipePartitionStore(n.clone()),
                    Action::Start(n),
                ]
            })
            .unwrap_or_default(),
        Fault::PacketLoss => vec![Action::Shape(Netem::Loss(options.packet_loss))],
        Fault::LatencySpike => vec![Action::Shape(Netem::Delay(options.latency_spike))],
        _ => Vec::new(),
    }
}

/// The actions that end `fault` (or, with `None`, every fault in force): network first,
/// so that restarted nodes find their peers, then shaping, then paused nodes, then killed
/// ones.
pub fn plan_stop(fault: Option<Fault>, in_force: &InForce) -> Vec<Action> {
    let ends = |f: fn(Fault) -> bool| fault.is_none_or(f);
    let mut actions = Vec::new();
    if !in_force.grudge.is_empty() && ends(Fault::is_partition) {
        actions.push(Action::HealNetwork);
    }
    if in_force.shaped.is_some() && ends(|f| matches!(f, Fault::PacketLoss | Fault::LatencySpike)) {
        actions.push(Action::Unshape);
    }
    if ends(|f| f == Fault::PauseRandomNode) {
        actions.extend(in_force.paused.iter().cloned().map(Action::Resume));
    }
    if ends(|f| matches!(f, Fault::KillRandomNode | Fault::NukePartitionState)) {
        actions.extend(in_force.killed.iter().cloned().map(Action::Start));
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn nodes() -> Vec<String> {
        (1..=3).map(|i| format!("n{i}")).collect()
    }

    fn run(fault: Fault, seed: u64) -> Vec<Vec<Action>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut in_force = InForce::default();
        let mut ops = Vec::new();
        for i in 0..6 {
            let actions = if i % 2 == 0 {
                plan_start(
                    fault,
                    &nodes(),
                    &in_force,
                    &FaultOptions::default(),
                    &mut rng,
                )
            } else {
                plan_stop(None, &in_force)
            };
            actions.iter().for_each(|a| in_force.apply(a));
            ops.push(actions);
        }
        assert!(
            in_force.is_empty(),
            "{fault}: every stop heals: {in_force:?}"
        );
        ops
    }

    #[test]
    fn every_fault_starts_something_and_stops_it_and_the_seed_decides() {
        for fault in Fault::ALL {
            let ops = run(fault, 7);
            assert_eq!(ops, run(fault, 7), "{fault}");
            if fault != Fault::None {
                assert!(ops.iter().step_by(2).all(|a| !a.is_empty()), "{fault}");
                // A nuke restarts its node at once: its stop has nothing left to do.
                let stops_empty = ops.iter().skip(1).step_by(2).all(|a| a.is_empty());
                assert_eq!(stops_empty, fault == Fault::NukePartitionState, "{fault}");
            }
        }
    }

    #[test]
    fn a_stop_naming_a_fault_ends_only_that_fault() {
        let mut in_force = InForce::default();
        in_force.apply(&Action::Kill("n1".into()));
        in_force.apply(&Action::Pause("n2".into()));
        assert_eq!(
            plan_stop(Some(Fault::PauseRandomNode), &in_force),
            vec![Action::Resume("n2".into())]
        );
        assert_eq!(
            plan_stop(None, &in_force),
            vec![Action::Resume("n2".into()), Action::Start("n1".into())]
        );
    }

    #[test]
    fn victims_are_running_nodes_and_none_is_left_when_all_are_down() {
        let mut in_force = InForce::default();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..3 {
            let actions = plan_start(
                Fault::KillRandomNode,
                &nodes(),
                &in_force,
                &FaultOptions::default(),
                &mut rng,
            );
            let [Action::Kill(victim)] = actions.as_slice() else {
                panic!("{actions:?}")
            };
            assert!(!in_force.killed.contains(victim));
            in_force.apply(&actions[0]);
        }
        let none = plan_start(
            Fault::PauseRandomNode,
            &nodes(),
            &in_force,
            &FaultOptions::default(),
            &mut rng,
        );
        assert!(none.is_empty());
    }
}
