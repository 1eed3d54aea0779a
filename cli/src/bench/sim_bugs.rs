//! `bench --only sim-bugs`: how findable each injected bug of the simulation is. Per bug,
//! with its default workload and fault, hunts from 10 different start seeds for the first
//! invalid iteration (at most 200 each) and reports the median number of iterations it
//! took (with the fewest and most), and the iterations per second of the hunts.

use jepsen_sim::restate::{Bug, BugSet};
use jepsen_sim::{hunt, SimTest};
use std::time::Instant;

/// Start seeds of the hunts: far apart, so the hunts do not share seeds.
const STARTS: [u64; 10] = [
    1_000, 11_000, 21_000, 31_000, 41_000, 51_000, 61_000, 71_000, 81_000, 91_000,
];
const LIMIT: u64 = 200;
const JOBS: usize = 2;

pub fn run() {
    println!(
        "sim-bugs: iterations to the first invalid verdict, from {} start seeds (at most {LIMIT} each), {JOBS} jobs",
        STARTS.len()
    );
    for bug in Bug::ALL {
        let test = SimTest::defaults(
            bug.default_workload(),
            bug.default_nemesis(),
            BugSet::from([bug]),
        );
        let started = Instant::now();
        let mut counts = Vec::new();
        let mut missed = 0;
        let mut iterations = 0;
        for start in STARTS {
            let found = hunt(&test, start, LIMIT, JOBS);
            iterations += found.iterations;
            match found.found {
                Some(_) => counts.push(found.iterations),
                None => missed += 1,
            }
        }
        let wall = started.elapsed().as_secs_f64();
        counts.sort_unstable();
        let median = match counts.len() {
            0 => "-".to_string(),
            n if n % 2 == 1 => counts[n / 2].to_string(),
            n => format!("{:.1}", (counts[n / 2 - 1] + counts[n / 2]) as f64 / 2.0),
        };
        println!(
            "  {:<28} {:<12} {:<22} median {:>5}  min {:>3}  max {:>3}  missed {missed}  {:>6.1} it/s",
            bug.name(),
            test.workload.name(),
            test.nemesis.name(),
            median,
            counts.first().copied().unwrap_or(0),
            counts.last().copied().unwrap_or(0),
            iterations as f64 / wall.max(1e-9)
        );
    }
}
