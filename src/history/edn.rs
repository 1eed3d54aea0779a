//! A small EDN reader for Jepsen histories.
//!
//! Written here rather than taken from a crate (edn-format, edn-rs) for three reasons:
//! histories are large (a million ops must parse in well under a second), errors must name
//! the line they are on, and the value model is Jepsen's (`Value`), which those crates'
//! trees (big integers, ordered floats, chrono instants) would have to be converted from.
//! It reads the whole EDN data syntax a history can hold: nil, booleans, integers
//! (with `N`), floats (with `M`), strings, characters, keywords, symbols (as strings),
//! lists, vectors, maps, sets, `;` comments, commas, `#_` discards and tagged literals
//! (`#inst "…"` reads as its string, `#jepsen.history.Op{…}` as its map).

use super::read::OpFields;
use super::{op_from_value, Op, Value};

/// An EDN syntax error at a 1-based line.
#[derive(Clone, Debug, PartialEq)]
pub struct EdnError {
    pub line: usize,
    pub message: String,
}

/// Parses every top-level EDN value in `text`, each with the line it starts on.
pub fn parse_edn_values(text: &str) -> Result<Vec<(Value, usize)>, EdnError> {
    parse_all(text, false, Reader::read_value)
}

/// Parses the ops of a history: either top-level maps, one after another, or one vector
/// (or list) of maps, whose elements are returned one by one with their own lines.
pub fn parse_edn_ops(text: &str) -> Result<Vec<(Value, usize)>, EdnError> {
    parse_all(text, true, Reader::read_value)
}

/// Like [`parse_edn_ops`], then each form made an op as [`op_from_value`] does (the first
/// form that is not an op is the error, at its line), but plain op maps are read straight
/// into ops, without building their maps: a history is mostly such maps, and this halves
/// the time to read one. The ops and their lines.
pub(crate) fn parse_edn_history(text: &str) -> Result<(Vec<Op>, Vec<usize>), EdnError> {
    let (mut ops, mut lines) = (Vec::new(), Vec::new());
    parse(
        text,
        true,
        |reader| {
            let line = reader.line;
            if let Some(op) = reader.try_read_op() {
                return Ok(Some(op));
            }
            match reader.read_value()? {
                None => Ok(None),
                Some(form) => op_from_value(form)
                    .map(Some)
                    .map_err(|message| EdnError { line, message }),
            }
        },
        |op, line| {
            ops.push(op);
            lines.push(line);
        },
    )?;
    Ok((ops, lines))
}

/// Reads the top-level forms with `read_form`, which returns `None` at a closing
/// delimiter (left unread).
fn parse_all<'a, T>(
    text: &'a str,
    flatten_top_seq: bool,
    read_form: impl FnMut(&mut Reader<'a>) -> Result<Option<T>, EdnError>,
) -> Result<Vec<(T, usize)>, EdnError> {
    let mut out = Vec::new();
    parse(text, flatten_top_seq, read_form, |v, line| {
        out.push((v, line))
    })?;
    Ok(out)
}

/// Reads the top-level forms with `read_form` (which returns `None` at a closing
/// delimiter, left unread) and hands each, with its line, to `sink`: a long history
/// goes straight into its ops, never through a list of forms.
fn parse<'a, T>(
    text: &'a str,
    flatten_top_seq: bool,
    mut read_form: impl FnMut(&mut Reader<'a>) -> Result<Option<T>, EdnError>,
    mut sink: impl FnMut(T, usize),
) -> Result<(), EdnError> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
        depth: 0,
    };
    let mut forms = 0usize;
    let mut depth = 0;
    loop {
        reader.skip_ws();
        if reader.pos >= reader.bytes.len() {
            if depth > 0 {
                return Err(reader.error("unexpected end of input: the history's opening bracket is never closed (truncated?)"));
            }
            return Ok(());
        }
        let line = reader.line;
        if flatten_top_seq && depth == 0 && forms == 0 && matches!(reader.peek(), Some(b'[' | b'('))
        {
            reader.pos += 1;
            depth = 1;
            continue;
        }
        match read_form(&mut reader)? {
            Some(v) => {
                forms += 1;
                sink(v, line);
            }
            None if depth == 1 => {
                reader.pos += 1;
                depth = 0;
            }
            None => return Err(reader.error("unexpected closing delimiter")),
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    /// How deep the value being read is: bounded, so hostile input cannot overflow the stack.
    depth: usize,
}

/// Values nest at most this deep (Jepsen's nest a handful of levels).
const MAX_DEPTH: usize = 256;

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'{' | b'}' | b'[' | b']' | b'(' | b')' | b'"' | b';' | b','
    ) || b.is_ascii_whitespace()
}

impl<'a> Reader<'a> {
    fn error(&self, message: &str) -> EdnError {
        EdnError {
            line: self.line,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' | b',' => self.pos += 1,
                b';' => {
                    while let Some(c) = self.peek() {
                        if c == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// Reads one value; `None` when the next token is a closing delimiter (left unread).
    fn read_value(&mut self) -> Result<Option<Value>, EdnError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(&format!("values nested more than {MAX_DEPTH} deep")));
        }
        self.depth += 1;
        let value = self.read_value_at_depth();
        self.depth -= 1;
        value
    }

    fn read_value_at_depth(&mut self) -> Result<Option<Value>, EdnError> {
        loop {
            self.skip_ws();
            let Some(b) = self.peek() else {
                return Err(self.error("unexpected end of input (truncated?)"));
            };
            return match b {
                b')' | b']' | b'}' => Ok(None),
                b'(' => {
                    self.pos += 1;
                    Ok(Some(Value::Vec(self.read_seq(b')')?)))
                }
                b'[' => {
                    self.pos += 1;
                    Ok(Some(Value::Vec(self.read_seq(b']')?)))
                }
                b'{' => {
                    self.pos += 1;
                    Ok(Some(self.read_map()?))
                }
                b'"' => Ok(Some(Value::Str(self.read_string()?))),
                b':' => {
                    self.pos += 1;
                    let token = self.read_token();
                    if token.is_empty() {
                        return Err(self.error("empty keyword"));
                    }
                    Ok(Some(Value::Keyword(token.to_string())))
                }
                b'\\' => {
                    self.pos += 1;
                    let token = self.read_token();
                    let c = match token {
                        "newline" => "\n".to_string(),
                        "space" => " ".to_string(),
                        "tab" => "\t".to_string(),
                        "return" => "\r".to_string(),
                        "" => match self.peek() {
                            Some(c) => {
                                self.pos += 1;
                                (c as char).to_string()
                            }
                            None => return Err(self.error("unexpected end of input after \\")),
                        },
                        t => t.to_string(),
                    };
                    Ok(Some(Value::Str(c)))
                }
                b'#' => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'{') => {
                            self.pos += 1;
                            Ok(Some(Value::Set(self.read_seq(b'}')?)))
                        }
                        Some(b'_') => {
                            self.pos += 1;
                            if self.read_value()?.is_none() {
                                return Err(self.error("#_ discards nothing"));
                            }
                            continue;
                        }
                        Some(b'#') => {
                            self.pos += 1;
                            match self.read_token() {
                                "Inf" => Ok(Some(Value::Float(f64::INFINITY))),
                                "-Inf" => Ok(Some(Value::Float(f64::NEG_INFINITY))),
                                "NaN" => Ok(Some(Value::Float(f64::NAN))),
                                t => Err(self.error(&format!(
                                    "unknown symbolic value ##{}",
                                    crate::printable::quote(t)
                                ))),
                            }
                        }
                        _ => {
                            // A tagged literal: the tag, then the value it tags.
                            let tag = self.read_token();
                            if tag.is_empty() {
                                return Err(self.error("a # that starts nothing EDN knows"));
                            }
                            match self.read_value()? {
                                Some(v) => Ok(Some(v)),
                                None => Err(self.error(&format!(
                                    "tag #{} tags nothing",
                                    crate::printable::quote(tag)
                                ))),
                            }
                        }
                    }
                }
                _ => {
                    let token = self.read_token();
                    if token.is_empty() {
                        return Err(self.error(&format!("unexpected character {:?}", b as char)));
                    }
                    Ok(Some(self.atom(token)?))
                }
            };
        }
    }

    /// Reads a plain op map (`{:key value …}`, keyword keys) straight into an op. Anything
    /// else (another form, a non-keyword key, a field `op_from_value` would refuse) leaves
    /// the position where it was and returns `None`, for the general path to read.
    fn try_read_op(&mut self) -> Option<Op> {
        let (pos, line) = (self.pos, self.line);
        let op = self.read_op_fields();
        if op.is_none() {
            self.pos = pos;
            self.line = line;
        }
        op
    }

    fn read_op_fields(&mut self) -> Option<Op> {
        if self.peek() != Some(b'{') {
            return None;
        }
        self.pos += 1;
        let mut fields = OpFields::default();
        loop {
            self.skip_ws();
            match self.peek()? {
                b'}' => {
                    self.pos += 1;
                    return fields.finish().ok();
                }
                b':' => self.pos += 1,
                _ => return None,
            }
            let key = self.read_token();
            if key.is_empty() {
                return None;
            }
            let value = self.read_value().ok()??;
            fields.set(key, value).ok()?;
        }
    }

    fn read_token(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_delimiter(b) {
                break;
            }
            self.pos += 1;
        }
        // Tokens end at ASCII delimiters, so they are whole UTF-8 sequences.
        std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("")
    }

    fn atom(&self, token: &str) -> Result<Value, EdnError> {
        match token {
            "nil" => return Ok(Value::Nil),
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            _ => {}
        }
        let first = token.as_bytes()[0];
        let numeric = first.is_ascii_digit()
            || ((first == b'-' || first == b'+')
                && token.len() > 1
                && token.as_bytes()[1].is_ascii_digit());
        if !numeric {
            return Ok(Value::Str(token.to_string())); // a symbol
        }
        let body = token.strip_suffix('N').unwrap_or(token);
        if let Ok(i) = body.parse::<i64>() {
            return Ok(Value::Int(i));
        }
        let digits = body.strip_prefix(['-', '+']).unwrap_or(body);
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(&format!(
                "the integer {} does not fit in 64 signed bits",
                crate::printable::quote(body)
            )));
        }
        let body = token.strip_suffix('M').unwrap_or(token);
        if let Ok(x) = body.parse::<f64>() {
            return Ok(Value::Float(x));
        }
        if let Some((n, d)) = token.split_once('/') {
            if let (Ok(n), Ok(d)) = (n.parse::<f64>(), d.parse::<f64>()) {
                return Ok(Value::Float(n / d));
            }
        }
        Err(self.error(&format!(
            "malformed number {}",
            crate::printable::quote(&format!("{token:?}"))
        )))
    }

    fn read_seq(&mut self, close: u8) -> Result<Vec<Value>, EdnError> {
        let open_line = self.line;
        let mut items = Vec::new();
        loop {
            match self.read_value() {
                Ok(Some(v)) => items.push(v),
                Ok(None) => {
                    let b = self.peek().unwrap_or(0);
                    if b != close {
                        return Err(self.error(&format!(
                            "expected {:?} to close what opened on line {open_line}, found {:?}",
                            close as char, b as char
                        )));
                    }
                    self.pos += 1;
                    return Ok(items);
                }
                Err(mut e) => {
                    if self.pos >= self.bytes.len() {
                        e.message = format!(
                            "unexpected end of input: {:?} opened on line {open_line} is never closed (truncated?)",
                            match close {
                                b')' => '(',
                                b']' => '[',
                                _ => '{',
                            }
                        );
                    }
                    return Err(e);
                }
            }
        }
    }

    fn read_map(&mut self) -> Result<Value, EdnError> {
        let open_line = self.line;
        let items = self.read_seq(b'}')?;
        if items.len() % 2 != 0 {
            return Err(EdnError {
                line: open_line,
                message: "a map with an odd number of forms".to_string(),
            });
        }
        let mut entries = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }

    fn read_string(&mut self) -> Result<String, EdnError> {
        let open_line = self.line;
        self.pos += 1; // opening quote
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(EdnError {
                    line: open_line,
                    message: "unexpected end of input inside a string (truncated?)".to_string(),
                });
            };
            self.pos += 1;
            match b {
                b'"' => break,
                b'\n' => {
                    self.line += 1;
                    out.push(b);
                }
                b'\\' => {
                    let Some(e) = self.peek() else { continue };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'u' => {
                            let hex = self.bytes.get(self.pos..self.pos + 4).unwrap_or(b"");
                            let code = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.error("malformed \\u escape"))?;
                            self.pos += 4;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(code.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("a string that is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Value {
        let mut v = parse_edn_values(text).unwrap();
        assert_eq!(v.len(), 1, "{text}");
        v.remove(0).0
    }

    #[test]
    fn reads_scalars() {
        assert_eq!(one("nil"), Value::Nil);
        assert_eq!(one("-42"), Value::Int(-42));
        assert_eq!(one("7N"), Value::Int(7));
        assert_eq!(one("1.5"), Value::Float(1.5));
        assert_eq!(one(":read"), Value::keyword("read"));
        assert_eq!(one(r#""a\"b\n""#), Value::from("a\"b\n"));
        assert_eq!(one("true"), Value::Bool(true));
    }

    #[test]
    fn reads_collections_comments_commas_and_tags() {
        let v = one("; a comment\n{:type :ok, :value [[:read :x nil] [:write :y 1]] :s #{1 2} :t #inst \"2020\"}");
        assert_eq!(v.get("type"), Some(&Value::keyword("ok")));
        assert_eq!(v.get("value").unwrap().as_slice().unwrap().len(), 2);
        assert_eq!(v.get("s"), Some(&Value::Set(vec![2.into(), 1.into()])));
        assert_eq!(v.get("t"), Some(&Value::from("2020")));
        assert_eq!(one("#_ 1 2"), Value::Int(2));
        assert_eq!(one("(1 2)"), Value::Vec(vec![1.into(), 2.into()]));
    }

    /// The ops the long way: every form a map first, then an op (the first that is not
    /// an op is the error, at its line).
    fn through_maps(text: &str) -> Result<(Vec<Op>, Vec<usize>), EdnError> {
        let (mut ops, mut lines) = (Vec::new(), Vec::new());
        for (form, line) in parse_edn_ops(text)? {
            ops.push(op_from_value(form).map_err(|message| EdnError { line, message })?);
            lines.push(line);
        }
        Ok((ops, lines))
    }

    #[test]
    fn ops_read_straight_equal_ops_read_through_maps() {
        let texts = [
            "{:type :invoke, :f :add, :value 1, :process 0, :time 5, :index 0}\n{:type :ok, :f :add, :value 1, :process 0, :time 7N, :node \"n1\"}",
            "[{:type :ok, :f :read, :value #{1 2}, :process 3}\n {:type :info, :f :start, :process :nemesis, :value {:a [1 2.5]}, :error nil}]",
            "{:type :ok, :f :txn, :value [[:r :x nil]], :process 1, :type :info, :jepsen/tag 1}",
            "#jepsen.history.Op{:type :ok, :f :read, :value 2, :process 0}",
            "{\"type\" :ok, :f :read, :process 0}",
            "{:type :ok, :f 3, :process 0, :time 1.5, :value #_ 9 8}",
            "{:type :bogus, :f :read, :process 0}",
            "{:type :ok, :f :read}",
            "{:type :ok, :f :read, :process -1}",
            "{:type :ok, :f :read, :process}",
            "{:type :ok, :f :read, :process 0, : 1}",
            "[1 2]",
        ];
        for text in texts {
            assert_eq!(parse_edn_history(text), through_maps(text), "{text}");
        }
        assert!(parse_edn_history("{:type :ok, :f :read, :process 0, :value [1 2}").is_err());
    }

    #[test]
    fn shared_histories_read_straight_as_through_maps() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "edn") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/histories"),
            &mut files,
        );
        assert!(!files.is_empty());
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let straight = parse_edn_history(&text).unwrap();
            assert_eq!(Ok(straight), through_maps(&text), "{}", f.display());
        }
    }

    #[test]
    fn reports_lines() {
        let vs = parse_edn_values("{:a 1}\n\n{:b 2}\n").unwrap();
        assert_eq!(vs[1].1, 3);
        let err = parse_edn_values("{:a 1}\n{:b [2 3}\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = parse_edn_values("{:a 1}\n{:b 2").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("truncated"), "{}", err.message);
    }
}
