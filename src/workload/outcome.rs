//! How a workload client turns a response, or its absence, into a completion: the error
//! mapping of restatedev/jepsen's clients. A refused connection or a definite refusal
//! (404, 412) is `:fail` (it did not happen); a timeout, a 5xx or anything unexpected is
//! `:info` (it may have happened).

use super::transport::{Response, TransportError};
use crate::history::{Op, OpType, Value};

/// The completion of `invoke` when no response came back.
pub fn from_transport_error(invoke: &Op, error: &TransportError) -> Op {
    let (kind, name, message) = match error {
        TransportError::Refused(m) => (OpType::Fail, "connect", m),
        TransportError::Timeout(m) => (OpType::Info, "timeout", m),
        TransportError::Other(m) => (OpType::Info, "transport", m),
    };
    invoke.complete(kind).with_error(Value::Vec(vec![
        Value::keyword(name),
        Value::Str(message.clone()),
    ]))
}

/// The completion of `invoke` for a response that is not a success, or `None` for a 2xx.
pub fn from_status(invoke: &Op, response: &Response) -> Option<Op> {
    let (kind, error) = match response.status {
        200..=299 => return None,
        404 => (OpType::Fail, Value::keyword("not-found")),
        412 => (OpType::Fail, Value::keyword("precondition-failed")),
        500 => (OpType::Info, Value::keyword("server-internal")),
        status => (
            OpType::Info,
            Value::Vec(vec![Value::keyword("http"), Value::Int(status as i64)]),
        ),
    };
    Some(invoke.complete(kind).with_error(error))
}

/// The completion of `invoke` when a 2xx response's body is not what was expected: the
/// operation happened but its result is unknown.
pub fn unreadable(invoke: &Op, what: &str) -> Op {
    invoke.complete(OpType::Info).with_error(Value::Vec(vec![
        Value::keyword("unreadable-response"),
        Value::from(what),
    ]))
}

/// A JSON value from a response body as a history value.
pub fn json_to_value(json: &serde_json::Value) -> Value {
    Value::from(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_fail_and_doubts_are_info() {
        let op = Op::invoke(0, "add", Value::Int(1));
        let fail = |r: u16| from_status(&op, &Response::new(r)).unwrap().kind;
        assert_eq!(fail(404), OpType::Fail);
        assert_eq!(fail(412), OpType::Fail);
        assert_eq!(fail(500), OpType::Info);
        assert_eq!(fail(503), OpType::Info);
        assert!(from_status(&op, &Response::new(200)).is_none());
        assert_eq!(
            from_transport_error(&op, &TransportError::Refused("x".into())).kind,
            OpType::Fail
        );
        let timeout = from_transport_error(&op, &TransportError::Timeout("5 s".into()));
        assert_eq!(timeout.kind, OpType::Info);
        assert_eq!(
            timeout.error.unwrap().as_slice().unwrap()[0],
            Value::keyword("timeout")
        );
    }
}
