//! Determinism over many seeds: every seed, run twice on fresh threads, gives a
//! byte-identical history (as JSON lines), under every fault.
//!
//! CI runs 110 seeds spread over every fault and workload (seed i gets fault i mod 11
//! and a workload in turn), 10 seeds per fault: 220 simulations, about 30 s of wall time
//! on a shared 2-core machine (200 seeds took 65 s there). The full check, 200 seeds
//! with each fault (2,200 seeds, 4,400 runs), is the ignored test
//! `two_hundred_seeds_with_every_fault_replay_exactly`:
//! `cargo test --release -p restate-jepsen-sim --test determinism_seeds -- --ignored`.

use jepsen_core::fault::Fault;
use jepsen_core::workload::Workload;
use jepsen_sim::iteration::{first_difference, json_lines};
use jepsen_sim::restate::BugSet;
use jepsen_sim::{run_iterations, run_test, SimTest};
use std::collections::BTreeMap;
use std::ops::Range;

/// The test of seed `seed` when `test_of` picks it.
type TestOf = fn(u64) -> SimTest;

/// Runs every seed of `seeds` twice (each pass two at a time) and returns the seeds
/// whose two histories differ, with where.
fn divergent(seeds: Range<u64>, test_of: TestOf) -> Vec<String> {
    let pass = || {
        let mut histories = BTreeMap::new();
        let make = move |rt: jepsen_sim::MadsimRuntime| run_test(test_of(rt.seed()));
        run_iterations(seeds.clone(), 2, make, |seed, outcome| {
            let history = outcome.unwrap_or_else(|e| panic!("seed {seed} crashed: {e}"));
            histories.insert(seed, json_lines(&history));
        });
        histories
    };
    let (first, second) = (pass(), pass());
    let mut bad = Vec::new();
    for (seed, a) in &first {
        if let Some((line, x, y)) = first_difference(a, &second[seed]) {
            let t = test_of(*seed);
            bad.push(format!(
                "seed {seed} ({} under {}) differs at op {line}: {x:?} vs {y:?}",
                t.workloads,
                t.nemesis_name()
            ));
        }
    }
    bad
}

fn spread(seed: u64) -> SimTest {
    let faults = Fault::ALL.len() as u64;
    let fault = Fault::ALL[(seed % faults) as usize];
    let workload = Workload::ALL[((seed / faults) % Workload::ALL.len() as u64) as usize];
    SimTest::defaults(workload, fault, BugSet::new())
}

/// A swarm seed's own configuration (`sim` without --workload / --nemesis).
fn swarm(seed: u64) -> SimTest {
    jepsen_sim::options::SimArgs::from_flags::<&str>(&[])
        .unwrap()
        .test(seed)
        .unwrap()
}

/// Swarm seeds mix workloads and overlapping fault episodes on 3 or 5 nodes.
#[test]
fn eighty_swarm_seeds_replay_exactly() {
    let bad = divergent(500..580, swarm);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn two_hundred_twenty_seeds_twenty_of_every_fault_replay_exactly() {
    let bad = divergent(0..220, spread);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
#[ignore = "about 4,400 simulations: run with --ignored"]
fn two_hundred_seeds_with_every_fault_replay_exactly() {
    for (i, fault) in Fault::ALL.into_iter().enumerate() {
        let offset = 10_000 * (i as u64 + 1);
        // A plain fn per fault: the seed says which fault (offset) and workload.
        let test_of: TestOf = |seed| {
            let fault = Fault::ALL[(seed / 10_000 - 1) as usize];
            let workload = Workload::ALL[(seed % Workload::ALL.len() as u64) as usize];
            SimTest::defaults(workload, fault, BugSet::new())
        };
        let bad = divergent(offset..offset + 200, test_of);
        assert!(bad.is_empty(), "{fault}: {}", bad.join("\n"));
    }
}
