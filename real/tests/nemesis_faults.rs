//! The real nemesis on a netns cluster (`cluster up --nodes 3`): every partition cuts
//! exactly its grudge (checked by TCP connections between the nodes' namespaces) and `stop`
//! heals it; kill and pause go through the DB layer (a pid-file daemon running `sleep`);
//! `teardown` and the heal-on-exit guard (on a panic) leave no rule and no stopped process.

mod common;

use common::{block_on, TestCluster};
use jepsen_core::fault::Fault;
use jepsen_core::history::{Op, OpType, Process, Value};
use jepsen_core::runtime::Nemesis;
use jepsen_real::daemon::{DaemonSpec, PidFileDaemon};
use jepsen_real::heal_on_exit::HealOnExit;
use jepsen_real::nemesis::{DbControl, RealNemesis};
use jepsen_real::remote::{Remote, SshRemote};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::Arc;

fn op(f: &str) -> Op {
    Op::new(OpType::Invoke, Process::Nemesis, f, Value::Nil)
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

#[test]
fn faults_are_inflicted_and_healed_on_real_nodes() {
    let tc = TestCluster::up(3, 81);
    let nodes = tc.nodes();
    let ssh = tc.ssh();
    let remote: Arc<dyn Remote> = Arc::new(ssh.clone());
    let db = dummy_daemon(&tc, remote.clone());
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
            .grudge(&nodes, &mut ChaCha8Rng::seed_from_u64(seed))
            .unwrap();
        let mut nemesis = RealNemesis::new(
            fault,
            nodes.clone(),
            remote.clone(),
            db.clone(),
            ChaCha8Rng::seed_from_u64(seed),
        )
        .unwrap();
        assert_eq!(nemesis.fs(), vec!["start", "stop"]);
        let started = block_on(nemesis.invoke(op("start"))).unwrap();
        assert_eq!(started.kind, OpType::Info);
        let value = started.value.clone();
        if fault == Fault::PartitionRandomNode {
            let loner = grudge
                .iter()
                .find(|(_, d)| d.len() == 2)
                .map(|(n, _)| n.clone())
                .unwrap();
            assert_eq!(
                value.get("isolated"),
                Some(&Value::Vec(vec![Value::Str(loner)])),
                "{value:?}"
            );
        }
        assert!(value.get("grudge").is_some(), "{value:?}");
        let drops =
            |a: usize, b: usize| grudge.get(&nodes[a]).is_some_and(|d| d.contains(&nodes[b]));
        for a in 0..3 {
            for b in (0..3).filter(|b| *b != a) {
                // A connection needs a's packets to reach b and b's answers to reach a.
                let expected = !drops(b, a) && !drops(a, b);
                assert_eq!(
                    tc.reaches(a, b),
                    expected,
                    "{fault}: n{} -> n{} with grudge {grudge:?}",
                    a + 1,
                    b + 1
                );
            }
        }
        // A second start while one is in force changes nothing.
        let again = block_on(nemesis.invoke(op("start"))).unwrap();
        assert_eq!(again.value, Value::keyword("already-started"));
        let stopped = block_on(nemesis.invoke(op("stop"))).unwrap();
        assert_eq!(stopped.value, Value::keyword("network-healed"));
        assert_no_rules(&tc);
        assert_all_reach(&tc);
        let idle = block_on(nemesis.invoke(op("stop"))).unwrap();
        assert_eq!(idle.value, Value::keyword("not-started"));
    }

    // Kill and pause through the DB layer, on a dummy `sleep 1000` per node.
    for node in &nodes {
        block_on(db.start(node)).unwrap();
    }
    let pids: Vec<u32> = nodes
        .iter()
        .map(|n| block_on(db.pid(n)).unwrap().expect("started"))
        .collect();
    let mut kill = RealNemesis::new(
        Fault::KillRandomNode,
        nodes.clone(),
        remote.clone(),
        db.clone(),
        ChaCha8Rng::seed_from_u64(1),
    )
    .unwrap();
    let killed = block_on(kill.invoke(op("start"))).unwrap().value;
    let victim = match killed.get("killed") {
        Some(Value::Vec(v)) if v.len() == 1 => v[0].as_name().unwrap().to_string(),
        other => panic!("{other:?}"),
    };
    let vi = nodes.iter().position(|n| *n == victim).unwrap();
    for (i, node) in nodes.iter().enumerate() {
        let pid = block_on(db.pid(node)).unwrap();
        if i == vi {
            assert_eq!(pid, None, "{node} was killed");
            assert_eq!(sleep_states(&ssh, node).trim(), "", "no zombie on {node}");
        } else {
            assert_eq!(pid, Some(pids[i]), "{node} untouched");
        }
    }
    let restarted = block_on(kill.invoke(op("stop"))).unwrap().value;
    assert_eq!(
        restarted.get("started"),
        Some(&Value::Vec(vec![Value::Str(victim.clone())]))
    );
    assert!(block_on(db.pid(&victim)).unwrap().is_some());

    let mut pause = RealNemesis::new(
        Fault::PauseRandomNode,
        nodes.clone(),
        remote.clone(),
        db.clone(),
        ChaCha8Rng::seed_from_u64(2),
    )
    .unwrap();
    let paused = block_on(pause.invoke(op("start"))).unwrap().value;
    let Some(Value::Vec(paused)) = paused.get("paused") else {
        panic!("{paused:?}")
    };
    let paused = paused[0].as_name().unwrap().to_string();
    assert!(sleep_states(&ssh, &paused).starts_with('T'), "SIGSTOPped");
    let resumed = block_on(pause.invoke(op("stop"))).unwrap().value;
    assert!(resumed.get("resumed").is_some());
    assert!(
        sleep_states(&ssh, &paused).starts_with('S'),
        "running again"
    );

    // Teardown heals whatever is in force: a pause, then a kill.
    block_on(pause.invoke(op("start"))).unwrap();
    block_on(pause.teardown()).unwrap();
    block_on(kill.invoke(op("start"))).unwrap();
    block_on(kill.teardown()).unwrap();
    for node in &nodes {
        assert!(block_on(db.pid(node)).unwrap().is_some(), "{node} runs");
        let states = sleep_states(&ssh, node);
        assert!(!states.contains('T'), "{node}: {states}");
    }
    let mut ring = RealNemesis::new(
        Fault::PartitionMajoritiesRing,
        nodes.clone(),
        remote.clone(),
        db.clone(),
        ChaCha8Rng::seed_from_u64(3),
    )
    .unwrap();
    block_on(ring.invoke(op("start"))).unwrap();
    assert!(!tc.iptables_rules(0).is_empty());
    block_on(ring.teardown()).unwrap();
    assert_no_rules(&tc);

    // The guard heals on a panic: a partition and a pause in force when it unwinds.
    let mut halves = RealNemesis::new(
        Fault::PartitionRandomHalves,
        nodes.clone(),
        remote.clone(),
        db.clone(),
        ChaCha8Rng::seed_from_u64(4),
    )
    .unwrap();
    block_on(halves.invoke(op("start"))).unwrap();
    let healers = [halves.healer(), pause.healer()];
    block_on(pause.invoke(op("start"))).unwrap();
    assert!((0..3).any(|i| !tc.iptables_rules(i).is_empty()));
    let panicked = std::thread::spawn(move || {
        let _guard = HealOnExit::new(Arc::new(move || {
            healers.iter().try_for_each(|h| h.heal_for_exit())
        }))
        .unwrap();
        panic!("the test run fails midway");
    })
    .join();
    assert!(panicked.is_err());
    assert_no_rules(&tc);
    assert_all_reach(&tc);
    for node in &nodes {
        let states = sleep_states(&ssh, node);
        assert!(!states.contains('T'), "{node}: {states}");
    }
    // And a nemesis whose healing began refuses to start new faults.
    let closing = block_on(halves.invoke(op("start"))).unwrap();
    assert_eq!(closing.value, Value::keyword("closing"));
    assert_no_rules(&tc);

    for node in &nodes {
        block_on(db.kill(node)).unwrap();
        assert_eq!(sleep_states(&ssh, node).trim(), "");
    }
}

#[test]
fn faults_this_world_cannot_inflict_are_refused() {
    let remote: Arc<dyn Remote> = Arc::new(jepsen_real::remote::LocalRemote::new());
    let db = Arc::new(PidFileDaemon::new(remote.clone(), BTreeMap::new()));
    for fault in [
        Fault::PacketLoss,
        Fault::LatencySpike,
        Fault::NukePartitionState,
    ] {
        let err = RealNemesis::new(
            fault,
            vec!["n1".into()],
            remote.clone(),
            db.clone(),
            ChaCha8Rng::seed_from_u64(0),
        )
        .err()
        .expect("refused");
        assert!(err.contains(fault.name()), "{err}");
    }
    // Over --no-ssh a partition would cut this machine's own network: refused.
    for fault in Fault::ALL.into_iter().filter(|f| f.is_partition()) {
        let err = RealNemesis::new(
            fault,
            vec!["n1".into(), "n2".into()],
            remote.clone(),
            db.clone(),
            ChaCha8Rng::seed_from_u64(0),
        )
        .err()
        .expect("refused");
        assert!(err.contains("--no-ssh"), "{err}");
    }
    let none = RealNemesis::new(
        Fault::None,
        vec!["n1".into()],
        remote,
        db,
        ChaCha8Rng::seed_from_u64(0),
    )
    .unwrap();
    assert!(none.fs().is_empty());
}

#[test]
fn shaping_faults_use_netem_or_say_clearly_that_the_kernel_lacks_it() {
    let tc = TestCluster::up(1, 84);
    let nodes = tc.nodes();
    let ssh = tc.ssh();
    let remote: Arc<dyn Remote> = Arc::new(ssh.clone());
    let db = dummy_daemon(&tc, remote.clone());
    let probe = "tc qdisc add dev lo root netem delay 0ms && tc qdisc del dev lo root";
    let kernel_has_netem = block_on(ssh.run(&nodes[0], probe)).unwrap().success();
    for fault in [Fault::PacketLoss, Fault::LatencySpike] {
        let mut nemesis = RealNemesis::new(
            fault,
            nodes.clone(),
            remote.clone(),
            db.clone(),
            ChaCha8Rng::seed_from_u64(0),
        )
        .unwrap();
        let setup = block_on(nemesis.setup());
        if kernel_has_netem {
            setup.unwrap();
            let started = block_on(nemesis.invoke(op("start"))).unwrap();
            assert!(
                format!("{:?}", started.value).contains("netem"),
                "{started:?}"
            );
            let qdisc = block_on(ssh.exec(&nodes[0], "tc qdisc show"))
                .unwrap()
                .stdout;
            assert!(qdisc.contains("netem"), "{qdisc}");
            block_on(nemesis.invoke(op("stop"))).unwrap();
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
