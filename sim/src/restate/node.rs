//! One modeled Restate node: what its process runs, started on a fresh node and again
//! on every restart. It boots from its disk, starts its metadata server member and its
//! partition processor, and serves the admin API (metadata) on port 9070, the ingress
//! on port 8080 (invocations, forwarded to the partition leader), and node-to-node calls
//! (log server, forwarded invocations) on port 5123.
//!
//! The ingress gives each request an invocation id (the client's `idempotency-key`, or
//! one of its own), hands it to the partition leader (directly when this node leads,
//! else over the network to the leader its metadata view names), and retries an attempt
//! that got no answer within [`INGRESS_ATTEMPT`] or a 503, under the same id, so that
//! the leader runs it once, for [`INGRESS_BUDGET`] in all.

use super::admin_api;
use super::bugs::{Bug, BugSet};
use super::disk::NodeDisk;
use super::follower::FollowerState;
use super::metadata_server::{self, MemberSpec, MetadataClient};
use super::partition::{
    self, leader_key, LeaderRecord, PartitionContext, PartitionHandle, INTERNAL_PORT,
};
use super::server::{serve, Handler};
use super::trace;
use super::transport::SimTransport;
use super::virtual_objects::{parse_invocation, Invocation};
use jepsen_core::workload::transport::{Request, Response, Transport, ADMIN_PORT, INGRESS_PORT};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// What a node needs to start; survives restarts.
pub struct NodeSpec {
    pub name: String,
    pub member: MemberSpec,
    /// Every node's address, by name (set once the cluster knows them).
    pub directory: Arc<OnceLock<BTreeMap<String, IpAddr>>>,
    /// `default-replication`: log servers that must store a record.
    pub replication: usize,
    /// How long a node waits for another node's answer.
    pub internal_timeout: Duration,
}

/// The only partition modeled (restatedev/jepsen's default: one partition).
const PARTITION: u32 = 0;

/// How long the ingress waits for one attempt at an invocation.
pub const INGRESS_ATTEMPT: Duration = Duration::from_millis(100);
/// How long the ingress goes on retrying an invocation.
pub const INGRESS_BUDGET: Duration = Duration::from_secs(2);
/// The pause between two attempts.
const INGRESS_BACKOFF: Duration = Duration::from_millis(50);

/// The node's process.
pub async fn run_node(spec: Arc<NodeSpec>) {
    let boot = spec.member.disk.boot();
    trace::event(&spec.name, || format!("node: boot {boot}"));
    let metadata = metadata_server::start(&spec.member, boot).await;
    let directory = spec
        .directory
        .get()
        .expect("addresses are set at start")
        .clone();
    let internal = SimTransport::new(directory.clone(), spec.internal_timeout);
    let context = Rc::new(PartitionContext {
        partition: PARTITION,
        node: spec.name.clone(),
        nodes: directory.keys().cloned().collect(),
        replication: spec.replication,
        internal: internal.clone(),
        metadata: metadata.clone(),
        bugs: spec.member.bugs.clone(),
    });
    let partition = partition::start(context, 2 * spec.internal_timeout);

    let bugs = spec.member.bugs.clone();
    let fencing = !bugs.contains(&Bug::NoFencing);
    let node_calls: Handler = {
        let (disk, partition) = (spec.member.disk.clone(), partition.clone());
        Rc::new(move |request: Request| {
            let (disk, partition) = (disk.clone(), partition.clone());
            Box::pin(async move {
                match request.path.as_str() {
                    "/log" => match serde_json::from_slice(&request.body) {
                        Ok(call) => {
                            let reply = disk.log.handle(call, disk.sync_latency(), fencing).await;
                            let mut r = Response::new(200);
                            r.body = serde_json::to_vec(&reply).expect("a reply serializes");
                            r
                        }
                        Err(e) => admin_api::message(400, &e.to_string()),
                    },
                    "/partition/invoke" => {
                        match serde_json::from_slice::<Invocation>(&request.body) {
                            Ok(invocation) => partition.invoke(invocation).await,
                            Err(e) => admin_api::message(400, &e.to_string()),
                        }
                    }
                    other => admin_api::message(404, &format!("no route {other}")),
                }
            })
        })
    };
    madsim::task::spawn_local(serve(INTERNAL_PORT, node_calls));

    let ingress = Rc::new(Ingress {
        node: spec.name.clone(),
        boot,
        minted: Cell::new(0),
        metadata: metadata.clone(),
        internal: SimTransport::new(directory.clone(), INGRESS_ATTEMPT),
        partition: partition.clone(),
        disk: spec.member.disk.clone(),
        follower: RefCell::default(),
        bugs,
    });
    let ingress: Handler = Rc::new(move |request: Request| {
        let ingress = ingress.clone();
        Box::pin(async move { ingress.handle(request).await })
    });
    madsim::task::spawn_local(serve(INGRESS_PORT, ingress));

    let admin: Handler = Rc::new(move |request| {
        let metadata = metadata.clone();
        Box::pin(async move {
            match admin_api::parse(&request) {
                Ok(call) => metadata.call(call).await,
                Err(rejected) => rejected,
            }
        })
    });
    serve(ADMIN_PORT, admin).await;
}

/// A node's ingress: invocations from clients, to the partition leader.
struct Ingress {
    node: String,
    boot: u64,
    /// Invocation ids made here in this life.
    minted: Cell<u64>,
    metadata: MetadataClient,
    /// Forwards to the leader, each attempt with the [`INGRESS_ATTEMPT`] timeout.
    internal: SimTransport,
    partition: PartitionHandle,
    disk: Arc<NodeDisk>,
    follower: RefCell<FollowerState>,
    bugs: BugSet,
}

impl Ingress {
    fn mint(&self) -> String {
        self.minted.set(self.minted.get() + 1);
        format!("inv-{}-{}-{}", self.node, self.boot, self.minted.get())
    }

    async fn handle(&self, request: Request) -> Response {
        let mut invocation = match parse_invocation(&request) {
            Ok(i) => i,
            Err(rejected) => return rejected,
        };
        if self.bugs.contains(&Bug::StaleFollowerRead)
            && invocation.handler == "get"
            && !self.partition.is_leading()
        {
            // The bug: answer a read from this node's own copy of the log.
            let mut follower = self.follower.borrow_mut();
            let outcome = follower.read(&self.disk.log, PARTITION, &invocation);
            let applied = follower.applied();
            trace::event(&self.node, || {
                format!(
                    "ingress: follower read {}/{} at lsn {applied} -> {}",
                    invocation.service,
                    invocation.key,
                    String::from_utf8_lossy(&outcome.body)
                )
            });
            return outcome.to_response();
        }
        if invocation.idempotency_key.is_none() {
            invocation.idempotency_key = Some(self.mint());
        }
        let deadline = madsim::time::Instant::now() + INGRESS_BUDGET;
        let mut attempt = 1;
        loop {
            let response = self.attempt(invocation.clone()).await;
            if response.status != 503 || madsim::time::Instant::now() >= deadline {
                return response;
            }
            madsim::time::sleep(INGRESS_BACKOFF).await;
            attempt += 1;
            if self.bugs.contains(&Bug::DuplicateOnRetry) {
                // The bug: the retry goes out as a new invocation.
                invocation.idempotency_key = Some(self.mint());
            }
            trace::event(&self.node, || {
                format!(
                    "ingress: attempt {attempt} of {}/{}/{} as {}",
                    invocation.service,
                    invocation.key,
                    invocation.handler,
                    invocation.idempotency_key.as_deref().unwrap_or("-")
                )
            });
        }
    }

    /// One attempt: to this node's processor if it leads, else to the leader this node's
    /// metadata view names; 503 when no answer came.
    async fn attempt(&self, invocation: Invocation) -> Response {
        if self.partition.is_leading() {
            return madsim::time::timeout(INGRESS_ATTEMPT, self.partition.invoke(invocation))
                .await
                .unwrap_or_else(|_| admin_api::unavailable("no outcome in time"));
        }
        // Route by this node's (possibly stale) view of the leader record.
        let leader = self
            .metadata
            .local_get(&leader_key(PARTITION))
            .await
            .and_then(|v| serde_json::from_slice::<LeaderRecord>(&v.value).ok());
        let Some(leader) = leader else {
            return admin_api::unavailable("no partition leader known");
        };
        let mut forward = Request::new("POST", INTERNAL_PORT, "/partition/invoke");
        forward.body = serde_json::to_vec(&invocation).expect("an invocation serializes");
        match self.internal.send(&leader.node, forward).await {
            Ok(response) => response,
            Err(e) => admin_api::unavailable(&format!("partition leader: {e:?}")),
        }
    }
}
