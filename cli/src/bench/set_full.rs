//! Times the set-full checker on a synthetic 1,000,000-op set history: generates the
//! history into a temporary directory (JSON lines and EDN), then times parsing
//! (`read_history_file`) and checking (`set_full(true)`) separately.
//!
//! The workload is restatedev/jepsen's set test scaled up: 9 adder threads add 0, 1, 2, …
//! (1–5 ms each, 1 % time out as `:info`, half of which take effect), and one reader
//! thread reads the whole set. A read returning the whole set makes read volume quadratic
//! in the adds, so a million-op history can only hold a few full reads: here 40 reads,
//! spread evenly over the run (each ~50 ms, seeing what was applied before its
//! linearization point), the last one after every add completed. That is ~10 M element
//! sightings in reads besides the 1 M ops: 157 MB of JSON lines, 154 MB of EDN.
//!
//! Run: `restate-jepsen bench --only set-full [--ops N]`.

use jepsen_core::checker::set_full::set_full;
use jepsen_core::checker::{CheckOptions, Checker};
use jepsen_core::history::{read_history_file, write_edn, Op, OpType, Process, Value};
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufWriter, Write};

use super::{best_of, ms};
use crate::exit::Failure;

const ADDERS: usize = 9;
const MS: i64 = 1_000_000;

/// What a thread is doing: nothing, an add of an element, or a read.
#[derive(Clone, Copy)]
enum Pending {
    Add {
        element: i64,
        applies_at: Option<i64>,
        info: bool,
    },
    Read {
        at: i64,
    },
}

fn generate(total_ops: usize, reads: usize) -> Vec<Op> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let adds = (total_ops - 2 * reads) / 2;
    let mut ops = Vec::with_capacity(total_ops);
    // Completion events: (time, thread); thread ADDERS is the reader.
    let mut events: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
    let mut pending: Vec<Option<Pending>> = vec![None; ADDERS + 1];
    let mut process: Vec<u64> = (0..=ADDERS as u64).collect();
    // Every element's apply time (i64::MAX = never applied), in element order.
    let mut applied: Vec<i64> = Vec::with_capacity(adds);
    let mut next_element = 0i64;
    let mut reads_done = 0;
    let read_every = adds / reads;
    let push = |ops: &mut Vec<Op>, kind, p: u64, f: &str, value: Value, time: i64| {
        let mut op = Op::new(kind, Process::Client(p), f, value).with_time(time);
        op.index = ops.len() as i64;
        ops.push(op);
    };
    for t in 0..=ADDERS {
        events.push(Reverse((t as i64, t)));
    }
    while let Some(Reverse((now, t))) = events.pop() {
        match pending[t].take() {
            Some(Pending::Add {
                element,
                applies_at,
                info,
            }) => {
                let kind = if info { OpType::Info } else { OpType::Ok };
                applied[element as usize] = applies_at.unwrap_or(i64::MAX);
                let mut op = Op::new(kind, Process::Client(process[t]), "add", element.into());
                op.time = now;
                op.index = ops.len() as i64;
                if info {
                    op.error = Some(Value::keyword("timeout"));
                    process[t] += (ADDERS + 1) as u64;
                }
                ops.push(op);
                events.push(Reverse((now + rng.gen_range(0..MS), t)));
            }
            Some(Pending::Read { at }) => {
                let seen: Vec<Value> = applied
                    .iter()
                    .enumerate()
                    .filter(|&(_, &a)| a < at)
                    .map(|(e, _)| Value::Int(e as i64))
                    .collect();
                push(
                    &mut ops,
                    OpType::Ok,
                    process[t],
                    "read",
                    Value::Vec(seen),
                    now,
                );
                reads_done += 1;
                events.push(Reverse((now + 1, t)));
            }
            None if t < ADDERS => {
                if next_element as usize >= adds {
                    continue;
                }
                let element = next_element;
                next_element += 1;
                push(
                    &mut ops,
                    OpType::Invoke,
                    process[t],
                    "add",
                    element.into(),
                    now,
                );
                let latency = rng.gen_range(MS..5 * MS);
                let info = rng.gen_bool(0.01);
                let applies_at =
                    (!info || rng.gen_bool(0.5)).then(|| now + rng.gen_range(0..latency));
                applied.push(i64::MAX);
                pending[t] = Some(Pending::Add {
                    element,
                    applies_at,
                    info,
                });
                events.push(Reverse((now + latency, t)));
            }
            None => {
                // The reader: read when its share of adds has been invoked; the last read
                // waits until every add has completed.
                let last = reads_done + 1 == reads;
                let due = if last {
                    next_element as usize >= adds && pending[..ADDERS].iter().all(Option::is_none)
                } else {
                    next_element as usize >= (reads_done + 1) * read_every
                };
                if reads_done >= reads {
                    continue;
                }
                if !due {
                    events.push(Reverse((now + MS, t)));
                    continue;
                }
                push(
                    &mut ops,
                    OpType::Invoke,
                    process[t],
                    "read",
                    Value::Nil,
                    now,
                );
                let latency = 50 * MS;
                pending[t] = Some(Pending::Read {
                    at: now + rng.gen_range(0..latency),
                });
                events.push(Reverse((now + latency, t)));
            }
        }
    }
    ops
}

pub fn run(total_ops: usize, repeat: usize) -> Result<(), Failure> {
    let reads = 40.min(total_ops / 100).max(1);
    let dir = std::env::temp_dir().join(format!("set-full-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::bad_input(format!("{}: {e}", dir.display())))?;
    let ops = generate(total_ops, reads);
    let sightings: usize = ops
        .iter()
        .filter_map(|o| o.value.as_slice().map(<[Value]>::len))
        .sum();
    let jsonl = dir.join("history.jsonl");
    let edn = dir.join("history.edn");
    let written = (|| -> std::io::Result<()> {
        let mut out = BufWriter::new(std::fs::File::create(&jsonl)?);
        for op in &ops {
            serde_json::to_writer(&mut out, op)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        write_edn(&edn, &ops)
    })();
    written.map_err(|e| {
        Failure::bad_input(format!("{}: cannot write the history: {e}", dir.display()))
    })?;
    println!(
        "set-full: {} ops ({} adders, 1 reader, {reads} full reads holding {sightings} elements), best of {repeat}",
        ops.len(),
        ADDERS
    );
    drop(ops);
    for path in [&jsonl, &edn] {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let (history, parse) = best_of(repeat, || {
            read_history_file(path).expect("the generated history parses")
        });
        let (result, check) = best_of(repeat, || {
            set_full(true).check(&history, &CheckOptions::default())
        });
        println!(
            "  {:<14} {:>6.1} MB  parse {parse}  check {check}  total {:>7.1} ms  = {:.2}x of parse  (valid? {:?}, lost {})",
            path.file_name().unwrap_or_default().to_string_lossy(),
            size as f64 / 1e6,
            ms(parse.wall + check.wall),
            ms(parse.wall + check.wall) / ms(parse.wall).max(1e-9),
            result.valid,
            result.get("lost-count").map(|v| v.to_string()).unwrap_or_default(),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
