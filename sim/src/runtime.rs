//! The core's runtime seam on madsim: virtual time, madsim's scheduler, and the core's
//! named random streams.
//!
//! Inside a madsim simulation, time is virtual and jumps to the next timer when no task
//! can run, so a run of many simulated seconds takes milliseconds of wall time. Tasks are
//! spawned with `madsim::task::spawn_local` (the core's futures are `!Send`); madsim
//! picks the next ready task with its own seeded generator, so the interleaving is fixed
//! by the simulation's seed.
//!
//! Randomness for the test (generators, workloads, faults) comes from the core's
//! [`RngStreams`] seeded with the same seed, not from madsim's global generator: each
//! named stream is independent of how often madsim itself (scheduling, network) draws.
//!
//! Like tokio's timer, madsim's sleeps last at least 1 ms: a sleep of `d` with
//! `0 < d < 1 ms` ends after 1 ms. A zero sleep completes at once.

use jepsen_core::runtime::{RngStreams, Runtime, SharedRng};
use std::future::Future;
use std::time::Duration;

/// A handle on the running madsim simulation, as the core's [`Runtime`]; clones share
/// the clock's origin and the random streams.
#[derive(Clone)]
pub struct MadsimRuntime {
    time: madsim::time::TimeHandle,
    /// The simulation's time when this handle was made: `now` counts from here, as the
    /// real world's runtime counts from its creation, so a history's times start at the
    /// test's start even if the simulated cluster booted before it.
    origin: Duration,
    rngs: RngStreams,
}

impl MadsimRuntime {
    /// The runtime of the madsim simulation this is called in, with random streams
    /// derived from `seed` (normally the simulation's own seed, [`MadsimRuntime::current`]).
    ///
    /// Panics outside a madsim simulation.
    pub fn new(seed: u64) -> MadsimRuntime {
        let time = madsim::time::TimeHandle::current();
        MadsimRuntime {
            origin: time.elapsed(),
            time,
            rngs: RngStreams::new(seed),
        }
    }

    /// The runtime of the madsim simulation this is called in, with random streams
    /// derived from the simulation's seed.
    ///
    /// Panics outside a madsim simulation.
    pub fn current() -> MadsimRuntime {
        MadsimRuntime::new(madsim::runtime::Handle::current().seed())
    }

    /// The seed the random streams derive from.
    pub fn seed(&self) -> u64 {
        self.rngs.seed()
    }
}

impl Runtime for MadsimRuntime {
    /// Virtual time since this handle was made (for the handle [`simulate`] passes:
    /// since the simulation started).
    fn now(&self) -> Duration {
        self.time.elapsed() - self.origin
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + 'static {
        let sleep = (!d.is_zero()).then(|| self.time.sleep(d));
        async move {
            if let Some(sleep) = sleep {
                sleep.await;
            }
        }
    }

    /// Spawns on the madsim node the caller runs on (madsim's supervisor, or e.g. the
    /// control node of [`crate::network::SimNetwork::run_on_new_node`]); the task is
    /// detached, and dropped when its node is killed or the simulation ends.
    fn spawn(&self, f: impl Future<Output = ()> + 'static) {
        drop(madsim::task::spawn_local(f));
    }

    fn rng(&self, stream: &'static str) -> SharedRng {
        self.rngs.get(stream)
    }
}

/// Runs `make(rt)` to completion in a new madsim simulation seeded with `seed`, on the
/// calling thread, and returns its output. `rt` is the simulation's [`MadsimRuntime`].
///
/// For determinism across runs in one process, call this on a fresh thread (see
/// [`crate::iteration::run_iteration`]).
pub fn simulate<F, Fut>(seed: u64, make: F) -> Fut::Output
where
    F: FnOnce(MadsimRuntime) -> Fut,
    Fut: Future,
{
    let sim = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
    sim.block_on(async move { make(MadsimRuntime::new(seed)).await })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn sleeps_advance_virtual_time_and_spawned_tasks_run() {
        let (end, log) = simulate(7, |rt| async move {
            let log = Rc::new(RefCell::new(Vec::new()));
            for ms in [30u64, 10, 20] {
                let (rt2, log2) = (rt.clone(), log.clone());
                rt.spawn(async move {
                    rt2.sleep(Duration::from_millis(ms)).await;
                    log2.borrow_mut().push(ms);
                });
            }
            rt.sleep(Duration::from_secs(3600)).await;
            (rt.now(), log.take())
        });
        assert_eq!(log, vec![10, 20, 30]);
        assert!(end >= Duration::from_secs(3600), "{end:?}");
        assert!(end < Duration::from_secs(3601), "{end:?}");
    }

    #[test]
    fn time_counts_from_the_handles_creation() {
        let (first, later) = simulate(2, |rt| async move {
            rt.sleep(Duration::from_secs(5)).await;
            let later = MadsimRuntime::current();
            later.sleep(Duration::from_secs(1)).await;
            (rt.now(), later.now())
        });
        assert!(first >= Duration::from_secs(6) && first < Duration::from_millis(6010));
        assert!(later >= Duration::from_secs(1) && later < Duration::from_millis(1010));
    }

    /// madsim replaces libc's `clock_gettime` inside a simulation, so std's `Instant`
    /// is virtual there and stands still while code computes: anything timed with it
    /// (the checkers' time limits) must run after the simulation, not inside it.
    #[test]
    fn std_time_is_virtual_inside_a_simulation() {
        let (slept, computed) = simulate(3, |rt| async move {
            let start = std::time::Instant::now();
            rt.sleep(Duration::from_secs(10)).await;
            let slept = start.elapsed();
            let start = std::time::Instant::now();
            let spun = (0..2_000_000u64).fold(0u64, |a, i| std::hint::black_box(a ^ i));
            std::hint::black_box(spun);
            (slept, start.elapsed())
        });
        assert!(slept >= Duration::from_secs(10), "{slept:?}");
        assert_eq!(computed, Duration::ZERO);
    }

    #[test]
    fn a_zero_sleep_takes_no_time() {
        let elapsed = simulate(1, |rt| async move {
            let start = rt.now();
            for _ in 0..100 {
                rt.sleep(Duration::ZERO).await;
            }
            rt.now() - start
        });
        assert!(elapsed < Duration::from_millis(1), "{elapsed:?}");
    }

    #[test]
    fn random_streams_are_the_cores_and_independent_of_madsims_rng() {
        let draw = |seed: u64, madsim_draws: usize| {
            simulate(seed, move |rt| async move {
                for _ in 0..madsim_draws {
                    let _: u64 = madsim::rand::random();
                }
                let a: u64 = rt.rng("a").borrow_mut().gen();
                a
            })
        };
        let expected: u64 = jepsen_core::runtime::seeded_rng(5, "a").gen();
        assert_eq!(draw(5, 0), expected);
        assert_eq!(draw(5, 10), expected);
        assert_ne!(draw(6, 0), expected);
    }
}
