//! The context a generator sees: the time, which threads are free, and which process each
//! thread currently runs. Jepsen's `jepsen.generator.context`.

use crate::history::Process;
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::rc::Rc;

/// A worker thread: a client thread `0..concurrency` or the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Thread {
    Client(usize),
    Nemesis,
}

/// What generators see. Cheap to clone (threads are few).
#[derive(Clone)]
pub struct Context {
    /// Nanoseconds since the test started.
    pub time: i64,
    /// Number of client threads (the nemesis thread is extra).
    pub concurrency: usize,
    /// Visible threads, clients in order then the nemesis; `on-threads` narrows it.
    threads: Vec<Thread>,
    /// Free flag per client thread, plus one for the nemesis at the end.
    free: Vec<bool>,
    /// Current process of each client thread (`thread + k * concurrency`).
    processes: Vec<u64>,
    rng: Rc<RefCell<ChaCha8Rng>>,
}

impl Context {
    /// All threads free, thread `i` running process `i`, the nemesis thread the nemesis.
    pub fn new(concurrency: usize, rng: Rc<RefCell<ChaCha8Rng>>) -> Context {
        let mut threads: Vec<Thread> = (0..concurrency).map(Thread::Client).collect();
        threads.push(Thread::Nemesis);
        Context {
            time: 0,
            concurrency,
            threads,
            free: vec![true; concurrency + 1],
            processes: (0..concurrency as u64).collect(),
            rng,
        }
    }

    fn slot(&self, t: Thread) -> usize {
        match t {
            Thread::Client(i) => i,
            Thread::Nemesis => self.concurrency,
        }
    }

    /// The shared random stream generators draw from.
    pub fn rng(&self) -> &Rc<RefCell<ChaCha8Rng>> {
        &self.rng
    }

    /// Visible threads, clients first.
    pub fn all_threads(&self) -> &[Thread] {
        &self.threads
    }

    pub fn is_free(&self, t: Thread) -> bool {
        self.free[self.slot(t)]
    }

    /// Visible free threads, in order.
    pub fn free_threads(&self) -> impl Iterator<Item = Thread> + '_ {
        self.threads.iter().copied().filter(|t| self.is_free(*t))
    }

    pub fn free_thread_count(&self) -> usize {
        self.free_threads().count()
    }

    pub fn process_of(&self, t: Thread) -> Process {
        match t {
            Thread::Client(i) => Process::Client(self.processes[i]),
            Thread::Nemesis => Process::Nemesis,
        }
    }

    pub fn thread_of(&self, p: &Process) -> Option<Thread> {
        match p {
            Process::Client(p) => {
                let t = (*p % self.concurrency.max(1) as u64) as usize;
                (t < self.concurrency && self.processes[t] == *p).then_some(Thread::Client(t))
            }
            Process::Nemesis => Some(Thread::Nemesis),
            Process::Named(_) => None,
        }
    }

    /// Visible free processes, in thread order.
    pub fn free_processes(&self) -> impl Iterator<Item = Process> + '_ {
        self.free_threads().map(|t| self.process_of(t))
    }

    /// A free process to fill in an op that names none: the lowest free client thread's
    /// process (Jepsen's `some-free-process`), else the nemesis if it is free and visible.
    pub fn some_free_process(&self) -> Option<Process> {
        self.free_processes().next()
    }

    pub fn set_busy(&mut self, t: Thread) {
        let s = self.slot(t);
        self.free[s] = false;
    }

    pub fn set_free(&mut self, t: Thread) {
        let s = self.slot(t);
        self.free[s] = true;
    }

    /// After a crash (`:info`), the thread continues as process + concurrency.
    pub fn next_process(&mut self, t: Thread) {
        if let Thread::Client(i) = t {
            self.processes[i] += self.concurrency as u64;
        }
    }

    /// A view showing only the threads for which `keep` holds (`on-threads`).
    pub fn restrict(&self, keep: impl Fn(Thread) -> bool) -> Context {
        let mut c = self.clone();
        c.threads.retain(|t| keep(*t));
        c
    }
}
