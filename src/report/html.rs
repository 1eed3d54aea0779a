//! Small helpers for writing HTML by hand: escaping text, embedding JSON in a script
//! element, and the one-line renderings of ops and values the report shows everywhere.

use crate::history::{Op, Value};

/// `text` with HTML's special characters escaped, for element content and attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// JSON text made safe inside `<script type="application/json">`: a `</script>` (or any
/// `</`) or `<!--` in a string would end or confuse the element, so `<` is escaped as
/// `\u003c`, which JSON reads back as the same character.
pub fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

/// `text` cut to at most `max` characters, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// A value as the report shows it: EDN, except that a plain string or keyword shows as
/// its bare text.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::Str(s) | Value::Keyword(s) => s.clone(),
        _ => value.to_string(),
    }
}

/// An op in one line, Jepsen's way: `index process :type :f value error`.
pub fn op_text(op: &Op) -> String {
    let mut text = format!(
        "{} {} :{} :{} {}",
        op.index,
        op.process,
        op.kind.name(),
        op.f,
        op.value
    );
    if let Some(error) = &op.error {
        text.push(' ');
        text.push_str(&error.to_string());
    }
    text
}

/// An op's outcome, `:f`, value and error, without index and process: what the
/// timeline shows on hover beside the lane.
pub fn op_text_parts(op: &Op) -> String {
    let mut text = format!(":{} :{} {}", op.kind.name(), op.f, value_text(&op.value));
    if let Some(error) = &op.error {
        text.push(' ');
        text.push_str(&error.to_string());
    }
    text
}

/// An op stored in a checker's result (a map), in one line like [`op_text`].
pub fn op_value_text(op: &Value) -> String {
    match crate::history::op_from_value(op.clone()) {
        Ok(op) => op_text(&op),
        Err(_) => op.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Process};

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn script_json_cannot_close_the_script() {
        let json = serde_json::to_string("</script><!--").unwrap();
        let safe = script_json(&json);
        assert!(!safe.contains('<'));
        let back: String = serde_json::from_str(&safe).unwrap();
        assert_eq!(back, "</script><!--");
    }

    #[test]
    fn truncates_on_characters() {
        assert_eq!(truncate("héllo", 2), "hé…");
        assert_eq!(truncate("hé", 2), "hé");
    }

    #[test]
    fn op_in_one_line() {
        let op = Op::new(
            OpType::Fail,
            Process::Client(3),
            "cas",
            Value::Vec(vec![Value::Int(1), Value::Int(2)]),
        )
        .with_error(Value::keyword("timeout"));
        assert_eq!(op_text(&op), "-1 3 :fail :cas [1 2] :timeout");
        assert_eq!(op_value_text(&op.to_value()), op_text(&op));
    }
}
