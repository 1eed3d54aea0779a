//! Choosing between generators: `any` (the soonest op of several), `shortest-any`, and
//! `mix` (a random one each time), with Jepsen's `soonest-op-map` tie-breaking.

use super::{ask, cyclic, same, unchanged, Context, Gen, GenOp, Generator, IntoGen, TestInfo};
use crate::history::Op;
use std::cell::Cell;
use std::rc::{Rc, Weak};

/// One child's answer, as Jepsen's op maps `{:op, :weight, :i}`, without the answer
/// itself (which stays where it is: answers are large, and a fold would move them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
    /// The op's time; `None` for pending.
    pub time: Option<i64>,
    pub weight: u64,
    /// Which answer this is.
    pub index: usize,
}

impl Candidate {
    pub fn of(answer: &GenOp, ctx: &Context, weight: u64, index: usize) -> Candidate {
        Candidate {
            time: answer.time(ctx),
            weight,
            index,
        }
    }
}

/// Jepsen's `soonest-op-map`: the candidate whose op comes sooner; a missing or pending
/// one loses; equal times are broken at random in proportion to the weights, and the
/// winner then carries the sum of both weights.
pub(crate) fn soonest(
    a: Option<Candidate>,
    b: Option<Candidate>,
    ctx: &Context,
) -> Option<Candidate> {
    let (a, b) = match (a, b) {
        (None, b) => return b,
        (a, None) => return a,
        (Some(a), Some(b)) => (a, b),
    };
    let (ta, tb) = match (a.time, b.time) {
        (None, _) => return Some(b),
        (_, None) => return Some(a),
        (Some(ta), Some(tb)) => (ta, tb),
    };
    if ta == tb {
        let w = a.weight + b.weight;
        let mut winner = if ctx.rand_int(w) < a.weight { a } else { b };
        winner.weight = w;
        Some(winner)
    } else if ta < tb {
        Some(a)
    } else {
        Some(b)
    }
}

/// Asks every generator first, then folds the answers with `soonest`, as Jepsen's `any`
/// does (a chunked lazy seq realises all ops before the reduce draws). Returns the
/// winner's index and answer, and whether any generator was exhausted.
fn soonest_of(
    gens: &[Option<Gen>],
    test: &TestInfo,
    ctx: &Context,
) -> (Option<(usize, GenOp)>, bool) {
    let mut answers: Vec<GenOp> = gens.iter().map(|g| ask(g, test, ctx)).collect();
    let any_exhausted = answers.iter().any(|a| matches!(a, GenOp::Exhausted));
    let best = answers
        .iter()
        .enumerate()
        .filter(|(_, a)| !matches!(a, GenOp::Exhausted))
        .map(|(i, a)| Candidate::of(a, ctx, 1, i))
        .fold(None, |acc, c| soonest(acc, Some(c), ctx));
    let best = best.map(|c| (c.index, answers.swap_remove(c.index)));
    (best, any_exhausted)
}

fn update_all(
    gens: &[Option<Gen>],
    test: &TestInfo,
    ctx: &Context,
    event: &Op,
) -> Option<Vec<Option<Gen>>> {
    let updated: Vec<Option<Gen>> = gens
        .iter()
        .map(|g| g.as_ref().and_then(|g| g.update(test, ctx, event)))
        .collect();
    if updated.iter().all(Option::is_none) {
        return None;
    }
    Some(
        gens.iter()
            .zip(updated)
            .map(|(old, new)| new.or_else(|| old.clone()))
            .collect(),
    )
}

/// Jepsen's `any`.
struct Any {
    me: Weak<Any>,
    gens: Rc<Vec<Option<Gen>>>,
}

fn new_any(gens: Vec<Option<Gen>>) -> Gen {
    cyclic(|me| Any {
        me,
        gens: Rc::new(gens),
    })
}

impl Generator for Any {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        match soonest_of(&self.gens, test, ctx).0 {
            None => GenOp::Exhausted,
            Some((_, answer)) if !answer.is_emitted() => GenOp::Pending,
            Some((index, answer)) => answer.rewrap(|next| {
                if let Some(g) = &self.gens[index] {
                    if unchanged(&next, g) {
                        return Some(same(&self.me));
                    }
                }
                let mut gens = (*self.gens).clone();
                gens[index] = next;
                Some(new_any(gens))
            }),
        }
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        Some(new_any(update_all(&self.gens, test, ctx, event)?))
    }
}

/// Ops from whichever generator has the soonest one (ties broken at random); updates go to
/// all of them. Exhausted when all are.
pub fn any<T: IntoGen>(gens: Vec<T>) -> Gen {
    let mut gens: Vec<Gen> = gens.into_iter().map(IntoGen::into_gen).collect();
    match gens.len() {
        0 => super::nothing(),
        1 => gens.pop().expect("one generator"),
        _ => new_any(gens.into_iter().map(Some).collect()),
    }
}

/// Jepsen's `shortest-any`.
struct ShortestAny {
    gens: Rc<Vec<Option<Gen>>>,
}

impl Generator for ShortestAny {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        match soonest_of(&self.gens, test, ctx) {
            (_, true) | (None, _) => GenOp::Exhausted,
            (Some((_, answer)), false) if !answer.is_emitted() => GenOp::Pending,
            (Some((index, answer)), false) => {
                let gens = &self.gens;
                answer.rewrap(|next| {
                    let next = next?;
                    let mut gens = (**gens).clone();
                    gens[index] = Some(next);
                    Some(Rc::new(ShortestAny {
                        gens: Rc::new(gens),
                    }))
                })
            }
        }
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gens = update_all(&self.gens, test, ctx, event)?;
        Some(Rc::new(ShortestAny {
            gens: Rc::new(gens),
        }))
    }
}

/// Like `any`, but exhausted as soon as any one generator is.
pub fn shortest_any<T: IntoGen>(gens: Vec<T>) -> Gen {
    let mut gens: Vec<Gen> = gens.into_iter().map(IntoGen::into_gen).collect();
    match gens.len() {
        0 => super::nothing(),
        1 => gens.pop().expect("one generator"),
        _ => Rc::new(ShortestAny {
            gens: Rc::new(gens.into_iter().map(Some).collect()),
        }),
    }
}

/// Jepsen's `mix`: behaves like a sequence of one-shot, randomly chosen generators.
struct Mix {
    /// The generator to ask next; drawn lazily on first use (Jepsen draws it when the
    /// mix is built, from the global random stream, which we reach only via a context).
    chosen: Cell<Option<usize>>,
    gens: Rc<Vec<Option<Gen>>>,
}

impl Generator for Mix {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let mut gens = self.gens.clone();
        let mut i = match self.chosen.get() {
            Some(i) => i,
            None => {
                let i = ctx.rand_int(gens.len() as u64) as usize;
                self.chosen.set(Some(i));
                i
            }
        };
        loop {
            if gens.is_empty() {
                return GenOp::Exhausted;
            }
            match ask(&gens[i], test, ctx) {
                GenOp::Exhausted => {
                    // Compact, and draw again from the remaining ones.
                    Rc::make_mut(&mut gens).remove(i);
                    i = ctx.rand_int(gens.len() as u64) as usize;
                }
                GenOp::Pending => {
                    ctx.rand_int(gens.len() as u64);
                    return GenOp::Pending;
                }
                emitted => {
                    let chosen = ctx.rand_int(gens.len() as u64) as usize;
                    return emitted.rewrap(|next| {
                        let same_child = gens[i].as_ref().is_some_and(|g| unchanged(&next, g));
                        if !same_child {
                            Rc::make_mut(&mut gens)[i] = next;
                        }
                        Some(Rc::new(Mix {
                            chosen: Cell::new(Some(chosen)),
                            gens,
                        }))
                    });
                }
            }
        }
    }
}

/// A random mixture: each op comes from a generator chosen uniformly at random. Ignores
/// updates (as Jepsen's does, so its children never see any).
pub fn mix<T: IntoGen>(gens: Vec<T>) -> Gen {
    let gens: Vec<Option<Gen>> = gens.into_iter().map(|g| Some(g.into_gen())).collect();
    if gens.is_empty() {
        return super::nothing();
    }
    Rc::new(Mix {
        chosen: Cell::new(None),
        gens: Rc::new(gens),
    })
}
