//! The register workloads (restatedev/jepsen's `register-vo` and `register-mds`): reads,
//! writes of 0–4 and compare-and-sets on many keys, each key a register checked on its own
//! as a cas-register (Jepsen's `independent` values: `[key value]`).
//!
//! - `register-vo`: the `Register` virtual object: `GET :8080/Register/{k}/get`,
//!   `POST …/set` with the JSON value, `POST …/cas` with `{"expected": old, "newValue":
//!   new}` (412 when the register does not hold `old`).
//! - `register-mds`: the metadata store: read is `GET /metadata/{k}` (404 reads nil); a
//!   write is `PUT` with `if-match: *` and a random even version; a cas reads the value and
//!   version v, compares, and writes with `if-match: v`, `etag: v+1`.

use super::outcome::{from_status, from_transport_error, json_to_value, unreadable};
use super::transport::{Request, Response, Transport, TransportError, ADMIN_PORT, INGRESS_PORT};
use crate::generator::{
    clients, fn_op, lazy_seq, limit, map, mix, op, repeat, reserve_from, template, Gen,
};
use crate::history::{Op, OpType, Value};
use crate::runtime::{Client, ClientError, LocalBoxFuture, SharedRng};
use rand::Rng;
use std::rc::Rc;

/// Which API holds the registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterApi {
    VirtualObject,
    Metadata,
}

/// A client of the registers, bound to one node.
#[derive(Clone)]
pub struct RegisterClient {
    transport: Rc<dyn Transport>,
    api: RegisterApi,
    /// For register-mds's random write versions: seeded, from the runtime.
    rng: SharedRng,
    node: String,
}

/// The key and value of an independent op `[key value]`.
fn split(op: &Op) -> Option<(String, Value)> {
    match op.value.as_slice()? {
        [k, v] => Some((
            k.as_name()
                .map(str::to_string)
                .unwrap_or_else(|| k.to_string()),
            v.clone(),
        )),
        _ => None,
    }
}

impl RegisterClient {
    pub fn new(transport: Rc<dyn Transport>, api: RegisterApi, rng: SharedRng) -> RegisterClient {
        RegisterClient {
            transport,
            api,
            rng,
            node: String::new(),
        }
    }

    async fn send(&self, request: Request) -> Result<Response, TransportError> {
        self.transport.send(&self.node, request).await
    }

    /// The completion with value `[key v]`.
    fn ok(invoke: &Op, key: &Value, v: Value) -> Op {
        let mut done = invoke.complete(OpType::Ok);
        done.value = Value::Vec(vec![key.clone(), v]);
        done
    }

    async fn read(&self, invoke: Op, key: &str) -> Op {
        let k = invoke
            .value
            .as_slice()
            .map(|kv| kv[0].clone())
            .unwrap_or_default();
        let request = match self.api {
            RegisterApi::VirtualObject => {
                Request::new("GET", INGRESS_PORT, format!("/Register/{key}/get"))
            }
            RegisterApi::Metadata => Request::new("GET", ADMIN_PORT, format!("/metadata/{key}")),
        };
        let response = match self.send(request).await {
            Err(e) => return from_transport_error(&invoke, &e),
            Ok(r) => r,
        };
        if self.api == RegisterApi::Metadata && response.status == 404 {
            return Self::ok(&invoke, &k, Value::Nil);
        }
        if let Some(done) = from_status(&invoke, &response) {
            return done;
        }
        match response.body_json() {
            Some(json) => Self::ok(&invoke, &k, json_to_value(&json)),
            None if response.body.is_empty() => Self::ok(&invoke, &k, Value::Nil),
            None => unreadable(&invoke, "expected a JSON value"),
        }
    }

    async fn write(&self, invoke: Op, key: &str, value: Value) -> Op {
        let json = serde_json::to_value(&value).unwrap_or_default();
        let request = match self.api {
            RegisterApi::VirtualObject => {
                Request::new("POST", INGRESS_PORT, format!("/Register/{key}/set")).json(&json)
            }
            RegisterApi::Metadata => {
                // restatedev/jepsen: an unconditional PUT with a random even version.
                let version = 2 * self.rng.borrow_mut().gen_range(1..1_000_000_000u64);
                Request::new("PUT", ADMIN_PORT, format!("/metadata/{key}"))
                    .header("if-match", "*")
                    .header("etag", version.to_string())
                    .json(&json)
            }
        };
        match self.send(request).await {
            Err(e) => from_transport_error(&invoke, &e),
            Ok(r) => from_status(&invoke, &r).unwrap_or_else(|| invoke.complete(OpType::Ok)),
        }
    }

    async fn cas(&self, invoke: Op, key: &str, value: Value) -> Op {
        let (expected, new) = match value.as_slice() {
            Some([expected, new]) => (expected.clone(), new.clone()),
            _ => return unreadable(&invoke, "a cas needs [expected new]"),
        };
        let to_json = |v: &Value| serde_json::to_value(v).unwrap_or_default();
        match self.api {
            RegisterApi::VirtualObject => {
                let body =
                    serde_json::json!({"expected": to_json(&expected), "newValue": to_json(&new)});
                let request =
                    Request::new("POST", INGRESS_PORT, format!("/Register/{key}/cas")).json(&body);
                match self.send(request).await {
                    Err(e) => from_transport_error(&invoke, &e),
                    Ok(r) => {
                        from_status(&invoke, &r).unwrap_or_else(|| invoke.complete(OpType::Ok))
                    }
                }
            }
            RegisterApi::Metadata => {
                let read = Request::new("GET", ADMIN_PORT, format!("/metadata/{key}"));
                let response = match self.send(read).await {
                    Err(e) => return from_transport_error(&invoke, &e),
                    Ok(r) => r,
                };
                if response.status == 404 {
                    // Nothing there: it cannot hold `expected` (a cas from nil is not asked).
                    return invoke
                        .complete(OpType::Fail)
                        .with_error(Value::keyword("not-found"));
                }
                if let Some(done) = from_status(&invoke, &response) {
                    return done;
                }
                let version: Option<u64> = response
                    .header_value("etag")
                    .and_then(|v| v.trim_matches('"').parse().ok());
                let (Some(current), Some(version)) = (response.body_json(), version) else {
                    return unreadable(&invoke, "expected a JSON value and an etag version");
                };
                if json_to_value(&current) != expected {
                    return invoke
                        .complete(OpType::Fail)
                        .with_error(Value::keyword("mismatch"));
                }
                let write = Request::new("PUT", ADMIN_PORT, format!("/metadata/{key}"))
                    .header("if-match", version.to_string())
                    .header("etag", (version + 1).to_string())
                    .json(&to_json(&new));
                match self.send(write).await {
                    Err(e) => from_transport_error(&invoke, &e),
                    Ok(r) => {
                        from_status(&invoke, &r).unwrap_or_else(|| invoke.complete(OpType::Ok))
                    }
                }
            }
        }
    }
}

impl Client for RegisterClient {
    fn open(&self, node: &str) -> LocalBoxFuture<'static, Result<Box<dyn Client>, ClientError>> {
        let mut c = self.clone();
        c.node = node.to_string();
        Box::pin(async move { Ok(Box::new(c) as Box<dyn Client>) })
    }

    fn invoke(&mut self, op: Op) -> LocalBoxFuture<'_, Result<Op, ClientError>> {
        Box::pin(async move {
            let Some((key, value)) = split(&op) else {
                return Err(ClientError::new(
                    "bad-op",
                    "a register op's value is [key value]",
                ));
            };
            Ok(match op.f.as_str() {
                "read" => self.read(op, &key).await,
                "write" => self.write(op, &key, value).await,
                "cas" => self.cas(op, &key, value).await,
                f => {
                    return Err(ClientError::new(
                        "unknown-f",
                        format!("the register client has no :{f}"),
                    ))
                }
            })
        })
    }
}

/// One register's ops: reads, writes of 0–4, cas `[0–4 0–4]` (restatedev/jepsen's mix).
pub fn register_ops() -> Gen {
    mix(vec![
        repeat(op("read")),
        fn_op(|_, ctx| Some(template("write").value(ctx.rand_int(5) as i64))),
        fn_op(|_, ctx| {
            Some(template("cas").value(Value::Vec(vec![
                Value::Int(ctx.rand_int(5) as i64),
                Value::Int(ctx.rand_int(5) as i64),
            ])))
        }),
    ])
}

/// Jepsen's independent concurrent generator: client threads in groups of
/// `threads_per_key`; each group works through its own keys (group g of G takes keys g,
/// g+G, g+2G, …), `ops_per_key` ops on each, every op's value wrapped as `[key value]`.
pub fn register_ops_by_key(concurrency: usize, threads_per_key: usize, ops_per_key: u64) -> Gen {
    register_ops_by_key_from(0, concurrency, threads_per_key, ops_per_key)
}

/// [`register_ops_by_key`] on the `concurrency` client threads from `first_thread` on.
pub fn register_ops_by_key_from(
    first_thread: usize,
    concurrency: usize,
    threads_per_key: usize,
    ops_per_key: u64,
) -> Gen {
    let per_key = threads_per_key.clamp(1, concurrency.max(1));
    let groups = (concurrency / per_key).max(1);
    let group = move |g: usize| {
        lazy_seq(move |i| {
            let key = Value::Int((g + i as usize * groups) as i64);
            Some(limit(
                ops_per_key,
                map(
                    move |mut o: Op| {
                        o.value = Value::Vec(vec![key.clone(), std::mem::take(&mut o.value)]);
                        o
                    },
                    register_ops(),
                ),
            ))
        })
    };
    let reserved = (0..groups - 1).map(|g| (per_key, group(g))).collect();
    clients(reserve_from(first_thread, reserved, group(groups - 1)))
}
