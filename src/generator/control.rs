//! Combinators that decide how many ops a generator gives and in what order: `limit`,
//! `once`, `repeat`, `cycle`, `flip-flop`, `until-ok`, `synchronize`, `phases`, `then`,
//! `concurrency-limit`, `process-limit`.

use super::basic::nothing;
use super::{ask, cyclic, same, seq, unchanged, Context, Gen, GenOp, Generator, IntoGen, TestInfo};
use crate::history::{Op, OpType, Process};
use std::collections::BTreeSet;
use std::rc::{Rc, Weak};

/// Jepsen's `limit`.
struct Limit {
    remaining: u64,
    gen: Gen,
}

impl Generator for Limit {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        if self.remaining == 0 {
            return GenOp::Exhausted;
        }
        let remaining = self.remaining - 1;
        self.gen.op(test, ctx).rewrap(|next| {
            let gen = next?;
            (remaining > 0).then(|| Rc::new(Limit { remaining, gen }) as Gen)
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event)?;
        Some(Rc::new(Limit {
            remaining: self.remaining,
            gen,
        }))
    }
}

/// At most `n` ops (logs and sleeps count, as in Jepsen) from `gen`.
pub fn limit(n: u64, gen: impl IntoGen) -> Gen {
    if n == 0 {
        return nothing();
    }
    Rc::new(Limit {
        remaining: n,
        gen: gen.into_gen(),
    })
}

/// Only the first op of `gen`.
pub fn once(gen: impl IntoGen) -> Gen {
    limit(1, gen)
}

/// Jepsen's `repeat`: `remaining` is -1 for ever.
struct Repeat {
    me: Weak<Repeat>,
    remaining: i64,
    gen: Gen,
}

fn new_repeat(remaining: i64, gen: Gen) -> Gen {
    cyclic(|me| Repeat { me, remaining, gen })
}

impl Generator for Repeat {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        if self.remaining == 0 {
            return GenOp::Exhausted;
        }
        let remaining = (self.remaining - 1).max(-1);
        // The underlying generator is not advanced: each op comes from the same state.
        self.gen.op(test, ctx).rewrap(|_| match remaining {
            0 => None,
            -1 => Some(same(&self.me)),
            _ => Some(new_repeat(remaining, self.gen.clone())),
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event)?;
        Some(new_repeat(self.remaining, gen))
    }
}

/// Emits the first op of `gen` for ever, asking the same (unadvanced) generator each
/// time: `repeat(op("read"))` reads for ever; a function generator gives fresh ops.
pub fn repeat(gen: impl IntoGen) -> Gen {
    new_repeat(-1, gen.into_gen())
}

/// Like `repeat`, `n` times.
pub fn repeat_n(n: u64, gen: impl IntoGen) -> Gen {
    if n == 0 {
        return nothing();
    }
    new_repeat(i64::try_from(n).unwrap_or(i64::MAX), gen.into_gen())
}

/// Jepsen's `cycle`: `remaining` is -1 for ever.
struct Cycle {
    remaining: i64,
    original: Gen,
    gen: Option<Gen>,
}

impl Generator for Cycle {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let mut remaining = self.remaining;
        let mut gen = self.gen.clone();
        let mut fresh = false;
        loop {
            if remaining == 0 {
                return GenOp::Exhausted;
            }
            match ask(&gen, test, ctx) {
                GenOp::Exhausted => {
                    if fresh {
                        // The original is empty: Jepsen would recycle it for ever.
                        return GenOp::Exhausted;
                    }
                    remaining -= 1;
                    gen = Some(self.original.clone());
                    fresh = true;
                }
                GenOp::Pending => return GenOp::Pending,
                emitted => {
                    return emitted.rewrap(|next| {
                        Some(Rc::new(Cycle {
                            remaining,
                            original: self.original.clone(),
                            gen: next,
                        }))
                    })
                }
            }
        }
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.as_ref()?.update(test, ctx, event)?;
        Some(Rc::new(Cycle {
            remaining: self.remaining,
            original: self.original.clone(),
            gen: Some(gen),
        }))
    }
}

/// Runs `gen` to exhaustion, then starts it again from its original state, for ever.
/// Updates reach the current run only.
pub fn cycle(gen: impl IntoGen) -> Gen {
    let gen = gen.into_gen();
    Rc::new(Cycle {
        remaining: -1,
        original: gen.clone(),
        gen: Some(gen),
    })
}

/// Like `cycle`, `n` runs in all.
pub fn cycle_n(n: u64, gen: impl IntoGen) -> Gen {
    if n == 0 {
        return nothing();
    }
    let gen = gen.into_gen();
    Rc::new(Cycle {
        remaining: i64::try_from(n).unwrap_or(i64::MAX),
        original: gen.clone(),
        gen: Some(gen),
    })
}

/// Jepsen's `flip-flop`.
struct FlipFlop {
    gens: [Option<Gen>; 2],
    i: usize,
}

impl Generator for FlipFlop {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let i = self.i;
        ask(&self.gens[i], test, ctx).rewrap(|next| {
            let mut gens = self.gens.clone();
            gens[i] = next;
            Some(Rc::new(FlipFlop { gens, i: 1 - i }))
        })
    }
}

/// An op from `a`, then from `b`, then `a` again, and so on; exhausted as soon as the one
/// whose turn it is runs out. Ignores updates.
pub fn flip_flop(a: impl IntoGen, b: impl IntoGen) -> Gen {
    Rc::new(FlipFlop {
        gens: [Some(a.into_gen()), Some(b.into_gen())],
        i: 0,
    })
}

/// Jepsen's `until-ok`.
struct UntilOk {
    gen: Gen,
    done: bool,
    /// Processes with one of our ops in flight.
    active: Rc<BTreeSet<Process>>,
}

impl Generator for UntilOk {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        if self.done {
            return GenOp::Exhausted;
        }
        let answer = self.gen.op(test, ctx);
        let process = match &answer {
            GenOp::Op(op, _) | GenOp::Sleep(op, _) => Some(op.process.clone()),
            _ => None,
        };
        answer.rewrap(|next| {
            let gen = next?;
            let mut active = self.active.clone();
            if let Some(p) = process {
                Rc::make_mut(&mut active).insert(p);
            }
            Some(Rc::new(UntilOk {
                gen,
                done: false,
                active,
            }))
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event);
        let ours = self.active.contains(&event.process);
        let settled = ours && matches!(event.kind, OpType::Ok | OpType::Info | OpType::Fail);
        if gen.is_none() && !settled {
            return None;
        }
        let mut active = self.active.clone();
        if settled {
            Rc::make_mut(&mut active).remove(&event.process);
        }
        Some(Rc::new(UntilOk {
            gen: gen.unwrap_or_else(|| self.gen.clone()),
            done: self.done || (settled && event.kind == OpType::Ok),
            active,
        }))
    }
}

/// Ops from `gen` until one of them completes `:ok`.
pub fn until_ok(gen: impl IntoGen) -> Gen {
    Rc::new(UntilOk {
        gen: gen.into_gen(),
        done: false,
        active: Rc::new(BTreeSet::new()),
    })
}

/// Jepsen's `synchronize`.
struct Synchronize {
    gen: Gen,
}

impl Generator for Synchronize {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        if ctx.free_thread_count() == ctx.all_thread_count() {
            // Ready: from now on we are simply the generator.
            self.gen.op(test, ctx)
        } else {
            GenOp::Pending
        }
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event)?;
        Some(Rc::new(Synchronize { gen }))
    }
}

/// Waits until every (visible) thread is free, then behaves as `gen`.
pub fn synchronize(gen: impl IntoGen) -> Gen {
    Rc::new(Synchronize {
        gen: gen.into_gen(),
    })
}

/// Everything from the first generator, then (once all threads are free) everything from
/// the second, and so on.
pub fn phases<T: IntoGen>(gens: Vec<T>) -> Gen {
    seq(gens.into_iter().map(synchronize).collect::<Vec<Gen>>())
}

/// `first`, then, once every thread is free, `second`. Jepsen's `(then second first)`,
/// written in reading order (Jepsen takes its arguments backwards for `->>`).
pub fn then(first: impl IntoGen, second: impl IntoGen) -> Gen {
    seq(vec![first.into_gen(), synchronize(second)])
}

/// Jepsen's `concurrency-limit`. Stays in place (pending while too many threads are busy)
/// even once its generator has run out, as Jepsen's does.
struct ConcurrencyLimit {
    me: Weak<ConcurrencyLimit>,
    n: usize,
    gen: Option<Gen>,
}

fn new_concurrency_limit(n: usize, gen: Option<Gen>) -> Gen {
    cyclic(|me| ConcurrencyLimit { me, n, gen })
}

impl Generator for ConcurrencyLimit {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        if ctx.all_thread_count() - ctx.free_thread_count() >= self.n {
            return GenOp::Pending;
        }
        ask(&self.gen, test, ctx).rewrap(|next| match &self.gen {
            Some(gen) if unchanged(&next, gen) => Some(same(&self.me)),
            _ => Some(new_concurrency_limit(self.n, next)),
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.as_ref()?.update(test, ctx, event)?;
        Some(new_concurrency_limit(self.n, Some(gen)))
    }
}

/// Pending whenever `n` or more (visible) threads are busy.
pub fn concurrency_limit(n: usize, gen: impl IntoGen) -> Gen {
    if n == 0 {
        return nothing();
    }
    new_concurrency_limit(n, Some(gen.into_gen()))
}

/// Jepsen's `process-limit`.
struct ProcessLimit {
    n: usize,
    processes: Rc<BTreeSet<Process>>,
    gen: Gen,
}

impl Generator for ProcessLimit {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let answer = self.gen.op(test, ctx);
        if !answer.is_emitted() {
            return answer;
        }
        let mut processes = self.processes.clone();
        for p in ctx.all_processes() {
            if !processes.contains(&p) {
                Rc::make_mut(&mut processes).insert(p);
            }
        }
        if processes.len() > self.n {
            return GenOp::Exhausted;
        }
        answer.rewrap(|next| {
            Some(Rc::new(ProcessLimit {
                n: self.n,
                processes,
                gen: next?,
            }))
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event)?;
        Some(Rc::new(ProcessLimit {
            n: self.n,
            processes: self.processes.clone(),
            gen,
        }))
    }
}

/// Ops only while the union of every process the (visible) threads have run stays at
/// most `n`: once crashes have brought in more processes, it is exhausted.
pub fn process_limit(n: usize, gen: impl IntoGen) -> Gen {
    if n == 0 {
        return nothing();
    }
    Rc::new(ProcessLimit {
        n,
        processes: Rc::new(BTreeSet::new()),
        gen: gen.into_gen(),
    })
}
