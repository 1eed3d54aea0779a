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

use super::Value;

/// An EDN syntax error at a 1-based line.
#[derive(Clone, Debug, PartialEq)]
pub struct EdnError {
    pub line: usize,
    pub message: String,
}

/// Parses every top-level EDN value in `text`, each with the line it starts on.
pub fn parse_edn_values(text: &str) -> Result<Vec<(Value, usize)>, EdnError> {
    parse(text, false)
}

/// Parses the ops of a history: either top-level maps, one after another, or one vector
/// (or list) of maps, whose elements are returned one by one with their own lines.
pub fn parse_edn_ops(text: &str) -> Result<Vec<(Value, usize)>, EdnError> {
    parse(text, true)
}

fn parse(text: &str, flatten_top_seq: bool) -> Result<Vec<(Value, usize)>, EdnError> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    let mut out = Vec::new();
    let mut depth = 0;
    loop {
        reader.skip_ws();
        if reader.pos >= reader.bytes.len() {
            if depth > 0 {
                return Err(reader.error("unexpected end of input: the history's opening bracket is never closed (truncated?)"));
            }
            return Ok(out);
        }
        let line = reader.line;
        if flatten_top_seq
            && depth == 0
            && out.is_empty()
            && matches!(reader.peek(), Some(b'[' | b'('))
        {
            reader.pos += 1;
            depth = 1;
            continue;
        }
        match reader.read_value()? {
            Some(v) => out.push((v, line)),
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
}

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
                                t => Err(self.error(&format!("unknown symbolic value ##{t}"))),
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
                                None => Err(self.error(&format!("tag #{tag} tags nothing"))),
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
        let body = token.strip_suffix('M').unwrap_or(token);
        if let Ok(x) = body.parse::<f64>() {
            return Ok(Value::Float(x));
        }
        if let Some((n, d)) = token.split_once('/') {
            if let (Ok(n), Ok(d)) = (n.parse::<f64>(), d.parse::<f64>()) {
                return Ok(Value::Float(n / d));
            }
        }
        Err(self.error(&format!("malformed number {token:?}")))
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
