//! A register over the modeled cluster with the core's register client
//! (`jepsen_core::workload::register`), in two ways, as restatedev/jepsen's `register-mds`
//! (the metadata store) and `register-vo` (the `Register` virtual object), all threads on
//! one key at a time (25 ops a key, as few crashed ops per key as the checker handles at
//! once), with a fault schedule of its own.
//!
//! The run: a few hundred ops from 5 threads over about 6 simulated seconds, by default
//! with a random node cut off from 1 s to 2.5 s and a random node killed from 3.5 s to 5 s.
//!
//! Shared by the tests and the benchmark example (`#[path]`-included).

use jepsen_core::fault::Fault;
use jepsen_core::generator::TestInfo;
use jepsen_core::generator::{any, limit, nemesis as on_nemesis, op_value, seq, sleep, stagger};
use jepsen_core::history::History;
use jepsen_core::interpreter::{run, InterpreterOptions};
use jepsen_core::runtime::Runtime;
use jepsen_core::workload::register::{register_ops_by_key, RegisterApi, RegisterClient};
use jepsen_core::workload::transport::{Request, Transport, INGRESS_PORT};
use jepsen_sim::restate::{sim_nemesis, wait_until_ready, BugSet, ClusterOptions, SimCluster};
use jepsen_sim::MadsimRuntime;
use std::rc::Rc;
use std::time::Duration;

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
            let api = match scenario.api {
                Api::Metadata => RegisterApi::Metadata,
                Api::VirtualObject => RegisterApi::VirtualObject,
            };
            let client = RegisterClient::new(transport, api, rt.rng("register-versions"));
            let nemesis = sim_nemesis(cluster, Fault::None, rt.rng("nemesis"));
            let nemesis = Box::new(nemesis);
            let ops = register_ops_by_key(scenario.concurrency, scenario.concurrency, 25);
            let workload = stagger(scenario.stagger, limit(scenario.ops, ops));
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
