//! The simulated world of the core's test lifecycle ([`jepsen_core::test_run`]): a
//! [`SimTest`] says what a seed runs, and [`SimWorld`] runs it on the modeled Restate
//! cluster in a madsim simulation, the interpreter on the cluster's control node.
//! Everything random comes from the seed, so a seed replays its history exactly.

use crate::restate::trace;
use crate::restate::{wait_until_ready, BugSet, ClusterOptions, SimCluster, SimEffector};
use crate::runtime::simulate;
use crate::MadsimRuntime;
use jepsen_core::checker::CheckResult;
use jepsen_core::fault::{Fault, FaultEffector, FaultOptions, Schedule};
use jepsen_core::history::History;
use jepsen_core::test_record::TestRecord;
use jepsen_core::test_run::{self, Executed, RunError, RunLog, Sink, TestRun, WorkloadRun, World};
use jepsen_core::workload::transport::Transport;
use jepsen_core::workload::{Workload, WorkloadOptions};
use std::io;
use std::path::Path;
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
    /// A schedule to replay instead of drawing faults (`sim --schedule`).
    pub schedule: Option<Schedule>,
    /// The schedule file, for the record and the replay command.
    pub schedule_file: Option<String>,
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
            schedule: None,
            schedule_file: None,
        }
    }

    /// The node names, `n1` … `nN`, as the cluster names them.
    pub fn node_names(&self) -> Vec<String> {
        (1..=self.nodes).map(|i| format!("n{i}")).collect()
    }

    /// The store's name for this test.
    pub fn name(&self) -> String {
        format!("sim-{}-{}", self.workload, self.nemesis)
    }

    /// The command that replays `seed` alone, with every option that shapes the history.
    pub fn replay_command(&self, seed: u64) -> String {
        let o = &self.workload_options;
        let mut cmd = format!(
            "cargo run --release -- sim --seed {seed} --iterations 1 --workload {} --nemesis {} --nodes {} --time-limit {} --heal-time {} --fault-interval {} --client-timeout {} --rate {} --concurrency {}",
            self.workload,
            self.nemesis,
            self.nodes,
            o.time_limit.as_secs_f64(),
            o.heal_time.as_secs_f64(),
            o.fault_interval.as_secs_f64(),
            self.client_timeout.as_secs_f64(),
            o.rate,
            o.concurrency
        );
        for bug in &self.bugs {
            cmd.push_str(&format!(" --bug {}", bug.name()));
        }
        if let Some(file) = &self.schedule_file {
            cmd.push_str(&format!(" --schedule {file}"));
        }
        cmd
    }

    /// The command that replays this test's fault schedule (`{schedule}`, filled in by the
    /// lifecycle) on the namespace cluster of `cluster up`.
    pub fn real_replay_command(&self, seed: u64) -> String {
        let o = &self.workload_options;
        format!(
            "cargo run --release -- real --nodes-file .cluster/nodes.txt --ssh-private-key .cluster/id_ed25519 --node-dir $PWD/.cluster/restate --workload {} --nemesis {} --schedule {{schedule}} --time-limit {} --heal-time {} --rate {} --concurrency {} --seed {seed}",
            self.workload,
            self.nemesis,
            o.time_limit.as_secs_f64().ceil(),
            o.heal_time.as_secs_f64().ceil().max(10.0),
            o.rate,
            o.concurrency
        )
    }

    /// The core's test for `seed`: its record, workload, fault and schedule.
    pub fn test_run(&self, seed: u64) -> TestRun {
        let o = &self.workload_options;
        TestRun {
            record: TestRecord {
                name: self.name(),
                world: "sim".to_string(),
                seed: Some(seed),
                workloads: vec![self.workload.name().to_string()],
                nemesis: Some(self.nemesis.name().to_string()),
                nodes: self.node_names(),
                bugs: self.bugs.iter().map(|b| b.name().to_string()).collect(),
                concurrency: Some(o.concurrency),
                rate: Some(o.rate),
                time_limit: Some(o.time_limit.as_secs_f64()),
                heal_time: Some(o.heal_time.as_secs_f64()),
                fault_interval: Some(o.fault_interval.as_secs_f64()),
                client_timeout: Some(self.client_timeout.as_secs_f64()),
                checkers: self.workload.checkers(),
                schedule: self.schedule_file.clone(),
                replay: Some(self.replay_command(seed)),
                replay_real: Some(self.real_replay_command(seed)),
                ..TestRecord::default()
            },
            workload: self.workload,
            nemesis: self.nemesis,
            options: self.workload_options.clone(),
            fault_options: FaultOptions::default(),
            schedule: self.schedule.clone(),
            check_time_limit: Some(Duration::from_secs(60)),
        }
    }

    /// Judges `history` with the workload's checkers (restatedev/jepsen's).
    pub fn check(&self, history: &History) -> CheckResult {
        test_run::check(&self.test_run(0), history).expect("the workloads' checkers exist")
    }

    fn cluster_options(&self) -> ClusterOptions {
        ClusterOptions {
            nodes: self.nodes,
            bugs: self.bugs.clone(),
            client_timeout: self.client_timeout,
            ..ClusterOptions::default()
        }
    }
}

/// Runs `workload` on a new modeled cluster in the current simulation, handing each op to
/// `sink`; history times count from when the cluster was ready.
async fn run_on_cluster(options: ClusterOptions, workload: WorkloadRun, mut sink: Sink) -> History {
    let cluster = SimCluster::start(options);
    let nodes = cluster.nodes();
    cluster
        .run_control(move |cluster| async move {
            let transport: Rc<dyn Transport> = Rc::new(cluster.borrow().transport());
            let ready = wait_until_ready(&*transport, &nodes, Duration::from_secs(60)).await;
            assert!(
                ready,
                "the modeled cluster did not become ready in 60 simulated seconds"
            );
            let effector: Rc<dyn FaultEffector> = Rc::new(SimEffector::new(cluster));
            workload
                .run(MadsimRuntime::current(), transport, effector, &mut *sink)
                .await
                .expect("the interpreter completes the run")
        })
        .await
        .expect("the control node is never killed")
}

/// Runs `test` in the current simulation (see [`crate::run_iteration`]) and returns its
/// history (for determinism checks and hunts, which keep nothing).
pub async fn run_test(test: SimTest) -> History {
    let workload = test.test_run(0).workload_run();
    run_on_cluster(test.cluster_options(), workload, Box::new(|_| {})).await
}

/// The simulated world: one seed of a [`SimTest`], simulated on the calling thread (call
/// it on a fresh thread: see [`crate::iteration`]).
pub struct SimWorld {
    pub test: SimTest,
    pub seed: u64,
    /// Whether to record the model trace ([`crate::restate::trace`]) for the store.
    pub trace: bool,
    model_trace: Option<String>,
}

impl SimWorld {
    pub fn new(test: SimTest, seed: u64, trace: bool) -> SimWorld {
        SimWorld {
            test,
            seed,
            trace,
            model_trace: None,
        }
    }
}

impl World for SimWorld {
    fn execute(
        &mut self,
        workload: WorkloadRun,
        sink: Sink,
        log: &RunLog,
        _logs: Option<&Path>,
    ) -> Result<Executed, RunError> {
        let options = self.test.cluster_options();
        let traced = self.trace;
        log.line(&format!("simulating seed {}", self.seed));
        let (history, model_trace) = simulate(self.seed, move |_rt| async move {
            if traced {
                trace::record();
            }
            let history = run_on_cluster(options, workload, sink).await;
            (history, traced.then(trace::take))
        });
        self.model_trace = model_trace;
        Ok(Executed {
            history,
            cleanup_errors: Vec::new(),
        })
    }

    fn keep_extras(&mut self, run_dir: &Path) -> io::Result<()> {
        match &self.model_trace {
            Some(t) => std::fs::write(run_dir.join("model-trace.log"), t),
            None => Ok(()),
        }
    }
}
