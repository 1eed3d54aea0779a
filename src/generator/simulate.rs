//! Runs a generator against a simulated, perfectly predictable system and returns the
//! history: Jepsen's `jepsen.generator.test`. Pure and deterministic; the model for
//! generator tests, and a cheap way to see what a workload will do.
//!
//! The loop follows the interpreter's rules: a worker thread is busy from an invocation to
//! its completion; an op is invoked at `max(op.time, now)`; an op due after the earliest
//! outstanding completion waits for it; each completion frees its thread and is given to
//! the generator (`update`) before the generator is asked again; an `:info` completion
//! gives a client thread a new process (process + concurrency); a `Sleep` keeps its
//! thread busy for its duration; a `Log` is recorded in `logs`. Completion times come
//! from a completion function (fixed latencies here).
//!
//! Two tie rules exist, because Jepsen's own simulator and its interpreter differ when an
//! invocation and a completion fall on the same nanosecond: [`Ties::Interpreter`] delivers
//! the completion first, and completes simultaneous ops in invocation order;
//! [`Ties::Jepsen`] (`jepsen.generator.test/simulate`) invokes first, and completes
//! simultaneous ops latest-invoked first. The `perfect`/`quick`/`imperfect` helpers use
//! Jepsen's rule and Jepsen's fixed random streams, so they reproduce the schedules
//! Jepsen's generator tests assert.

use super::{nothing, sleep_duration, Context, Gen, GenOp, IntoGen, TestInfo, Thread};
use crate::history::{Op, OpType};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::rc::Rc;

/// Which event goes first when an invocation and a completion fall on the same time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ties {
    /// Completions first; simultaneous completions in invocation order.
    Interpreter,
    /// Invocations first; simultaneous completions latest-invoked first
    /// (`jepsen.generator.test/simulate`).
    Jepsen,
}

/// What a simulation produced.
#[derive(Clone, Debug, Default)]
pub struct Simulation {
    /// Invocations and completions, indexed in order.
    pub history: Vec<Op>,
    /// `(time, message)` for each `log`.
    pub logs: Vec<(i64, String)>,
}

/// An outstanding operation or sleep.
struct InFlight {
    time: i64,
    thread: Thread,
    /// `None` for a sleep.
    completion: Option<Op>,
}

/// Runs `gen` from `ctx` until it is exhausted and nothing is in flight. `complete` gives
/// the completion of each invocation (its `time` is when it completes; earlier times are
/// raised to the invocation's). Panics if the generator is pending with nothing in flight
/// (it could never proceed), or emits an op whose process is not free.
pub fn run(
    test: &TestInfo,
    mut ctx: Context,
    gen: impl IntoGen,
    ties: Ties,
    mut complete: impl FnMut(&Context, &Op) -> Op,
) -> Simulation {
    let mut gen = gen.into_gen();
    let mut out = Simulation::default();
    // Ordered by (time, tie key); the key is the invocation sequence number, negated for
    // Jepsen's latest-first rule.
    let mut in_flight: BinaryHeap<Reverse<(i64, i64, usize)>> = BinaryHeap::new();
    let mut slots: Vec<Option<InFlight>> = Vec::new();
    let mut free_slots: Vec<usize> = Vec::new();
    let mut seq: i64 = 0;

    let earliest = |h: &BinaryHeap<Reverse<(i64, i64, usize)>>| h.peek().map(|Reverse(e)| e.0);

    loop {
        let answer = gen.op(test, &ctx);
        let (op, next, is_sleep) = match answer {
            GenOp::Op(op, next) => (op, next, false),
            GenOp::Sleep(op, next) => (op, next, true),
            GenOp::Log(message, next) => {
                out.logs.push((ctx.time, message));
                gen = next.unwrap_or_else(nothing);
                continue;
            }
            GenOp::Exhausted if in_flight.is_empty() => break,
            GenOp::Pending if in_flight.is_empty() => {
                panic!("generator is pending with nothing in flight, in {ctx:?}")
            }
            GenOp::Exhausted | GenOp::Pending => {
                deliver(
                    test,
                    &mut ctx,
                    &mut gen,
                    &mut in_flight,
                    &mut slots,
                    &mut free_slots,
                    &mut out,
                );
                continue;
            }
        };
        let at = op.time.max(ctx.time);
        let complete_first = match (earliest(&in_flight), ties) {
            (None, _) => false,
            (Some(first), Ties::Interpreter) => first <= at,
            (Some(first), Ties::Jepsen) => first < op.time,
        };
        if complete_first {
            deliver(
                test,
                &mut ctx,
                &mut gen,
                &mut in_flight,
                &mut slots,
                &mut free_slots,
                &mut out,
            );
            continue;
        }

        let thread = ctx
            .thread_of(&op.process)
            .unwrap_or_else(|| panic!("op {op} has a process no thread runs, in {ctx:?}"));
        assert!(
            ctx.is_free(thread),
            "op {op} is for a busy thread, in {ctx:?}"
        );
        ctx.time = at;
        ctx.set_busy(thread);
        let entry = if is_sleep {
            gen = next.unwrap_or_else(nothing);
            InFlight {
                time: at.saturating_add(sleep_duration(&op)),
                thread,
                completion: None,
            }
        } else {
            let mut op = op;
            op.time = at;
            op.index = out.history.len() as i64;
            let next = next.unwrap_or_else(nothing);
            gen = next.update(test, &ctx, &op).unwrap_or(next);
            let completion = complete(&ctx, &op);
            out.history.push(op);
            InFlight {
                time: completion.time.max(at),
                thread,
                completion: Some(completion),
            }
        };
        let key = match ties {
            Ties::Interpreter => seq,
            Ties::Jepsen => -seq,
        };
        seq += 1;
        let time = entry.time;
        let slot = match free_slots.pop() {
            Some(s) => {
                slots[s] = Some(entry);
                s
            }
            None => {
                slots.push(Some(entry));
                slots.len() - 1
            }
        };
        in_flight.push(Reverse((time, key, slot)));
    }
    out
}

/// Delivers the earliest outstanding completion (or the end of a sleep).
fn deliver(
    test: &TestInfo,
    ctx: &mut Context,
    gen: &mut Gen,
    in_flight: &mut BinaryHeap<Reverse<(i64, i64, usize)>>,
    slots: &mut [Option<InFlight>],
    free_slots: &mut Vec<usize>,
    out: &mut Simulation,
) {
    let Reverse((_, _, slot)) = in_flight.pop().expect("something in flight");
    let entry = slots[slot].take().expect("a live slot");
    free_slots.push(slot);
    ctx.time = entry.time;
    ctx.set_free(entry.thread);
    if let Some(mut completion) = entry.completion {
        completion.time = entry.time;
        completion.index = out.history.len() as i64;
        if let Some(g) = gen.update(test, ctx, &completion) {
            *gen = g;
        }
        let crashed = completion.kind == OpType::Info;
        out.history.push(completion);
        if crashed && entry.thread != Thread::Nemesis {
            ctx.next_process(entry.thread);
        }
    }
}

/// A fresh context for `test` drawing from a ChaCha stream seeded with `seed`.
pub fn seeded_context(test: &TestInfo, seed: u64) -> Context {
    Context::new(
        test.concurrency,
        Rc::new(RefCell::new(ChaCha8Rng::seed_from_u64(seed))),
    )
}

/// The history of `gen` run with the interpreter's rules: every op completes
/// `latency_ns` after its invocation, as `completion(invocation)` says.
pub fn simulate(
    test: &TestInfo,
    seed: u64,
    latency_ns: i64,
    mut completion: impl FnMut(&Op) -> OpType,
    gen: impl IntoGen,
) -> Vec<Op> {
    let ctx = seeded_context(test, seed);
    run(test, ctx, gen, Ties::Interpreter, |_, op| {
        op.complete(completion(op)).with_time(op.time + latency_ns)
    })
    .history
}

// ---- jepsen.generator.test ----

/// Jepsen's `perfect-latency`: how long a perfect op takes, in ns.
pub const PERFECT_LATENCY: i64 = 10;

/// Jepsen's `default-test`: nodes n1 and n2, with the context's concurrency.
pub fn jepsen_test(ctx: &Context) -> TestInfo {
    TestInfo {
        nodes: vec!["n1".to_string(), "n2".to_string()],
        concurrency: ctx.concurrency,
    }
}

/// Jepsen's `n+nemesis-context` under `with-fixed-rands rand-seed`: `n` client threads
/// and a nemesis, drawing from Jepsen's fixed test streams. Jepsen's `default-context`
/// is `jepsen_context(2)`.
pub fn jepsen_context(n: usize) -> Context {
    Context::with_jepsen_rands(n, super::JEPSEN_TEST_SEED)
}

/// Only the invocations: in a simulated history each process alternates invocation and
/// completion, so the first op of each pair (even a nemesis `:info` invocation).
pub fn invocations(history: &[Op]) -> Vec<Op> {
    let mut open: BTreeMap<&crate::history::Process, bool> = BTreeMap::new();
    history
        .iter()
        .filter(|op| {
            let open = open.entry(&op.process).or_insert(false);
            *open = !*open;
            *open
        })
        .cloned()
        .collect()
}

fn jepsen_sim(
    ctx: Context,
    gen: impl IntoGen,
    complete: impl FnMut(&Context, &Op) -> Op,
) -> Vec<Op> {
    let test = jepsen_test(&ctx);
    run(&test, ctx, gen, Ties::Jepsen, complete).history
}

/// Jepsen's `quick-ops`: every op completes `:ok` at once.
pub fn quick_ops(ctx: Context, gen: impl IntoGen) -> Vec<Op> {
    jepsen_sim(ctx, gen, |_, op| op.complete(OpType::Ok).with_time(op.time))
}

/// Jepsen's `quick`: the invocations of `quick_ops`.
pub fn quick(ctx: Context, gen: impl IntoGen) -> Vec<Op> {
    invocations(&quick_ops(ctx, gen))
}

/// Jepsen's `perfect*`: every op completes `:ok` after 10 ns; the full history.
pub fn perfect_full(ctx: Context, gen: impl IntoGen) -> Vec<Op> {
    jepsen_sim(ctx, gen, |_, op| {
        op.complete(OpType::Ok).with_time(op.time + PERFECT_LATENCY)
    })
}

/// Jepsen's `perfect`: the invocations of `perfect_full`.
pub fn perfect(ctx: Context, gen: impl IntoGen) -> Vec<Op> {
    invocations(&perfect_full(ctx, gen))
}

/// Jepsen's `perfect-info`: every op crashes (`:info`) after 10 ns; the invocations.
pub fn perfect_info(ctx: Context, gen: impl IntoGen) -> Vec<Op> {
    invocations(&jepsen_sim(ctx, gen, |_, op| {
        op.complete(OpType::Info)
            .with_time(op.time + PERFECT_LATENCY)
    }))
}

/// Jepsen's `imperfect`: each thread's ops fail, crash, succeed, fail, ... in turn,
/// taking 10 ns each; the full history.
pub fn imperfect(ctx: Context, gen: impl IntoGen) -> Vec<Op> {
    let mut last: BTreeMap<Thread, OpType> = BTreeMap::new();
    jepsen_sim(ctx, gen, move |ctx, op| {
        let thread = ctx.thread_of(&op.process).expect("a running process");
        let kind = match last.get(&thread) {
            None | Some(OpType::Ok) => OpType::Fail,
            Some(OpType::Fail) => OpType::Info,
            Some(_) => OpType::Ok,
        };
        last.insert(thread, kind);
        op.complete(kind).with_time(op.time + PERFECT_LATENCY)
    })
}
