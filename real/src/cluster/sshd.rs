//! A node's `sshd`: its own host key and config in the node's folder, started inside the
//! node's network namespace under `unshare --uts --pid --fork --mount-proc --kill-child`, so
//! the node has its own hostname and process table (a `pkill` on a node sees only that
//! node), and a private `/run` (sshd's privilege-separation folder lives there, so nothing
//! is created on the host). The node's init is a bash loop that reaps orphans and ends when
//! sshd does; killing the `unshare` (its pid is recorded) kills the whole node.
//!
//! The namespace is joined with `nsenter --net`, not `ip netns exec`: the latter mounts a
//! fresh `/sys`, which hides the host's cgroup mounts, and runc (containers on the node)
//! needs them. Sessions get the node's container engine config ([`ContainerFiles`]) and a
//! `PATH` with the system folders first, so `docker` is podman-docker's `/usr/bin/docker`
//! as on a Debian node, not a Docker client in `/usr/local/bin` with no engine behind it.

use super::command::run;
use super::containers::ContainerFiles;
use super::ClusterError;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The node's init: `$1` hostname, `$2` sshd, `$3` its config, `$4` its log.
const NODE_INIT: &str = r#"set -e
hostname "$1"
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/sshd
"$2" -D -f "$3" -E "$4" &
sshd=$!
set +e
while kill -0 "$sshd" 2>/dev/null; do sleep 1; done
"#;

/// The `PATH` of a session on a node: the system folders before `/usr/local`.
const SESSION_PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin:/usr/local/sbin:/usr/local/bin";

/// The files of one node's sshd, inside the node's folder.
pub struct SshdFiles {
    pub config: PathBuf,
    pub log: PathBuf,
    pub init_log: PathBuf,
}

impl SshdFiles {
    pub fn in_dir(node_dir: &Path) -> SshdFiles {
        SshdFiles {
            config: node_dir.join("sshd_config"),
            log: node_dir.join("sshd.log"),
            init_log: node_dir.join("init.log"),
        }
    }

    /// Makes the host key and writes a config that listens on `ip:22`, lets root in with
    /// the keys in `authorized_keys` only, and needs nothing outside the node's folder.
    pub fn write(
        &self,
        node_dir: &Path,
        ip: Ipv4Addr,
        authorized_keys: &Path,
        containers: &ContainerFiles,
    ) -> Result<(), ClusterError> {
        let host_key = node_dir.join("ssh_host_ed25519_key");
        let key = host_key.to_string_lossy();
        run(
            "ssh-keygen",
            &["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", &key],
        )?;
        let config = format!(
            "# Written by `restate-jepsen cluster up`.\n\
             ListenAddress {ip}:22\n\
             HostKey {key}\n\
             PidFile none\n\
             AuthorizedKeysFile {authorized}\n\
             PermitRootLogin prohibit-password\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             UsePAM no\n\
             StrictModes no\n\
             PrintMotd no\n\
             PrintLastLog no\n\
             MaxStartups 200\n\
             MaxSessions 200\n\
             Subsystem sftp internal-sftp\n\
             SetEnv PATH={SESSION_PATH} CONTAINERS_CONF={containers_conf} CONTAINERS_STORAGE_CONF={storage_conf}\n",
            authorized = authorized_keys.display(),
            containers_conf = containers.containers_conf.display(),
            storage_conf = containers.storage_conf.display(),
        );
        std::fs::write(&self.config, config)
            .map_err(|e| ClusterError::Failed(format!("{}: {e}", self.config.display())))
    }

    /// Starts the node (init + sshd) in `netns` with hostname `name`; returns its `unshare`
    /// (whose pid is the node's). Output goes to files: the node outlives this process.
    pub fn start(&self, netns: &str, name: &str, sshd: &Path) -> Result<Child, ClusterError> {
        let fail =
            |e: std::io::Error| ClusterError::Failed(format!("{}: {e}", self.init_log.display()));
        let init_log = File::create(&self.init_log).map_err(fail)?;
        let init_err = init_log.try_clone().map_err(fail)?;
        Command::new("nsenter")
            .arg(format!("--net=/run/netns/{netns}"))
            .args([
                "unshare",
                "--uts",
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
            ])
            .args(["bash", "-c", NODE_INIT, "node-init", name])
            .arg(sshd)
            .arg(&self.config)
            .arg(&self.log)
            .stdin(Stdio::null())
            .stdout(init_log)
            .stderr(init_err)
            .process_group(0)
            .spawn()
            .map_err(|e| ClusterError::Failed(format!("cannot start node {name}: {e}")))
    }

    /// Waits until `ip:22` accepts connections, failing early (with the node's last log
    /// line) if the node's process has ended.
    pub fn wait_listening(
        &self,
        name: &str,
        ip: Ipv4Addr,
        node: &mut Child,
        deadline: Instant,
    ) -> Result<(), ClusterError> {
        let address = SocketAddr::from((ip, 22));
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            let alive = matches!(node.try_wait(), Ok(None));
            if !alive || Instant::now() >= deadline {
                let why = if alive {
                    "did not listen in time"
                } else {
                    "exited"
                };
                return Err(ClusterError::Failed(format!(
                    "sshd of node {name} on {address} {why}: {}",
                    self.last_log_line()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn last_log_line(&self) -> String {
        [&self.log, &self.init_log]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|text| {
                text.lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(String::from)
            })
            .next()
            .unwrap_or_else(|| "no log".to_string())
    }
}
