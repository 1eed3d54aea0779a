//! The report's summary: the verdict of each checker, the test's options (with the seed
//! and, for a simulation, the command that replays it), how long the run took, and how
//! many ops of each `:f` ended each way.

use super::html::{esc, truncate, value_text};
use crate::checker::Validity;
use crate::history::{History, OpType, Value};
use crate::test_record::TestRecord;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A verdict as a word and the CSS class that colours it.
pub fn verdict_word(validity: Option<Validity>) -> (&'static str, &'static str) {
    match validity {
        Some(v) => (v.name(), v.name()),
        None => ("not checked", "unknown"),
    }
}

/// Each checker's name, verdict and error (if it gave one). A results map from a
/// composed checker holds one map per checker; a single checker's map is itself.
pub fn checker_verdicts(results: &Value) -> Vec<(String, Option<Validity>, Option<String>)> {
    let Value::Map(entries) = results else {
        return Vec::new();
    };
    let error = |m: &Value| m.get("error").map(value_text);
    let nested: Vec<_> = entries
        .iter()
        .filter(|(_, v)| v.get("valid?").is_some())
        .map(|(k, v)| (value_text(k), Validity::of_results(v), error(v)))
        .collect();
    if nested.is_empty() {
        vec![(
            "result".to_string(),
            Validity::of_results(results),
            error(results),
        )]
    } else {
        nested
    }
}

/// Ops counted by process kind and `:f`: invocations, then completions by type.
#[derive(Default, Debug, PartialEq)]
pub struct OpCounts {
    /// (`client` or `nemesis`, f) -> [invoke, ok, fail, info]
    pub by_f: BTreeMap<(String, String), [u64; 4]>,
}

pub fn op_counts(history: &History) -> OpCounts {
    let mut counts = OpCounts::default();
    for (pos, op) in history.ops.iter().enumerate() {
        let who = if op.is_client() { "client" } else { "nemesis" };
        let row = counts
            .by_f
            .entry((who.to_string(), op.f.clone()))
            .or_default();
        // A nemesis op's two halves are both :info; its first half is the invocation.
        let column = if !op.is_client() && history.partner(pos).is_none_or(|p| p > pos) {
            0
        } else {
            match op.kind {
                OpType::Invoke => 0,
                OpType::Ok => 1,
                OpType::Fail => 2,
                OpType::Info => 3,
            }
        };
        row[column] += 1;
    }
    counts
}

/// The summary section's HTML.
pub fn section(history: &History, results: Option<&Value>, test: Option<&Value>) -> String {
    let mut s = String::new();
    let (word, class) = verdict_word(results.and_then(Validity::of_results));
    let _ = write!(
        s,
        "<section id=\"summary\"><h2>Summary</h2><p class=\"verdict {class}\" id=\"verdict\">{}</p>",
        esc(word)
    );
    s.push_str("<div class=\"row\"><div>");
    let _ = write!(
        s,
        "<table class=\"checkers\"><tr><th>checker</th><th>verdict</th><th>error</th></tr>"
    );
    if let Some(results) = results {
        for (name, validity, error) in checker_verdicts(results) {
            let (word, class) = verdict_word(validity);
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td></tr>",
                esc(&name),
                esc(&truncate(error.as_deref().unwrap_or(""), 400))
            );
        }
    } else {
        s.push_str("<tr><td colspan=\"3\">no results.json: run <code>analyze</code></td></tr>");
    }
    s.push_str("</table>");

    // The run in figures.
    let first = history.ops.first().map_or(0, |o| o.time);
    let last = history.ops.last().map_or(0, |o| o.time);
    let clients = history.client_pairs().count();
    let _ = write!(
        s,
        "<p>{} ops ({} client operations) over {:.3} s.</p>",
        history.len(),
        clients,
        (last - first) as f64 / 1e9
    );

    if let Some(record) = test.and_then(|t| TestRecord::from_value(t).ok()) {
        if let Some(seed) = record.seed {
            let _ = write!(s, "<p>Seed <code id=\"seed\">{seed}</code></p>");
        }
        for (id, label, command) in [
            ("replay", "Replay", &record.replay),
            (
                "replay-real",
                "Replay its faults on a real cluster",
                &record.replay_real,
            ),
        ] {
            if let Some(command) = command {
                let _ = write!(s, "<p>{label}:</p><pre id=\"{id}\">{}</pre>", esc(command));
            }
        }
    }
    s.push_str("</div><div>");
    s.push_str("<table class=\"counts\" id=\"op-counts\"><tr><th>process</th><th>f</th><th>invoke</th><th>ok</th><th>fail</th><th>info</th></tr>");
    for ((who, f), [invoke, ok, fail, info]) in &op_counts(history).by_f {
        let _ = write!(
            s,
            "<tr><td>{who}</td><td>{}</td><td>{invoke}</td><td class=\"ok\">{ok}</td><td class=\"fail\">{fail}</td><td class=\"info\">{info}</td></tr>",
            esc(f)
        );
    }
    s.push_str("</table></div><div>");
    if let Some(Value::Map(entries)) = test {
        s.push_str(
            "<table class=\"options\" id=\"options\"><tr><th colspan=\"2\">test options</th></tr>",
        );
        for (k, v) in entries {
            if k.as_name() == Some("replay") {
                continue;
            }
            let _ = write!(
                s,
                "<tr><th>{}</th><td>{}</td></tr>",
                esc(&value_text(k)),
                esc(&truncate(&value_text(v), 300))
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</div></div></section>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};

    #[test]
    fn counts_ops_by_f_and_type() {
        let inv = |p, f: &str| Op::invoke(p, f, Value::Nil);
        let h = History::from_ops(vec![
            inv(0, "read"),
            inv(1, "write"),
            inv(0, "read").complete(OpType::Ok),
            inv(1, "write").complete(OpType::Info),
            Op::new(OpType::Info, Process::Nemesis, "start", Value::Nil),
            Op::new(OpType::Info, Process::Nemesis, "start", Value::from("n1")),
        ])
        .unwrap();
        let c = op_counts(&h).by_f;
        assert_eq!(c[&("client".into(), "read".into())], [1, 1, 0, 0]);
        assert_eq!(c[&("client".into(), "write".into())], [1, 0, 0, 1]);
        assert_eq!(c[&("nemesis".into(), "start".into())], [1, 0, 0, 1]);
    }

    #[test]
    fn verdicts_of_composed_and_single_results() {
        let composed = Value::Map(vec![
            (Value::keyword("valid?"), Value::Bool(false)),
            (
                Value::keyword("linearizable"),
                Value::Map(vec![
                    (Value::keyword("valid?"), Value::Bool(false)),
                    (Value::keyword("error"), Value::from("stuck")),
                ]),
            ),
            (
                Value::keyword("stats"),
                Value::Map(vec![(Value::keyword("valid?"), Value::keyword("unknown"))]),
            ),
        ]);
        assert_eq!(
            checker_verdicts(&composed),
            vec![
                (
                    "linearizable".to_string(),
                    Some(Validity::Invalid),
                    Some("stuck".to_string())
                ),
                ("stats".to_string(), Some(Validity::Unknown), None),
            ]
        );
        let single = Value::Map(vec![(Value::keyword("valid?"), Value::Bool(true))]);
        assert_eq!(
            checker_verdicts(&single),
            vec![("result".to_string(), Some(Validity::Valid), None)]
        );
    }
}
