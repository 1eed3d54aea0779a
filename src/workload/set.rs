//! The set workloads (restatedev/jepsen's `set-vo` and `set-mds`): clients add 0, 1, 2, …
//! to one set and read it whole; set-full (with linearizable reads) judges every element.
//!
//! - `set-vo`: the `Set` virtual object: `POST :8080/Set/jepsen-set/add` with the element
//!   as the JSON body, `POST :8080/Set/jepsen-set/get` for the JSON array.
//! - `set-mds`: the metadata store: the set is a JSON array under `/metadata/jepsen-set`;
//!   an add reads it (`GET`, value and `etag` version v) and writes it back with the
//!   element (`PUT`, `if-match: v`, `etag: v+1`); a lost race is a 412, so `:fail`.

use super::outcome::{from_status, from_transport_error, unreadable};
use super::transport::{Request, Response, Transport, TransportError, ADMIN_PORT, INGRESS_PORT};
use crate::generator::{clients, lazy_seq, op, op_value, repeat, reserve_from, Gen};
use crate::history::{Op, OpType, Value};
use crate::runtime::{Client, ClientError, LocalBoxFuture};
use std::rc::Rc;

/// The one set every client works on.
pub const SET_KEY: &str = "jepsen-set";
/// How often set-mds's setup tries to create the set.
const SETUP_ATTEMPTS: usize = 10;

/// Client threads reserved for reads (restatedev/jepsen: 5); the rest add.
pub const READERS: usize = 5;

/// Which API holds the set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetApi {
    VirtualObject,
    Metadata,
}

/// A client of the set, bound to one node.
#[derive(Clone)]
pub struct SetClient {
    transport: Rc<dyn Transport>,
    api: SetApi,
    node: String,
}

impl SetClient {
    pub fn new(transport: Rc<dyn Transport>, api: SetApi) -> SetClient {
        SetClient {
            transport,
            api,
            node: String::new(),
        }
    }

    async fn send(&self, request: Request) -> Result<Response, TransportError> {
        self.transport.send(&self.node, request).await
    }

    async fn add(&self, invoke: Op) -> Op {
        let Some(element) = invoke.value.as_int() else {
            return unreadable(&invoke, "an add needs an integer element");
        };
        match self.api {
            SetApi::VirtualObject => {
                let request = Request::new("POST", INGRESS_PORT, format!("/Set/{SET_KEY}/add"))
                    .json(&serde_json::json!(element));
                match self.send(request).await {
                    Err(e) => from_transport_error(&invoke, &e),
                    Ok(r) => {
                        from_status(&invoke, &r).unwrap_or_else(|| invoke.complete(OpType::Ok))
                    }
                }
            }
            SetApi::Metadata => {
                // Read, then write back conditionally on the version read.
                let (mut elements, version) = match self.read_metadata(&invoke).await {
                    Ok(read) => read,
                    Err(done) => return done,
                };
                if !elements.contains(&element) {
                    elements.push(element);
                }
                let request = Request::new("PUT", ADMIN_PORT, format!("/metadata/{SET_KEY}"))
                    .header("if-match", version.to_string())
                    .header("etag", (version + 1).to_string())
                    .json(&serde_json::json!(elements));
                match self.send(request).await {
                    Err(e) => from_transport_error(&invoke, &e),
                    Ok(r) => {
                        from_status(&invoke, &r).unwrap_or_else(|| invoke.complete(OpType::Ok))
                    }
                }
            }
        }
    }

    /// The set's elements and version from the metadata store, or the completion to give
    /// when they cannot be had.
    async fn read_metadata(&self, invoke: &Op) -> Result<(Vec<i64>, u64), Op> {
        let request = Request::new("GET", ADMIN_PORT, format!("/metadata/{SET_KEY}"));
        let response = match self.send(request).await {
            Err(e) => return Err(from_transport_error(invoke, &e)),
            Ok(r) => r,
        };
        if let Some(done) = from_status(invoke, &response) {
            return Err(done);
        }
        let version = response
            .header_value("etag")
            .and_then(|v| v.trim_matches('"').parse().ok());
        let elements = response.body_json().and_then(|j| {
            j.as_array()
                .map(|a| a.iter().filter_map(|e| e.as_i64()).collect::<Vec<_>>())
        });
        match (elements, version) {
            (Some(elements), Some(version)) => Ok((elements, version)),
            _ => Err(unreadable(
                invoke,
                "expected a JSON array and an etag version",
            )),
        }
    }

    async fn read(&self, invoke: Op) -> Op {
        let elements = match self.api {
            SetApi::VirtualObject => {
                let request = Request::new("POST", INGRESS_PORT, format!("/Set/{SET_KEY}/get"));
                let response = match self.send(request).await {
                    Err(e) => return from_transport_error(&invoke, &e),
                    Ok(r) => r,
                };
                if let Some(done) = from_status(&invoke, &response) {
                    return done;
                }
                match response.body_json().and_then(|j| {
                    j.as_array()
                        .map(|a| a.iter().filter_map(|e| e.as_i64()).collect::<Vec<_>>())
                }) {
                    Some(elements) => elements,
                    None => return unreadable(&invoke, "expected a JSON array"),
                }
            }
            SetApi::Metadata => match self.read_metadata(&invoke).await {
                Ok((elements, _)) => elements,
                Err(done) => return done,
            },
        };
        let mut done = invoke.complete(OpType::Ok);
        done.value = Value::Vec(elements.into_iter().map(Value::Int).collect());
        done
    }
}

impl Client for SetClient {
    fn open(&self, node: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>> {
        let mut c = self.clone();
        c.node = node.to_string();
        Box::pin(async move { Ok(Box::new(c) as Box<dyn Client>) })
    }

    /// set-mds starts from an empty set (`PUT [] if-match: *, etag: 1`); set-vo needs
    /// nothing.
    fn setup(&mut self) -> LocalBoxFuture<'_, Result<(), ClientError>> {
        Box::pin(async move {
            if self.api == SetApi::VirtualObject {
                return Ok(());
            }
            // Before any op runs, the write is idempotent: retried a few times, so that
            // one lost request or a node still electing does not end the test.
            let mut last = String::new();
            for _ in 0..SETUP_ATTEMPTS {
                let request = Request::new("PUT", ADMIN_PORT, format!("/metadata/{SET_KEY}"))
                    .header("if-match", "*")
                    .header("etag", "1")
                    .json(&serde_json::json!([]));
                match self.send(request).await {
                    Ok(r) if (200..300).contains(&r.status) => return Ok(()),
                    Ok(r) => last = format!("creating the set answered {}", r.status),
                    Err(e) => last = format!("creating the set: {e:?}"),
                }
            }
            Err(ClientError::new(
                "setup",
                format!("{last} ({SETUP_ATTEMPTS} attempts)"),
            ))
        })
    }

    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move {
            Ok(match op.f.as_str() {
                "add" => self.add(op).await,
                "read" => self.read(op).await,
                f => {
                    return Err(ClientError::new(
                        "unknown-f",
                        format!("the set client has no :{f}"),
                    ))
                }
            })
        })
    }
}

/// restatedev/jepsen's set generator: `READERS` client threads read, the others add 0, 1,
/// 2, … (each element once, across all adders). With fewer than `2 × READERS` threads,
/// half of them (at least one) read, so that some always add.
pub fn set_ops(concurrency: usize) -> Gen {
    set_ops_from(0, concurrency, 0)
}

/// [`set_ops`] on the `concurrency` client threads from `first_thread` on, adding `first`,
/// `first + 1`, … (a later phase of the same test must never add an element again: a
/// re-add would hide the loss of the first one).
pub fn set_ops_from(first_thread: usize, concurrency: usize, first: i64) -> Gen {
    let readers = READERS.min(concurrency / 2).max(1);
    let adds = lazy_seq(move |i| Some(op_value("add", first + i as i64)));
    clients(reserve_from(
        first_thread,
        vec![(readers, repeat(op("read")))],
        adds,
    ))
}
