//! The failure view: where the history stops making sense.
//!
//! For a linearizability failure, as Porcupine and Knossos show it: the failing key's ops
//! around the failure drawn by process, the longest linearizable prefix (in
//! linearization order, with the model state after its last steps), the op that cannot be
//! placed, and the model state before it. For set-full: each lost and stale element with
//! the op that added it and the reads that saw it or missed it.

use super::html::{esc, op_text, op_value_text, truncate, value_text};
use crate::history::{History, Op, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// At most this many of the failing key's ops are drawn and listed.
const KEY_OPS_SHOWN: usize = 200;
/// At most this many lost and this many stale elements are detailed.
const ELEMENTS_SHOWN: usize = 50;

/// A checker's result found in a results map, with the checker's name.
pub struct Found<'a> {
    pub name: String,
    pub result: &'a Value,
}

/// The results (the map itself, or a checker's map in it, one level down) that hold a
/// failure this view can draw: a linearizability failure (`longest-prefix`) or a
/// set-full result with lost or stale elements.
pub fn failures(results: &Value) -> (Vec<Found<'_>>, Vec<Found<'_>>) {
    let mut candidates = vec![Found {
        name: "result".to_string(),
        result: results,
    }];
    if let Value::Map(entries) = results {
        candidates.extend(entries.iter().map(|(k, v)| Found {
            name: value_text(k),
            result: v,
        }));
    }
    let mut linear = Vec::new();
    let mut sets = Vec::new();
    for found in candidates {
        let r = found.result;
        if r.get("longest-prefix").is_some() && r.get("op").is_some() {
            linear.push(found);
        } else if r.get("attempt-count").is_some()
            && (non_empty(r.get("lost")) || non_empty(r.get("stale")))
        {
            sets.push(found);
        }
    }
    (linear, sets)
}

fn non_empty(v: Option<&Value>) -> bool {
    v.and_then(Value::as_slice).is_some_and(|s| !s.is_empty())
}

/// Positions in the history by op index.
fn positions(history: &History) -> BTreeMap<i64, usize> {
    history
        .ops
        .iter()
        .enumerate()
        .map(|(p, op)| (op.index, p))
        .collect()
}

fn index_of(op: &Value) -> Option<i64> {
    op.get("index").and_then(Value::as_int)
}

/// Whether a client op belongs to `key`: its `key` field, or (Jepsen's independent
/// tuples) a `[key value]` vector.
pub fn op_has_key(op: &Op, key: &Value) -> bool {
    if let Some(k) = op.extra.get("key") {
        return k == key;
    }
    matches!(&op.value, Value::Vec(v) if v.len() == 2 && &v[0] == key)
}

/// The failing key's client ops as (invocation, completion) positions: those that
/// overlap the stretch from the first op of the shown prefix to the failing op's
/// completion, nearest the failing op first when there are too many.
pub fn key_ops(
    history: &History,
    key: Option<&Value>,
    from: i64,
    to: i64,
) -> Vec<(usize, Option<usize>)> {
    let end_time = history.ops.last().map_or(0, |o| o.time);
    let mut pairs: Vec<(usize, Option<usize>)> = history
        .client_pairs()
        .filter(|&(inv, _)| key.is_none_or(|k| op_has_key(&history.ops[inv], k)))
        .filter(|&(inv, comp)| {
            let done = comp.map_or(end_time, |c| history.ops[c].time);
            history.ops[inv].time <= to && done >= from
        })
        .collect();
    if pairs.len() > KEY_OPS_SHOWN {
        let by_distance = |&(inv, _): &(usize, Option<usize>)| (history.ops[inv].time - to).abs();
        pairs.sort_by_key(by_distance);
        pairs.truncate(KEY_OPS_SHOWN);
        pairs.sort();
    }
    pairs
}

/// The linearizability failure view.
pub fn linearizable_section(history: &History, found: &Found<'_>) -> String {
    let r = found.result;
    let at = positions(history);
    let key = r.get("key");
    let failing = r.get("op").and_then(index_of);
    let invocation = r.get("invocation").and_then(index_of);
    let prefix: Vec<i64> = r
        .get("longest-prefix")
        .and_then(Value::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter_map(index_of)
        .collect();
    let prefix_length = r
        .get("prefix-length")
        .and_then(Value::as_int)
        .unwrap_or(prefix.len() as i64);
    // Model state after each of the last steps, from final-paths.
    let mut model_after: BTreeMap<i64, String> = BTreeMap::new();
    let mut stuck_model = None;
    if let Some(path) = r
        .get("final-paths")
        .and_then(Value::as_slice)
        .and_then(|paths| paths.first())
        .and_then(Value::as_slice)
    {
        for step in path {
            let (Some(i), Some(m)) = (step.get("op").and_then(index_of), step.get("model")) else {
                continue;
            };
            if Some(i) == failing {
                stuck_model = Some(value_text(m));
            } else {
                model_after.insert(i, value_text(m));
            }
        }
    }

    let mut s = String::new();
    let _ = write!(
        s,
        "<div class=\"failure linearizable\" id=\"linearizable-failure\"><h3>{}: not linearizable{}</h3>",
        esc(&found.name),
        key.map_or(String::new(), |k| format!(" (key {})", esc(&value_text(k))))
    );
    if let Some(error) = r.get("error") {
        let _ = write!(s, "<p class=\"error\">{}</p>", esc(&value_text(error)));
    }
    s.push_str("<table class=\"facts\">");
    let row = |s: &mut String, name: &str, text: String| {
        let _ = write!(
            s,
            "<tr><th>{name}</th><td><code>{}</code></td></tr>",
            esc(&text)
        );
    };
    if let Some(op) = r.get("op") {
        row(&mut s, "cannot be placed", op_value_text(op));
    }
    if let Some(op) = r.get("invocation") {
        row(&mut s, "its invocation", op_value_text(op));
    }
    if let Some(op) = r.get("previous-ok").filter(|v| !v.is_nil()) {
        row(&mut s, "last ok before it", op_value_text(op));
    }
    if let Some(state) = r.get("model-state") {
        row(&mut s, "model state before it", value_text(state));
    }
    if let Some(state) = &stuck_model {
        row(&mut s, "model after it", state.clone());
    }
    s.push_str("</table>");

    // The key's ops around the failure, drawn by process.
    let time_of = |i: i64| at.get(&i).map(|&p| history.ops[p].time);
    let from = prefix
        .iter()
        .chain(invocation.iter())
        .filter_map(|&i| time_of(i))
        .min()
        .unwrap_or(0);
    let to = failing.and_then(time_of).unwrap_or(from);
    let pairs = key_ops(history, key, from, to);
    let order: BTreeMap<i64, usize> = prefix.iter().enumerate().map(|(n, &i)| (i, n)).collect();
    let skipped = (prefix_length as usize).saturating_sub(prefix.len());
    s.push_str(&key_ops_svg(history, &pairs, &order, skipped, failing));

    // The prefix in linearization order.
    let _ = write!(
        s,
        "<h4>Longest linearizable prefix: {prefix_length} ops{}</h4>\
         <table class=\"prefix\"><tr><th>#</th><th>op</th><th>model after</th></tr>",
        if skipped > 0 {
            format!(", the last {} shown", prefix.len())
        } else {
            String::new()
        }
    );
    for (n, i) in prefix.iter().enumerate() {
        let text = at
            .get(i)
            .map_or(format!("index {i}"), |&p| op_text(&history.ops[p]));
        let _ = write!(
            s,
            "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            skipped + n + 1,
            esc(&text),
            esc(model_after.get(i).map_or("", String::as_str))
        );
    }
    if let Some(op) = r.get("op") {
        let _ = write!(
            s,
            "<tr class=\"stuck\"><td>✗</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            esc(&op_value_text(op)),
            esc(stuck_model.as_deref().unwrap_or("cannot be placed"))
        );
    }
    s.push_str("</table>");

    // Every op of the key in that stretch.
    let _ = write!(
        s,
        "<details><summary>The key's {} ops in that stretch</summary><table class=\"key-ops\">\
         <tr><th>invocation</th><th>completion</th></tr>",
        pairs.len()
    );
    for &(inv, comp) in &pairs {
        let _ = write!(
            s,
            "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>",
            esc(&op_text(&history.ops[inv])),
            esc(&comp.map_or("never completed".to_string(), |c| op_text(&history.ops[c])))
        );
    }
    s.push_str("</table></details></div>");
    s
}

/// The key's ops as bars by process: the prefix in green with its linearization order,
/// the op that cannot be placed in red, the others grey.
fn key_ops_svg(
    history: &History,
    pairs: &[(usize, Option<usize>)],
    order: &BTreeMap<i64, usize>,
    skipped: usize,
    failing: Option<i64>,
) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let end_time = history.ops.last().map_or(0, |o| o.time);
    let done = |&(_, comp): &(usize, Option<usize>)| comp.map_or(end_time, |c| history.ops[c].time);
    let t0 = pairs
        .iter()
        .map(|&(i, _)| history.ops[i].time)
        .min()
        .unwrap_or(0);
    let t1 = pairs.iter().map(done).max().unwrap_or(t0).max(t0 + 1);
    let processes: BTreeSet<&crate::history::Process> = pairs
        .iter()
        .map(|&(i, _)| &history.ops[i].process)
        .collect();
    let lane: BTreeMap<_, usize> = processes.iter().enumerate().map(|(n, p)| (*p, n)).collect();
    let (width, left, lane_h) = (1000.0, 60.0, 34.0);
    let height = 24.0 + lane_h * processes.len() as f64;
    let x = |t: i64| left + (t - t0) as f64 / (t1 - t0) as f64 * (width - left - 10.0);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"key-ops-plot\" id=\"key-ops-plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">\
         <text x=\"{left}\" y=\"14\" class=\"title\">the key's ops from {:.3} s to {:.3} s: \
         green = in the linearizable prefix (its order), red = cannot be placed, grey = not placed</text>",
        (t0 - history.ops[0].time) as f64 / 1e9,
        (t1 - history.ops[0].time) as f64 / 1e9
    );
    for (p, n) in &lane {
        let _ = write!(
            s,
            "<text x=\"4\" y=\"{:.0}\">{}</text>",
            24.0 + lane_h * *n as f64 + lane_h / 2.0,
            esc(&p.to_string())
        );
    }
    for pair in pairs {
        let (inv, comp) = *pair;
        let op = &history.ops[inv];
        let shown = comp.map_or(op, |c| &history.ops[c]);
        let indices = [Some(op.index), comp.map(|c| history.ops[c].index)];
        let placed = indices.iter().flatten().find_map(|i| order.get(i));
        let class = if indices.contains(&failing) && failing.is_some() {
            "stuck"
        } else if placed.is_some() {
            "placed"
        } else {
            "unplaced"
        };
        let (x0, x1) = (x(op.time), x(done(pair)).max(x(op.time) + 2.0));
        let y = 24.0 + lane_h * lane[&op.process] as f64 + 4.0;
        let label = match placed {
            Some(n) => format!("{}. {} {}", skipped + n + 1, op.f, value_text(&shown.value)),
            None => format!("{} {}", op.f, value_text(&shown.value)),
        };
        let _ = write!(
            s,
            "<g class=\"{class}\"><title>{}</title><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            esc(&op_text(shown)),
            x1 - x0,
            lane_h - 8.0,
            x0 + 2.0,
            y + lane_h / 2.0 - 0.0,
            esc(&truncate(&label, ((x1 - x0) / 6.0).max(1.0) as usize))
        );
    }
    s.push_str("</svg>");
    s
}

/// One element's story in a set-full history.
#[derive(Debug, Default, PartialEq)]
pub struct ElementOps {
    pub add_invoke: Option<usize>,
    pub add_complete: Option<usize>,
    /// The first and last ok reads that held the element.
    pub first_seen: Option<usize>,
    pub last_seen: Option<usize>,
    /// The first ok read invoked after the add completed that did not hold it, and the
    /// last read that did not hold it.
    pub first_missing: Option<usize>,
    pub last_missing: Option<usize>,
}

/// The add and the telling reads of each of `elements`, in one pass over the reads.
pub fn element_ops(history: &History, elements: &[Value]) -> Vec<ElementOps> {
    let slot: BTreeMap<&Value, usize> = elements.iter().enumerate().map(|(n, e)| (e, n)).collect();
    let mut out: Vec<ElementOps> = elements.iter().map(|_| ElementOps::default()).collect();
    for (inv, comp) in history.client_pairs() {
        let op = &history.ops[inv];
        if op.f == "add" {
            if let Some(&n) = slot.get(&op.value) {
                out[n].add_invoke.get_or_insert(inv);
                if out[n].add_complete.is_none() {
                    out[n].add_complete = comp;
                }
            }
        }
    }
    let mut seen = vec![false; elements.len()];
    for (inv, comp) in history.client_pairs() {
        let Some(c) = comp.filter(|&c| history.ops[c].is_ok() && history.ops[inv].f == "read")
        else {
            continue;
        };
        seen.iter_mut().for_each(|s| *s = false);
        for e in history.ops[c].value.as_slice().unwrap_or(&[]) {
            if let Some(&n) = slot.get(e) {
                seen[n] = true;
            }
        }
        for (n, story) in out.iter_mut().enumerate() {
            if seen[n] {
                story.first_seen.get_or_insert(c);
                story.last_seen = Some(c);
            } else if story
                .add_complete
                .is_some_and(|a| history.ops[a].is_ok() && a < inv)
            {
                story.first_missing.get_or_insert(c);
                story.last_missing = Some(c);
            }
        }
    }
    out
}

/// The set-full failure view.
pub fn set_full_section(history: &History, found: &Found<'_>) -> String {
    let r = found.result;
    let mut s = String::new();
    let _ = write!(
        s,
        "<div class=\"failure set-full\" id=\"set-full-failure\"><h3>{}: set-full</h3><p>",
        esc(&found.name)
    );
    for field in [
        "attempt-count",
        "stable-count",
        "lost-count",
        "stale-count",
        "never-read-count",
        "duplicated-count",
    ] {
        if let Some(v) = r.get(field) {
            let _ = write!(s, "{field} <b>{}</b>; ", esc(&value_text(v)));
        }
    }
    s.push_str("</p>");
    let op = |p: Option<usize>| p.map_or("—".to_string(), |p| op_text(&history.ops[p]));
    for (what, help) in [
        (
            "lost",
            "added (ok) and seen by no read after some point: the element is gone",
        ),
        (
            "stale",
            "added, but reads after the add completed missed it before it showed up",
        ),
    ] {
        let elements = r.get(what).and_then(Value::as_slice).unwrap_or(&[]);
        if elements.is_empty() {
            continue;
        }
        let shown = &elements[..elements.len().min(ELEMENTS_SHOWN)];
        let _ = write!(
            s,
            "<h4 class=\"{what}\">{} {what} element{} ({help}){}</h4>\
             <table class=\"elements {what}\" id=\"{what}-elements\"><tr><th>element</th><th>add</th>\
             <th>first read with it</th><th>last read with it</th><th>first read without it</th>\
             <th>last read without it</th></tr>",
            elements.len(),
            if elements.len() == 1 { "" } else { "s" },
            if shown.len() < elements.len() {
                format!(", the first {} shown", shown.len())
            } else {
                String::new()
            }
        );
        for (e, story) in shown.iter().zip(element_ops(history, shown)) {
            let _ = write!(
                s,
                "<tr><td><b>{}</b></td><td><code>{}</code><br><code>{}</code></td><td><code>{}</code></td>\
                 <td><code>{}</code></td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                esc(&value_text(e)),
                esc(&op(story.add_invoke)),
                esc(&op(story.add_complete)),
                esc(&truncate(&op(story.first_seen), 200)),
                esc(&truncate(&op(story.last_seen), 200)),
                esc(&truncate(&op(story.first_missing), 200)),
                esc(&truncate(&op(story.last_missing), 200)),
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</div>");
    s
}

/// The failure section: every failure found, or a line saying there is none to draw.
pub fn section(history: &History, results: Option<&Value>) -> String {
    let mut s = String::from("<section id=\"failure\"><h2>Failure</h2>");
    let (linear, sets) = results.map(failures).unwrap_or_default();
    if linear.is_empty() && sets.is_empty() {
        s.push_str("<p id=\"no-failure\">No linearizability or set-full failure to show.</p>");
    }
    for found in &linear {
        s.push_str(&linearizable_section(history, found));
    }
    for found in &sets {
        s.push_str(&set_full_section(history, found));
    }
    s.push_str("</section>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{OpType, Value};

    fn ints(v: &[i64]) -> Value {
        Value::Vec(v.iter().map(|&i| Value::Int(i)).collect())
    }

    fn set_history() -> History {
        let add = |p: u64, e: i64| Op::invoke(p, "add", Value::Int(e));
        let read = |p: u64| Op::invoke(p, "read", Value::Nil);
        History::from_ops(vec![
            add(0, 1),
            add(0, 1).complete(OpType::Ok),
            add(0, 2),
            add(0, 2).complete(OpType::Ok),
            read(1),
            Op {
                value: ints(&[1, 2]),
                ..read(1).complete(OpType::Ok)
            },
            read(1),
            Op {
                value: ints(&[2]),
                ..read(1).complete(OpType::Ok)
            },
            read(1),
            Op {
                value: ints(&[2]),
                ..read(1).complete(OpType::Ok)
            },
        ])
        .unwrap()
    }

    #[test]
    fn finds_lost_elements_adds_and_reads() {
        let h = set_history();
        let stories = element_ops(&h, &[Value::Int(1), Value::Int(2)]);
        assert_eq!(
            stories[0],
            ElementOps {
                add_invoke: Some(0),
                add_complete: Some(1),
                first_seen: Some(5),
                last_seen: Some(5),
                first_missing: Some(7),
                last_missing: Some(9),
            }
        );
        assert_eq!(stories[1].last_seen, Some(9));
        assert_eq!(stories[1].first_missing, None);
    }

    #[test]
    fn set_full_section_lists_lost_elements() {
        let h = set_history();
        let result = Value::Map(vec![
            (Value::keyword("valid?"), Value::Bool(false)),
            (Value::keyword("attempt-count"), Value::Int(2)),
            (Value::keyword("lost"), ints(&[1])),
            (Value::keyword("stale"), ints(&[])),
        ]);
        let results = Value::Map(vec![
            (Value::keyword("valid?"), Value::Bool(false)),
            (Value::keyword("set-full"), result),
        ]);
        let html = section(&h, Some(&results));
        assert!(html.contains("id=\"set-full-failure\""));
        assert!(html.contains("id=\"lost-elements\""));
        assert!(!html.contains("id=\"stale-elements\""));
        assert!(html.contains(":ok :add 1"));
    }

    #[test]
    fn keys_by_field_or_tuple() {
        let tuple = Op::invoke(0, "write", ints(&[6, 1]));
        let field = Op::invoke(0, "write", Value::Int(1)).with_extra("key", Value::Int(6));
        assert!(op_has_key(&tuple, &Value::Int(6)));
        assert!(!op_has_key(&tuple, &Value::Int(1)));
        assert!(op_has_key(&field, &Value::Int(6)));
    }

    #[test]
    fn no_failure_without_one() {
        let results = Value::Map(vec![(Value::keyword("valid?"), Value::Bool(true))]);
        let html = section(&set_history(), Some(&results));
        assert!(html.contains("id=\"no-failure\""));
    }
}
