//! How checkers quote operations in their results: as Jepsen's op maps, so a report names
//! an op exactly as the history file does (`{:index 7, :time …, :type :ok, …}`).

use crate::history::{Op, Value};

/// The op as a Jepsen op map: index, time, type, process, f, value, then error and any
/// extra fields.
pub fn op_to_value(op: &Op) -> Value {
    let mut entries = vec![
        (Value::keyword("index"), Value::Int(op.index)),
        (Value::keyword("time"), Value::Int(op.time)),
        (Value::keyword("type"), Value::keyword(op.kind.name())),
        (Value::keyword("process"), op.process.to_value()),
        (Value::keyword("f"), Value::keyword(&op.f)),
        (Value::keyword("value"), op.value.clone()),
    ];
    if let Some(error) = &op.error {
        entries.push((Value::keyword("error"), error.clone()));
    }
    for (k, v) in &op.extra {
        entries.push((Value::keyword(k), v.clone()));
    }
    Value::Map(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history_str;

    #[test]
    fn an_op_renders_as_the_map_it_was_read_from() {
        let h = read_history_str(
            "t",
            "{:type :invoke, :f :add, :value 3, :process 0, :time 5}\n\
             {:type :info, :f :add, :value 3, :process 0, :time 9, :error :timeout, :node \"n1\"}\n",
        )
        .unwrap();
        let v = op_to_value(&h.ops[1]);
        assert_eq!(v.get("index"), Some(&Value::Int(1)));
        assert_eq!(v.get("type"), Some(&Value::keyword("info")));
        assert_eq!(v.get("error"), Some(&Value::keyword("timeout")));
        assert_eq!(v.get("node"), Some(&Value::from("n1")));
        assert_eq!(
            crate::history::op_from_value(v).unwrap(),
            h.ops[1],
            "the map reads back as the same op"
        );
    }
}
