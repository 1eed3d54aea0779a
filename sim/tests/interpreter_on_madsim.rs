//! The core's interpreter, unchanged, inside a madsim simulation: virtual time follows
//! the generator's schedule, a run takes almost no wall time, and a seed replays exactly.

use jepsen_core::generator::{clients, limit, op, repeat, stagger, TestInfo};
use jepsen_core::history::{History, OpType};
use jepsen_core::interpreter::run_noop;
use jepsen_sim::iteration::json_lines;
use jepsen_sim::{
    check_determinism, run_iteration, run_iterations, DeterminismError, MadsimRuntime,
};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// 1000 no-op writes, staggered 10 ms apart on average, by 5 client threads.
async fn staggered_writes(rt: MadsimRuntime) -> History {
    let test = TestInfo {
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        concurrency: 5,
    };
    let gen = clients(stagger(
        Duration::from_millis(10),
        limit(1000, repeat(op("write"))),
    ));
    run_noop(rt, &test, gen, &mut |_| {})
        .await
        .expect("the run succeeds")
}

#[test]
fn virtual_time_follows_the_stagger_and_costs_no_wall_time() {
    let wall = Instant::now();
    let history = run_iteration(42, staggered_writes).unwrap();
    let wall = wall.elapsed();

    assert_eq!(history.len(), 2000);
    let invokes: Vec<_> = history
        .ops
        .iter()
        .filter(|o| o.kind == OpType::Invoke)
        .collect();
    assert_eq!(invokes.len(), 1000);
    assert!(history
        .ops
        .iter()
        .filter(|o| o.kind != OpType::Invoke)
        .all(|o| o.kind == OpType::Ok));
    // Stagger draws gaps uniformly from [0, 20 ms): 1000 ops span about 10 s. Madsim's
    // sleeps last at least 1 ms, which stretches short gaps a little.
    let span = Duration::from_nanos((invokes[999].time - invokes[0].time) as u64);
    assert!(
        span > Duration::from_secs(8) && span < Duration::from_secs(13),
        "simulated span {span:?}"
    );
    let gaps: Vec<i64> = invokes.windows(2).map(|w| w[1].time - w[0].time).collect();
    assert!(gaps.iter().all(|&g| g >= 0));
    assert!(
        gaps.iter().any(|&g| g > 15_000_000),
        "some gaps are long, as stagger draws them"
    );
    // The run is virtual: it takes far less wall time than it simulates.
    assert!(wall < span, "wall {wall:?} for simulated {span:?}");
}

#[test]
fn the_same_seed_replays_the_same_history_and_another_seed_differs() {
    let first = check_determinism(42, staggered_writes).expect("seed 42 replays");
    let other = run_iteration(43, staggered_writes).unwrap();
    assert_ne!(json_lines(&first), json_lines(&other));
}

/// A run that reads state left behind by the previous run is caught, with the op
/// where the histories part.
#[test]
fn the_determinism_check_reports_the_first_differing_op() {
    static RUNS: AtomicI64 = AtomicI64::new(0);
    let leaky = |rt: MadsimRuntime| async move {
        let mut history = staggered_writes(rt).await;
        history.ops[7].time += RUNS.fetch_add(1, Ordering::SeqCst);
        history
    };
    match check_determinism(42, leaky) {
        Err(DeterminismError::Diverged {
            seed, line, first, ..
        }) => {
            assert_eq!((seed, line), (42, 7));
            assert!(first.unwrap().contains("\"index\":7"));
        }
        other => panic!("expected a divergence, got {other:?}"),
    }
}

/// Iterations run in parallel give the same histories as one at a time.
#[test]
fn parallel_iterations_replay_the_sequential_ones() {
    let mut parallel = Vec::new();
    run_iterations(0..6, 3, staggered_writes, |seed, history| {
        parallel.push((seed, json_lines(&history.unwrap())))
    });
    let sequential: Vec<_> = (0..6)
        .map(|seed| {
            (
                seed,
                json_lines(&run_iteration(seed, staggered_writes).unwrap()),
            )
        })
        .collect();
    assert_eq!(parallel, sequential);
}
