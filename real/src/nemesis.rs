//! The real world's nemesis: genuine faults on the nodes, Jepsen's way. Partitions are
//! iptables rules on each node dropping what it must not hear (`iptables -A INPUT -s IPS -j
//! DROP -w`), healed by flushing every node's tables; kills and pauses go through the
//! database layer ([`DbControl`]: SIGKILL and a restart with the same command line,
//! SIGSTOP and SIGCONT). What is inflicted is recorded in a [`Healer`], which undoes all of
//! it: at `stop`, at `teardown`, and from the heal-on-exit guard on a panic or a signal.
//!
//! Ops: `{:f :start}` inflicts the fault, `{:f :stop}` heals it; the completion (`:info`)
//! says what was done, e.g. `{:isolated ["n2"], :grudge {"n1" ["n2"], …}}`, `{:killed
//! ["n3"]}`, `:network-healed`, `{:started ["n3"]}`, or `:not-started`.

use crate::remote::{shell_quote, BoxFuture, Remote, RemoteError};
use futures::future::join_all;
use jepsen_core::fault::{Fault, Grudge};
use jepsen_core::history::{Op, OpType, Value};
use jepsen_core::runtime::{ClientError, LocalBoxFuture, Nemesis};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
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

/// The faults in force.
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

/// Knows every fault in force and undoes them all. Shared by the nemesis and the
/// heal-on-exit guard; usable from any thread.
pub struct Healer {
    remote: Arc<dyn Remote>,
    db: Arc<dyn DbControl>,
    nodes: Vec<String>,
    /// Whether `heal` flushes iptables on every node even when no partition is known
    /// (a partitioning nemesis: a rule may be in place while its `start` was cut short).
    always_flush: bool,
    inflicted: Mutex<Inflicted>,
}

impl Healer {
    pub fn new(
        remote: Arc<dyn Remote>,
        db: Arc<dyn DbControl>,
        nodes: Vec<String>,
        always_flush: bool,
    ) -> Healer {
        Healer {
            remote,
            db,
            nodes,
            always_flush,
            inflicted: Mutex::default(),
        }
    }

    /// Flushes iptables on every node (and deletes user chains).
    pub async fn heal_network(&self) -> Result<(), RemoteError> {
        let flush = "iptables -F -w; iptables -X -w";
        let results = join_all(self.nodes.iter().map(|n| self.remote.sudo(n, flush))).await;
        results.into_iter().collect::<Result<Vec<_>, _>>()?;
        self.inflicted.lock().unwrap().partitioned = false;
        Ok(())
    }

    /// Removes the netem qdisc from every interface of every node.
    pub async fn heal_shaping(&self) -> Result<(), RemoteError> {
        let command = format!(
            "{INTERFACES}; for d in $devs; do tc qdisc del dev \"$d\" root 2>/dev/null; done; true"
        );
        let results = join_all(self.nodes.iter().map(|n| self.remote.sudo(n, &command))).await;
        results.into_iter().collect::<Result<Vec<_>, _>>()?;
        self.inflicted.lock().unwrap().shaped = false;
        Ok(())
    }

    /// Starts every killed node's server; the nodes started.
    pub async fn restart_killed(&self) -> Result<Vec<String>, RemoteError> {
        let killed: Vec<String> = self
            .inflicted
            .lock()
            .unwrap()
            .killed
            .iter()
            .cloned()
            .collect();
        for node in &killed {
            self.db.start(node).await?;
            self.inflicted.lock().unwrap().killed.remove(node);
        }
        Ok(killed)
    }

    /// Continues every paused node's server; the nodes resumed.
    pub async fn resume_paused(&self) -> Result<Vec<String>, RemoteError> {
        let paused: Vec<String> = self
            .inflicted
            .lock()
            .unwrap()
            .paused
            .iter()
            .cloned()
            .collect();
        for node in &paused {
            self.db.resume(node).await?;
            self.inflicted.lock().unwrap().paused.remove(node);
        }
        Ok(paused)
    }

    /// Undoes every fault in force: network first (so restarted nodes find their peers),
    /// then paused servers, then killed ones. Goes on past failures; reports them all.
    pub async fn heal(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        let (partitioned, shaped) = {
            let i = self.inflicted.lock().unwrap();
            (i.partitioned, i.shaped)
        };
        if partitioned || self.always_flush {
            if let Err(e) = self.heal_network().await {
                errors.push(e.to_string());
            }
        }
        if shaped {
            if let Err(e) = self.heal_shaping().await {
                errors.push(e.to_string());
            }
        }
        if let Err(e) = self.resume_paused().await {
            errors.push(e.to_string());
        }
        if let Err(e) = self.restart_killed().await {
            errors.push(e.to_string());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }

    /// Stops new faults and heals, blocking, on a thread and runtime of its own: callable
    /// from a signal handler's thread, a `Drop`, or inside another runtime.
    pub fn heal_for_exit(self: &Arc<Self>) -> Result<(), String> {
        self.inflicted.lock().unwrap().closing = true;
        let healer = self.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot build a runtime to heal: {e}"))?;
            rt.block_on(healer.heal())
        })
        .join()
        .unwrap_or_else(|_| Err("healing panicked".to_string()))
    }

    /// The nodes killed and paused now, and whether a partition may be in force.
    pub fn in_force(&self) -> (Vec<String>, Vec<String>, bool) {
        let i = self.inflicted.lock().unwrap();
        (
            i.killed.iter().cloned().collect(),
            i.paused.iter().cloned().collect(),
            i.partitioned,
        )
    }

    fn closing(&self) -> bool {
        self.inflicted.lock().unwrap().closing
    }
}

/// What iptables on a node should match for `node`: the node's name as given. iptables
/// resolves a host name on the node itself when the rule is added (as Jepsen's `net/ip`
/// does on the node): in a cloud, a node's public name resolves to its private address
/// there, which is where the traffic between nodes comes from.
fn address_of(node: &str) -> String {
    node.to_string()
}

fn node_list(nodes: &[String]) -> Value {
    Value::Vec(nodes.iter().map(|n| Value::Str(n.clone())).collect())
}

fn grudge_value(grudge: &Grudge) -> Value {
    Value::Map(
        grudge
            .iter()
            .map(|(n, dropped)| {
                let dropped: Vec<String> = dropped.iter().cloned().collect();
                (Value::Str(n.clone()), node_list(&dropped))
            })
            .collect(),
    )
}

fn keyed(key: &str, value: Value) -> Value {
    Value::Map(vec![(Value::keyword(key), value)])
}

/// One of the real faults, started and stopped on demand.
pub struct RealNemesis {
    fault: Fault,
    nodes: Vec<String>,
    healer: Arc<Healer>,
    rng: ChaCha8Rng,
}

impl RealNemesis {
    /// A nemesis inflicting `fault` on `nodes` (their addresses) through `remote` and
    /// `db`, choosing nodes and grudges with `rng`. Faults this world cannot inflict
    /// (packet loss and latency need tc netem; nuke-partition-state needs the DB layer's
    /// data folder) are refused, and so are partitions over a local remote (`--no-ssh`),
    /// which would put iptables rules on this machine.
    pub fn new(
        fault: Fault,
        nodes: Vec<String>,
        remote: Arc<dyn Remote>,
        db: Arc<dyn DbControl>,
        rng: ChaCha8Rng,
    ) -> Result<RealNemesis, String> {
        match fault {
            Fault::PacketLoss | Fault::LatencySpike if remote.is_local() => {
                return Err(format!(
                    "nemesis {fault} needs SSH nodes: with --no-ssh its netem qdisc would slow this machine's own network"
                ))
            }
            Fault::NukePartitionState if !db.can_wipe_partition_store() => {
                return Err(format!(
                    "nemesis {fault} needs a database that can wipe a node's partition store"
                ))
            }
            fault if fault.is_partition() && remote.is_local() => {
                return Err(format!(
                    "nemesis {fault} needs SSH nodes: with --no-ssh its iptables rules would cut this machine's own network"
                ))
            }
            _ => {}
        }
        let healer = Arc::new(Healer::new(remote, db, nodes.clone(), fault.is_partition()));
        Ok(RealNemesis {
            fault,
            nodes,
            healer,
            rng,
        })
    }

    /// The healer, for the heal-on-exit guard.
    pub fn healer(&self) -> Arc<Healer> {
        self.healer.clone()
    }

    async fn start(&mut self) -> Result<Value, RemoteError> {
        let (killed, paused, partitioned) = self.healer.in_force();
        let shaped = self.healer.inflicted.lock().unwrap().shaped;
        if !killed.is_empty() || !paused.is_empty() || partitioned || shaped {
            return Ok(Value::keyword("already-started"));
        }
        match self.fault {
            Fault::KillRandomNode | Fault::PauseRandomNode => {
                let Some(node) = self.nodes.choose(&mut self.rng).cloned() else {
                    return Ok(Value::keyword("no-nodes"));
                };
                if self.fault == Fault::KillRandomNode {
                    // Recorded first: a kill cut short must still be restarted on heal.
                    self.healer
                        .inflicted
                        .lock()
                        .unwrap()
                        .killed
                        .insert(node.clone());
                    self.healer.db.kill(&node).await?;
                    Ok(keyed("killed", node_list(&[node])))
                } else {
                    self.healer
                        .inflicted
                        .lock()
                        .unwrap()
                        .paused
                        .insert(node.clone());
                    self.healer.db.pause(&node).await?;
                    Ok(keyed("paused", node_list(&[node])))
                }
            }
            Fault::PacketLoss | Fault::LatencySpike => {
                let netem = netem_of(self.fault);
                self.healer.inflicted.lock().unwrap().shaped = true;
                let command = format!(
                    "{INTERFACES}; for d in $devs; do tc qdisc replace dev \"$d\" root netem {netem} || exit 1; done"
                );
                let remote = &self.healer.remote;
                let results = join_all(self.nodes.iter().map(|n| remote.sudo(n, &command))).await;
                results.into_iter().collect::<Result<Vec<_>, _>>()?;
                Ok(keyed("netem", Value::Str(netem.to_string())))
            }
            Fault::NukePartitionState => {
                let Some(node) = self.nodes.choose(&mut self.rng).cloned() else {
                    return Ok(Value::keyword("no-nodes"));
                };
                // Killed first (recorded, so a nuke cut short is restarted on heal), the
                // store moved aside, then started again on an empty partition store.
                self.healer
                    .inflicted
                    .lock()
                    .unwrap()
                    .killed
                    .insert(node.clone());
                self.healer.db.kill(&node).await?;
                self.healer.db.wipe_partition_store(&node).await?;
                self.healer.db.start(&node).await?;
                self.healer.inflicted.lock().unwrap().killed.remove(&node);
                Ok(keyed("nuked", node_list(&[node])))
            }
            fault => {
                let grudge = fault
                    .grudge(&self.nodes, &mut self.rng)
                    .expect("the other faults the constructor accepts are partitions");
                self.healer.inflicted.lock().unwrap().partitioned = true;
                self.cut(&grudge).await?;
                let mut value = vec![(Value::keyword("grudge"), grudge_value(&grudge))];
                if fault == Fault::PartitionRandomNode {
                    let isolated: Vec<String> = grudge
                        .iter()
                        .filter(|(_, d)| d.len() + 1 == self.nodes.len() && !d.is_empty())
                        .map(|(n, _)| n.clone())
                        .collect();
                    value.insert(0, (Value::keyword("isolated"), node_list(&isolated)));
                }
                Ok(Value::Map(value))
            }
        }
    }

    /// Installs the grudge: on each node, one rule dropping all it must not hear.
    async fn cut(&self, grudge: &Grudge) -> Result<(), RemoteError> {
        let commands: Vec<(String, String)> = grudge
            .iter()
            .filter(|(_, dropped)| !dropped.is_empty())
            .map(|(node, dropped)| {
                let sources: Vec<String> = dropped.iter().map(|d| address_of(d)).collect();
                let command = format!(
                    "iptables -A INPUT -s {} -j DROP -w",
                    shell_quote(&sources.join(","))
                );
                (node.clone(), command)
            })
            .collect();
        let remote = &self.healer.remote;
        let results = join_all(commands.iter().map(|(n, c)| remote.sudo(n, c))).await;
        results.into_iter().collect::<Result<Vec<_>, _>>()?;
        Ok(())
    }

    async fn stop(&mut self) -> Result<Value, RemoteError> {
        let shaped = self.healer.inflicted.lock().unwrap().shaped;
        if shaped {
            self.healer.heal_shaping().await?;
            return Ok(Value::keyword("network-healed"));
        }
        let (killed, paused, partitioned) = self.healer.in_force();
        if partitioned {
            self.healer.heal_network().await?;
            return Ok(Value::keyword("network-healed"));
        }
        if !killed.is_empty() {
            let started = self.healer.restart_killed().await?;
            return Ok(keyed("started", node_list(&started)));
        }
        if !paused.is_empty() {
            let resumed = self.healer.resume_paused().await?;
            return Ok(keyed("resumed", node_list(&resumed)));
        }
        Ok(Value::keyword("not-started"))
    }
}

fn nemesis_error(e: RemoteError) -> ClientError {
    ClientError::new("nemesis", e.to_string())
}

/// The shell lines that set `$devs` to a node's network interfaces but loopback.
const INTERFACES: &str = "devs=$(ls /sys/class/net | grep -v '^lo$')";

/// The netem arguments of a shaping fault: 20% loss, or 200 ms ± 50 ms more latency.
fn netem_of(fault: Fault) -> &'static str {
    match fault {
        Fault::PacketLoss => "loss 20%",
        _ => "delay 200ms 50ms",
    }
}

impl Nemesis for RealNemesis {
    /// For the shaping faults, checks first that every node's kernel has netem (a netem
    /// qdisc put on loopback and removed), so that a run cannot start without its fault.
    fn setup(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            if !matches!(self.fault, Fault::PacketLoss | Fault::LatencySpike) {
                return Ok(());
            }
            let probe = "tc qdisc add dev lo root netem delay 0ms && tc qdisc del dev lo root";
            for node in &self.nodes {
                let out = self
                    .healer
                    .remote
                    .run_sudo(node, probe)
                    .await
                    .map_err(nemesis_error)?;
                if !out.success() {
                    return Err(ClientError::new(
                        "nemesis",
                        format!(
                            "nemesis {} needs tc netem, and node {node}'s kernel has none ({}): load the sch_netem module there, or pick another nemesis",
                            self.fault,
                            out.stderr.trim()
                        ),
                    ));
                }
            }
            Ok(())
        })
    }

    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move {
            let value = match (op.f.as_str(), self.fault) {
                (_, Fault::None) => Value::Nil,
                ("start", _) if self.healer.closing() => Value::keyword("closing"),
                ("start", _) => self.start().await.map_err(nemesis_error)?,
                ("stop", _) => self.stop().await.map_err(nemesis_error)?,
                (f, _) => {
                    return Err(ClientError::new(
                        "nemesis",
                        format!("the {} nemesis has no op :{f}", self.fault),
                    ))
                }
            };
            let mut done = op.complete(OpType::Info);
            done.value = value;
            Ok(done)
        })
    }

    fn teardown(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            self.healer
                .heal()
                .await
                .map_err(|e| ClientError::new("nemesis", e))
        })
    }

    fn fs(&self) -> Vec<String> {
        if self.fault == Fault::None {
            Vec::new()
        } else {
            vec!["start".to_string(), "stop".to_string()]
        }
    }
}
