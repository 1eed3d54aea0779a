//! The virtual objects `Set` and `Register` as the services in `services/` have them,
//! as a state machine over invocations: the partition leader applies invocations in log
//! order, one at a time (so handlers on a key never interleave), and every replay of the
//! log gives the same states and responses.
//!
//! - `Set/{key}/add` (JSON value; appended if absent), `get` (JSON array), `clear`.
//! - `Register/{key}/get` (value or null), `set` (JSON value), `cas` (`{"expected": old,
//!   "newValue": new}`, 412 when the register does not hold `old`), `clear`.
//! - An `idempotency-key` header: a repeated invocation with the same key (and the same
//!   target) gets the first one's response without running again. The ingress gives
//!   every request an invocation id in that field when the client gave no key.
//! - `$state` (internal, never from the ingress): overwrites the object's state with
//!   the body (`null`: no state), as a log record of a handler's state mutation.

use jepsen_core::workload::transport::{Request, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// One call of a handler, as the log carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    pub service: String,
    pub key: String,
    pub handler: String,
    pub body: Vec<u8>,
    pub idempotency_key: Option<String>,
}

/// The invocation `request` (`POST /{service}/{key}/{handler}`), or why not.
pub fn parse_invocation(request: &Request) -> Result<Invocation, Response> {
    let parts: Vec<&str> = request.path.trim_start_matches('/').split('/').collect();
    let [service, key, handler] = parts[..] else {
        return Err(super::admin_api::message(
            404,
            "expected /{service}/{key}/{handler}",
        ));
    };
    if handler.starts_with('$') {
        return Err(super::admin_api::message(
            404,
            &format!("no handler {handler}"),
        ));
    }
    if !matches!(service, "Set" | "Register") {
        return Err(super::admin_api::message(
            404,
            &format!("no service {service}"),
        ));
    }
    Ok(Invocation {
        service: service.to_string(),
        key: key.to_string(),
        handler: handler.to_string(),
        body: request.body.clone(),
        idempotency_key: request.header_value("idempotency-key").map(str::to_string),
    })
}

/// A handler's answer: status and JSON body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Outcome {
    fn json(status: u16, body: &Json) -> Outcome {
        Outcome {
            status,
            body: body.to_string().into_bytes(),
        }
    }

    pub fn to_response(&self) -> Response {
        let mut r = Response::new(self.status).header("content-type", "application/json");
        r.body = self.body.clone();
        r
    }
}

/// Every object's state, and the answers to invocations with idempotency keys.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectStore {
    state: BTreeMap<(String, String), Json>,
    answered: BTreeMap<String, Outcome>,
}

impl ObjectStore {
    fn dedup_key(invocation: &Invocation) -> Option<String> {
        invocation.idempotency_key.as_ref().map(|k| {
            format!(
                "{}/{}/{}/{k}",
                invocation.service, invocation.key, invocation.handler
            )
        })
    }

    /// The outcome of an earlier run of `invocation` (same idempotency key), if any.
    pub fn answer_of(&self, invocation: &Invocation) -> Option<Outcome> {
        Self::dedup_key(invocation).and_then(|k| self.answered.get(&k).cloned())
    }

    /// Runs `invocation` (or answers its earlier run) and returns its outcome.
    pub fn invoke(&mut self, invocation: &Invocation) -> Outcome {
        let dedup = Self::dedup_key(invocation);
        if let Some(outcome) = dedup.as_ref().and_then(|k| self.answered.get(k)) {
            return outcome.clone();
        }
        let outcome = self.run(invocation);
        if let Some(k) = dedup {
            self.answered.insert(k, outcome.clone());
        }
        outcome
    }

    /// The state of the object `invocation` calls (`None`: it has none).
    pub fn state_of(&self, invocation: &Invocation) -> Option<Json> {
        self.state
            .get(&(invocation.service.clone(), invocation.key.clone()))
            .cloned()
    }

    /// A store holding only the state `state` of the object `invocation` calls.
    pub fn with_state_of(invocation: &Invocation, state: Option<Json>) -> ObjectStore {
        let mut store = ObjectStore::default();
        if let Some(state) = state {
            store
                .state
                .insert((invocation.service.clone(), invocation.key.clone()), state);
        }
        store
    }

    fn run(&mut self, invocation: &Invocation) -> Outcome {
        let slot = (invocation.service.clone(), invocation.key.clone());
        let body: Option<Json> = serde_json::from_slice(&invocation.body).ok();
        let current = self.state.get(&slot).cloned();
        let ok_null = Outcome::json(200, &Json::Null);
        match (invocation.service.as_str(), invocation.handler.as_str()) {
            (_, "$state") => {
                match body {
                    Some(Json::Null) | None => self.state.remove(&slot),
                    Some(state) => self.state.insert(slot, state),
                };
                ok_null
            }
            (_, "clear") => {
                self.state.remove(&slot);
                ok_null
            }
            ("Set", "get") => Outcome::json(200, &current.unwrap_or_else(|| Json::Array(vec![]))),
            ("Set", "add") => {
                let Some(element) = body else {
                    return Outcome::json(400, &"a JSON value to add".into());
                };
                let mut elements = match current {
                    Some(Json::Array(v)) => v,
                    _ => Vec::new(),
                };
                if !elements.contains(&element) {
                    elements.push(element);
                }
                self.state.insert(slot, Json::Array(elements));
                ok_null
            }
            ("Register", "get") => Outcome::json(200, &current.unwrap_or(Json::Null)),
            ("Register", "set") => {
                self.state.insert(slot, body.unwrap_or(Json::Null));
                ok_null
            }
            ("Register", "cas") => {
                let body = body.unwrap_or(Json::Null);
                let expected = body.get("expected").cloned().unwrap_or(Json::Null);
                let new = body.get("newValue").cloned().unwrap_or(Json::Null);
                if current.unwrap_or(Json::Null) == expected {
                    self.state.insert(slot, new);
                    ok_null
                } else {
                    Outcome::json(
                        412,
                        &serde_json::json!({"message": "expected value mismatch"}),
                    )
                }
            }
            (service, handler) => Outcome::json(
                404,
                &serde_json::json!({"message": format!("no handler {service}/{handler}")}),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jepsen_core::workload::transport::INGRESS_PORT;
    use serde_json::json;

    fn call(store: &mut ObjectStore, path: &str, body: Json, key: Option<&str>) -> (u16, Json) {
        let mut r = Request::new("POST", INGRESS_PORT, path).json(&body);
        if let Some(k) = key {
            r = r.header("idempotency-key", k);
        }
        let o = store.invoke(&parse_invocation(&r).unwrap());
        (o.status, serde_json::from_slice(&o.body).unwrap())
    }

    #[test]
    fn sets_add_once_and_registers_compare_and_set() {
        let s = &mut ObjectStore::default();
        call(s, "/Set/a/add", json!(1), None);
        call(s, "/Set/a/add", json!(2), None);
        call(s, "/Set/a/add", json!(1), None);
        assert_eq!(
            call(s, "/Set/a/get", Json::Null, None),
            (200, json!([1, 2]))
        );
        assert_eq!(call(s, "/Set/b/get", Json::Null, None), (200, json!([])));
        assert_eq!(
            call(s, "/Register/r/get", Json::Null, None),
            (200, Json::Null)
        );
        assert_eq!(
            call(
                s,
                "/Register/r/cas",
                json!({"expected": 1, "newValue": 2}),
                None
            )
            .0,
            412
        );
        call(s, "/Register/r/set", json!(1), None);
        assert_eq!(
            call(
                s,
                "/Register/r/cas",
                json!({"expected": 1, "newValue": 2}),
                None
            )
            .0,
            200
        );
        assert_eq!(
            call(s, "/Register/r/get", Json::Null, None),
            (200, json!(2))
        );
        call(s, "/Set/a/clear", Json::Null, None);
        assert_eq!(call(s, "/Set/a/get", Json::Null, None), (200, json!([])));
    }

    #[test]
    fn an_idempotency_key_runs_an_invocation_once() {
        let s = &mut ObjectStore::default();
        call(s, "/Register/r/set", json!(1), None);
        let cas = json!({"expected": 1, "newValue": 2});
        assert_eq!(call(s, "/Register/r/cas", cas.clone(), Some("k1")).0, 200);
        // Run again, it would fail (the register holds 2); deduplicated, it succeeds.
        assert_eq!(call(s, "/Register/r/cas", cas.clone(), Some("k1")).0, 200);
        assert_eq!(call(s, "/Register/r/cas", cas, Some("k2")).0, 412);
        let wrong = Request::new("POST", INGRESS_PORT, "/Counter/c/add");
        assert_eq!(parse_invocation(&wrong).unwrap_err().status, 404);
    }
}
