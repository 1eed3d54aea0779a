//! `real` end to end on this machine: `cluster up --nodes 3` makes namespace nodes with sshd,
//! then `real` (over russh, with the cluster's key) sets up restate-server 1.7.12 (the npm
//! package's binary) and the SDK services on every node, runs each workload under genuine
//! faults, and must find every run valid, the heal checker included; after each run no
//! iptables rule, stopped process or test process may be left on any node, and the store
//! must hold the history, the results and every node's logs. The broken services variant
//! (the Set kept in process memory) must be found invalid under kill-random-node. Bad input
//! (no nodes file, an unreachable node, a key the nodes refuse) ends with one clear line
//! and exit 254, leaving nothing behind.
//!
//! restate-server calls out at every start, so it only ever runs inside the nodes'
//! namespaces, which have no default route (`cluster up` makes them so; its test checks).
//!
//! Needs root, openssh-server, node, the npm packages in `.tools/npm` and the services
//! bundle (scripts/test.sh installs and builds them); without them the test fails and says
//! what is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

mod common;

use common::{cluster_up_on_free_subnet, npm_binary, repository, ssh_ok, text, ClusterGuard, BIN};

/// Why this machine cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0");
    if !root {
        return Some("not root".into());
    }
    for needed in [
        PathBuf::from("/usr/sbin/sshd"),
        PathBuf::from("/usr/bin/ssh-keygen"),
        npm_binary("restate-server", "restate-server"),
        npm_binary("restatectl", "restatectl"),
        repository().join("services/dist/services.js"),
    ] {
        if !needed.exists() {
            return Some(format!("{} is missing", needed.display()));
        }
    }
    None
}

/// A cluster of `nodes` on a /24 of its own under `10.<second>.x` (the next x when one is
/// taken); its folder, guard and addresses.
fn cluster_up(scratch: &Path, nodes: usize, second: u32) -> (PathBuf, ClusterGuard, Vec<String>) {
    let dir = scratch.join("cluster");
    let (up, _) = cluster_up_on_free_subnet(&dir, nodes, second);
    let guard = ClusterGuard { dir: dir.clone() };
    assert!(
        up.status.success(),
        "cluster up failed: {}",
        text(&up.stderr)
    );
    let ips = std::fs::read_to_string(dir.join("nodes.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    (dir, guard, ips)
}

/// `real` against the cluster in `dir`, with `extra` flags; run from the repository (the
/// default binaries and services bundle are found there).
fn real(dir: &Path, store: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(repository())
        .arg("real")
        .arg("--nodes-file")
        .arg(dir.join("nodes.txt"))
        .arg("--ssh-private-key")
        .arg(dir.join("id_ed25519"))
        .arg("--node-dir")
        .arg(dir.join("restate"))
        .arg("--store")
        .arg(store)
        .args(extra)
        .output()
        .expect("the binary runs")
}

/// What a node must not keep after a run: iptables rules, stopped processes, and any
/// process of the test (restate-server, the services).
fn leftovers(key: &Path, ip: &str, node_dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let rules = ssh_ok(key, ip, "iptables -S -w");
    found.extend(
        rules
            .lines()
            .filter(|l| !l.starts_with("-P "))
            .map(|l| format!("{ip}: iptables {l}")),
    );
    let processes = ssh_ok(key, ip, "ps -e -o pid=,stat=,args=");
    for line in processes.lines() {
        let columns: Vec<&str> = line.split_whitespace().collect();
        if columns.get(1).is_some_and(|s| s.starts_with('T')) {
            found.push(format!("{ip}: stopped process {line}"));
        }
        if line.contains(&*node_dir.to_string_lossy()) {
            found.push(format!("{ip}: test process {line}"));
        }
    }
    found
}

/// The latest run's folder of test `name` in `store`.
fn latest(store: &Path, name: &str) -> PathBuf {
    store.join(name).join("latest").canonicalize().unwrap()
}

fn results(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap()
}

#[test]
fn every_workload_is_valid_under_real_faults_and_the_broken_services_are_caught() {
    if let Some(why) = missing_prerequisite() {
        panic!("the real test cannot run: {why} (run scripts/test.sh as root: it installs and builds what the test needs)");
    }
    let scratch = tempfile::tempdir().unwrap();
    let store = scratch.path().join("store");
    let (dir, guard, ips) = cluster_up(scratch.path(), 3, 80);
    let key = dir.join("id_ed25519");
    let node_dir = dir.join("restate");

    // set-vo under the three faults of the issue (60 s each, rate 50); the other
    // workloads for 30 s.
    let runs = [
        ("set-vo", "partition-random-node", "60"),
        ("set-vo", "kill-random-node", "60"),
        ("set-vo", "pause-random-node", "60"),
        ("register-vo", "partition-random-node", "30"),
        ("set-mds", "kill-random-node", "30"),
        ("register-mds", "pause-random-node", "30"),
    ];
    for (workload, nemesis, seconds) in runs {
        let started = Instant::now();
        let out = real(
            &dir,
            &store,
            &[
                "--workload",
                workload,
                "--nemesis",
                nemesis,
                "--time-limit",
                seconds,
                "--rate",
                "50",
                "--concurrency",
                "5",
                "--ops-per-key",
                "50",
            ],
        );
        let stdout = text(&out.stdout);
        let stderr = text(&out.stderr);
        let name = format!("{workload}-{nemesis}");
        eprintln!(
            "{name}: exit {:?} after {:.0} s",
            out.status.code(),
            started.elapsed().as_secs_f64()
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name} is not valid:\n{stdout}\n{}",
            &stderr[stderr.len().saturating_sub(4000)..]
        );
        assert!(stdout.contains("Everything looks good!"), "{stdout}");
        let run = latest(&store, &name);
        let results = results(&run);
        assert_eq!(results["valid?"], serde_json::json!(true), "{results}");
        assert_eq!(
            results["heal"]["valid?"],
            serde_json::json!(true),
            "{results}"
        );
        let report = std::fs::read_to_string(run.join("report.html")).unwrap_or_default();
        assert!(
            report.contains("<svg"),
            "{name}: no report.html with plots in {}",
            run.display()
        );
        // The history was streamed, the nemesis acted, and the logs came home.
        let history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
        let nemesis_ops = history
            .lines()
            .filter(|l| l.contains("\"process\":\"nemesis\""))
            .count();
        assert!(nemesis_ops >= 4, "{name}: {nemesis_ops} nemesis ops");
        let oks = history
            .lines()
            .filter(|l| l.contains("\"type\":\"ok\""))
            .count();
        assert!(oks >= 20, "{name}: only {oks} ok ops");
        // Each node's logs are kept under its logical name, as the history names it.
        for (i, ip) in ips.iter().enumerate() {
            let node = run.join(format!("n{}", i + 1));
            let log = std::fs::read_to_string(node.join("restate.log")).unwrap_or_default();
            assert!(
                !log.is_empty(),
                "{name}: no restate.log of {ip} in {}",
                node.display()
            );
            assert!(
                node.join("services.log").is_file(),
                "{name}: no services.log of {ip}"
            );
        }
        let left: Vec<String> = ips
            .iter()
            .flat_map(|ip| leftovers(&key, ip, &node_dir))
            .collect();
        assert!(left.is_empty(), "{name} left behind: {left:#?}");
    }

    // The same with Restate in containers: the image built FROM scratch around the npm
    // binary, saved as a tarball, loaded on every node by podman-docker.
    let tarball = scratch.path().join("restate-image.tar");
    let build = Command::new("bash")
        .arg(repository().join("scripts/build-restate-image.sh"))
        .arg(&tarball)
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "image build failed: {}",
        text(&build.stderr)
    );
    let image = "localhost/restate-jepsen:1.7.12";
    let tarball_text = tarball.to_string_lossy().into_owned();
    let out = real(
        &dir,
        &store,
        &[
            "--workload",
            "set-vo",
            "--nemesis",
            "kill-random-node",
            "--time-limit",
            "20",
            "--rate",
            "50",
            "--image",
            image,
            "--image-tarball",
            &tarball_text,
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "--image run:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let run = latest(&store, "set-vo-kill-random-node");
    let log = std::fs::read_to_string(run.join("n1").join("restate.log")).unwrap();
    assert!(
        log.contains("config_source: /config.toml"),
        "not the container's log: {}",
        &log[..log.len().min(500)]
    );
    let left: Vec<String> = ips
        .iter()
        .flat_map(|ip| leftovers(&key, ip, &node_dir))
        .collect();
    assert!(left.is_empty(), "the --image run left behind: {left:#?}");
    let containers = ssh_ok(
        &key,
        &ips[0],
        "docker ps --all --format '{{.Names}}' 2>/dev/null",
    );
    assert!(
        containers.trim().is_empty(),
        "containers left: {containers}"
    );

    // A node without docker: one clear line, nothing started.
    let out = real(
        &dir,
        &store,
        &[
            "--workload",
            "set-vo",
            "--time-limit",
            "5",
            "--image",
            image,
            "--docker-command",
            "/nonexistent/docker",
        ],
    );
    let stderr = text(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(254) | Some(255)),
        "{stderr}"
    );
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("has no /nonexistent/docker") && errors[0].contains("install podman"),
        "{stderr}"
    );
    let left: Vec<String> = ips
        .iter()
        .flat_map(|ip| leftovers(&key, ip, &node_dir))
        .collect();
    assert!(
        left.is_empty(),
        "the docker-less run left behind: {left:#?}"
    );

    // The broken Set loses acknowledged adds when a node dies; a run is found invalid with
    // high probability (about 1 - (2/3)^kills), so up to 3 runs must catch it once.
    let mut caught = None;
    for attempt in 1..=3 {
        let out = real(
            &dir,
            &store,
            &[
                "--workload",
                "set-vo",
                "--nemesis",
                "kill-random-node",
                "--time-limit",
                "60",
                "--rate",
                "50",
                "--services-variant",
                "broken",
                "--seed",
                &attempt.to_string(),
            ],
        );
        let code = out.status.code();
        eprintln!("broken attempt {attempt}: exit {code:?}");
        assert!(matches!(code, Some(0) | Some(1)), "{}", text(&out.stderr));
        if code == Some(1) {
            caught = Some(attempt);
            break;
        }
    }
    let attempt = caught.expect("the broken services were never found invalid in 3 runs");
    let results = results(&latest(&store, "set-vo-kill-random-node"));
    assert_eq!(
        results["set-full"]["valid?"],
        serde_json::json!(false),
        "attempt {attempt}: {results}"
    );
    let left: Vec<String> = ips
        .iter()
        .flat_map(|ip| leftovers(&key, ip, &node_dir))
        .collect();
    assert!(left.is_empty(), "the broken runs left behind: {left:#?}");

    let down = guard.down();
    assert!(down.status.success(), "{}", text(&down.stderr));
    let namespaces = text(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    );
    let prefix = format!("rj80-{}", ips[0].split('.').nth(2).unwrap());
    assert!(
        !namespaces.contains(&prefix),
        "namespaces left: {namespaces}"
    );
}

#[test]
fn bad_input_ends_with_one_line_and_exit_254() {
    if let Some(why) = missing_prerequisite() {
        panic!("the real test cannot run: {why} (run scripts/test.sh as root)");
    }
    let scratch = tempfile::tempdir().unwrap();
    let store = scratch.path().join("store");

    let one_line = |out: &Output, needle: &str| {
        let stderr = text(&out.stderr);
        let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(out.status.code(), Some(254), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(lines.len(), 1, "not one line: {stderr}");
        assert!(lines[0].contains(needle), "{needle:?} not in {stderr}");
    };

    let missing = Command::new(BIN)
        .current_dir(repository())
        .args([
            "real",
            "--workload",
            "set-vo",
            "--nodes-file",
            "/nonexistent/nodes.txt",
        ])
        .output()
        .unwrap();
    one_line(&missing, "--nodes-file /nonexistent/nodes.txt");

    let unknown = Command::new(BIN)
        .current_dir(repository())
        .args([
            "real",
            "--workload",
            "set-vo",
            "--node",
            "10.0.0.1",
            "--nemesis",
            "chaos",
        ])
        .output()
        .unwrap();
    one_line(&unknown, "--nemesis");

    let (dir, guard, ips) = cluster_up(scratch.path(), 1, 81);
    // An address on the cluster's own bridge that no node has: nothing answers.
    let prefix: Vec<&str> = ips[0].split('.').take(3).collect();
    let nobody = format!("{}.99", prefix.join("."));
    let unreachable = Command::new(BIN)
        .current_dir(repository())
        .arg("real")
        .args([
            "--workload",
            "set-vo",
            "--node",
            &nobody,
            "--ssh-private-key",
        ])
        .arg(dir.join("id_ed25519"))
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    one_line(&unreachable, &format!("cannot connect to node {nobody}"));

    // A key the node does not know.
    let stranger = scratch.path().join("stranger");
    let keygen = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&stranger)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", text(&keygen.stderr));
    let refused = Command::new(BIN)
        .current_dir(repository())
        .arg("real")
        .args([
            "--workload",
            "set-vo",
            "--node",
            &ips[0],
            "--ssh-private-key",
        ])
        .arg(&stranger)
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    one_line(&refused, &format!("cannot connect to node {}", ips[0]));

    // Nothing was started on the node.
    let processes = ssh_ok(&dir.join("id_ed25519"), &ips[0], "ps -e -o args=");
    assert!(
        !processes.contains("restate-server") && !processes.contains("services.js"),
        "{processes}"
    );

    // --no-ssh on the host, which has a default route: refused before anything runs.
    let on_host = Command::new(BIN)
        .current_dir(repository())
        .args([
            "real",
            "--no-ssh",
            "--node",
            "127.0.0.1",
            "--workload",
            "set-vo",
        ])
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    one_line(&on_host, "default route");

    // --no-ssh inside the node's namespace (no default route): the whole test runs there,
    // every command on "this machine".
    let netns = text(
        &Command::new("ip")
            .args(["netns", "identify"])
            .output()
            .unwrap()
            .stdout,
    );
    assert!(
        netns.trim().is_empty(),
        "the test itself must run on the host"
    );
    let namespaces = text(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    );
    let node_ns = namespaces
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|n| *n == format!("rj81-{}-n1", prefix[2]))
        .unwrap_or_else(|| panic!("no namespace for n1 in {namespaces}"))
        .to_string();
    let local = Command::new("ip")
        .current_dir(repository())
        .args([
            "netns", "exec", &node_ns, BIN, "real", "--no-ssh", "--node", &ips[0],
        ])
        .args([
            "--workload",
            "register-vo",
            "--nemesis",
            "kill-random-node",
            "--time-limit",
            "15",
        ])
        .args(["--rate", "30", "--ops-per-key", "30"])
        .arg("--node-dir")
        .arg(dir.join("restate"))
        .arg("--store")
        .arg(&store)
        .output()
        .unwrap();
    assert_eq!(
        local.status.code(),
        Some(0),
        "--no-ssh run:\n{}\n{}",
        text(&local.stdout),
        text(&local.stderr)
    );
    let processes = ssh_ok(&dir.join("id_ed25519"), &ips[0], "ps -e -o args=");
    assert!(
        !processes.contains("restate-server") && !processes.contains("services.js"),
        "{processes}"
    );
    drop(guard);
}
