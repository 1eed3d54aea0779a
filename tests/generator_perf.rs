//! Throughput of generators through `simulate` (ops = invocations per wall-clock second).
//! Ignored by default; run in release to measure:
//! `cargo test --release --test generator_perf -- --ignored --nocapture`.
//! Nothing is asserted about time; the checks are that the runs produced what they should.

use jepsen_core::generator::simulate::simulate;
use jepsen_core::generator::*;
use jepsen_core::history::{OpType, Value};
use std::time::{Duration, Instant};

fn test_info(concurrency: usize) -> TestInfo {
    TestInfo {
        nodes: (1..=5).map(|i| format!("n{i}")).collect(),
        concurrency,
    }
}

fn measure(name: &str, concurrency: usize, n: u64, gen: impl FnOnce() -> Gen) {
    let test = test_info(concurrency);
    let start = Instant::now();
    let history = simulate(&test, 7, 50_000, |_| OpType::Ok, gen());
    let elapsed = start.elapsed();
    let invocations = history.iter().filter(|o| o.is_invoke()).count() as u64;
    // `limit` counts the nemesis's sleeps too, so a workload with sleeps invokes fewer.
    assert!(
        invocations <= n && invocations > n * 99 / 100,
        "{name}: {invocations}"
    );
    assert_eq!(history.len() as u64, 2 * invocations, "{name}");
    let n = invocations;
    println!(
        "{name}: {n} ops in {:.3} s = {:.0} ops/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
}

fn rwc() -> Gen {
    mix(vec![
        repeat(op("read")),
        fn_op(|_, ctx| Some(template("write").value(ctx.rand_int(5) as i64))),
        fn_op(|_, ctx| {
            Some(template("cas").value(Value::Vec(vec![
                Value::Int(ctx.rand_int(5) as i64),
                Value::Int(ctx.rand_int(5) as i64),
            ])))
        }),
    ])
}

fn n() -> u64 {
    std::env::var("GEN_PERF_N")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}

#[test]
#[ignore]
fn throughput_repeat() {
    let n = n();
    measure("limit(repeat(op))", 10, n, || limit(n, repeat(op("read"))));
    measure("clients(repeat(op))", 10, n, || {
        clients(limit(n, repeat(op("read"))))
    });
}

#[test]
#[ignore]
fn throughput_stagger_mix() {
    let n = n();
    measure("clients(stagger(mix(r, w, cas)))", 10, n, || {
        limit(n, clients(stagger(Duration::from_micros(10), rwc())))
    });
}

#[test]
#[ignore]
fn throughput_with_nemesis() {
    let n = n();
    measure(
        "clients(stagger(mix)) + nemesis cycle, 100 threads",
        100,
        n,
        || {
            let ms = Duration::from_millis;
            limit(
                n,
                any(vec![
                    clients(stagger(Duration::from_micros(1), rwc())),
                    nemesis(cycle(vec![
                        sleep(ms(50)),
                        op("start"),
                        sleep(ms(50)),
                        op("stop"),
                    ])),
                ]),
            )
        },
    );
}

#[test]
#[ignore]
fn throughput_each_thread() {
    let n = n();
    measure("each_thread(repeat(op)), 10 threads", 10, n, || {
        limit(n, clients(each_thread(repeat(op("read")))))
    });
}
