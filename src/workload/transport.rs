//! The request seam between workload clients and a Restate cluster.
//!
//! Workload clients are written once, against this trait: they build the same HTTP
//! requests a real client sends to Restate's ingress (port 8080) or admin API (port 9070)
//! and map the responses and errors to `:ok` / `:fail` / `:info`. The real world sends
//! them over HTTP; the simulation delivers them to its modeled cluster.

use crate::runtime::LocalBoxFuture;

/// Restate's ingress port (`POST /Set/{key}/add`, ...).
pub const INGRESS_PORT: u16 = 8080;
/// Restate's admin port (`GET/PUT /metadata/{key}`, ...).
pub const ADMIN_PORT: u16 = 9070;

/// An HTTP request, as the workloads need it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    pub port: u16,
    /// The path, e.g. `/Set/jepsen-set/add`.
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: &'static str, port: u16, path: impl Into<String>) -> Request {
        Request {
            method,
            port,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// A JSON body, with its content type.
    pub fn json(self, body: &serde_json::Value) -> Request {
        let mut r = self.header("content-type", "application/json");
        r.body = body.to_string().into_bytes();
        r
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn json(mut self, body: &serde_json::Value) -> Response {
        self.body = body.to_string().into_bytes();
        self.header("content-type", "application/json")
    }

    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Why no response came back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// The connection was refused: the request certainly did not happen.
    Refused(String),
    /// No response in time: the request may or may not have happened.
    Timeout(String),
    /// Anything else (reset connection, broken response): may or may not have happened.
    Other(String),
}

/// Sends requests to a node of the cluster.
/// What [`Transport::send`] returns: the response, or why there is none.
pub type Reply = LocalBoxFuture<'static, Result<Response, TransportError>>;

pub trait Transport {
    /// Sends `request` to `node` and waits for its response (the transport applies the
    /// request timeout and reports it as [`TransportError::Timeout`]).
    fn send(&self, node: &str, request: Request) -> Reply;
}
