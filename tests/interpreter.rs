//! The interpreter on the deterministic runtime, with clients of fixed latency: journaling
//! order, crashes and new processes, node binding, nemesis ops, timeouts, determinism.

use jepsen_core::generator::{Context, Gen, GenOp, Generator, TestInfo, Thread};
use jepsen_core::history::{History, Op, OpType, Process, Value};
use jepsen_core::interpreter::{run, InterpretError, InterpreterOptions};
use jepsen_core::runtime::{
    Client, ClientError, DeterministicRuntime, LocalBoxFuture, Nemesis, Runtime,
};
use rand::Rng;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

const MS: i64 = 1_000_000;

/// One step of a scripted generator.
#[derive(Clone)]
struct Step {
    nemesis: bool,
    f: &'static str,
    /// Not before this time (ns), if set.
    at: Option<i64>,
}

fn client(f: &'static str) -> Step {
    Step {
        nemesis: false,
        f,
        at: None,
    }
}

fn nemesis(f: &'static str) -> Step {
    Step {
        nemesis: true,
        f,
        at: None,
    }
}

/// Gives its steps in order: client steps to the lowest free client thread, nemesis
/// steps to the nemesis; pending while the step's thread is busy.
struct Script {
    steps: Rc<Vec<Step>>,
    pos: usize,
}

fn script(steps: Vec<Step>) -> Gen {
    Rc::new(Script {
        steps: Rc::new(steps),
        pos: 0,
    })
}

impl Generator for Script {
    fn op(&self, _test: &TestInfo, ctx: &Context) -> GenOp {
        let Some(step) = self.steps.get(self.pos) else {
            return GenOp::Exhausted;
        };
        let thread = if step.nemesis {
            Some(Thread::Nemesis).filter(|t| ctx.is_free(*t))
        } else {
            ctx.free_threads().find(|t| matches!(t, Thread::Client(_)))
        };
        let Some(thread) = thread else {
            return GenOp::Pending;
        };
        let kind = if step.nemesis {
            OpType::Info
        } else {
            OpType::Invoke
        };
        let op = Op::new(kind, ctx.process_of(thread), step.f, Value::Nil)
            .with_time(step.at.unwrap_or(ctx.time).max(ctx.time));
        let next: Gen = Rc::new(Script {
            steps: self.steps.clone(),
            pos: self.pos + 1,
        });
        GenOp::Op(op, Some(next))
    }
}

/// `n` client ops whose `f` is drawn from the context's rng.
struct RandomOps {
    left: usize,
}

impl Generator for RandomOps {
    fn op(&self, _test: &TestInfo, ctx: &Context) -> GenOp {
        if self.left == 0 {
            return GenOp::Exhausted;
        }
        let Some(thread) = ctx.free_threads().find(|t| matches!(t, Thread::Client(_))) else {
            return GenOp::Pending;
        };
        let f = ["read", "write", "boom"][ctx.rng().borrow_mut().gen_range(0..3)];
        let op = Op::new(OpType::Invoke, ctx.process_of(thread), f, Value::Nil).with_time(ctx.time);
        GenOp::Op(
            op,
            Some(Rc::new(RandomOps {
                left: self.left - 1,
            })),
        )
    }
}

/// What the clients and nemesis did, in order.
type Log = Rc<RefCell<Vec<String>>>;

/// A client with a fixed latency (or one drawn from the runtime's "client" stream).
/// `write` and `read` succeed (`read` returns the node the client was opened on),
/// `boom` returns an error, `panic` panics, `hang` never completes.
#[derive(Clone)]
struct TestClient {
    rt: DeterministicRuntime,
    latency: Option<Duration>,
    log: Log,
    node: String,
    /// Opening fails on these nodes.
    unreachable: Vec<String>,
    /// `setup` fails.
    broken_setup: bool,
}

impl TestClient {
    fn new(rt: &DeterministicRuntime, latency: Option<Duration>, log: &Log) -> TestClient {
        TestClient {
            rt: rt.clone(),
            latency,
            log: log.clone(),
            node: String::new(),
            unreachable: Vec::new(),
            broken_setup: false,
        }
    }
}

impl Client for TestClient {
    fn open(&self, node: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>> {
        let mut c = self.clone();
        c.node = node.to_string();
        // An unreachable node went down after the setup that opened the run.
        let set_up = self
            .log
            .borrow()
            .iter()
            .any(|l| *l == format!("setup {node}"));
        self.log.borrow_mut().push(format!("open {node}"));
        let refused = set_up && self.unreachable.iter().any(|n| n == node);
        Box::pin(async move {
            if refused {
                return Err(ClientError::new("connect", format!("{} refused", c.node)));
            }
            Ok(Box::new(c) as Box<dyn Client>)
        })
    }

    fn setup(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        self.log.borrow_mut().push(format!("setup {}", self.node));
        let broken = self.broken_setup;
        Box::pin(async move {
            if broken {
                return Err(ClientError::new("setup", "schema refused"));
            }
            Ok(())
        })
    }

    fn teardown(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        self.log
            .borrow_mut()
            .push(format!("teardown {}", self.node));
        Box::pin(async { Ok(()) })
    }

    fn close(&mut self) -> LocalBoxFuture<'_, ()> {
        self.log.borrow_mut().push(format!("close {}", self.node));
        Box::pin(async {})
    }

    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move {
            let latency = self.latency.unwrap_or_else(|| {
                Duration::from_millis(self.rt.rng("client").borrow_mut().gen_range(1..20))
            });
            self.rt.sleep(latency).await;
            match op.f.as_str() {
                "boom" => Err(ClientError::new("boom", "the server said no")),
                "panic" => panic!("client bug"),
                "hang" => {
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                "read" => {
                    let mut c = op.complete(OpType::Ok);
                    c.value = Value::Str(self.node.clone());
                    Ok(c)
                }
                _ => Ok(op.complete(OpType::Ok)),
            }
        })
    }
}

struct TestNemesis {
    rt: DeterministicRuntime,
    log: Log,
}

impl Nemesis for TestNemesis {
    fn setup(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        self.log.borrow_mut().push("nemesis setup".into());
        Box::pin(async { Ok(()) })
    }

    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        self.log.borrow_mut().push(format!("nemesis {}", op.f));
        Box::pin(async move {
            self.rt.sleep(Duration::from_millis(5)).await;
            let mut c = op.complete(OpType::Info);
            c.value = Value::keyword("done");
            Ok(c)
        })
    }

    fn teardown(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        self.log.borrow_mut().push("nemesis teardown".into());
        Box::pin(async { Ok(()) })
    }

    fn fs(&self) -> Vec<String> {
        vec!["start".into(), "stop".into()]
    }
}

fn nodes(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("n{i}")).collect()
}

struct Outcome {
    result: Result<History, InterpretError>,
    /// What the sink saw.
    streamed: Vec<Op>,
    log: Vec<String>,
}

/// Runs `gen` with `concurrency` threads over `n_nodes` nodes, clients of `latency`.
fn run_with(
    seed: u64,
    concurrency: usize,
    n_nodes: usize,
    latency: Option<Duration>,
    opts: InterpreterOptions,
    unreachable: Vec<String>,
    gen: impl FnOnce() -> Gen + 'static,
) -> Outcome {
    let rt = DeterministicRuntime::new(seed);
    let log: Log = Rc::default();
    let mut client = TestClient::new(&rt, latency, &log);
    client.unreachable = unreachable;
    let nem = TestNemesis {
        rt: rt.clone(),
        log: log.clone(),
    };
    let test = TestInfo {
        nodes: nodes(n_nodes),
        concurrency,
    };
    let rt2 = rt.clone();
    let (result, streamed) = rt.run(async move {
        let mut streamed = Vec::new();
        let mut sink = |op: &Op| streamed.push(op.clone());
        let result = run(
            rt2,
            &test,
            &opts,
            Box::new(client),
            Box::new(nem),
            gen(),
            &mut sink,
        )
        .await;
        (result, streamed)
    });
    let log = log.borrow().clone();
    Outcome {
        result,
        streamed,
        log,
    }
}

fn simple(concurrency: usize, n_nodes: usize, gen: impl FnOnce() -> Gen + 'static) -> Outcome {
    run_with(
        1,
        concurrency,
        n_nodes,
        Some(Duration::from_millis(10)),
        InterpreterOptions::default(),
        Vec::new(),
        gen,
    )
}

fn writes(n: usize) -> Gen {
    script((0..n).map(|_| client("write")).collect())
}

#[test]
fn invocations_are_journaled_before_completions_with_ascending_indices_and_monotone_times() {
    let out = simple(3, 3, || writes(20));
    let h = out.result.unwrap();
    assert_eq!(h.len(), 40);
    assert_eq!(out.streamed, h.ops, "the sink saw every op, in order");
    for (i, op) in h.ops.iter().enumerate() {
        assert_eq!(op.index, i as i64);
    }
    for w in h.ops.windows(2) {
        assert!(w[0].time <= w[1].time, "{} then {}", w[0], w[1]);
    }
    let pairs: Vec<_> = h.client_pairs().collect();
    assert_eq!(pairs.len(), 20);
    for (inv, comp) in pairs {
        let comp = comp.expect("every op completed");
        assert!(comp > inv);
        assert_eq!(h.ops[comp].kind, OpType::Ok);
        assert_eq!(h.ops[comp].time - h.ops[inv].time, 10 * MS, "fixed latency");
    }
    // Three threads: ops run three at a time, 10 ms each.
    assert_eq!(h.ops.last().unwrap().time, 70 * MS);
    // No op is invoked while its thread is busy: at most 3 in flight.
    let mut in_flight = 0;
    for op in &h.ops {
        in_flight += if op.is_invoke() { 1 } else { -1 };
        assert!((0..=3).contains(&in_flight));
    }
}

#[test]
fn a_client_error_is_info_and_the_thread_gets_a_new_process_and_a_fresh_client() {
    let out = simple(2, 2, || {
        script(vec![
            client("write"),
            client("boom"),
            client("write"),
            client("write"),
            client("write"),
        ])
    });
    let h = out.result.unwrap();
    let boom = h
        .ops
        .iter()
        .position(|o| o.f == "boom" && !o.is_invoke())
        .unwrap();
    let crashed = &h.ops[boom];
    assert_eq!(crashed.kind, OpType::Info);
    assert_eq!(
        crashed.error,
        Some(ClientError::new("boom", "the server said no").to_value())
    );
    let Process::Client(old) = crashed.process else {
        panic!()
    };
    // The crashed thread's next op comes from process old + concurrency, on the same node.
    let next = h.ops[boom..]
        .iter()
        .find(|o| o.is_invoke() && o.process.clone().client().map(|p| p % 2) == Some(old % 2))
        .expect("the thread invokes again");
    assert_eq!(next.process, Process::Client(old + 2));
    assert_eq!(next.extra["node"], crashed.extra["node"]);
    // Clients on the crashed op's node: one for setup, one for the crashed process, one for
    // its successor, one for teardown.
    let node = crashed.extra["node"].as_name().unwrap().to_string();
    let opens_on_node = out
        .log
        .iter()
        .filter(|l| **l == format!("open {node}"))
        .count();
    let expected = 4; // setup, the crashed process, its successor, teardown
    assert_eq!(opens_on_node, expected, "{:?}", out.log);
    let opens = out.log.iter().filter(|l| l.starts_with("open")).count();
    let closes = out.log.iter().filter(|l| l.starts_with("close")).count();
    assert_eq!(opens, 7, "2 for setup, 3 for processes, 2 for teardown");
    assert_eq!(closes, 7, "every client opened is closed: {:?}", out.log);
}

#[test]
fn a_client_panic_is_info_with_an_indeterminate_error() {
    let out = simple(1, 1, || script(vec![client("panic"), client("write")]));
    let h = out.result.unwrap();
    assert_eq!(h.ops[1].kind, OpType::Info);
    assert_eq!(
        h.ops[1].error,
        Some(Value::Str("indeterminate: client bug".into()))
    );
    assert_eq!(h.ops[2].process, Process::Client(1));
    assert_eq!(h.ops[3].kind, OpType::Ok);
}

#[test]
fn clients_are_bound_to_node_thread_mod_node_count() {
    let out = simple(5, 3, || script((0..15).map(|_| client("read")).collect()));
    let h = out.result.unwrap();
    let all = nodes(3);
    for (inv, comp) in h.client_pairs() {
        let inv = &h.ops[inv];
        let thread = inv.process.clone().client().unwrap() % 5;
        let node = &all[thread as usize % 3];
        assert_eq!(inv.extra["node"], Value::Str(node.clone()), "{inv}");
        // The client that ran it was opened on that node.
        assert_eq!(h.ops[comp.unwrap()].value, Value::Str(node.clone()));
    }
}

#[test]
fn nemesis_ops_are_info_pairs_and_setup_and_teardown_run_once_per_node_around_the_run() {
    let out = simple(2, 3, || {
        script(vec![
            client("write"),
            nemesis("start"),
            client("write"),
            nemesis("stop"),
        ])
    });
    let h = out.result.unwrap();
    let nem: Vec<&Op> = h
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis)
        .collect();
    assert_eq!(nem.len(), 4);
    assert!(nem
        .iter()
        .all(|o| o.kind == OpType::Info && !o.extra.contains_key("node")));
    assert_eq!(
        nem.iter().map(|o| o.f.as_str()).collect::<Vec<_>>(),
        ["start", "start", "stop", "stop"]
    );
    assert_eq!(nem[1].value, Value::keyword("done"));
    assert_eq!(nem[1].time - nem[0].time, 5 * MS);
    let start = h.ops.iter().position(|o| o.f == "start").unwrap();
    assert_eq!(
        h.partner(start),
        Some(h.ops.iter().rposition(|o| o.f == "start").unwrap())
    );
    let log = &out.log;
    assert_eq!(log.first().unwrap(), "nemesis setup");
    let per_node = |step: &str| -> Vec<String> {
        ["n1", "n2", "n3"]
            .iter()
            .flat_map(|n| {
                [
                    format!("open {n}"),
                    format!("{step} {n}"),
                    format!("close {n}"),
                ]
            })
            .collect()
    };
    assert_eq!(&log[1..10], per_node("setup"));
    assert_eq!(log.last().unwrap(), "nemesis teardown");
    assert_eq!(&log[log.len() - 10..log.len() - 1], per_node("teardown"));
    assert_eq!(log.iter().filter(|l| l.starts_with("setup")).count(), 3);
    assert_eq!(log.iter().filter(|l| l.starts_with("teardown")).count(), 3);
}

#[test]
fn an_op_past_its_timeout_is_info_and_its_thread_moves_on() {
    let opts = InterpreterOptions {
        op_timeout: Some(Duration::from_millis(50)),
        ..InterpreterOptions::default()
    };
    let out = run_with(
        1,
        1,
        1,
        Some(Duration::from_millis(10)),
        opts,
        Vec::new(),
        || script(vec![client("hang"), client("write")]),
    );
    let h = out.result.unwrap();
    assert_eq!(h.ops[1].kind, OpType::Info);
    assert_eq!(
        h.ops[1].error.as_ref().unwrap().as_slice().unwrap()[0],
        Value::keyword("timeout")
    );
    assert_eq!(h.ops[1].time, 50 * MS);
    assert_eq!(h.ops[2].process, Process::Client(1));
    assert_eq!(h.ops[3].kind, OpType::Ok);
}

#[test]
fn a_client_that_cannot_be_opened_fails_with_no_client_and_keeps_its_process() {
    let out = run_with(
        1,
        2,
        2,
        Some(Duration::from_millis(10)),
        InterpreterOptions::default(),
        vec!["n2".into()],
        || writes(4),
    );
    let h = out.result.unwrap();
    let failed: Vec<&Op> = h.ops.iter().filter(|o| o.is_fail()).collect();
    assert!(!failed.is_empty());
    for op in &failed {
        assert_eq!(op.extra["node"], Value::from("n2"));
        assert_eq!(
            op.error,
            Some(Value::Vec(vec![
                Value::keyword("no-client"),
                Value::from("n2 refused")
            ]))
        );
        // :fail is definite: the process lives on.
        assert_eq!(op.process, Process::Client(1));
    }
    // A failed open takes no time, and the next op retries opening.
    assert!(h
        .ops
        .iter()
        .all(|o| o.process == Process::Client(0) || o.process == Process::Client(1)));
}

#[test]
fn ops_scheduled_in_the_future_wait_for_their_time() {
    let out = simple(1, 1, || {
        script(vec![
            client("write"),
            Step {
                at: Some(1_000 * MS),
                ..client("write")
            },
        ])
    });
    let h = out.result.unwrap();
    assert_eq!(h.ops[2].time, 1_000 * MS);
    assert_eq!(h.ops[3].time, 1_010 * MS);
}

#[test]
fn a_log_line_records_no_op() {
    struct LogThen(Gen);
    impl Generator for LogThen {
        fn op(&self, _: &TestInfo, _: &Context) -> GenOp {
            GenOp::Log("starting the writes".into(), Some(self.0.clone()))
        }
    }
    let out = simple(1, 1, || Rc::new(LogThen(writes(2))));
    assert_eq!(out.result.unwrap().len(), 4);
}

#[test]
fn a_generator_error_still_tears_down_and_completes_ops_in_flight() {
    /// Asks the busy process 0 to invoke again.
    struct Twice {
        given: bool,
    }
    impl Generator for Twice {
        fn op(&self, _: &TestInfo, ctx: &Context) -> GenOp {
            let op = Op::invoke(0, "write", Value::Nil).with_time(ctx.time);
            if self.given {
                GenOp::Op(op, None)
            } else {
                GenOp::Op(op, Some(Rc::new(Twice { given: true })))
            }
        }
    }
    let out = simple(2, 2, || Rc::new(Twice { given: false }));
    let err = out.result.unwrap_err();
    assert!(matches!(err, InterpretError::Generator(_)), "{err}");
    assert!(err.to_string().contains("not a free process"), "{err}");
    // The op in flight completed and was journaled; teardowns ran.
    assert_eq!(out.streamed.len(), 2);
    assert_eq!(out.streamed[1].kind, OpType::Ok);
    assert!(out.log.iter().any(|l| l == "teardown n1"));
    assert_eq!(out.log.last().unwrap(), "nemesis teardown");
}

#[test]
fn the_same_seed_gives_the_same_history() {
    let go = |seed| {
        run_with(
            seed,
            4,
            3,
            None,
            InterpreterOptions::default(),
            Vec::new(),
            || Rc::new(RandomOps { left: 200 }),
        )
        .result
        .unwrap()
        .ops
        .iter()
        .map(|o| o.to_json())
        .collect::<Vec<_>>()
    };
    let a = go(42);
    assert_eq!(a, go(42));
    assert_ne!(a, go(43));
    // Random latencies and crashes really happened.
    assert!(a.iter().any(|l| l.contains("\"info\"")));
}

#[test]
fn a_failed_client_setup_fails_the_run_but_the_nemesis_is_still_torn_down() {
    let rt = DeterministicRuntime::new(1);
    let log: Log = Rc::default();
    let mut c = TestClient::new(&rt, Some(Duration::from_millis(1)), &log);
    c.broken_setup = true;
    let nem = TestNemesis {
        rt: rt.clone(),
        log: log.clone(),
    };
    let rt2 = rt.clone();
    let (result, streamed) = rt.run(async move {
        let test = TestInfo {
            nodes: nodes(3),
            concurrency: 3,
        };
        let mut streamed = 0;
        let mut sink = |_: &Op| streamed += 1;
        let r = run(
            rt2,
            &test,
            &InterpreterOptions::default(),
            Box::new(c),
            Box::new(nem),
            writes(5),
            &mut sink,
        )
        .await;
        (r, streamed)
    });
    let err = result.unwrap_err();
    assert!(matches!(err, InterpretError::ClientSetup(_)), "{err}");
    assert!(err.to_string().contains("schema refused"), "{err}");
    assert_eq!(streamed, 0, "no op ran");
    assert_eq!(
        *log.borrow(),
        [
            "nemesis setup",
            "open n1",
            "setup n1",
            "close n1",
            "nemesis teardown"
        ]
    );
}

/// Jepsen's `:sleep` on one thread, then `then`.
struct SleepThen {
    thread: Thread,
    nanos: i64,
    then: Gen,
}

impl Generator for SleepThen {
    fn op(&self, _: &TestInfo, ctx: &Context) -> GenOp {
        if !ctx.is_free(self.thread) {
            return GenOp::Pending;
        }
        let op = Op::new(
            OpType::Invoke,
            ctx.process_of(self.thread),
            "sleep",
            Value::Int(self.nanos),
        )
        .with_time(ctx.time);
        GenOp::Sleep(op, Some(self.then.clone()))
    }
}

#[test]
fn a_sleep_occupies_its_thread_without_a_history_entry() {
    let out = simple(2, 2, || {
        Rc::new(SleepThen {
            thread: Thread::Nemesis,
            nanos: 5_000 * MS,
            then: Rc::new(SleepThen {
                thread: Thread::Client(0),
                nanos: 2_000 * MS,
                then: script(vec![client("write"), client("write"), nemesis("start")]),
            }),
        })
    });
    let h = out.result.unwrap();
    assert!(h.ops.iter().all(|o| o.f != "sleep"));
    assert_eq!(h.len(), 6);
    // Client thread 1 is free at once; thread 0 sleeps 2 s; the nemesis sleeps 5 s.
    let start = h.ops.iter().find(|o| o.f == "start").unwrap();
    assert_eq!(start.time, 5_000 * MS);
    let writes: Vec<&Op> = h
        .ops
        .iter()
        .filter(|o| o.f == "write" && o.is_invoke())
        .collect();
    assert_eq!(writes[0].process, Process::Client(1));
    assert_eq!(writes[0].time, 0);
    // Thread 1 runs the second write too (10 ms later): thread 0 is still asleep.
    assert_eq!(writes[1].process, Process::Client(1));
    assert_eq!(writes[1].time, 10 * MS);
}
