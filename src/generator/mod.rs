//! Generators: Jepsen's pure, composable schedules of client and nemesis operations.
//!
//! A generator is an immutable value. Asked for an operation in a [`Context`] it answers
//! with an op and the generator that follows it, or `Pending` (nothing now; ask again after
//! the next event), or `Exhausted`. It is told of every invocation and completion through
//! `update`, which returns the generator that follows. Because generators never change in
//! place, a combinator such as `any` can ask several children and keep only the one whose
//! op it uses. Children are shared through `Rc`, so a step costs a few small allocations.

mod context;

pub use context::{Context, Thread};

use crate::history::Op;
use std::rc::Rc;

/// A generator, shared.
pub type Gen = Rc<dyn Generator>;

/// What a generator answers when asked for an operation.
pub enum GenOp {
    /// An invocation to perform at `op.time` (ns) by `op.process`, and the generator
    /// that follows (`None`: nothing follows).
    Op(Op, Option<Gen>),
    /// Nothing yet: ask again after the next event or when time has passed.
    Pending,
    /// Jepsen's `{:type :log}`: log this message now, then continue with the generator.
    Log(String, Option<Gen>),
    /// Jepsen's `{:type :sleep}`: `op.process`'s thread does nothing for `op.value` ns
    /// (an `Int`), starting at `max(op.time, now)`; then continue with the generator.
    Sleep(Op, Option<Gen>),
    /// Nothing more, ever.
    Exhausted,
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
