//! The heal-on-exit guard on a signal: a child process (this test binary, running the
//! ignored `child_partitions_and_waits`) partitions a netns cluster through the core's
//! nemesis and the real effector, holds a `HealOnExit` and waits; the parent checks that the
//! rules are where the recorded partition says, sends SIGTERM, and the child must heal
//! before it exits with 143 (128 + SIGTERM): no iptables rule is left on any node.

mod common;

use common::TestCluster;
use jepsen_core::fault::action::actions_of;
use jepsen_core::fault::{Action, Fault};
use jepsen_core::history::{parse_edn_values, Op, OpType, Process, Value};
use jepsen_core::runtime::{seeded_rng, Nemesis};
use jepsen_real::heal_on_exit::HealOnExit;
use jepsen_real::nemesis::{logical_name, real_nemesis, DbControl, RealEffector};
use jepsen_real::remote::{BoxFuture, Remote, RemoteError, SshAuth, SshConfig, SshRemote};
use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NODES: &str = "HEAL_CHILD_NODES";
const KEY: &str = "HEAL_CHILD_KEY";

/// Partitions need no database.
struct NoDb;

impl DbControl for NoDb {
    fn kill<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async { Ok(()) })
    }
    fn start<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async { Ok(()) })
    }
    fn pause<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async { Ok(()) })
    }
    fn resume<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async { Ok(()) })
    }
}

/// The child: only does something when the parent runs it with the cluster in its env.
#[test]
#[ignore = "run by sigterm_heals_before_the_process_exits as a child process"]
fn child_partitions_and_waits() {
    let (Ok(nodes), Ok(key)) = (std::env::var(NODES), std::env::var(KEY)) else {
        return;
    };
    let nodes: Vec<String> = nodes.split(',').map(String::from).collect();
    let remote: Arc<dyn Remote> =
        Arc::new(SshRemote::new(SshConfig::new("root", SshAuth::Key(key.into()))).unwrap());
    // Not `may_partition`: the exit heals the cut because the effector noted it.
    let effector = RealEffector::new(remote, Arc::new(NoDb), nodes, false);
    let rng = Rc::new(RefCell::new(seeded_rng(5, "nemesis")));
    let mut nemesis = real_nemesis(Fault::PartitionRandomHalves, &effector, rng);
    let healer = effector.clone();
    let _guard = HealOnExit::new(Arc::new(move || healer.heal_for_exit())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let start = Op::new(OpType::Invoke, Process::Nemesis, "start", Value::Nil);
        let done = nemesis.invoke(start).await.unwrap();
        println!("PARTITIONED {}", done.value);
        tokio::time::sleep(Duration::from_secs(120)).await;
    });
    panic!("the parent should have sent SIGTERM long ago");
}

#[test]
fn sigterm_heals_before_the_process_exits() {
    let tc = TestCluster::up(3, 82);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_partitions_and_waits",
            "--ignored",
            "--nocapture",
        ])
        .env(NODES, tc.nodes().join(","))
        .env(KEY, &tc.cluster.private_key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed (and so healed by nobody) if this test fails before sending SIGTERM.
    struct KillOnDrop(u32);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
    let _kill = KillOnDrop(child.id());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let partitioned = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split_once("PARTITIONED ").map(|(_, v)| v.to_string()))
        .expect("the child never partitioned the cluster");
    // The child recorded one partition; the nodes with rules are those its grudge cuts off
    // someone (the nodes are n1 .. n3 in the order of the nodes list).
    let (value, _) = parse_edn_values(&partitioned).unwrap().remove(0);
    let actions = actions_of(&value).unwrap();
    let [Action::Partition(grudge)] = actions.as_slice() else {
        panic!("{partitioned}")
    };
    let with_rules: Vec<String> = (0..3)
        .filter(|i| !tc.iptables_rules(*i).is_empty())
        .map(logical_name)
        .collect();
    let cut: Vec<String> = grudge
        .iter()
        .filter(|(_, d)| !d.is_empty())
        .map(|(n, _)| n.clone())
        .collect();
    assert_eq!(with_rules, cut, "{partitioned}");
    assert_eq!(
        with_rules.len(),
        3,
        "random halves cut every node off someone"
    );

    let signalled = Instant::now();
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("healing"), "{stderr}");
    eprintln!(
        "SIGTERM to exit, with every node healed: {:.0} ms",
        signalled.elapsed().as_secs_f64() * 1e3
    );
    for i in 0..3 {
        assert_eq!(tc.iptables_rules(i), Vec::<String>::new(), "n{}", i + 1);
    }
}
