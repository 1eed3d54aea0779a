//! The modeled Restate cluster: N nodes (`n1` … `nN`) on the simulated network, each
//! with its own simulated disk, and the handles a test needs: a [`SimTransport`] for
//! its clients, the network to inflict faults on, and a control node to run the test's
//! interpreter on.
//!
//! Must be created inside a madsim simulation (e.g. in [`crate::run_iteration`]).

use super::bugs::BugSet;
use super::disk::{DiskTiming, NodeDisk};
use super::metadata_server::{MemberSpec, RaftTiming, RAFT_PORT};
use super::node::{run_node, NodeSpec};
use super::transport::SimTransport;
use crate::network::{NetworkConfig, SimNetwork};
use jepsen_core::fault::FaultOptions;
use jepsen_core::workload::transport::{Request, Transport, ADMIN_PORT};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// How the cluster is built.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterOptions {
    /// Number of nodes (at least 1).
    pub nodes: usize,
    /// The injected defects switched on.
    pub bugs: BugSet,
    /// The network's steady state.
    pub network: NetworkConfig,
    pub raft: RaftTiming,
    pub disk: DiskTiming,
    /// The clients' request timeout ([`SimTransport`]).
    pub client_timeout: Duration,
    /// `default-replication`: log servers that must store a partition's record.
    pub replication: usize,
    /// How long a node waits for another node's answer (Restate's short network timeouts).
    pub internal_timeout: Duration,
    pub faults: FaultOptions,
}

impl Default for ClusterOptions {
    /// 3 nodes, no bugs, madsim's default network, Restate's Raft timing, the clients'
    /// 5 s timeout (restatedev/jepsen's), replication 2, 1 s between nodes.
    fn default() -> Self {
        ClusterOptions {
            nodes: 3,
            bugs: BugSet::new(),
            network: NetworkConfig::default(),
            raft: RaftTiming::default(),
            disk: DiskTiming::default(),
            client_timeout: Duration::from_secs(5),
            replication: 2,
            internal_timeout: Duration::from_secs(1),
            faults: FaultOptions::default(),
        }
    }
}

/// The madsim name of the node the test's interpreter runs on.
pub const CONTROL_NODE: &str = "control";

/// The running cluster.
pub struct SimCluster {
    pub(crate) network: SimNetwork,
    names: Vec<String>,
    disks: BTreeMap<String, Arc<NodeDisk>>,
    pub(crate) options: ClusterOptions,
}

impl SimCluster {
    /// Starts the nodes `n1` … `nN` (madsim runs them once the caller awaits).
    ///
    /// Panics outside a madsim simulation, or with no nodes.
    pub fn start(options: ClusterOptions) -> SimCluster {
        assert!(options.nodes >= 1, "a cluster needs at least one node");
        assert!(
            (1..=options.nodes).contains(&options.replication),
            "replication must be between 1 and the number of nodes"
        );
        let directory = Arc::new(OnceLock::new());
        let mut addresses = BTreeMap::new();
        let mut network = SimNetwork::new(options.network.clone());
        let peers = Arc::new(OnceLock::new());
        let voters: Vec<u64> = (1..=options.nodes as u64).collect();
        let mut raft_addresses = BTreeMap::new();
        let mut names = Vec::new();
        let mut disks = BTreeMap::new();
        for id in 1..=options.nodes as u64 {
            let name = format!("n{id}");
            let disk = Arc::new(NodeDisk::format(voters.clone(), options.disk.clone()));
            let spec = Arc::new(NodeSpec {
                name: name.clone(),
                member: MemberSpec {
                    id,
                    peers: peers.clone(),
                    disk: disk.clone(),
                    bugs: options.bugs.clone(),
                    timing: options.raft.clone(),
                },
                directory: directory.clone(),
                replication: options.replication,
                internal_timeout: options.internal_timeout,
            });
            let node = network.add_node(&name, move || run_node(spec.clone()));
            raft_addresses.insert(id, SocketAddr::new(node.ip, RAFT_PORT));
            addresses.insert(name.clone(), node.ip);
            disks.insert(name.clone(), disk);
            names.push(name);
        }
        peers
            .set(raft_addresses)
            .expect("the peer addresses are set once");
        directory
            .set(addresses)
            .expect("the addresses are set once");
        SimCluster {
            network,
            names,
            disks,
            options,
        }
    }

    /// The nodes' names, `n1` … `nN`.
    pub fn nodes(&self) -> Vec<String> {
        self.names.clone()
    }

    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// A transport to the nodes, for clients on the control node.
    pub fn transport(&self) -> SimTransport {
        let addresses = self
            .names
            .iter()
            .map(|n| (n.clone(), self.network.node(n).ip))
            .collect();
        SimTransport::new(addresses, self.options.client_timeout)
    }

    /// The network and its faults.
    pub fn network(&self) -> &SimNetwork {
        &self.network
    }

    /// Kills every node, so that the simulation drops their tasks when it ends (madsim
    /// leaves a live task, and all it holds, allocated forever).
    pub fn shut_down(&mut self) {
        for name in self.names.clone() {
            if !self.network.killed().contains(&name) {
                self.network.kill(&name);
            }
        }
    }

    pub fn network_mut(&mut self) -> &mut SimNetwork {
        &mut self.network
    }

    /// The node's disk (what survives its crashes).
    pub fn disk(&self, node: &str) -> &NodeDisk {
        &self.disks[node]
    }

    /// Runs `make(cluster)` as the only task of a new node `control` (the test's control
    /// process: interpreter, clients, nemesis), which reaches the cluster over the
    /// network, and returns a future of its output (`None` if the control node was
    /// killed). The cluster moves to the control node, shared there so that both the
    /// nemesis and the test can act on it.
    pub fn run_control<T, F, Fut>(
        mut self,
        make: F,
    ) -> impl Future<Output = Option<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce(Rc<RefCell<SimCluster>>) -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
    {
        // The control node's task starts only once the caller awaits, after the cluster
        // has moved into this slot.
        let slot = Arc::new(Mutex::new(None::<SimCluster>));
        let taken = slot.clone();
        let output = self.network.run_on_new_node(CONTROL_NODE, move || {
            let cluster = taken
                .lock()
                .expect("not poisoned")
                .take()
                .expect("the cluster is handed over before the control node runs");
            make(Rc::new(RefCell::new(cluster)))
        });
        *slot.lock().expect("not poisoned") = Some(self);
        output
    }
}

/// Waits until every node's metadata server answers a read (any answer but 503 or a
/// transport error), polling every 100 ms for at most `limit`; whether it did. Run it
/// on the control node.
pub async fn wait_until_ready(
    transport: &dyn Transport,
    nodes: &[String],
    limit: Duration,
) -> bool {
    let start = madsim::time::Instant::now();
    let mut waiting: Vec<String> = nodes.to_vec();
    loop {
        let mut still = Vec::new();
        for node in waiting {
            let probe = Request::new("GET", ADMIN_PORT, "/metadata/jepsen-readiness-probe");
            match transport.send(&node, probe).await {
                Ok(r) if r.status < 500 => {}
                _ => still.push(node),
            }
        }
        waiting = still;
        if waiting.is_empty() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        madsim::time::sleep(Duration::from_millis(100)).await;
    }
}
