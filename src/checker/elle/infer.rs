//! What list-append histories reveal without any search, as Elle's `elle.list-append`
//! infers it: each key's version order is its longest read (every other read must be a
//! prefix of it), each appended value names the one transaction that appended it, and so
//! the dependencies between transactions follow from the lists themselves:
//!
//! - ww: T1 appended the value just before T2's in a key's version order;
//! - wr: T2 read a list whose last value T1 appended;
//! - rw: T1 read a list whose next value (in the version order) T2 appended;
//!
//! plus process order (a process's transactions one after another) and real time (T1
//! completed before T2 was invoked; kept as a transitive reduction). Anomalies found on
//! the way, before any cycle: duplicate-elements, incompatible-order, G1a (aborted read),
//! G1b (intermediate read), dirty-update, internal, future-read and lost-update.

use super::txns::{Mop, Status, Txns};
use crate::history::Value;
use hashbrown::{HashMap, HashSet};

/// A dependency's kind, as a bit (an edge can be several at once).
pub const WW: u8 = 1;
pub const WR: u8 = 2;
pub const RW: u8 = 4;
pub const PROCESS: u8 = 8;
pub const REALTIME: u8 = 16;

/// Why an edge is there: the key and the values that show it (for data edges).
#[derive(Clone, Debug)]
pub struct Why {
    pub kind: u8,
    pub key: u32,
    /// ww: T1's value then T2's; wr: the value read (T1's); rw: the value T1 read last
    /// (nil for an empty read), then T2's.
    pub values: (Value, Value),
}

/// The dependency graph: edges between transactions (indices into `Txns::txns`).
#[derive(Default)]
pub struct Graph {
    pub edges: Vec<(u32, u32, Why)>,
}

/// One anomaly that needs no cycle: its type and what shows it.
#[derive(Clone, Debug)]
pub struct Finding {
    pub kind: &'static str,
    /// The transactions involved (indices).
    pub txns: Vec<u32>,
    pub key: u32,
    /// The values that show it, and a sentence saying what went wrong.
    pub values: Vec<Value>,
    pub why: String,
}

/// Who appended a value to a key.
#[derive(Clone, Copy)]
struct Appender {
    txn: u32,
    mop: u32,
    /// Whether it was that transaction's last append to the key.
    last: bool,
}

/// A committed read: (transaction, micro-op, the list it saw).
type Read<'a> = (u32, u32, &'a [Value]);

pub struct Inference {
    pub graph: Graph,
    pub findings: Vec<Finding>,
}

pub fn infer(t: &Txns) -> Inference {
    let txns = &t.txns;
    let mut findings = Vec::new();
    // Who appended what.
    let appends = txns
        .iter()
        .map(|t| {
            t.mops
                .iter()
                .filter(|m| matches!(m, Mop::Append(..)))
                .count()
        })
        .sum();
    let mut appender: HashMap<(u32, &Value), Appender> = HashMap::with_capacity(appends);
    for (i, txn) in txns.iter().enumerate() {
        for (m, mop) in txn.mops.iter().enumerate() {
            if let Mop::Append(k, v) = *mop {
                let later = txn.mops[m + 1..]
                    .iter()
                    .any(|o| matches!(o, Mop::Append(k2, _) if *k2 == k));
                appender.entry((k, v)).or_insert(Appender {
                    txn: i as u32,
                    mop: m as u32,
                    last: !later,
                });
            }
        }
    }

    // Each key's reads by committed transactions: (txn, mop, list).
    let mut reads: HashMap<u32, Vec<Read<'_>>> = HashMap::new();
    for (i, txn) in txns.iter().enumerate() {
        if txn.status != Status::Ok {
            continue;
        }
        for (m, mop) in txn.mops.iter().enumerate() {
            if let Mop::Read(k, Some(list)) = *mop {
                reads.entry(k).or_default().push((i as u32, m as u32, list));
            }
        }
    }
    let mut keys: Vec<u32> = reads.keys().copied().collect();
    keys.sort_unstable();

    // Version orders: each key's longest read, every other read a prefix of it.
    let mut order: HashMap<u32, &[Value]> = HashMap::new();
    for &k in &keys {
        let rs = &reads[&k];
        let longest = rs
            .iter()
            .map(|r| r.2)
            .max_by_key(|l| l.len())
            .unwrap_or(&[]);
        for &(txn, _, list) in rs {
            let mut seen = HashSet::with_capacity(list.len());
            if let Some(dup) = list.iter().find(|v| !seen.insert(*v)) {
                findings.push(Finding {
                    kind: "duplicate-elements",
                    txns: vec![txn],
                    key: k,
                    values: vec![Value::Vec(list.to_vec())],
                    why: format!("the read saw {dup} twice"),
                });
            }
            if list.len() > longest.len() || list != &longest[..list.len()] {
                findings.push(Finding {
                    kind: "incompatible-order",
                    txns: vec![txn],
                    key: k,
                    values: vec![Value::Vec(list.to_vec()), Value::Vec(longest.to_vec())],
                    why: "this read is not a prefix of the longest read of the key: the two \
                          cannot come from one order of appends"
                        .to_string(),
                });
            }
        }
        order.insert(k, longest);
    }

    let mut graph = Graph::default();
    // ww, and dirty updates, along each version order.
    for &k in &keys {
        let versions = order[&k];
        for pair in versions.windows(2) {
            let (Some(a), Some(b)) = (appender.get(&(k, &pair[0])), appender.get(&(k, &pair[1])))
            else {
                continue;
            };
            let (sa, sb) = (txns[a.txn as usize].status, txns[b.txn as usize].status);
            if sa == Status::Fail && sb != Status::Fail {
                findings.push(Finding {
                    kind: "dirty-update",
                    txns: vec![a.txn, b.txn],
                    key: k,
                    values: vec![pair[0].clone(), pair[1].clone()],
                    why: format!(
                        "{} was appended by a failed transaction, and a later one appended {} after it",
                        pair[0], pair[1]
                    ),
                });
            }
            if a.txn != b.txn && sa != Status::Fail && sb != Status::Fail {
                graph.edges.push((
                    a.txn,
                    b.txn,
                    Why {
                        kind: WW,
                        key: k,
                        values: (pair[0].clone(), pair[1].clone()),
                    },
                ));
            }
        }
    }

    // Reads: aborted and intermediate reads, wr and rw edges, internal and future reads.
    // Who read which version of a key externally, for lost updates.
    // (key, version length, txn) of external reads by transactions that also append to
    // the key.
    let mut read_then_append: Vec<(u32, usize, u32)> = Vec::new();
    // Per key, what the transaction knows of it so far: the whole list (after a read),
    // or only the values it appended (which a read must end with). Transactions touch
    // few keys: a list beats a map.
    let mut known: Vec<(u32, bool, Vec<&Value>)> = Vec::new();
    for (i, txn) in txns.iter().enumerate() {
        let i = i as u32;
        known.clear();
        for (m, mop) in txn.mops.iter().enumerate() {
            match *mop {
                Mop::Append(k, v) => match known.iter_mut().find(|e| e.0 == k) {
                    Some(e) => e.2.push(v),
                    None => known.push((k, false, vec![v])),
                },
                Mop::Read(k, Some(list)) if txn.status == Status::Ok => {
                    let at = known.iter().position(|e| e.0 == k);
                    let external = at.is_none();
                    if let Some((_, whole, expected)) = at.map(|a| &known[a]) {
                        let ok = if *whole {
                            list.iter().eq(expected.iter().copied())
                        } else {
                            list.len() >= expected.len()
                                && list[list.len() - expected.len()..]
                                    .iter()
                                    .eq(expected.iter().copied())
                        };
                        if !ok {
                            findings.push(Finding {
                                kind: "internal",
                                txns: vec![i],
                                key: k,
                                values: vec![
                                    Value::Vec(list.to_vec()),
                                    Value::Vec(expected.iter().map(|v| (*v).clone()).collect()),
                                ],
                                why: if *whole {
                                    "the read disagrees with what the transaction itself read and appended before it".to_string()
                                } else {
                                    "the read does not end with what the transaction itself appended before it".to_string()
                                },
                            });
                        }
                    }
                    match at {
                        Some(a) => known[a] = (k, true, list.iter().collect()),
                        None => known.push((k, true, list.iter().collect())),
                    }
                    for v in list {
                        let Some(a) = appender.get(&(k, v)) else {
                            continue;
                        };
                        if a.txn == i && a.mop as usize > m {
                            findings.push(Finding {
                                kind: "future-read",
                                txns: vec![i],
                                key: k,
                                values: vec![v.clone()],
                                why: format!(
                                    "the transaction read {v}, which it appends only later"
                                ),
                            });
                        }
                        if a.txn != i && txns[a.txn as usize].status == Status::Fail {
                            findings.push(Finding {
                                kind: "G1a",
                                txns: vec![a.txn, i],
                                key: k,
                                values: vec![v.clone()],
                                why: format!(
                                    "the read saw {v}, appended by a transaction that failed"
                                ),
                            });
                        }
                    }
                    if !external {
                        continue;
                    }
                    let versions = order[&k];
                    // The read's last value: its writer precedes this reader (wr); the
                    // writer of the next version follows it (rw).
                    if let Some(last) = list.last() {
                        if let Some(a) = appender.get(&(k, last)) {
                            if a.txn != i && !a.last {
                                findings.push(Finding {
                                    kind: "G1b",
                                    txns: vec![a.txn, i],
                                    key: k,
                                    values: vec![last.clone()],
                                    why: format!(
                                        "the read ended at {last}, an intermediate append of a transaction that appended more to the key"
                                    ),
                                });
                            }
                            if a.txn != i && txns[a.txn as usize].status != Status::Fail {
                                graph.edges.push((
                                    a.txn,
                                    i,
                                    Why {
                                        kind: WR,
                                        key: k,
                                        values: (last.clone(), last.clone()),
                                    },
                                ));
                            }
                        }
                    }
                    // Only reads that are prefixes of the version order say which
                    // version comes next.
                    if list.len() <= versions.len() && list == &versions[..list.len()] {
                        if txn.mops[m + 1..]
                            .iter()
                            .any(|o| matches!(o, Mop::Append(k2, _) if *k2 == k))
                        {
                            read_then_append.push((k, list.len(), i));
                        }
                        // The writer of the read's last value (a read of an
                        // intermediate state is G1b already, not also a cycle).
                        let last_writer = list
                            .last()
                            .and_then(|v| appender.get(&(k, v)))
                            .map(|a| a.txn);
                        if let Some(next) = versions.get(list.len()) {
                            if let Some(b) = appender.get(&(k, next)) {
                                if b.txn != i
                                    && Some(b.txn) != last_writer
                                    && txns[b.txn as usize].status != Status::Fail
                                {
                                    graph.edges.push((
                                        i,
                                        b.txn,
                                        Why {
                                            kind: RW,
                                            key: k,
                                            values: (
                                                list.last().cloned().unwrap_or(Value::Nil),
                                                next.clone(),
                                            ),
                                        },
                                    ));
                                }
                            }
                        }
                    }
                }
                Mop::Read(..) => {}
            }
        }
    }

    // Lost updates: two committed transactions read the same version of a key and both
    // appended to it.
    read_then_append.sort_unstable();
    for group in read_then_append.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        if group.len() > 1 {
            let (k, len, _) = group[0];
            findings.push(Finding {
                kind: "lost-update",
                txns: group.iter().map(|g| g.2).collect(),
                key: k,
                values: vec![Value::Vec(order[&k][..len].to_vec())],
                why: "these transactions read the same version of the key and each appended to it: one's update is lost to the other".to_string(),
            });
        }
    }

    add_order_edges(t, &mut graph);
    Inference { graph, findings }
}

/// Process order and real-time order (a transitive reduction).
fn add_order_edges(t: &Txns, graph: &mut Graph) {
    let txns = &t.txns;
    let none = || Why {
        kind: 0,
        key: u32::MAX,
        values: (Value::Nil, Value::Nil),
    };
    // Process: each process's transactions in invocation order (`txns` is in it).
    let mut last_of: HashMap<&crate::history::Process, u32> = HashMap::new();
    for (i, txn) in txns.iter().enumerate() {
        if txn.status == Status::Fail {
            continue;
        }
        if let Some(&prev) = last_of.get(&txn.process) {
            graph.edges.push((
                prev,
                i as u32,
                Why {
                    kind: PROCESS,
                    ..none()
                },
            ));
        }
        last_of.insert(&txn.process, i as u32);
    }
    // Real time: walk invocations and completions in history order. The frontier holds
    // the committed transactions no later completion has covered yet; a transaction
    // invoked now follows each of them.
    let mut events: Vec<(usize, bool, u32)> = Vec::with_capacity(2 * txns.len());
    for (i, txn) in txns.iter().enumerate() {
        if txn.status == Status::Fail {
            continue;
        }
        events.push((txn.invoke, false, i as u32));
        if let (Status::Ok, Some(c)) = (txn.status, txn.complete) {
            events.push((c, true, i as u32));
        }
    }
    events.sort_unstable();
    let mut frontier: Vec<u32> = Vec::new();
    let mut preds: HashMap<u32, Vec<u32>> = HashMap::new();
    for (_, is_completion, i) in events {
        if is_completion {
            let covered = preds.remove(&i).unwrap_or_default();
            frontier.retain(|f| !covered.contains(f));
            frontier.push(i);
        } else {
            for &f in &frontier {
                graph.edges.push((
                    f,
                    i,
                    Why {
                        kind: REALTIME,
                        ..none()
                    },
                ));
            }
            preds.insert(i, frontier.clone());
        }
    }
}
