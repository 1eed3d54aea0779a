//! The simulated world of the core's test lifecycle ([`jepsen_core::test_run`]): a
//! [`SimTest`] says what a seed runs, and [`SimWorld`] runs it on the modeled Restate
//! cluster in a madsim simulation, the interpreter on the cluster's control node.
//! Everything random comes from the seed, so a seed replays its history exactly.

use crate::network::NetworkConfig;
use crate::restate::trace;
use crate::restate::{
    wait_until_ready, BugSet, ClusterOptions, SimCluster, SimEffector, CONTROL_NODE,
};
use crate::runtime::simulate;
use crate::MadsimRuntime;
use jepsen_core::checker::registry::CheckerChoice;
use jepsen_core::checker::CheckResult;
use jepsen_core::fault::{faults_name, Fault, FaultEffector, FaultOptions, FaultTiming, Schedule};
use jepsen_core::history::{History, Value};
use jepsen_core::test_record::TestRecord;
use jepsen_core::test_run::{
    self, Executed, Keep, RunError, RunLog, RunOutcome, Sink, TestRun, WorkloadRun, World,
};
use jepsen_core::workload::transport::Transport;
use jepsen_core::workload::{Workload, WorkloadMix, WorkloadOptions};
use std::io;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

/// What one simulated test runs.
#[derive(Clone, Debug, PartialEq)]
pub struct SimTest {
    /// Whether the seed drew this configuration ([`crate::swarm`]).
    pub swarm: bool,
    /// Whether the stats checker is part of the verdict.
    pub stats: bool,
    pub workloads: WorkloadMix,
    /// The faults the nemesis inflicts (none: no nemesis).
    pub faults: Vec<Fault>,
    /// `None`: restatedev/jepsen's cycle; else fault episodes.
    pub fault_timing: Option<FaultTiming>,
    pub bugs: BugSet,
    pub nodes: usize,
    /// Log servers that store each record.
    pub replication: usize,
    /// The network's steady state.
    pub network: NetworkConfig,
    /// How hard packet-loss and latency-spike hit.
    pub fault_options: FaultOptions,
    pub workload_options: WorkloadOptions,
    /// How long a client waits for a response before its op ends `:info`.
    pub client_timeout: Duration,
    /// A schedule to replay instead of drawing faults (`sim --schedule`).
    pub schedule: Option<Schedule>,
    /// The schedule file, for the record and the replay command.
    pub schedule_file: Option<String>,
    /// The flags the user gave (they replay a swarm seed with its seed alone).
    pub given_flags: Vec<String>,
}

/// Seconds as a flag's value: whole numbers without a fraction, whole milliseconds
/// without float noise (1.715, not 1.7149999999999999).
fn secs(d: Duration) -> String {
    if d.subsec_nanos().is_multiple_of(1_000_000) {
        (d.as_millis() as f64 / 1000.0).to_string()
    } else {
        d.as_secs_f64().to_string()
    }
}

impl SimTest {
    /// The fixed test's defaults (3 nodes, replication 2, 5 clients at 50 ops/s for 4
    /// simulated seconds with a fault every second, then 5 s after the heal; 1 s client
    /// timeout; 20 ops per register key), with this workload, fault and bugs.
    pub fn defaults(workload: Workload, nemesis: Fault, bugs: BugSet) -> SimTest {
        let nodes = 3;
        let concurrency = 5;
        SimTest {
            swarm: false,
            stats: true,
            workloads: WorkloadMix::single(workload, concurrency),
            faults: if nemesis == Fault::None {
                Vec::new()
            } else {
                vec![nemesis]
            },
            fault_timing: None,
            bugs,
            nodes,
            replication: 2,
            network: NetworkConfig::default(),
            fault_options: FaultOptions::default(),
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
            given_flags: Vec::new(),
        }
    }

    /// The node names, `n1` … `nN`, as the cluster names them.
    pub fn node_names(&self) -> Vec<String> {
        (1..=self.nodes).map(|i| format!("n{i}")).collect()
    }

    /// The nemesis's faults, comma-separated (`none`).
    pub fn nemesis_name(&self) -> String {
        faults_name(&self.faults)
    }

    /// The store's name for this test: `sim-swarm` for a drawn configuration.
    pub fn name(&self) -> String {
        if self.swarm {
            "sim-swarm".to_string()
        } else {
            format!(
                "sim-{}-{}",
                self.workloads,
                self.nemesis_name().replace(',', "+")
            )
        }
    }

    /// Every flag that shapes the history, with its value: the configuration, pinned.
    pub fn config_flags(&self) -> Vec<String> {
        let o = &self.workload_options;
        let mut flags: Vec<String> = vec![
            "--workload".into(),
            self.workloads
                .workloads()
                .iter()
                .map(|w| w.name())
                .collect::<Vec<_>>()
                .join(","),
            "--nemesis".into(),
            self.nemesis_name(),
            "--nodes".into(),
            self.nodes.to_string(),
        ];
        let mut put = |flag: &str, value: String| {
            flags.push(flag.to_string());
            flags.push(value);
        };
        if self.replication != 2 {
            put("--replication", self.replication.to_string());
        }
        put("--time-limit", secs(o.time_limit));
        put("--heal-time", secs(o.heal_time));
        match &self.fault_timing {
            None => put("--fault-interval", secs(o.fault_interval)),
            Some(t) => {
                put("--fault-duration", secs(t.duration));
                put("--fault-gap", secs(t.gap));
            }
        }
        put("--client-timeout", secs(self.client_timeout));
        put("--rate", o.rate.to_string());
        put("--concurrency", o.concurrency.to_string());
        if o.ops_per_key != 20 {
            put("--ops-per-key", o.ops_per_key.to_string());
        }
        if let Some(n) = o.op_limit {
            put("--op-limit", n.to_string());
        }
        if let Some(n) = o.heal_op_limit {
            put("--heal-op-limit", n.to_string());
        }
        let latency = self.network.latency.end.as_millis() as u64;
        if latency != 10 {
            put("--latency", latency.to_string());
        }
        if self.network.packet_loss != 0.0 {
            put("--loss", self.network.packet_loss.to_string());
        }
        let f = &self.fault_options;
        if f.packet_loss != FaultOptions::default().packet_loss {
            put("--fault-loss", f.packet_loss.to_string());
        }
        if f.latency_spike != FaultOptions::default().latency_spike {
            put("--fault-latency", f.latency_spike.as_millis().to_string());
        }
        for bug in &self.bugs {
            put("--bug", bug.name().to_string());
        }
        if let Some(file) = &self.schedule_file {
            put("--schedule", file.clone());
        }
        if !self.stats {
            flags.push("--no-stats".to_string());
        }
        flags
    }

    /// The command that replays `seed` alone: for a swarm seed, the seed and the flags
    /// the user gave (the seed draws the rest); for a fixed test, every option that
    /// shapes the history.
    pub fn replay_command(&self, seed: u64) -> String {
        let flags = if self.swarm {
            self.given_flags.clone()
        } else {
            self.config_flags()
        };
        let mut cmd = format!("cargo run --release -- sim --seed {seed} --iterations 1");
        for flag in flags {
            cmd.push(' ');
            cmd.push_str(&flag);
        }
        cmd
    }

    /// The configuration as one line of flags (printed with each swarm failure).
    pub fn config_line(&self) -> String {
        self.config_flags().join(" ")
    }

    /// The command that replays this test's fault schedule (`{schedule}`, filled in by the
    /// lifecycle) on the namespace cluster of `cluster up`.
    pub fn real_replay_command(&self, seed: u64) -> String {
        let o = &self.workload_options;
        format!(
            "cargo run --release -- real --nodes-file .cluster/nodes.txt --ssh-private-key .cluster/id_ed25519 --node-dir $PWD/.cluster/restate --workload {} --nemesis {} --schedule {{schedule}} --time-limit {} --heal-time {} --rate {} --concurrency {} --seed {seed}",
            self.workloads.workloads().iter().map(|w| w.name()).collect::<Vec<_>>().join(","),
            self.nemesis_name(),
            o.time_limit.as_secs_f64().ceil(),
            o.heal_time.as_secs_f64().ceil().max(10.0),
            o.rate,
            o.concurrency
        )
    }

    /// The core's test for `seed`: its record, workload, fault and schedule.
    pub fn test_run(&self, seed: u64) -> TestRun {
        let o = &self.workload_options;
        let mut extra = vec![
            ("swarm".to_string(), Value::Bool(self.swarm)),
            (
                "replication".to_string(),
                Value::Int(self.replication as i64),
            ),
            (
                "latency-ms".to_string(),
                Value::Int(self.network.latency.end.as_millis() as i64),
            ),
            ("loss".to_string(), Value::Float(self.network.packet_loss)),
            (
                "fault-loss".to_string(),
                Value::Float(self.fault_options.packet_loss),
            ),
            (
                "fault-latency-ms".to_string(),
                Value::Int(self.fault_options.latency_spike.as_millis() as i64),
            ),
            ("configuration".to_string(), Value::Str(self.config_line())),
        ];
        if !self.swarm {
            extra.retain(|(k, _)| k != "swarm");
        }
        TestRun {
            record: TestRecord {
                name: self.name(),
                world: "sim".to_string(),
                seed: Some(seed),
                workloads: self
                    .workloads
                    .workloads()
                    .iter()
                    .map(|w| w.name().to_string())
                    .collect(),
                nemesis: Some(self.nemesis_name()),
                nodes: self.node_names(),
                bugs: self.bugs.iter().map(|b| b.name().to_string()).collect(),
                concurrency: Some(o.concurrency),
                rate: Some(o.rate),
                time_limit: Some(o.time_limit.as_secs_f64()),
                heal_time: Some(o.heal_time.as_secs_f64()),
                fault_interval: Some(o.fault_interval.as_secs_f64()),
                fault_duration: self.fault_timing.map(|t| t.duration.as_secs_f64()),
                fault_gap: self.fault_timing.map(|t| t.gap.as_secs_f64()),
                client_timeout: Some(self.client_timeout.as_secs_f64()),
                checkers: self.checkers(),
                schedule: self.schedule_file.clone(),
                replay: Some(self.replay_command(seed)),
                replay_real: Some(self.real_replay_command(seed)),
                extra,
                ..TestRecord::default()
            },
            workloads: self.workloads.clone(),
            faults: self.faults.clone(),
            fault_timing: self.fault_timing,
            options: self.workload_options.clone(),
            fault_options: self.fault_options.clone(),
            schedule: self.schedule.clone(),
            check_time_limit: Some(Duration::from_secs(60)),
        }
    }

    /// The workloads' checkers, without stats unless it counts.
    fn checkers(&self) -> CheckerChoice {
        let mut choice = self.workloads.checkers();
        if !self.stats {
            choice.checkers.retain(|c| c != "stats");
        }
        choice
    }

    /// Runs `seed` through the core's lifecycle in the simulated world, kept in the store
    /// under `store` as `keep` says (a run kept from the start also keeps its model
    /// trace). Call it on a fresh thread (see [`crate::iteration`]).
    pub fn run_in_store(
        &self,
        seed: u64,
        keep: Keep,
        store: &Path,
    ) -> Result<RunOutcome, RunError> {
        let mut world = SimWorld::new(self.clone(), seed, keep == Keep::Always);
        test_run::run_test(
            &self.test_run(seed),
            &mut world,
            keep,
            store,
            Box::new(|_| {}),
        )
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
            replication: self.replication,
            network: self.network.clone(),
            faults: self.fault_options.clone(),
            ..ClusterOptions::default()
        }
    }
}

/// Runs `workload` on a new modeled cluster in the current simulation, handing each op to
/// `sink`; history times count from when the cluster was ready.
async fn run_on_cluster(options: ClusterOptions, workload: WorkloadRun, mut sink: Sink) -> History {
    let cluster = SimCluster::start(options);
    let nodes = cluster.nodes();
    let history = cluster
        .run_control(move |cluster| async move {
            let transport: Rc<dyn Transport> = Rc::new(cluster.borrow().transport());
            let ready = wait_until_ready(&*transport, &nodes, Duration::from_secs(60)).await;
            assert!(
                ready,
                "the modeled cluster did not become ready in 60 simulated seconds"
            );
            let effector: Rc<dyn FaultEffector> = Rc::new(SimEffector::new(cluster.clone()));
            let history = workload
                .run(MadsimRuntime::current(), transport, effector, &mut *sink)
                .await
                .expect("the interpreter completes the run");
            cluster.borrow_mut().shut_down();
            history
        })
        .await
        .expect("the control node is never killed");
    // madsim never drops the tasks still alive when a simulation ends (nor what they
    // hold: every node's state, about 1 MB a run); killed nodes' tasks are dropped the
    // next time the executor runs.
    madsim::runtime::Handle::current().kill(CONTROL_NODE);
    madsim::time::sleep(Duration::from_millis(1)).await;
    history
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
