//! Swarm testing (as FoundationDB's simulator and TigerBeetle's VOPR do it): every seed
//! draws its own configuration, so a night of seeds covers many combinations of
//! workloads, faults, timings and cluster shapes instead of one. What a seed draws, from a
//! ChaCha stream of its own (independent of the simulation's):
//!
//! - 1–4 workloads at once (each on its own client threads, keys and objects);
//! - the faults: none (1 seed in 12), or 1–3 of the ten, in episodes that overlap when
//!   the gap between starts is shorter than their duration (a kill during a partition,
//!   two nodes paused at once); episodes last 0.5–6 s on average, longer than a failover
//!   (1–2 s) in most seeds, and start every 0.3–4 s; packet loss 5–50% and latency
//!   spikes of 0.1–2 s while in force;
//! - 3 nodes (3 seeds in 4) or 5; replication 1, 2 or a majority;
//! - the client timeout (1–5 s: mostly longer than a failover, so a late duplicate or a
//!   stale answer is recorded as `:ok`), rate (20–60 ops/s), client threads (1–3 per
//!   node), ops per register key (8–25: a key's crashed writes make its linearizability
//!   search exponential), time limit (2–5 s; without faults, the heal time more, as
//!   there is no phase after a heal) and heal time (the client timeout plus 5–8 s, and at
//!   least 30 ops' worth per node, up to 10 s);
//! - the network's steady latency (up to 2–10 ms); its steady loss stays 0 (`--loss`
//!   sets one): madsim retries a lost stream message with a backoff of up to 10 s, so
//!   loss that never heals would fail the heal checker without any bug.
//!
//! The draw is a pure function of the seed, so `sim --seed S --iterations 1` replays a
//! swarm seed alone; any flag pins its dimension (the draw is made in full and the flag
//! overrides it, so pinning one dimension leaves the others as the seed drew them).

use jepsen_core::fault::{Fault, FaultTiming};
use jepsen_core::runtime::seeded_rng;
use jepsen_core::workload::Workload;
use rand::seq::SliceRandom;
use rand::Rng;
use std::time::Duration;

/// One seed's drawn configuration, before flags pin any of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    pub workloads: Vec<Workload>,
    pub faults: Vec<Fault>,
    pub fault_timing: FaultTiming,
    pub nodes: usize,
    pub replication: usize,
    pub client_timeout: Duration,
    /// Client threads per node.
    pub threads_per_node: usize,
    pub rate: f64,
    pub ops_per_key: u64,
    pub time_limit: Duration,
    pub heal_time: Duration,
    /// The steady network: the most one-way latency (from 1 ms) and the loss.
    pub latency: Duration,
    pub loss: f64,
    /// While in force: `packet-loss`'s loss and `latency-spike`'s added latency.
    pub fault_loss: f64,
    pub fault_latency: Duration,
}

/// A value between `low` and `high` drawn uniformly on a log scale.
fn log_uniform<R: Rng>(rng: &mut R, low: f64, high: f64) -> f64 {
    (rng.gen_range(low.ln()..high.ln())).exp()
}

fn seconds<R: Rng>(rng: &mut R, low: f64, high: f64) -> Duration {
    // Rounded to ms, so that the printed configuration pins exactly what was drawn.
    Duration::from_millis((log_uniform(rng, low, high) * 1000.0).round() as u64)
}

/// Two decimals, so that the printed configuration pins exactly what was drawn.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The configuration seed `seed` draws, `nodes` given (a flag may pin them: the client
/// threads and replication follow the nodes).
pub fn draw(seed: u64, nodes: Option<usize>) -> Drawn {
    let mut rng = seeded_rng(seed, "swarm");
    let rng = &mut rng;
    let mut workloads = Workload::ALL.to_vec();
    workloads.shuffle(rng);
    let count = *[1, 1, 1, 2, 2, 2, 2, 3, 3, 4].choose(rng).unwrap();
    workloads.truncate(count);
    let mut kinds: Vec<Fault> = Fault::ALL
        .iter()
        .copied()
        .filter(|f| *f != Fault::None)
        .collect();
    kinds.shuffle(rng);
    let faults = match rng.gen_range(0..12) {
        0 => 0,
        1..=5 => 1,
        6..=9 => 2,
        _ => 3,
    };
    kinds.truncate(faults);
    let fault_timing = FaultTiming {
        duration: seconds(rng, 0.5, 6.0),
        gap: seconds(rng, 0.3, 4.0),
    };
    let drawn_nodes = if rng.gen_range(0..4) < 3 { 3 } else { 5 };
    let nodes = nodes.unwrap_or(drawn_nodes);
    let majority = nodes / 2 + 1;
    let replication = match rng.gen_range(0..10) {
        0 => 1,
        1..=5 => 2,
        _ => majority,
    }
    .min(nodes);
    let client_timeout = seconds(rng, 1.0, 5.0);
    let threads_per_node = rng.gen_range(1..=3);
    let rate = round2(log_uniform(rng, 20.0, 60.0));
    let ops_per_key = rng.gen_range(8..=25);
    let time_limit = seconds(rng, 2.0, 5.0);
    // Long enough after the final heal for every node's clients to complete a few dozen
    // ops once the cluster has recovered: the heal checker judges each node's last five,
    // and at a low rate the first free client thread takes most ops, so the nodes of the
    // last threads get a fifth of their share or less.
    let per_node = Duration::from_millis((30_000.0 * nodes as f64 / rate).round() as u64)
        .min(Duration::from_secs(10));
    let heal_time = client_timeout + seconds(rng, 5.0, 8.0).max(per_node);
    // Up to 10 ms, madsim's default: set-vo serializes every add on one object, and at
    // 30 ms a hop the drawn rate can outrun it (timeouts from overload, not from a bug).
    let latency = Duration::from_millis(rng.gen_range(2..=10));
    // Steady loss is not drawn: madsim retries a lost stream message with a backoff of
    // up to 10 s, so any loss that never heals keeps nodes from serving after the final
    // heal without any bug (the heal checker's false alarm). Loss comes in episodes
    // (packet-loss), which heal.
    let loss = 0.0;
    let fault_loss = round2(rng.gen_range(0.05..0.5));
    let fault_latency = Duration::from_millis(log_uniform(rng, 100.0, 2000.0).round() as u64);
    Drawn {
        workloads,
        faults: kinds,
        fault_timing,
        nodes,
        replication,
        client_timeout,
        threads_per_node,
        rate,
        ops_per_key,
        time_limit,
        heal_time,
        latency,
        loss,
        fault_loss,
        fault_latency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn seeds_draw_varied_configurations_and_the_same_seed_the_same_one() {
        assert_eq!(draw(7, None), draw(7, None));
        let drawn: Vec<Drawn> = (0..400).map(|s| draw(s, None)).collect();
        let combos: BTreeSet<String> = drawn
            .iter()
            .map(|d| format!("{:?} {:?}", d.workloads, d.faults))
            .collect();
        assert!(combos.len() > 300, "{}", combos.len());
        assert!(drawn.iter().any(|d| d.faults.is_empty()));
        assert!(drawn.iter().any(|d| d.nodes == 5) && drawn.iter().any(|d| d.nodes == 3));
        // The escapes of a fixed configuration are reachable: faults that outlast a
        // failover, client timeouts longer than one, and overlapping episodes.
        assert!(drawn
            .iter()
            .any(|d| d.fault_timing.duration > Duration::from_secs(4)));
        assert!(drawn
            .iter()
            .any(|d| d.client_timeout > Duration::from_secs(3)));
        assert!(drawn
            .iter()
            .any(|d| d.faults.len() >= 2 && d.fault_timing.gap < d.fault_timing.duration));
        for d in &drawn {
            assert!((1..=d.nodes).contains(&d.replication));
            assert!(d.heal_time > d.client_timeout);
        }
        assert_eq!(draw(7, Some(5)).nodes, 5);
    }
}
