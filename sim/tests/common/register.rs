//! A register over the modeled cluster, with a small client written here (the core's
//! workload clients are wired by the `sim` command), in two ways, as restatedev/jepsen's
//! `register-mds` and `register-vo`:
//! - the metadata store: read = `GET`, write = `PUT if-match: *` with a fresh version,
//!   cas = `GET`, compare, then `PUT if-match: <version>`;
//! - the `Register` virtual object: `POST /Register/{key}/get`, `/set`, `/cas`.
//!
//! The run: a few hundred ops from 5 threads over about 6 simulated seconds, by default
//! with a random node cut off from 1 s to 2.5 s and a random node killed from 3.5 s to 5 s.
//!
//! Shared by the tests and the benchmark example (`#[path]`-included).

use jepsen_core::fault::Fault;
use jepsen_core::generator::{
    any, clients, fn_op, limit, mix, nemesis as on_nemesis, op, op_value, repeat, seq, sleep,
    stagger, template, TestInfo,
};
use jepsen_core::history::{History, Op, OpType, Value};
use jepsen_core::interpreter::{run, InterpreterOptions};
use jepsen_core::runtime::{Client, ClientError, LocalBoxFuture, Runtime, SharedRng};
use jepsen_core::workload::transport::{
    Request, Response, Transport, TransportError, ADMIN_PORT, INGRESS_PORT,
};
use jepsen_sim::restate::{wait_until_ready, BugSet, ClusterOptions, SimCluster, SimNemesis};
use jepsen_sim::MadsimRuntime;
use rand::Rng;
use std::rc::Rc;
use std::time::Duration;

const KEY: &str = "/metadata/jepsen-register";
const OBJECT: &str = "/Register/jepsen-register";

/// Where the register lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    Metadata,
    VirtualObject,
}

/// The scenario's size and faults.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub api: Api,
    pub bugs: BugSet,
    pub ops: u64,
    pub concurrency: usize,
    /// Time between ops (over all threads).
    pub stagger: Duration,
    /// The faults, in order: each starts 1 s after the previous one stopped and lasts
    /// 1.5 s. By default a partitioned node, then a killed node.
    pub faults: Vec<Fault>,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            api: Api::Metadata,
            bugs: BugSet::new(),
            ops: 300,
            concurrency: 5,
            stagger: Duration::from_millis(20),
            faults: vec![Fault::PartitionRandomNode, Fault::KillRandomNode],
        }
    }
}

/// The register client, bound to one node.
#[derive(Clone)]
struct RegisterClient {
    api: Api,
    transport: Rc<dyn Transport>,
    rng: SharedRng,
    node: String,
}

/// How a failed request ends the op: refused = it did not happen; else unknown.
fn transport_failure(invoke: &Op, e: &TransportError) -> Op {
    let (kind, error) = match e {
        TransportError::Refused(m) => (OpType::Fail, ClientError::new("connect", m.clone())),
        TransportError::Timeout(m) => (OpType::Info, ClientError::new("timeout", m.clone())),
        TransportError::Other(m) => (OpType::Info, ClientError::new("other", m.clone())),
    };
    let mut done = invoke.complete(kind);
    done.error = Some(error.to_value());
    done
}

fn status_failure(invoke: &Op, r: &Response) -> Op {
    let (kind, name) = match r.status {
        412 => (OpType::Fail, "precondition-failed"),
        s if s >= 500 => (OpType::Info, "server-internal"),
        _ => (OpType::Info, "unexpected-status"),
    };
    let mut done = invoke.complete(kind);
    let body = String::from_utf8_lossy(&r.body);
    done.error = Some(ClientError::new(name, format!("status {}: {body}", r.status)).to_value());
    done
}

impl RegisterClient {
    /// The register's value and version, `None` if it has none; or the op's end.
    async fn get(&self, invoke: &Op) -> Result<Option<(i64, u64)>, Op> {
        let r = self
            .transport
            .send(&self.node, Request::new("GET", ADMIN_PORT, KEY))
            .await
            .map_err(|e| transport_failure(invoke, &e))?;
        match r.status {
            404 => Ok(None),
            200 => {
                let value = r.body_json().and_then(|v| v.as_i64());
                let version = r.header_value("etag").and_then(|v| v.parse().ok());
                match (value, version) {
                    (Some(value), Some(version)) => Ok(Some((value, version))),
                    _ => Err(status_failure(invoke, &r)),
                }
            }
            _ => Err(status_failure(invoke, &r)),
        }
    }

    async fn put(&self, invoke: &Op, if_match: String, version: u64, value: i64) -> Op {
        let request = Request::new("PUT", ADMIN_PORT, KEY)
            .header("if-match", if_match)
            .header("etag", version.to_string())
            .json(&value.into());
        match self.transport.send(&self.node, request).await {
            Err(e) => transport_failure(invoke, &e),
            Ok(r) if r.status == 200 => invoke.complete(OpType::Ok),
            Ok(r) => status_failure(invoke, &r),
        }
    }

    /// The virtual object's handler `handler` with `body`.
    async fn call_object(
        &self,
        invoke: &Op,
        handler: &str,
        body: serde_json::Value,
    ) -> Result<Response, Op> {
        let request = Request::new("POST", INGRESS_PORT, format!("{OBJECT}/{handler}")).json(&body);
        let r = self
            .transport
            .send(&self.node, request)
            .await
            .map_err(|e| transport_failure(invoke, &e))?;
        if r.status == 200 {
            Ok(r)
        } else {
            Err(status_failure(invoke, &r))
        }
    }

    async fn perform_on_object(&self, invoke: Op) -> Op {
        let json = |v: &Value| serde_json::to_value(v).expect("a JSON value");
        let outcome = match invoke.f.as_str() {
            "read" => self
                .call_object(&invoke, "get", serde_json::Value::Null)
                .await
                .map(|r| {
                    let mut done = invoke.complete(OpType::Ok);
                    done.value = match r.body_json() {
                        Some(serde_json::Value::Number(n)) => Value::Int(n.as_i64().expect("int")),
                        _ => Value::Nil,
                    };
                    done
                }),
            "write" => self
                .call_object(&invoke, "set", json(&invoke.value))
                .await
                .map(|_| invoke.complete(OpType::Ok)),
            "cas" => {
                let [old, new] = invoke.value.as_slice().expect("[old new]") else {
                    panic!("a cas is [old new]")
                };
                let body = serde_json::json!({"expected": json(old), "newValue": json(new)});
                self.call_object(&invoke, "cas", body)
                    .await
                    .map(|_| invoke.complete(OpType::Ok))
            }
            other => panic!("no such register op {other}"),
        };
        outcome.unwrap_or_else(|done| done)
    }

    async fn perform(&self, invoke: Op) -> Op {
        if self.api == Api::VirtualObject {
            return self.perform_on_object(invoke).await;
        }
        match invoke.f.as_str() {
            "read" => match self.get(&invoke).await {
                Ok(current) => {
                    let mut done = invoke.complete(OpType::Ok);
                    done.value = current.map_or(Value::Nil, |(v, _)| Value::Int(v));
                    done
                }
                Err(done) => done,
            },
            "write" => {
                let version = 2 * self.rng.borrow_mut().gen_range(1..1_000_000_000_000u64);
                let value = invoke.value.as_int().expect("an int to write");
                self.put(&invoke, "*".into(), version, value).await
            }
            "cas" => {
                let [old, new] = invoke.value.as_slice().expect("[old new]") else {
                    panic!("a cas is [old new]")
                };
                let (old, new) = (old.as_int().expect("int"), new.as_int().expect("int"));
                match self.get(&invoke).await {
                    Err(done) => done,
                    Ok(Some((value, version))) if value == old => {
                        self.put(&invoke, version.to_string(), version + 1, new)
                            .await
                    }
                    Ok(_) => {
                        let mut done = invoke.complete(OpType::Fail);
                        done.error = Some(ClientError::new("mismatch", "").to_value());
                        done
                    }
                }
            }
            other => panic!("no such register op {other}"),
        }
    }
}

impl Client for RegisterClient {
    fn open(&self, node: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>> {
        let mut client = self.clone();
        client.node = node.to_string();
        Box::pin(async move { Ok(Box::new(client) as Box<dyn Client>) })
    }

    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move { Ok(self.perform(op).await) })
    }
}

fn register_ops() -> jepsen_core::generator::Gen {
    // A mix of infinite generators (a mix repeated would pick the same one every time).
    mix(vec![
        repeat(op("read")),
        fn_op(|_, ctx| Some(template("write").value(ctx.rand_int(5) as i64))),
        fn_op(|_, ctx| {
            let (old, new) = (ctx.rand_int(5) as i64, ctx.rand_int(5) as i64);
            Some(template("cas").value(Value::Vec(vec![Value::Int(old), Value::Int(new)])))
        }),
    ])
}

fn fault_schedule(faults: &[Fault]) -> jepsen_core::generator::Gen {
    let mut steps = Vec::new();
    for fault in faults {
        steps.push(sleep(Duration::from_millis(1000)));
        steps.push(op_value("start", fault.name()));
        steps.push(sleep(Duration::from_millis(1500)));
        steps.push(op_value("stop", fault.name()));
    }
    seq(steps)
}

/// Waits until every node's ingress runs an invocation.
async fn objects_ready(transport: &dyn Transport, nodes: &[String], limit: Duration) -> bool {
    let start = madsim::time::Instant::now();
    for node in nodes {
        loop {
            let probe = Request::new("POST", INGRESS_PORT, "/Register/jepsen-readiness-probe/get");
            if matches!(transport.send(node, probe).await, Ok(r) if r.status == 200) {
                break;
            }
            if start.elapsed() >= limit {
                return false;
            }
            madsim::time::sleep(Duration::from_millis(100)).await;
        }
    }
    true
}

/// Runs the scenario in the current simulation and returns its history.
pub async fn register_run(scenario: Scenario) -> History {
    let cluster = SimCluster::start(ClusterOptions {
        bugs: scenario.bugs.clone(),
        ..ClusterOptions::default()
    });
    let nodes = cluster.nodes();
    cluster
        .run_control(move |cluster| async move {
            let transport: Rc<dyn Transport> = Rc::new(cluster.borrow().transport());
            let ready = wait_until_ready(&*transport, &nodes, Duration::from_secs(30)).await;
            assert!(ready, "the metadata store elects a leader");
            if scenario.api == Api::VirtualObject {
                let ready = objects_ready(&*transport, &nodes, Duration::from_secs(30)).await;
                assert!(ready, "the partition gets a leader");
            }
            // Times in the history count from here.
            let rt = MadsimRuntime::current();
            let test = TestInfo {
                nodes,
                concurrency: scenario.concurrency,
            };
            let client = RegisterClient {
                api: scenario.api,
                transport,
                rng: rt.rng("register-versions"),
                node: String::new(),
            };
            let nemesis = SimNemesis::new(cluster, Fault::None, rt.rng("nemesis"));
            let nemesis = Box::new(nemesis);
            let workload = clients(stagger(
                scenario.stagger,
                limit(scenario.ops, register_ops()),
            ));
            let gen = if scenario.faults.is_empty() {
                workload
            } else {
                any(vec![workload, on_nemesis(fault_schedule(&scenario.faults))])
            };
            run(
                rt,
                &test,
                &InterpreterOptions::default(),
                Box::new(client),
                nemesis,
                gen,
                &mut |_| {},
            )
            .await
            .expect("the run completes")
        })
        .await
        .expect("the control node is never killed")
}
