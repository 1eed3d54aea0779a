//! The core's [`Transport`] in the simulation: delivers a workload client's request to
//! the named node's request server over the simulated network, so that partitions, loss,
//! kills and pauses reach the clients as they would over TCP.
//!
//! - A node that is down (killed), or a link that is clogged, refuses the connection at
//!   once: [`TransportError::Refused`] (the request certainly did not happen).
//! - No response within the timeout (a paused node, a clogged link after connecting, a
//!   slow cluster): [`TransportError::Timeout`].
//! - The connection closed before the response (the node was killed meanwhile):
//!   [`TransportError::Other`] (it may have happened).
//!
//! Must be used on a node of the simulation with an address (the control node): madsim's
//! supervisor task has none.

use jepsen_core::workload::transport::{Reply, Request, Response, Transport, TransportError};
use madsim::net::Endpoint;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Requests to the cluster's nodes, by name.
#[derive(Clone, Debug)]
pub struct SimTransport {
    addresses: BTreeMap<String, IpAddr>,
    timeout: Duration,
}

impl SimTransport {
    /// A transport to the nodes at `addresses`, giving up on a response after `timeout`.
    pub fn new(addresses: BTreeMap<String, IpAddr>, timeout: Duration) -> SimTransport {
        SimTransport { addresses, timeout }
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl Transport for SimTransport {
    fn send(&self, node: &str, request: Request) -> Reply {
        let address = self
            .addresses
            .get(node)
            .map(|ip| SocketAddr::new(*ip, request.port));
        let (node, timeout) = (node.to_string(), self.timeout);
        Box::pin(async move {
            let Some(address) = address else {
                return Err(TransportError::Refused(format!("no node named {node}")));
            };
            let endpoint = Endpoint::bind("0.0.0.0:0")
                .await
                .map_err(|e| TransportError::Refused(format!("no local port: {e}")))?;
            let (requests, mut responses) = endpoint
                .connect1(address)
                .await
                .map_err(|e| TransportError::Refused(format!("{address} ({node}): {e}")))?;
            let exchange = async move {
                requests.send(Box::new(request)).await?;
                responses.recv().await
            };
            match madsim::time::timeout(timeout, exchange).await {
                Err(_) => Err(TransportError::Timeout(format!(
                    "no response from {node} within {timeout:?}"
                ))),
                Ok(Err(e)) => Err(TransportError::Other(format!("{node}: {e}"))),
                Ok(Ok(payload)) => payload
                    .downcast::<Response>()
                    .map(|r| *r)
                    .map_err(|_| TransportError::Other(format!("{node}: not a response"))),
            }
        })
    }
}
