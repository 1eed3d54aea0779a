//! restate-server in containers on a netns cluster (`--image` / `--image-tarball`): an image
//! built `FROM scratch` around the npm package's binary and saved as a tarball
//! (scripts/build-restate-image.sh), loaded once per node by [`ContainerServer::install`]
//! over SSH, run with `docker run --network=host` (podman-docker on the nodes) as a 3-node
//! cluster, which must answer `/health` on every node and lead every partition. Then kill,
//! start, pause and resume through [`DbControl`] must do what they say to the port, and
//! after removing the containers and `cluster down` nothing may be left.
//!
//! restate-server calls out at every start: it runs only inside the nodes' namespaces (no
//! default route); building the image does not run it.

mod common;

use jepsen_real::db::partitions_with_active_leader;

use common::{accepts, block_on, build_restate_image, http_status, npm_binary, TestCluster};
use futures::future::join_all;
use jepsen_core::fault::action::actions_of;
use jepsen_core::fault::{Action, Fault};
use jepsen_core::history::{Op, OpType, Process, Value};
use jepsen_core::runtime::{seeded_rng, Nemesis};
use jepsen_real::cluster;
use jepsen_real::container::{ContainerError, ContainerServer, ContainerSpec, Installed};
use jepsen_real::nemesis::{real_nemesis, DbControl, RealEffector};
use jepsen_real::remote::{LocalRemote, Remote, SshRemote};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const TAG: &str = "localhost/restate-jepsen-test:1.7.12";
const PARTITIONS: usize = 4;

/// The config every node shares; what differs per node goes in env and args, as
/// restatedev/jepsen does.
const CONFIG: &str = r#"roles = ["admin", "metadata-server", "worker", "log-server", "http-ingress"]
default-replication = 2
default-num-partitions = 4
gossip-suspect-interval = "1s"
log-disable-ansi-codes = true

[metadata-server]
type = "replicated"

[metadata-client]
type = "replicated"

[bifrost]
default-provider = "replicated"
"#;

/// The actions a nemesis op (`start` or `stop`) performed, as its completion records them.
fn nemesis_op(nemesis: &mut impl Nemesis, f: &str) -> Vec<Action> {
    let op = Op::new(OpType::Invoke, Process::Nemesis, f, Value::Nil);
    let done = block_on(nemesis.invoke(op)).unwrap();
    actions_of(&done.value).unwrap_or_else(|e| panic!("{e}: {}", done.value))
}

/// The address of the node a logical name (`n<i+1>`) stands for: node i of `nodes`.
fn address<'a>(nodes: &'a [String], name: &str) -> &'a String {
    let i: usize = name
        .strip_prefix('n')
        .and_then(|i| i.parse().ok())
        .unwrap_or_else(|| panic!("not a logical name: {name}"));
    &nodes[i - 1]
}

/// Every process on this host whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if entry.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(cmdline);
            }
        }
    }
    found
}

/// The `ps` state letters of restate-server on the node (its own process table).
fn server_states(ssh: &SshRemote, node: &str) -> String {
    block_on(ssh.exec(
        node,
        "ps -e -o stat=,comm= | awk '$2 == \"restate-server\" { print $1 }'",
    ))
    .unwrap()
    .stdout
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

#[test]
fn restate_runs_in_containers_on_netns_nodes() {
    let scratch = tempfile::tempdir().unwrap();
    let tarball = scratch.path().join("restate-image.tar");
    let started = Instant::now();
    build_restate_image(&tarball, TAG);
    let build_took = started.elapsed();

    let tc = TestCluster::up(3, 83);
    let nodes = tc.nodes();
    let ssh = tc.ssh();
    let remote: Arc<dyn Remote> = Arc::new(ssh.clone());

    // Sessions on a node see podman-docker as `docker`, with the node's own engine config.
    for (i, node) in nodes.iter().enumerate() {
        let env = block_on(ssh.exec(
            node,
            "command -v docker; echo $CONTAINERS_CONF; ip route show default",
        ))
        .unwrap()
        .stdout;
        let lines: Vec<&str> = env.lines().collect();
        assert_eq!(lines[0], "/usr/bin/docker", "{env}");
        assert!(
            lines[1].starts_with(&tc.node_dir(i).to_string_lossy().into_owned()),
            "{env}"
        );
        assert_eq!(lines.len(), 2, "n{} has a default route: {env}", i + 1);
    }

    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let cluster_name = format!("jepsen-image-{}-{nanos}", std::process::id());
    let metadata_addresses: Vec<String> =
        nodes.iter().map(|ip| format!("http://{ip}:5122")).collect();
    let specs: BTreeMap<String, ContainerSpec> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            // The nodes share this host's files: a path here is the same path there.
            let dir = tc.node_dir(i).join("restate");
            std::fs::create_dir_all(&dir).unwrap();
            let mut spec = ContainerSpec::in_dir(node, &dir.to_string_lossy());
            std::fs::write(&spec.config_file, CONFIG).unwrap();
            spec.env = vec![
                (
                    "RESTATE_ADVERTISED_ADDRESS".into(),
                    format!("http://{node}:5122"),
                ),
                (
                    "RESTATE_METADATA_CLIENT__ADDRESSES".into(),
                    format!("[{}]", metadata_addresses.join(",")),
                ),
            ];
            let n = (i + 1).to_string();
            spec.args = [
                "--cluster-name",
                &cluster_name,
                "--node-name",
                &format!("n{n}"),
                "--force-node-id",
                &n,
                "--auto-provision",
                if i == 0 { "true" } else { "false" },
            ]
            .map(String::from)
            .to_vec();
            (node.clone(), spec)
        })
        .collect();
    let server = ContainerServer::new(remote.clone(), TAG, Some(tarball.clone()), specs.clone());

    // The tarball is loaded once per node; a second install finds the image and does nothing.
    let started = Instant::now();
    let installed = block_on(join_all(nodes.iter().map(|n| server.install(n))));
    let install_took = started.elapsed();
    for result in installed {
        assert_eq!(result.unwrap(), Installed::Loaded);
    }
    let started = Instant::now();
    for node in &nodes {
        assert_eq!(
            block_on(server.install(node)).unwrap(),
            Installed::AlreadyPresent
        );
    }
    let reinstall_took = started.elapsed();

    let started = Instant::now();
    for node in &nodes {
        block_on(server.run(node)).unwrap();
    }
    let logs = |node: &str| block_on(server.logs(node)).unwrap_or_else(|e| e.to_string());
    for node in &nodes {
        wait_until(
            &format!("/health on {node}:\n{}", logs(node)),
            Duration::from_secs(90),
            || http_status(node, 5122, "/health") == Some(200),
        );
    }
    let healthy_after = started.elapsed();
    let restatectl = npm_binary("restatectl", "restatectl");
    let list = format!(
        "DO_NOT_TRACK=true {} partitions list --address {} 2>&1",
        restatectl.display(),
        metadata_addresses.join(",")
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listing = block_on(ssh.run(&nodes[0], &list)).unwrap().stdout;
        if partitions_with_active_leader(&listing) == (0..PARTITIONS as u32).collect() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every partition got a leader:\n{listing}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ready_after = started.elapsed();

    // Each server runs in its node's namespaces: it listens there (the host does not) and
    // is in the node's process table.
    for (i, node) in nodes.iter().enumerate() {
        let listening = tc.in_netns(i, "ss -Hltn 'sport = :5122'");
        assert!(listening.contains(":5122"), "n{}: {listening}", i + 1);
        assert_eq!(server_states(&ssh, node).lines().count(), 1, "{node}");
        assert!(block_on(server.is_running(node)).unwrap());
    }
    assert!(
        logs(&nodes[0]).contains(&cluster_name),
        "{}",
        logs(&nodes[0])
    );
    assert!(!logs(&nodes[0]).contains("Emulate Docker CLI"));

    // Kill and start: the port stops answering, then the same container serves again.
    let victim = &nodes[2];
    block_on(server.kill(victim)).unwrap();
    assert!(!block_on(server.is_running(victim)).unwrap());
    assert!(!accepts(victim, 5122), "a killed server's port is closed");
    assert_eq!(server_states(&ssh, victim).trim(), "", "no zombie left");
    block_on(server.kill(victim)).unwrap(); // killing a stopped container is no error
    let started = Instant::now();
    block_on(server.start(victim)).unwrap();
    block_on(server.start(victim)).unwrap(); // starting a running one changes nothing
    wait_until("/health after start", Duration::from_secs(60), || {
        http_status(victim, 5122, "/health") == Some(200)
    });
    let restart_took = started.elapsed();

    // Pause and resume: SIGSTOP leaves the port accepting connections but answering
    // nothing; SIGCONT brings the answers back.
    block_on(server.pause(victim)).unwrap();
    assert!(server_states(&ssh, victim).starts_with('T'), "stopped");
    assert!(block_on(server.is_running(victim)).unwrap());
    assert!(accepts(victim, 5122), "a paused server still accepts");
    assert_eq!(http_status(victim, 5122, "/health"), None);
    block_on(server.resume(victim)).unwrap();
    assert!(!server_states(&ssh, victim).starts_with('T'));
    wait_until("/health after resume", Duration::from_secs(10), || {
        http_status(victim, 5122, "/health") == Some(200)
    });

    // The core's nemesis drives the containers the same way through the real effector:
    // kill-random-node and pause-random-node inflict their fault on the node the recorded
    // action names, and `stop` heals it.
    let server = Arc::new(server);
    let effector = RealEffector::new(remote.clone(), server.clone(), nodes.clone(), false);
    for (seed, fault) in [Fault::KillRandomNode, Fault::PauseRandomNode]
        .into_iter()
        .enumerate()
    {
        let rng = Rc::new(RefCell::new(seeded_rng(seed as u64, "nemesis")));
        let mut nemesis = real_nemesis(fault, &effector, rng);
        let started = nemesis_op(&mut nemesis, "start");
        let (name, healed) = match (fault, started.as_slice()) {
            (Fault::KillRandomNode, [Action::Kill(n)]) => (n.clone(), Action::Start(n.clone())),
            (Fault::PauseRandomNode, [Action::Pause(n)]) => (n.clone(), Action::Resume(n.clone())),
            _ => panic!("{fault}: {started:?}"),
        };
        let hit = address(&nodes, &name).clone();
        assert_eq!(http_status(&hit, 5122, "/health"), None, "{fault} on {hit}");
        assert_eq!(accepts(&hit, 5122), fault == Fault::PauseRandomNode);
        for other in nodes.iter().filter(|n| **n != hit) {
            assert_eq!(http_status(other, 5122, "/health"), Some(200), "{other}");
        }
        assert_eq!(nemesis_op(&mut nemesis, "stop"), vec![healed]);
        assert!(!effector.anything_in_force());
        wait_until(
            &format!("/health on {hit} after {fault} stopped"),
            Duration::from_secs(60),
            || http_status(&hit, 5122, "/health") == Some(200),
        );
    }

    // Teardown: the containers removed (twice is fine), then the cluster; the last node's
    // container is left running (as `--leave-db-running` would): `cluster down` ends it too.
    for node in &nodes[..2] {
        block_on(server.remove(node)).unwrap();
        block_on(server.remove(node)).unwrap();
        let left = block_on(ssh.exec(node, "docker ps --all --quiet")).unwrap();
        assert_eq!(left.stdout.trim(), "", "containers left on {node}");
        assert!(!accepts(node, 5122));
    }
    let running_id = block_on(ssh.exec(
        victim,
        &format!(
            "docker inspect --format '{{{{.Id}}}}' {}",
            specs[victim].name
        ),
    ))
    .unwrap()
    .stdout
    .trim()
    .to_string();
    assert_eq!(running_id.len(), 64, "{running_id}");
    let dir = tc.cluster.dir.clone();
    let prefix = tc.cluster.subnet.name_prefix();
    assert!(cluster::down(&dir).unwrap());
    drop(tc);
    let namespaces = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let namespaces = String::from_utf8_lossy(&namespaces.stdout);
    assert!(!namespaces.contains(&prefix), "{namespaces}");
    let dir_text = dir.to_string_lossy().into_owned();
    assert_eq!(processes_mentioning(&dir_text), Vec::<String>::new());
    assert_eq!(processes_mentioning(&cluster_name), Vec::<String>::new());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&dir_text), "mounts left: {mounts}");
    assert!(!dir.exists());
    let cgroups = std::process::Command::new("find")
        .args(["/sys/fs/cgroup", "-maxdepth", "3", "-name"])
        .arg(format!("*{running_id}*"))
        .output()
        .unwrap();
    let cgroups = String::from_utf8_lossy(&cgroups.stdout);
    assert_eq!(cgroups.trim(), "", "cgroups left");

    eprintln!(
        "image: build {:.1} s; install on 3 nodes (upload + load, in parallel) {:.1} s, again {:.2} s; \
         cluster in containers: /health on all after {:.1} s, all {PARTITIONS} partitions led after {:.1} s; \
         kill + start: /health after {:.1} s",
        build_took.as_secs_f64(),
        install_took.as_secs_f64(),
        reinstall_took.as_secs_f64(),
        healthy_after.as_secs_f64(),
        ready_after.as_secs_f64(),
        restart_took.as_secs_f64(),
    );
}

#[test]
fn a_node_without_docker_gets_one_clear_error() {
    let remote: Arc<dyn Remote> = Arc::new(LocalRemote::new());
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().to_string_lossy().into_owned();
    let specs = BTreeMap::from([("n1".to_string(), ContainerSpec::in_dir("n1", &dir))]);
    let missing = scratch.path().join("no-such-docker");
    let server = ContainerServer::new(remote.clone(), TAG, None, specs.clone())
        .with_docker(missing.to_string_lossy());
    let err = block_on(server.install("n1")).unwrap_err();
    assert!(matches!(err, ContainerError::NoDocker { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "node n1 has no {}: install podman and podman-docker (or Docker) there",
            missing.display()
        )
    );

    // A docker command with no engine behind it (a Docker client alone) is named as such.
    let client_only = scratch.path().join("docker");
    std::fs::write(
        &client_only,
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(
        &client_only,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let server =
        ContainerServer::new(remote, TAG, None, specs).with_docker(client_only.to_string_lossy());
    let err = block_on(server.install("n1")).unwrap_err();
    assert!(matches!(err, ContainerError::NoEngine { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("node n1") && message.contains("Cannot connect to the Docker daemon"),
        "{message}"
    );
}
