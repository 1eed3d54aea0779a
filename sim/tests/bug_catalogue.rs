//! The bug catalogue is sharp: every injected bug, with its default workload and fault,
//! is found by the default checkers within 200 iterations from a fixed start seed, and
//! the same seeds without the bug are all valid (so it is the bug that is found, not a
//! flaw of the model).

use jepsen_core::checker::Validity;
use jepsen_sim::options::SimArgs;
use jepsen_sim::restate::{Bug, BugSet};
use jepsen_sim::{hunt, hunt_with, run_iterations, run_test, SimTest};

/// Where every hunt starts (any fixed seed: the test is deterministic).
const START: u64 = 1000;
const LIMIT: u64 = 200;

#[test]
fn every_bug_is_found_within_200_iterations_and_its_seeds_are_valid_without_it() {
    for bug in Bug::ALL {
        let test = SimTest::defaults(
            bug.default_workload(),
            bug.default_nemesis(),
            BugSet::from([bug]),
        );
        let found = hunt(&test, START, LIMIT, 2);
        let Some(seed) = found.found else {
            panic!("{bug} not found in {LIMIT} iterations from seed {START}: {found:?}");
        };
        eprintln!(
            "{bug}: found at seed {seed} ({} iterations)",
            found.iterations
        );

        let clean = SimTest {
            bugs: BugSet::new(),
            ..test.clone()
        };
        let mut verdicts = Vec::new();
        let make = {
            let clean = clean.clone();
            move |_rt| run_test(clean)
        };
        run_iterations(START..seed + 1, 2, make, |seed, outcome| {
            let history = outcome.unwrap_or_else(|e| panic!("seed {seed} crashed: {e}"));
            verdicts.push((seed, clean.check(&history).valid));
        });
        let bad: Vec<_> = verdicts
            .iter()
            .filter(|(_, v)| *v != Validity::Valid)
            .collect();
        assert!(
            bad.is_empty(),
            "{} under {} without {bug}: {bad:?}",
            test.workloads,
            test.nemesis_name()
        );
    }
}

/// Without a hint: the swarm (`sim --bug B`, every seed its own configuration) finds
/// every bug within 300 iterations from a fixed start seed (`bench --only sim-bugs`
/// measures it from 10 start seeds).
#[test]
fn the_swarm_finds_every_bug_without_a_hint() {
    for bug in Bug::ALL {
        let args = SimArgs::from_flags(&["--bug", bug.name()]).unwrap();
        let found = hunt_with(move |s| args.test(s).unwrap(), START, 300, 2);
        assert!(found.found.is_some(), "{bug}: {found:?}");
        eprintln!(
            "{bug}: the swarm found it in {} iterations",
            found.iterations
        );
    }
}

#[test]
fn each_bug_has_its_own_name_and_line() {
    let names: std::collections::BTreeSet<_> = Bug::ALL.iter().map(|b| b.name()).collect();
    assert_eq!(names.len(), Bug::ALL.len());
    for bug in Bug::ALL {
        assert!(!bug.description().contains('\n'));
    }
}
