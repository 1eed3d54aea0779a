//! The simulated cluster's nodes and network, with its faults as named knobs (as
//! TigerBeetle's simulator names them): clogged links (partitions by grudge, one-way
//! cuts), packet loss, latency and latency spikes, and node kill, restart, pause and
//! resume. A thin layer over madsim's `NetSim` and runtime `Handle` that speaks node
//! names, applies the core's grudges (`jepsen_core::fault`), and remembers what it
//! broke so that [`SimNetwork::heal`] can undo all of it.
//!
//! What madsim does underneath (0.2.34):
//! - A clogged link drops datagrams (`madsim::net::Endpoint`) sent over it; on a stream
//!   (`madsim::net::TcpStream`) data waits and flows once the link is unclogged (madsim
//!   retries with a backoff of up to 10 s, so delivery may lag the unclog). A new
//!   connection over a clogged link is refused at once, where a real dropped SYN hangs.
//! - Packet loss and latency apply to the whole network, not per link: each message is
//!   lost with the configured probability, else delayed by a latency drawn uniformly
//!   from the range. A lost stream message is retried (the backoff above), as TCP would.
//! - Every send also waits madsim's own random 0-5 µs, which its 1 ms minimum sleep
//!   turns into about 1 ms.
//! - madsim's `TcpStream` sends what was written only on `flush`.
//! - A killed node's tasks are dropped and its sockets closed (peers see it vanish);
//!   its simulated disk loses what was not synced. A restart runs the node's initial
//!   task again, with fresh memory.
//! - A paused node's tasks stop running, but its sockets stay open: messages and
//!   connections to it are accepted and queue up, and nothing answers until it resumes.
//!
//! Must be created and used inside a madsim simulation.

use jepsen_core::fault::Grudge;
use madsim::net::NetSim;
use madsim::runtime::Handle;
use madsim::task::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

/// The network's steady-state behavior: what [`SimNetwork::heal`] returns to.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkConfig {
    /// The probability that a message is lost.
    pub packet_loss: f64,
    /// One-way message latency, drawn uniformly from this range.
    pub latency: Range<Duration>,
}

impl Default for NetworkConfig {
    /// No loss; madsim's default latency of 1 to 10 ms.
    fn default() -> Self {
        NetworkConfig {
            packet_loss: 0.0,
            latency: Duration::from_millis(1)..Duration::from_millis(10),
        }
    }
}

/// One simulated node.
#[derive(Clone, Debug)]
pub struct SimNode {
    pub name: String,
    pub id: NodeId,
    pub ip: IpAddr,
}

/// The nodes of a simulated cluster and the faults currently inflicted on them.
pub struct SimNetwork {
    handle: Handle,
    net: Arc<NetSim>,
    baseline: NetworkConfig,
    nodes: BTreeMap<String, SimNode>,
    /// Links clogged by this network, as (from, to).
    clogged: BTreeSet<(String, String)>,
    killed: BTreeSet<String>,
    paused: BTreeSet<String>,
}

impl SimNetwork {
    /// A network with no nodes yet, behaving as `baseline`.
    ///
    /// Panics outside a madsim simulation.
    pub fn new(baseline: NetworkConfig) -> SimNetwork {
        let network = SimNetwork {
            handle: Handle::current(),
            net: NetSim::current(),
            baseline,
            nodes: BTreeMap::new(),
            clogged: BTreeSet::new(),
            killed: BTreeSet::new(),
            paused: BTreeSet::new(),
        };
        network.apply(&network.baseline.clone());
        network
    }

    /// Adds the node `name`, with the next address of 10.0.0.0/8 (10.0.0.1 for the first
    /// node), running `init()` as its initial task: started now, and again on every
    /// restart (with fresh memory: whatever `init` builds is lost on a kill).
    pub fn add_node<F, Fut>(&mut self, name: &str, init: F) -> &SimNode
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future + 'static,
    {
        assert!(!self.nodes.contains_key(name), "node {name} already exists");
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0001 + self.nodes.len() as u32));
        let node = self
            .handle
            .create_node()
            .name(name)
            .ip(ip)
            .init(init)
            .build();
        let node = SimNode {
            name: name.to_string(),
            id: node.id(),
            ip,
        };
        self.nodes.entry(name.to_string()).or_insert(node)
    }

    /// Adds the node `name` (with an address, like any node, so links to it can be
    /// clogged) whose only task is `make()`, and returns a future of that task's output,
    /// or `None` if the node was killed first. For the test's control process: the
    /// interpreter and its clients (whose futures are `!Send`) run there and reach the
    /// cluster over the simulated network. Madsim's supervisor task, where the
    /// simulation starts, cannot: it has no address, and madsim offers no way to give
    /// it one.
    pub fn run_on_new_node<T, F, Fut>(
        &mut self,
        name: &str,
        make: F,
    ) -> impl Future<Output = Option<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
    {
        let (sender, receiver) = futures_channel::oneshot::channel();
        // A node's initial task is a `Fn` (madsim runs it again on restart); this one
        // runs once, and does nothing if the node is ever restarted.
        let once = std::sync::Mutex::new(Some((make, sender)));
        self.add_node(name, move || {
            let task = once.lock().expect("not poisoned").take();
            async move {
                if let Some((make, sender)) = task {
                    let _ = sender.send(make().await);
                }
            }
        });
        async move { receiver.await.ok() }
    }

    /// The node named `name`. Panics if there is none.
    pub fn node(&self, name: &str) -> &SimNode {
        self.nodes
            .get(name)
            .unwrap_or_else(|| panic!("no node named {name}"))
    }

    /// Every node's name, sorted.
    pub fn names(&self) -> Vec<String> {
        self.nodes.keys().cloned().collect()
    }

    /// Runs `task` on the node `name` (as if a process there ran it): what a client
    /// outside the cluster uses to talk over the simulated network, since the
    /// simulation's main task runs on madsim's supervisor, which has no address.
    pub fn spawn_on<F>(&self, name: &str, task: F) -> madsim::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle
            .get_node(self.node(name).id)
            .expect("a node of this network")
            .spawn(task)
    }

    /// The baseline the network returns to when healed.
    pub fn baseline(&self) -> &NetworkConfig {
        &self.baseline
    }

    // --- links ---

    /// Drops every message from `from` to `to` (one way) until unclogged.
    pub fn clog_link(&mut self, from: &str, to: &str) {
        let (src, dst) = (self.node(from).id, self.node(to).id);
        self.net.clog_link(src, dst);
        self.clogged.insert((from.to_string(), to.to_string()));
    }

    /// Lets messages from `from` to `to` through again.
    pub fn unclog_link(&mut self, from: &str, to: &str) {
        let (src, dst) = (self.node(from).id, self.node(to).id);
        self.net.unclog_link(src, dst);
        self.clogged.remove(&(from.to_string(), to.to_string()));
    }

    /// Cuts the network by `grudge`: each node drops the traffic from the nodes its
    /// grudge names (Jepsen's semantics), one link at a time, so one-way grudges stay
    /// one way. Adds to links already clogged.
    pub fn partition(&mut self, grudge: &Grudge) {
        for (node, from) in grudge {
            for source in from {
                self.clog_link(source, node);
            }
        }
    }

    /// Unclogs every link this network clogged.
    pub fn heal_partition(&mut self) {
        for (from, to) in std::mem::take(&mut self.clogged) {
            self.unclog_link(&from, &to);
        }
    }

    /// The clogged links, as (from, to), sorted.
    pub fn clogged_links(&self) -> Vec<(String, String)> {
        self.clogged.iter().cloned().collect()
    }

    // --- loss and latency ---

    /// Loses each message with probability `rate` (0 to 1), across the whole network.
    pub fn set_packet_loss(&mut self, rate: f64) {
        assert!(
            (0.0..=1.0).contains(&rate),
            "packet loss {rate} not in [0, 1]"
        );
        self.net.update_config(|c| c.packet_loss_rate = rate);
    }

    /// Delays each message by a latency drawn uniformly from `latency`.
    pub fn set_latency(&mut self, latency: Range<Duration>) {
        assert!(!latency.is_empty(), "empty latency range {latency:?}");
        self.net.update_config(|c| c.send_latency = latency);
    }

    /// A latency spike: every message takes `extra` longer than the baseline latency,
    /// until [`SimNetwork::end_latency_spike`] or [`SimNetwork::heal`].
    pub fn start_latency_spike(&mut self, extra: Duration) {
        let base = self.baseline.latency.clone();
        self.set_latency(base.start + extra..base.end + extra);
    }

    /// Back to the baseline latency.
    pub fn end_latency_spike(&mut self) {
        self.set_latency(self.baseline.latency.clone());
    }

    /// The loss and latency in force now.
    pub fn current_config(&self) -> NetworkConfig {
        let mut current = NetworkConfig::default();
        self.net.update_config(|c| {
            current = NetworkConfig {
                packet_loss: c.packet_loss_rate,
                latency: c.send_latency.clone(),
            }
        });
        current
    }

    fn apply(&self, config: &NetworkConfig) {
        self.net.update_config(|c| {
            c.packet_loss_rate = config.packet_loss;
            c.send_latency = config.latency.clone();
        });
    }

    // --- nodes ---

    /// Kills the node: its tasks stop and are dropped, its sockets close, its disk
    /// loses what was not synced. It stays down until [`SimNetwork::restart`].
    pub fn kill(&mut self, name: &str) {
        self.handle.kill(self.node(name).id);
        self.paused.remove(name);
        self.killed.insert(name.to_string());
    }

    /// Restarts the node: kills it if it is up (so its sockets close), then runs its
    /// initial task again.
    pub fn restart(&mut self, name: &str) {
        let id = self.node(name).id;
        if !self.killed.contains(name) {
            self.handle.kill(id);
        }
        self.handle.restart(id);
        self.killed.remove(name);
        self.paused.remove(name);
    }

    /// Pauses the node (SIGSTOP): its tasks stop running, its sockets stay open.
    pub fn pause(&mut self, name: &str) {
        self.handle.pause(self.node(name).id);
        self.paused.insert(name.to_string());
    }

    /// Resumes a paused node: its tasks run again and work through what queued up.
    pub fn resume(&mut self, name: &str) {
        self.handle.resume(self.node(name).id);
        self.paused.remove(name);
    }

    /// The nodes killed and not restarted, sorted.
    pub fn killed(&self) -> Vec<String> {
        self.killed.iter().cloned().collect()
    }

    /// The nodes paused and not resumed, sorted.
    pub fn paused(&self) -> Vec<String> {
        self.paused.iter().cloned().collect()
    }

    /// Undoes every fault: unclogs all links, returns loss and latency to the baseline,
    /// resumes paused nodes and restarts killed ones.
    pub fn heal(&mut self) {
        self.heal_partition();
        self.apply(&self.baseline.clone());
        for name in self.paused() {
            self.resume(&name);
        }
        for name in self.killed() {
            self.restart(&name);
        }
    }
}
