//! A night of seeds must not run out of memory: a simulation gives back what its nodes
//! held when it ends. (madsim never drops the tasks still alive when a simulation ends;
//! before the cluster killed its nodes at the end, every swarm seed kept about 1 MB, so
//! 10,000 seeds took 14 GB.)

use jepsen_sim::options::SimArgs;
use jepsen_sim::{run_iterations, run_test};

fn resident_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn run(seeds: std::ops::Range<u64>) {
    let args = SimArgs::from_flags(&["--workload", "register-vo,set-vo"]).unwrap();
    let make = move |rt: jepsen_sim::MadsimRuntime| {
        let test = args.test(rt.seed()).unwrap();
        run_test(test)
    };
    run_iterations(seeds, 2, make, |seed, outcome| {
        assert!(outcome.is_ok(), "seed {seed} crashed");
    });
}

#[test]
fn two_hundred_seeds_keep_no_memory() {
    run(0..20);
    let before = resident_kb();
    run(20..220);
    let grown = resident_kb().saturating_sub(before);
    assert!(grown < 60_000, "200 seeds kept {grown} KB");
}
