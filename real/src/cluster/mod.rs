//! A real Restate cluster's machines on one Linux host: `cluster up` makes nodes n1..nN as
//! network namespaces on a bridge, each running its own sshd (own host key, hostname and
//! process table), an SSH key for the control node, and a Jepsen nodes file; `cluster down`
//! removes all of it. The namespaces have no default route, so what runs on a node (such as
//! restate-server, which calls out at every start) reaches only the other nodes and the host.
//! Each node also has a podman setup of its own (`containers.rs`), so `docker run
//! --network=host` over SSH runs a container in that node's namespaces (`--image`).
//!
//! Everything made is first recorded in `<dir>/state.txt` ([`state`]); `down` and a failed
//! `up` undo exactly the recorded items, so a half-made cluster is never left behind.

pub(crate) mod command;
mod containers;
mod network;
mod sshd;
mod state;

pub use network::Subnet;

use command::{effective_uid, find_program, run};
use state::{Item, StateFile};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Why `up` or `down` failed: bad input (exit 254) or an unexpected failure (exit 255).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    BadInput(String),
    Failed(String),
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::BadInput(m) | ClusterError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ClusterError {}

/// What to make.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    /// How many nodes (1..=50).
    pub nodes: usize,
    /// The cluster's folder (keys, nodes file, per-node folders, state).
    pub dir: PathBuf,
    pub subnet: Subnet,
}

/// One node of a cluster that is up.
#[derive(Debug, Clone)]
pub struct Node {
    /// `n1`, `n2`, …: also its hostname.
    pub name: String,
    pub ip: Ipv4Addr,
    /// Its network namespace (`ip netns exec NETNS …` runs a command there).
    pub netns: String,
    /// Its folder inside the cluster folder (sshd files; a place for its data and logs).
    pub dir: PathBuf,
}

/// A cluster that is up.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The cluster folder, absolute.
    pub dir: PathBuf,
    pub subnet: Subnet,
    pub nodes: Vec<Node>,
    /// One node address a line, as Jepsen's `--nodes-file`.
    pub nodes_file: PathBuf,
    /// `ADDRESS NAME` lines, like /etc/hosts.
    pub hosts_file: PathBuf,
    /// The control node's private key, authorized for root on every node.
    pub private_key: PathBuf,
}

impl Cluster {
    /// The `real` command line that runs a test against this cluster, with `--binary` when
    /// a restate-server binary is given (the nodes share this host's files, so a path here
    /// is a path there).
    pub fn real_command(&self, binary: Option<&Path>) -> String {
        let mut command = format!(
            "restate-jepsen real --nodes-file {} --username root --ssh-private-key {}",
            self.nodes_file.display(),
            self.private_key.display()
        );
        if let Some(binary) = binary {
            command.push_str(&format!(" --binary {}", binary.display()));
        }
        command.push_str(" --workload set-vo --nemesis kill-random-node");
        command
    }
}

const MAX_NODES: usize = 50;
const SSHD_START_TIMEOUT: Duration = Duration::from_secs(15);

/// Makes the cluster. Fails with [`ClusterError::BadInput`] when not root, a tool is
/// missing, `nodes` is out of range, a cluster is already up in `dir` (run `down` first), or
/// the subnet's names or addresses are taken on this host. On any failure after the first
/// thing was made, everything made is removed again before returning.
pub fn up(spec: &ClusterSpec) -> Result<Cluster, ClusterError> {
    let sshd = preflight(spec)?;
    if StateFile::in_dir(&spec.dir).exists() {
        return Err(ClusterError::BadInput(format!(
            "a cluster is already up in {0} (run `cluster down --dir {0}` first)",
            spec.dir.display()
        )));
    }
    check_names_free(spec)?;
    std::fs::create_dir_all(&spec.dir)
        .map_err(|e| ClusterError::BadInput(format!("--dir {}: {e}", spec.dir.display())))?;
    let dir = spec
        .dir
        .canonicalize()
        .map_err(|e| ClusterError::BadInput(format!("--dir {}: {e}", spec.dir.display())))?;
    let state = StateFile::in_dir(&dir);
    state.create()?;
    match build(spec, &dir, &state, &sshd) {
        Ok(cluster) => Ok(cluster),
        Err(e) => {
            let cleanup = teardown(&dir, &state);
            Err(match cleanup {
                Ok(()) => e,
                Err(more) => ClusterError::Failed(format!("{e}; cleaning up also failed: {more}")),
            })
        }
    }
}

/// Removes everything `up` made in `dir`: node processes, namespaces, veths, bridge and
/// the files. Returns false when there was no cluster in `dir` (nothing to do).
pub fn down(dir: &Path) -> Result<bool, ClusterError> {
    if effective_uid() != Some(0) {
        return Err(ClusterError::BadInput(
            "cluster down must run as root (it removes network namespaces)".into(),
        ));
    }
    let state = StateFile::in_dir(dir);
    if !state.exists() {
        return Ok(false);
    }
    teardown(dir, &state)?;
    Ok(true)
}

/// Checks root and the tools; returns sshd's path (it must be absolute to run).
fn preflight(spec: &ClusterSpec) -> Result<PathBuf, ClusterError> {
    if effective_uid() != Some(0) {
        return Err(ClusterError::BadInput(
            "cluster up must run as root (it creates network namespaces and a bridge)".into(),
        ));
    }
    if !(1..=MAX_NODES).contains(&spec.nodes) {
        return Err(ClusterError::BadInput(format!(
            "--nodes {}: give 1 to {MAX_NODES}",
            spec.nodes
        )));
    }
    let missing = |tool: &str, package: &str| {
        ClusterError::BadInput(format!(
            "{tool} is missing: install {package} (scripts/test.sh does)"
        ))
    };
    for (tool, package) in [
        ("ip", "iproute2"),
        ("unshare", "util-linux"),
        ("nsenter", "util-linux"),
        ("ssh-keygen", "openssh-client"),
        ("bash", "bash"),
        ("kill", "procps"),
    ] {
        find_program(tool).ok_or_else(|| missing(tool, package))?;
    }
    find_program("sshd").ok_or_else(|| missing("sshd", "openssh-server"))
}

fn check_names_free(spec: &ClusterSpec) -> Result<(), ClusterError> {
    let subnet = &spec.subnet;
    let taken = |what: String| {
        ClusterError::BadInput(format!(
            "{what} already exists: another cluster uses subnet {subnet} (run `cluster down` for it, or pick another --subnet)"
        ))
    };
    if network::link_exists(&subnet.bridge_name()) {
        return Err(taken(format!("bridge {}", subnet.bridge_name())));
    }
    for n in 1..=spec.nodes {
        let netns = subnet.netns_name(&format!("n{n}"));
        if network::netns_exists(&netns) {
            return Err(taken(format!("network namespace {netns}")));
        }
        if network::link_exists(&netns) {
            return Err(taken(format!("interface {netns}")));
        }
    }
    if network::subnet_in_use(subnet)? {
        return Err(ClusterError::BadInput(format!(
            "subnet {subnet} is already in use on this host: pick another --subnet"
        )));
    }
    Ok(())
}

fn build(
    spec: &ClusterSpec,
    dir: &Path,
    state: &StateFile,
    sshd: &Path,
) -> Result<Cluster, ClusterError> {
    let subnet = spec.subnet;
    let write = |path: &Path, text: String| {
        std::fs::write(path, text)
            .map_err(|e| ClusterError::Failed(format!("{}: {e}", path.display())))
    };

    // The control node's key, authorized for root on every node.
    let private_key = dir.join("id_ed25519");
    let authorized_keys = dir.join("authorized_keys");
    for name in ["id_ed25519", "id_ed25519.pub", "authorized_keys"] {
        state.record(Item::Path(name.into()))?;
    }
    let key = private_key.to_string_lossy();
    run(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "restate-jepsen-control",
            "-f",
            &key,
        ],
    )?;
    std::fs::copy(dir.join("id_ed25519.pub"), &authorized_keys)
        .map_err(|e| ClusterError::Failed(format!("{}: {e}", authorized_keys.display())))?;

    state.record(Item::Bridge(subnet.bridge_name()))?;
    network::create_bridge(&subnet)?;

    let mut nodes = Vec::new();
    for n in 1..=spec.nodes {
        let name = format!("n{n}");
        let node = Node {
            netns: subnet.netns_name(&name),
            ip: subnet.node_ip(n),
            dir: dir.join(&name),
            name,
        };
        state.record(Item::Path(node.name.clone()))?;
        std::fs::create_dir_all(&node.dir)
            .map_err(|e| ClusterError::Failed(format!("{}: {e}", node.dir.display())))?;
        state.record(Item::Netns(node.netns.clone()))?;
        network::create_netns(&node.netns)?;
        state.record(Item::Veth(node.netns.clone()))?;
        network::connect_netns(&subnet, &node.netns, &node.netns, node.ip)?;
        nodes.push(node);
    }

    let mut started = Vec::new();
    for node in &nodes {
        let containers = containers::ContainerFiles::in_dir(&node.dir);
        containers.write()?;
        let files = sshd::SshdFiles::in_dir(&node.dir);
        files.write(&node.dir, node.ip, &authorized_keys, &containers)?;
        let mut child = files.start(&node.netns, &node.name, sshd)?;
        if let Err(e) = state.record(Item::Pid(child.id())) {
            let _ = child.kill();
            return Err(e);
        }
        started.push((files, child));
    }
    let deadline = Instant::now() + SSHD_START_TIMEOUT;
    for (node, (files, child)) in nodes.iter().zip(&mut started) {
        files.wait_listening(&node.name, node.ip, child, deadline)?;
    }
    check_nodes_reach_each_other(&subnet, &nodes)?;

    let nodes_file = dir.join("nodes.txt");
    let hosts_file = dir.join("hosts");
    state.record(Item::Path("nodes.txt".into()))?;
    write(
        &nodes_file,
        nodes.iter().map(|n| format!("{}\n", n.ip)).collect(),
    )?;
    state.record(Item::Path("hosts".into()))?;
    write(
        &hosts_file,
        nodes
            .iter()
            .map(|n| format!("{} {}\n", n.ip, n.name))
            .collect(),
    )?;
    Ok(Cluster {
        dir: dir.to_path_buf(),
        subnet,
        nodes,
        nodes_file,
        hosts_file,
        private_key,
    })
}

/// Each node must reach the next one's sshd over the bridge (the host reaching them all is
/// already known). A host firewall can forbid it: with `bridge-nf-call-iptables` on, bridged
/// traffic crosses the host's FORWARD chain, whose policy Docker, for one, sets to DROP.
fn check_nodes_reach_each_other(subnet: &Subnet, nodes: &[Node]) -> Result<(), ClusterError> {
    if nodes.len() < 2 {
        return Ok(());
    }
    for (i, from) in nodes.iter().enumerate() {
        let to = &nodes[(i + 1) % nodes.len()];
        if !network::reaches(&from.netns, to.ip, 22) {
            return Err(ClusterError::Failed(format!(
                "node {} cannot reach {} ({}:22) over the bridge: the host's firewall may drop bridged traffic (FORWARD policy DROP); allow it with `iptables -I FORWARD -i {br} -o {br} -j ACCEPT`",
                from.name,
                to.name,
                to.ip,
                br = subnet.bridge_name()
            )));
        }
    }
    Ok(())
}

/// Undoes the recorded items, last made first; goes on past errors and reports the first.
fn teardown(dir: &Path, state: &StateFile) -> Result<(), ClusterError> {
    let items = state.read()?;
    let mut first_error: Option<ClusterError> = None;
    let mut note = |result: Result<(), ClusterError>| {
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    };
    // Processes first: each node's unshare (its init and everything under it die with it),
    // then anything else still running in the namespaces.
    let pids: Vec<u32> = items
        .iter()
        .filter_map(|i| match i {
            Item::Pid(pid) if is_node_process(*pid) => Some(*pid),
            _ => None,
        })
        .collect();
    kill_all(&pids);
    let namespaces: Vec<&String> = items
        .iter()
        .filter_map(|i| match i {
            Item::Netns(name) if network::netns_exists(name) => Some(name),
            _ => None,
        })
        .collect();
    for netns in &namespaces {
        note(empty_netns(netns));
    }
    for item in items.iter().rev() {
        match item {
            Item::Netns(name) if network::netns_exists(name) => {
                note(run("ip", &["netns", "del", name]).map(drop))
            }
            Item::Veth(name) | Item::Bridge(name) if network::link_exists(name) => {
                note(run("ip", &["link", "del", name]).map(drop))
            }
            _ => {}
        }
    }
    // Cgroups of containers that died with their node (they are empty now).
    for item in &items {
        if let Item::Path(relative) = item {
            note(containers::remove_leftover_cgroups(&dir.join(relative)));
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    // Files last, so a failed teardown can be retried with the state it needs.
    for item in items.iter().rev() {
        if let Item::Path(relative) = item {
            let path = dir.join(relative);
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match removed {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(ClusterError::Failed(format!("{}: {e}", path.display())))
                }
                _ => {}
            }
        }
    }
    state.remove()?;
    let _ = std::fs::remove_dir(dir); // only if empty: the folder may hold other things
    Ok(())
}

/// Whether `pid` is still a node's `unshare` (and not a reused pid).
fn is_node_process(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|comm| comm.trim() == "unshare")
        .unwrap_or(false)
}

fn kill_all(pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let texts: Vec<String> = pids.iter().map(u32::to_string).collect();
    let mut args = vec!["-9"];
    args.extend(texts.iter().map(String::as_str));
    let _ = run("kill", &args); // some may be gone already
}

/// Kills every process in `netns` and waits until none is left.
fn empty_netns(netns: &str) -> Result<(), ClusterError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = network::netns_pids(netns)?;
        if pids.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ClusterError::Failed(format!(
                "processes {pids:?} in namespace {netns} did not die"
            )));
        }
        kill_all(&pids);
        std::thread::sleep(Duration::from_millis(50));
    }
}
