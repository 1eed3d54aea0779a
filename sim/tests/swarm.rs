//! The swarm: every seed draws its own configuration, the printed configuration pins it
//! exactly, a flag pins its dimension, and `--bug` gives no hint of where to look.

use jepsen_core::fault::Fault;
use jepsen_core::workload::Workload;
use jepsen_sim::options::SimArgs;
use jepsen_sim::SimTest;
use std::collections::BTreeSet;

fn test(flags: &[&str], seed: u64) -> SimTest {
    SimArgs::from_flags(flags).unwrap().test(seed).unwrap()
}

#[test]
fn a_swarm_seeds_configuration_flags_give_exactly_its_test() {
    for seed in 0..300 {
        let drawn = test(&["--bug", "no-fencing"], seed);
        assert!(drawn.swarm);
        let flags = drawn.config_flags();
        let pinned = SimArgs::from_flags(&flags).unwrap().test(seed).unwrap();
        assert!(!pinned.swarm, "every dimension pinned: a fixed test");
        assert_eq!(
            SimTest {
                swarm: true,
                given_flags: drawn.given_flags.clone(),
                ..pinned
            },
            drawn,
            "seed {seed}: {}",
            flags.join(" ")
        );
    }
}

#[test]
fn a_flag_pins_its_dimension_and_leaves_the_others_drawn() {
    let seeds = 0..100;
    let tests: Vec<SimTest> = seeds.clone().map(|s| test(&["--nodes", "5"], s)).collect();
    assert!(tests.iter().all(|t| t.nodes == 5));
    let mixes: BTreeSet<String> = tests.iter().map(|t| t.workloads.name()).collect();
    assert!(mixes.len() > 10, "{mixes:?}");
    let set_vo: Vec<SimTest> = seeds
        .clone()
        .map(|s| test(&["--workload", "set-vo"], s))
        .collect();
    assert!(set_vo
        .iter()
        .all(|t| t.workloads.workloads() == vec![Workload::SetVo]));
    let faults: BTreeSet<Vec<Fault>> = set_vo.iter().map(|t| t.faults.clone()).collect();
    assert!(faults.len() > 20, "{}", faults.len());
    // Pinning a dimension does not move the others: the seed drew them already.
    for s in seeds {
        let (free, pinned) = (test(&[], s), test(&["--rate", "33"], s));
        assert_eq!(pinned.workload_options.rate, 33.0);
        assert_eq!(free.faults, pinned.faults);
        assert_eq!(free.workloads, pinned.workloads);
    }
}

#[test]
fn a_bug_gives_no_hint_of_its_own_workload_or_fault() {
    let tests: Vec<SimTest> = (0..100)
        .map(|s| test(&["--bug", "no-fencing"], s))
        .collect();
    let without_register_vo = tests
        .iter()
        .filter(|t| !t.workloads.workloads().contains(&Workload::RegisterVo))
        .count();
    let without_pause = tests
        .iter()
        .filter(|t| !t.faults.contains(&Fault::PauseRandomNode))
        .count();
    assert!(without_register_vo > 30, "{without_register_vo}");
    assert!(without_pause > 50, "{without_pause}");
    assert!(tests.iter().all(|t| t.bugs.len() == 1));
}

#[test]
fn both_workload_and_nemesis_make_the_fixed_test_of_before() {
    let fixed = test(
        &["--workload", "register-vo", "--nemesis", "kill-random-node"],
        7,
    );
    assert!(!fixed.swarm);
    assert_eq!(fixed.nodes, 3);
    assert_eq!(fixed.fault_timing, None, "restatedev/jepsen's cycle");
    assert_eq!(fixed.workload_options.rate, 50.0);
    assert!(fixed.stats);
    let two = test(
        &[
            "--workload",
            "register-vo,set-mds",
            "--nemesis",
            "kill-random-node,partition-random-node",
        ],
        7,
    );
    assert_eq!(two.workloads.parts.len(), 2);
    assert!(
        two.fault_timing.is_some(),
        "several faults come in episodes"
    );
}
