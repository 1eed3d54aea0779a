//! A node's request server: accepts connections on one port of the node, each carrying
//! one [`Request`] and, back, its [`Response`], over madsim's simulated network (a
//! reliable, ordered connection, as TCP: see `crate::network` for how partitions, loss,
//! kills and pauses affect it). [`crate::restate::SimTransport`] is the other end.

use jepsen_core::runtime::LocalBoxFuture;
use jepsen_core::workload::transport::{Request, Response};
use madsim::net::Endpoint;
use std::rc::Rc;

/// What computes a response.
pub type Handler = Rc<dyn Fn(Request) -> LocalBoxFuture<'static, Response>>;

/// Serves `port` on the current node with `handler`, each request in its own task, until
/// the node is killed.
pub async fn serve(port: u16, handler: Handler) {
    let endpoint = Endpoint::bind(("0.0.0.0", port))
        .await
        .unwrap_or_else(|e| panic!("port {port} is free on a fresh node: {e}"));
    while let Ok((reply, mut requests, _client)) = endpoint.accept1().await {
        let handler = handler.clone();
        madsim::task::spawn_local(async move {
            let Ok(payload) = requests.recv().await else {
                return;
            };
            let Ok(request) = payload.downcast::<Request>() else {
                return;
            };
            let response = handler(*request).await;
            let _ = reply.send(Box::new(response)).await;
        });
    }
}
