//! The core's nemesis with the real effector on a netns cluster (`cluster up --nodes 3`):
//! every partition cuts exactly its grudge (checked by TCP connections between the nodes'
//! namespaces), a second one adds its cut, and `stop` heals them; kill and pause go through
//! the DB layer (a pid-file daemon running `sleep`) on the node the recorded action names;
//! `teardown` and the heal-on-exit guard (on a panic) leave no rule and no stopped process,
//! and an effector healing for exit refuses new faults.

mod common;

use common::{block_on, TestCluster};
use jepsen_core::fault::action::actions_of;
use jepsen_core::fault::{Action, Fault, FaultNemesis, Grudge, InForce, Netem};
use jepsen_core::history::{Op, OpType, Process, Value};
use jepsen_core::runtime::{seeded_rng, Nemesis};
use jepsen_real::daemon::{DaemonSpec, PidFileDaemon};
use jepsen_real::heal_on_exit::HealOnExit;
use jepsen_real::nemesis::{logical_name, real_nemesis, DbControl, RealEffector};
use jepsen_real::remote::{LocalRemote, Remote, SshRemote};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

fn op(f: &str) -> Op {
    Op::new(OpType::Invoke, Process::Nemesis, f, Value::Nil)
}

/// The core's nemesis for `fault` through `effector`, drawing from the seed's nemesis stream.
fn nemesis(fault: Fault, effector: &RealEffector, seed: u64) -> FaultNemesis {
    let rng = Rc::new(RefCell::new(seeded_rng(seed, "nemesis")));
    real_nemesis(fault, effector, rng)
}

/// Invokes `f` and returns the actions its completion recorded.
fn invoke(nemesis: &mut FaultNemesis, f: &str) -> Vec<Action> {
    let done = block_on(nemesis.invoke(op(f))).unwrap();
    assert_eq!(done.kind, OpType::Info);
    actions_of(&done.value).unwrap_or_else(|e| panic!("{e}: {}", done.value))
}

/// The index in the nodes list of the node a logical name (`n<i+1>`) stands for.
fn index(name: &str) -> usize {
    let i: usize = name
        .strip_prefix('n')
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("not a logical name: {name}"));
    i - 1
}

fn dummy_daemon(tc: &TestCluster, remote: Arc<dyn Remote>) -> Arc<PidFileDaemon> {
    let specs: BTreeMap<String, DaemonSpec> = tc
        .nodes()
        .into_iter()
        .enumerate()
        .map(|(i, node)| {
            let dir = tc.node_dir(i).to_string_lossy().into_owned();
            let spec = DaemonSpec {
                command: "sleep 1000".into(),
                pid_file: format!("{dir}/dummy.pid"),
                log_file: format!("{dir}/dummy.log"),
                dir,
            };
            (node, spec)
        })
        .collect();
    Arc::new(PidFileDaemon::new(remote, specs))
}

/// The state letters (`ps` STAT) of every `sleep 1000` (the dummy daemon) on the node.
fn sleep_states(ssh: &SshRemote, node: &str) -> String {
    block_on(ssh.exec(
        node,
        "ps -e -o stat=,args= | awk '$2 == \"sleep\" && $3 == \"1000\" { print $1 }'",
    ))
    .unwrap()
    .stdout
}

fn assert_no_rules(tc: &TestCluster) {
    for i in 0..tc.cluster.nodes.len() {
        assert_eq!(tc.iptables_rules(i), Vec::<String>::new(), "n{}", i + 1);
    }
}

fn assert_all_reach(tc: &TestCluster) {
    let n = tc.cluster.nodes.len();
    for a in 0..n {
        for b in (0..n).filter(|b| *b != a) {
            assert!(tc.reaches(a, b), "n{} cannot reach n{}", a + 1, b + 1);
        }
    }
}

/// Every pair of nodes connects exactly when the grudge (logical names) lets both
/// directions through: a connection needs a's packets to reach b and b's answers to reach a.
fn assert_reach_as_grudge(tc: &TestCluster, grudge: &Grudge, what: &str) {
    let n = tc.cluster.nodes.len();
    let drops = |a: usize, b: usize| {
        grudge
            .get(&logical_name(a))
            .is_some_and(|d| d.contains(&logical_name(b)))
    };
    for a in 0..n {
        for b in (0..n).filter(|b| *b != a) {
            assert_eq!(
                tc.reaches(a, b),
                !drops(b, a) && !drops(a, b),
                "{what}: n{} -> n{} with grudge {grudge:?}",
                a + 1,
                b + 1
            );
        }
    }
}

#[test]
fn faults_are_inflicted_and_healed_on_real_nodes() {
    let tc = TestCluster::up(3, 81);
    let nodes = tc.nodes();
    let ssh = tc.ssh();
    let remote: Arc<dyn Remote> = Arc::new(ssh.clone());
    let db = dummy_daemon(&tc, remote.clone());
    // Not `may_partition`: healing flushes iptables only because the effector noted a cut.
    let effector = RealEffector::new(remote.clone(), db.clone(), nodes.clone(), false);
    let names = effector.names();
    assert_eq!(names, ["n1", "n2", "n3"]);
    assert!(!effector.anything_in_force());
    assert_all_reach(&tc);

    // Partitions: the nodes hear exactly what the grudge allows, until `stop`.
    for (seed, fault) in [
        Fault::PartitionRandomNode,
        Fault::PartitionRandomHalves,
        Fault::PartitionMajoritiesRing,
        Fault::PartitionBridge,
        Fault::PartitionOneWay,
    ]
    .into_iter()
    .enumerate()
    {
        let seed = seed as u64 + 7;
        let grudge = fault
            .grudge(&names, &mut seeded_rng(seed, "nemesis"))
            .unwrap();
        let mut nemesis = nemesis(fault, &effector, seed);
        assert_eq!(nemesis.fs(), vec!["start", "stop"]);
        let started = invoke(&mut nemesis, "start");
        assert_eq!(started, vec![Action::Partition(grudge.clone())], "{fault}");
        if fault == Fault::PartitionRandomNode {
            let loners: Vec<&String> = grudge
                .iter()
                .filter(|(_, d)| d.len() == 2)
                .map(|(n, _)| n)
                .collect();
            assert_eq!(loners.len(), 1, "{grudge:?}");
        }
        assert!(effector.anything_in_force());
        assert_reach_as_grudge(&tc, &grudge, fault.name());

        // A second start while one is in force adds its cut to the first.
        let again = invoke(&mut nemesis, "start");
        let [Action::Partition(second)] = again.as_slice() else {
            panic!("{fault}: {again:?}")
        };
        let mut in_force = InForce::default();
        in_force.apply(&started[0]);
        in_force.apply(&again[0]);
        assert!(in_force.grudge.len() >= grudge.len());
        assert_reach_as_grudge(
            &tc,
            &in_force.grudge,
            &format!("{fault} twice, then {second:?}"),
        );

        let stopped = invoke(&mut nemesis, "stop");
        assert_eq!(stopped, vec![Action::HealNetwork]);
        assert!(!effector.anything_in_force());
        assert_no_rules(&tc);
        assert_all_reach(&tc);
        let idle = block_on(nemesis.invoke(op("stop"))).unwrap();
        assert_eq!(idle.value, Value::Vec(Vec::new()));
    }

    // Kill and pause through the DB layer, on a dummy `sleep 1000` per node.
    for node in &nodes {
        block_on(db.start(node)).unwrap();
    }
    let pids: Vec<u32> = nodes
        .iter()
        .map(|n| block_on(db.pid(n)).unwrap().expect("started"))
        .collect();
    let mut kill = nemesis(Fault::KillRandomNode, &effector, 1);
    let done = block_on(kill.invoke(op("start"))).unwrap();
    let started = actions_of(&done.value).unwrap();
    let [Action::Kill(victim)] = started.as_slice() else {
        panic!("{}", done.value)
    };
    let victim = victim.clone();
    assert_eq!(done.value.to_string(), format!("[{{:kill \"{victim}\"}}]"));
    let vi = index(&victim);
    for (i, node) in nodes.iter().enumerate() {
        let pid = block_on(db.pid(node)).unwrap();
        if i == vi {
            assert_eq!(pid, None, "{victim} ({node}) was killed");
            assert_eq!(sleep_states(&ssh, node).trim(), "", "no zombie on {node}");
        } else {
            assert_eq!(pid, Some(pids[i]), "{node} untouched");
        }
    }
    // A second kill while one is in force hits a node still running.
    let again = invoke(&mut kill, "start");
    let [Action::Kill(second)] = again.as_slice() else {
        panic!("{again:?}")
    };
    let second = second.clone();
    assert_ne!(second, victim, "the victim is drawn among running nodes");
    for (i, node) in nodes.iter().enumerate() {
        let pid = block_on(db.pid(node)).unwrap();
        if i == vi || i == index(&second) {
            assert_eq!(pid, None, "{node} was killed");
        } else {
            assert_eq!(pid, Some(pids[i]), "{node} untouched");
        }
    }
    let mut killed = [victim.clone(), second.clone()];
    killed.sort();
    let restarted = invoke(&mut kill, "stop");
    assert_eq!(restarted, killed.clone().map(Action::Start).to_vec());
    for name in &killed {
        assert!(block_on(db.pid(&nodes[index(name)])).unwrap().is_some());
    }
    assert!(!effector.anything_in_force());

    let mut pause = nemesis(Fault::PauseRandomNode, &effector, 2);
    let started = invoke(&mut pause, "start");
    let [Action::Pause(paused)] = started.as_slice() else {
        panic!("{started:?}")
    };
    let paused = paused.clone();
    let paused_at = &nodes[index(&paused)];
    assert!(sleep_states(&ssh, paused_at).starts_with('T'), "SIGSTOPped");
    for node in nodes.iter().filter(|n| *n != paused_at) {
        assert!(sleep_states(&ssh, node).starts_with('S'), "{node} runs");
    }
    assert_eq!(invoke(&mut pause, "stop"), vec![Action::Resume(paused)]);
    assert!(
        sleep_states(&ssh, paused_at).starts_with('S'),
        "running again"
    );

    // Teardown heals whatever is in force: a pause, then a kill.
    assert_eq!(invoke(&mut pause, "start").len(), 1);
    block_on(pause.teardown()).unwrap();
    assert_eq!(invoke(&mut kill, "start").len(), 1);
    block_on(kill.teardown()).unwrap();
    assert!(!effector.anything_in_force());
    for node in &nodes {
        assert!(block_on(db.pid(node)).unwrap().is_some(), "{node} runs");
        let states = sleep_states(&ssh, node);
        assert!(!states.contains('T'), "{node}: {states}");
    }
    let mut ring = nemesis(Fault::PartitionMajoritiesRing, &effector, 3);
    invoke(&mut ring, "start");
    assert!(!tc.iptables_rules(0).is_empty());
    block_on(ring.teardown()).unwrap();
    assert_no_rules(&tc);

    // The guard heals on a panic: a partition and a pause in force when it unwinds.
    let mut halves = nemesis(Fault::PartitionRandomHalves, &effector, 4);
    invoke(&mut halves, "start");
    let [Action::Pause(_)] = invoke(&mut pause, "start").as_slice() else {
        panic!("a pause")
    };
    assert!((0..3).any(|i| !tc.iptables_rules(i).is_empty()));
    assert!(nodes.iter().any(|n| sleep_states(&ssh, n).contains('T')));
    let healer = effector.clone();
    let panicked = std::thread::spawn(move || {
        let _guard = HealOnExit::new(Arc::new(move || healer.heal_for_exit())).unwrap();
        panic!("the test run fails midway");
    })
    .join();
    assert!(panicked.is_err());
    assert!(!effector.anything_in_force());
    assert_no_rules(&tc);
    assert_all_reach(&tc);
    for node in &nodes {
        let states = sleep_states(&ssh, node);
        assert!(!states.contains('T'), "{node}: {states}");
    }
    // And an effector whose healing for exit began inflicts no new fault.
    let closing = block_on(halves.invoke(op("start"))).unwrap_err();
    assert!(
        closing.message.contains("the run is closing"),
        "{}",
        closing.message
    );
    assert_no_rules(&tc);
    let pids: Vec<Option<u32>> = nodes.iter().map(|n| block_on(db.pid(n)).unwrap()).collect();
    assert!(pids.iter().all(Option::is_some), "{pids:?}");
    let closing = block_on(kill.invoke(op("start"))).unwrap_err();
    assert!(
        closing.message.contains("the run is closing"),
        "{}",
        closing.message
    );
    let after: Vec<Option<u32>> = nodes.iter().map(|n| block_on(db.pid(n)).unwrap()).collect();
    assert_eq!(after, pids, "nothing killed");

    for node in &nodes {
        block_on(db.kill(node)).unwrap();
        assert_eq!(sleep_states(&ssh, node).trim(), "");
    }
}

#[test]
fn faults_this_world_cannot_inflict_are_refused() {
    let remote: Arc<dyn Remote> = Arc::new(LocalRemote::new());
    assert!(remote.is_local());
    let db: Arc<dyn DbControl> = Arc::new(PidFileDaemon::new(remote.clone(), BTreeMap::new()));
    let one = RealEffector::new(remote.clone(), db.clone(), vec!["127.0.0.1".into()], false);
    // Over --no-ssh shaping would slow this machine's own network; a pid-file daemon does
    // not know where a partition store is.
    for fault in [
        Fault::PacketLoss,
        Fault::LatencySpike,
        Fault::NukePartitionState,
    ] {
        let err = one.refuse_fault(fault).expect_err("refused");
        assert!(err.contains(fault.name()), "{err}");
        if fault != Fault::NukePartitionState {
            assert!(err.contains("--no-ssh"), "{err}");
        }
    }
    assert!(one
        .refusal(&Action::Shape(Netem::Delay(Duration::from_millis(1))))
        .is_some());
    assert!(one
        .refusal(&Action::WipePartitionStore("n1".into()))
        .is_some());
    // Over --no-ssh a partition would cut this machine's own network: refused.
    let two = RealEffector::new(
        remote.clone(),
        db.clone(),
        vec!["127.0.0.1".into(), "127.0.0.2".into()],
        false,
    );
    for fault in Fault::ALL.into_iter().filter(|f| f.is_partition()) {
        let err = two.refuse_fault(fault).expect_err("refused");
        assert!(
            err.contains("--no-ssh") && err.contains(fault.name()),
            "{err}"
        );
    }
    // Kills and pauses go through the database: fine without SSH.
    for fault in [Fault::KillRandomNode, Fault::PauseRandomNode, Fault::None] {
        assert_eq!(two.refuse_fault(fault), Ok(()), "{fault}");
    }
    assert_eq!(two.refusal(&Action::Kill("n2".into())), None);
    let none = nemesis(Fault::None, &one, 0);
    assert!(none.fs().is_empty());
}

#[test]
fn shaping_faults_use_netem_or_say_clearly_that_the_kernel_lacks_it() {
    let tc = TestCluster::up(1, 84);
    let nodes = tc.nodes();
    let ssh = tc.ssh();
    let remote: Arc<dyn Remote> = Arc::new(ssh.clone());
    let db = dummy_daemon(&tc, remote.clone());
    let effector = RealEffector::new(remote.clone(), db.clone(), nodes.clone(), false);
    assert_eq!(effector.refuse_fault(Fault::PacketLoss), Ok(()));
    let probe = "tc qdisc add dev lo root netem delay 0ms && tc qdisc del dev lo root";
    let kernel_has_netem = block_on(ssh.run(&nodes[0], probe)).unwrap().success();
    eprintln!("kernel has netem: {kernel_has_netem}");
    for (fault, netem, shown) in [
        (Fault::PacketLoss, Netem::Loss(0.2), "loss 20%"),
        (
            Fault::LatencySpike,
            Netem::Delay(Duration::from_millis(500)),
            "delay 500",
        ),
    ] {
        let mut nemesis = nemesis(fault, &effector, 0);
        let setup = block_on(nemesis.setup());
        if kernel_has_netem {
            setup.unwrap();
            assert_eq!(invoke(&mut nemesis, "start"), vec![Action::Shape(netem)]);
            assert!(effector.anything_in_force());
            let qdisc = block_on(ssh.exec(&nodes[0], "tc qdisc show"))
                .unwrap()
                .stdout;
            assert!(qdisc.contains("netem") && qdisc.contains(shown), "{qdisc}");
            assert_eq!(invoke(&mut nemesis, "stop"), vec![Action::Unshape]);
            assert!(!effector.anything_in_force());
            let qdisc = block_on(ssh.exec(&nodes[0], "tc qdisc show"))
                .unwrap()
                .stdout;
            assert!(!qdisc.contains("netem"), "{qdisc}");
        } else {
            let err = setup.expect_err("no netem: setup must refuse");
            assert!(
                err.message.contains("needs tc netem") && err.message.contains(&nodes[0]),
                "{}",
                err.message
            );
        }
    }
}
