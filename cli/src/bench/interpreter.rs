//! How fast the interpreter runs when the client costs nothing: a no-op client that
//! completes every op at once, `clients(limit(n, repeat(write)))`, a sink that only counts (and,
//! last, a sink streaming to `history.jsonl`). Measured on the deterministic runtime and
//! on tokio.
//!
//! `restate-jepsen bench --only interpreter [--ops N]`

use super::{best_of, Timing};
use jepsen_core::generator::{clients, limit, op, repeat, TestInfo};
use jepsen_core::history::{HistoryWriter, Op};
use jepsen_core::interpreter::{self, InterpreterOptions};
use jepsen_core::runtime::{DeterministicRuntime, NoopClient, NoopNemesis, Runtime};
use jepsen_real::tokio_runtime::TokioRuntime;
use std::path::Path;

/// Runs `n` client ops with `concurrency` threads; returns the history's length. With
/// `stream_to`, every op is also written to that file by the store's `HistoryWriter`.
async fn measure<R: Runtime>(
    rt: R,
    n: usize,
    concurrency: usize,
    stream_to: Option<&Path>,
) -> usize {
    let test = TestInfo {
        nodes: (1..=5).map(|i| format!("n{i}")).collect(),
        concurrency,
    };
    let mut writer = stream_to.map(|p| HistoryWriter::create(p).expect("writable"));
    let mut count = 0usize;
    let mut sink = |op: &Op| {
        count += 1;
        if let Some(w) = writer.as_mut() {
            w.record(op).expect("written");
        }
    };
    let history = interpreter::run(
        rt,
        &test,
        &InterpreterOptions::default(),
        Box::new(NoopClient),
        Box::new(NoopNemesis),
        clients(limit(n as u64, repeat(op("write")))),
        &mut sink,
    )
    .await
    .expect("the run succeeds");
    assert_eq!(history.len(), 2 * n);
    assert_eq!(count, 2 * n);
    history.len()
}

fn report(world: &str, concurrency: usize, ops: usize, t: Timing) {
    println!(
        "  {world:<16} concurrency {concurrency:>3}: {ops} history ops in {t}  = {:>9.0} client ops/s",
        ops as f64 / 2.0 / t.wall.as_secs_f64()
    );
}

pub fn run(n: usize, repeat: usize) {
    println!("interpreter: {n} client ops, no-op client, best of {repeat}");
    for concurrency in [1, 10, 100] {
        let (ops, t) = best_of(repeat, || {
            let rt = DeterministicRuntime::new(1);
            rt.run(measure(rt.clone(), n, concurrency, None))
        });
        report("deterministic", concurrency, ops, t);
        let (ops, t) = best_of(repeat, || {
            let rt = TokioRuntime::new(1);
            rt.run(measure(rt.clone(), n, concurrency, None))
        });
        report("tokio", concurrency, ops, t);
    }
    // The same, streaming every op to history.jsonl as a real run does.
    let path = std::env::temp_dir().join(format!("interpreter-bench-{}.jsonl", std::process::id()));
    let (ops, t) = best_of(repeat, || {
        let rt = DeterministicRuntime::new(1);
        let (rt2, path) = (rt.clone(), path.clone());
        rt.run(async move { measure(rt2, n, 10, Some(&path)).await })
    });
    report("deterministic+jsonl", 10, ops, t);
    let (ops, t) = best_of(repeat, || {
        let rt = TokioRuntime::new(1);
        rt.run(measure(rt.clone(), n, 10, Some(&path)))
    });
    report("tokio+jsonl", 10, ops, t);
    let _ = std::fs::remove_file(&path);
}
