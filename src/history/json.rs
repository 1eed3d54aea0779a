//! Reading JSON straight into [`Value`], without serde_json's own tree in between: a
//! history's reads can hold millions of elements, and building each twice (as
//! `serde_json::Value`, then as `Value`) doubled the time to read a JSON-lines history.
//! The result is the same as converting through `serde_json::Value`, except that object
//! entries keep their order in the file.

use super::read::OpFields;
use super::{Op, Value};
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

    fn visit_u64<E: serde::de::Error>(self, u: u64) -> Result<Value, E> {
        i64::try_from(u)
            .map(Value::Int)
            .map_err(|_| E::custom(format!("the integer {u} does not fit in 64 signed bits")))
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
            r#"{"a": [1, -2, 3.5, 9223372036854775807, null, true, "x\"y"], "b": {"c": []}}"#;
        let direct: Value = serde_json::from_str(text).unwrap();
        let through: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(direct, Value::from(&through));
        assert_eq!(
            direct
                .get("a")
                .and_then(|a| a.as_slice())
                .map(|a| a[3].clone()),
            Some(Value::Int(i64::MAX))
        );
        let too_big = serde_json::from_str::<Value>("18446744073709551615").unwrap_err();
        assert!(too_big.to_string().contains("64 signed bits"), "{too_big}");
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

struct OpVisitor;

impl<'de> Visitor<'de> for OpVisitor {
    type Value = JsonOp;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an op map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonOp, A::Error> {
        use serde::de::Error;
        let mut fields = OpFields::default();
        while let Some(key) = map.next_key::<Key>()? {
            let name = match &key {
                Key::Index => "index",
                Key::Time => "time",
                Key::Type => "type",
                Key::Process => "process",
                Key::F => "f",
                Key::Value => "value",
                Key::Error => "error",
                Key::Other(k) => k,
            };
            fields
                .set(name, map.next_value()?)
                .map_err(A::Error::custom)?;
        }
        fields.finish().map(JsonOp).map_err(A::Error::custom)
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
            r#"{"type":"ok","process":1,"f":"a\"b","value":9223372036854775807}"#,
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
            r#"{"type":"ok","process":0,"f":"add","index":1.5}"#,
            r#"{"type":"ok","process":0,"f":"add","time":"soon"}"#,
            r#"[1,2]"#,
            r#"{"type":"ok","process":0,"f":"add""#,
        ];
        for line in lines {
            assert!(op_from_json_line(line).is_none(), "accepted {line}");
        }
        // An `:f` that is not a name is read as its text, by both paths alike.
        let line = r#"{"type":"ok","process":0,"f":3}"#;
        assert_eq!(general(line).unwrap().f, "3");
        assert_eq!(op_from_json_line(line).unwrap().f, "3");
    }
}
