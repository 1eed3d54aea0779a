//! One simulation iteration: a madsim simulation with a given seed, run on a fresh std
//! thread, and the determinism check that runs a seed twice and compares the histories.
//!
//! Why a fresh thread: std's `HashMap` seeds (`RandomState`) come from per-thread keys
//! drawn once per thread, and thread-locals (madsim's context included) live per thread.
//! A simulation that reuses a thread inherits state from the previous one and may not
//! replay; on a new thread, madsim's seeded `getrandom` gives every hash seed the same
//! value on every run.

use crate::runtime::{simulate, MadsimRuntime};
use jepsen_core::history::History;
use jepsen_core::panic::panic_message;
use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

/// Runs `make(rt)` in a new madsim simulation seeded with `seed`, on a new std thread,
/// and returns its output; a panic (in the simulation, or madsim's "no events, all
/// tasks will block forever") is returned as `Err` with the panic's message.
pub fn run_iteration<T, F, Fut>(seed: u64, make: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(MadsimRuntime) -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    std::thread::Builder::new()
        .name(format!("sim-seed-{seed}"))
        .spawn(move || simulate(seed, make))
        .map_err(|e| format!("could not start a simulation thread: {e}"))?
        .join()
        .map_err(|payload| panic_message(payload.as_ref()))
}

/// Runs the iteration `make` once for every seed in `seeds`, `jobs` at a time, each on
/// a fresh thread (as [`run_iteration`]), and hands each seed's result to `each` in seed
/// order, as soon as it and every earlier seed are done. `jobs` is at least 1.
pub fn run_iterations<T, F, Fut>(
    seeds: Range<u64>,
    jobs: usize,
    make: F,
    each: impl FnMut(u64, Result<T, String>),
) where
    T: Send + 'static,
    F: FnOnce(MadsimRuntime) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = T>,
{
    run_seeds(seeds, jobs, move |seed| simulate(seed, make.clone()), each)
}

/// Runs `seed_run(seed)` for every seed in `seeds`, `jobs` at a time, each on a fresh
/// thread of its own (so that a simulation it starts replays: see the module doc), and
/// hands each result to `each` in seed order as soon as it and every earlier seed are
/// done; a panic is an `Err` with its message. `jobs` is at least 1.
pub fn run_seeds<T, F>(
    seeds: Range<u64>,
    jobs: usize,
    seed_run: F,
    mut each: impl FnMut(u64, Result<T, String>),
) where
    T: Send + 'static,
    F: Fn(u64) -> T + Clone + Send + Sync + 'static,
{
    let next_seed = AtomicU64::new(seeds.start);
    let (done, results) = mpsc::channel();
    std::thread::scope(|scope| {
        // No more threads than seeds; a thread takes the next seed only while one is left
        // (a counter bumped past the end would wrap around at the largest seed).
        let threads = (jobs.max(1) as u64).min(seeds.end.saturating_sub(seeds.start));
        for _ in 0..threads {
            let (done, seed_run, next_seed, end) =
                (done.clone(), seed_run.clone(), &next_seed, seeds.end);
            let take = move || {
                next_seed
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                        (s < end).then(|| s + 1)
                    })
                    .ok()
            };
            scope.spawn(move || {
                while let Some(seed) = take() {
                    let run = seed_run.clone();
                    let result = std::thread::Builder::new()
                        .name(format!("sim-seed-{seed}"))
                        .spawn(move || run(seed))
                        .map_err(|e| format!("could not start a simulation thread: {e}"))
                        .and_then(|t| t.join().map_err(|p| panic_message(p.as_ref())));
                    if done.send((seed, result)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done);
        let mut waiting = BTreeMap::new();
        let mut next = seeds.start;
        for (seed, result) in results {
            waiting.insert(seed, result);
            while let Some(result) = waiting.remove(&next) {
                each(next, result);
                next += 1;
            }
        }
    });
}

/// Why a seed did not replay.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DeterminismError {
    /// One of the two runs panicked (with this message).
    #[error("run {run} of the determinism check panicked: {message}")]
    Panicked { run: usize, message: String },
    /// The histories differ first at this line (0-based); a side is `None` where its
    /// history had already ended.
    #[error("seed {seed} is not deterministic: the histories differ at op {line}:\n  first:  {}\n  second: {}", or_end(.first), or_end(.second))]
    Diverged {
        seed: u64,
        line: usize,
        first: Option<String>,
        second: Option<String>,
    },
}

/// A history line, or `<end>` past the history's end.
fn or_end(line: &Option<String>) -> String {
    line.clone().unwrap_or_else(|| "<end>".to_string())
}

/// Runs the iteration `make` with `seed` twice, each on a fresh thread, and compares the
/// two histories as JSON lines (byte for byte). Returns the first run's history when
/// they are identical, or where they first differ.
pub fn check_determinism<F, Fut>(seed: u64, make: F) -> Result<History, DeterminismError>
where
    F: FnOnce(MadsimRuntime) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = History>,
{
    let first = run_iteration(seed, make.clone())
        .map_err(|message| DeterminismError::Panicked { run: 1, message })?;
    let second = run_iteration(seed, make)
        .map_err(|message| DeterminismError::Panicked { run: 2, message })?;
    match first_difference(&json_lines(&first), &json_lines(&second)) {
        None => Ok(first),
        Some((line, a, b)) => Err(DeterminismError::Diverged {
            seed,
            line,
            first: a,
            second: b,
        }),
    }
}

/// The history as JSON lines, as the store writes it.
pub fn json_lines(history: &History) -> Vec<String> {
    history.ops.iter().map(|op| op.to_json()).collect()
}

/// The first position where `a` and `b` differ, with both sides there (`None` past an
/// end); `None` when they are equal.
pub fn first_difference(
    a: &[String],
    b: &[String],
) -> Option<(usize, Option<String>, Option<String>)> {
    (0..a.len().max(b.len()))
        .find(|&i| a.get(i) != b.get(i))
        .map(|i| (i, a.get(i).cloned(), b.get(i).cloned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jepsen_core::runtime::Runtime;
    use std::collections::HashMap;
    use std::time::Duration;

    #[test]
    fn returns_the_output_of_the_simulation() {
        let out = run_iteration(3, |rt| async move {
            rt.sleep(Duration::from_secs(2)).await;
            (rt.seed(), rt.now() >= Duration::from_secs(2))
        });
        assert_eq!(out, Ok((3, true)));
    }

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        let out: Result<(), String> = run_iteration(3, |rt| async move {
            rt.sleep(Duration::from_secs(1)).await;
            panic!("boom at {}", rt.seed());
        });
        assert_eq!(out, Err("boom at 3".to_string()));
    }

    #[test]
    fn a_stuck_simulation_is_an_error() {
        let out = run_iteration(3, |_rt| std::future::pending::<()>());
        assert!(out.unwrap_err().contains("block forever"));
    }

    /// std's hash order is fixed by the seed on a fresh thread, and differs between seeds.
    #[test]
    fn hash_map_order_replays_on_a_fresh_thread() {
        let order = |seed| {
            run_iteration(seed, |_rt| async {
                let map: HashMap<u32, ()> = (0..64).map(|k| (k, ())).collect();
                map.keys().copied().collect::<Vec<_>>()
            })
            .unwrap()
        };
        assert_eq!(order(11), order(11));
        assert!((12..20).any(|seed| order(seed) != order(11)));
    }

    #[test]
    fn iterations_run_in_parallel_and_report_in_seed_order() {
        let mut seen = Vec::new();
        run_iterations(
            10..30,
            3,
            |rt| async move {
                // Earlier seeds take more wall time: results arrive out of order.
                let work = (30 - rt.seed()) * 200_000;
                let spun = (0..work).fold(0u64, |a, i| std::hint::black_box(a ^ i));
                rt.sleep(Duration::from_millis(spun % 2 + 1)).await;
                if rt.seed() == 13 {
                    panic!("seed 13 fails");
                }
                rt.seed() * 2
            },
            |seed, result| seen.push((seed, result)),
        );
        let expected: Vec<_> = (10..30)
            .map(|s| {
                (
                    s,
                    if s == 13 {
                        Err("seed 13 fails".to_string())
                    } else {
                        Ok(s * 2)
                    },
                )
            })
            .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn first_difference_finds_the_first_differing_line() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(first_difference(&v(&["a", "b"]), &v(&["a", "b"])), None);
        assert_eq!(
            first_difference(&v(&["a", "b", "c"]), &v(&["a", "x", "c"])),
            Some((1, Some("b".into()), Some("x".into())))
        );
        assert_eq!(
            first_difference(&v(&["a"]), &v(&["a", "b"])),
            Some((1, None, Some("b".into())))
        );
    }
}
