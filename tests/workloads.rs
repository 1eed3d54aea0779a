//! The four Restate workloads end to end against an in-memory Restate double that speaks
//! the same HTTP shapes (metadata API with versions and preconditions, the `Set` and
//! `Register` virtual objects): with the restatedev/jepsen schedule (nemesis cycle, heal,
//! heal time) and checkers, a correct double passes; a double with a planted bug is caught.

use jepsen_core::checker::registry;
use jepsen_core::checker::{CheckOptions, CheckResult, Validity};
use jepsen_core::generator::TestInfo;
use jepsen_core::history::{Op, OpType};
use jepsen_core::interpreter::{run, InterpreterOptions};
use jepsen_core::runtime::{DeterministicRuntime, LocalBoxFuture, NoopNemesis, Runtime};
use jepsen_core::workload::transport::{Request, Response, Transport, TransportError};
use jepsen_core::workload::{schedule, Workload, WorkloadMix, WorkloadOptions};
use rand::Rng;
use serde_json::{json, Value as Json};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

#[derive(Clone, Copy, Default)]
struct Bugs {
    /// The Set object acknowledges an add and forgets it, with this probability.
    lose_adds: f64,
    /// A Register or metadata GET returns the value before the last write, with this
    /// probability.
    stale_reads: f64,
}

#[derive(Default)]
struct State {
    /// key → (value, version, previous value)
    metadata: BTreeMap<String, (Json, u64, Json)>,
    sets: BTreeMap<String, Vec<i64>>,
    registers: BTreeMap<String, (Json, Json)>,
}

/// Restate as the workloads see it, in memory, each request taking effect at one instant
/// inside a random latency.
#[derive(Clone)]
struct RestateDouble {
    rt: DeterministicRuntime,
    state: Rc<RefCell<State>>,
    bugs: Bugs,
}

impl RestateDouble {
    fn handle(&self, req: &Request) -> Response {
        let mut s = self.state.borrow_mut();
        let rng = self.rt.rng("double");
        let mut rng = rng.borrow_mut();
        let body: Json = serde_json::from_slice(&req.body).unwrap_or(Json::Null);
        let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
        match (req.method, parts.as_slice()) {
            ("GET", ["metadata", key]) => match s.metadata.get(*key) {
                None => Response::new(404),
                Some((v, version, prev)) => {
                    let v = if rng.gen_bool(self.bugs.stale_reads) {
                        prev
                    } else {
                        v
                    };
                    Response::new(200)
                        .header("etag", version.to_string())
                        .json(v)
                }
            },
            ("PUT", ["metadata", key]) => {
                let new_version: u64 = req
                    .header_value("etag")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let current = s.metadata.get(*key).cloned();
                let ok = match (req.header_value("if-match"), &current) {
                    (Some("*"), _) => true,
                    (Some("does-not-exist"), c) => c.is_none(),
                    (Some(v), Some((_, version, _))) => v.parse() == Ok(*version),
                    _ => false,
                };
                if !ok {
                    return Response::new(412);
                }
                let prev = current.map(|c| c.0).unwrap_or(Json::Null);
                s.metadata
                    .insert(key.to_string(), (body, new_version, prev));
                Response::new(200)
            }
            ("POST", ["Set", key, "add"]) => {
                let set = s.sets.entry(key.to_string()).or_default();
                let e = body.as_i64().unwrap();
                if !set.contains(&e) && !rng.gen_bool(self.bugs.lose_adds) {
                    set.push(e);
                }
                Response::new(200)
            }
            ("POST", ["Set", key, "get"]) => {
                Response::new(200).json(&json!(s.sets.get(*key).cloned().unwrap_or_default()))
            }
            ("GET", ["Register", key, "get"]) => {
                let (v, prev) = s
                    .registers
                    .get(*key)
                    .cloned()
                    .unwrap_or((Json::Null, Json::Null));
                Response::new(200).json(if rng.gen_bool(self.bugs.stale_reads) {
                    &prev
                } else {
                    &v
                })
            }
            ("POST", ["Register", key, "set"]) => {
                let entry = s
                    .registers
                    .entry(key.to_string())
                    .or_insert((Json::Null, Json::Null));
                *entry = (body, entry.0.clone());
                Response::new(200)
            }
            ("POST", ["Register", key, "cas"]) => {
                let entry = s
                    .registers
                    .entry(key.to_string())
                    .or_insert((Json::Null, Json::Null));
                if entry.0 != body["expected"] {
                    return Response::new(412);
                }
                *entry = (body["newValue"].clone(), entry.0.clone());
                Response::new(200)
            }
            _ => Response::new(404),
        }
    }
}

impl Transport for RestateDouble {
    fn send(
        &self,
        _node: &str,
        request: Request,
    ) -> LocalBoxFuture<'static, Result<Response, TransportError>> {
        let me = self.clone();
        Box::pin(async move {
            let (before, after) = {
                let r = me.rt.rng("latency");
                let mut r = r.borrow_mut();
                (r.gen_range(0..3_000_000u64), r.gen_range(0..3_000_000u64))
            };
            me.rt.sleep(Duration::from_nanos(before)).await;
            let response = me.handle(&request);
            me.rt.sleep(Duration::from_nanos(after)).await;
            Ok(response)
        })
    }
}

fn options() -> WorkloadOptions {
    WorkloadOptions {
        concurrency: 10,
        rate: 200.0,
        time_limit: Duration::from_secs(6),
        with_nemesis: true,
        fault_interval: Duration::from_secs(1),
        heal_time: Duration::from_secs(2),
        ops_per_key: 30,
        threads_per_key: 3,
        op_limit: None,
        heal_op_limit: None,
    }
}

fn run_workload(workload: Workload, seed: u64, bugs: Bugs) -> (CheckResult, Vec<Op>) {
    run_mix(
        &WorkloadMix::single(workload, options().concurrency),
        seed,
        bugs,
    )
}

fn run_mix(workloads: &WorkloadMix, seed: u64, bugs: Bugs) -> (CheckResult, Vec<Op>) {
    let rt = DeterministicRuntime::new(seed);
    let double = RestateDouble {
        rt: rt.clone(),
        state: Rc::default(),
        bugs,
    };
    let opts = options();
    let nodes: Vec<String> = (1..=3).map(|i| format!("n{i}")).collect();
    let test = TestInfo {
        nodes: nodes.clone(),
        concurrency: opts.concurrency,
    };
    let client = workloads.client(Rc::new(double), rt.rng("workload"));
    let gen = schedule(workloads, &opts);
    let rt2 = rt.clone();
    let history = rt
        .run(async move {
            run(
                rt2,
                &test,
                &InterpreterOptions::default(),
                client,
                Box::new(NoopNemesis),
                gen,
                &mut |_| {},
            )
            .await
        })
        .unwrap();
    let checker = registry::build(&workloads.checkers()).unwrap();
    let result = checker.check(
        &history,
        &CheckOptions {
            time_limit: None,
            nodes,
        },
    );
    (result, history.ops)
}

#[test]
fn every_workload_passes_against_a_correct_restate() {
    for workload in Workload::ALL {
        let (result, ops) = run_workload(workload, 1, Bugs::default());
        assert!(ops.len() > 1000, "{workload}: {} ops", ops.len());
        assert_eq!(
            result.valid,
            Validity::Valid,
            "{workload}: {}",
            result.to_value()
        );
        let faults = ops.iter().filter(|o| o.f == "start").count();
        assert!(
            faults >= 4,
            "{workload}: the nemesis cycled ({faults} start ops)"
        );
    }
}

#[test]
fn a_set_that_forgets_acknowledged_adds_is_caught() {
    let (result, _) = run_workload(
        Workload::SetVo,
        2,
        Bugs {
            lose_adds: 0.01,
            ..Bugs::default()
        },
    );
    assert_eq!(result.valid, Validity::Invalid, "{}", result.to_value());
    assert!(
        result
            .get("set-full")
            .unwrap()
            .get("lost-count")
            .unwrap()
            .as_int()
            .unwrap()
            > 0
    );
}

#[test]
fn registers_with_stale_reads_are_caught() {
    for workload in [
        Workload::RegisterVo,
        Workload::RegisterMds,
        Workload::SetMds,
    ] {
        let (result, _) = run_workload(
            workload,
            3,
            Bugs {
                stale_reads: 0.05,
                ..Bugs::default()
            },
        );
        assert_eq!(
            result.valid,
            Validity::Invalid,
            "{workload}: {}",
            result.to_value()
        );
    }
}

/// All four workloads at once, each on its own threads and objects: each is judged by
/// its own checker on its own ops, and a defect of one shows in that one's result only.
#[test]
fn four_workloads_at_once_are_each_judged_on_their_own_ops() {
    let mix = WorkloadMix::split(&Workload::ALL, options().concurrency).unwrap();
    let (result, ops) = run_mix(&mix, 1, Bugs::default());
    assert_eq!(result.valid, Validity::Valid, "{}", result.to_value());
    for part in &mix.parts {
        let mine = ops
            .iter()
            .filter(|o| {
                o.process
                    .clone()
                    .client()
                    .is_some_and(|p| part.threads.contains(&(p as usize % 10)))
            })
            .count();
        assert!(mine > 100, "{}: {mine} ops", part.workload);
        assert_eq!(
            result
                .get(part.workload.name())
                .and_then(|r| r.get("valid?")),
            Some(&jepsen_core::history::Value::Bool(true)),
            "{}",
            part.workload
        );
    }
    let (result, _) = run_mix(
        &mix,
        2,
        Bugs {
            lose_adds: 0.01,
            ..Bugs::default()
        },
    );
    assert_eq!(result.valid, Validity::Invalid, "{}", result.to_value());
    let set_vo = result.get("set-vo").unwrap();
    assert_eq!(
        set_vo.get("valid?"),
        Some(&jepsen_core::history::Value::Bool(false))
    );
    for other in ["register-vo", "register-mds"] {
        let r = result.get(other).unwrap();
        assert_eq!(
            r.get("valid?"),
            Some(&jepsen_core::history::Value::Bool(true)),
            "{other}"
        );
    }
}

#[test]
fn workload_names_parse_and_unknown_ones_are_listed() {
    for w in Workload::ALL {
        assert_eq!(w.name().parse::<Workload>(), Ok(w));
    }
    let e = "set".parse::<Workload>().unwrap_err();
    assert!(e.contains("set-vo") && e.contains("register-mds"), "{e}");
}

#[test]
fn a_set_element_is_added_once_even_across_the_final_heal() {
    for workload in [Workload::SetVo, Workload::SetMds] {
        let (_, ops) = run_workload(workload, 3, Bugs::default());
        let adds: Vec<i64> = ops
            .iter()
            .filter(|o| o.f == "add" && o.kind == OpType::Invoke)
            .filter_map(|o| o.value.as_int())
            .collect();
        let distinct: std::collections::BTreeSet<i64> = adds.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            adds.len(),
            "{workload}: an element was added twice"
        );
        assert!(
            adds.iter()
                .any(|&a| a >= jepsen_core::workload::AFTER_HEAL_FIRST),
            "{workload}: no add after the heal"
        );
    }
}
