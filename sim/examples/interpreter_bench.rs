//! Benchmark: the core's interpreter with a no-op client inside madsim, 10,000 ops over
//! about 60 simulated seconds per iteration, each iteration on a fresh thread with its
//! own seed. Prints iterations/s and the ratio of simulated to wall time; for
//! comparison, the same run on the core's `DeterministicRuntime`.
//!
//!     cargo run --release -p restate-jepsen-sim --example interpreter_bench [ITERATIONS]

use jepsen_core::generator::{clients, limit, op, repeat, stagger, Gen, TestInfo};
use jepsen_core::history::History;
use jepsen_core::interpreter::{run, InterpreterOptions};
use jepsen_core::runtime::{DeterministicRuntime, NoopClient, NoopNemesis, Runtime};
use jepsen_sim::run_iteration;
use std::time::{Duration, Instant};

fn workload() -> (TestInfo, Gen) {
    let test = TestInfo {
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        concurrency: 5,
    };
    // 10,000 ops, 6 ms apart on average: about 60 simulated seconds.
    let gen = clients(stagger(
        Duration::from_millis(6),
        limit(10_000, repeat(op("write"))),
    ));
    (test, gen)
}

async fn interpret(rt: impl Runtime) -> (History, Duration) {
    let (test, gen) = workload();
    let history = run(
        rt.clone(),
        &test,
        &InterpreterOptions::default(),
        Box::new(NoopClient),
        Box::new(NoopNemesis),
        gen,
        &mut |_| {},
    )
    .await
    .expect("the run succeeds");
    (history, rt.now())
}

fn report(name: &str, iterations: u64, ops: usize, simulated: Duration, wall: Duration) {
    println!(
        "{name}: {iterations} iterations, {ops} history entries, {:.1} simulated s in {:.3} wall s: \
         {:.1} iterations/s, simulated/wall {:.0}x, {:.0} entries/s",
        simulated.as_secs_f64(),
        wall.as_secs_f64(),
        iterations as f64 / wall.as_secs_f64(),
        simulated.as_secs_f64() / wall.as_secs_f64(),
        ops as f64 / wall.as_secs_f64(),
    );
}

fn main() {
    let iterations: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("ITERATIONS is a number"))
        .unwrap_or(20);

    let (mut ops, mut simulated) = (0, Duration::ZERO);
    let wall = Instant::now();
    for seed in 0..iterations {
        let (history, now) = run_iteration(seed, interpret).unwrap();
        ops += history.len();
        simulated += now;
    }
    report("madsim", iterations, ops, simulated, wall.elapsed());

    let (mut ops, mut simulated) = (0, Duration::ZERO);
    let wall = Instant::now();
    for seed in 0..iterations {
        let rt = DeterministicRuntime::new(seed);
        let (history, now) = rt.run(interpret(rt.clone()));
        ops += history.len();
        simulated += now;
    }
    report("deterministic", iterations, ops, simulated, wall.elapsed());
}
