//! The real cluster on this machine, end to end: `cluster up --nodes 3` makes three
//! namespace nodes with sshd; over SSH (the system `ssh` client, with the generated key) each
//! node is checked and restate-server 1.7.12 (the npm package's binary) started on it as a
//! 3-node cluster with replicated metadata; the cluster must answer `/health` on every node
//! and show every partition with an active leader (`restatectl`, run on a node); then
//! `cluster down` must leave no namespace, bridge or process behind.
//!
//! restate-server calls out at every start, so it only ever runs inside the nodes'
//! namespaces, which have no default route (checked before it starts).
//!
//! Needs root, openssh-server and the npm packages in `.tools/npm` (scripts/test.sh installs
//! them); without them the test fails and says what is missing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use jepsen_real::db::config::ClusterConfig;
use jepsen_real::db::partitions_with_active_leader;

use common::{
    cluster_up_on_free_subnet, npm_binary, restate_jepsen, ssh, ssh_ok, text, ClusterGuard,
};

const PARTITIONS: usize = 4;

/// Why this machine cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(String::from));
    if uid.as_deref() != Some("0") {
        return Some("not root".into());
    }
    for tool in ["/usr/sbin/sshd", "/usr/bin/ssh"] {
        if !Path::new(tool).exists() {
            return Some(format!("{tool} is missing"));
        }
    }
    for binary in [
        npm_binary("restate-server", "restate-server"),
        npm_binary("restatectl", "restatectl"),
    ] {
        if !binary.exists() {
            return Some(format!("{} is missing", binary.display()));
        }
    }
    None
}

/// The HTTP status of `GET path` on `ip:port`, or None when it does not answer.
fn http_status(ip: &str, port: u16, path: &str) -> Option<u16> {
    let address: SocketAddr = format!("{ip}:{port}").parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// Node `n`'s config, as `real` writes it (replication 2 of 3, replicated metadata).
fn restate_config(cluster: &str, n: usize, ips: &[String], dir: &Path) -> String {
    let base = dir.join("restate-data").display().to_string();
    ClusterConfig::new(cluster, ips.to_vec(), PARTITIONS as u32).node_config(n - 1, &base)
}

/// Every process whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let is_pid = entry.file_name().to_string_lossy().parse::<u32>().is_ok();
        if !is_pid {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = text(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!(
                    "{}: {cmdline}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    found
}

#[test]
fn a_three_node_restate_cluster_runs_on_namespace_nodes_and_down_removes_everything() {
    if let Some(why) = missing_prerequisite() {
        panic!("the real-cluster test cannot run: {why} (run scripts/test.sh as root: it installs what the test needs)");
    }
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("cluster");
    let dir_text = dir.to_string_lossy().into_owned();
    let up_started = Instant::now();
    let (up, octet) = cluster_up_on_free_subnet(&dir, 3, 77);
    let up_took = up_started.elapsed();
    let subnet = format!("10.77.{octet}.0/24");
    let prefix = format!("rj77-{octet}");
    let guard = ClusterGuard { dir: dir.clone() };
    assert!(
        up.status.success(),
        "cluster up failed: {}",
        text(&up.stderr)
    );
    let printed = text(&up.stdout);
    assert!(
        printed.contains("restate-jepsen real --nodes-file"),
        "{printed}"
    );

    // A second `up` on the same folder, and bad input, are refused with 254.
    let again = restate_jepsen(&["cluster", "up", "--dir", &dir_text, "--subnet", &subnet]);
    assert_eq!(again.status.code(), Some(254), "{}", text(&again.stderr));
    let zero = restate_jepsen(&["cluster", "up", "--nodes", "0", "--dir", &dir_text]);
    assert_eq!(zero.status.code(), Some(254), "{}", text(&zero.stderr));
    let public = restate_jepsen(&["cluster", "up", "--subnet", "8.8.8.0/24"]);
    assert_eq!(public.status.code(), Some(254), "{}", text(&public.stderr));

    let key = dir.join("id_ed25519");
    let ips: Vec<String> = std::fs::read_to_string(dir.join("nodes.txt"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    let expected_ips: Vec<String> = (11..=13).map(|i| format!("10.77.{octet}.{i}")).collect();
    assert_eq!(ips, expected_ips);

    // Each node: reachable with the key, its own hostname, no default route, and a process
    // table of its own (a host-side `unshare` of any node is invisible there).
    for (i, ip) in ips.iter().enumerate() {
        let hostname = ssh_ok(&key, ip, "hostname");
        assert_eq!(hostname.trim(), format!("n{}", i + 1));
        let default_route = ssh_ok(&key, ip, "ip route show default");
        assert!(
            default_route.trim().is_empty(),
            "n{} has a default route: {default_route}",
            i + 1
        );
        let processes = ssh_ok(&key, ip, "ps -e -o comm=");
        assert!(
            !processes.lines().any(|p| p.trim() == "unshare"),
            "{processes}"
        );
        assert!(
            processes.lines().count() < 20,
            "n{} sees the host's processes: {processes}",
            i + 1
        );
    }

    // restate-server on every node, started over SSH (inside the node's namespace).
    let server = npm_binary("restate-server", "restate-server");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let cluster_name = format!("jepsen-{}-{nanos}", std::process::id());
    let start_command = |n: usize| {
        let node_dir = dir.join(format!("n{n}"));
        format!(
            "cd {dir}; DO_NOT_TRACK=true nohup {server} --config-file {dir}/restate.toml >> {dir}/restate.log 2>&1 < /dev/null &",
            dir = node_dir.display(),
            server = server.display(),
        )
    };
    for (i, _) in ips.iter().enumerate() {
        let node_dir = dir.join(format!("n{}", i + 1));
        let config = restate_config(&cluster_name, i + 1, &ips, &node_dir);
        std::fs::write(node_dir.join("restate.toml"), config).unwrap();
    }
    let start = Instant::now();
    for (i, ip) in ips.iter().enumerate() {
        ssh_ok(&key, ip, &start_command(i + 1));
    }

    let deadline = start + Duration::from_secs(90);
    let log_tail = |n: usize| {
        let log =
            std::fs::read_to_string(dir.join(format!("n{n}/restate.log"))).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    for (i, ip) in ips.iter().enumerate() {
        while http_status(ip, 5122, "/health") != Some(200) {
            assert!(
                Instant::now() < deadline,
                "n{} never answered /health:\n{}",
                i + 1,
                log_tail(i + 1)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let healthy_after = start.elapsed();

    let restatectl = npm_binary("restatectl", "restatectl");
    let addresses: Vec<String> = ips.iter().map(|ip| format!("http://{ip}:5122")).collect();
    let list = format!(
        "DO_NOT_TRACK=true {} partitions list --address {} 2>&1",
        restatectl.display(),
        addresses.join(",")
    );
    let mut listing;
    loop {
        listing = text(&ssh(&key, &ips[0], &list).stdout);
        if partitions_with_active_leader(&listing) == (0..PARTITIONS as u32).collect() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every partition got a leader:\n{listing}\nn1 log:\n{}",
            log_tail(1)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let ready_after = start.elapsed();
    eprintln!(
        "cluster start: /health on all 3 nodes after {:.2} s, all {PARTITIONS} partitions led after {:.2} s",
        healthy_after.as_secs_f64(),
        ready_after.as_secs_f64()
    );

    // One server per node, each node seeing only its own.
    for ip in &ips {
        let count = ssh_ok(&key, ip, "pgrep -c -x restate-server");
        assert_eq!(count.trim(), "1", "{ip}");
    }
    assert_eq!(
        processes_mentioning(&dir_text)
            .iter()
            .filter(|p| p.contains("restate-server"))
            .count(),
        3
    );

    // A node's kill sees only that node: `pkill -9` on n1 ends n1's server (reaped by the
    // node's init: no zombie) and leaves the others'; n1 then restarts and is healthy again.
    ssh_ok(&key, &ips[0], "pkill -9 -x restate-server");
    let gone = Instant::now() + Duration::from_secs(10);
    while !ssh_ok(&key, &ips[0], "ps -e -o stat=,comm=")
        .trim()
        .lines()
        .all(|l| !l.contains("restate"))
    {
        assert!(
            Instant::now() < gone,
            "n1's killed server is still listed (a zombie?)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    for ip in &ips[1..] {
        assert_eq!(
            ssh_ok(&key, ip, "pgrep -c -x restate-server").trim(),
            "1",
            "{ip}"
        );
    }
    let restarted = Instant::now();
    ssh_ok(&key, &ips[0], &start_command(1));
    while http_status(&ips[0], 5122, "/health") != Some(200) {
        assert!(
            restarted.elapsed() < Duration::from_secs(60),
            "n1 did not come back:\n{}",
            log_tail(1)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "n1 killed with pkill -9 and restarted: /health after {:.2} s",
        restarted.elapsed().as_secs_f64()
    );

    let down_started = Instant::now();
    let down = guard.down();
    assert!(
        down.status.success(),
        "cluster down failed: {}",
        text(&down.stderr)
    );
    eprintln!(
        "cluster up took {:.3} s; cluster down, with 3 servers running, {:.3} s",
        up_took.as_secs_f64(),
        down_started.elapsed().as_secs_f64()
    );
    let namespaces = text(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    );
    assert!(
        !namespaces.contains(&prefix),
        "namespaces left: {namespaces}"
    );
    let links = text(
        &Command::new("ip")
            .args(["-o", "link", "show"])
            .output()
            .unwrap()
            .stdout,
    );
    assert!(!links.contains(&prefix), "links left: {links}");
    let left = processes_mentioning(&dir_text);
    assert!(left.is_empty(), "processes left: {left:?}");
    assert!(!dir.join("state.txt").exists());
    let again = guard.down();
    assert!(again.status.success(), "a second down must be a no-op");
}
