//! The context a generator sees: the time, which threads are visible and free, and which
//! process each thread currently runs. Jepsen's `jepsen.generator.context`.
//!
//! Threads are indexed as Jepsen's translation table does: client threads `0..concurrency`,
//! then the nemesis at index `concurrency`. Restricting a context (`on-threads`) narrows
//! the visible set; the free set and the process table are shared by every view. Like
//! Jepsen, `some_free_process` rotates fairly: it starts looking at a "next thread index"
//! that advances each time a thread becomes busy.

use super::fixed_rands::FixedRands;
use super::thread_set::ThreadSet;
use crate::history::Process;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::cell::{OnceCell, RefCell};
use std::rc::Rc;

/// A worker thread: a client thread `0..concurrency` or the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Thread {
    Client(usize),
    Nemesis,
}

/// What generators see. Cheap to clone: the sets are inline up to 128 threads and the
/// process table is shared.
#[derive(Clone)]
pub struct Context {
    /// Nanoseconds since the test started.
    pub time: i64,
    /// Number of client threads (the nemesis thread is extra).
    pub concurrency: usize,
    /// Where `some_free_process` starts looking; advanced by `set_busy` (Jepsen's
    /// `next-thread-index`).
    next_thread_index: usize,
    /// Threads this view shows; `on-threads` narrows it.
    visible: ThreadSet,
    /// Free threads, over all threads.
    free: ThreadSet,
    /// Current process of each client thread (`thread + k * concurrency`).
    processes: Rc<Vec<u64>>,
    rng: Rc<RefCell<ChaCha8Rng>>,
    /// When set, combinators draw from Jepsen's fixed test streams instead of `rng`.
    fixed_rands: Option<Rc<RefCell<FixedRands>>>,
}

/// A predicate on threads, turned into a thread set once per concurrency and shared by
/// every state of the combinator that owns it (Jepsen's `make-thread-filter`).
pub struct ThreadFilter {
    keep: Box<dyn Fn(Thread) -> bool>,
    mask: OnceCell<(usize, ThreadSet)>,
}

impl ThreadFilter {
    pub fn new(keep: impl Fn(Thread) -> bool + 'static) -> ThreadFilter {
        ThreadFilter {
            keep: Box::new(keep),
            mask: OnceCell::new(),
        }
    }

    pub fn keeps(&self, t: Thread) -> bool {
        (self.keep)(t)
    }

    fn compute(&self, concurrency: usize) -> ThreadSet {
        ThreadSet::from_fn(concurrency + 1, |i| (self.keep)(thread_at(concurrency, i)))
    }

    /// The context showing only the visible threads this filter keeps.
    pub fn apply(&self, ctx: &Context) -> Context {
        let (n, mask) = self
            .mask
            .get_or_init(|| (ctx.concurrency, self.compute(ctx.concurrency)));
        if *n == ctx.concurrency {
            ctx.restrict_to(mask)
        } else {
            ctx.restrict_to(&self.compute(ctx.concurrency))
        }
    }
}

fn thread_at(concurrency: usize, i: usize) -> Thread {
    if i < concurrency {
        Thread::Client(i)
    } else {
        Thread::Nemesis
    }
}

impl Context {
    /// All threads free, thread `i` running process `i`, the nemesis thread the nemesis.
    pub fn new(concurrency: usize, rng: Rc<RefCell<ChaCha8Rng>>) -> Context {
        let all = ThreadSet::full(concurrency + 1);
        Context {
            time: 0,
            concurrency,
            next_thread_index: 0,
            visible: all.clone(),
            free: all,
            processes: Rc::new((0..concurrency as u64).collect()),
            rng,
            fixed_rands: None,
        }
    }

    /// A fresh context whose combinators draw from Jepsen's fixed test streams
    /// (`with-fixed-rands seed`), to replay `jepsen.generator.test` schedules exactly.
    pub fn with_jepsen_rands(concurrency: usize, seed: i64) -> Context {
        use rand::SeedableRng;
        let mut ctx = Context::new(
            concurrency,
            Rc::new(RefCell::new(ChaCha8Rng::seed_from_u64(seed as u64))),
        );
        ctx.fixed_rands = Some(Rc::new(RefCell::new(FixedRands::new(seed))));
        ctx
    }

    /// The thread's index in Jepsen's translation table.
    pub fn index_of(&self, t: Thread) -> usize {
        match t {
            Thread::Client(i) => i,
            Thread::Nemesis => self.concurrency,
        }
    }

    /// The thread at an index of Jepsen's translation table.
    pub fn thread_at(&self, i: usize) -> Thread {
        thread_at(self.concurrency, i)
    }

    /// Nanoseconds since the test started.
    pub fn time(&self) -> i64 {
        self.time
    }

    /// This context at another time.
    pub fn with_time(&self, time: i64) -> Context {
        let mut c = self.clone();
        c.time = time;
        c
    }

    /// The shared random stream generators draw from.
    pub fn rng(&self) -> &Rc<RefCell<ChaCha8Rng>> {
        &self.rng
    }

    /// A uniform integer in `0..n` (0 for `n == 0`): Clojure's `rand-int`, which Jepsen's
    /// combinators (`mix`, tie-breaks) use.
    pub fn rand_int(&self, n: u64) -> u64 {
        match &self.fixed_rands {
            Some(f) => f.borrow_mut().rand_int(n),
            None if n == 0 => 0,
            None => self.rng.borrow_mut().gen_range(0..n),
        }
    }

    /// A uniform double in `[0, 1)`: Clojure's `rand` (used by `stagger`).
    pub fn rand_double(&self) -> f64 {
        match &self.fixed_rands {
            Some(f) => f.borrow_mut().rand_double(),
            None => self.rng.borrow_mut().gen::<f64>(),
        }
    }

    /// Visible threads, clients first.
    pub fn all_threads(&self) -> impl Iterator<Item = Thread> + '_ {
        self.visible.iter().map(|i| self.thread_at(i))
    }

    pub fn all_thread_count(&self) -> usize {
        self.visible.len()
    }

    /// Is this thread free? (Whether or not it is visible.)
    pub fn is_free(&self, t: Thread) -> bool {
        self.free.contains(self.index_of(t))
    }

    /// Is this thread visible in this view?
    pub fn is_visible(&self, t: Thread) -> bool {
        self.visible.contains(self.index_of(t))
    }

    /// Visible free threads, in order.
    pub fn free_threads(&self) -> impl Iterator<Item = Thread> + '_ {
        self.free
            .iter_both(&self.visible)
            .map(|i| self.thread_at(i))
    }

    pub fn free_thread_count(&self) -> usize {
        self.free.count_both(&self.visible)
    }

    pub fn process_of(&self, t: Thread) -> Process {
        match t {
            Thread::Client(i) => Process::Client(self.processes[i]),
            Thread::Nemesis => Process::Nemesis,
        }
    }

    /// The thread currently running this process, if any.
    pub fn thread_of(&self, p: &Process) -> Option<Thread> {
        match p {
            Process::Client(p) => {
                if self.concurrency == 0 {
                    return None;
                }
                let t = (*p % self.concurrency as u64) as usize;
                (self.processes[t] == *p).then_some(Thread::Client(t))
            }
            Process::Nemesis => Some(Thread::Nemesis),
            Process::Named(_) => None,
        }
    }

    /// Processes of the visible threads.
    pub fn all_processes(&self) -> impl Iterator<Item = Process> + '_ {
        self.all_threads().map(|t| self.process_of(t))
    }

    /// Visible free processes, in thread order.
    pub fn free_processes(&self) -> impl Iterator<Item = Process> + '_ {
        self.free_threads().map(|t| self.process_of(t))
    }

    /// A free visible thread, chosen as Jepsen's `some-free-process` does: the first free
    /// one at or after the next thread index, wrapping around.
    pub fn some_free_thread(&self) -> Option<Thread> {
        self.free
            .next_in_both(&self.visible, self.next_thread_index)
            .or_else(|| self.free.next_in_both(&self.visible, 0))
            .map(|i| self.thread_at(i))
    }

    /// The process of [`Context::some_free_thread`].
    pub fn some_free_process(&self) -> Option<Process> {
        self.some_free_thread().map(|t| self.process_of(t))
    }

    /// Marks a thread busy and advances the next thread index (Jepsen's `busy-thread`).
    pub fn set_busy(&mut self, t: Thread) {
        let i = self.index_of(t);
        self.free.remove(i);
        self.next_thread_index = (self.next_thread_index + 1) % (self.concurrency + 1);
    }

    /// Marks a thread free (Jepsen's `free-thread`).
    pub fn set_free(&mut self, t: Thread) {
        let i = self.index_of(t);
        self.free.insert(i);
    }

    /// After a crash (`:info`), the thread continues as process + concurrency.
    pub fn next_process(&mut self, t: Thread) {
        if let Thread::Client(i) = t {
            Rc::make_mut(&mut self.processes)[i] += self.concurrency as u64;
        }
    }

    /// A view showing only the visible threads for which `keep` holds.
    pub fn restrict(&self, keep: impl Fn(Thread) -> bool) -> Context {
        let mask = ThreadSet::from_fn(self.concurrency + 1, |i| keep(self.thread_at(i)));
        self.restrict_to(&mask)
    }

    /// A view showing only the visible threads in `mask` (indices).
    pub fn restrict_to(&self, mask: &ThreadSet) -> Context {
        let mut c = self.clone();
        c.visible = self.visible.intersect(mask);
        c
    }

    /// A view showing only this thread (if visible).
    pub fn only(&self, t: Thread) -> Context {
        let mut mask = ThreadSet::empty(self.concurrency + 1);
        mask.insert(self.index_of(t));
        self.restrict_to(&mask)
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("time", &self.time)
            .field("visible", &self.all_threads().collect::<Vec<_>>())
            .field("free", &self.free_threads().collect::<Vec<_>>())
            .field("processes", &self.processes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn some_free_process_rotates_like_jepsen() {
        let mut c = Context::with_jepsen_rands(2, 1);
        assert_eq!(c.some_free_process(), Some(Process::Client(0)));
        c.set_busy(Thread::Client(0));
        assert_eq!(c.some_free_process(), Some(Process::Client(1)));
        c.set_busy(Thread::Client(1));
        assert_eq!(c.some_free_process(), Some(Process::Nemesis));
        c.set_free(Thread::Client(0));
        // Next index is 2 (the nemesis), which is free.
        assert_eq!(c.some_free_process(), Some(Process::Nemesis));
        c.set_busy(Thread::Nemesis);
        // Next index wrapped to 0.
        assert_eq!(c.some_free_process(), Some(Process::Client(0)));
        c.set_busy(Thread::Client(0));
        assert_eq!(c.some_free_process(), None);
    }

    #[test]
    fn crashed_threads_take_new_processes() {
        let mut c = Context::with_jepsen_rands(3, 1);
        c.next_process(Thread::Client(1));
        assert_eq!(c.process_of(Thread::Client(1)), Process::Client(4));
        assert_eq!(c.thread_of(&Process::Client(4)), Some(Thread::Client(1)));
        assert_eq!(c.thread_of(&Process::Client(1)), None);
        c.next_process(Thread::Nemesis);
        assert_eq!(c.process_of(Thread::Nemesis), Process::Nemesis);
    }

    #[test]
    fn restriction_narrows_visible_threads_only() {
        let mut c = Context::with_jepsen_rands(3, 1);
        c.set_busy(Thread::Client(0));
        let clients = c.restrict(|t| t != Thread::Nemesis);
        assert_eq!(clients.all_thread_count(), 3);
        assert_eq!(clients.free_thread_count(), 2);
        assert_eq!(
            clients.free_threads().collect::<Vec<_>>(),
            vec![Thread::Client(1), Thread::Client(2)]
        );
        let nemesis = c.only(Thread::Nemesis);
        assert_eq!(nemesis.some_free_process(), Some(Process::Nemesis));
        // The process table is shared by every view.
        assert_eq!(
            nemesis.thread_of(&Process::Client(2)),
            Some(Thread::Client(2))
        );
    }
}
