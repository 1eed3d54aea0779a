//! The core end to end, with no world: Jepsen-style workloads (generators from the
//! library) run by the interpreter on the deterministic runtime against in-memory systems
//! with random latencies, streamed into the store, and judged by the checkers the run
//! recorded. A correct system must pass; a system with a planted bug must be caught; the
//! same seed must give the same history.

use jepsen_core::checker::registry::{self, CheckerChoice};
use jepsen_core::checker::{CheckOptions, CheckResult, Validity};
use jepsen_core::generator::*;
use jepsen_core::history::{Op, OpType, Value};
use jepsen_core::interpreter::{run, InterpreterOptions};
use jepsen_core::runtime::{
    Client, ClientError, DeterministicRuntime, LocalBoxFuture, NoopNemesis, Runtime,
};
use jepsen_core::store::Store;
use rand::Rng;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

/// What an in-memory system shares between its clients.
#[derive(Default)]
struct State {
    set: Vec<i64>,
    register: Option<i64>,
    /// The register's value one write ago, for the stale-read bug.
    previous: Option<i64>,
}

/// Bugs to plant.
#[derive(Clone, Copy, Default)]
struct Bugs {
    /// An acknowledged add is dropped with this probability.
    lose_adds: f64,
    /// A read returns the previous value with this probability.
    stale_reads: f64,
}

/// A client of an in-memory set and register: each op takes effect at a random instant
/// between its invocation and its completion.
#[derive(Clone)]
struct MemClient {
    rt: DeterministicRuntime,
    state: Rc<RefCell<State>>,
    bugs: Bugs,
    /// Whether `read` reads the set (else the register).
    set: bool,
}

impl Client for MemClient {
    fn open(&self, _node: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>> {
        let c = self.clone();
        Box::pin(async move { Ok(Box::new(c) as Box<dyn Client>) })
    }

    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move {
            let rng = self.rt.rng("client");
            let (before, after, lose, stale) = {
                let mut r = rng.borrow_mut();
                (
                    r.gen_range(0..5_000_000u64),
                    r.gen_range(0..5_000_000u64),
                    r.gen_bool(self.bugs.lose_adds),
                    r.gen_bool(self.bugs.stale_reads),
                )
            };
            self.rt.sleep(Duration::from_nanos(before)).await;
            let mut done = op.complete(OpType::Ok);
            {
                let mut s = self.state.borrow_mut();
                match op.f.as_str() {
                    "add" => {
                        if !lose {
                            s.set.push(op.value.as_int().unwrap());
                        }
                    }
                    "read" if self.set => {
                        done.value = Value::Vec(s.set.iter().map(|&e| Value::Int(e)).collect());
                    }
                    "read" => {
                        let v = if stale { s.previous } else { s.register };
                        done.value = v.map(Value::Int).unwrap_or(Value::Nil);
                    }
                    "write" => {
                        s.previous = s.register;
                        s.register = op.value.as_int();
                    }
                    f => panic!("unexpected op {f}"),
                }
            }
            self.rt.sleep(Duration::from_nanos(after)).await;
            Ok(done)
        })
    }
}

fn set_workload() -> Gen {
    let adds = lazy_seq(|i| Some(op_value("add", i as i64)));
    phases(vec![
        time_limit(
            Duration::from_secs(5),
            clients(stagger(
                Duration::from_millis(2),
                reserve(vec![(1, repeat(op("read")))], adds),
            )),
        ),
        clients(each_thread(once(op("read")))),
    ])
}

fn register_workload() -> Gen {
    time_limit(
        Duration::from_secs(5),
        clients(stagger(
            Duration::from_millis(2),
            mix(vec![
                repeat(op("read")),
                fn_op(|_, ctx| Some(template("write").value(ctx.rand_int(5) as i64))),
            ]),
        )),
    )
}

/// Runs `gen` on a fresh in-memory system; stores it; returns the stored run's verdict
/// (re-read from disk) and its history.
fn run_stored(seed: u64, gen: Gen, bugs: Bugs, choice: CheckerChoice) -> (CheckResult, Vec<Op>) {
    let rt = DeterministicRuntime::new(seed);
    let set = choice.model.is_none();
    let client = MemClient {
        rt: rt.clone(),
        state: Rc::default(),
        bugs,
        set,
    };
    let root = tempfile::tempdir().unwrap();
    let run_dir =
        Store::create(root.path(), "mem", UNIX_EPOCH + Duration::from_secs(seed)).unwrap();
    let mut writer = run_dir.history_writer().unwrap();
    let test = TestInfo {
        nodes: vec!["n1".into(), "n2".into(), "n3".into()],
        concurrency: 5,
    };
    let history = {
        let rt2 = rt.clone();
        rt.run(async move {
            let mut sink = |op: &Op| writer.record(op).unwrap();
            run(
                rt2,
                &test,
                &InterpreterOptions::default(),
                Box::new(client),
                Box::new(NoopNemesis),
                gen,
                &mut sink,
            )
            .await
        })
        .unwrap()
    };
    let mut fields = vec![(Value::keyword("seed"), Value::Int(seed as i64))];
    fields.extend(choice.to_fields());
    run_dir.write_test(&Value::Map(fields)).unwrap();
    // Judge what is on disk (the streamed JSON lines), as `analyze` would.
    let stored = Store::load_history(run_dir.path()).unwrap();
    assert_eq!(
        stored.ops, history.ops,
        "the streamed history is the history"
    );
    let stored_choice =
        CheckerChoice::from_test(&Store::load_test(run_dir.path()).unwrap()).unwrap();
    let result = registry::build(&stored_choice)
        .unwrap()
        .check(&stored, &CheckOptions::default());
    run_dir.write_results(&result).unwrap();
    (result, history.ops)
}

fn set_full() -> CheckerChoice {
    CheckerChoice {
        checkers: vec!["set-full".into(), "stats".into()],
        linearizable_reads: true,
        ..Default::default()
    }
}

fn register() -> CheckerChoice {
    CheckerChoice {
        model: Some("register".into()),
        ..Default::default()
    }
}

#[test]
fn a_correct_set_passes_set_full() {
    let (result, history) = run_stored(1, set_workload(), Bugs::default(), set_full());
    assert!(history.len() > 1000, "{}", history.len());
    assert_eq!(result.valid, Validity::Valid, "{}", result.to_value());
}

#[test]
fn a_set_that_loses_acknowledged_adds_is_caught() {
    let (result, _) = run_stored(
        2,
        set_workload(),
        Bugs {
            lose_adds: 0.02,
            ..Bugs::default()
        },
        set_full(),
    );
    assert_eq!(result.valid, Validity::Invalid, "{}", result.to_value());
    let lost = result
        .get("set-full")
        .unwrap()
        .get("lost-count")
        .unwrap()
        .as_int()
        .unwrap();
    assert!(lost > 0);
}

#[test]
fn a_correct_register_is_linearizable() {
    let (result, _) = run_stored(3, register_workload(), Bugs::default(), register());
    assert_eq!(result.valid, Validity::Valid, "{}", result.to_value());
}

#[test]
fn a_register_with_stale_reads_is_not_linearizable() {
    let (result, _) = run_stored(
        4,
        register_workload(),
        Bugs {
            stale_reads: 0.05,
            ..Bugs::default()
        },
        register(),
    );
    assert_eq!(result.valid, Validity::Invalid, "{}", result.to_value());
}

#[test]
fn the_same_seed_gives_the_same_history() {
    let (_, a) = run_stored(5, set_workload(), Bugs::default(), set_full());
    let (_, b) = run_stored(5, set_workload(), Bugs::default(), set_full());
    let (_, c) = run_stored(6, set_workload(), Bugs::default(), set_full());
    assert_eq!(a, b);
    assert_ne!(a, c);
}
