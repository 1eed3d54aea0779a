//! What the real-cluster tests share: the binary, the repository's tools, a guard that
//! runs `cluster down` whatever happens, and SSH to a node with the cluster's key.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_restate-jepsen");

pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary of the Restate npm packages that scripts/test.sh installs into `.tools/npm`.
pub fn npm_binary(package: &str, name: &str) -> PathBuf {
    repository()
        .join(".tools/npm/node_modules/@restatedev")
        .join(format!("{package}-linux-x64/bin/{name}"))
}

pub fn restate_jepsen(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `cluster up --nodes N --dir DIR` on a /24 of its own under `10.<second>.x`, so that a
/// cluster someone keeps up (or another run of the test) is untouched: x starts from the
/// process id and the next one is tried while `up` says the subnet is taken (exit 254).
/// The output of the last `up` and the x it used.
pub fn cluster_up_on_free_subnet(dir: &Path, nodes: usize, second: u32) -> (Output, u32) {
    let dir_text = dir.to_string_lossy().into_owned();
    let mut octet = 100 + std::process::id() % 100;
    loop {
        let subnet = format!("10.{second}.{octet}.0/24");
        let nodes = nodes.to_string();
        let up = restate_jepsen(&[
            "cluster", "up", "--nodes", &nodes, "--dir", &dir_text, "--subnet", &subnet,
        ]);
        let taken = up.status.code() == Some(254) && text(&up.stderr).contains("already");
        if !taken || octet >= 250 {
            return (up, octet);
        }
        octet += 1;
    }
}

/// Runs `cluster down` when dropped, so a failing test leaves nothing behind.
pub struct ClusterGuard {
    pub dir: PathBuf,
}

impl ClusterGuard {
    pub fn down(&self) -> Output {
        restate_jepsen(&["cluster", "down", "--dir", &self.dir.to_string_lossy()])
    }
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        let _ = self.down();
    }
}

/// `ssh root@ip command` with the cluster's key; the output, whatever the exit status.
pub fn ssh(key: &Path, ip: &str, command: &str) -> Output {
    Command::new("ssh")
        .arg("-i")
        .arg(key)
        .args([
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
        ])
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=5",
        ])
        .arg(format!("root@{ip}"))
        .arg(command)
        .output()
        .expect("ssh runs")
}

/// `ssh root@ip command`; its stdout, asserting success.
pub fn ssh_ok(key: &Path, ip: &str, command: &str) -> String {
    let out = ssh(key, ip, command);
    assert!(
        out.status.success(),
        "ssh {ip} `{command}` failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}
