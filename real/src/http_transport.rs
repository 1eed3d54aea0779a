//! The workloads' [`Transport`] over real HTTP (reqwest): a request to node `n` goes to
//! `http://<n's address>:<port><path>`, with restatedev/jepsen's timeouts (500 ms to
//! connect, 5 s for the whole request). A refused connection is [`TransportError::Refused`]
//! (the request did not happen), a timeout [`TransportError::Timeout`].

use jepsen_core::workload::transport::{Reply, Request, Response, Transport, TransportError};
use std::collections::BTreeMap;
use std::time::Duration;

/// HTTP to the nodes of a real cluster.
#[derive(Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
    /// Node name → host (address or name) to connect to.
    hosts: BTreeMap<String, String>,
}

impl HttpTransport {
    /// A transport to `hosts` (node name → host), with the given timeouts.
    pub fn new(
        hosts: BTreeMap<String, String>,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<HttpTransport, String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpTransport { client, hosts })
    }

    /// restatedev/jepsen's timeouts: 500 ms to connect, 5 s per request.
    pub fn with_default_timeouts(hosts: BTreeMap<String, String>) -> Result<HttpTransport, String> {
        HttpTransport::new(hosts, Duration::from_millis(500), Duration::from_secs(5))
    }
}

fn classify(e: reqwest::Error) -> TransportError {
    let message = e.to_string();
    if e.is_timeout() {
        TransportError::Timeout(message)
    } else if e.is_connect() {
        // A connect timeout is also a connect error: it did not happen either way.
        TransportError::Refused(message)
    } else {
        TransportError::Other(message)
    }
}

impl Transport for HttpTransport {
    fn send(&self, node: &str, request: Request) -> Reply {
        let host = self
            .hosts
            .get(node)
            .cloned()
            .unwrap_or_else(|| node.to_string());
        let client = self.client.clone();
        Box::pin(async move {
            let url = format!("http://{host}:{}{}", request.port, request.path);
            let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|e| {
                TransportError::Other(format!("bad method {}: {e}", request.method))
            })?;
            let mut builder = client.request(method, &url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            let response = builder.body(request.body).send().await.map_err(classify)?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        v.to_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            let body = response.bytes().await.map_err(classify)?.to_vec();
            Ok(Response {
                status,
                headers,
                body,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokio_runtime::TokioRuntime;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback server that answers every request with `reply` (or never, if `None`).
    async fn server(reply: Option<&'static str>) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::task::spawn_local(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                tokio::task::spawn_local(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    match reply {
                        Some(r) => {
                            let _ = sock.write_all(r.as_bytes()).await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(30)).await,
                    }
                });
            }
        });
        port
    }

    fn transport(timeout_ms: u64) -> HttpTransport {
        let hosts = BTreeMap::from([("n1".to_string(), "127.0.0.1".to_string())]);
        HttpTransport::new(
            hosts,
            Duration::from_millis(500),
            Duration::from_millis(timeout_ms),
        )
        .unwrap()
    }

    #[test]
    fn responses_timeouts_and_refusals() {
        let rt = TokioRuntime::new(1);
        rt.run(async {
            let ok = server(Some(
                "HTTP/1.1 200 OK\r\netag: 7\r\ncontent-type: application/json\r\ncontent-length: 3\r\nconnection: close\r\n\r\n[1]",
            ))
            .await;
            let req = Request::new("GET", ok, "/metadata/jepsen-set");
            let r = transport(2000).send("n1", req).await.unwrap();
            assert_eq!(r.status, 200);
            assert_eq!(r.header_value("etag"), Some("7"));
            assert_eq!(r.body_json(), Some(serde_json::json!([1])));

            let silent = server(None).await;
            let err = transport(200).send("n1", Request::new("GET", silent, "/x")).await.unwrap_err();
            assert!(matches!(err, TransportError::Timeout(_)), "{err:?}");

            // A port nobody listens on (bound, then closed).
            let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
            let err = transport(200).send("n1", Request::new("GET", closed, "/x")).await.unwrap_err();
            assert!(matches!(err, TransportError::Refused(_)), "{err:?}");
        });
    }
}
