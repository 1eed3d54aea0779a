//! Jepsen's `set-full` checker: a set that grows by `:add x` and is observed by `:read`s
//! returning everything present. For each element it finds when the element became known
//! (its add's `:ok`, or the first read that saw it, whichever completed first), the last
//! read that saw it and the last read that missed it, and from these calls the element
//! `stable` (seen by every read invoked after the last miss), `lost` (missed by a read
//! invoked after the last sighting and after it was known) or `never-read`. A stable
//! element whose last miss began at least a whole millisecond after it was known is
//! `stale` (Jepsen truncates latencies to ms); stale elements make the history invalid only
//! when the set is meant to be linearizable.
//!
//! Jepsen updates every element on every read, O(reads × elements). Here each read only
//! touches the elements it contains: walking the reads from the newest down, an element's
//! newest miss is the first read that does not touch it, which one counter per element
//! finds (`Track::top_gap`). When that miss completed before the element was even added,
//! the only reads left to ask are the few in flight at the add. The cost is linear in the
//! history plus the total size of the reads, with a few words of state per element.
//!
//! One deliberate difference: Jepsen means to flag elements a single read returns more than
//! once (`:duplicated`, which makes the result invalid), but its filter (`count < 1`) never
//! matches, so Jepsen always reports `{}`. This checker reports them as intended.

use super::{CheckOptions, CheckResult, Checker, Validity};
use crate::history::{History, OpType, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Jepsen's `(checker/set-full {:linearizable? linearizable})`.
#[derive(Clone, Debug, Default)]
pub struct SetFull {
    /// If true, stale reads (an element missing from a read that began after the element
    /// was known to be present) make the history invalid.
    pub linearizable: bool,
}

/// Jepsen's `set-full` with the given `:linearizable?` option.
pub fn set_full(linearizable: bool) -> SetFull {
    SetFull { linearizable }
}

/// The quantiles Jepsen reports latencies at.
const QUANTILES: [f64; 5] = [0.0, 0.5, 0.95, 0.99, 1.0];
/// How many of the stalest elements Jepsen details in `:worst-stale`.
const WORST_STALE: usize = 8;
const NONE: u32 = u32::MAX;

/// An `:ok` read: the positions of its invocation and completion. Reads are numbered in
/// invocation order, so comparing read numbers compares invocation indices, as Jepsen does.
struct Read {
    inv: usize,
    comp: usize,
}

/// Element values → dense ids, numbered in element order. Sets of integers (the usual
/// case) use a direct table.
enum ElementIndex {
    Dense { min: i64, ids: Vec<u32> },
    Hashed(HashMap<Value, u32>),
}

impl ElementIndex {
    /// The index of `values` and the distinct elements, sorted.
    fn build(values: &[&Value]) -> (ElementIndex, Vec<Value>) {
        let ints: Option<Vec<i64>> = values.iter().map(|v| v.as_int()).collect();
        if let Some(ints) = ints.filter(|i| !i.is_empty()) {
            let min = *ints.iter().min().unwrap();
            let max = *ints.iter().max().unwrap();
            let span = (max as i128 - min as i128 + 1) as u128;
            if span <= 4 * ints.len() as u128 + 1024 {
                let mut ids = vec![NONE; span as usize];
                for i in ints {
                    ids[(i - min) as usize] = 0;
                }
                let mut elements = Vec::new();
                for (slot, id) in ids.iter_mut().enumerate() {
                    if *id == 0 {
                        *id = elements.len() as u32;
                        elements.push(Value::Int(min + slot as i64));
                    }
                }
                return (ElementIndex::Dense { min, ids }, elements);
            }
        }
        let mut elements: Vec<Value> = values.iter().map(|v| (*v).clone()).collect();
        elements.sort();
        elements.dedup();
        let map = elements
            .iter()
            .enumerate()
            .map(|(id, v)| (v.clone(), id as u32))
            .collect();
        (ElementIndex::Hashed(map), elements)
    }

    fn get(&self, v: &Value) -> Option<u32> {
        match self {
            ElementIndex::Dense { min, ids } => {
                let i = match v {
                    Value::Int(i) => *i,
                    Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => *f as i64,
                    _ => return None,
                };
                let slot = i.checked_sub(*min)?;
                ids.get(usize::try_from(slot).ok()?)
                    .copied()
                    .filter(|&id| id != NONE)
            }
            ElementIndex::Hashed(map) => map.get(v).copied(),
        }
    }
}

/// What the history says about one element, as positions in the history / read numbers.
#[derive(Clone, Copy, Debug)]
struct ElementFacts {
    /// The op that made the element known: its add's `:ok` or the first read that saw it.
    known: Option<usize>,
    last_present: Option<u32>,
    last_absent: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Stable,
    Lost,
    NeverRead,
}

impl Checker for SetFull {
    fn check(&self, history: &History, _opts: &CheckOptions) -> CheckResult {
        match analyse(history) {
            Ok(analysis) => analysis.report(history, self.linearizable),
            Err(message) => CheckResult::new(Validity::Unknown).with("error", Value::Str(message)),
        }
    }
}

struct Analysis {
    /// Distinct added elements, sorted; an element's id is its place here.
    elements: Vec<Value>,
    facts: Vec<ElementFacts>,
    reads: Vec<Read>,
    duplicated: BTreeMap<Value, usize>,
}

/// Per element, what the sweep over the reads gathers (read numbers and positions; `NONE`
/// for none). Only reads completing after `added` count: Jepsen starts tracking an element
/// at its (last) add invocation.
#[derive(Clone, Copy)]
struct Track {
    /// The position of the element's last add invocation.
    added: u32,
    /// Walking the reads from the newest down, the first read that did not see the
    /// element (counting every read, not only those after `added`).
    top_gap: u32,
    /// The newest counted read that saw the element.
    last_present: u32,
    /// The earliest completion among the counted reads that saw it.
    first_seen: u32,
    /// The last read whose items touched this element (to find repeats within a read).
    last_read: u32,
}

fn analyse(history: &History) -> Result<Analysis, String> {
    let ops = &history.ops;
    if ops.len() >= NONE as usize - 1 {
        return Err(format!("{} ops: too many for set-full", ops.len()));
    }

    // One pass over the ops: add invocations, ok add completions, ok reads.
    let mut add_invocations: Vec<(u32, &Value)> = Vec::new();
    let mut add_oks: Vec<(u32, &Value)> = Vec::new();
    let mut reads: Vec<Read> = Vec::new();
    for (p, op) in ops.iter().enumerate() {
        if !op.is_client() {
            continue;
        }
        match (op.kind, op.f.as_str()) {
            (OpType::Invoke, "add") => add_invocations.push((p as u32, &op.value)),
            (OpType::Ok, "add") => {
                let value = match (&op.value, history.invocation(p)) {
                    (Value::Nil, Some(inv)) => &inv.value,
                    (v, _) => v,
                };
                add_oks.push((p as u32, value));
            }
            (OpType::Invoke, "read") => {
                if let Some(comp) = history.partner(p).filter(|&c| ops[c].kind == OpType::Ok) {
                    reads.push(Read { inv: p, comp });
                }
            }
            _ => {}
        }
    }

    let values: Vec<&Value> = add_invocations.iter().map(|&(_, v)| v).collect();
    let (index, elements) = ElementIndex::build(&values);
    let top = reads.len().checked_sub(1).map_or(NONE, |k| k as u32);
    let mut track = vec![
        Track {
            added: 0,
            top_gap: top,
            last_present: NONE,
            first_seen: NONE,
            last_read: NONE,
        };
        elements.len()
    ];
    for &(p, v) in &add_invocations {
        track[index.get(v).expect("every added value is indexed") as usize].added = p;
    }
    let mut first_ok_add = vec![NONE; elements.len()];
    for &(p, v) in &add_oks {
        if let Some(id) = index.get(v) {
            let id = id as usize;
            if p > track[id].added && first_ok_add[id] == NONE {
                first_ok_add[id] = p;
            }
        }
    }

    // The reads, newest first: every item touches only its own element.
    let mut duplicated: BTreeMap<Value, usize> = BTreeMap::new();
    let mut repeats: HashMap<u32, usize> = HashMap::new();
    let mut untracked: HashMap<&Value, usize> = HashMap::new();
    for k in (0..reads.len()).rev() {
        let k32 = k as u32;
        let comp = reads[k].comp as u32;
        for item in read_items(history, &reads[k])? {
            let Some(id) = index.get(item) else {
                *untracked.entry(item).or_insert(0) += 1;
                continue;
            };
            let t = &mut track[id as usize];
            if t.last_read == k32 {
                *repeats.entry(id).or_insert(1) += 1;
                continue;
            }
            t.last_read = k32;
            if t.top_gap == k32 {
                t.top_gap = k32.wrapping_sub(1);
            }
            if comp > t.added {
                if t.last_present == NONE {
                    t.last_present = k32;
                }
                t.first_seen = t.first_seen.min(comp);
            }
        }
        for (id, count) in repeats.drain() {
            let slot = duplicated.entry(elements[id as usize].clone()).or_insert(0);
            *slot = (*slot).max(count);
        }
        for (item, count) in untracked.drain().filter(|&(_, c)| c > 1) {
            let slot = duplicated.entry(item.clone()).or_insert(0);
            *slot = (*slot).max(count);
        }
    }

    // The last counted read that missed each element. If the newest miss is a read that
    // completed before the element's add was invoked, the only counted reads below it are
    // those in flight at the add: ask them.
    let mut last_absent: Vec<u32> = vec![NONE; elements.len()];
    let mut unsettled: Vec<u32> = Vec::new();
    for (id, t) in track.iter().enumerate() {
        if t.top_gap != NONE {
            if reads[t.top_gap as usize].comp as u32 > t.added {
                last_absent[id] = t.top_gap;
            } else {
                unsettled.push(id as u32);
            }
        }
    }
    let questions = reads_in_flight_below_gap(&reads, &track, unsettled);
    for (k, id, saw) in answer(history, &reads, &index, &mut track, questions)? {
        if !saw && (last_absent[id as usize] == NONE || k > last_absent[id as usize]) {
            last_absent[id as usize] = k;
        }
    }

    let facts = track
        .iter()
        .zip(&first_ok_add)
        .zip(&last_absent)
        .map(|((t, &ok), &absent)| {
            let known = t.first_seen.min(ok);
            let some = |x: u32| (x != NONE).then_some(x);
            ElementFacts {
                known: some(known).map(|p| p as usize),
                last_present: some(t.last_present),
                last_absent: some(absent),
            }
        })
        .collect();
    Ok(Analysis {
        elements,
        facts,
        reads,
        duplicated,
    })
}

/// The elements a read returned: its completion's value, a collection (nil = empty).
fn read_items<'a>(history: &'a History, read: &Read) -> Result<&'a [Value], String> {
    let op = &history.ops[read.comp];
    match &op.value {
        Value::Nil => Ok(&[]),
        v => v.as_slice().ok_or_else(|| {
            format!(
                "the read completed at index {} returned {}, not a collection",
                op.index,
                crate::printable::quote(&v.to_string())
            )
        }),
    }
}

/// For each unsettled element (its newest miss completed before its add was invoked),
/// the reads in flight at its add invocation that were invoked before that miss:
/// `(read, element)` pairs, the only counted reads left that may have missed it.
fn reads_in_flight_below_gap(
    reads: &[Read],
    track: &[Track],
    mut ids: Vec<u32>,
) -> Vec<(u32, u32)> {
    ids.sort_by_key(|&id| track[id as usize].added);
    let mut by_completion: Vec<u32> = (0..reads.len() as u32).collect();
    by_completion.sort_by_key(|&k| reads[k as usize].comp);
    let (mut invoked, mut completed) = (0, 0);
    let mut open: BTreeSet<u32> = BTreeSet::new();
    let mut questions = Vec::new();
    for id in ids {
        let t = &track[id as usize];
        let added = t.added as usize;
        while invoked < reads.len() && reads[invoked].inv < added {
            open.insert(invoked as u32);
            invoked += 1;
        }
        while completed < reads.len() && reads[by_completion[completed] as usize].comp < added {
            open.remove(&by_completion[completed]);
            completed += 1;
        }
        questions.extend(open.range(..t.top_gap).map(|&k| (k, id)));
    }
    questions
}

/// Whether each read in `questions` saw the element: `(read, element, saw)`. Scans each
/// asked read once, marking the asked elements in `track[..].last_read`.
fn answer(
    history: &History,
    reads: &[Read],
    index: &ElementIndex,
    track: &mut [Track],
    mut questions: Vec<(u32, u32)>,
) -> Result<Vec<(u32, u32, bool)>, String> {
    const ASKED: u32 = NONE - 1;
    const SEEN: u32 = NONE - 2;
    questions.sort_unstable();
    let mut answers = Vec::with_capacity(questions.len());
    for group in questions.chunk_by(|a, b| a.0 == b.0) {
        let k = group[0].0;
        for &(_, id) in group {
            track[id as usize].last_read = ASKED;
        }
        for item in read_items(history, &reads[k as usize])? {
            if let Some(id) = index.get(item) {
                let t = &mut track[id as usize];
                if t.last_read == ASKED {
                    t.last_read = SEEN;
                }
            }
        }
        for &(_, id) in group {
            answers.push((k, id, track[id as usize].last_read == SEEN));
            track[id as usize].last_read = NONE;
        }
    }
    Ok(answers)
}

/// One element's outcome and latencies (Jepsen's `set-full-element-results`).
struct ElementResult {
    id: usize,
    outcome: Outcome,
    stable_latency: Option<i64>,
    lost_latency: Option<i64>,
}

impl Analysis {
    fn result(&self, history: &History, id: usize) -> ElementResult {
        let f = self.facts[id];
        let read_inv = |k: u32| self.reads[k as usize].inv;
        let present = f.last_present.map_or(-1, |k| k as i64);
        let absent = f.last_absent.map_or(-1, |k| k as i64);
        let stable = f.last_present.is_some() && absent < present;
        let lost = match (f.known, f.last_absent) {
            (Some(known), Some(a)) => present < absent && known < read_inv(a),
            _ => false,
        };
        let time = |p: usize| history.ops[p].time;
        let known_time = f.known.map(time).unwrap_or(0);
        let latency = |from: i64| ((from - known_time).max(0)) / 1_000_000;
        let stable_latency =
            stable.then(|| latency(f.last_absent.map_or(0, |k| time(read_inv(k)) + 1)));
        let lost_latency =
            lost.then(|| latency(f.last_present.map_or(0, |k| time(read_inv(k)) + 1)));
        ElementResult {
            id,
            outcome: if stable {
                Outcome::Stable
            } else if lost {
                Outcome::Lost
            } else {
                Outcome::NeverRead
            },
            stable_latency,
            lost_latency,
        }
    }

    fn report(&self, history: &History, linearizable: bool) -> CheckResult {
        // Ids follow element order, so results come out sorted, as Jepsen lists them.
        let results: Vec<ElementResult> = (0..self.elements.len())
            .map(|id| self.result(history, id))
            .collect();

        let with = |outcome: Outcome| results.iter().filter(move |r| r.outcome == outcome);
        let names = |rs: Vec<&ElementResult>| {
            Value::Vec(rs.iter().map(|r| self.elements[r.id].clone()).collect())
        };
        let stable_count = with(Outcome::Stable).count();
        let lost: Vec<&ElementResult> = with(Outcome::Lost).collect();
        let never_read: Vec<&ElementResult> = with(Outcome::NeverRead).collect();
        let stale: Vec<&ElementResult> = with(Outcome::Stable)
            .filter(|r| r.stable_latency.unwrap_or(0) > 0)
            .collect();
        // Jepsen: sort by latency, reverse, take 8 — so ties go by descending element.
        let mut worst = stale.clone();
        worst.reverse();
        worst.sort_by_key(|r| std::cmp::Reverse(r.stable_latency));
        worst.truncate(WORST_STALE);

        let mut valid = if !lost.is_empty() {
            Validity::Invalid
        } else if stable_count == 0 {
            Validity::Unknown
        } else if linearizable && !stale.is_empty() {
            Validity::Invalid
        } else {
            Validity::Valid
        };
        if !self.duplicated.is_empty() {
            valid = Validity::Invalid;
        }

        let mut out = CheckResult::new(valid)
            .with("attempt-count", count(results.len()))
            .with("stable-count", count(stable_count))
            .with("lost-count", count(lost.len()))
            .with("lost", names(lost))
            .with("never-read-count", count(never_read.len()))
            .with("never-read", names(never_read))
            .with("stale-count", count(stale.len()))
            .with("stale", names(stale))
            .with(
                "worst-stale",
                Value::Vec(worst.iter().map(|r| self.detail(history, r)).collect()),
            );
        let stable_latencies: Vec<i64> = results.iter().filter_map(|r| r.stable_latency).collect();
        let lost_latencies: Vec<i64> = results.iter().filter_map(|r| r.lost_latency).collect();
        if let Some(d) = frequency_distribution(stable_latencies) {
            out = out.with("stable-latencies", d);
        }
        if let Some(d) = frequency_distribution(lost_latencies) {
            out = out.with("lost-latencies", d);
        }
        out.with("duplicated-count", count(self.duplicated.len()))
            .with(
                "duplicated",
                Value::Map(
                    self.duplicated
                        .iter()
                        .map(|(v, &c)| (v.clone(), count(c)))
                        .collect(),
                ),
            )
    }

    /// An element's full result, as Jepsen lists it under `:worst-stale`.
    fn detail(&self, history: &History, r: &ElementResult) -> Value {
        let f = self.facts[r.id];
        let op = |p: Option<usize>| p.map_or(Value::Nil, |p| history.ops[p].to_value());
        let outcome = match r.outcome {
            Outcome::Stable => "stable",
            Outcome::Lost => "lost",
            Outcome::NeverRead => "never-read",
        };
        let latency = |l: Option<i64>| l.map_or(Value::Nil, Value::Int);
        Value::Map(vec![
            (Value::keyword("element"), self.elements[r.id].clone()),
            (Value::keyword("outcome"), Value::keyword(outcome)),
            (Value::keyword("stable-latency"), latency(r.stable_latency)),
            (Value::keyword("lost-latency"), latency(r.lost_latency)),
            (Value::keyword("known"), op(f.known)),
            (
                Value::keyword("last-absent"),
                op(f.last_absent.map(|k| self.reads[k as usize].inv)),
            ),
        ])
    }
}

fn count(n: usize) -> Value {
    Value::Int(n as i64)
}

/// Jepsen's `frequency-distribution` at [`QUANTILES`]: quantile → the value at index
/// `min(n - 1, floor(n × q))` of the sorted values; `None` when there are none.
fn frequency_distribution(mut values: Vec<i64>) -> Option<Value> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let n = values.len();
    Some(Value::Map(
        QUANTILES
            .iter()
            .map(|&q| {
                let key = if q.fract() == 0.0 {
                    Value::Int(q as i64)
                } else {
                    Value::Float(q)
                };
                let i = ((n as f64 * q).floor() as usize).min(n - 1);
                (key, Value::Int(values[i]))
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::read_history_str;

    fn check(linearizable: bool, text: &str) -> CheckResult {
        let h = read_history_str("t", text).unwrap();
        set_full(linearizable).check(&h, &CheckOptions::default())
    }

    fn ints(xs: &[i64]) -> Value {
        Value::Vec(xs.iter().map(|&x| Value::Int(x)).collect())
    }

    fn int(r: &CheckResult, key: &str) -> i64 {
        r.get(key)
            .and_then(Value::as_int)
            .unwrap_or_else(|| panic!("no {key}"))
    }

    const MS: i64 = 1_000_000;

    /// An op line: type, process, f, value, time in ms.
    fn op(kind: &str, p: u64, f: &str, value: &str, ms: i64) -> String {
        format!(
            "{{:type :{kind}, :process {p}, :f :{f}, :value {value}, :time {}}}\n",
            ms * MS
        )
    }

    #[test]
    fn every_element_read_after_its_add_is_stable() {
        let h = [
            op("invoke", 0, "add", "1", 0),
            op("ok", 0, "add", "1", 1),
            op("invoke", 0, "add", "2", 2),
            op("ok", 0, "add", "2", 3),
            op("invoke", 1, "read", "nil", 4),
            op("ok", 1, "read", "[1 2]", 5),
        ]
        .concat();
        let r = check(true, &h);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(int(&r, "attempt-count"), 2);
        assert_eq!(int(&r, "stable-count"), 2);
        assert_eq!(int(&r, "lost-count"), 0);
        assert_eq!(int(&r, "stale-count"), 0);
        let lat = r.get("stable-latencies").unwrap();
        assert_eq!(
            lat,
            &Value::Map(vec![
                (Value::Int(0), Value::Int(0)),
                (Value::Float(0.5), Value::Int(0)),
                (Value::Float(0.95), Value::Int(0)),
                (Value::Float(0.99), Value::Int(0)),
                (Value::Int(1), Value::Int(0)),
            ])
        );
        assert!(r.get("lost-latencies").is_none());
    }

    #[test]
    fn an_element_missing_from_the_later_reads_is_lost() {
        let h = [
            op("invoke", 0, "add", "1", 0),
            op("ok", 0, "add", "1", 1),
            op("invoke", 0, "add", "2", 2),
            op("ok", 0, "add", "2", 3),
            op("invoke", 1, "read", "nil", 10),
            op("ok", 1, "read", "[1 2]", 11),
            op("invoke", 1, "read", "nil", 20),
            op("ok", 1, "read", "[2]", 21),
        ]
        .concat();
        let r = check(false, &h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.get("lost"), Some(&ints(&[1])));
        assert_eq!(int(&r, "lost-count"), 1);
        assert_eq!(int(&r, "stable-count"), 1);
        // Lost time = last sighting's invocation + 1 ns; known at the add's ok (1 ms).
        let lost = r.get("lost-latencies").unwrap();
        let Value::Map(entries) = lost else { panic!() };
        assert!(entries.iter().all(|(_, v)| v == &Value::Int(9)), "{lost}");
    }

    #[test]
    fn a_late_appearance_is_stale_only_when_linearizable() {
        let h = [
            op("invoke", 0, "add", "1", 0),
            op("ok", 0, "add", "1", 1),
            // Begins after the add completed, yet misses 1: a stale read.
            op("invoke", 1, "read", "nil", 5),
            op("ok", 1, "read", "[]", 6),
            op("invoke", 1, "read", "nil", 10),
            op("ok", 1, "read", "[1]", 11),
        ]
        .concat();
        let off = check(false, &h);
        assert_eq!(off.valid, Validity::Valid, "{off:?}");
        assert_eq!(off.get("stale"), Some(&ints(&[1])));
        assert_eq!(int(&off, "stale-count"), 1);
        let on = check(true, &h);
        assert_eq!(on.valid, Validity::Invalid);
        // Stable time = the missing read's invocation + 1 ns, known at 1 ms: 4 ms.
        let Some(Value::Vec(worst)) = on.get("worst-stale") else {
            panic!()
        };
        assert_eq!(worst.len(), 1);
        assert_eq!(worst[0].get("element"), Some(&Value::Int(1)));
        assert_eq!(worst[0].get("stable-latency"), Some(&Value::Int(4)));
        assert_eq!(
            worst[0].get("last-absent").and_then(|o| o.get("index")),
            Some(&Value::Int(2))
        );
        assert_eq!(
            worst[0].get("known").and_then(|o| o.get("index")),
            Some(&Value::Int(1))
        );
    }

    #[test]
    fn a_concurrent_read_that_misses_an_element_is_not_stale() {
        let h = [
            op("invoke", 1, "read", "nil", 0),
            op("invoke", 0, "add", "1", 1),
            op("ok", 1, "read", "[]", 8),
            op("ok", 0, "add", "1", 9),
            op("invoke", 1, "read", "nil", 10),
            op("ok", 1, "read", "[1]", 11),
        ]
        .concat();
        let r = check(true, &h);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(int(&r, "stale-count"), 0);
        assert_eq!(int(&r, "stable-count"), 1);
    }

    #[test]
    fn a_read_completed_before_the_add_was_invoked_does_not_count() {
        let h = [
            op("invoke", 1, "read", "nil", 0),
            op("ok", 1, "read", "[]", 1),
            op("invoke", 0, "add", "1", 2),
            op("ok", 0, "add", "1", 3),
        ]
        .concat();
        let r = check(true, &h);
        assert_eq!(r.get("never-read"), Some(&ints(&[1])));
        assert_eq!(r.valid, Validity::Unknown, "nothing stable");
    }

    #[test]
    fn an_element_never_read_after_it_is_known_is_never_read() {
        let h = [
            op("invoke", 0, "add", "1", 0),
            op("ok", 0, "add", "1", 1),
            op("invoke", 1, "read", "nil", 2),
            op("ok", 1, "read", "[1]", 3),
            op("invoke", 0, "add", "2", 4),
            op("ok", 0, "add", "2", 5),
        ]
        .concat();
        let r = check(true, &h);
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.get("never-read"), Some(&ints(&[2])));
        assert_eq!(int(&r, "never-read-count"), 1);
    }

    #[test]
    fn nothing_stable_is_unknown() {
        let no_reads = [op("invoke", 0, "add", "1", 0), op("ok", 0, "add", "1", 1)].concat();
        let r = check(false, &no_reads);
        assert_eq!(r.valid, Validity::Unknown);
        assert_eq!(int(&r, "never-read-count"), 1);
        let nothing = check(false, "");
        assert_eq!(nothing.valid, Validity::Unknown);
        assert_eq!(int(&nothing, "attempt-count"), 0);
    }

    #[test]
    fn an_indeterminate_add_is_judged_by_the_reads() {
        let h = [
            op("invoke", 0, "add", "1", 0),
            op("info", 0, "add", "1", 1),
            op("invoke", 2, "add", "2", 2),
            op("info", 2, "add", "2", 3),
            // 1 shows up, 2 never does: 2 was never known, so it is not lost.
            op("invoke", 1, "read", "nil", 4),
            op("ok", 1, "read", "[1]", 5),
            op("invoke", 1, "read", "nil", 6),
            op("ok", 1, "read", "[1]", 7),
        ]
        .concat();
        let r = check(true, &h);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(int(&r, "stable-count"), 1);
        assert_eq!(r.get("never-read"), Some(&ints(&[2])));
        // An info add that was seen and then vanished is lost: it was known by the read.
        let vanished = [
            op("invoke", 0, "add", "1", 0),
            op("info", 0, "add", "1", 1),
            op("invoke", 1, "read", "nil", 4),
            op("ok", 1, "read", "[1]", 5),
            op("invoke", 1, "read", "nil", 6),
            op("ok", 1, "read", "[]", 7),
        ]
        .concat();
        let r = check(false, &vanished);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.get("lost"), Some(&ints(&[1])));
    }

    #[test]
    fn an_element_read_before_its_add_completes_is_known_from_that_read() {
        let h = [
            op("invoke", 0, "add", "1", 0),
            op("invoke", 1, "read", "nil", 1),
            op("ok", 1, "read", "[1]", 2),
            op("invoke", 1, "read", "nil", 3),
            // Misses 1, after the first read saw it: stale, though the add has not
            // completed yet.
            op("ok", 1, "read", "[]", 5),
            op("ok", 0, "add", "1", 6),
            op("invoke", 1, "read", "nil", 10),
            op("ok", 1, "read", "[1]", 11),
        ]
        .concat();
        let r = check(true, &h);
        assert_eq!(r.valid, Validity::Invalid, "{r:?}");
        assert_eq!(r.get("stale"), Some(&ints(&[1])));
        let Some(Value::Vec(worst)) = r.get("worst-stale") else {
            panic!()
        };
        assert_eq!(
            worst[0].get("known").and_then(|o| o.get("index")),
            Some(&Value::Int(2)),
            "known from the read that completed first"
        );
        // (3 ms + 1 ns) - 2 ms, in whole ms.
        assert_eq!(worst[0].get("stable-latency"), Some(&Value::Int(1)));
    }

    #[test]
    fn a_miss_by_a_read_concurrent_with_the_sighting_is_not_a_loss() {
        // Read A (invoked first) misses 1 and read B (invoked later) sees it: the last
        // miss precedes the last sighting by invocation, so 1 is stable.
        let h = [
            op("invoke", 0, "add", "1", 0),
            op("ok", 0, "add", "1", 1),
            op("invoke", 1, "read", "nil", 2),
            op("invoke", 2, "read", "nil", 3),
            op("ok", 2, "read", "[1]", 4),
            op("ok", 1, "read", "[]", 5),
        ]
        .concat();
        let r = check(false, &h);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(int(&r, "stable-count"), 1);
        assert_eq!(int(&r, "stale-count"), 1);
    }

    #[test]
    fn a_read_in_flight_over_the_add_counts() {
        // The long read is invoked before the add and completes after it, missing 1; the
        // later reads all see 1. The long read is the last miss.
        let h = [
            op("invoke", 3, "read", "nil", 0),
            op("invoke", 0, "add", "1", 1),
            op("ok", 0, "add", "1", 2),
            op("invoke", 1, "read", "nil", 3),
            op("ok", 1, "read", "[1]", 4),
            op("ok", 3, "read", "[]", 9),
        ]
        .concat();
        let r = check(false, &h);
        assert_eq!(int(&r, "stable-count"), 1);
        assert_eq!(int(&r, "stale-count"), 0, "the miss began before the add");
        // A long read that begins after 1 is known and misses it is a stale read: 1 stays
        // stable (the miss was invoked before the sighting) but became visible late.
        let h2 = [
            op("invoke", 0, "add", "1", 0),
            op("ok", 0, "add", "1", 1),
            op("invoke", 3, "read", "nil", 5),
            op("invoke", 1, "read", "nil", 6),
            op("ok", 1, "read", "[1]", 7),
            op("ok", 3, "read", "[]", 9),
        ]
        .concat();
        let r2 = check(true, &h2);
        assert_eq!(r2.valid, Validity::Invalid);
        assert_eq!(r2.get("stale"), Some(&ints(&[1])));
    }

    #[test]
    fn a_repeated_add_restarts_tracking() {
        // 1 is seen, then missed (lost)... but added again after the miss: Jepsen starts
        // afresh at the second add invocation, and the final read sees it.
        let h = [
            op("invoke", 0, "add", "1", 0),
            op("ok", 0, "add", "1", 1),
            op("invoke", 1, "read", "nil", 2),
            op("ok", 1, "read", "[1]", 3),
            op("invoke", 1, "read", "nil", 4),
            op("ok", 1, "read", "[]", 5),
            op("invoke", 0, "add", "1", 6),
            op("ok", 0, "add", "1", 7),
            op("invoke", 1, "read", "nil", 8),
            op("ok", 1, "read", "[1]", 9),
        ]
        .concat();
        let r = check(true, &h);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(int(&r, "attempt-count"), 1);
        assert_eq!(int(&r, "lost-count"), 0);
    }

    #[test]
    fn an_element_read_twice_in_one_read_is_duplicated() {
        let h = [
            op("invoke", 0, "add", "1", 0),
            op("ok", 0, "add", "1", 1),
            op("invoke", 1, "read", "nil", 2),
            op("ok", 1, "read", "[1 1 7 7 7]", 3),
        ]
        .concat();
        let r = check(false, &h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(int(&r, "duplicated-count"), 2);
        assert_eq!(
            r.get("duplicated"),
            Some(&Value::Map(vec![
                (Value::Int(1), Value::Int(2)),
                (Value::Int(7), Value::Int(3))
            ]))
        );
        assert_eq!(int(&r, "stable-count"), 1);
    }

    #[test]
    fn failed_reads_and_nemesis_ops_are_ignored() {
        let h = [
            op("invoke", 0, "add", "1", 0),
            op("ok", 0, "add", "1", 1),
            op("invoke", 1, "read", "nil", 2),
            op("fail", 1, "read", "[]", 3),
            "{:type :info, :process :nemesis, :f :read, :value [], :time 4}\n".to_string(),
            "{:type :info, :process :nemesis, :f :read, :value [], :time 5}\n".to_string(),
            op("invoke", 1, "read", "nil", 6),
            op("ok", 1, "read", "[1]", 7),
        ]
        .concat();
        let r = check(true, &h);
        assert_eq!(r.valid, Validity::Valid, "{r:?}");
        assert_eq!(int(&r, "stale-count"), 0);
    }

    #[test]
    fn non_integer_elements_work_and_sort() {
        let h = [
            op("invoke", 0, "add", ":b", 0),
            op("ok", 0, "add", ":b", 1),
            op("invoke", 0, "add", ":a", 2),
            op("ok", 0, "add", ":a", 3),
            op("invoke", 1, "read", "nil", 4),
            op("ok", 1, "read", "[]", 5),
        ]
        .concat();
        let r = check(false, &h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(
            r.get("lost"),
            Some(&Value::Vec(vec![Value::keyword("a"), Value::keyword("b")]))
        );
    }

    #[test]
    fn sparse_integers_work_and_sort() {
        let h = [
            op("invoke", 0, "add", "1000000000000", 0),
            op("ok", 0, "add", "1000000000000", 1),
            op("invoke", 0, "add", "-3", 2),
            op("ok", 0, "add", "-3", 3),
            op("invoke", 1, "read", "nil", 4),
            op("ok", 1, "read", "[1000000000000 5]", 5),
        ]
        .concat();
        let r = check(false, &h);
        assert_eq!(r.get("lost"), Some(&ints(&[-3])));
        assert_eq!(int(&r, "stable-count"), 1);
    }

    #[test]
    fn a_read_that_is_not_a_collection_is_an_error() {
        let h = [
            op("invoke", 1, "read", "nil", 0),
            op("ok", 1, "read", "5", 1),
        ]
        .concat();
        let r = check(false, &h);
        assert_eq!(r.valid, Validity::Unknown);
        assert!(r.get("error").is_some());
    }

    /// Jepsen's algorithm as written: every ok read updates every tracked element.
    /// Returns per element (known, last present read invocation, last absent read
    /// invocation) as history positions.
    type NaiveFacts = (Option<usize>, Option<usize>, Option<usize>);

    fn naive_facts(h: &History) -> BTreeMap<Value, NaiveFacts> {
        let mut state: BTreeMap<Value, NaiveFacts> = BTreeMap::new();
        for (p, op) in h.ops.iter().enumerate() {
            if !op.is_client() {
                continue;
            }
            match (op.f.as_str(), op.kind) {
                ("add", OpType::Invoke) => {
                    state.insert(op.value.clone(), (None, None, None));
                }
                ("add", OpType::Ok) => {
                    if let Some(s) = state.get_mut(&op.value) {
                        s.0 = s.0.or(Some(p));
                    }
                }
                ("read", OpType::Ok) => {
                    let inv = h.partner(p).unwrap();
                    let seen = op.value.as_slice().unwrap_or(&[]);
                    for (e, s) in state.iter_mut() {
                        if seen.contains(e) {
                            s.0 = s.0.or(Some(p));
                            s.1 = s.1.max(Some(inv));
                        } else {
                            s.2 = s.2.max(Some(inv));
                        }
                    }
                }
                _ => {}
            }
        }
        state
    }

    /// A random set history: a few processes adding small (sometimes repeated) elements
    /// and reading random subsets, with ok / fail / info completions.
    fn random_history(seed: u64) -> History {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let threads = rng.gen_range(1..5);
        let mut process: Vec<u64> = (0..threads).collect();
        let mut busy: Vec<Option<(String, Value)>> = vec![None; threads as usize];
        let mut next_process = threads;
        let mut text = String::new();
        let mut time = 0;
        for _ in 0..rng.gen_range(0..40) {
            time += rng.gen_range(0..3) * MS;
            let t = rng.gen_range(0..threads as usize);
            let p = process[t];
            match busy[t].take() {
                None => {
                    let (f, v) = if rng.gen_bool(0.5) {
                        ("add", Value::Int(rng.gen_range(0..8)))
                    } else {
                        ("read", Value::Nil)
                    };
                    text += &format!(
                        "{{:type :invoke, :process {p}, :f :{f}, :value {v}, :time {time}}}\n"
                    );
                    busy[t] = Some((f.to_string(), v));
                }
                Some((f, v)) => {
                    let kind = match rng.gen_range(0..10) {
                        0 => "fail",
                        1 => "info",
                        _ => "ok",
                    };
                    let v = if f == "read" && kind == "ok" {
                        let items: Vec<Value> = (0..rng.gen_range(0..6))
                            .map(|_| Value::Int(rng.gen_range(0..9)))
                            .collect();
                        Value::Vec(items)
                    } else {
                        v
                    };
                    text += &format!(
                        "{{:type :{kind}, :process {p}, :f :{f}, :value {v}, :time {time}}}\n"
                    );
                    if kind == "info" {
                        process[t] = next_process;
                        next_process += 1;
                    }
                }
            }
        }
        read_history_str("random", &text).unwrap()
    }

    #[test]
    fn agrees_with_jepsens_per_read_algorithm_on_random_histories() {
        for seed in 0..3000 {
            let h = random_history(seed);
            let a = analyse(&h).unwrap();
            let naive = naive_facts(&h);
            assert_eq!(a.elements.len(), naive.len(), "seed {seed}");
            for (id, e) in a.elements.iter().enumerate() {
                let f = a.facts[id];
                let inv = |k: Option<u32>| k.map(|k| a.reads[k as usize].inv);
                let got = (f.known, inv(f.last_present), inv(f.last_absent));
                assert_eq!(got, naive[e], "seed {seed}, element {e}");
            }
        }
    }

    #[test]
    fn quantiles_follow_jepsen_indexing() {
        let d = frequency_distribution((1..=10).collect()).unwrap();
        let Value::Map(entries) = d else { panic!() };
        let got: Vec<i64> = entries.iter().map(|(_, v)| v.as_int().unwrap()).collect();
        // indices floor(10q) capped at 9: 0, 5, 9, 9, 9
        assert_eq!(got, vec![1, 6, 10, 10, 10]);
        assert!(frequency_distribution(vec![]).is_none());
    }
}
