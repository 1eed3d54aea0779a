//! A cas-register as the `Register` virtual object of the modeled cluster (ingress,
//! partition leader elected through the metadata store, replicated log with epochs and
//! sealing), driven by the core's interpreter with faults, checked with the
//! linearizability checker after each iteration.

mod common;

use common::register::{register_run, Api, Scenario};
use common::{check, outcomes};
use jepsen_core::checker::Validity;
use jepsen_core::fault::Fault;
use jepsen_sim::{check_determinism, run_iteration};

fn objects(faults: Vec<Fault>) -> Scenario {
    Scenario {
        api: Api::VirtualObject,
        faults,
        ..Scenario::default()
    }
}

#[test]
fn without_faults_every_invocation_is_answered() {
    for seed in 0..5 {
        let history = run_iteration(seed, |_rt| register_run(objects(Vec::new()))).unwrap();
        let counts = outcomes(&history);
        eprintln!("seed {seed}: {counts:?}");
        assert_eq!(counts.get("info"), None, "seed {seed}: {counts:?}");
        assert!(
            counts.get("ok").copied().unwrap_or(0) > 150,
            "seed {seed}: {counts:?}"
        );
        assert_eq!(check(&history), Validity::Valid, "seed {seed}");
    }
}

#[test]
fn the_register_object_is_linearizable_under_partitions_and_crashes() {
    for seed in 0..10 {
        let scenario = objects(vec![Fault::PartitionRandomNode, Fault::KillRandomNode]);
        let history = run_iteration(seed, move |_rt| register_run(scenario)).unwrap();
        let counts = outcomes(&history);
        eprintln!("seed {seed}: {counts:?}");
        assert!(
            counts.get("ok").copied().unwrap_or(0) > 50,
            "seed {seed}: {counts:?}"
        );
        assert_eq!(check(&history), Validity::Valid, "seed {seed}");
    }
}

#[test]
fn every_fault_keeps_the_register_object_linearizable_and_replays() {
    for fault in Fault::ALL {
        for seed in 0..2 {
            let scenario = objects(vec![fault, fault]);
            let history = check_determinism(seed, move |_rt| register_run(scenario))
                .unwrap_or_else(|e| panic!("{fault}: {e}"));
            let counts = outcomes(&history);
            eprintln!("{fault} seed {seed}: {counts:?}");
            assert!(
                counts.get("ok").copied().unwrap_or(0) > 30,
                "{fault} seed {seed}: {counts:?}"
            );
            assert_eq!(check(&history), Validity::Valid, "{fault} seed {seed}");
        }
    }
}
