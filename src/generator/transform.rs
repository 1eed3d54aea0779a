//! Combinators that transform or inspect a generator's ops and updates: `map`, `f-map`,
//! `filter`, `on-update`, `validate`.
//!
//! `map` and `filter` see client and nemesis ops only: Jepsen also passes its `:log` and
//! `:sleep` ops through them, but here those are not ops, and they pass untouched.

use super::{cyclic, same, unchanged, Context, Gen, GenOp, Generator, IntoGen, TestInfo};
use crate::history::{Op, OpType};
use std::rc::{Rc, Weak};

type MapFn = Rc<dyn Fn(Op, &TestInfo, &Context) -> Op>;

/// Jepsen's `map`.
struct Map {
    me: Weak<Map>,
    f: MapFn,
    gen: Gen,
}

fn new_map(f: MapFn, gen: Gen) -> Gen {
    cyclic(|me| Map { me, f, gen })
}

impl Generator for Map {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let answer = match self.gen.op(test, ctx) {
            GenOp::Op(op, next) => GenOp::Op((self.f)(op, test, ctx), next),
            other => other,
        };
        answer.rewrap(|next| {
            if unchanged(&next, &self.gen) {
                Some(same(&self.me))
            } else {
                Some(new_map(self.f.clone(), next?))
            }
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event)?;
        Some(new_map(self.f.clone(), gen))
    }
}

/// Transforms each op of `gen` with `f`; pending and exhaustion pass through.
pub fn map(f: impl Fn(Op) -> Op + 'static, gen: impl IntoGen) -> Gen {
    new_map(Rc::new(move |op, _, _| f(op)), gen.into_gen())
}

/// Like `map`, with the test and context too (Jepsen's `(f op test ctx)`).
pub fn map_ctx(f: impl Fn(Op, &TestInfo, &Context) -> Op + 'static, gen: impl IntoGen) -> Gen {
    new_map(Rc::new(f), gen.into_gen())
}

/// Renames each op's `f` with `rename` (Jepsen's `f-map`, used to compose nemeses).
pub fn f_map(rename: impl Fn(&str) -> String + 'static, gen: impl IntoGen) -> Gen {
    map(
        move |mut op| {
            op.f = rename(&op.f);
            op
        },
        gen,
    )
}

type FilterFn = Rc<dyn Fn(&Op) -> bool>;

/// Jepsen's `filter`.
struct Filter {
    me: Weak<Filter>,
    keep: FilterFn,
    gen: Gen,
}

fn new_filter(keep: FilterFn, gen: Gen) -> Gen {
    cyclic(|me| Filter { me, keep, gen })
}

impl Generator for Filter {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let mut answer = self.gen.op(test, ctx);
        // Skip (consume) ops that do not pass.
        while let GenOp::Op(op, next) = &answer {
            if (self.keep)(op) {
                break;
            }
            match next {
                Some(next) => answer = next.op(test, ctx),
                None => return GenOp::Exhausted,
            }
        }
        answer.rewrap(|next| {
            if unchanged(&next, &self.gen) {
                Some(same(&self.me))
            } else {
                Some(new_filter(self.keep.clone(), next?))
            }
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event)?;
        Some(new_filter(self.keep.clone(), gen))
    }
}

/// Only the ops of `gen` for which `keep` holds; the others are consumed and skipped.
pub fn filter(keep: impl Fn(&Op) -> bool + 'static, gen: impl IntoGen) -> Gen {
    new_filter(Rc::new(keep), gen.into_gen())
}

type UpdateFn = Rc<dyn Fn(&Gen, &TestInfo, &Context, &Op) -> Gen>;

/// Jepsen's `on-update`.
#[derive(Clone)]
struct OnUpdate {
    f: UpdateFn,
    /// `None` once the wrapped generator ran out; `f` still sees updates, as in Jepsen.
    gen: Option<Gen>,
}

impl Generator for OnUpdate {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        super::ask(&self.gen, test, ctx).rewrap(|next| {
            Some(Rc::new(OnUpdate {
                f: self.f.clone(),
                gen: next,
            }))
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let this: Gen = Rc::new(self.clone());
        Some((self.f)(&this, test, ctx, event))
    }
}

/// Calls `f(this, test, ctx, event)` on every update and continues with the generator it
/// returns (return `this.clone()` to carry on unchanged). The wrapped generator itself
/// sees no updates unless `f` passes them on, as in Jepsen.
pub fn on_update(
    f: impl Fn(&Gen, &TestInfo, &Context, &Op) -> Gen + 'static,
    gen: impl IntoGen,
) -> Gen {
    Rc::new(OnUpdate {
        f: Rc::new(f),
        gen: Some(gen.into_gen()),
    })
}

/// Jepsen's `validate`.
struct Validate {
    gen: Gen,
}

fn check(answer: &GenOp, ctx: &Context) -> Vec<String> {
    let (op, is_op) = match answer {
        GenOp::Op(op, _) => (op, true),
        GenOp::Sleep(op, _) => (op, false),
        _ => return Vec::new(),
    };
    let mut problems = Vec::new();
    if is_op && !matches!(op.kind, OpType::Invoke | OpType::Info) {
        problems.push(format!(
            ":type should be :invoke or :info, not :{}",
            op.kind.name()
        ));
    }
    if op.time < 0 {
        problems.push(format!(":time should be a time, not {}", op.time));
    }
    match ctx.thread_of(&op.process) {
        None => problems.push(format!("process {} runs on no thread", op.process)),
        Some(t) if !ctx.is_free(t) => problems.push(format!("process {} is not free", op.process)),
        Some(_) => {}
    }
    problems
}

impl Generator for Validate {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let answer = self.gen.op(test, ctx);
        let problems = check(&answer, ctx);
        assert!(
            problems.is_empty(),
            "generator produced an invalid op {answer:?} in {ctx:?}: {}",
            problems.join("; ")
        );
        answer.rewrap(|next| Some(Rc::new(Validate { gen: next? })))
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event)?;
        Some(Rc::new(Validate { gen }))
    }
}

/// Panics, with the op, the context and the problems, when `gen` emits an op that is not
/// an invocation or whose process is not free (Jepsen's `validate`).
pub fn validate(gen: impl IntoGen) -> Gen {
    Rc::new(Validate {
        gen: gen.into_gen(),
    })
}
