//! Combinators that decide when ops happen: `stagger`, `delay`, `time-limit`,
//! `cycle-times`. Time is the context's, in nanoseconds; nothing here reads a clock.

use super::{
    ask, cyclic, nanos, nothing, same, unchanged, Context, Gen, GenOp, Generator, IntoGen, TestInfo,
};
use crate::history::Op;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// Sets the time of an emitted op or sleep (a log has no time of its own).
fn set_time(answer: &mut GenOp, time: i64) {
    if let GenOp::Op(op, _) | GenOp::Sleep(op, _) = answer {
        op.time = time;
    }
}

fn op_time(answer: &GenOp) -> Option<i64> {
    match answer {
        GenOp::Op(op, _) | GenOp::Sleep(op, _) => Some(op.time),
        _ => None,
    }
}

/// Jepsen's `stagger`.
struct Stagger {
    /// Twice the mean gap, in ns.
    dt2: i64,
    next_time: Option<i64>,
    gen: Gen,
}

impl Generator for Stagger {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let mut answer = self.gen.op(test, ctx);
        let Some(time) = op_time(&answer) else {
            // Pending, exhausted, or a log (which takes no slot here).
            return answer.rewrap(|next| {
                Some(Rc::new(Stagger {
                    dt2: self.dt2,
                    next_time: self.next_time,
                    gen: next?,
                }))
            });
        };
        let next_time = self.next_time.unwrap_or(ctx.time);
        let gap = (self.dt2 as f64 * ctx.rand_double()) as i64;
        let following = if next_time <= time {
            time + gap
        } else {
            set_time(&mut answer, next_time);
            next_time + gap
        };
        answer.rewrap(|next| {
            Some(Rc::new(Stagger {
                dt2: self.dt2,
                next_time: Some(following),
                gen: next?,
            }))
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event)?;
        Some(Rc::new(Stagger {
            dt2: self.dt2,
            next_time: self.next_time,
            gen,
        }))
    }
}

/// Schedules ops at uniformly random intervals in `[0, 2 dt)`: about one op every `dt`
/// across all threads together (Jepsen's total-rate `stagger`).
pub fn stagger(dt: Duration, gen: impl IntoGen) -> Gen {
    Rc::new(Stagger {
        dt2: nanos(dt).saturating_mul(2),
        next_time: None,
        gen: gen.into_gen(),
    })
}

/// Jepsen's `delay`.
struct Delay {
    dt: i64,
    next_time: Option<i64>,
    gen: Gen,
}

impl Generator for Delay {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let mut answer = self.gen.op(test, ctx);
        let following = op_time(&answer).map(|time| {
            let time = time.max(self.next_time.unwrap_or(time));
            set_time(&mut answer, time);
            time + self.dt
        });
        answer.rewrap(|next| {
            Some(Rc::new(Delay {
                dt: self.dt,
                next_time: following.or(self.next_time),
                gen: next?,
            }))
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event)?;
        Some(Rc::new(Delay {
            dt: self.dt,
            next_time: self.next_time,
            gen,
        }))
    }
}

/// Emits ops exactly `dt` apart (across all threads), catching up (sooner than `dt`) when
/// it has fallen behind because threads were busy.
pub fn delay(dt: Duration, gen: impl IntoGen) -> Gen {
    Rc::new(Delay {
        dt: nanos(dt),
        next_time: None,
        gen: gen.into_gen(),
    })
}

/// Jepsen's `time-limit`.
struct TimeLimit {
    me: Weak<TimeLimit>,
    limit: i64,
    cutoff: Option<i64>,
    gen: Gen,
}

fn new_time_limit(limit: i64, cutoff: Option<i64>, gen: Gen) -> Gen {
    cyclic(|me| TimeLimit {
        me,
        limit,
        cutoff,
        gen,
    })
}

impl Generator for TimeLimit {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let answer = self.gen.op(test, ctx);
        let Some(time) = answer.time(ctx) else {
            return answer;
        };
        let cutoff = self.cutoff.unwrap_or(time.saturating_add(self.limit));
        if time >= cutoff {
            return GenOp::Exhausted;
        }
        answer.rewrap(|next| {
            if self.cutoff.is_some() && unchanged(&next, &self.gen) {
                Some(same(&self.me))
            } else {
                Some(new_time_limit(self.limit, Some(cutoff), next?))
            }
        })
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let gen = self.gen.update(test, ctx, event)?;
        Some(new_time_limit(self.limit, self.cutoff, gen))
    }
}

/// Ops from `gen` only for `dt` from the time of its first op: ops at or after the
/// cutoff end it.
pub fn time_limit(dt: Duration, gen: impl IntoGen) -> Gen {
    if dt.is_zero() {
        return nothing();
    }
    new_time_limit(nanos(dt), None, gen.into_gen())
}

/// How many windows `cycle-times` may skip, per generator, looking for an op.
const CYCLE_TIMES_MAX_SKIPS: usize = 1000;

/// Jepsen's `cycle-times`.
struct CycleTimes {
    period: i64,
    /// The start of the first cycle, fixed on the first request.
    t0: Option<i64>,
    /// How long each generator's window lasts.
    intervals: Rc<Vec<i64>>,
    gens: Rc<Vec<Option<Gen>>>,
}

impl Generator for CycleTimes {
    fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
        let now = ctx.time;
        let t0 = self.t0.unwrap_or(now);
        let in_period = (now - t0).rem_euclid(self.period);
        let cycle_start = now - in_period;
        // The window we are in.
        let mut i = 0;
        let mut t = cycle_start;
        while i + 1 < self.intervals.len() && in_period >= t - cycle_start + self.intervals[i] {
            t += self.intervals[i];
            i += 1;
        }
        // Look for a generator with an op that falls inside its own window, asking later
        // windows as if their start had come.
        // Jepsen loops until some window's op fits; bound it so that windows of zero
        // length cannot spin for ever.
        for _ in 0..CYCLE_TIMES_MAX_SKIPS * self.gens.len() {
            let window_end = t + self.intervals[i];
            let asked = ctx.with_time(now.max(t));
            let answer = ask(&self.gens[i], test, &asked);
            let time = match answer {
                GenOp::Exhausted => return GenOp::Exhausted,
                GenOp::Pending => return GenOp::Pending,
                ref emitted => emitted.time(&asked).expect("an emitted answer has a time"),
            };
            if time < window_end {
                return answer.rewrap(|next| {
                    let mut gens = (*self.gens).clone();
                    gens[i] = next;
                    Some(Rc::new(CycleTimes {
                        period: self.period,
                        t0: Some(t0),
                        intervals: self.intervals.clone(),
                        gens: Rc::new(gens),
                    }))
                });
            }
            i = (i + 1) % self.gens.len();
            t = window_end;
        }
        GenOp::Pending
    }

    fn update(&self, test: &TestInfo, ctx: &Context, event: &Op) -> Option<Gen> {
        let updated: Vec<Option<Gen>> = self
            .gens
            .iter()
            .map(|g| g.as_ref().and_then(|g| g.update(test, ctx, event)))
            .collect();
        if updated.iter().all(Option::is_none) {
            return None;
        }
        let gens = self
            .gens
            .iter()
            .zip(updated)
            .map(|(old, new)| new.or_else(|| old.clone()))
            .collect();
        Some(Rc::new(CycleTimes {
            period: self.period,
            t0: self.t0,
            intervals: self.intervals.clone(),
            gens: Rc::new(gens),
        }))
    }
}

/// Cycles between generators on a fixed schedule: `cycle_times(vec![(5 s, writes),
/// (10 s, reads)])` takes ops from `writes` for 5 s, then `reads` for 10 s, and round
/// again; each generator keeps its state from one window to its next. Exhausted as soon
/// as the generator whose window it is runs out. Updates go to all.
pub fn cycle_times<T: IntoGen>(windows: Vec<(Duration, T)>) -> Gen {
    if windows.is_empty() {
        return nothing();
    }
    let intervals: Vec<i64> = windows.iter().map(|(d, _)| nanos(*d)).collect();
    let period = intervals.iter().sum::<i64>().max(1);
    let gens = windows
        .into_iter()
        .map(|(_, g)| Some(g.into_gen()))
        .collect();
    Rc::new(CycleTimes {
        period,
        t0: None,
        intervals: Rc::new(intervals),
        gens: Rc::new(gens),
    })
}
