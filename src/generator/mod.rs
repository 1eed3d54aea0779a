//! Generators: Jepsen's pure, composable schedules of client and nemesis operations
//! (`jepsen.generator`), with Jepsen's semantics.
//!
//! A generator is an immutable value. Asked for an operation in a [`Context`] it answers
//! with an op and the generator that follows it, or `Pending` (nothing now; ask again after
//! the next event), or `Exhausted`. It is told of every invocation and completion through
//! `update`, which returns the generator that follows. Because generators never change in
//! place, a combinator such as `any` can ask several children and keep only the one whose
//! op it uses. Children are shared through `Rc`, so a step costs a few small allocations.
//!
//! # What the interpreter does with each answer
//!
//! - `GenOp::Op(op, next)`: an invocation by `op.process` at `op.time` (ns). If the time is
//!   in the future, wait until then or until an event arrives, whichever is first, and ask
//!   again (the op is not kept). Otherwise invoke it (journal it with time `max(op.time,
//!   now)`), mark its thread busy, and `update` `next` with it. An op whose `kind` is
//!   `Info` (Jepsen's nemesis convention) is an invocation all the same.
//! - `GenOp::Log(message, next)`: Jepsen's `{:type :log}`: log the message now, continue
//!   with `next`; no thread, no history entry, no `update`.
//! - `GenOp::Sleep(op, next)`: Jepsen's `{:type :sleep}`: at `max(op.time, now)` the thread
//!   of `op.process` becomes busy for `op.value` nanoseconds (an `Int`; see
//!   [`sleep_duration`]), then free again; no history entry, no `update`, no new process.
//!   Continue with `next` at once. (Jepsen occupies a worker with a sleep exactly so.)
//! - `GenOp::Pending`: nothing now; wait for the next completion (or poll again later).
//! - `GenOp::Exhausted`: nothing more; finish once outstanding ops complete. (Jepsen's
//!   interpreter keeps delivering completions to the generator and asking it until then.)
//!
//! On a completion: set the time, `set_free` its thread, `update` the generator with the
//! completion, and only then, if it is an `:info` of a client, `next_process`.
//!
//! # Building generators
//!
//! Constructors return [`Gen`]; combinators take anything [`IntoGen`] (a `Gen`, a
//! `Vec<Gen>` meaning a sequence, an [`OpTemplate`]). Durations are `std::time::Duration`.
//! Method-chaining forms of the combinators are on [`GenExt`], so Jepsen's `->>` pipelines
//! read top to bottom:
//!
//! ```
//! use jepsen_core::generator::*;
//! use std::time::Duration;
//! let s = Duration::from_secs;
//! let workload = mix(vec![op("read"), fn_op(|_, ctx| Some(template("write").value(ctx.rand_int(5) as i64)))]);
//! let g = phases(vec![
//!     any(vec![
//!         clients(stagger(Duration::from_millis(100), repeat(workload))),
//!         nemesis(cycle(vec![sleep(s(5)), op("start"), sleep(s(5)), op("stop")])),
//!     ])
//!     .time_limit(s(60)),
//!     nemesis(op("stop")),
//!     log("Final reads"),
//!     clients(each_thread(until_ok(repeat(op("read"))))),
//! ]);
//! ```

mod basic;
mod choice;
mod context;
mod control;
mod fixed_rands;
pub mod simulate;
mod thread_set;
mod threads;
mod timing;
mod transform;

pub use basic::{
    fn_gen, fn_op, lazy_seq, log, nothing, op, op_value, ops, seq, sleep, sleep_duration, template,
    OpTemplate,
};
pub use choice::{any, mix, shortest_any};
pub use context::{Context, Thread, ThreadFilter};
pub use control::{
    concurrency_limit, cycle, cycle_n, flip_flop, limit, once, phases, process_limit, repeat,
    repeat_n, synchronize, then, until_ok,
};
pub use fixed_rands::JEPSEN_TEST_SEED;
pub use thread_set::ThreadSet;
pub use threads::{
    clients, clients_with_nemesis, each_process, each_thread, nemesis, on_threads, reserve,
    reserve_from,
};
pub use timing::{cycle_times, delay, stagger, time_limit};
pub use transform::{f_map, filter, map, map_ctx, on_update, validate};

use crate::history::Op;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// A generator, shared.
pub type Gen = Rc<dyn Generator>;

/// What a generator answers when asked for an operation. See the module docs for what
/// the interpreter does with each.
pub enum GenOp {
    /// An invocation to perform at `op.time` (ns) by `op.process`, and the generator
    /// that follows (`None`: nothing follows).
    Op(Op, Option<Gen>),
    /// Jepsen's `{:type :log}`: log this message now, then continue with the generator.
    Log(String, Option<Gen>),
    /// Jepsen's `{:type :sleep}`: `op.process`'s thread does nothing for `op.value` ns
    /// (an `Int`), starting at `max(op.time, now)`; then continue with the generator.
    Sleep(Op, Option<Gen>),
    /// Nothing yet: ask again after the next event or when time has passed.
    Pending,
    /// Nothing more, ever.
    Exhausted,
}

impl GenOp {
    /// Whether this is an op, a log or a sleep (something that moves the generator on).
    pub fn is_emitted(&self) -> bool {
        matches!(self, GenOp::Op(..) | GenOp::Log(..) | GenOp::Sleep(..))
    }

    /// The time of an emitted op or sleep; a log happens at the context's time.
    pub fn time(&self, ctx: &Context) -> Option<i64> {
        match self {
            GenOp::Op(op, _) | GenOp::Sleep(op, _) => Some(op.time),
            GenOp::Log(..) => Some(ctx.time),
            GenOp::Pending | GenOp::Exhausted => None,
        }
    }

    /// The same answer with the generator that follows replaced by `wrap(next)`.
    pub fn rewrap(mut self, wrap: impl FnOnce(Option<Gen>) -> Option<Gen>) -> GenOp {
        // In place: an op is large, and answers pass through many layers.
        if let GenOp::Op(_, next) | GenOp::Log(_, next) | GenOp::Sleep(_, next) = &mut self {
            *next = wrap(next.take());
        }
        self
    }
}

impl std::fmt::Debug for GenOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GenOp::Op(op, next) => write!(f, "Op({op}, more: {})", next.is_some()),
            GenOp::Log(m, next) => write!(f, "Log({m:?}, more: {})", next.is_some()),
            GenOp::Sleep(op, next) => write!(f, "Sleep({op}, more: {})", next.is_some()),
            GenOp::Pending => f.write_str("Pending"),
            GenOp::Exhausted => f.write_str("Exhausted"),
        }
    }
}

/// Facts about the test that generators may read.
#[derive(Clone, Debug)]
pub struct TestInfo {
    pub nodes: Vec<String>,
    /// Number of client threads.
    pub concurrency: usize,
}

/// Jepsen's generator protocol.
pub trait Generator {
    /// The next operation in context `ctx`, without changing `self`.
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp;
    /// The generator after `event` (an invocation or completion) happened, or `None` if
    /// it is unchanged (the default: most generators ignore events).
    fn update(&self, _test: &TestInfo, _ctx: &Context, _event: &Op) -> Option<Gen> {
        None
    }
}

/// Anything that can be used as a generator: a [`Gen`], a generator value, a `Vec` of
/// generators (a sequence), an [`OpTemplate`] (a one-shot op).
pub trait IntoGen {
    fn into_gen(self) -> Gen;
}

impl IntoGen for Gen {
    fn into_gen(self) -> Gen {
        self
    }
}

impl<T: Generator + 'static> IntoGen for T {
    fn into_gen(self) -> Gen {
        Rc::new(self)
    }
}

impl<T: IntoGen> IntoGen for Vec<T> {
    fn into_gen(self) -> Gen {
        seq(self)
    }
}

/// Jepsen's `secs->nanos` for a `Duration`.
pub(crate) fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Builds a generator that holds a weak handle on its own `Rc`, so that a step leaving it
/// unchanged can answer with itself ([`same`]) instead of allocating an equal copy.
pub(crate) fn cyclic<T: Generator + 'static>(make: impl FnOnce(Weak<T>) -> T) -> Gen {
    Rc::new_cyclic(|me| make(me.clone()))
}

/// The generator itself, from its weak self-handle (alive while one of its methods runs).
pub(crate) fn same<T: Generator + 'static>(me: &Weak<T>) -> Gen {
    me.upgrade()
        .expect("a generator is alive while it is asked")
}

/// Whether `next` is exactly `gen` (the step left it unchanged).
pub(crate) fn unchanged(next: &Option<Gen>, gen: &Gen) -> bool {
    next.as_ref().is_some_and(|n| Rc::ptr_eq(n, gen))
}

/// Asks `gen` if present; `None` is Jepsen's nil generator.
pub(crate) fn ask(gen: &Option<Gen>, test: &TestInfo, ctx: &Context) -> GenOp {
    match gen {
        Some(g) => g.op(test, ctx),
        None => GenOp::Exhausted,
    }
}

/// Method forms of the combinators, for `->>`-style pipelines:
/// `repeat(op("read")).stagger(dt).clients().time_limit(t)`.
pub trait GenExt: IntoGen + Sized {
    fn limit(self, n: u64) -> Gen {
        limit(n, self)
    }
    fn once(self) -> Gen {
        once(self)
    }
    fn repeat(self) -> Gen {
        repeat(self)
    }
    fn stagger(self, dt: Duration) -> Gen {
        stagger(dt, self)
    }
    fn delay(self, dt: Duration) -> Gen {
        delay(dt, self)
    }
    fn time_limit(self, dt: Duration) -> Gen {
        time_limit(dt, self)
    }
    fn clients(self) -> Gen {
        clients(self)
    }
    fn nemesis(self) -> Gen {
        nemesis(self)
    }
    fn each_thread(self) -> Gen {
        each_thread(self)
    }
    fn synchronize(self) -> Gen {
        synchronize(self)
    }
    /// This generator, then (once every thread is free) `next`: Jepsen's
    /// `(->> self (then next))`.
    fn then(self, next: impl IntoGen) -> Gen {
        then(self, next)
    }
    fn until_ok(self) -> Gen {
        until_ok(self)
    }
    fn concurrency_limit(self, n: usize) -> Gen {
        concurrency_limit(n, self)
    }
    fn map(self, f: impl Fn(Op) -> Op + 'static) -> Gen {
        map(f, self)
    }
    fn filter(self, f: impl Fn(&Op) -> bool + 'static) -> Gen {
        filter(f, self)
    }
}

impl<T: IntoGen> GenExt for T {}
