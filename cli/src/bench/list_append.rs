//! `bench --only list-append`: Elle's list-append checker on a generated history of
//! 1,000,000 transactions (ten processes in turn, each appending to its own key and
//! reading a neighbour's; keys retired every 20 rounds), valid, and with stale reads
//! planted every 50,000 transactions; transactions per second of the check alone (the
//! history is built in memory first).

use super::{best_of, ms};
use jepsen_core::checker::elle::ListAppend;
use jepsen_core::checker::{CheckOptions, Checker};
use jepsen_core::history::{History, Op, OpType, Value};

const TXNS: u64 = 1_000_000;

fn int_list(values: &[u64]) -> Value {
    Value::Vec(values.iter().map(|v| Value::Int(*v as i64)).collect())
}

fn mop(f: &str, k: u64, v: Value) -> Value {
    Value::Vec(vec![Value::keyword(f), Value::Int(k as i64), v])
}

/// The history; with `planted`, every 50,000th transaction (in a round whose reads a later round extends) misses its neighbour's
/// last append (a stale read).
fn history(planted: bool) -> History {
    let procs = 10u64;
    let mut lists: Vec<Vec<u64>> = vec![Vec::new(); procs as usize];
    let mut ops = Vec::with_capacity(2 * TXNS as usize);
    let mut v = 0u64;
    for t in 0..TXNS {
        let (round, p) = (t / procs, t % procs);
        if p == 0 && round % 20 == 0 {
            lists.iter_mut().for_each(Vec::clear);
        }
        let epoch = round / 20;
        let other = (p + 1) % procs;
        v += 1;
        lists[p as usize].push(v);
        let (key, other_key) = (epoch * procs + p, epoch * procs + other);
        let seen = &lists[other as usize];
        let seen = if planted && t % 50_000 == 49_989 && !seen.is_empty() {
            &seen[..seen.len() - 1]
        } else {
            &seen[..]
        };
        let invoke = Op::new(
            OpType::Invoke,
            jepsen_core::history::Process::Client(p),
            "txn",
            Value::Vec(vec![
                mop("append", key, Value::Int(v as i64)),
                mop("r", other_key, Value::Nil),
            ]),
        );
        let mut ok = invoke.complete(OpType::Ok);
        ok.value = Value::Vec(vec![
            mop("append", key, Value::Int(v as i64)),
            mop("r", other_key, int_list(seen)),
        ]);
        ops.push(invoke);
        ops.push(ok);
    }
    History::from_ops(ops).expect("a well-formed history")
}

pub fn run(repeat: usize) {
    println!("list-append: Elle's checker (strict-serializable) on {TXNS} generated transactions, best of {repeat}");
    for planted in [false, true] {
        let h = history(planted);
        let checker = ListAppend::default();
        let (result, timing) = best_of(repeat, || checker.check(&h, &CheckOptions::default()));
        let types = result
            .get("anomaly-types")
            .map_or("none".to_string(), |t| t.to_string());
        println!(
            "  {:<24} {timing}  {:>10.0} txns/s  valid? {:?}  anomaly types {types}",
            if planted {
                "stale reads planted"
            } else {
                "valid"
            },
            TXNS as f64 / (ms(timing.wall) / 1e3),
            result.valid
        );
    }
}
