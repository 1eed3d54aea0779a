//! A synthetic, linearizable cas-register history of any size, with fault windows, for
//! the report's load-time benchmark and its browser test (which includes this file).
//!
//! Ten threads each work on their own keys (Jepsen's independent `[key value]` tuples), so
//! the history is linearizable by construction while the threads overlap in time. Inside
//! the fault windows (3 s of every 10 s) ops are slower, some writes fail with a timeout
//! and some reads end `:info`, after which the thread goes on as a new process, as
//! Jepsen's do.

use jepsen_core::history::{History, Op, OpType, Process, Value};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

const THREADS: u64 = 10;
const MS: i64 = 1_000_000;

fn in_fault(t: i64) -> bool {
    t % (10_000 * MS) >= 4_000 * MS && t % (10_000 * MS) < 7_000 * MS
}

/// About `ops` ops (client and nemesis), deterministic for `seed`.
pub fn register_history(ops: usize, seed: u64) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // (time, sequence, op): sorted at the end; the sequence keeps each thread's order.
    let mut events: Vec<(i64, usize, Op)> = Vec::with_capacity(ops + 16);
    let mut clock = vec![0i64; THREADS as usize];
    let mut process: Vec<u64> = (0..THREADS).collect();
    let mut done = vec![0usize; THREADS as usize];
    let mut state: BTreeMap<i64, i64> = BTreeMap::new();
    let push = |events: &mut Vec<(i64, usize, Op)>, op: Op| {
        let n = events.len();
        events.push((op.time, n, op));
    };
    while events.len() + 2 <= ops {
        // The thread that is free first goes next.
        let th = (0..THREADS as usize).min_by_key(|&t| clock[t]).unwrap();
        let start = clock[th] + rng.gen_range(MS..20 * MS);
        let faulty = in_fault(start);
        let latency = if faulty {
            rng.gen_range(5 * MS..300 * MS)
        } else if rng.gen_bool(0.01) {
            rng.gen_range(50 * MS..200 * MS)
        } else {
            rng.gen_range(MS / 2..6 * MS)
        };
        let end = start + latency;
        let key = th as i64 * 1000 + (done[th] / 50) as i64;
        let current = state.get(&key).copied();
        let tuple = |v: Value| Value::Vec(vec![Value::Int(key), v]);
        let p = process[th];
        let roll = rng.gen_range(0..10);
        let (f, value, kind, result, error) = if roll < 5 {
            let read = current.map_or(Value::Nil, Value::Int);
            if faulty && rng.gen_bool(0.2) {
                (
                    "read",
                    Value::Nil,
                    OpType::Info,
                    Value::Nil,
                    Some("timeout"),
                )
            } else {
                ("read", Value::Nil, OpType::Ok, read, None)
            }
        } else if roll < 8 {
            let v = rng.gen_range(0..5);
            if faulty && rng.gen_bool(0.2) {
                let w = Value::Int(v);
                ("write", w.clone(), OpType::Fail, w, Some("unavailable"))
            } else {
                state.insert(key, v);
                ("write", Value::Int(v), OpType::Ok, Value::Int(v), None)
            }
        } else {
            let (from, to) = (rng.gen_range(0..5), rng.gen_range(0..5));
            let cas = Value::Vec(vec![Value::Int(from), Value::Int(to)]);
            if current == Some(from) {
                state.insert(key, to);
                ("cas", cas.clone(), OpType::Ok, cas, None)
            } else {
                ("cas", cas.clone(), OpType::Fail, cas, None)
            }
        };
        push(&mut events, Op::invoke(p, f, tuple(value)).with_time(start));
        let mut completion = Op::new(kind, Process::Client(p), f, tuple(result)).with_time(end);
        if let Some(e) = error {
            completion = completion.with_error(Value::keyword(e));
        }
        push(&mut events, completion);
        if kind == OpType::Info {
            process[th] += THREADS;
        }
        clock[th] = end;
        done[th] += 1;
    }
    // The nemesis: one partition per fault window, both halves recorded.
    let last = clock.iter().copied().max().unwrap_or(0);
    let mut t = 4_000 * MS;
    while t < last {
        for (at, f, value) in [
            (t, "start", Value::Nil),
            (t + 1000, "start", Value::from("n1")),
            (t + 3_000 * MS, "stop", Value::Nil),
            (t + 3_000 * MS + 1000, "stop", Value::Nil),
        ] {
            push(
                &mut events,
                Op::new(OpType::Info, Process::Nemesis, f, value).with_time(at),
            );
        }
        t += 10_000 * MS;
    }
    events.sort_by_key(|(time, n, _)| (*time, *n));
    History::from_ops(events.into_iter().map(|(_, _, op)| op).collect())
        .expect("the synthetic history is well formed")
}
