//! Text from input made safe to print on one terminal line.
//!
//! A history, a file name or a stored record can hold anything: a value of megabytes,
//! a newline that splits the one-line error, an ANSI escape that recolours or rewrites
//! the terminal. Whatever the tool prints from input goes through [`quote`] (a value
//! inside a message: short) or [`line`] (a whole line: bounded); both escape control
//! characters, so the terminal sees only printable text. `--json` output is left whole:
//! JSON escapes control characters itself.

/// The most characters of a value quoted in a message or a verdict line.
pub const QUOTE_MAX: usize = 80;

/// The most characters of one printed line (an error, a verdict line's reason).
pub const LINE_MAX: usize = 2000;

/// `text` as a value inside a message: at most [`QUOTE_MAX`] characters (then `…` and
/// how many more), control characters escaped.
pub fn quote(text: &str) -> String {
    shorten(text, QUOTE_MAX)
}

/// `text` as a whole printed line: at most [`LINE_MAX`] characters, control characters
/// escaped (a tab too: it separates a verdict line's fields).
pub fn line(text: &str) -> String {
    shorten(text, LINE_MAX)
}

/// At most `max` characters of `text` (escapes count as the characters they print),
/// control characters escaped; a cut says how many characters were left out.
pub fn shorten(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut shown = 0;
    for (i, c) in text.char_indices() {
        let piece = escape(c);
        let width = piece.as_deref().map_or(1, |p| p.chars().count());
        if shown + width > max {
            let left = text[i..].chars().count();
            out.push_str(&format!("… ({left} more characters)"));
            return out;
        }
        match piece {
            Some(p) => out.push_str(&p),
            None => out.push(c),
        }
        shown += width;
    }
    out
}

/// How a control character prints (`\n`, `\t`, `\u{1b}`, …); `None` for any other.
/// C0, DEL and the C1 controls (U+0080–U+009F, which some terminals obey) are escaped.
fn escape(c: char) -> Option<String> {
    match c {
        '\n' => Some("\\n".to_string()),
        '\r' => Some("\\r".to_string()),
        '\t' => Some("\\t".to_string()),
        c if c.is_control() => Some(format!("\\u{{{:x}}}", c as u32)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_characters() {
        assert_eq!(quote("a\u{1b}[31mred\n"), "a\\u{1b}[31mred\\n");
        assert_eq!(quote("\u{9b}\u{7f}\t"), "\\u{9b}\\u{7f}\\t");
        assert_eq!(quote("plain é"), "plain é");
    }

    #[test]
    fn shortens_on_characters_and_says_how_much_is_left_out() {
        assert_eq!(shorten("héllo", 2), "hé… (3 more characters)");
        assert_eq!(shorten("hé", 2), "hé");
        assert_eq!(shorten("a\nb", 2), "a… (2 more characters)");
        let long = "9".repeat(5_000_000);
        assert!(quote(&long).len() < 120);
    }
}
