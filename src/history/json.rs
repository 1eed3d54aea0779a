//! Reading JSON straight into [`Value`], without serde_json's own tree in between: a
//! history's reads can hold millions of elements, and building each twice (as
//! `serde_json::Value`, then as `Value`) doubled the time to read a JSON-lines history.
//! The result is the same as converting through `serde_json::Value`, except that object
//! entries keep their order in the file.

use super::{Op, OpType, Process, Value};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Nil)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(Value::Float(x))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Vec(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            entries.push((Value::Str(k), v));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_as_the_serde_json_tree_converts() {
        let text =
            r#"{"a": [1, -2, 3.5, 18446744073709551615, null, true, "x\"y"], "b": {"c": []}}"#;
        let direct: Value = serde_json::from_str(text).unwrap();
        let through: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(direct, Value::from(&through));
        assert_eq!(
            direct
                .get("a")
                .and_then(|a| a.as_slice())
                .map(|a| a[3].clone()),
            Some(Value::Float(18446744073709551615.0))
        );
    }
}

/// Reads one JSON-lines op straight into an [`Op`], without building its map. `None` if
/// the line is not a well-formed op; the general path (`Value`, then `op_from_value`)
/// then reports why. For every line it accepts, the op is the one the general path makes.
pub(crate) fn op_from_json_line(line: &str) -> Option<Op> {
    let JsonOp(op) = serde_json::from_str(line).ok()?;
    Some(op)
}

struct JsonOp(Op);

impl<'de> Deserialize<'de> for JsonOp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<JsonOp, D::Error> {
        d.deserialize_map(OpVisitor)
    }
}

/// The keys of an op map; any other key is an extra field.
enum Key {
    Index,
    Time,
    Type,
    Process,
    F,
    Value,
    Error,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an op field name")
            }
            fn visit_str<E>(self, s: &str) -> Result<Key, E> {
                Ok(match s {
                    "index" => Key::Index,
                    "time" => Key::Time,
                    "type" => Key::Type,
                    "process" => Key::Process,
                    "f" => Key::F,
                    "value" => Key::Value,
                    "error" => Key::Error,
                    other => Key::Other(other.to_string()),
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A string field read without keeping it: `:type` and `:process` names.
struct Name<T>(T);

impl<'de> Deserialize<'de> for Name<OpType> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = OpType;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an op type")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<OpType, E> {
                OpType::parse(s).ok_or_else(|| E::custom("not an op type"))
            }
        }
        d.deserialize_str(V).map(Name)
    }
}

impl<'de> Deserialize<'de> for Name<Process> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a process")
            }
            fn visit_u64<E: serde::de::Error>(self, p: u64) -> Result<Process, E> {
                // Beyond i64 the general path reads a float, which is no process.
                i64::try_from(p)
                    .map(|_| Process::Client(p))
                    .map_err(|_| E::custom("a process beyond i64"))
            }
            fn visit_i64<E: serde::de::Error>(self, p: i64) -> Result<Process, E> {
                u64::try_from(p)
                    .map(Process::Client)
                    .map_err(|_| E::custom("a negative process"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Process, E> {
                Ok(match s {
                    "nemesis" => Process::Nemesis,
                    other => Process::Named(other.to_string()),
                })
            }
        }
        d.deserialize_any(V).map(Name)
    }
}

struct OpVisitor;

impl<'de> Visitor<'de> for OpVisitor {
    type Value = JsonOp;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an op map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonOp, A::Error> {
        use serde::de::Error;
        let mut kind = None;
        let mut process = None;
        let mut f = None;
        let mut op = Op::new(OpType::Invoke, Process::Nemesis, "", Value::Nil);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Index => op.index = map.next_value::<i64>()?,
                Key::Time => {
                    op.time = match map.next_value::<Value>()? {
                        Value::Int(t) => t,
                        Value::Float(t) => t as i64,
                        _ => return Err(A::Error::custom("time")),
                    }
                }
                Key::Type => kind = Some(map.next_value::<Name<OpType>>()?.0),
                Key::Process => process = Some(map.next_value::<Name<Process>>()?.0),
                Key::F => f = Some(map.next_value::<String>()?),
                Key::Value => op.value = map.next_value()?,
                Key::Error => op.error = Some(map.next_value()?),
                Key::Other(k) => {
                    op.extra.insert(k, map.next_value()?);
                }
            }
        }
        match (kind, process, f) {
            (Some(kind), Some(process), Some(f)) => {
                op.kind = kind;
                op.process = process;
                op.f = f;
                Ok(JsonOp(op))
            }
            _ => Err(A::Error::custom("missing fields")),
        }
    }
}

#[cfg(test)]
mod op_tests {
    use super::*;
    use crate::history::op_from_value;

    fn general(line: &str) -> Result<Op, String> {
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        op_from_value(v)
    }

    #[test]
    fn the_direct_reader_makes_the_ops_the_general_path_makes() {
        let lines = [
            r#"{"index":3,"time":5,"type":"invoke","process":0,"f":"add","value":1}"#,
            r#"{"type":"ok","process":2,"f":"read","value":[1,2,{"a":null}],"node":"n1","time":7.9}"#,
            r#"{"type":"info","process":"nemesis","f":"start","value":null,"error":null}"#,
            r#"{"type":"info","process":"named","f":"x","value":"v","error":["timeout","slow"],"key":1,"key":2}"#,
            r#"{"type":"ok","process":1,"f":"a\"b","value":18446744073709551615}"#,
        ];
        for line in lines {
            let direct = op_from_json_line(line).unwrap_or_else(|| panic!("rejected {line}"));
            assert_eq!(Ok(direct), general(line), "{line}");
        }
    }

    #[test]
    fn the_direct_reader_leaves_bad_ops_to_the_general_path() {
        let lines = [
            r#"{"type":"bogus","process":0,"f":"add"}"#,
            r#"{"type":"ok","process":-1,"f":"add"}"#,
            r#"{"type":"ok","process":0.5,"f":"add"}"#,
            r#"{"type":"ok","process":18446744073709551615,"f":"add"}"#,
            r#"{"type":"ok","f":"add"}"#,
            r#"{"type":"ok","process":0,"f":3}"#,
            r#"{"type":"ok","process":0,"f":"add","index":1.5}"#,
            r#"{"type":"ok","process":0,"f":"add","time":"soon"}"#,
            r#"[1,2]"#,
            r#"{"type":"ok","process":0,"f":"add""#,
        ];
        for line in lines {
            assert!(op_from_json_line(line).is_none(), "accepted {line}");
        }
        // An `:f` that is not a name is still read, by the general path.
        assert_eq!(
            general(r#"{"type":"ok","process":0,"f":3}"#).unwrap().f,
            "3"
        );
    }
}
