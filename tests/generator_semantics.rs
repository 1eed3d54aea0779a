//! Generator semantics beyond Jepsen's own test suite, checked through `simulate` with the
//! interpreter's rules: determinism under a seed, sleeps and logs, crashes and new
//! processes, thread routing, limits, and a whole workload of the shape tests use.

use jepsen_core::generator::simulate::{run, seeded_context, simulate, Ties};
use jepsen_core::generator::*;
use jepsen_core::history::{Op, OpType, Process};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::Duration;

const SEC: i64 = 1_000_000_000;

fn test_info(concurrency: usize) -> TestInfo {
    TestInfo {
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        concurrency,
    }
}

fn ok(_: &Op) -> OpType {
    OpType::Ok
}

fn invokes(h: &[Op]) -> Vec<&Op> {
    h.iter().filter(|o| o.is_invoke()).collect()
}

fn rwc() -> Gen {
    mix(vec![
        repeat(op("read")),
        fn_op(|_, ctx| Some(template("write").value(ctx.rand_int(5) as i64))),
        fn_op(|_, ctx| Some(template("cas").value(ctx.rand_int(5) as i64))),
    ])
}

fn workload() -> Gen {
    let ms = Duration::from_millis;
    any(vec![
        clients(stagger(ms(10), rwc())),
        nemesis(cycle(vec![
            sleep(ms(300)),
            op("start"),
            sleep(ms(300)),
            op("stop"),
        ])),
    ])
    .time_limit(Duration::from_secs(3))
}

#[test]
fn same_seed_same_schedule_other_seed_other_schedule() {
    let test = test_info(5);
    let a = simulate(&test, 42, 1_000_000, ok, workload());
    let b = simulate(&test, 42, 1_000_000, ok, workload());
    let c = simulate(&test, 43, 1_000_000, ok, workload());
    assert!(a.len() > 400, "{} ops", a.len());
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn interpreter_rule_delivers_due_completions_before_invoking() {
    let gen = || clients(limit(4, repeat(op("r"))));
    let test = test_info(2);
    let h = simulate(&test, 1, 10, ok, gen());
    let got: Vec<(i64, String, OpType)> = h
        .iter()
        .map(|o| (o.time, o.process.to_string(), o.kind))
        .collect();
    use OpType::*;
    let e = |t: i64, p: &str, k: OpType| (t, p.to_string(), k);
    assert_eq!(
        got,
        vec![
            e(0, "0", Invoke),
            e(0, "1", Invoke),
            e(10, "0", Ok),
            e(10, "1", Ok),
            e(10, "0", Invoke),
            e(10, "1", Invoke),
            e(20, "0", Ok),
            e(20, "1", Ok),
        ]
    );
    // Jepsen's simulator invokes first and completes latest-invoked first.
    let h = run(
        &test,
        seeded_context(&test, 1),
        gen(),
        Ties::Jepsen,
        |_, op| op.complete(Ok).with_time(op.time + 10),
    )
    .history;
    let got: Vec<(i64, String, OpType)> = h
        .iter()
        .map(|o| (o.time, o.process.to_string(), o.kind))
        .collect();
    assert_eq!(
        got,
        vec![
            e(0, "0", Invoke),
            e(0, "1", Invoke),
            e(10, "1", Ok),
            e(10, "1", Invoke),
            e(10, "0", Ok),
            e(10, "0", Invoke),
            e(20, "0", Ok),
            e(20, "1", Ok),
        ]
    );
}

#[test]
fn info_gives_the_thread_a_new_process() {
    let test = test_info(2);
    let mut n = 0;
    let h = simulate(
        &test,
        1,
        10,
        |_| {
            n += 1;
            if n == 1 {
                OpType::Info
            } else {
                OpType::Ok
            }
        },
        clients(limit(6, repeat(op("r")))),
    );
    let procs: BTreeSet<String> = invokes(&h).iter().map(|o| o.process.to_string()).collect();
    // Thread 0 crashed on its first op and continued as process 0 + 2.
    assert_eq!(procs, ["1", "2", "0"].map(String::from).into());
    let first_info = h.iter().position(|o| o.is_info()).unwrap();
    assert!(h[first_info + 1..]
        .iter()
        .all(|o| o.process != Process::Client(0)));
}

#[test]
fn nemesis_info_completions_keep_the_nemesis_process() {
    let test = test_info(1);
    let h = simulate(
        &test,
        1,
        10,
        |_| OpType::Info,
        nemesis(repeat_n(3, template("kill").kind(OpType::Info))),
    );
    assert_eq!(h.len(), 6);
    assert!(h
        .iter()
        .all(|o| o.process == Process::Nemesis && o.is_info()));
}

#[test]
fn a_sleep_phase_pauses_everything() {
    let test = test_info(2);
    let h = simulate(
        &test,
        1,
        10,
        ok,
        clients(phases(vec![
            op("a"),
            sleep(Duration::from_secs(1)),
            op("b"),
        ])),
    );
    let t: Vec<(String, i64)> = invokes(&h).iter().map(|o| (o.f.clone(), o.time)).collect();
    // a completes at 10; the sleep starts then and holds a thread for 1 s.
    assert_eq!(t, vec![("a".into(), 0), ("b".into(), 10 + SEC)]);
    // Sleeps are not in the history.
    assert_eq!(h.len(), 4);
}

#[test]
fn a_sleep_holds_only_its_own_thread() {
    // As in Jepsen, a sleep occupies one thread; the other goes on at once.
    let test = test_info(2);
    let h = simulate(
        &test,
        1,
        10,
        ok,
        clients(vec![sleep(Duration::from_secs(1)), op("x")]),
    );
    let x = invokes(&h)[0];
    assert_eq!((x.time, x.process.clone()), (0, Process::Client(1)));
}

#[test]
fn nemesis_cycle_of_sleeps_spaces_faults() {
    let test = test_info(3);
    let s5 = Duration::from_secs(5);
    let h = simulate(
        &test,
        1,
        1000,
        ok,
        nemesis(cycle_n(
            2,
            vec![sleep(s5), op("start"), sleep(s5), op("stop")],
        )),
    );
    let t: Vec<(String, i64)> = invokes(&h).iter().map(|o| (o.f.clone(), o.time)).collect();
    let e = |f: &str, t: i64| (f.to_string(), t);
    assert_eq!(
        t,
        vec![
            e("start", 5 * SEC),
            e("stop", 10 * SEC + 1000),
            e("start", 15 * SEC + 2000),
            e("stop", 20 * SEC + 3000),
        ]
    );
}

#[test]
fn logs_are_recorded_in_order_without_threads() {
    let test = test_info(1);
    let sim = run(
        &test,
        seeded_context(&test, 1),
        clients(phases(vec![op("a"), log("between"), op("b"), log("end")])),
        Ties::Interpreter,
        |_, op| op.complete(OpType::Ok).with_time(op.time + 7),
    );
    assert_eq!(
        sim.logs,
        vec![(7, "between".to_string()), (14, "end".to_string())]
    );
    assert_eq!(sim.history.len(), 4);
}

#[test]
fn until_ok_stops_after_the_first_ok() {
    let test = test_info(1);
    let mut kinds = [
        OpType::Fail,
        OpType::Info,
        OpType::Fail,
        OpType::Ok,
        OpType::Ok,
    ]
    .into_iter();
    let h = simulate(
        &test,
        1,
        10,
        |_| kinds.next().unwrap(),
        clients(until_ok(repeat(op("read")))),
    );
    let got: Vec<OpType> = h
        .iter()
        .filter(|o| !o.is_invoke())
        .map(|o| o.kind)
        .collect();
    assert_eq!(
        got,
        vec![OpType::Fail, OpType::Info, OpType::Fail, OpType::Ok]
    );
}

#[test]
fn time_limit_cuts_off_from_the_first_op() {
    let test = test_info(4);
    let h = simulate(
        &test,
        9,
        100_000,
        ok,
        // Starts at 2 s: the limit counts from the first op, not from zero.
        phases(vec![
            sleep(Duration::from_secs(2)),
            clients(stagger(Duration::from_millis(1), repeat(op("r"))))
                .time_limit(Duration::from_secs(1)),
        ]),
    );
    let times: Vec<i64> = invokes(&h).iter().map(|o| o.time).collect();
    let (first, last) = (times[0], *times.last().unwrap());
    assert!(
        (2 * SEC..2 * SEC + 10_000_000).contains(&first),
        "first at {first}"
    );
    assert!(
        last < first + SEC && last > first + SEC - 20_000_000,
        "last at {last}"
    );
    assert!((900..1100).contains(&times.len()), "{} ops", times.len());
}

#[test]
fn stagger_and_delay_set_the_rate() {
    let test = test_info(10);
    let ms = Duration::from_millis;
    let h = simulate(
        &test,
        5,
        1_000_000,
        ok,
        clients(limit(5000, stagger(ms(2), repeat(op("r"))))),
    );
    let t: Vec<i64> = invokes(&h).iter().map(|o| o.time).collect();
    let mean = (t[t.len() - 1] - t[0]) as f64 / (t.len() - 1) as f64;
    assert!((mean - 2e6).abs() < 0.05 * 2e6, "mean gap {mean} ns");
    let gaps: Vec<i64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|g| (0..4_000_000).contains(g)));

    let h = simulate(
        &test,
        5,
        1_000_000,
        ok,
        clients(limit(100, delay(ms(2), repeat(op("r"))))),
    );
    let t: Vec<i64> = invokes(&h).iter().map(|o| o.time).collect();
    assert!(t.windows(2).all(|w| w[1] - w[0] == 2_000_000));
}

#[test]
fn concurrency_limit_bounds_ops_in_flight() {
    let test = test_info(5);
    let h = simulate(
        &test,
        3,
        50,
        ok,
        clients(concurrency_limit(
            2,
            limit(200, stagger(Duration::from_nanos(5), repeat(op("r")))),
        )),
    );
    let mut in_flight = 0i32;
    let mut max = 0;
    for o in &h {
        in_flight += if o.is_invoke() { 1 } else { -1 };
        max = max.max(in_flight);
    }
    assert_eq!(max, 2);
    assert_eq!(invokes(&h).len(), 200);
}

#[test]
fn on_threads_clients_and_nemesis_route_ops() {
    let test = test_info(4);
    let h = simulate(
        &test,
        3,
        10,
        ok,
        limit(
            40,
            any(vec![
                on_threads(
                    |t| matches!(t, Thread::Client(1) | Thread::Client(3)),
                    repeat(op("odd")),
                ),
                on_threads(|t| t == Thread::Client(0), repeat(op("zero"))),
                nemesis(repeat(op("fault"))),
            ]),
        ),
    );
    let mut by_f: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for o in invokes(&h) {
        by_f.entry(o.f.clone())
            .or_default()
            .insert(o.process.to_string());
    }
    let set = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(by_f["odd"], set(&["1", "3"]));
    assert_eq!(by_f["zero"], set(&["0"]));
    assert_eq!(by_f["fault"], set(&[":nemesis"]));
}

#[test]
fn reserve_routes_thread_ranges() {
    let test = test_info(4);
    let h = simulate(
        &test,
        3,
        10,
        ok,
        limit(
            60,
            reserve(
                vec![(1, repeat(op("a"))), (2, repeat(op("b")))],
                repeat(op("c")),
            ),
        ),
    );
    for o in invokes(&h) {
        let expected = match o.process.to_string().as_str() {
            "0" => "a",
            "1" | "2" => "b",
            _ => "c",
        };
        assert_eq!(o.f, expected, "{o}");
    }
    let fs: BTreeSet<&str> = h.iter().map(|o| o.f.as_str()).collect();
    assert_eq!(fs, ["a", "b", "c"].into());
}

#[test]
fn each_process_restarts_a_thread_after_a_crash() {
    let test = test_info(2);
    let h = simulate(
        &test,
        3,
        10,
        |_| OpType::Info,
        clients(limit(6, each_process(op("once")))),
    );
    let procs: Vec<String> = invokes(&h).iter().map(|o| o.process.to_string()).collect();
    let distinct: BTreeSet<&String> = procs.iter().collect();
    assert_eq!(procs.len(), 6);
    assert_eq!(
        distinct.len(),
        6,
        "each process ran its own copy once: {procs:?}"
    );

    // each_thread does not restart: one op per thread, whatever the crashes.
    let h = simulate(
        &test,
        3,
        10,
        |_| OpType::Info,
        clients(limit(6, each_thread(op("once")))),
    );
    assert_eq!(invokes(&h).len(), 2);
}

#[test]
fn mix_is_uniform_and_seeded() {
    let test = test_info(3);
    let h = simulate(&test, 11, 10, ok, clients(limit(30_000, rwc())));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for o in invokes(&h) {
        *counts.entry(o.f.clone()).or_default() += 1;
    }
    for (f, n) in &counts {
        assert!((9_000..11_000).contains(n), "{f}: {n}");
    }
    let other = simulate(&test, 12, 10, ok, clients(limit(30_000, rwc())));
    assert_ne!(h, other);
}

#[test]
fn lazy_seq_gives_unique_values() {
    let test = test_info(3);
    let h = simulate(
        &test,
        1,
        10,
        ok,
        clients(limit(100, lazy_seq(|i| Some(op_value("write", i as i64))))),
    );
    let values: Vec<i64> = invokes(&h)
        .iter()
        .map(|o| o.value.as_int().unwrap())
        .collect();
    assert_eq!(values, (0..100).collect::<Vec<_>>());
}

#[test]
fn method_chains_match_function_calls() {
    let test = test_info(3);
    let dt = Duration::from_micros(3);
    let a = simulate(
        &test,
        2,
        1000,
        ok,
        limit(500, clients(stagger(dt, repeat(op("r"))))),
    );
    let b = simulate(
        &test,
        2,
        1000,
        ok,
        repeat(op("r")).stagger(dt).clients().limit(500),
    );
    assert_eq!(a, b);
    let c = simulate(&test, 2, 10, ok, op("a").then(op("b")));
    let d = simulate(&test, 2, 10, ok, then(op("a"), op("b")));
    assert_eq!(c, d);
    assert_eq!(c[2].f, "b");
    assert_eq!(c[2].time, 10);
}

#[test]
fn whole_workload_runs_its_phases() {
    let test = test_info(5);
    let s = Duration::from_secs;
    let ms = Duration::from_millis;
    let gen = phases(vec![
        any(vec![
            clients(stagger(ms(100), rwc())),
            nemesis(cycle(vec![
                sleep(s(5)),
                op("start"),
                sleep(s(5)),
                op("stop"),
            ])),
        ])
        .time_limit(s(60)),
        nemesis(op("stop")),
        log("Final reads"),
        clients(each_thread(until_ok(repeat(op("read"))))),
    ]);
    let mut n = 0u64;
    // Every 7th completion fails, so some final reads retry.
    let h = simulate(
        &test,
        8,
        2_000_000,
        |_| {
            n += 1;
            if n.is_multiple_of(7) {
                OpType::Fail
            } else {
                OpType::Ok
            }
        },
        gen,
    );
    let inv = invokes(&h);
    let nemesis_fs: Vec<&str> = inv
        .iter()
        .filter(|o| o.process == Process::Nemesis)
        .map(|o| o.f.as_str())
        .collect();
    // Starts at 5 s, 15 s, ... 55 s; stops at 10 s, ... 50 s (the sixth, just after 60 s
    // because of latencies, is cut off by the time limit); then the final stop.
    let expected: Vec<&str> = ["start", "stop"].repeat(6);
    assert_eq!(nemesis_fs, expected);
    let final_stop = inv.iter().rfind(|o| o.f == "stop").unwrap();
    assert!(
        final_stop.time > 60 * SEC,
        "final stop at {}",
        final_stop.time
    );
    let client_ops = inv.iter().filter(|o| o.process != Process::Nemesis).count();
    assert!((550..650).contains(&client_ops), "{client_ops} client ops");
    // The final phase: every client thread read until it got an ok.
    let last_stop = h.iter().rposition(|o| o.f == "stop").unwrap();
    let mut ok_reads: BTreeSet<u64> = BTreeSet::new();
    for o in &h[last_stop..] {
        if o.f == "read" && o.is_ok() {
            ok_reads.insert(o.process.clone().client().unwrap() % 5);
        }
    }
    assert_eq!(ok_reads.len(), 5);
    assert!(h[last_stop..]
        .iter()
        .all(|o| o.f == "read" || o.f == "stop"));
}

#[test]
#[should_panic(expected = "is not free")]
fn validate_rejects_ops_for_busy_processes() {
    let test = test_info(2);
    simulate(
        &test,
        1,
        10,
        ok,
        validate(clients(repeat(template("x").process(Process::Client(0))))),
    );
}

#[test]
#[should_panic(expected = "pending with nothing in flight")]
fn a_generator_that_can_never_proceed_is_reported() {
    struct Stuck;
    impl Generator for Stuck {
        fn op(&self, _: &TestInfo, _: &Context) -> GenOp {
            GenOp::Pending
        }
    }
    let test = test_info(2);
    simulate(&test, 1, 10, ok, Rc::new(Stuck) as Gen);
}
