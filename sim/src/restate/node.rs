//! One modeled Restate node: what its process runs, started on a fresh node and again
//! on every restart. It boots from its disk, starts its metadata server member and its
//! partition processor, and serves the admin API (metadata) on port 9070, the ingress
//! on port 8080 (invocations, forwarded to the partition leader), and node-to-node calls
//! (log server, forwarded invocations) on port 5123.

use super::admin_api;
use super::metadata_server::{self, MemberSpec};
use super::partition::{self, leader_key, LeaderRecord, PartitionContext, INTERNAL_PORT};
use super::server::{serve, Handler};
use super::transport::SimTransport;
use super::virtual_objects::{parse_invocation, Invocation};
use jepsen_core::workload::transport::{Request, Response, Transport, ADMIN_PORT, INGRESS_PORT};
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

/// The node's process.
pub async fn run_node(spec: Arc<NodeSpec>) {
    let boot = spec.member.disk.boot();
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

    let node_calls: Handler = {
        let (disk, partition) = (spec.member.disk.clone(), partition.clone());
        Rc::new(move |request: Request| {
            let (disk, partition) = (disk.clone(), partition.clone());
            Box::pin(async move {
                match request.path.as_str() {
                    "/log" => match serde_json::from_slice(&request.body) {
                        Ok(call) => {
                            let reply = disk.log.handle(call, disk.sync_latency()).await;
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

    let ingress: Handler = {
        let metadata = metadata.clone();
        Rc::new(move |request: Request| {
            let (metadata, internal) = (metadata.clone(), internal.clone());
            Box::pin(async move {
                let invocation = match parse_invocation(&request) {
                    Ok(i) => i,
                    Err(rejected) => return rejected,
                };
                // Route by this node's (possibly stale) view of the leader record.
                let leader = metadata
                    .local_get(&leader_key(PARTITION))
                    .await
                    .and_then(|v| serde_json::from_slice::<LeaderRecord>(&v.value).ok());
                let Some(leader) = leader else {
                    return admin_api::unavailable("no partition leader known");
                };
                let mut forward = Request::new("POST", INTERNAL_PORT, "/partition/invoke");
                forward.body = serde_json::to_vec(&invocation).expect("an invocation serializes");
                match internal.send(&leader.node, forward).await {
                    Ok(response) => response,
                    Err(e) => admin_api::unavailable(&format!("partition leader: {e:?}")),
                }
            })
        })
    };
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
