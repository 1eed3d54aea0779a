//! Reading a history file: EDN (Jepsen's `history.edn`, one map per line or one vector of
//! maps) or JSON lines, detected from the content. Every error names the file and line.

use super::edn::parse_edn_history;
use super::input::{read_bounded, Source, DEFAULT_MAX_BYTES};
use super::json::op_from_json_line;
use super::{History, Op, OpType, Pairing, Process, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Edn,
    JsonLines,
}

/// A history that could not be read, with where and why: `FILE:LINE: message`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadError {
    pub file: String,
    /// 1-based; 0 when the error is about the file as a whole.
    pub line: usize,
    pub message: String,
}

/// One printable line, however odd the file's name or the message's quoted text.
impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if self.line == 0 {
            format!("{}: {}", self.file, self.message)
        } else {
            format!("{}:{}: {}", self.file, self.line, self.message)
        };
        f.write_str(&crate::printable::line(&text))
    }
}

impl std::error::Error for ReadError {}

/// How to read a history file: how its ops must pair (the checkers decide), and the
/// most bytes it may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    pub pairing: Pairing,
    pub max_bytes: u64,
    pub source: Source,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            pairing: Pairing::Strict,
            max_bytes: DEFAULT_MAX_BYTES,
            source: Source::Any,
        }
    }
}

/// Reads and validates the history in `path` (strict pairing, the default size limit).
pub fn read_history_file(path: &Path) -> Result<History, ReadError> {
    read_history_file_with(path, &ReadOptions::default())
}

/// Reads and validates the history in `path` as `opts` say.
pub fn read_history_file_with(path: &Path, opts: &ReadOptions) -> Result<History, ReadError> {
    let file = path.display().to_string();
    let bytes = read_bounded(path, opts.max_bytes, opts.source)?;
    let text = String::from_utf8(bytes).map_err(|_| ReadError {
        file: file.clone(),
        line: 0,
        message: "not a UTF-8 text file: expected an EDN or JSON-lines history".to_string(),
    })?;
    let history = read_history_str_with(&file, &text, opts.pairing)?;
    if history.is_empty() {
        return Err(ReadError {
            file,
            line: 0,
            message: "no operations: expected an EDN or JSON-lines history".to_string(),
        });
    }
    Ok(history)
}

/// Which format `text` is in: JSON lines if its first form is a JSON object.
pub fn detect_format(text: &str) -> Format {
    let mut rest = text.trim_start();
    while rest.starts_with(';') {
        rest = rest
            .split_once('\n')
            .map(|(_, r)| r)
            .unwrap_or("")
            .trim_start();
    }
    if let Some(after) = rest.strip_prefix('{') {
        if after.trim_start().starts_with('"') || after.trim_start().starts_with('}') {
            return Format::JsonLines;
        }
    }
    Format::Edn
}

/// Reads and validates a history from text (strict pairing); `file` names it in errors.
pub fn read_history_str(file: &str, text: &str) -> Result<History, ReadError> {
    read_history_str_with(file, text, Pairing::Strict)
}

/// Reads a history from text, its ops paired as `pairing` says.
pub fn read_history_str_with(
    file: &str,
    text: &str,
    pairing: Pairing,
) -> Result<History, ReadError> {
    let err = |line: usize, message: String| ReadError {
        file: file.to_string(),
        line,
        message,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with("[{\"") || text.trim_start().starts_with("[ {\"") {
        return Err(err(
            1,
            "a JSON array: expected JSON lines (one op object per line) or EDN".to_string(),
        ));
    }
    let mut ops = Vec::new();
    let mut lines = Vec::new();
    match detect_format(text) {
        Format::Edn => {
            (ops, lines) = parse_edn_history(text).map_err(|e| err(e.line, e.message))?;
        }
        Format::JsonLines => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                // The direct reader takes well-formed ops; anything else goes the general
                // way, which says what is wrong.
                let op = match op_from_json_line(line) {
                    Some(op) => op,
                    None => {
                        let form: Value = serde_json::from_str(line)
                            .map_err(|e| err(i + 1, format!("malformed JSON (truncated?): {e}")))?;
                        op_from_value(form).map_err(|m| err(i + 1, m))?
                    }
                };
                ops.push(op);
                lines.push(i + 1);
            }
        }
    }
    History::paired(ops, pairing).map_err(|e| err(lines[e.position], e.message))
}

/// Converts a map read from EDN or JSON into an op.
pub fn op_from_value(form: Value) -> Result<Op, String> {
    let Value::Map(entries) = form else {
        return Err(format!("expected an op map, found {}", abbreviate(&form)));
    };
    let mut fields = OpFields::default();
    for (k, v) in entries {
        let Some(key) = k.as_name() else {
            return Err(format!(
                "an op map key that is not a keyword: {}",
                abbreviate(&k)
            ));
        };
        fields.set(key, v)?;
    }
    fields.finish()
}

/// An op read field by field: by [`op_from_value`] from a map, and by the EDN reader
/// straight from the text.
pub(crate) struct OpFields {
    kind: Option<OpType>,
    process: Option<Process>,
    f: Option<String>,
    index: i64,
    time: i64,
    value: Value,
    error: Option<Value>,
    extra: BTreeMap<String, Value>,
}

impl Default for OpFields {
    fn default() -> Self {
        OpFields {
            kind: None,
            process: None,
            f: None,
            index: -1,
            time: -1,
            value: Value::Nil,
            error: None,
            extra: BTreeMap::new(),
        }
    }
}

impl OpFields {
    /// Sets the field named `key` (a later field of the same name wins).
    pub(crate) fn set(&mut self, key: &str, v: Value) -> Result<(), String> {
        match key {
            "type" => {
                let name = v
                    .as_name()
                    .map(strip_colon)
                    .ok_or_else(|| format!(":type must be a keyword, found {}", abbreviate(&v)))?;
                self.kind = Some(OpType::parse(name).ok_or_else(|| {
                    format!(
                        ":type :{} is not one of :invoke, :ok, :fail, :info",
                        crate::printable::quote(name)
                    )
                })?);
            }
            "process" => {
                self.process = Some(match &v {
                    Value::Int(p) if *p >= 0 => Process::Client(*p as u64),
                    Value::Keyword(n) | Value::Str(n) => match strip_colon(n) {
                        "nemesis" => Process::Nemesis,
                        // JSON written by other tools may quote client processes.
                        digits
                            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
                        {
                            Process::Client(digits.parse().map_err(|_| {
                                format!(
                                    ":process {} is too large for a process number",
                                    crate::printable::quote(digits)
                                )
                            })?)
                        }
                        name => Process::Named(name.to_string()),
                    },
                    other => {
                        return Err(format!(
                            ":process must be a non-negative integer or a keyword, found {}",
                            abbreviate(other)
                        ))
                    }
                })
            }
            "f" => {
                self.f = Some(match v {
                    Value::Keyword(n) => n,
                    Value::Str(n) => strip_colon(&n).to_string(),
                    other => other.to_string(),
                })
            }
            "index" => {
                self.index = v
                    .as_int()
                    .ok_or_else(|| ":index must be an integer".to_string())?
            }
            "time" => {
                self.time = match v {
                    Value::Int(t) => t,
                    Value::Float(t) => t as i64,
                    _ => return Err(":time must be a number (nanoseconds)".to_string()),
                }
            }
            "value" => self.value = v,
            "error" => self.error = Some(v),
            other => {
                self.extra.insert(other.to_string(), v);
            }
        }
        Ok(())
    }

    /// The op, if it has the fields every op needs.
    pub(crate) fn finish(self) -> Result<Op, String> {
        Ok(Op {
            index: self.index,
            time: self.time,
            process: self.process.ok_or("an op without :process")?,
            kind: self
                .kind
                .ok_or("an op without :type (expected :invoke, :ok, :fail or :info)")?,
            f: self.f.ok_or("an op without :f")?,
            value: self.value,
            error: self.error,
            extra: self.extra,
        })
    }
}

/// A keyword's name as JSON writers may spell it, `":ok"`, without the colon.
fn strip_colon(name: &str) -> &str {
    name.strip_prefix(':').unwrap_or(name)
}

/// A value as an error message quotes it: short, control characters escaped.
fn abbreviate(v: &Value) -> String {
    crate::printable::quote(&v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_edn_lines_and_vectors_alike() {
        let lines = "{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :read, :value 3, :process 0}\n";
        let vector = format!("[{}]", lines);
        let a = read_history_str("a", lines).unwrap();
        let b = read_history_str("b", &vector).unwrap();
        assert_eq!(a.ops, b.ops);
        assert_eq!(a.ops[1].value, Value::Int(3));
    }

    #[test]
    fn reads_json_lines() {
        let text = r#"{"index":0,"time":5,"type":"invoke","process":0,"f":"add","value":1}
{"index":1,"time":9,"type":"ok","process":0,"f":"add","value":1,"node":"n1"}
"#;
        let h = read_history_str("h.jsonl", text).unwrap();
        assert_eq!(h.ops[1].extra.get("node"), Some(&Value::from("n1")));
        assert_eq!(h.ops[1].time, 9);
    }

    #[test]
    fn round_trips_through_both_writers() {
        let text = "{:type :invoke, :f :txn, :value [[:read :x nil] [:write :y 1]], :process 0, :time 3}\n{:type :info, :f :txn, :value nil, :process 0, :time 4, :error :timeout, :node \"n2\"}\n";
        let h = read_history_str("t", text).unwrap();
        let edn: String = h.ops.iter().map(|o| o.to_edn() + "\n").collect();
        let json: String = h.ops.iter().map(|o| o.to_json() + "\n").collect();
        assert_eq!(read_history_str("e", &edn).unwrap().ops, h.ops);
        assert_eq!(read_history_str("j", &json).unwrap().ops, h.ops);
    }

    #[test]
    fn odd_names_and_floats_round_trip_through_edn() {
        let text = "{\"type\":\"invoke\",\"process\":\"odd name\",\"f\":\"a b\",\"value\":[1e15, 0.5, 2.0],\"my key\":1}\n";
        let h = read_history_str("j", text).unwrap();
        let edn: String = h.ops.iter().map(|o| o.to_edn() + "\n").collect();
        assert_eq!(read_history_str("e", &edn).unwrap().ops, h.ops, "{edn}");
        assert!(matches!(
            h.ops[0].value.as_slice().unwrap()[0],
            Value::Float(_)
        ));
    }

    #[test]
    fn errors_name_the_line() {
        let e = read_history_str(
            "x.edn",
            "{:type :invoke, :f :read, :process 0}\n{:f :read, :process 1}\n",
        )
        .unwrap_err();
        assert_eq!((e.line, e.file.as_str()), (2, "x.edn"));
        assert!(e.message.contains(":type"), "{e}");
        let e = read_history_str(
            "x.edn",
            "{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :process 1}\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("x.edn:2: "), "{e}");
    }
}
