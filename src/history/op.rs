//! One operation, Jepsen's op map: an invocation or a completion of some `f` by a process.

use super::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Jepsen's `:type`. `Info` means indeterminate: the operation may take effect at any time
/// after its invocation, or never.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl OpType {
    pub fn name(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    pub fn parse(name: &str) -> Option<OpType> {
        match name {
            "invoke" => Some(OpType::Invoke),
            "ok" => Some(OpType::Ok),
            "fail" => Some(OpType::Fail),
            "info" => Some(OpType::Info),
            _ => None,
        }
    }
}

/// Who performed an operation: a client process (an integer) or the nemesis.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
    /// Any other keyword Jepsen may use as a process.
    Named(String),
}

impl Process {
    pub fn client(self) -> Option<u64> {
        match self {
            Process::Client(p) => Some(p),
            _ => None,
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            Process::Client(p) => Value::Int(*p as i64),
            Process::Nemesis => Value::keyword("nemesis"),
            Process::Named(n) => Value::keyword(n),
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str(":nemesis"),
            Process::Named(n) => super::value::write_keyword(f, n),
        }
    }
}

/// An operation. `index` and `time` are `-1` until the history assigns them.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    pub index: i64,
    /// Nanoseconds since the test started.
    pub time: i64,
    pub process: Process,
    pub kind: OpType,
    /// The function: a keyword's name such as `read`, `write`, `cas`, `add`, `txn`.
    pub f: String,
    pub value: Value,
    pub error: Option<Value>,
    /// Any other fields, such as `node` or `key`, by name, in a stable order.
    pub extra: BTreeMap<String, Value>,
}

impl Op {
    pub fn new(kind: OpType, process: Process, f: &str, value: Value) -> Op {
        Op {
            index: -1,
            time: -1,
            process,
            kind,
            f: f.to_string(),
            value,
            error: None,
            extra: BTreeMap::new(),
        }
    }

    pub fn invoke(process: u64, f: &str, value: Value) -> Op {
        Op::new(OpType::Invoke, Process::Client(process), f, value)
    }

    pub fn is_invoke(&self) -> bool {
        self.kind == OpType::Invoke
    }

    pub fn is_ok(&self) -> bool {
        self.kind == OpType::Ok
    }

    pub fn is_fail(&self) -> bool {
        self.kind == OpType::Fail
    }

    pub fn is_info(&self) -> bool {
        self.kind == OpType::Info
    }

    pub fn is_client(&self) -> bool {
        matches!(self.process, Process::Client(_))
    }

    /// A copy of this operation as a completion of the given type.
    pub fn complete(&self, kind: OpType) -> Op {
        let mut op = self.clone();
        op.kind = kind;
        op.index = -1;
        op.time = -1;
        op
    }

    pub fn with_time(mut self, time: i64) -> Op {
        self.time = time;
        self
    }

    pub fn with_error(mut self, error: Value) -> Op {
        self.error = Some(error);
        self
    }

    pub fn with_extra(mut self, key: &str, value: Value) -> Op {
        self.extra.insert(key.to_string(), value);
        self
    }

    /// The op as a Jepsen op map (index, time when known, type, process, f, value, then
    /// error and extra fields): how checkers quote an op in their results.
    pub fn to_value(&self) -> Value {
        let mut entries = vec![(Value::keyword("index"), Value::Int(self.index))];
        if self.time >= 0 {
            entries.push((Value::keyword("time"), Value::Int(self.time)));
        }
        entries.extend([
            (Value::keyword("type"), Value::keyword(self.kind.name())),
            (Value::keyword("process"), self.process.to_value()),
            (Value::keyword("f"), Value::keyword(&self.f)),
            (Value::keyword("value"), self.value.clone()),
        ]);
        if let Some(error) = &self.error {
            entries.push((Value::keyword("error"), error.clone()));
        }
        for (k, v) in &self.extra {
            entries.push((Value::keyword(k), v.clone()));
        }
        Value::Map(entries)
    }

    /// The op as a single EDN map on one line, in Jepsen's field order.
    pub fn to_edn(&self) -> String {
        self.to_string()
    }

    /// The op as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an op always serializes")
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use super::value::write_keyword;
        write!(
            f,
            "{{:index {}, :time {}, :type :{}, :process {}, :f ",
            self.index,
            self.time,
            self.kind.name(),
            self.process
        )?;
        write_keyword(f, &self.f)?;
        write!(f, ", :value {}", self.value)?;
        if let Some(error) = &self.error {
            write!(f, ", :error {error}")?;
        }
        for (k, v) in &self.extra {
            f.write_str(", ")?;
            write_keyword(f, k)?;
            write!(f, " {v}")?;
        }
        f.write_str("}")
    }
}

impl serde::Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("index", &self.index)?;
        map.serialize_entry("time", &self.time)?;
        map.serialize_entry("type", self.kind.name())?;
        match &self.process {
            Process::Client(p) => map.serialize_entry("process", p)?,
            Process::Nemesis => map.serialize_entry("process", "nemesis")?,
            Process::Named(n) => map.serialize_entry("process", n)?,
        }
        map.serialize_entry("f", &self.f)?;
        map.serialize_entry("value", &self.value)?;
        if let Some(error) = &self.error {
            map.serialize_entry("error", error)?;
        }
        for (k, v) in &self.extra {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use crate::history::{op_from_value, read_history_str, Value};

    #[test]
    fn an_op_as_a_value_reads_back_as_the_same_op() {
        let h = read_history_str(
            "t",
            "{:type :invoke, :f :add, :value 3, :process 0, :time 5}\n\
             {:type :info, :f :add, :value 3, :process 0, :time 9, :error :timeout, :node \"n1\"}\n",
        )
        .unwrap();
        let v = h.ops[1].to_value();
        assert_eq!(v.get("type"), Some(&Value::keyword("info")));
        assert_eq!(v.get("node"), Some(&Value::from("n1")));
        assert_eq!(op_from_value(v).unwrap(), h.ops[1]);
    }
}
