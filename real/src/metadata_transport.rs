//! The metadata workloads' requests (`GET`/`PUT /metadata/{key}` on the admin port, the
//! API of servers built with Restate's `metadata-api` feature) served by `restatectl
//! metadata get/put` run on the node, for stock servers without that API (the npm build of
//! restate-server 1.7.12 answers 404 to both). Every other request goes over HTTP.
//!
//! The translation keeps the HTTP API's semantics:
//! - `GET`: `restatectl metadata get` prints `null` (→ 404) or the stored JSON object with
//!   its `version` (→ 200, `etag: version`, body = the object's `value`).
//! - `PUT` with `if-match: V` → `put --version V` (a conditional update to V+1);
//!   `if-match: does-not-exist` → `put --version 0`; `if-match: *` (any version) → read the
//!   version, then a conditional put, again while another writer wins (each lost race is
//!   a definite rejection, so the retried write still takes effect at most once). A version
//!   mismatch is 412. The `etag` the client proposes is not used: restatectl always writes
//!   version V+1.
//! - A restatectl failure other than a mismatch is a 500 (indeterminate); the remote
//!   failing to run the command is a transport error (indeterminate too).

use crate::http_transport::HttpTransport;
use crate::remote::{shell_quote, Remote};
use jepsen_core::workload::transport::{
    Reply, Request, Response, Transport, TransportError, ADMIN_PORT,
};
use serde_json::json;
use std::sync::Arc;

/// How often an `if-match: *` write retries after losing a race.
const ANY_VERSION_ATTEMPTS: usize = 10;

/// Metadata requests through restatectl on the node, the rest over HTTP.
#[derive(Clone)]
pub struct RestatectlMetadataTransport {
    remote: Arc<dyn Remote>,
    /// Where restatectl is on the nodes.
    restatectl: String,
    http: HttpTransport,
}

impl RestatectlMetadataTransport {
    pub fn new(
        remote: Arc<dyn Remote>,
        restatectl: &str,
        http: HttpTransport,
    ) -> RestatectlMetadataTransport {
        RestatectlMetadataTransport {
            remote,
            restatectl: restatectl.to_string(),
            http,
        }
    }
}

/// A metadata request, understood.
#[derive(Debug, PartialEq)]
enum MetadataCall {
    Get {
        key: String,
    },
    Put {
        key: String,
        precondition: Precondition,
        value: serde_json::Value,
    },
}

#[derive(Debug, PartialEq)]
enum Precondition {
    Any,
    DoesNotExist,
    Version(u64),
}

/// The metadata call `request` asks for; `None` when it is not one; an error response
/// when it is one, but malformed.
fn parse(request: &Request) -> Option<Result<MetadataCall, Response>> {
    if request.port != ADMIN_PORT {
        return None;
    }
    let key = request.path.strip_prefix("/metadata/")?.to_string();
    let bad = |message: &str| Err(Response::new(400).json(&json!({ "message": message })));
    Some(match request.method {
        "GET" => Ok(MetadataCall::Get { key }),
        "PUT" => {
            let precondition = match request.header_value("if-match").map(str::trim) {
                None | Some("*") => Precondition::Any,
                Some("does-not-exist") => Precondition::DoesNotExist,
                Some(v) => match v.trim_matches('"').parse() {
                    Ok(v) => Precondition::Version(v),
                    Err(_) => return Some(bad("if-match must be *, does-not-exist or a version")),
                },
            };
            match serde_json::from_slice(&request.body) {
                Ok(value) => Ok(MetadataCall::Put {
                    key,
                    precondition,
                    value,
                }),
                Err(_) => bad("the body must be JSON"),
            }
        }
        _ => return None,
    })
}

/// What `restatectl metadata get` printed, as the HTTP API's response.
fn get_response(stdout: &str) -> Response {
    match serde_json::from_str::<serde_json::Value>(stdout.trim()) {
        Ok(serde_json::Value::Null) => Response::new(404),
        Ok(serde_json::Value::Object(mut object)) => {
            let version = object.remove("version").and_then(|v| v.as_u64());
            let value = object
                .remove("value")
                .unwrap_or(serde_json::Value::Object(object));
            match version {
                Some(version) => Response::new(200)
                    .header("etag", version.to_string())
                    .json(&value),
                None => Response::new(500)
                    .json(&json!({ "message": "no version in restatectl's answer" })),
            }
        }
        _ => {
            Response::new(500).json(&json!({ "message": format!("restatectl printed {stdout:?}") }))
        }
    }
}

/// Whether restatectl's error says the precondition failed.
fn is_version_mismatch(stderr: &str) -> bool {
    stderr.contains("Version mismatch") || stderr.contains("already exists")
}

impl RestatectlMetadataTransport {
    fn restatectl(&self, node: &str, arguments: &str) -> String {
        format!(
            "DO_NOT_TRACK=true {} --single-address {} --connect-timeout 500 --request-timeout 5000 metadata {arguments}",
            shell_quote(&self.restatectl),
            shell_quote(&format!("http://{node}:5122")),
        )
    }

    async fn get(&self, node: &str, key: &str) -> Result<Response, TransportError> {
        let command = self.restatectl(node, &format!("get --key {}", shell_quote(key)));
        let out = self
            .remote
            .run(node, &command)
            .await
            .map_err(|e| TransportError::Other(e.to_string()))?;
        if out.success() {
            Ok(get_response(&out.stdout))
        } else {
            Ok(Response::new(500).json(&json!({ "message": out.stderr.trim() })))
        }
    }

    /// One conditional put to `version + 1` (0: the key must not exist).
    async fn put_version(
        &self,
        node: &str,
        key: &str,
        version: u64,
        value: &serde_json::Value,
    ) -> Result<Response, TransportError> {
        let document = json!({ "value": value }).to_string();
        let command = format!(
            "printf '%s' {} | {}",
            shell_quote(&document),
            self.restatectl(
                node,
                &format!("put --key {} --version {version} -", shell_quote(key))
            )
        );
        let out = self
            .remote
            .run(node, &command)
            .await
            .map_err(|e| TransportError::Other(e.to_string()))?;
        Ok(if out.success() {
            Response::new(200).header("etag", (version + 1).to_string())
        } else if is_version_mismatch(&out.stderr) {
            Response::new(412).json(&json!({ "message": out.stderr.trim() }))
        } else {
            Response::new(500).json(&json!({ "message": out.stderr.trim() }))
        })
    }

    async fn call(&self, node: &str, call: MetadataCall) -> Result<Response, TransportError> {
        match call {
            MetadataCall::Get { key } => self.get(node, &key).await,
            MetadataCall::Put {
                key,
                precondition,
                value,
            } => match precondition {
                Precondition::Version(v) => self.put_version(node, &key, v, &value).await,
                Precondition::DoesNotExist => self.put_version(node, &key, 0, &value).await,
                Precondition::Any => {
                    let mut last = Response::new(412);
                    for _ in 0..ANY_VERSION_ATTEMPTS {
                        let current = self.get(node, &key).await?;
                        let version = match current.status {
                            404 => 0,
                            200 => current
                                .header_value("etag")
                                .and_then(|v| v.parse().ok())
                                .unwrap_or(0),
                            _ => return Ok(current),
                        };
                        last = self.put_version(node, &key, version, &value).await?;
                        if last.status != 412 {
                            return Ok(last);
                        }
                    }
                    Ok(last)
                }
            },
        }
    }
}

impl Transport for RestatectlMetadataTransport {
    fn send(&self, node: &str, request: Request) -> Reply {
        match parse(&request) {
            None => self.http.send(node, request),
            Some(Err(response)) => Box::pin(async move { Ok(response) }),
            Some(Ok(call)) => {
                let this = self.clone();
                let node = node.to_string();
                Box::pin(async move { this.call(&node, call).await })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_requests_are_recognised_with_their_precondition() {
        let get = Request::new("GET", ADMIN_PORT, "/metadata/k1");
        assert_eq!(
            parse(&get),
            Some(Ok(MetadataCall::Get { key: "k1".into() }))
        );
        let put = Request::new("PUT", ADMIN_PORT, "/metadata/s")
            .header("if-match", "7")
            .header("etag", "8")
            .json(&json!([1, 2]));
        assert_eq!(
            parse(&put),
            Some(Ok(MetadataCall::Put {
                key: "s".into(),
                precondition: Precondition::Version(7),
                value: json!([1, 2])
            }))
        );
        let any = Request::new("PUT", ADMIN_PORT, "/metadata/s")
            .header("if-match", "*")
            .json(&json!(3));
        assert!(matches!(
            parse(&any),
            Some(Ok(MetadataCall::Put {
                precondition: Precondition::Any,
                ..
            }))
        ));
        let ingress = Request::new("POST", 8080, "/Set/s/add");
        assert_eq!(parse(&ingress), None);
        let garbage = Request::new("PUT", ADMIN_PORT, "/metadata/s").header("if-match", "x");
        assert_eq!(parse(&garbage).unwrap().unwrap_err().status, 400);
    }

    #[test]
    fn restatectl_output_becomes_the_http_answer() {
        assert_eq!(get_response("null\n").status, 404);
        let r = get_response("{\n  \"version\": 3,\n  \"value\": [1, 2]\n}\n");
        assert_eq!(r.status, 200);
        assert_eq!(r.header_value("etag"), Some("3"));
        assert_eq!(r.body_json(), Some(json!([1, 2])));
        assert_eq!(get_response("garbage").status, 500);
        assert!(is_version_mismatch(
            "Error: Version mismatch: expected v1, got v2 from store"
        ));
    }
}
