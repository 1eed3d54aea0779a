//! A deterministic single-threaded executor with virtual time: the test implementation of
//! the [`Runtime`] seam, used by the core's tests and benchmarks.
//!
//! Tasks run one at a time in the order they were woken (first woken, first polled).
//! Time stands still while any task can run; when none can, it jumps to the earliest
//! timer and wakes every timer due then, in the order they were set. The same program
//! with the same seed therefore always runs the same way. Nothing here is
//! simulation-specific: the simulation plugs in its own runtime.

use super::{LocalBoxFuture, RngStreams, Runtime, SharedRng};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// A handle on a deterministic executor; clones share it.
#[derive(Clone)]
pub struct DeterministicRuntime {
    inner: Rc<Executor>,
}

struct Executor {
    now: Cell<Duration>,
    /// Task slots; a finished task's slot is reused under a new generation.
    tasks: RefCell<Vec<Slot>>,
    free_slots: RefCell<Vec<usize>>,
    /// Woken task ids, shared with the wakers (which must be `Send + Sync`).
    ready: Arc<Mutex<VecDeque<TaskId>>>,
    /// Pending timers by (deadline, sequence number): due order is deterministic.
    timers: RefCell<BTreeMap<(Duration, u64), Waker>>,
    next_timer: Cell<u64>,
    rngs: RngStreams,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct TaskId {
    slot: usize,
    generation: u64,
}

struct Slot {
    generation: u64,
    /// `None` while the task is being polled, or once it finished.
    future: Option<LocalBoxFuture<'static, ()>>,
    /// The task's waker, made once and reused for every poll.
    waker: Option<Waker>,
}

/// Wakes one task by queueing its id. Waking a finished task is harmless: its id's
/// generation no longer matches its slot, and the executor skips it.
struct TaskWaker {
    id: TaskId,
    ready: Arc<Mutex<VecDeque<TaskId>>>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.ready.lock().expect("ready queue").push_back(self.id);
    }
}

impl DeterministicRuntime {
    /// A new executor at virtual time zero whose random streams derive from `seed`.
    pub fn new(seed: u64) -> DeterministicRuntime {
        DeterministicRuntime {
            inner: Rc::new(Executor {
                now: Cell::new(Duration::ZERO),
                tasks: RefCell::new(Vec::new()),
                free_slots: RefCell::new(Vec::new()),
                ready: Arc::new(Mutex::new(VecDeque::new())),
                timers: RefCell::new(BTreeMap::new()),
                next_timer: Cell::new(0),
                rngs: RngStreams::new(seed),
            }),
        }
    }

    /// The seed the random streams derive from.
    pub fn seed(&self) -> u64 {
        self.inner.rngs.seed()
    }

    /// Runs `future` and every task it spawns until `future` completes, and returns its
    /// output. Tasks still unfinished then are dropped, as tokio drops them at shutdown.
    ///
    /// Panics if `future` can never complete: no task is ready and no timer is set.
    pub fn run<T: 'static>(&self, future: impl Future<Output = T> + 'static) -> T {
        let output: Rc<RefCell<Option<T>>> = Rc::new(RefCell::new(None));
        let slot = output.clone();
        self.spawn_task(Box::pin(async move {
            let value = future.await;
            *slot.borrow_mut() = Some(value);
        }));
        loop {
            self.run_ready_tasks(&output);
            if let Some(value) = output.borrow_mut().take() {
                self.drop_all_tasks();
                return value;
            }
            if !self.advance_to_next_timer() {
                self.drop_all_tasks();
                panic!("deterministic runtime: deadlock, no task can run and no timer is set");
            }
        }
    }

    fn spawn_task(&self, future: LocalBoxFuture<'static, ()>) {
        let ex = &self.inner;
        let mut tasks = ex.tasks.borrow_mut();
        let slot = match ex.free_slots.borrow_mut().pop() {
            Some(slot) => slot,
            None => {
                tasks.push(Slot {
                    generation: 0,
                    future: None,
                    waker: None,
                });
                tasks.len() - 1
            }
        };
        let entry = &mut tasks[slot];
        entry.generation += 1;
        let id = TaskId {
            slot,
            generation: entry.generation,
        };
        entry.future = Some(future);
        entry.waker = Some(Waker::from(Arc::new(TaskWaker {
            id,
            ready: ex.ready.clone(),
        })));
        ex.ready.lock().expect("ready queue").push_back(id);
    }

    /// Polls woken tasks in wake order until none is ready or `done` holds a value.
    fn run_ready_tasks<T>(&self, done: &RefCell<Option<T>>) {
        let ex = &self.inner;
        loop {
            if done.borrow().is_some() {
                return;
            }
            let Some(id) = ex.ready.lock().expect("ready queue").pop_front() else {
                return;
            };
            // Take the future out so that the task may spawn while it is polled.
            let (mut future, waker) = {
                let mut tasks = ex.tasks.borrow_mut();
                let slot = &mut tasks[id.slot];
                if slot.generation != id.generation {
                    continue;
                }
                match slot.future.take() {
                    Some(f) => (f, slot.waker.clone().expect("a live task has a waker")),
                    None => continue,
                }
            };
            let finished = future
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready();
            let mut tasks = ex.tasks.borrow_mut();
            let slot = &mut tasks[id.slot];
            if finished {
                slot.waker = None;
                ex.free_slots.borrow_mut().push(id.slot);
            } else {
                slot.future = Some(future);
            }
        }
    }

    /// Moves time to the earliest timer and wakes every timer due then. False if none.
    fn advance_to_next_timer(&self) -> bool {
        let ex = &self.inner;
        let mut timers = ex.timers.borrow_mut();
        let Some((&(deadline, _), _)) = timers.first_key_value() else {
            return false;
        };
        ex.now.set(deadline.max(ex.now.get()));
        while let Some(entry) = timers.first_entry() {
            if entry.key().0 > ex.now.get() {
                break;
            }
            entry.remove().wake();
        }
        true
    }

    fn drop_all_tasks(&self) {
        let ex = &self.inner;
        let futures: Vec<_> = ex
            .tasks
            .borrow_mut()
            .iter_mut()
            .map(|slot| {
                slot.generation += 1;
                slot.waker = None;
                slot.future.take()
            })
            .collect();
        // Dropped outside the borrow: a future's destructor may touch the runtime.
        drop(futures);
        let slots = ex.tasks.borrow().len();
        *ex.free_slots.borrow_mut() = (0..slots).rev().collect();
        ex.ready.lock().expect("ready queue").clear();
        ex.timers.borrow_mut().clear();
    }
}

impl Runtime for DeterministicRuntime {
    fn now(&self) -> Duration {
        self.inner.now.get()
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + 'static {
        Sleep {
            executor: self.inner.clone(),
            deadline: self.inner.now.get() + d,
            timer: None,
        }
    }

    fn spawn(&self, f: impl Future<Output = ()> + 'static) {
        self.spawn_task(Box::pin(f));
    }

    fn rng(&self, stream: &'static str) -> SharedRng {
        self.inner.rngs.get(stream)
    }
}

/// Completes when virtual time reaches its deadline.
struct Sleep {
    executor: Rc<Executor>,
    deadline: Duration,
    /// The key of this sleep's registered timer, if any.
    timer: Option<(Duration, u64)>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.executor.now.get() >= self.deadline {
            if let Some(key) = self.timer.take() {
                self.executor.timers.borrow_mut().remove(&key);
            }
            return Poll::Ready(());
        }
        let key = match self.timer {
            Some(key) => key,
            None => {
                let seq = self.executor.next_timer.get();
                self.executor.next_timer.set(seq + 1);
                let key = (self.deadline, seq);
                self.timer = Some(key);
                key
            }
        };
        let mut timers = self.executor.timers.borrow_mut();
        match timers.get_mut(&key) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => *w = cx.waker().clone(),
            None => {
                timers.insert(key, cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.timer.take() {
            if let Ok(mut timers) = self.executor.timers.try_borrow_mut() {
                timers.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn time_jumps_to_the_next_timer_and_tasks_interleave_deterministically() {
        let rt = DeterministicRuntime::new(1);
        let log = Rc::new(RefCell::new(Vec::new()));
        let (rt2, log2) = (rt.clone(), log.clone());
        let order = rt.run(async move {
            for (name, ms) in [("a", 30u64), ("b", 10), ("c", 20), ("d", 10)] {
                let (rt3, log3) = (rt2.clone(), log2.clone());
                rt2.spawn(async move {
                    rt3.sleep(Duration::from_millis(ms)).await;
                    log3.borrow_mut().push((name, rt3.now().as_millis()));
                });
            }
            rt2.sleep(Duration::from_millis(100)).await;
            log2.borrow().clone()
        });
        assert_eq!(order, vec![("b", 10), ("d", 10), ("c", 20), ("a", 30)]);
        assert_eq!(rt.now(), Duration::from_millis(100));
    }

    #[test]
    fn a_dropped_sleep_leaves_no_timer_behind() {
        let rt = DeterministicRuntime::new(1);
        let rt2 = rt.clone();
        rt.run(async move {
            {
                let mut s = Box::pin(rt2.sleep(Duration::from_secs(50)));
                std::future::poll_fn(|cx| {
                    let _ = s.as_mut().poll(cx);
                    Poll::Ready(())
                })
                .await;
            }
            rt2.sleep(Duration::from_secs(1)).await;
        });
        assert_eq!(rt.now(), Duration::from_secs(1));
    }

    #[test]
    #[should_panic(expected = "deadlock")]
    fn a_future_that_can_never_complete_is_reported() {
        DeterministicRuntime::new(1).run(std::future::pending::<()>());
    }

    #[test]
    fn named_streams_are_independent_and_reproducible() {
        let draw = |rt: &DeterministicRuntime, s| rt.rng(s).borrow_mut().gen::<u64>();
        let a = DeterministicRuntime::new(7);
        let b = DeterministicRuntime::new(7);
        // Drawing from another stream first does not change what "gen" yields.
        let _ = draw(&b, "net");
        assert_eq!(draw(&a, "gen"), draw(&b, "gen"));
        assert_ne!(draw(&a, "gen"), draw(&a, "net"));
        assert_ne!(draw(&DeterministicRuntime::new(8), "gen"), draw(&a, "gen"));
    }

    #[test]
    fn a_waker_outliving_its_task_is_harmless() {
        let rt = DeterministicRuntime::new(1);
        let stash: Rc<RefCell<Option<Waker>>> = Rc::default();
        let (rt2, stash2) = (rt.clone(), stash.clone());
        rt.run(async move {
            let stash3 = stash2.clone();
            rt2.spawn(std::future::poll_fn(move |cx| {
                *stash3.borrow_mut() = Some(cx.waker().clone());
                Poll::Ready(())
            }));
            rt2.sleep(Duration::from_millis(1)).await;
            // The task finished; its slot is reused by a new task that must not be
            // confused by the old waker.
            let hits = Rc::new(Cell::new(0));
            let hits2 = hits.clone();
            rt2.spawn(async move { hits2.set(hits2.get() + 1) });
            stash2.borrow_mut().take().unwrap().wake();
            rt2.sleep(Duration::from_millis(1)).await;
            assert_eq!(hits.get(), 1);
        });
    }
}
