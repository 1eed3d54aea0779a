//! Jepsen's own generator tests (`jepsen-io/generator`, `test/jepsen/generator_test.clj`),
//! ported: the same generators run through `jepsen.generator.test`'s simulator (Jepsen's
//! tie rule and fixed random streams) must give the schedules Jepsen asserts, including
//! the random tie-breaks.

use jepsen_core::generator::simulate::{
    imperfect, jepsen_context, perfect, perfect_full, perfect_info, quick, run, Ties,
};
use jepsen_core::generator::*;
use jepsen_core::history::{Op, OpType, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

fn ns(n: u64) -> Duration {
    Duration::from_nanos(n)
}

/// `(juxt :time :process :f)`, with processes printed as Jepsen does (`0`, `:nemesis`).
fn tpf(ops: &[Op]) -> Vec<(i64, String, String)> {
    ops.iter()
        .map(|o| (o.time, o.process.to_string(), o.f.clone()))
        .collect()
}

fn fs(ops: &[Op]) -> Vec<String> {
    ops.iter().map(|o| o.f.clone()).collect()
}

fn values(ops: &[Op]) -> Vec<Value> {
    ops.iter().map(|o| o.value.clone()).collect()
}

fn s(x: &str) -> String {
    x.to_string()
}

/// `(map (fn [x] {:f f, :value x}) (range))`.
fn integers(f: &str) -> Gen {
    let f = f.to_string();
    lazy_seq(move |i| Some(op_value(&f, i as i64)))
}

#[test]
fn nil_generator_gives_nothing() {
    assert!(perfect(jepsen_context(2), nothing()).is_empty());
}

#[test]
fn map_transforms_ops() {
    let ops = perfect(
        jepsen_context(2),
        map(
            |mut op| {
                op.value = Value::Int(op.value.as_int().unwrap() + 1);
                op
            },
            op_value("write", 1),
        ),
    );
    assert_eq!(ops.len(), 1);
    assert_eq!((ops[0].time, ops[0].process.to_string()), (0, s("0")));
    assert_eq!(
        (ops[0].kind, ops[0].value.clone()),
        (OpType::Invoke, Value::Int(2))
    );

    // op, test, context
    let ops = perfect(
        jepsen_context(2),
        map_ctx(
            |mut op, test, ctx| {
                op.value = Value::Vec(vec![
                    Value::Int(test.nodes.len() as i64),
                    Value::Int(ctx.time),
                ]);
                op
            },
            op_value("write", 1),
        ),
    );
    assert_eq!(
        values(&ops),
        vec![Value::Vec(vec![Value::Int(2), Value::Int(0)])]
    );
}

#[test]
fn op_maps_are_one_shot_and_fill_in_free_processes() {
    let ops = perfect(jepsen_context(2), op("write"));
    assert_eq!(tpf(&ops), vec![(0, s("0"), s("write"))]);
    assert_eq!(ops[0].value, Value::Nil);
    assert_eq!(ops[0].kind, OpType::Invoke);

    // concurrent
    let ops = perfect(jepsen_context(2), seq(vec![op("write"); 6]));
    let tp: Vec<(i64, String)> = ops
        .iter()
        .map(|o| (o.time, o.process.to_string()))
        .collect();
    assert_eq!(
        tp,
        vec![
            (0, s("0")),
            (0, s("1")),
            (0, s(":nemesis")),
            (10, s(":nemesis")),
            (10, s("1")),
            (10, s("0")),
        ]
    );
}

#[test]
fn op_map_is_pending_when_all_threads_are_busy() {
    let mut ctx = jepsen_context(2);
    for t in [Thread::Client(0), Thread::Client(1), Thread::Nemesis] {
        ctx.set_busy(t);
    }
    let test = simulate::jepsen_test(&ctx);
    assert!(matches!(op("write").op(&test, &ctx), GenOp::Pending));
}

#[test]
fn limit_caps_ops() {
    let ops = quick(jepsen_context(2), limit(2, repeat(op_value("write", 1))));
    let tpv: Vec<(i64, String, Value)> = ops
        .iter()
        .map(|o| (o.time, o.process.to_string(), o.value.clone()))
        .collect();
    assert_eq!(
        tpv,
        vec![(0, s("0"), Value::Int(1)), (0, s("1"), Value::Int(1))]
    );
}

#[test]
fn repeat_does_not_advance_its_generator() {
    let ops = perfect(jepsen_context(2), repeat_n(3, integers("x")));
    assert_eq!(values(&ops), vec![Value::Int(0); 3]);
}

#[test]
fn delay_spaces_ops_and_catches_up() {
    let ops = perfect(
        jepsen_context(2),
        limit(5, delay(ns(3), repeat(op("write")))),
    );
    let tp: Vec<(i64, String)> = ops
        .iter()
        .map(|o| (o.time, o.process.to_string()))
        .collect();
    assert_eq!(
        tp,
        vec![
            (0, s("0")),
            (3, s("1")),
            (6, s(":nemesis")),
            // Would be 9 and 12, but every thread was busy for 10 ns.
            (10, s("0")),
            (13, s("1")),
        ]
    );
}

#[test]
fn sequences_run_in_order_and_nest() {
    let v = |x: i64| op_value("x", x);
    let ops = quick(jepsen_context(2), vec![v(1), v(2), v(3)]);
    assert_eq!(values(&ops), (1..=3).map(Value::Int).collect::<Vec<_>>());

    let nested = seq(vec![
        seq(vec![v(1), v(2)]),
        seq(vec![seq(vec![v(3)]), v(4)]),
        v(5),
    ]);
    let ops = quick(jepsen_context(2), nested);
    assert_eq!(values(&ops), (1..=5).map(Value::Int).collect::<Vec<_>>());
}

#[test]
fn sequence_updates_go_to_the_first_generator() {
    let gen = clients(vec![until_ok(repeat(op("read"))), op("done")]);
    let mut types = [OpType::Fail, OpType::Fail, OpType::Ok, OpType::Ok]
        .into_iter()
        .chain(std::iter::repeat(OpType::Info));
    let ctx = jepsen_context(2);
    let test = simulate::jepsen_test(&ctx);
    let h = run(&test, ctx, gen, Ties::Jepsen, |_, op| {
        op.complete(types.next().unwrap()).with_time(op.time + 10)
    })
    .history;
    let got: Vec<(i64, String, OpType)> = h.iter().map(|o| (o.time, o.f.clone(), o.kind)).collect();
    use OpType::*;
    let expected = vec![
        (0, s("read"), Invoke),
        (0, s("read"), Invoke),
        // Everyone fails and retries
        (10, s("read"), Fail),
        (10, s("read"), Invoke),
        (10, s("read"), Fail),
        (10, s("read"), Invoke),
        // One succeeds and goes on to execute :done
        (20, s("read"), Ok),
        (20, s("done"), Invoke),
        // The other succeeds and is finished
        (20, s("read"), Ok),
        (30, s("done"), Info),
    ];
    assert_eq!(got, expected);
}

#[test]
fn functions_are_called_again_when_their_generator_runs_out() {
    assert!(quick(jepsen_context(2), fn_gen(|_, _| None)).is_empty());

    // Returning a literal map: fresh random values.
    let ops = perfect(
        jepsen_context(2),
        limit(
            5,
            fn_gen(|_, ctx| Some(op_value("write", ctx.rand_int(10) as i64))),
        ),
    );
    assert_eq!(ops.len(), 5);
    assert!(ops
        .iter()
        .all(|o| (0..10).contains(&o.value.as_int().unwrap())));
    let distinct: std::collections::BTreeSet<i64> =
        ops.iter().map(|o| o.value.as_int().unwrap()).collect();
    assert!(distinct.len() > 1);
    let procs: std::collections::BTreeSet<String> =
        ops.iter().map(|o| o.process.to_string()).collect();
    assert_eq!(procs, [s("0"), s("1"), s(":nemesis")].into());

    // Returning repeat maps: the same value, since the repeat never runs out.
    let ops = perfect(
        jepsen_context(2),
        limit(
            5,
            fn_gen(|_, ctx| Some(repeat(op_value("write", ctx.rand_int(10) as i64)))),
        ),
    );
    assert_eq!(ops.len(), 5);
    let distinct: std::collections::BTreeSet<i64> =
        ops.iter().map(|o| o.value.as_int().unwrap()).collect();
    assert_eq!(distinct.len(), 1);
}

#[test]
fn on_update_sees_completions_and_can_release_a_held_op() {
    // Jepsen's on-update+promise test, with a shared cell for the promise: the confirm
    // op becomes available only once the write has completed.
    let promised: Rc<RefCell<Option<Value>>> = Rc::new(RefCell::new(None));
    let p = promised.clone();
    let promise = fn_gen(move |_, _| p.borrow().clone().map(|v| op_value("confirm", v)));
    struct Held(Rc<RefCell<Option<Value>>>, Gen);
    impl Generator for Held {
        fn op(&self, test: &TestInfo, ctx: &Context) -> GenOp {
            if self.0.borrow().is_some() {
                self.1.op(test, ctx)
            } else {
                GenOp::Pending
            }
        }
    }
    let held: Gen = Rc::new(Held(promised.clone(), once(promise)));
    let p = promised.clone();
    let gen = on_update(
        move |this, _, _, event| {
            if event.is_ok() && event.f == "write" {
                *p.borrow_mut() = Some(event.value.clone());
            }
            this.clone()
        },
        any(vec![
            held,
            seq(vec![op("read"), op_value("write", "x"), repeat(op("hold"))]),
        ]),
    );
    let ops = quick(
        jepsen_context(2),
        on_threads(|t| t != Thread::Nemesis, limit(5, gen)),
    );
    let got: Vec<(i64, String, String, Value)> = ops
        .iter()
        .map(|o| (o.time, o.process.to_string(), o.f.clone(), o.value.clone()))
        .collect();
    let x = Value::from("x");
    assert_eq!(
        got,
        vec![
            (0, s("0"), s("read"), Value::Nil),
            (0, s("1"), s("write"), x.clone()),
            (0, s("1"), s("confirm"), x),
            (0, s("1"), s("hold"), Value::Nil),
            (0, s("1"), s("hold"), Value::Nil),
        ]
    );
}

#[test]
fn phases_wait_and_functions_see_the_context_when_first_asked() {
    type FirstSeen = Option<(i64, Vec<Thread>)>;
    let seen: Rc<RefCell<FirstSeen>> = Rc::new(RefCell::new(None));
    let seen2 = seen.clone();
    let delayed = limit(
        3,
        fn_gen(move |_, ctx| {
            seen2
                .borrow_mut()
                .get_or_insert_with(|| (ctx.time, ctx.free_threads().collect()));
            Some(op("delayed"))
        }),
    );
    let ops = perfect(
        jepsen_context(2),
        clients(phases(vec![op("write"), op("read"), delayed])),
    );
    assert_eq!(
        tpf(&ops),
        vec![
            (0, s("0"), s("write")),
            (10, s("1"), s("read")),
            (20, s("0"), s("delayed")),
            (20, s("1"), s("delayed")),
            (30, s("1"), s("delayed")),
        ]
    );
    assert_eq!(
        *seen.borrow(),
        Some((20, vec![Thread::Client(0), Thread::Client(1)]))
    );
}

#[test]
fn synchronize_waits_for_every_thread() {
    let first = limit(
        3,
        fn_op(|_, ctx| {
            let p = ctx.some_free_process()?;
            // Technically illegal (ops should come in time order); Jepsen's test relies
            // on the order in which it is asked.
            let delay = match p.to_string().as_str() {
                "0" => 2,
                "1" => 1,
                _ => 2,
            };
            Some(template("a").process(p).time(ctx.time + delay))
        }),
    );
    let ops = perfect(
        jepsen_context(2),
        vec![first, synchronize(repeat_n(2, op("b")))],
    );
    assert_eq!(
        tpf(&ops),
        vec![
            (2, s("0"), s("a")),
            (3, s("1"), s("a")),
            (5, s(":nemesis"), s("a")),
            (15, s("0"), s("b")),
            (15, s("1"), s("b")),
        ]
    );
}

#[test]
fn clients_use_client_processes_only() {
    let ops = perfect(jepsen_context(2), limit(5, clients(repeat(op("x")))));
    let procs: std::collections::BTreeSet<String> =
        ops.iter().map(|o| o.process.to_string()).collect();
    assert_eq!(procs, [s("0"), s("1")].into());
}

#[test]
fn phases_run_one_after_another() {
    let ops = perfect(
        jepsen_context(2),
        clients(phases(vec![
            repeat_n(2, op("a")),
            repeat_n(1, op("b")),
            repeat_n(3, op("c")),
        ])),
    );
    let fpt: Vec<(String, String, i64)> = ops
        .iter()
        .map(|o| (o.f.clone(), o.process.to_string(), o.time))
        .collect();
    assert_eq!(
        fpt,
        vec![
            (s("a"), s("0"), 0),
            (s("a"), s("1"), 0),
            (s("b"), s("0"), 10),
            (s("c"), s("0"), 20),
            (s("c"), s("1"), 20),
            (s("c"), s("1"), 30),
        ]
    );
}

fn fpt(ops: &[Op]) -> Vec<(String, String, i64)> {
    ops.iter()
        .map(|o| (o.f.clone(), o.process.to_string(), o.time))
        .collect()
}

#[test]
fn any_interleaves_generators() {
    let gen = any(vec![
        on_threads(|t| t == Thread::Client(0), delay(ns(20), repeat(op("a")))),
        on_threads(|t| t == Thread::Client(1), delay(ns(20), repeat(op("b")))),
    ]);
    let ops = perfect(jepsen_context(2), limit(4, gen));
    assert_eq!(
        fpt(&ops),
        vec![
            (s("a"), s("0"), 0),
            (s("b"), s("1"), 0),
            (s("b"), s("1"), 20),
            (s("a"), s("0"), 20),
        ]
    );
}

#[test]
fn shortest_any_ends_with_its_first_exhausted_generator() {
    let gen = shortest_any(vec![
        limit(
            2,
            on_threads(|t| t == Thread::Client(0), delay(ns(20), repeat(op("a")))),
        ),
        on_threads(|t| t == Thread::Client(1), delay(ns(20), repeat(op("b")))),
    ]);
    let ops = perfect(jepsen_context(2), gen);
    assert_eq!(
        fpt(&ops),
        vec![
            (s("a"), s("0"), 0),
            (s("b"), s("1"), 0),
            (s("b"), s("1"), 20),
            (s("a"), s("0"), 20),
        ]
    );
}

#[test]
fn each_thread_gives_every_thread_its_own_copy() {
    let ops = perfect(jepsen_context(2), each_thread(vec![op("a"), op("b")]));
    assert_eq!(
        tpf(&ops),
        vec![
            (0, s(":nemesis"), s("a")),
            (0, s("1"), s("a")),
            (0, s("0"), s("a")),
            (10, s("0"), s("b")),
            (10, s("1"), s("b")),
            (10, s(":nemesis"), s("b")),
        ]
    );

    // Collapses when exhausted.
    let ctx = jepsen_context(2);
    let test = simulate::jepsen_test(&ctx);
    assert!(matches!(
        each_thread(limit(0, op("read"))).op(&test, &ctx),
        GenOp::Exhausted
    ));
}

#[test]
fn stagger_averages_its_interval() {
    let (n, dt) = (1000, 20);
    let ops = perfect(
        jepsen_context(2),
        stagger(ns(dt), limit(n, integers("write"))),
    );
    assert_eq!(ops.len(), n as usize);
    let max_time = ops.last().unwrap().time as f64;
    let rate = n as f64 / max_time;
    let expected = 1.0 / dt as f64;
    assert!(
        (0.9..=1.1).contains(&(rate / expected)),
        "rate {rate}, expected {expected}"
    );
}

#[test]
fn f_map_renames_fs() {
    let ops = perfect(
        jepsen_context(2),
        f_map(|f| if f == "a" { s("b") } else { s(f) }, op_value("a", 2)),
    );
    assert_eq!(tpf(&ops), vec![(0, s("0"), s("b"))]);
    assert_eq!(ops[0].value, Value::Int(2));
}

#[test]
fn filter_drops_ops() {
    let ops = perfect(
        jepsen_context(2),
        filter(
            |o| o.value.as_int().unwrap() % 2 == 0,
            limit(10, integers("x")),
        ),
    );
    assert_eq!(values(&ops), [0, 2, 4, 6, 8].map(Value::Int).to_vec());
}

#[test]
fn log_emits_messages_between_ops() {
    let ctx = jepsen_context(2);
    let test = simulate::jepsen_test(&ctx);
    let sim = run(
        &test,
        ctx,
        phases(vec![log("first"), op("a"), log("second"), op("b")]),
        Ties::Jepsen,
        |_, op| op.complete(OpType::Ok).with_time(op.time + 10),
    );
    assert_eq!(
        fs(&simulate::invocations(&sim.history)),
        vec![s("a"), s("b")]
    );
    assert_eq!(sim.logs, vec![(0, s("first")), (10, s("second"))]);
}

#[test]
fn mix_draws_from_all_generators() {
    let ops = perfect(
        jepsen_context(2),
        mix(vec![repeat_n(5, op("a")), repeat_n(10, op("b"))]),
    );
    let got = fs(&ops);
    assert_eq!(got.iter().filter(|f| *f == "a").count(), 5);
    assert_eq!(got.iter().filter(|f| *f == "b").count(), 10);
    let in_order: Vec<String> = std::iter::repeat_n(s("a"), 5)
        .chain(std::iter::repeat_n(s("b"), 10))
        .collect();
    assert_ne!(got, in_order);
}

#[test]
fn process_limit_stops_after_n_processes() {
    let ops = perfect_info(jepsen_context(2), clients(process_limit(5, integers("x"))));
    let pv: Vec<(String, Value)> = ops
        .iter()
        .map(|o| (o.process.to_string(), o.value.clone()))
        .collect();
    assert_eq!(
        pv,
        vec![
            (s("0"), Value::Int(0)),
            (s("1"), Value::Int(1)),
            (s("3"), Value::Int(2)),
            (s("2"), Value::Int(3)),
            (s("4"), Value::Int(4)),
        ]
    );
}

#[test]
fn time_limit_counts_from_the_first_op() {
    let ops = perfect(
        jepsen_context(2),
        vec![
            time_limit(ns(20), repeat(op_value("x", "a"))),
            time_limit(ns(10), repeat(op_value("x", "b"))),
        ],
    );
    let tv: Vec<(i64, Value)> = ops.iter().map(|o| (o.time, o.value.clone())).collect();
    let (a, b) = (Value::from("a"), Value::from("b"));
    assert_eq!(
        tv,
        vec![
            (0, a.clone()),
            (0, a.clone()),
            (0, a.clone()),
            (10, a.clone()),
            (10, a.clone()),
            (10, a),
            (20, b.clone()),
            (20, b.clone()),
            (20, b),
        ]
    );
}

#[test]
fn reserve_gives_thread_ranges_their_generators() {
    // Only a default.
    let ops = perfect(
        jepsen_context(2),
        limit(3, reserve(Vec::<(usize, Gen)>::new(), integers("a"))),
    );
    let got: Vec<(String, String, i64, Value)> = ops
        .iter()
        .map(|o| (o.f.clone(), o.process.to_string(), o.time, o.value.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (s("a"), s("0"), 0, Value::Int(0)),
            (s("a"), s("1"), 0, Value::Int(1)),
            (s("a"), s(":nemesis"), 0, Value::Int(2)),
        ]
    );

    // Three ranges.
    let gen = reserve(vec![(2, integers("a")), (3, integers("b"))], integers("c"));
    let ops = perfect(jepsen_context(5), limit(15, gen));
    let got: Vec<(i64, String, String, i64)> = ops
        .iter()
        .map(|o| {
            (
                o.time,
                o.process.to_string(),
                o.f.clone(),
                o.value.as_int().unwrap(),
            )
        })
        .collect();
    let e = |t: i64, p: &str, f: &str, v: i64| (t, s(p), s(f), v);
    assert_eq!(
        got,
        vec![
            e(0, "2", "b", 0),
            e(0, "3", "b", 1),
            e(0, "4", "b", 2),
            e(0, "0", "a", 0),
            e(0, "1", "a", 1),
            e(0, ":nemesis", "c", 0),
            e(10, ":nemesis", "c", 1),
            e(10, "1", "a", 2),
            e(10, "0", "a", 3),
            e(10, "4", "b", 3),
            e(10, "3", "b", 4),
            e(10, "2", "b", 5),
            e(20, "2", "b", 6),
            e(20, "3", "b", 7),
            e(20, "4", "b", 8),
        ]
    );
}

#[test]
fn until_ok_gets_at_least_one_ok() {
    let ops = imperfect(
        jepsen_context(2),
        clients(limit(10, until_ok(repeat(op("read"))))),
    );
    let got: Vec<(i64, String, OpType)> = ops
        .iter()
        .map(|o| (o.time, o.process.to_string(), o.kind))
        .collect();
    use OpType::*;
    let e = |t: i64, p: &str, k: OpType| (t, s(p), k);
    assert_eq!(
        got,
        vec![
            e(0, "0", Invoke),
            e(0, "1", Invoke),
            e(10, "1", Fail),
            e(10, "1", Invoke),
            e(10, "0", Fail),
            e(10, "0", Invoke),
            e(20, "0", Info),
            e(20, "2", Invoke),
            e(20, "1", Info),
            e(20, "3", Invoke),
            // They complete concurrently, so we get two oks.
            e(30, "3", Ok),
            e(30, "2", Ok),
        ]
    );
}

#[test]
fn flip_flop_alternates() {
    let ops = perfect(
        jepsen_context(2),
        clients(limit(
            10,
            flip_flop(integers("write"), vec![op("read"), op("finalize")]),
        )),
    );
    let got: Vec<(String, String, Value)> = ops
        .iter()
        .map(|o| (o.process.to_string(), o.f.clone(), o.value.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (s("0"), s("write"), Value::Int(0)),
            (s("1"), s("read"), Value::Nil),
            (s("1"), s("write"), Value::Int(1)),
            (s("0"), s("finalize"), Value::Nil),
            (s("0"), s("write"), Value::Int(2)),
        ]
    );
}

#[test]
fn concatenation_is_a_sequence() {
    let v = |x: &str| op_value("x", x);
    let ops = perfect(
        jepsen_context(2),
        vec![seq(vec![v("a"), v("b")]), limit(1, v("c")), v("d")],
    );
    assert_eq!(values(&ops), ["a", "b", "c", "d"].map(Value::from).to_vec());
}

#[test]
fn any_of_staggers_starves_neither() {
    let n = 1000;
    let h = perfect(
        jepsen_context(2),
        clients(limit(
            n,
            any(vec![
                stagger(Duration::from_secs(3), repeat(op("a"))),
                stagger(Duration::from_secs(5), repeat(op("b"))),
            ]),
        )),
    );
    assert_eq!(h.len() as u64, n);
    let mean_interval = |f: &str| {
        let times: Vec<i64> = h.iter().filter(|o| o.f == f).map(|o| o.time).collect();
        let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        gaps.iter().sum::<i64>() as f64 / gaps.len() as f64 / 1e9
    };
    let (a, b) = (mean_interval("a"), mean_interval("b"));
    assert!(2.5 < a && a < 3.5, "a every {a} s");
    assert!(4.5 < b && b < 5.5, "b every {b} s");
}

#[test]
fn cycle_restarts_its_generator() {
    let ops = perfect(
        jepsen_context(2),
        clients(cycle_n(2, phases(vec![limit(3, repeat(op("a"))), op("b")]))),
    );
    let tf: Vec<(i64, String)> = ops.iter().map(|o| (o.time, o.f.clone())).collect();
    let e = |t: i64, f: &str| (t, s(f));
    assert_eq!(
        tf,
        vec![
            e(0, "a"),
            e(0, "a"),
            e(10, "a"),
            e(20, "b"),
            e(30, "a"),
            e(30, "a"),
            e(40, "a"),
            e(50, "b"),
        ]
    );
}

#[test]
fn cycle_times_rotates_windows() {
    let sec = Duration::from_secs;
    let a = delay(sec(1), integers("a"));
    let b = limit(5, delay(sec(3), integers("b")));
    let ops = perfect(
        jepsen_context(2),
        clients(cycle_times(vec![(sec(5), a), (sec(10), b)])),
    );
    let got: Vec<(i64, String, i64)> = ops
        .iter()
        .map(|o| {
            (
                o.time / 1_000_000_000,
                o.f.clone(),
                o.value.as_int().unwrap(),
            )
        })
        .collect();
    let e = |t: i64, f: &str, v: i64| (t, s(f), v);
    assert_eq!(
        got,
        vec![
            // Five seconds of as
            e(0, "a", 0),
            e(1, "a", 1),
            e(2, "a", 2),
            e(3, "a", 3),
            e(4, "a", 4),
            // At 5 s, bs, which begin immediately
            e(5, "b", 0),
            e(8, "b", 1),
            e(11, "b", 2),
            e(14, "b", 3),
            // At 15 s, back to as
            e(15, "a", 5),
            e(16, "a", 6),
            e(17, "a", 7),
            e(18, "a", 8),
            e(19, "a", 9),
            // At 20 s, bs again, until the b generator is exhausted
            e(20, "b", 4),
        ]
    );
}

#[test]
fn concurrency_limit_one_runs_single_threaded() {
    let h = perfect_full(
        jepsen_context(2),
        limit(
            3,
            concurrency_limit(1, clients(any(vec![repeat(op("w")), repeat(op("r"))]))),
        ),
    );
    let got: Vec<(String, OpType)> = h.iter().map(|o| (o.f.clone(), o.kind)).collect();
    use OpType::*;
    assert_eq!(
        got,
        vec![
            (s("w"), Invoke),
            (s("w"), Ok),
            (s("r"), Invoke),
            (s("r"), Ok),
            (s("r"), Invoke),
            (s("r"), Ok),
        ]
    );
}
