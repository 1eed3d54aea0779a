//! One fault, one history shape: the same fault with the same seed performs the same
//! actions, recorded as the same values, in the simulation (the modeled cluster's effector,
//! inside madsim) and on a real cluster (the SSH effector, here over a remote that records
//! the commands it is given instead of running them), and the real effector aims each
//! action at the node the logical name stands for.
//!
//! It lives in the `cli` crate, the only package allowed to depend on both worlds.

use jepsen_core::fault::action::actions_of;
use jepsen_core::fault::{Action, Fault};
use jepsen_core::history::{Op, OpType, Process, Value};
use jepsen_core::runtime::{seeded_rng, Nemesis, Runtime};
use jepsen_real::nemesis::{real_nemesis, DbControl, RealEffector};
use jepsen_real::remote::{shell_quote, BoxFuture, Output, Remote, RemoteError};
use jepsen_sim::restate::{sim_nemesis, ClusterOptions, SimCluster};
use jepsen_sim::{run_iteration, MadsimRuntime};
use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the real effector asked of the nodes: `(address, command)` lines.
#[derive(Default)]
struct Recorded(Mutex<Vec<(String, String)>>);

impl Recorded {
    fn note(&self, node: &str, what: &str) {
        self.0
            .lock()
            .unwrap()
            .push((node.to_string(), what.to_string()));
    }
}

/// A remote whose every command succeeds at once, noted.
struct RecordingRemote(Arc<Recorded>);

impl Remote for RecordingRemote {
    fn run<'a>(
        &'a self,
        node: &'a str,
        command: &'a str,
    ) -> BoxFuture<'a, Result<Output, RemoteError>> {
        self.0.note(node, command);
        Box::pin(async {
            Ok(Output {
                status: Some(0),
                stdout: String::new(),
                stderr: String::new(),
            })
        })
    }
    fn run_sudo<'a>(
        &'a self,
        node: &'a str,
        command: &'a str,
    ) -> BoxFuture<'a, Result<Output, RemoteError>> {
        self.run(node, command)
    }
    fn upload<'a>(
        &'a self,
        _: &'a str,
        _: &'a Path,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async { Ok(()) })
    }
    fn download<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a Path,
    ) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A database whose kills, starts, pauses, resumes and wipes are noted.
struct RecordingDb(Arc<Recorded>);

impl DbControl for RecordingDb {
    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        self.0.note(node, "kill");
        Box::pin(async { Ok(()) })
    }
    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        self.0.note(node, "start");
        Box::pin(async { Ok(()) })
    }
    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        self.0.note(node, "pause");
        Box::pin(async { Ok(()) })
    }
    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        self.0.note(node, "resume");
        Box::pin(async { Ok(()) })
    }
    fn can_wipe_partition_store(&self) -> bool {
        true
    }
    fn wipe_partition_store<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        self.0.note(node, "wipe");
        Box::pin(async { Ok(()) })
    }
}

/// The nemesis ops every run below performs: faults started and stopped, twice, then a
/// start left for the teardown.
const OPS: [&str; 5] = ["start", "stop", "start", "stop", "start"];

fn op(f: &str) -> Op {
    Op::new(OpType::Info, Process::Nemesis, f, Value::Nil)
}

/// The completion values of [`OPS`] in the simulation: a 3-node modeled cluster, the ops
/// a second apart on its control node.
fn simulated(fault: Fault, seed: u64) -> Vec<Value> {
    run_iteration(seed, move |_rt| async move {
        let cluster = SimCluster::start(ClusterOptions::default());
        cluster
            .run_control(move |cluster| async move {
                let rt = MadsimRuntime::current();
                let mut nemesis = sim_nemesis(cluster, fault, rt.rng("nemesis"));
                let mut values = Vec::new();
                for f in OPS {
                    rt.sleep(Duration::from_secs(1)).await;
                    values.push(nemesis.invoke(op(f)).await.unwrap().value);
                }
                nemesis.teardown().await.unwrap();
                values
            })
            .await
            .unwrap()
    })
    .unwrap()
}

/// The completion values of [`OPS`] on a real cluster of `addresses`, and what the
/// effector asked of its nodes.
fn real(fault: Fault, seed: u64, addresses: &[String]) -> (Vec<Value>, Vec<(String, String)>) {
    let recorded = Arc::new(Recorded::default());
    let effector = RealEffector::new(
        Arc::new(RecordingRemote(recorded.clone())),
        Arc::new(RecordingDb(recorded.clone())),
        addresses.to_vec(),
        true,
    );
    let rng = Rc::new(RefCell::new(seeded_rng(seed, "nemesis")));
    let mut nemesis = real_nemesis(fault, &effector, rng);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let values = rt.block_on(async {
        let mut values = Vec::new();
        for f in OPS {
            values.push(nemesis.invoke(op(f)).await.unwrap().value);
        }
        nemesis.teardown().await.unwrap();
        values
    });
    let asked = recorded.0.lock().unwrap().clone();
    (values, asked)
}

#[test]
fn a_fault_leaves_the_same_history_values_in_both_worlds() {
    let addresses: Vec<String> = (1..=3).map(|i| format!("10.9.0.{i}")).collect();
    for fault in Fault::ALL.into_iter().filter(|f| *f != Fault::None) {
        for seed in [1, 2, 3] {
            let sim = simulated(fault, seed);
            let (real, asked) = real(fault, seed, &addresses);
            assert_eq!(sim, real, "{fault} seed {seed}");
            // Every value is a list of actions; a start does something.
            let actions: Vec<Vec<Action>> = sim.iter().map(|v| actions_of(v).unwrap()).collect();
            assert!(!actions[0].is_empty(), "{fault} seed {seed}: {sim:?}");
            // The real effector aimed each node action at that node's address.
            for action in actions.iter().flatten() {
                let Some(node) = action.node() else { continue };
                let index: usize = node[1..].parse().unwrap();
                let address = &addresses[index - 1];
                let verb = match action {
                    Action::WipePartitionStore(_) => "wipe",
                    other => other.name(),
                };
                assert!(
                    asked.iter().any(|(a, what)| a == address && what == verb),
                    "{fault} seed {seed}: {action:?} never reached {address}: {asked:?}"
                );
            }
            // A partition's rules drop traffic from the addresses the grudge names.
            for action in actions.iter().flatten() {
                if let Action::Partition(grudge) = action {
                    for (node, dropped) in grudge.iter().filter(|(_, d)| !d.is_empty()) {
                        let index: usize = node[1..].parse().unwrap();
                        let sources: Vec<&str> = dropped
                            .iter()
                            .map(|d| addresses[d[1..].parse::<usize>().unwrap() - 1].as_str())
                            .collect();
                        let rule = format!(
                            "iptables -A INPUT -s {} -j DROP -w",
                            shell_quote(&sources.join(","))
                        );
                        assert!(
                            asked
                                .iter()
                                .any(|(a, c)| *a == addresses[index - 1] && *c == rule),
                            "{fault} seed {seed}: no `{rule}` on {}: {asked:?}",
                            addresses[index - 1]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn different_seeds_draw_different_victims() {
    let addresses: Vec<String> = (1..=5).map(|i| format!("10.9.1.{i}")).collect();
    let runs: Vec<Vec<Value>> = (0..8)
        .map(|seed| real(Fault::PartitionRandomHalves, seed, &addresses).0)
        .collect();
    let distinct: std::collections::BTreeSet<&Vec<Value>> = runs.iter().collect();
    assert!(distinct.len() > 1, "eight seeds, one grudge: {runs:?}");
}
