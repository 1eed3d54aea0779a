//! set-full end to end: histories written as JSON lines and EDN files, read back with
//! `read_history_file`, and checked; the verdict and the reported elements and latencies
//! must equal those of Jepsen's algorithm as Jepsen writes it (every ok read updates every
//! element), reimplemented naively here.
use jepsen_core::checker::set_full::set_full;
use jepsen_core::checker::{CheckOptions, CheckResult, Checker, Validity};
use jepsen_core::history::{
    read_history_file, write_edn, History, HistoryWriter, Op, OpType, Process, Value,
};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::PathBuf;

const MS: i64 = 1_000_000;

/// A set-full history from a little simulated store: adds become visible at some point
/// during their call (or never, for some timeouts); reads see what is visible, except that
/// now and then a read misses a recent element (stale) or an element vanishes (lost).
fn simulate(seed: u64) -> Vec<Op> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let threads = rng.gen_range(1..7usize);
    let mut process: Vec<u64> = (0..threads as u64).collect();
    let mut busy: Vec<Option<Op>> = vec![None; threads];
    let mut visible: BTreeMap<i64, i64> = BTreeMap::new(); // element -> since
    let mut ops = Vec::new();
    let mut time = 0;
    let mut next = 0;
    for _ in 0..rng.gen_range(0..400) {
        time += rng.gen_range(0..3 * MS);
        let t = rng.gen_range(0..threads);
        match busy[t].take() {
            None => {
                let op = if rng.gen_bool(0.6) {
                    // Mostly fresh elements, sometimes a repeat.
                    let x = if next > 0 && rng.gen_bool(0.05) {
                        rng.gen_range(0..next)
                    } else {
                        next += 1;
                        next - 1
                    };
                    Op::invoke(process[t], "add", Value::Int(x))
                } else {
                    Op::invoke(process[t], "read", Value::Nil)
                };
                let op = op.with_time(time);
                ops.push(op.clone());
                busy[t] = Some(op);
            }
            Some(inv) => {
                let roll = rng.gen_range(0..100);
                let kind = match roll {
                    0..=4 => OpType::Fail,
                    5..=11 => OpType::Info,
                    _ => OpType::Ok,
                };
                let mut done = inv.complete(kind).with_time(time);
                let x = inv.value.as_int();
                match (inv.f.as_str(), kind, x) {
                    ("add", OpType::Ok, Some(x)) => {
                        visible.entry(x).or_insert(time - rng.gen_range(0..MS));
                    }
                    ("add", OpType::Info, Some(x)) if rng.gen_bool(0.5) => {
                        visible.entry(x).or_insert(time);
                    }
                    ("read", OpType::Ok, _) => {
                        if rng.gen_bool(0.03) && !visible.is_empty() {
                            let victim =
                                *visible.keys().nth(rng.gen_range(0..visible.len())).unwrap();
                            visible.remove(&victim);
                        }
                        let mut seen: Vec<Value> = visible
                            .iter()
                            .filter(|&(_, &since)| since <= time && !rng.gen_bool(0.02))
                            .map(|(&x, _)| Value::Int(x))
                            .collect();
                        if rng.gen_bool(0.01) && !seen.is_empty() {
                            seen.push(seen[0].clone());
                        }
                        done.value = Value::Vec(seen);
                    }
                    _ => {}
                }
                if kind == OpType::Info {
                    process[t] += threads as u64;
                }
                ops.push(done);
            }
        }
    }
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as i64;
    }
    ops
}

struct Naive {
    valid: Validity,
    stable: usize,
    lost: Vec<Value>,
    never_read: Vec<Value>,
    stale: Vec<Value>,
    stable_latencies: Vec<i64>,
    lost_latencies: Vec<i64>,
    worst_stale: Vec<(Value, i64)>,
}

/// Jepsen's set-full, per read over every element, straight from its description.
fn naive(h: &History, linearizable: bool) -> Naive {
    #[derive(Default, Clone)]
    struct E {
        known: Option<usize>,
        present: Option<usize>,
        absent: Option<usize>,
    }
    let mut elements: BTreeMap<Value, E> = BTreeMap::new();
    let mut duplicated = false;
    for (p, op) in h.ops.iter().enumerate() {
        if !matches!(op.process, Process::Client(_)) {
            continue;
        }
        match (op.f.as_str(), op.kind) {
            ("add", OpType::Invoke) => {
                elements.insert(op.value.clone(), E::default());
            }
            ("add", OpType::Ok) => {
                let e = elements.get_mut(&op.value).unwrap();
                e.known = e.known.or(Some(p));
            }
            ("read", OpType::Ok) => {
                let inv = h.partner(p).unwrap();
                let seen = op.value.as_slice().unwrap();
                let mut sorted = seen.to_vec();
                sorted.sort();
                duplicated |= sorted.windows(2).any(|w| w[0] == w[1]);
                for (x, e) in elements.iter_mut() {
                    if seen.contains(x) {
                        e.known = e.known.or(Some(p));
                        e.present = e.present.max(Some(inv));
                    } else {
                        e.absent = e.absent.max(Some(inv));
                    }
                }
            }
            _ => {}
        }
    }
    let time = |p: usize| h.ops[p].time;
    let mut n = Naive {
        valid: Validity::Valid,
        stable: 0,
        lost: vec![],
        never_read: vec![],
        stale: vec![],
        stable_latencies: vec![],
        lost_latencies: vec![],
        worst_stale: vec![],
    };
    for (x, e) in &elements {
        let pi = e.present.map_or(-1, |p| p as i64);
        let ai = e.absent.map_or(-1, |p| p as i64);
        let known_time = e.known.map_or(0, time);
        if e.present.is_some() && ai < pi {
            n.stable += 1;
            let stable_time = e.absent.map_or(0, |a| time(a) + 1);
            let latency = (stable_time - known_time).max(0) / MS;
            n.stable_latencies.push(latency);
            if latency > 0 {
                n.stale.push(x.clone());
                n.worst_stale.push((x.clone(), latency));
            }
        } else if e.known.is_some()
            && e.absent.is_some()
            && pi < ai
            && e.known.unwrap() < e.absent.unwrap()
        {
            n.lost.push(x.clone());
            let lost_time = e.present.map_or(0, |p| time(p) + 1);
            n.lost_latencies.push((lost_time - known_time).max(0) / MS);
        } else {
            n.never_read.push(x.clone());
        }
    }
    // Jepsen: (->> stale (sort-by :stable-latency) reverse (take 8)), sort-by being stable.
    n.worst_stale.sort_by_key(|&(_, l)| l);
    n.worst_stale.reverse();
    n.worst_stale.truncate(8);
    n.valid = if !n.lost.is_empty() {
        Validity::Invalid
    } else if n.stable == 0 {
        Validity::Unknown
    } else if linearizable && !n.stale.is_empty() {
        Validity::Invalid
    } else {
        Validity::Valid
    };
    if duplicated {
        n.valid = Validity::Invalid;
    }
    n
}

fn quantiles(mut xs: Vec<i64>) -> Option<Vec<i64>> {
    if xs.is_empty() {
        return None;
    }
    xs.sort();
    let n = xs.len();
    Some(
        [0.0, 0.5, 0.95, 0.99, 1.0]
            .iter()
            .map(|q: &f64| xs[((n as f64 * q).floor() as usize).min(n - 1)])
            .collect(),
    )
}

fn map_values(v: Option<&Value>) -> Option<Vec<i64>> {
    match v? {
        Value::Map(entries) => Some(entries.iter().map(|(_, v)| v.as_int().unwrap()).collect()),
        other => panic!("not a map: {other}"),
    }
}

fn assert_same(r: &CheckResult, n: &Naive, what: &str) {
    assert_eq!(r.valid, n.valid, "{what}: valid?");
    assert_eq!(
        r.get("stable-count"),
        Some(&Value::Int(n.stable as i64)),
        "{what}"
    );
    assert_eq!(r.get("lost"), Some(&Value::Vec(n.lost.clone())), "{what}");
    assert_eq!(
        r.get("never-read"),
        Some(&Value::Vec(n.never_read.clone())),
        "{what}"
    );
    assert_eq!(r.get("stale"), Some(&Value::Vec(n.stale.clone())), "{what}");
    assert_eq!(
        map_values(r.get("stable-latencies")),
        quantiles(n.stable_latencies.clone()),
        "{what}"
    );
    assert_eq!(
        map_values(r.get("lost-latencies")),
        quantiles(n.lost_latencies.clone()),
        "{what}"
    );
    let Some(Value::Vec(worst)) = r.get("worst-stale") else {
        panic!("{what}: no worst-stale")
    };
    let worst: Vec<(Value, i64)> = worst
        .iter()
        .map(|w| {
            (
                w.get("element").unwrap().clone(),
                w.get("stable-latency").unwrap().as_int().unwrap(),
            )
        })
        .collect();
    assert_eq!(worst, n.worst_stale, "{what}: worst-stale");
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("set-full-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn files_check_as_jepsens_algorithm_does() {
    let dir = temp_dir();
    let mut verdicts = BTreeMap::new();
    for seed in 0..150 {
        let ops = simulate(seed);
        if ops.is_empty() {
            continue; // an empty file is no history (`read_history_file` refuses it)
        }
        let jsonl = dir.join(format!("{seed}.jsonl"));
        let mut w = HistoryWriter::create(&jsonl).unwrap();
        for op in &ops {
            w.record(op).unwrap();
        }
        w.finish().unwrap();
        let edn = dir.join(format!("{seed}.edn"));
        write_edn(&edn, &ops).unwrap();
        for path in [&jsonl, &edn] {
            let h = read_history_file(path).unwrap();
            for linearizable in [false, true] {
                let r = set_full(linearizable).check(&h, &CheckOptions::default());
                let n = naive(&h, linearizable);
                assert_same(
                    &r,
                    &n,
                    &format!("{} linearizable={linearizable}", path.display()),
                );
                *verdicts.entry(format!("{:?}", r.valid)).or_insert(0) += 1;
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // The simulation reaches every verdict.
    assert_eq!(verdicts.len(), 3, "{verdicts:?}");
}
