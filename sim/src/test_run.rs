//! One simulated test: a workload of the core, with its restatedev/jepsen schedule and a
//! named fault, against the modeled Restate cluster, run by the core's interpreter on the
//! cluster's control node. Everything random comes from the iteration's seed, so a seed
//! replays its history exactly.

use crate::restate::trace;
use crate::restate::{wait_until_ready, BugSet, ClusterOptions, SimCluster, SimNemesis};
use crate::MadsimRuntime;
use jepsen_core::checker::registry;
use jepsen_core::checker::{CheckOptions, CheckResult};
use jepsen_core::fault::Fault;
use jepsen_core::generator::TestInfo;
use jepsen_core::history::History;
use jepsen_core::interpreter::{run, InterpreterOptions};
use jepsen_core::runtime::Runtime;
use jepsen_core::workload::transport::Transport;
use jepsen_core::workload::{schedule, Workload, WorkloadOptions};
use std::rc::Rc;
use std::time::Duration;

/// What one simulated test runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SimTest {
    pub workload: Workload,
    /// The fault the nemesis inflicts (`Fault::None`: no nemesis).
    pub nemesis: Fault,
    pub bugs: BugSet,
    pub nodes: usize,
    pub workload_options: WorkloadOptions,
    /// How long a client waits for a response before its op ends `:info`.
    pub client_timeout: Duration,
}

impl SimTest {
    /// The `sim` command's defaults (3 nodes, 5 clients at 50 ops/s for 4 simulated
    /// seconds with a fault every second, then 5 s after the heal; 1 s client timeout;
    /// 20 ops per register key), with this workload, fault and bugs.
    pub fn defaults(workload: Workload, nemesis: Fault, bugs: BugSet) -> SimTest {
        let nodes = 3;
        let concurrency = 5;
        SimTest {
            workload,
            nemesis,
            bugs,
            nodes,
            client_timeout: Duration::from_secs(1),
            workload_options: WorkloadOptions {
                concurrency,
                rate: 50.0,
                time_limit: Duration::from_secs(4),
                fault_interval: Duration::from_secs(1),
                heal_time: Duration::from_secs(5),
                ops_per_key: 20,
                threads_per_key: nodes.min(concurrency),
                ..WorkloadOptions::default()
            },
        }
    }

    /// Judges `history` with the workload's checkers (restatedev/jepsen's).
    pub fn check(&self, history: &History) -> CheckResult {
        let checker =
            registry::build(&self.workload.checkers()).expect("the workloads' checkers exist");
        checker.check(
            history,
            &CheckOptions {
                time_limit: Some(Duration::from_secs(60)),
                nodes: self.node_names(),
            },
        )
    }

    /// The node names, `n1` … `nN`, as the cluster names them.
    pub fn node_names(&self) -> Vec<String> {
        (1..=self.nodes).map(|i| format!("n{i}")).collect()
    }
}

/// Runs `test` as [`run_test`] does, recording the model trace ([`crate::restate::trace`]),
/// and returns the history and the trace (for a replayed seed's store).
pub async fn run_test_with_trace(test: SimTest) -> (History, String) {
    trace::record();
    let history = run_test(test).await;
    (history, trace::take())
}

/// Runs `test` in the current simulation (see [`crate::run_iteration`]) and returns its
/// history; history times count from when the cluster was ready.
pub async fn run_test(test: SimTest) -> History {
    let cluster = SimCluster::start(ClusterOptions {
        nodes: test.nodes,
        bugs: test.bugs.clone(),
        client_timeout: test.client_timeout,
        ..ClusterOptions::default()
    });
    let nodes = cluster.nodes();
    cluster
        .run_control(move |cluster| async move {
            let transport: Rc<dyn Transport> = Rc::new(cluster.borrow().transport());
            let ready = wait_until_ready(&*transport, &nodes, Duration::from_secs(60)).await;
            assert!(
                ready,
                "the modeled cluster did not become ready in 60 simulated seconds"
            );
            let rt = MadsimRuntime::current();
            let mut options = test.workload_options.clone();
            options.with_nemesis = test.nemesis != Fault::None;
            let info = TestInfo {
                nodes,
                concurrency: options.concurrency,
            };
            let client = test.workload.client(transport, rt.rng("workload"));
            let nemesis = SimNemesis::new(cluster, test.nemesis, rt.rng("nemesis"));
            let gen = schedule(test.workload, &options);
            run(
                rt,
                &info,
                &InterpreterOptions::default(),
                client,
                Box::new(nemesis),
                gen,
                &mut |_| {},
            )
            .await
            .expect("the interpreter completes the run")
        })
        .await
        .expect("the control node is never killed")
}
