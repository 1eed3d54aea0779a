//! The fault vocabulary, shared by both worlds: the named nemesis faults a test may ask
//! for, and the network partitions ("grudges") they cut, computed as pure functions of
//! the node list and a seeded rng. Below it: [`action`] (what a nemesis does, and how it
//! is recorded), [`plan`] (which actions a fault performs), [`nemesis`] (the one nemesis,
//! over a world's [`nemesis::FaultEffector`]) and [`schedule`] (a run's actions, replayable).
//!
//! A fault is a named knob (as TigerBeetle's VOPR names its faults); each world decides
//! how to inflict it (madsim's network in the simulation, iptables and docker on a real
//! cluster). A grudge maps each node to the set of nodes it drops traffic *from*, as
//! Jepsen's `jepsen.nemesis` grudges do; a node absent from the map drops nothing.

pub mod action;
pub mod episodes;
pub mod nemesis;
pub mod plan;
pub mod schedule;

pub use action::{Action, InForce, Netem};
pub use episodes::FaultTiming;
pub use nemesis::{FaultEffector, FaultNemesis};
pub use plan::FaultOptions;
pub use schedule::{Schedule, SCHEDULE_JSON};

use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// For each node, the nodes whose traffic it drops. Nodes not in the map drop nothing.
pub type Grudge = BTreeMap<String, BTreeSet<String>>;

/// A kind of fault a nemesis may inject, by its Jepsen name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// Isolate one random node from all others (Jepsen's `partition-random-node`).
    PartitionRandomNode,
    /// Cut the cluster into two random halves, the smaller first.
    PartitionRandomHalves,
    /// Every node sees a majority, but no two nodes see the same one.
    PartitionMajoritiesRing,
    /// Two halves joined by one bridge node that sees everyone.
    PartitionBridge,
    /// A random smaller half stops hearing the rest, which still hears it.
    PartitionOneWay,
    /// Kill (SIGKILL) the server on a random node, restart it on stop.
    KillRandomNode,
    /// Pause (SIGSTOP) the server on a random node, resume it on stop.
    PauseRandomNode,
    /// Kill a random node, throw away its partition store, restart it.
    NukePartitionState,
    /// Drop a fraction of packets between nodes.
    PacketLoss,
    /// Add a burst of latency between nodes.
    LatencySpike,
    /// No faults.
    None,
}

impl Fault {
    /// Every fault, in the order their names are listed in errors and help.
    pub const ALL: [Fault; 11] = [
        Fault::PartitionRandomNode,
        Fault::PartitionRandomHalves,
        Fault::PartitionMajoritiesRing,
        Fault::PartitionBridge,
        Fault::PartitionOneWay,
        Fault::KillRandomNode,
        Fault::PauseRandomNode,
        Fault::NukePartitionState,
        Fault::PacketLoss,
        Fault::LatencySpike,
        Fault::None,
    ];

    /// The Jepsen name, as given on the command line and written to `test.json`.
    pub fn name(self) -> &'static str {
        match self {
            Fault::PartitionRandomNode => "partition-random-node",
            Fault::PartitionRandomHalves => "partition-random-halves",
            Fault::PartitionMajoritiesRing => "partition-majorities-ring",
            Fault::PartitionBridge => "partition-bridge",
            Fault::PartitionOneWay => "partition-one-way",
            Fault::KillRandomNode => "kill-random-node",
            Fault::PauseRandomNode => "pause-random-node",
            Fault::NukePartitionState => "nuke-partition-state",
            Fault::PacketLoss => "packet-loss",
            Fault::LatencySpike => "latency-spike",
            Fault::None => "none",
        }
    }

    /// Whether this fault cuts the network by a grudge.
    pub fn is_partition(self) -> bool {
        matches!(
            self,
            Fault::PartitionRandomNode
                | Fault::PartitionRandomHalves
                | Fault::PartitionMajoritiesRing
                | Fault::PartitionBridge
                | Fault::PartitionOneWay
        )
    }

    /// The grudge this fault cuts among `nodes`, or `None` if it is not a partition.
    pub fn grudge<R: Rng + ?Sized>(self, nodes: &[String], rng: &mut R) -> Option<Grudge> {
        match self {
            Fault::PartitionRandomNode => Some(isolate_random_node(nodes, rng)),
            Fault::PartitionRandomHalves => Some(random_halves(nodes, rng)),
            Fault::PartitionMajoritiesRing => Some(majorities_ring(nodes, rng)),
            Fault::PartitionBridge => Some(bridge(nodes, rng)),
            Fault::PartitionOneWay => Some(one_way(nodes, rng)),
            _ => None,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fault name that is not in the vocabulary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownFault(pub String);

impl fmt::Display for UnknownFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let valid: Vec<&str> = Fault::ALL.iter().map(|k| k.name()).collect();
        write!(
            f,
            "unknown nemesis fault `{}`; valid faults: {}",
            self.0,
            valid.join(", ")
        )
    }
}

impl std::error::Error for UnknownFault {}

/// Faults from a comma-separated list of names (`none` alone: no fault), each once.
pub fn parse_faults(text: &str) -> Result<Vec<Fault>, String> {
    let mut faults = Vec::new();
    for name in text.split(',').map(str::trim) {
        let fault: Fault = name.parse().map_err(|e: UnknownFault| e.to_string())?;
        if fault == Fault::None {
            continue;
        }
        if faults.contains(&fault) {
            return Err(format!("{fault} is given twice"));
        }
        faults.push(fault);
    }
    Ok(faults)
}

/// The names of `faults` joined by commas, `none` for no fault.
pub fn faults_name(faults: &[Fault]) -> String {
    if faults.is_empty() {
        return Fault::None.name().to_string();
    }
    let names: Vec<&str> = faults.iter().map(|f| f.name()).collect();
    names.join(",")
}

impl FromStr for Fault {
    type Err = UnknownFault;

    fn from_str(s: &str) -> Result<Fault, UnknownFault> {
        Fault::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownFault(s.to_string()))
    }
}

/// The smallest majority of `n` nodes.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Jepsen's `complete-grudge`: no node hears any node outside its own component.
pub fn complete_grudge(components: &[Vec<String>]) -> Grudge {
    let universe: BTreeSet<String> = components.iter().flatten().cloned().collect();
    let mut grudge = Grudge::new();
    for component in components {
        let own: BTreeSet<String> = component.iter().cloned().collect();
        let others: BTreeSet<String> = universe.difference(&own).cloned().collect();
        for node in component {
            grudge.insert(node.clone(), others.clone());
        }
    }
    grudge
}

/// Jepsen's `bisect`: cuts `nodes` in two, the smaller half first.
fn bisect(nodes: &[String]) -> [Vec<String>; 2] {
    let (a, b) = nodes.split_at(nodes.len() / 2);
    [a.to_vec(), b.to_vec()]
}

fn shuffled<R: Rng + ?Sized>(nodes: &[String], rng: &mut R) -> Vec<String> {
    let mut v = nodes.to_vec();
    v.shuffle(rng);
    v
}

/// One random node hears nobody and nobody hears it.
pub fn isolate_random_node<R: Rng + ?Sized>(nodes: &[String], rng: &mut R) -> Grudge {
    let Some(loner) = nodes.choose(rng).cloned() else {
        return Grudge::new();
    };
    let rest: Vec<String> = nodes.iter().filter(|n| **n != loner).cloned().collect();
    complete_grudge(&[vec![loner], rest])
}

/// Two random halves (the smaller first) that do not hear each other.
pub fn random_halves<R: Rng + ?Sized>(nodes: &[String], rng: &mut R) -> Grudge {
    complete_grudge(&bisect(&shuffled(nodes, rng)))
}

/// Jepsen's `bridge` over a shuffled node list: two halves that do not hear each other,
/// except the bridge (the first node of the larger half), which hears and is heard by all.
pub fn bridge<R: Rng + ?Sized>(nodes: &[String], rng: &mut R) -> Grudge {
    let halves = bisect(&shuffled(nodes, rng));
    let Some(bridge) = halves[1].first().cloned() else {
        return Grudge::new();
    };
    let mut grudge = complete_grudge(&halves);
    grudge.remove(&bridge);
    for dropped in grudge.values_mut() {
        dropped.remove(&bridge);
    }
    grudge
}

/// A one-way partition: a random smaller half drops all traffic from the other nodes,
/// which keep hearing it. (Jepsen has no such grudge; this is ours.)
pub fn one_way<R: Rng + ?Sized>(nodes: &[String], rng: &mut R) -> Grudge {
    let [deaf, rest] = bisect(&shuffled(nodes, rng));
    let rest: BTreeSet<String> = rest.into_iter().collect();
    deaf.into_iter().map(|n| (n, rest.clone())).collect()
}

/// Jepsen's `majorities-ring`: every node sees a majority (itself included), but no two
/// nodes see the same majority. Up to 5 nodes the exact ring: nodes in a random ring,
/// each node seeing the window of a majority centred on it. Beyond, a randomized greedy
/// construction that links least-connected nodes until each sees a majority.
pub fn majorities_ring<R: Rng + ?Sized>(nodes: &[String], rng: &mut R) -> Grudge {
    if nodes.len() <= 5 {
        majorities_ring_exact(nodes, rng)
    } else {
        majorities_ring_greedy(nodes, rng)
    }
}

fn majorities_ring_exact<R: Rng + ?Sized>(nodes: &[String], rng: &mut R) -> Grudge {
    let ring = shuffled(nodes, rng);
    let n = ring.len();
    let m = majority(n);
    let universe: BTreeSet<String> = nodes.iter().cloned().collect();
    let mut grudge = Grudge::new();
    for start in 0..n {
        let window: BTreeSet<String> = (0..m).map(|k| ring[(start + k) % n].clone()).collect();
        let centre = ring[(start + m / 2) % n].clone();
        grudge.insert(centre, universe.difference(&window).cloned().collect());
    }
    grudge
}

fn majorities_ring_greedy<R: Rng + ?Sized>(nodes: &[String], rng: &mut R) -> Grudge {
    let n = nodes.len();
    let m = majority(n);
    // Each node starts seeing only itself.
    let mut sees: Vec<BTreeSet<usize>> = (0..n).map(|i| BTreeSet::from([i])).collect();
    loop {
        // Nodes in a random order, then stably by how many they see: ties stay random.
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(rng);
        order.sort_by_key(|&i| sees[i].len());
        let a = order[0];
        if sees[a].len() >= m {
            break;
        }
        let b = *order
            .iter()
            .find(|&&b| !sees[a].contains(&b))
            .expect("a node seeing less than a majority has someone left to see");
        sees[a].insert(b);
        sees[b].insert(a);
    }
    (0..n)
        .map(|i| {
            let dropped = (0..n)
                .filter(|j| !sees[i].contains(j))
                .map(|j| nodes[j].clone())
                .collect();
            (nodes[i].clone(), dropped)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    /// The nodes `node` hears: everyone but those it drops.
    fn sees(grudge: &Grudge, all: &[String], node: &str) -> BTreeSet<String> {
        let empty = BTreeSet::new();
        let dropped = grudge.get(node).unwrap_or(&empty);
        all.iter()
            .filter(|n| !dropped.contains(*n))
            .cloned()
            .collect()
    }

    #[test]
    fn names_round_trip_and_unknown_names_list_the_valid_ones() {
        for f in Fault::ALL {
            assert_eq!(f.to_string().parse::<Fault>(), Ok(f));
        }
        let err = "partition-everything".parse::<Fault>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("partition-everything"), "{text}");
        assert!(text.contains("partition-majorities-ring"), "{text}");
        assert!(text.contains("kill-random-node"), "{text}");
    }

    #[test]
    fn isolating_a_node_cuts_it_off_both_ways() {
        let all = nodes(5);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let g = isolate_random_node(&all, &mut rng);
        let loners: Vec<&String> = g
            .iter()
            .filter(|(_, d)| d.len() == 4)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(loners.len(), 1);
        let loner = loners[0];
        for n in all.iter().filter(|n| *n != loner) {
            assert_eq!(g[n], BTreeSet::from([loner.clone()]));
        }
    }

    #[test]
    fn random_halves_are_a_clean_minority_majority_split() {
        let all = nodes(5);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let g = random_halves(&all, &mut rng);
        let mut sizes: Vec<usize> = all.iter().map(|n| sees(&g, &all, n).len()).collect();
        sizes.sort();
        assert_eq!(sizes, vec![2, 2, 3, 3, 3]);
        // Symmetric: a drops b iff b drops a.
        for (a, dropped) in &g {
            for b in dropped {
                assert!(g[b].contains(a));
            }
        }
    }

    #[test]
    fn the_bridge_sees_everyone_and_the_halves_do_not_see_each_other() {
        let all = nodes(5);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let g = bridge(&all, &mut rng);
        let bridges: Vec<&String> = all.iter().filter(|n| !g.contains_key(*n)).collect();
        assert_eq!(bridges.len(), 1);
        let b = bridges[0];
        for (n, dropped) in &g {
            assert!(!dropped.contains(b), "{n} must hear the bridge");
            assert_eq!(
                sees(&g, &all, n).len(),
                if dropped.len() == 2 { 3 } else { 2 }
            );
        }
    }

    #[test]
    fn one_way_is_asymmetric() {
        let all = nodes(5);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let g = one_way(&all, &mut rng);
        assert_eq!(g.len(), 2, "the smaller half is deaf");
        for (deaf, dropped) in &g {
            assert_eq!(dropped.len(), 3);
            for other in dropped {
                assert!(!g.contains_key(other), "{other} still hears {deaf}");
            }
        }
    }

    #[test]
    fn majorities_ring_gives_every_node_its_own_majority() {
        for n in [3, 4, 5, 6, 7, 9] {
            for seed in 0..20 {
                let all = nodes(n);
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let g = majorities_ring(&all, &mut rng);
                let views: Vec<BTreeSet<String>> = all.iter().map(|x| sees(&g, &all, x)).collect();
                for (x, v) in all.iter().zip(&views) {
                    assert!(v.contains(x));
                    assert!(v.len() >= majority(n), "n={n} seed={seed} {x} sees {v:?}");
                }
                if n <= 5 {
                    let distinct: BTreeSet<&BTreeSet<String>> = views.iter().collect();
                    assert_eq!(distinct.len(), n, "n={n} seed={seed}: {views:?}");
                }
            }
        }
    }

    #[test]
    fn grudges_depend_only_on_the_seed() {
        let all = nodes(7);
        for f in Fault::ALL.into_iter().filter(|f| f.is_partition()) {
            let a = f.grudge(&all, &mut ChaCha8Rng::seed_from_u64(9));
            let b = f.grudge(&all, &mut ChaCha8Rng::seed_from_u64(9));
            assert_eq!(a, b, "{f}");
        }
        assert_eq!(
            Fault::KillRandomNode.grudge(&all, &mut ChaCha8Rng::seed_from_u64(9)),
            None
        );
    }
}
