//! The real world's fault effector: how genuine faults are inflicted on the nodes and
//! undone; which faults a test performs, and how they are recorded, is the core's
//! ([`jepsen_core::fault::FaultNemesis`]). Partitions are iptables rules on each node
//! dropping what it must not hear (`iptables -A INPUT -s IPS -j DROP -w`), healed by
//! flushing every node's tables; kills and pauses go through the database layer
//! ([`DbControl`]: SIGKILL and a restart with the same command line, SIGSTOP and SIGCONT);
//! shaping is a netem qdisc on every interface but loopback. The effector remembers what
//! it inflicted and undoes all of it from the heal-on-exit guard on a panic or a signal.
//!
//! Actions name nodes logically (`n1` … `nN`): node i of the nodes list is `n<i>`.

use crate::remote::{shell_quote, BoxFuture, Remote, RemoteError};
use futures::future::join_all;
use jepsen_core::fault::{Action, Fault, FaultEffector, FaultNemesis, FaultOptions, Netem};
use jepsen_core::runtime::{LocalBoxFuture, SharedRng};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// What the nemesis needs from the database layer: stop and start its server on a node.
pub trait DbControl: Send + Sync {
    /// Kills the server on `node` with SIGKILL.
    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>>;
    /// Starts the server on `node` again, with the command line it was started with.
    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>>;
    /// Stops the server on `node` with SIGSTOP.
    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>>;
    /// Continues a paused server on `node` with SIGCONT.
    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>>;

    /// Whether [`DbControl::wipe_partition_store`] is available.
    fn can_wipe_partition_store(&self) -> bool {
        false
    }

    /// Moves the partition store of the (killed) server on `node` aside, as
    /// restatedev/jepsen's nuke-partition-state does.
    fn wipe_partition_store<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            Err(RemoteError::Io {
                node: node.to_string(),
                message: "this database cannot wipe a partition store".to_string(),
            })
        })
    }
}

/// The faults in force, by address.
#[derive(Debug, Default)]
struct Inflicted {
    killed: BTreeSet<String>,
    paused: BTreeSet<String>,
    /// Whether iptables rules may be on the nodes.
    partitioned: bool,
    /// Whether a netem qdisc may be on the nodes' interfaces.
    shaped: bool,
    /// Set once healing for exit began: no new fault may start.
    closing: bool,
}

/// The logical name of the node at `index` of a nodes list: `n1`, `n2`, ...
pub fn logical_name(index: usize) -> String {
    format!("n{}", index + 1)
}

struct EffectorState {
    remote: Arc<dyn Remote>,
    db: Arc<dyn DbControl>,
    /// Logical name -> address, in node order.
    addresses: BTreeMap<String, String>,
    nodes: Vec<String>,
    /// Whether `heal` flushes iptables on every node even when no partition is known
    /// (a rule may be in place while its action was cut short).
    always_flush: bool,
    inflicted: Mutex<Inflicted>,
}

/// Inflicts the core's fault actions on real nodes and undoes them; cheap to clone,
/// usable from any thread (the heal-on-exit guard's included).
#[derive(Clone)]
pub struct RealEffector(Arc<EffectorState>);

impl RealEffector {
    /// An effector on `nodes` (their addresses, in order: the first is `n1`) through
    /// `remote` and `db`. With `may_partition`, healing always flushes iptables.
    pub fn new(
        remote: Arc<dyn Remote>,
        db: Arc<dyn DbControl>,
        nodes: Vec<String>,
        may_partition: bool,
    ) -> RealEffector {
        let addresses = nodes
            .iter()
            .enumerate()
            .map(|(i, a)| (logical_name(i), a.clone()))
            .collect();
        RealEffector(Arc::new(EffectorState {
            remote,
            db,
            addresses,
            nodes,
            always_flush: may_partition,
            inflicted: Mutex::default(),
        }))
    }

    /// Each logical node name and its address.
    pub fn hosts(&self) -> &BTreeMap<String, String> {
        &self.0.addresses
    }

    /// The logical node names, in order.
    pub fn names(&self) -> Vec<String> {
        (0..self.0.nodes.len()).map(logical_name).collect()
    }

    /// Why this world cannot perform `action`, if it cannot: a partition or shaping over a
    /// local remote (`--no-ssh`) would cut or slow this machine's own network; a wipe needs
    /// a database that knows its partition store.
    pub fn refusal(&self, action: &Action) -> Option<String> {
        let local = self.0.remote.is_local();
        match action {
            Action::Partition(_) if local => Some(
                "partitions need SSH nodes: with --no-ssh iptables rules would cut this machine's own network".to_string(),
            ),
            Action::Shape(_) if local => Some(
                "packet loss and latency need SSH nodes: with --no-ssh a netem qdisc would slow this machine's own network".to_string(),
            ),
            Action::WipePartitionStore(_) if !self.0.db.can_wipe_partition_store() => Some(
                "wiping a partition store needs a database that knows where it is".to_string(),
            ),
            _ => None,
        }
    }

    /// Why this world cannot inflict `fault`, if it cannot (see [`RealEffector::refusal`]).
    pub fn refuse_fault(&self, fault: Fault) -> Result<(), String> {
        let names = self.names();
        let mut rng = jepsen_core::runtime::seeded_rng(0, "refusal");
        let sample = jepsen_core::fault::plan::plan_start(
            fault,
            &names,
            &Default::default(),
            &FaultOptions::default(),
            &mut rng,
        );
        match sample.iter().find_map(|a| self.refusal(a)) {
            Some(why) => Err(format!("nemesis {fault}: {why}")),
            None => Ok(()),
        }
    }

    fn address(&self, node: &str) -> Result<&str, String> {
        self.0
            .addresses
            .get(node)
            .map(String::as_str)
            .ok_or_else(|| format!("no node {node} in this cluster of {}", self.0.nodes.len()))
    }

    fn inflicted(&self) -> std::sync::MutexGuard<'_, Inflicted> {
        self.0.inflicted.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn on_every_node(&self, command: &str) -> Result<(), RemoteError> {
        let remote = &self.0.remote;
        let results = join_all(self.0.nodes.iter().map(|n| remote.sudo(n, command))).await;
        results.into_iter().collect::<Result<Vec<_>, _>>().map(drop)
    }

    /// Flushes iptables on every node (and deletes user chains).
    pub async fn heal_network(&self) -> Result<(), RemoteError> {
        self.on_every_node("iptables -F -w; iptables -X -w").await?;
        self.inflicted().partitioned = false;
        Ok(())
    }

    /// Removes the netem qdisc from every interface of every node.
    pub async fn heal_shaping(&self) -> Result<(), RemoteError> {
        self.on_every_node(&format!(
            "{INTERFACES}; for d in $devs; do tc qdisc del dev \"$d\" root 2>/dev/null; done; true"
        ))
        .await?;
        self.inflicted().shaped = false;
        Ok(())
    }

    /// Removes what any run may have left on the nodes' network: every iptables rule and
    /// every netem qdisc (a harness killed with -9 heals nothing).
    pub async fn heal_leftovers(&self) -> Result<(), String> {
        let network = self.heal_network().await.map_err(|e| e.to_string());
        let shaping = self.heal_shaping().await.map_err(|e| e.to_string());
        network.and(shaping)
    }

    /// Undoes every fault it may have left: network first (so restarted nodes find their
    /// peers), then shaping, paused servers, killed ones. Goes on past failures; reports
    /// them all.
    pub async fn heal(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        let (partitioned, shaped, paused, killed) = {
            let i = self.inflicted();
            (i.partitioned, i.shaped, i.paused.clone(), i.killed.clone())
        };
        if partitioned || self.0.always_flush {
            if let Err(e) = self.heal_network().await {
                errors.push(e.to_string());
            }
        }
        if shaped {
            if let Err(e) = self.heal_shaping().await {
                errors.push(e.to_string());
            }
        }
        for node in &paused {
            match self.0.db.resume(node).await {
                Ok(()) => {
                    self.inflicted().paused.remove(node);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        for node in &killed {
            match self.0.db.start(node).await {
                Ok(()) => {
                    self.inflicted().killed.remove(node);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Stops new faults and heals, blocking, on a thread and runtime of its own: callable
    /// from a signal handler's thread, a `Drop`, or inside another runtime.
    pub fn heal_for_exit(&self) -> Result<(), String> {
        self.inflicted().closing = true;
        let this = self.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot build a runtime to heal: {e}"))?;
            rt.block_on(this.heal())
        })
        .join()
        .unwrap_or_else(|_| Err("healing panicked".to_string()))
    }

    /// Whether any fault may be in force.
    pub fn anything_in_force(&self) -> bool {
        let i = self.inflicted();
        i.partitioned || i.shaped || !i.killed.is_empty() || !i.paused.is_empty()
    }

    /// Checks that every node's kernel has netem (a qdisc put on loopback and removed),
    /// so that a run cannot start without its fault.
    async fn probe_netem(&self, fault: Fault) -> Result<(), String> {
        let probe = "tc qdisc add dev lo root netem delay 0ms && tc qdisc del dev lo root";
        for node in &self.0.nodes {
            let out = self
                .0
                .remote
                .run_sudo(node, probe)
                .await
                .map_err(|e| e.to_string())?;
            if !out.success() {
                return Err(format!(
                    "nemesis {fault} needs tc netem, and node {node}'s kernel has none ({}): load the sch_netem module there, or pick another nemesis",
                    out.stderr.trim()
                ));
            }
        }
        Ok(())
    }

    async fn perform(&self, action: &Action) -> Result<(), String> {
        if self.inflicted().closing {
            return Err("the run is closing: no new fault".to_string());
        }
        if let Some(why) = self.refusal(action) {
            return Err(why);
        }
        let db = &self.0.db;
        let e = |e: RemoteError| e.to_string();
        // The address of a node action's node (empty for the others).
        let address = match action.node() {
            Some(node) => self.address(node)?.to_string(),
            None => String::new(),
        };
        match action {
            Action::Partition(grudge) => {
                self.inflicted().partitioned = true;
                let mut commands = Vec::new();
                for (node, dropped) in grudge.iter().filter(|(_, d)| !d.is_empty()) {
                    let sources: Vec<&str> = dropped
                        .iter()
                        .map(|d| self.address(d))
                        .collect::<Result<_, _>>()?;
                    let command = format!(
                        "iptables -A INPUT -s {} -j DROP -w",
                        shell_quote(&sources.join(","))
                    );
                    commands.push((self.address(node)?.to_string(), command));
                }
                let remote = &self.0.remote;
                let results = join_all(commands.iter().map(|(n, c)| remote.sudo(n, c))).await;
                results
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(e)?;
            }
            Action::HealNetwork => self.heal_network().await.map_err(e)?,
            Action::Kill(_) => {
                // Noted first: a kill cut short must still be restarted on heal.
                self.inflicted().killed.insert(address.clone());
                db.kill(&address).await.map_err(e)?;
            }
            Action::Start(_) => {
                db.start(&address).await.map_err(e)?;
                self.inflicted().killed.remove(&address);
            }
            Action::Pause(_) => {
                self.inflicted().paused.insert(address.clone());
                db.pause(&address).await.map_err(e)?;
            }
            Action::Resume(_) => {
                db.resume(&address).await.map_err(e)?;
                self.inflicted().paused.remove(&address);
            }
            Action::WipePartitionStore(_) => db.wipe_partition_store(&address).await.map_err(e)?,
            Action::Shape(netem) => {
                self.inflicted().shaped = true;
                let netem = match netem {
                    Netem::Loss(rate) => format!("loss {}%", rate * 100.0),
                    Netem::Delay(d) => format!("delay {}ms", d.as_millis()),
                };
                self.on_every_node(&format!(
                    "{INTERFACES}; for d in $devs; do tc qdisc replace dev \"$d\" root netem {netem} || exit 1; done"
                ))
                .await
                .map_err(e)?;
            }
            Action::Unshape => self.heal_shaping().await.map_err(e)?,
        }
        Ok(())
    }
}

/// The shell lines that set `$devs` to a node's network interfaces but loopback.
const INTERFACES: &str = "devs=$(ls /sys/class/net | grep -v '^lo$')";

impl FaultEffector for RealEffector {
    fn apply<'a>(&'a self, action: &'a Action) -> LocalBoxFuture<'a, Result<(), String>> {
        Box::pin(self.perform(action))
    }

    fn prepare(&self, fault: Fault) -> LocalBoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if matches!(fault, Fault::PacketLoss | Fault::LatencySpike) {
                self.probe_netem(fault).await?;
            }
            Ok(())
        })
    }
}

/// The core's nemesis inflicting `fault` through `effector`, its victims drawn from `rng`.
pub fn real_nemesis(fault: Fault, effector: &RealEffector, rng: SharedRng) -> FaultNemesis {
    FaultNemesis::planned(
        vec![fault],
        effector.names(),
        FaultOptions::default(),
        rng,
        Rc::new(effector.clone()),
    )
}
