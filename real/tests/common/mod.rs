//! Shared by the tests that need a real cluster on this machine: a `cluster up` of its own
//! (own folder, own subnet) that is taken down when dropped, even when the test fails, and
//! small helpers to look inside the nodes.

#![allow(dead_code)]

use jepsen_real::cluster::{self, Cluster, ClusterError, ClusterSpec};
use jepsen_real::remote::{SshAuth, SshConfig, SshRemote};
use std::path::Path;

/// A cluster that is up; `cluster down` when dropped.
pub struct TestCluster {
    pub cluster: Cluster,
    _scratch: tempfile::TempDir,
}

impl TestCluster {
    /// `cluster up --nodes N` in a temporary folder, on the first free subnet
    /// `10.<second>.<x>.0/24` from an `x` derived from the pid (so parallel runs differ).
    pub fn up(nodes: usize, second: u8) -> TestCluster {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let root = status
            .lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0");
        assert!(
            root,
            "this test needs root (namespaces, iptables): run scripts/test.sh as root"
        );
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("cluster");
        let mut octet = 10 + std::process::id() % 200;
        loop {
            let spec = ClusterSpec {
                nodes,
                dir: dir.clone(),
                subnet: format!("10.{second}.{octet}.0/24").parse().unwrap(),
            };
            match cluster::up(&spec) {
                Ok(cluster) => {
                    return TestCluster {
                        cluster,
                        _scratch: scratch,
                    }
                }
                Err(ClusterError::BadInput(m)) if m.contains("already") && octet < 250 => {
                    octet += 1
                }
                Err(e) => panic!("cluster up failed: {e}"),
            }
        }
    }

    /// The nodes' addresses, as in the nodes file.
    pub fn nodes(&self) -> Vec<String> {
        self.cluster
            .nodes
            .iter()
            .map(|n| n.ip.to_string())
            .collect()
    }

    /// The SSH config for root with the cluster's key, host keys not checked.
    pub fn ssh_config(&self) -> SshConfig {
        SshConfig::new("root", SshAuth::Key(self.cluster.private_key.clone()))
    }

    pub fn ssh(&self) -> SshRemote {
        SshRemote::new(self.ssh_config()).unwrap()
    }

    /// A command's stdout in the node's network namespace, run from the host (not over
    /// SSH: an independent view of the node).
    pub fn in_netns(&self, node: usize, command: &str) -> String {
        let netns = &self.cluster.nodes[node].netns;
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", netns, "sh", "-c", command])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The rules in the node's iptables other than the default policies.
    pub fn iptables_rules(&self, node: usize) -> Vec<String> {
        self.in_netns(node, "iptables -S -w")
            .lines()
            .filter(|l| !l.starts_with("-P "))
            .map(String::from)
            .collect()
    }

    /// Whether node `from` (index) opens a TCP connection to node `to`'s sshd within 1 s.
    pub fn reaches(&self, from: usize, to: usize) -> bool {
        let ip = self.cluster.nodes[to].ip;
        let netns = &self.cluster.nodes[from].netns;
        std::process::Command::new("ip")
            .args(["netns", "exec", netns, "timeout", "1", "bash", "-c"])
            .arg(format!("exec 3<>/dev/tcp/{ip}/22"))
            .status()
            .unwrap()
            .success()
    }

    pub fn node_dir(&self, node: usize) -> &Path {
        &self.cluster.nodes[node].dir
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        if let Err(e) = cluster::down(&self.cluster.dir) {
            eprintln!("cluster down failed: {e}");
        }
    }
}

/// A current-thread runtime to drive the async API from a test.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The repository's root (the workspace).
pub fn repository() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary of the Restate npm packages that scripts/test.sh installs into `.tools/npm`.
pub fn npm_binary(package: &str, name: &str) -> std::path::PathBuf {
    repository()
        .join(".tools/npm/node_modules/@restatedev")
        .join(format!("{package}-linux-x64/bin/{name}"))
}

/// Builds the Restate image `tag` from the npm package's binary and saves it to `out`
/// (scripts/build-restate-image.sh); panics with the script's output if it fails.
pub fn build_restate_image(out: &Path, tag: &str) {
    let script = repository().join("scripts/build-restate-image.sh");
    let built = std::process::Command::new(&script)
        .arg(out)
        .arg(tag)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{} failed: {}{}",
        script.display(),
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
}

/// The HTTP status of `GET path` on `ip:port`, or None when it does not answer within
/// 0.5 s (connect) and 2 s (response).
pub fn http_status(ip: &str, port: u16, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let address: std::net::SocketAddr = format!("{ip}:{port}").parse().ok()?;
    let mut stream =
        std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_millis(500))
            .ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(2)))
        .ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {ip}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `ip:port` accepts a TCP connection within 0.5 s.
pub fn accepts(ip: &str, port: u16) -> bool {
    let address: std::net::SocketAddr = format!("{ip}:{port}").parse().unwrap();
    std::net::TcpStream::connect_timeout(&address, std::time::Duration::from_millis(500)).is_ok()
}
