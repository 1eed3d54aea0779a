//! Generator throughput: invocations per second through `simulate` (Jepsen's pure
//! generator simulator with fixed 50 µs latencies), for the shapes workloads use.

use super::{best_of, Timing};
use jepsen_core::generator::simulate::simulate;
use jepsen_core::generator::*;
use jepsen_core::history::OpType;
use std::time::Duration;

/// restatedev/jepsen's register mix, as the register workloads generate it.
fn rwc() -> Gen {
    jepsen_core::workload::register::register_ops()
}

fn measure(name: &str, concurrency: usize, runs: usize, gen: impl Fn() -> Gen) {
    let test = TestInfo {
        nodes: (1..=5).map(|i| format!("n{i}")).collect(),
        concurrency,
    };
    let (invocations, t): (usize, Timing) = best_of(runs, || {
        simulate(&test, 7, 50_000, |_| OpType::Ok, gen())
            .iter()
            .filter(|o| o.is_invoke())
            .count()
    });
    println!(
        "  {name:<52} {invocations:>8} ops in {t}  = {:>9.0} ops/s",
        invocations as f64 / t.wall.as_secs_f64()
    );
}

pub fn run(n: usize, runs: usize) {
    let n = n as u64;
    println!("generator: ops through simulate, best of {runs}");
    measure("limit(repeat(op)), 10 threads", 10, runs, || {
        limit(n, repeat(op("read")))
    });
    measure(
        "clients(stagger(mix(r, w, cas))), 10 threads",
        10,
        runs,
        || limit(n, clients(stagger(Duration::from_micros(10), rwc()))),
    );
    measure(
        "+ nemesis cycle [sleep start sleep stop], 100 threads",
        100,
        runs,
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
    measure("each_thread(repeat(op)), 10 threads", 10, runs, || {
        limit(n, clients(each_thread(repeat(op("read")))))
    });
}
