//! `bench --only sim-bugs`: how findable each injected bug of the simulation is without a
//! hint. Per bug, switched on alone, the swarm (`sim --bug B`, every seed its own
//! configuration) hunts from 10 different start seeds for the first invalid iteration
//! (at most 1000 each); each found seed is shrunk. Reports the median number of
//! iterations to the first failure (with the fewest and most), the misses, and the
//! median size of the shrunk runs (fault actions, client ops).

use jepsen_sim::hunt_with;
use jepsen_sim::options::SimArgs;
use jepsen_sim::restate::Bug;
use jepsen_sim::shrink::shrink;
use std::time::Instant;

/// Start seeds of the hunts: far apart, so the hunts do not share seeds.
const STARTS: [u64; 10] = [
    1_000, 11_000, 21_000, 31_000, 41_000, 51_000, 61_000, 71_000, 81_000, 91_000,
];
const LIMIT: u64 = 1000;
const JOBS: usize = 2;

fn median(mut xs: Vec<usize>) -> String {
    xs.sort_unstable();
    match xs.len() {
        0 => "-".to_string(),
        n if n % 2 == 1 => xs[n / 2].to_string(),
        n => format!("{:.1}", (xs[n / 2 - 1] + xs[n / 2]) as f64 / 2.0),
    }
}

pub fn run() {
    println!(
        "sim-bugs: swarm iterations (no hint) to the first invalid verdict, from {} start seeds (at most {LIMIT} each), {JOBS} jobs; then each found seed shrunk",
        STARTS.len()
    );
    for bug in Bug::ALL {
        let args = SimArgs::from_flags(&["--bug", bug.name()]).expect("the bug's flags parse");
        let test_of = move |seed: u64| args.test(seed).expect("a swarm seed draws a valid test");
        let started = Instant::now();
        let (mut counts, mut missed, mut iterations) = (Vec::new(), 0, 0);
        let (mut faults, mut client_ops, mut shrink_failed) = (Vec::new(), Vec::new(), 0);
        for start in STARTS {
            let found = hunt_with(test_of.clone(), start, LIMIT, JOBS);
            iterations += found.iterations;
            let Some(seed) = found.found else {
                missed += 1;
                continue;
            };
            counts.push(found.iterations as usize);
            match shrink(&test_of(seed), seed) {
                Ok(s) => {
                    faults.push(s.after.fault_actions);
                    client_ops.push(s.after.client_ops);
                }
                Err(_) => shrink_failed += 1,
            }
        }
        let wall = started.elapsed().as_secs_f64();
        let (min, max) = (
            counts.iter().min().copied().unwrap_or(0),
            counts.iter().max().copied().unwrap_or(0),
        );
        println!(
            "  {:<28} median {:>5}  min {:>4}  max {:>4}  missed {missed}  shrunk: median {} fault actions, {} client ops (not shrinkable: {shrink_failed})  {:>6.1} it/s",
            bug.name(),
            median(counts),
            min,
            max,
            median(faults),
            median(client_ops),
            iterations as f64 / wall.max(1e-9)
        );
    }
}
