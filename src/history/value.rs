//! The values an operation carries, as Jepsen histories hold them.
//!
//! EDN distinguishes keywords from strings and has sets; JSON has neither. `Value` keeps
//! EDN's richness so an EDN history round-trips exactly, and every checker compares names
//! through [`Value::as_name`], so a keyword `:x` read from EDN and the string `"x"` read
//! from JSON lines mean the same thing.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A Jepsen value: nil, booleans, integers, floats, strings, keywords, vectors, sets, maps.
///
/// Maps and sets keep their entries in the order they were read, so that writing a history
/// back reproduces it; equality on maps and sets ignores that order.
#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// A keyword, without its leading colon.
    Keyword(String),
    /// A vector or a list.
    Vec(Vec<Value>),
    Set(Vec<Value>),
    Map(Vec<(Value, Value)>),
}

impl Value {
    pub fn keyword(name: &str) -> Value {
        Value::Keyword(name.to_string())
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The name of a keyword or the text of a string: how checkers compare names.
    pub fn as_name(&self) -> Option<&str> {
        match self {
            Value::Keyword(s) | Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of a vector, list or set.
    pub fn as_slice(&self) -> Option<&[Value]> {
        match self {
            Value::Vec(v) | Value::Set(v) => Some(v),
            _ => None,
        }
    }

    /// The value under `key` (a keyword or string name) in a map.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_name() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Nil => 0,
            Value::Bool(_) => 1,
            Value::Int(_) | Value::Float(_) => 2,
            Value::Str(_) | Value::Keyword(_) => 3,
            Value::Vec(_) => 4,
            Value::Set(_) => 5,
            Value::Map(_) => 6,
        }
    }

    fn sorted(items: &[Value]) -> Vec<&Value> {
        let mut v: Vec<&Value> = items.iter().collect();
        v.sort();
        v
    }

    fn sorted_entries(items: &[(Value, Value)]) -> Vec<(&Value, &Value)> {
        let mut v: Vec<(&Value, &Value)> = items.iter().map(|(k, v)| (k, v)).collect();
        v.sort();
        v
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A total order: by kind, then by content. Keywords and strings with the same text are
/// equal (see the module doc); integers and floats are ordered numerically but are never
/// equal.
impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            // Numerically, but never equal: 1 and 1.0 are different values, as in
            // Clojure's `=`; an integer sorts before a float of the same magnitude.
            (Int(a), Float(b)) => (*a as f64).total_cmp(b).then(Ordering::Less),
            (Float(a), Int(b)) => a.total_cmp(&(*b as f64)).then(Ordering::Greater),
            (Str(a) | Keyword(a), Str(b) | Keyword(b)) => a.cmp(b),
            (Vec(a), Vec(b)) => a.cmp(b),
            (Set(a), Set(b)) => Value::sorted(a).cmp(&Value::sorted(b)),
            (Map(a), Map(b)) => Value::sorted_entries(a).cmp(&Value::sorted_entries(b)),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Value::Nil => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(f) => f.to_bits().hash(state),
            Value::Str(s) | Value::Keyword(s) => s.hash(state),
            Value::Vec(v) => v.hash(state),
            Value::Set(v) => Value::sorted(v).hash(state),
            Value::Map(m) => Value::sorted_entries(m).hash(state),
        }
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<Vec<Value>> for Value {
    fn from(v: Vec<Value>) -> Self {
        Value::Vec(v)
    }
}

/// Writes the value as EDN.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => {
                if x.is_nan() {
                    f.write_str("##NaN")
                } else if x.is_infinite() {
                    f.write_str(if *x > 0.0 { "##Inf" } else { "##-Inf" })
                } else {
                    // Debug always writes a float as a float ("1.0", "1e300").
                    write!(f, "{x:?}")
                }
            }
            Value::Str(s) => write_edn_string(f, s),
            Value::Keyword(k) => write_keyword(f, k),
            Value::Vec(items) => write_seq(f, "[", items, "]"),
            Value::Set(items) => write_seq(f, "#{", items, "}"),
            Value::Map(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Writes `:name`, or the name as a string when it could not be read back as a keyword
/// (names from JSON may hold spaces or brackets).
pub(crate) fn write_keyword(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let readable = !name.is_empty()
        && !name.starts_with(':')
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"{}[]()\"';,#\\@^`~".contains(&b) || b >= 0x80);
    if readable {
        write!(f, ":{name}")
    } else {
        write_edn_string(f, name)
    }
}

fn write_seq(f: &mut fmt::Formatter<'_>, open: &str, items: &[Value], close: &str) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(close)
}

fn write_edn_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// JSON has no keywords or sets: keywords become strings, sets arrays, map keys strings.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Nil => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(x) => s.serialize_f64(*x),
            Value::Str(t) | Value::Keyword(t) => s.serialize_str(t),
            Value::Vec(items) | Value::Set(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    match k.as_name() {
                        Some(name) => map.serialize_entry(name, v)?,
                        None => map.serialize_entry(&k.to_string(), v)?,
                    }
                }
                map.end()
            }
        }
    }
}

impl From<&serde_json::Value> for Value {
    fn from(j: &serde_json::Value) -> Self {
        match j {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(items) => Value::Vec(items.iter().map(Value::from).collect()),
            serde_json::Value::Object(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (Value::Str(k.clone()), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_and_strings_with_the_same_text_are_equal() {
        assert_eq!(Value::keyword("x"), Value::from("x"));
        assert_ne!(Value::keyword("x"), Value::keyword("y"));
    }

    #[test]
    fn integers_and_floats_order_numerically_but_never_equal() {
        assert_ne!(Value::Int(1), Value::Float(1.0));
        assert!(Value::Int(1) < Value::Float(1.0));
        assert!(Value::Float(1.0) < Value::Int(2));
        assert!(Value::Float(0.5) < Value::Int(1));
    }

    #[test]
    fn sets_and_maps_compare_without_order() {
        let a = Value::Set(vec![Value::Int(1), Value::Int(2)]);
        let b = Value::Set(vec![Value::Int(2), Value::Int(1)]);
        assert_eq!(a, b);
        let m1 = Value::Map(vec![
            (Value::keyword("a"), 1.into()),
            (Value::keyword("b"), 2.into()),
        ]);
        let m2 = Value::Map(vec![
            (Value::keyword("b"), 2.into()),
            (Value::keyword("a"), 1.into()),
        ]);
        assert_eq!(m1, m2);
    }

    #[test]
    fn displays_as_edn() {
        let v = Value::Vec(vec![
            Value::keyword("read"),
            Value::keyword("x"),
            Value::Nil,
            Value::from("a\"b"),
            Value::Float(1.0),
        ]);
        assert_eq!(v.to_string(), r#"[:read :x nil "a\"b" 1.0]"#);
    }
}
