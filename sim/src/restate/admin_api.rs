//! The admin API's metadata endpoints (`:9070/metadata/{key}`), as HTTP requests and
//! responses: turns a [`Request`] into a call on the metadata store, and the store's
//! answers into [`Response`]s, with Restate's status codes (200, 404 on a missing key, 412
//! on a failed precondition, 400 on a malformed request, 503 when the store cannot
//! answer now).
//!
//! Headers: `if-match` is `*` (unconditional; also when absent), `does-not-exist`, or a
//! version; a PUT names its new version in `etag`; a GET answers the version in `etag`.
//! Versions are unsigned integers, optionally in double quotes as HTTP entity tags.

use super::metadata_store::{MetadataCommand, Precondition, VersionedValue, WriteOutcome};
use jepsen_core::workload::transport::{Request, Response};

/// A call on the metadata store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminCall {
    Get { key: String },
    Write(MetadataCommand),
}

/// The call `request` makes, or the response that rejects it.
pub fn parse(request: &Request) -> Result<AdminCall, Response> {
    let Some(key) = request.path.strip_prefix("/metadata/") else {
        return Err(message(404, &format!("no route {}", request.path)));
    };
    if key.is_empty() {
        return Err(message(404, "no metadata key in the path"));
    }
    let key = key.to_string();
    match request.method {
        "GET" => Ok(AdminCall::Get { key }),
        "PUT" => {
            let precondition = precondition(request)?;
            let version = match request.header_value("etag").map(version) {
                Some(Some(v)) => v,
                Some(None) => return Err(message(400, "the etag header is not a version")),
                None => return Err(message(400, "a PUT needs an etag header")),
            };
            Ok(AdminCall::Write(MetadataCommand::Put {
                key,
                precondition,
                value: VersionedValue {
                    version,
                    value: request.body.clone(),
                },
            }))
        }
        "DELETE" => Ok(AdminCall::Write(MetadataCommand::Delete {
            key,
            precondition: precondition(request)?,
        })),
        other => Err(message(405, &format!("method {other} not allowed"))),
    }
}

fn precondition(request: &Request) -> Result<Precondition, Response> {
    match request.header_value("if-match").map(str::trim) {
        None | Some("*") => Ok(Precondition::Any),
        Some("does-not-exist") => Ok(Precondition::DoesNotExist),
        Some(v) => version(v).map(Precondition::MatchesVersion).ok_or_else(|| {
            message(
                400,
                "the if-match header is not *, does-not-exist or a version",
            )
        }),
    }
}

fn version(text: &str) -> Option<u64> {
    let text = text.trim();
    let text = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    text.parse().ok()
}

/// The answer to a GET: the value with its version, or 404.
pub fn get_response(value: Option<&VersionedValue>) -> Response {
    match value {
        Some(v) => {
            let mut response = Response::new(200)
                .header("etag", v.version.to_string())
                .header("content-type", "application/json");
            response.body = v.value.clone();
            response
        }
        None => message(404, "not found"),
    }
}

/// The answer to a write.
pub fn write_response(outcome: WriteOutcome) -> Response {
    match outcome {
        WriteOutcome::Done => Response::new(200),
        WriteOutcome::PreconditionFailed => message(412, "precondition failed"),
    }
}

/// 503: the store cannot answer now (no leader, or no answer in time).
pub fn unavailable(why: &str) -> Response {
    message(503, why)
}

/// A response with a JSON `{"message": ...}` body, as Restate's errors have.
pub fn message(status: u16, text: &str) -> Response {
    Response::new(status).json(&serde_json::json!({ "message": text }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jepsen_core::workload::transport::ADMIN_PORT;

    fn put(if_match: Option<&str>, etag: Option<&str>) -> Result<AdminCall, Response> {
        let mut r = Request::new("PUT", ADMIN_PORT, "/metadata/k");
        if let Some(m) = if_match {
            r = r.header("If-Match", m);
        }
        if let Some(e) = etag {
            r = r.header("ETag", e);
        }
        parse(&r.json(&serde_json::json!(3)))
    }

    fn precondition_of(call: Result<AdminCall, Response>) -> Precondition {
        match call {
            Ok(AdminCall::Write(MetadataCommand::Put { precondition, .. })) => precondition,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn puts_carry_their_precondition_version_and_body() {
        assert_eq!(
            precondition_of(put(Some("*"), Some("4"))),
            Precondition::Any
        );
        assert_eq!(precondition_of(put(None, Some("4"))), Precondition::Any);
        assert_eq!(
            precondition_of(put(Some("does-not-exist"), Some("4"))),
            Precondition::DoesNotExist
        );
        assert_eq!(
            precondition_of(put(Some("\"7\""), Some("8"))),
            Precondition::MatchesVersion(7)
        );
        match put(Some("7"), Some("\"8\"")).unwrap() {
            AdminCall::Write(MetadataCommand::Put { key, value, .. }) => {
                assert_eq!(key, "k");
                assert_eq!(value.version, 8);
                assert_eq!(value.value, b"3");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_requests_are_rejected() {
        assert_eq!(put(Some("7"), None).unwrap_err().status, 400);
        assert_eq!(put(Some("seven"), Some("8")).unwrap_err().status, 400);
        assert_eq!(put(Some("*"), Some("x")).unwrap_err().status, 400);
        let wrong_path = Request::new("GET", ADMIN_PORT, "/deployments");
        assert_eq!(parse(&wrong_path).unwrap_err().status, 404);
        let wrong_method = Request::new("POST", ADMIN_PORT, "/metadata/k");
        assert_eq!(parse(&wrong_method).unwrap_err().status, 405);
    }

    #[test]
    fn a_get_answers_the_value_and_its_version() {
        let v = VersionedValue {
            version: 12,
            value: b"[1,2]".to_vec(),
        };
        let r = get_response(Some(&v));
        assert_eq!((r.status, r.header_value("ETag")), (200, Some("12")));
        assert_eq!(r.body_json(), Some(serde_json::json!([1, 2])));
        assert_eq!(get_response(None).status, 404);
        assert_eq!(write_response(WriteOutcome::PreconditionFailed).status, 412);
    }
}
