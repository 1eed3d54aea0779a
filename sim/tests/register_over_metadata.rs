//! A cas-register over the modeled cluster's metadata store, driven by the core's
//! interpreter with faults (a partitioned node, a killed and restarted node), checked
//! with the linearizability checker after each iteration: valid without bugs, replayed
//! exactly, and found invalid with `metadata-cas-without-quorum`.

mod common;

use common::register::{register_run, Scenario};
use common::{check, outcomes};
use jepsen_core::checker::Validity;
use jepsen_core::fault::Fault;
use jepsen_core::history::Process;
use jepsen_sim::restate::Bug;
use jepsen_sim::{check_determinism, run_iteration};

#[test]
fn the_register_is_linearizable_under_partitions_and_crashes() {
    for seed in 0..20 {
        let history = run_iteration(seed, |_rt| register_run(Scenario::default())).unwrap();
        let counts = outcomes(&history);
        eprintln!("seed {seed}: {counts:?}");
        // The faults bite, and most ops still succeed.
        assert!(
            counts.get("ok").copied().unwrap_or(0) > 100,
            "seed {seed}: {counts:?}"
        );
        let nemesis_ops = history
            .ops
            .iter()
            .filter(|o| o.process == Process::Nemesis)
            .count();
        assert_eq!(
            nemesis_ops, 8,
            "seed {seed}: four faults started and stopped"
        );
        assert_eq!(check(&history), Validity::Valid, "seed {seed}");
    }
}

/// Every named fault, each started and stopped twice during the run: still linearizable,
/// and every run replays exactly.
#[test]
fn every_fault_keeps_the_register_linearizable_and_replays() {
    for fault in Fault::ALL {
        for seed in 0..3 {
            let scenario = Scenario {
                faults: vec![fault, fault],
                ..Scenario::default()
            };
            let history = check_determinism(seed, move |_rt| register_run(scenario))
                .unwrap_or_else(|e| panic!("{fault}: {e}"));
            let counts = outcomes(&history);
            eprintln!("{fault} seed {seed}: {counts:?}");
            // A killed node refuses its clients for half the run: fewer ops succeed.
            assert!(
                counts.get("ok").copied().unwrap_or(0) > 50,
                "{fault} seed {seed}: {counts:?}"
            );
            assert_eq!(check(&history), Validity::Valid, "{fault} seed {seed}");
        }
    }
}

/// With no fault, every request is answered: no op ends indeterminate. (Read-index
/// requests from different members once shared a context, and the leader dropped one.)
#[test]
fn without_faults_every_op_is_answered() {
    for seed in 0..10 {
        let scenario = Scenario {
            faults: Vec::new(),
            ..Scenario::default()
        };
        let history = run_iteration(seed, move |_rt| register_run(scenario)).unwrap();
        let counts = outcomes(&history);
        assert_eq!(counts.get("info"), None, "seed {seed}: {counts:?}");
        assert_eq!(check(&history), Validity::Valid, "seed {seed}");
    }
}

#[test]
fn register_runs_replay_exactly() {
    for seed in 0..5 {
        check_determinism(seed, |_rt| register_run(Scenario::default()))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn a_put_acknowledged_without_quorum_is_found() {
    let buggy = Scenario {
        bugs: [Bug::MetadataCasWithoutQuorum].into(),
        ops: 600,
        concurrency: 10,
        stagger: std::time::Duration::from_millis(5),
        ..Scenario::default()
    };
    let found: Vec<u64> = (0..20)
        .filter(|&seed| {
            let history = run_iteration(seed, {
                let buggy = buggy.clone();
                move |_rt| register_run(buggy)
            })
            .unwrap();
            check(&history) == Validity::Invalid
        })
        .collect();
    eprintln!("seeds found invalid: {found:?}");
    assert!(!found.is_empty(), "the bug is found within 20 seeds");
}
