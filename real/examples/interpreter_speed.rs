//! How fast the interpreter runs when the client costs nothing: a no-op client that
//! completes every op at once, a trivial generator (n writes on the lowest free thread),
//! a sink that only counts (and, last, a sink streaming to `history.jsonl`). Measured on the deterministic runtime (core) and on tokio
//! (this crate), which is why this example lives here rather than in the core.
//!
//! `cargo run --release -p restate-jepsen-real --example interpreter_speed [client ops]`

use jepsen_core::generator::{Context, GenOp, Generator, TestInfo, Thread};
use jepsen_core::history::{HistoryWriter, Op, OpType, Value};
use jepsen_core::interpreter::{run, InterpreterOptions};
use jepsen_core::runtime::{
    Client, ClientError, DeterministicRuntime, LocalBoxFuture, NoopNemesis, Runtime,
};
use jepsen_real::tokio_runtime::TokioRuntime;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;

struct NoopClient;

impl Client for NoopClient {
    fn open(&self, _: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>> {
        Box::pin(async { Ok(Box::new(NoopClient) as Box<dyn Client>) })
    }
    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move { Ok(op.complete(OpType::Ok)) })
    }
}

struct Writes(usize);

impl Generator for Writes {
    fn op(&self, _: &TestInfo, ctx: &Context) -> GenOp {
        if self.0 == 0 {
            return GenOp::Exhausted;
        }
        match ctx.free_threads().find(|t| matches!(t, Thread::Client(_))) {
            Some(t) => GenOp::Op(
                Op::new(OpType::Invoke, ctx.process_of(t), "write", Value::Nil).with_time(ctx.time),
                Some(Rc::new(Writes(self.0 - 1))),
            ),
            None => GenOp::Pending,
        }
    }
}

/// Runs `n` client ops with `concurrency` threads; returns (history ops, seconds). With
/// `stream_to`, every op is also written to that file by the store's `HistoryWriter`.
async fn measure<R: Runtime>(
    rt: R,
    n: usize,
    concurrency: usize,
    stream_to: Option<&Path>,
) -> (usize, f64) {
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
    let start = Instant::now();
    let history = run(
        rt,
        &test,
        &InterpreterOptions::default(),
        Box::new(NoopClient),
        Box::new(NoopNemesis),
        Rc::new(Writes(n)),
        &mut sink,
    )
    .await
    .expect("the run succeeds");
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(history.len(), 2 * n);
    assert_eq!(count, 2 * n);
    (history.len(), secs)
}

fn report(world: &str, concurrency: usize, (ops, secs): (usize, f64)) {
    println!(
        "{world:>13}  concurrency {concurrency:>3}: {ops} history ops in {secs:.3} s = {:>9.0} history ops/s = {:>9.0} client ops/s",
        ops as f64 / secs,
        ops as f64 / 2.0 / secs
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("client ops: a number"))
        .unwrap_or(1_000_000);
    for concurrency in [1, 10, 100] {
        let rt = DeterministicRuntime::new(1);
        let r = rt.run(measure(rt.clone(), n, concurrency, None));
        report("deterministic", concurrency, r);
        let rt = TokioRuntime::new(1);
        let r = rt.run(measure(rt.clone(), n, concurrency, None));
        report("tokio", concurrency, r);
    }
    // The same, streaming every op to history.jsonl as a real run does.
    let path = std::env::temp_dir().join(format!("interpreter-speed-{}.jsonl", std::process::id()));
    let rt = DeterministicRuntime::new(1);
    let r = rt.run({
        let (rt, path) = (rt.clone(), path.clone());
        async move { measure(rt, n, 10, Some(&path)).await }
    });
    report("det.+jsonl", 10, r);
    let rt = TokioRuntime::new(1);
    let r = rt.run(measure(rt.clone(), n, 10, Some(&path)));
    report("tokio+jsonl", 10, r);
    let _ = std::fs::remove_file(&path);
}
