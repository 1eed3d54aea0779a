//! One modeled Restate node: what its process runs, started on a fresh node and again
//! on every restart. It boots from its disk, starts its metadata server member, and
//! serves the admin API (metadata) on port 9070 and the ingress on port 8080.

use super::admin_api;
use super::metadata_server::{self, MemberSpec};
use super::server::{serve, Handler};
use jepsen_core::workload::transport::{ADMIN_PORT, INGRESS_PORT};
use std::rc::Rc;
use std::sync::Arc;

/// What a node needs to start; survives restarts.
pub struct NodeSpec {
    pub name: String,
    pub member: MemberSpec,
}

/// The node's process.
pub async fn run_node(spec: Arc<NodeSpec>) {
    let boot = spec.member.disk.boot();
    let metadata = metadata_server::start(&spec.member, boot).await;
    // Virtual objects are not modeled yet: the ingress knows no service.
    let ingress: Handler = Rc::new(|request| {
        Box::pin(async move { admin_api::message(404, &format!("no service at {}", request.path)) })
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
