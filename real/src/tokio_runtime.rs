//! The real world's runtime: tokio's current-thread scheduler with a `LocalSet`, so the
//! core's `!Send` interpreter and clients run on one thread against real time.
//!
//! `now` is the time since the runtime handle was created; random streams are seeded
//! exactly as in the deterministic runtime (`jepsen_core::runtime::seeded_rng`), so a seed names the same
//! generator choices in both worlds.

use jepsen_core::runtime::{RngStreams, Runtime, SharedRng};
use std::future::Future;
use std::time::{Duration, Instant};

/// A handle on the tokio runtime seam; clones share the start time and the streams.
#[derive(Clone)]
pub struct TokioRuntime {
    start: Instant,
    rngs: RngStreams,
}

impl TokioRuntime {
    /// A handle whose clock starts now and whose random streams derive from `seed`.
    pub fn new(seed: u64) -> TokioRuntime {
        TokioRuntime {
            start: Instant::now(),
            rngs: RngStreams::new(seed),
        }
    }

    pub fn seed(&self) -> u64 {
        self.rngs.seed()
    }

    /// Runs `future` to completion on a new current-thread tokio runtime (timers and
    /// I/O enabled) inside a `LocalSet`, where [`Runtime::spawn`] works. Tasks still
    /// running when `future` completes are dropped.
    pub fn run<F: Future>(&self, future: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread tokio runtime can always be built");
        tokio::task::LocalSet::new().block_on(&rt, future)
    }
}

impl Runtime for TokioRuntime {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + 'static {
        tokio::time::sleep(d)
    }

    /// Must be called inside [`TokioRuntime::run`] (it uses `spawn_local`).
    fn spawn(&self, f: impl Future<Output = ()> + 'static) {
        tokio::task::spawn_local(f);
    }

    fn rng(&self, stream: &'static str) -> SharedRng {
        self.rngs.get(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jepsen_core::generator::{clients, limit, op, repeat, TestInfo};
    use jepsen_core::history::{Op, Process};
    use jepsen_core::interpreter::run_noop;
    use jepsen_core::runtime::DeterministicRuntime;
    use rand::Rng;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn the_interpreter_runs_on_tokio() {
        let rt = TokioRuntime::new(5);
        let rt2 = rt.clone();
        let mut count = 0;
        let history = rt.run(async {
            let test = TestInfo {
                nodes: vec!["n1".into(), "n2".into()],
                concurrency: 4,
            };
            let mut sink = |_: &Op| count += 1;
            let gen = clients(limit(1_000, repeat(op("write"))));
            run_noop(rt2, &test, gen, &mut sink).await.unwrap()
        });
        assert_eq!(history.len(), 2_000);
        assert_eq!(count, 2_000);
        assert!(history.client_pairs().all(|(_, c)| c.is_some()));
        assert!(history
            .ops
            .iter()
            .all(|o| matches!(o.process, Process::Client(p) if p < 4)));
        for w in history.ops.windows(2) {
            assert!(w[0].time <= w[1].time);
        }
    }

    #[test]
    fn streams_match_the_deterministic_runtime() {
        let t = TokioRuntime::new(11);
        let d = DeterministicRuntime::new(11);
        for stream in ["generator", "nemesis"] {
            let a: Vec<u64> = (0..4).map(|_| t.rng(stream).borrow_mut().gen()).collect();
            let b: Vec<u64> = (0..4).map(|_| d.rng(stream).borrow_mut().gen()).collect();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn sleep_and_spawn_work_inside_run() {
        let rt = TokioRuntime::new(1);
        let rt2 = rt.clone();
        let done = rt.run(async move {
            let flag = Rc::new(RefCell::new(false));
            let f2 = flag.clone();
            let rt3 = rt2.clone();
            rt2.spawn(async move {
                rt3.sleep(Duration::from_millis(5)).await;
                *f2.borrow_mut() = true;
            });
            rt2.sleep(Duration::from_millis(30)).await;
            let v = *flag.borrow();
            v
        });
        assert!(done);
        assert!(rt.now() >= Duration::from_millis(30));
    }
}
