//! Combinators that route generators to threads: `on-threads`, `clients`, `nemesis`,
//! `each-thread`, `each-process`, `reserve`.

use super::choice::{soonest, Candidate};
use super::{
    any, cyclic, same, unchanged, Context, Gen, GenOp, Generator, IntoGen, TestInfo, Thread,
    ThreadFilter,
};
use crate::history::{Op, Process};
use std::rc::{Rc, Weak};

/// Jepsen's `on-threads`.
struct OnThreads {
    me: Weak<OnThreads>,
    filter: Rc<ThreadFilter>,
    gen: Gen,
}

fn new_on_threads(filter: Rc<ThreadFilter>, gen: Gen) -> Gen {
    cyclic(|me| OnThreads { me, filter, gen })
}

impl Generator for OnThreads {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        self.gen.op(test, &self.filter.apply(ctx)).rewrap(|next| {
            if unchanged(&next, &self.gen) {
                Some(same(&self.me))
            } else {
                Some(new_on_threads(self.filter.clone(), next?))
            }
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let thread = ctx.thread_of(&event.process)?;
        if !self.filter.keeps(thread) {
            return None;
        }
        let gen = self.gen.update(test, &self.filter.apply(ctx), event)?;
        Some(new_on_threads(self.filter.clone(), gen))
    }
}

/// `gen`, seeing only the threads for which `keep` holds; it gets only their updates.
pub fn on_threads(keep: impl Fn(Thread) -> bool + 'static, gen: impl IntoGen) -> Gen {
    new_on_threads(Rc::new(ThreadFilter::new(keep)), gen.into_gen())
}

/// `gen` for client threads only.
pub fn clients(gen: impl IntoGen) -> Gen {
    on_threads(|t| t != Thread::Nemesis, gen)
}

/// `gen` for the nemesis thread only.
pub fn nemesis(gen: impl IntoGen) -> Gen {
    on_threads(|t| t == Thread::Nemesis, gen)
}

/// Client ops from `client_gen` and nemesis ops from `nemesis_gen` together (Jepsen's
/// two-argument `clients` / `nemesis`).
pub fn clients_with_nemesis(client_gen: impl IntoGen, nemesis_gen: impl IntoGen) -> Gen {
    any(vec![clients(client_gen), nemesis(nemesis_gen)])
}

/// A thread's copy of the generator in `each-thread` / `each-process`.
#[derive(Clone)]
enum Slot {
    /// Not started: the fresh generator.
    Fresh,
    Live(Gen),
    /// Ran out (Jepsen keeps a nil here, never the fresh generator again).
    Done,
}

impl Slot {
    fn gen<'a>(&'a self, fresh: &'a Gen) -> Option<&'a Gen> {
        match self {
            Slot::Fresh => Some(fresh),
            Slot::Live(g) => Some(g),
            Slot::Done => None,
        }
    }

    fn from(next: Option<Gen>) -> Slot {
        next.map_or(Slot::Done, Slot::Live)
    }
}

/// Jepsen's `each-thread` and `each-process`: one copy of the generator per thread, each
/// seeing only its own thread. With `per_process`, a thread whose process changed (after a
/// crash) starts again from the fresh generator.
struct EachThread {
    me: Weak<EachThread>,
    fresh: Gen,
    per_process: bool,
    /// Per thread index.
    slots: Rc<Vec<Slot>>,
    /// Per thread index, the process its slot was started for (`each-process` only).
    extant: Rc<Vec<Option<Process>>>,
}

impl EachThread {
    fn slots_for(&self, ctx: &Context) -> (Vec<Slot>, Vec<Option<Process>>) {
        let n = ctx.concurrency + 1;
        let mut slots = (*self.slots).clone();
        slots.resize(n, Slot::Fresh);
        let mut extant = (*self.extant).clone();
        extant.resize(n, None);
        (slots, extant)
    }

    fn with(&self, slots: Vec<Slot>, extant: Vec<Option<Process>>) -> Gen {
        new_each_thread(
            self.fresh.clone(),
            self.per_process,
            Rc::new(slots),
            Rc::new(extant),
        )
    }
}

fn new_each_thread(
    fresh: Gen,
    per_process: bool,
    slots: Rc<Vec<Slot>>,
    extant: Rc<Vec<Option<Process>>>,
) -> Gen {
    cyclic(|me| EachThread {
        me,
        fresh,
        per_process,
        slots,
        extant,
    })
}

impl Generator for EachThread {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        // (thread index, answer, process started afresh) for each free thread with one.
        let mut answers: Vec<(usize, GenOp, Option<Process>)> = Vec::new();
        for thread in ctx.free_threads() {
            let i = ctx.index_of(thread);
            let slot = self.slots.get(i).unwrap_or(&Slot::Fresh);
            let process = ctx.process_of(thread);
            let new =
                self.per_process && self.extant.get(i).and_then(|p| p.as_ref()) != Some(&process);
            let gen = if new {
                Some(&self.fresh)
            } else {
                slot.gen(&self.fresh)
            };
            let Some(gen) = gen else { continue };
            match gen.op(test, &ctx.only(thread)) {
                GenOp::Exhausted => {}
                answer => answers.push((i, answer, new.then_some(process))),
            }
        }
        let best = answers
            .iter()
            .enumerate()
            .map(|(k, (_, a, _))| Candidate::of(a, ctx, 1, k))
            .fold(None, |acc, c| soonest(acc, Some(c), ctx));
        match best {
            Some(c) if answers[c.index].1.is_emitted() => {
                let (i, answer, started) = answers.swap_remove(c.index);
                answer.rewrap(|next| {
                    let current = match self.slots.get(i).unwrap_or(&Slot::Fresh) {
                        Slot::Live(g) => Some(g),
                        Slot::Fresh if !self.per_process => Some(&self.fresh),
                        _ => None,
                    };
                    if started.is_none() && current.is_some_and(|g| unchanged(&next, g)) {
                        return Some(same(&self.me));
                    }
                    let (mut slots, mut extant) = self.slots_for(ctx);
                    slots[i] = Slot::from(next);
                    if let Some(p) = started {
                        extant[i] = Some(p);
                    }
                    Some(self.with(slots, extant))
                })
            }
            Some(_) => GenOp::Pending,
            None if ctx.free_thread_count() != ctx.all_thread_count() => GenOp::Pending,
            None => GenOp::Exhausted,
        }
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let thread = ctx.thread_of(&event.process)?;
        let i = ctx.index_of(thread);
        let slot = self.slots.get(i).unwrap_or(&Slot::Fresh);
        let gen = slot
            .gen(&self.fresh)?
            .update(test, &ctx.only(thread), event)?;
        let (mut slots, extant) = self.slots_for(ctx);
        slots[i] = Slot::Live(gen);
        Some(self.with(slots, extant))
    }
}

/// An independent copy of `gen` for every thread, each seeing only its own thread;
/// updates go to the copy of the thread that caused them. Pending while a thread is busy
/// and no free thread has an op; exhausted when every copy is.
pub fn each_thread(gen: impl IntoGen) -> Gen {
    new_each_thread(gen.into_gen(), false, Rc::default(), Rc::default())
}

/// Like `each_thread`, but a thread starts a fresh copy whenever its process changes
/// (after an `:info` crash).
pub fn each_process(gen: impl IntoGen) -> Gen {
    new_each_thread(gen.into_gen(), true, Rc::default(), Rc::default())
}

/// Jepsen's `reserve`.
struct Reserve {
    /// `[start, end)` client thread index ranges, one per reserved generator.
    ranges: Rc<Vec<(usize, usize)>>,
    /// One filter per range, then the default's (every thread in no range).
    filters: Rc<Vec<ThreadFilter>>,
    /// One generator per range, then the default.
    gens: Rc<Vec<Option<Gen>>>,
}

impl Generator for Reserve {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let default = self.ranges.len();
        // Jepsen starts the fold with the default generator's op, then each range's in
        // turn, weighing each by its number of threads.
        let mut answers: Vec<Option<GenOp>> = (0..=default).map(|_| None).collect();
        let mut ask_one = |i: usize, weight: Option<u64>| -> Option<Candidate> {
            let ctx_i = self.filters[i].apply(ctx);
            let weight = weight.unwrap_or(ctx_i.all_thread_count() as u64);
            match super::ask(&self.gens[i], test, &ctx_i) {
                GenOp::Exhausted => None,
                answer => {
                    let c = Candidate::of(&answer, &ctx_i, weight, i);
                    answers[i] = Some(answer);
                    Some(c)
                }
            }
        };
        let mut best = ask_one(default, None);
        for (i, (start, end)) in self.ranges.iter().enumerate() {
            let c = ask_one(i, Some((end - start) as u64));
            best = soonest(best, c, ctx);
        }
        let Some(best) = best else {
            return GenOp::Exhausted;
        };
        let answer = answers[best.index].take().expect("the winner answered");
        if !answer.is_emitted() {
            return GenOp::Pending;
        }
        answer.rewrap(|next| {
            let mut gens = (*self.gens).clone();
            gens[best.index] = next;
            Some(Rc::new(Reserve {
                ranges: self.ranges.clone(),
                filters: self.filters.clone(),
                gens: Rc::new(gens),
            }))
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let thread = ctx.thread_of(&event.process)?;
        let i = match thread {
            Thread::Client(t) => self
                .ranges
                .iter()
                .position(|(start, end)| (*start..*end).contains(&t))
                .unwrap_or(self.ranges.len()),
            Thread::Nemesis => self.ranges.len(),
        };
        // Jepsen passes the unrestricted context here.
        let gen = self.gens[i].as_ref()?.update(test, ctx, event)?;
        let mut gens = (*self.gens).clone();
        gens[i] = Some(gen);
        Some(Rc::new(Reserve {
            ranges: self.ranges.clone(),
            filters: self.filters.clone(),
            gens: Rc::new(gens),
        }))
    }
}

/// Reserves threads for generators: `reserve(vec![(5, writes), (10, cas)], reads)` gives
/// client threads 0–4 to `writes`, 5–14 to `cas`, and every other thread (the nemesis
/// included) to `reads`. Each generator sees only its threads and gets only their
/// updates.
pub fn reserve<T: IntoGen>(reserved: Vec<(usize, T)>, default: impl IntoGen) -> Gen {
    reserve_from(0, reserved, default)
}

/// [`reserve`] with the reserved ranges starting at client thread `first` instead of 0:
/// inside a generator that sees only threads `first…` (a workload of several, see
/// `workload::WorkloadMix`), its own reservations count from its first thread.
pub fn reserve_from<T: IntoGen>(
    first: usize,
    reserved: Vec<(usize, T)>,
    default: impl IntoGen,
) -> Gen {
    let mut ranges = Vec::new();
    let mut gens = Vec::new();
    let mut start = first;
    for (count, gen) in reserved {
        ranges.push((start, start + count));
        gens.push(Some(gen.into_gen()));
        start += count;
    }
    gens.push(Some(default.into_gen()));
    let in_range = |ranges: &[(usize, usize)], t: Thread| match t {
        Thread::Client(i) => ranges.iter().any(|(s, e)| (*s..*e).contains(&i)),
        Thread::Nemesis => false,
    };
    let mut filters: Vec<ThreadFilter> = ranges
        .iter()
        .map(|&(s, e)| {
            ThreadFilter::new(move |t| matches!(t, Thread::Client(i) if (s..e).contains(&i)))
        })
        .collect();
    let all = ranges.clone();
    filters.push(ThreadFilter::new(move |t| !in_range(&all, t)));
    Rc::new(Reserve {
        ranges: Rc::new(ranges),
        filters: Rc::new(filters),
        gens: Rc::new(gens),
    })
}
