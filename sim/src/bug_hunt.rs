//! Hunting an injected bug: runs a test's seeds in order from a start seed until the
//! first one whose history the workload's checkers judge invalid. How many iterations
//! that takes is how findable the bug is (the catalogue's tests and `bench --only
//! sim-bugs` measure it).

use crate::iteration::run_seeds;
use crate::runtime::simulate;
use crate::test_run::{run_test, SimTest};
use jepsen_core::checker::Validity;

/// What a hunt found.
#[derive(Clone, Debug, PartialEq)]
pub struct Hunt {
    /// The first invalid seed, if one came within the limit.
    pub found: Option<u64>,
    /// The iterations run (up to and including the first invalid seed).
    pub iterations: u64,
    /// The verdicts of the seeds before it that were not valid and not invalid
    /// (unknown, or a crashed simulation), with why.
    pub other: Vec<(u64, String)>,
}

/// Runs `test` with seeds `start`, `start + 1`, … (at most `limit` of them, `jobs` at a
/// time, in small batches) until one is invalid.
pub fn hunt(test: &SimTest, start: u64, limit: u64, jobs: usize) -> Hunt {
    let test = test.clone();
    hunt_with(move |_| test.clone(), start, limit, jobs)
}

/// [`hunt`] with each seed's own test (a swarm's: `SimArgs::test`).
pub fn hunt_with<F>(test_of: F, start: u64, limit: u64, jobs: usize) -> Hunt
where
    F: Fn(u64) -> SimTest + Clone + Send + Sync + 'static,
{
    let jobs = jobs.max(1);
    let batch = 2 * jobs as u64;
    let mut hunt = Hunt {
        found: None,
        iterations: 0,
        other: Vec::new(),
    };
    let mut next = start;
    while hunt.found.is_none() && next < start + limit {
        let end = (next + batch).min(start + limit);
        let run = {
            let test_of = test_of.clone();
            move |seed: u64| {
                let test = test_of(seed);
                let history = simulate(seed, {
                    let test = test.clone();
                    move |_rt| run_test(test)
                });
                test.check(&history).valid
            }
        };
        run_seeds(next..end, jobs, run, |seed, outcome| {
            if hunt.found.is_some() {
                return;
            }
            hunt.iterations += 1;
            match outcome {
                Ok(verdict) => match verdict {
                    Validity::Valid => {}
                    Validity::Invalid => hunt.found = Some(seed),
                    Validity::Unknown => hunt.other.push((seed, "unknown".to_string())),
                },
                Err(panic) => hunt.other.push((seed, panic)),
            }
        });
        next = end;
    }
    hunt
}
