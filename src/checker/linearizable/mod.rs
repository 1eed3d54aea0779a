//! The `linearizable` checker: is there a total order of the history's operations,
//! consistent with real time, that a sequential model accepts? Jepsen semantics: `:ok`
//! ops took effect between invocation and completion; `:fail` ops never happened; `:info`
//! (or never-completed) ops may take effect at any time after their invocation, or never.
//!
//! The history is split per key ([`KeySplit`]) and the keys are checked in parallel,
//! each over compactly encoded operations of a model chosen by name ([`ModelKind`]):
//! first by just-in-time linearization over a frontier of configurations ([`frontier`],
//! Knossos' `linear` analyzer, whose cost per event does not grow with the history and
//! which linearizes crashed operations only where something observes them), and, should
//! that frontier grow too wide (many operations running at once), by the WGL depth-first
//! search ([`search`], Porcupine's and Knossos' `wgl`). The result's `analyzer` says
//! `linear`, or `wgl` when some key needed the depth-first search. The verdict is false
//! if any key is not linearizable, unknown if a key hit the time or memory limit (the
//! memory limit bounds the whole process, not only the search's tables), true
//! otherwise. As in Porcupine, the first key found not linearizable stops the others;
//! the report ([`explain`]) is about the first (in key order) of the keys found not
//! linearizable by then, and `failures` lists them. With several bad keys and several
//! threads, which of them are found first depends on timing; the verdict does not.

mod explain;
mod frontier;
mod partition;
mod search;

pub use partition::{partition, KeySplit, PartOp, Partition};

use crate::checker::{CheckOptions, CheckResult, Checker, Validity};
use crate::history::{History, Value};
use crate::model::{
    CasRegister, Kv, Model, ModelKind, MultiRegister, Mutex, Outcome, Register, SetModel,
};
use search::{search, Limits, SearchOp, SearchOutcome, SearchStats};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// The linearizability checker. Build with [`Linearizable::new`] and the `with_` methods.
#[derive(Clone, Debug)]
pub struct Linearizable {
    pub model: ModelKind,
    /// The model's initial state (e.g. `0` for a register, `{:x 0 :y 0}` for a
    /// multi-register); `None` = the model's default (nil, empty, free).
    pub initial: Option<Value>,
    pub key_split: KeySplit,
    /// Give up (unknown) when a key's search cache, or the whole process, would exceed
    /// this many bytes.
    pub max_cache_bytes: usize,
    /// Keys checked at once; 0 = the machine's parallelism.
    pub threads: usize,
    /// The memory the frontier search may take before the depth-first search takes over;
    /// `None`: an eighth of `max_cache_bytes`; `Some(0)`: the depth-first search alone.
    pub frontier_bytes: Option<usize>,
}

/// The verdict on one key.
enum KeyVerdict {
    Valid,
    Invalid(Vec<(String, Value)>),
    Unknown(String),
    /// Not checked: an earlier key was already found invalid.
    Skipped,
}

impl Linearizable {
    pub fn new(model: ModelKind) -> Linearizable {
        Linearizable {
            model,
            initial: None,
            key_split: KeySplit::Auto,
            max_cache_bytes: 2 << 30,
            threads: 0,
            frontier_bytes: None,
        }
    }

    pub fn with_initial(mut self, initial: Value) -> Linearizable {
        self.initial = Some(initial);
        self
    }

    pub fn with_key_split(mut self, key_split: KeySplit) -> Linearizable {
        self.key_split = key_split;
        self
    }

    pub fn with_max_cache_bytes(mut self, bytes: usize) -> Linearizable {
        self.max_cache_bytes = bytes;
        self
    }

    pub fn with_frontier_bytes(mut self, bytes: usize) -> Linearizable {
        self.frontier_bytes = Some(bytes);
        self
    }

    pub fn with_threads(mut self, threads: usize) -> Linearizable {
        self.threads = threads;
        self
    }

    fn check_with<M: Model>(&self, history: &History, opts: &CheckOptions) -> CheckResult {
        // A limit too far away to represent is no limit.
        let deadline = opts
            .time_limit
            .and_then(|limit| Instant::now().checked_add(limit));
        // Whether some key needed the depth-first search.
        let used_wgl = AtomicBool::new(false);
        let base = |valid| {
            let analyzer = if used_wgl.load(Ordering::Relaxed) {
                "wgl"
            } else {
                "linear"
            };
            CheckResult::new(valid)
                .with("analyzer", Value::keyword(analyzer))
                .with("model", Value::keyword(self.model.name()))
        };
        if let Err(e) = M::new(self.initial.as_ref()) {
            return base(Validity::Unknown).with("error", Value::Str(e));
        }
        let parts = match partition(history, self.key_split) {
            Ok(parts) => parts,
            Err(e) => return base(Validity::Unknown).with("error", Value::Str(e)),
        };

        // Smaller keys first: they are quicker, and one bad key ends the check. Keys are
        // worked on in that queue order; an invalid key cancels only keys after it in the
        // queue, so the first invalid key in queue order is always checked to the end and
        // the report does not depend on which thread got there first.
        let mut queue: Vec<usize> = (0..parts.len()).collect();
        queue.sort_by_key(|&i| (parts[i].ops.len(), i));
        let first_invalid = AtomicUsize::new(usize::MAX);
        let next_position = AtomicUsize::new(0);
        let check_keys = || {
            let mut verdicts = Vec::new();
            loop {
                let position = next_position.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = queue.get(position) else {
                    return verdicts;
                };
                let cancelled = || first_invalid.load(Ordering::Relaxed) < position;
                let verdict = if cancelled() {
                    KeyVerdict::Skipped
                } else {
                    let limits = Limits {
                        deadline,
                        max_cache_bytes: self.max_cache_bytes,
                        cancelled: &cancelled,
                    };
                    self.check_key::<M>(history, &parts[i], &limits, &used_wgl)
                };
                if matches!(verdict, KeyVerdict::Invalid(_)) {
                    first_invalid.fetch_min(position, Ordering::Relaxed);
                }
                verdicts.push((position, verdict));
            }
        };
        let threads = match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
        .min(parts.len())
        .max(1);
        let mut verdicts: Vec<(usize, KeyVerdict)> = if threads == 1 {
            check_keys()
        } else {
            std::thread::scope(|s| {
                let workers: Vec<_> = (0..threads).map(|_| s.spawn(check_keys)).collect();
                workers
                    .into_iter()
                    .flat_map(|w| w.join().expect("a linearizability worker panicked"))
                    .collect()
            })
        };
        // Back from queue positions to keys, in queue order.
        verdicts.sort_by_key(|(position, _)| *position);
        let mut verdicts: Vec<(usize, KeyVerdict)> = verdicts
            .into_iter()
            .map(|(position, v)| (queue[position], v))
            .collect();

        let split = parts.len() > 1 || parts.iter().any(|p| p.key.is_some());
        let key_of = |i: usize| parts[i].key.clone().unwrap_or(Value::Nil);
        let mut result = if let Some((_, KeyVerdict::Invalid(details))) = verdicts
            .iter_mut()
            .find(|(_, v)| matches!(v, KeyVerdict::Invalid(_)))
        {
            let mut r = base(Validity::Invalid);
            r.details.append(details);
            r
        } else if let Some((i, KeyVerdict::Unknown(reason))) = verdicts
            .iter()
            .find(|(_, v)| matches!(v, KeyVerdict::Unknown(_)))
        {
            let mut r = base(Validity::Unknown);
            if split {
                r = r.with("key", key_of(*i));
            }
            r.with("error", Value::Str(reason.clone()))
        } else {
            base(Validity::Valid)
        };
        if split {
            result = result.with("keys", Value::Int(parts.len() as i64));
        }
        result
    }

    fn check_key<M: Model>(
        &self,
        history: &History,
        part: &Partition<'_>,
        limits: &Limits<'_>,
        used_wgl: &AtomicBool,
    ) -> KeyVerdict {
        let mut model = match M::new(self.initial.as_ref()) {
            Ok(m) => m,
            Err(e) => return KeyVerdict::Unknown(e),
        };
        let mut ops = Vec::with_capacity(part.ops.len());
        let mut kept = Vec::with_capacity(part.ops.len());
        for (j, op) in part.ops.iter().enumerate() {
            // Not split per key: the model sees each op's key (kv keeps them apart).
            let key = match part.key {
                None => history.ops[op.invoke].extra.get("key"),
                Some(_) => None,
            };
            match model.encode_keyed(key, op.f, op.value, op.outcome) {
                Ok(Some(encoded)) => {
                    ops.push(SearchOp {
                        op: encoded,
                        call: op.invoke,
                        ret: if op.outcome == Outcome::Ok {
                            op.complete
                        } else {
                            None
                        },
                    });
                    kept.push(j);
                }
                Ok(None) => {}
                Err(e) => {
                    let at = op.complete.unwrap_or(op.invoke);
                    return KeyVerdict::Unknown(format!("op {}: {e}", history.ops[at].index));
                }
            }
        }
        let mut stats = SearchStats::default();
        // The frontier search first, with an eighth of the memory (or `frontier_bytes`);
        // the depth-first one when the frontier grows wider than that.
        let outcome = match frontier::search(
            &mut model,
            &ops,
            limits,
            self.frontier_bytes.unwrap_or(limits.max_cache_bytes / 8),
            &mut stats,
        ) {
            Ok(outcome) => outcome,
            Err(frontier::GaveUp::Limit(reason)) => SearchOutcome::GaveUp(reason),
            Err(frontier::GaveUp::Wide(wide)) => {
                used_wgl.store(true, Ordering::Relaxed);
                match search(&mut model, &ops, limits, &mut stats) {
                    SearchOutcome::GaveUp(reason) if reason != "cancelled" => SearchOutcome::GaveUp(
                        format!("the frontier search grew too wide ({wide}); the depth-first search: {reason}"),
                    ),
                    outcome => outcome,
                }
            }
        };
        match outcome {
            SearchOutcome::Linearizable => KeyVerdict::Valid,
            SearchOutcome::NotLinearizable(stuck) => KeyVerdict::Invalid(explain::failure_details(
                history, part, &kept, &ops, &mut model, &stuck,
            )),
            SearchOutcome::GaveUp(reason) if reason == "cancelled" => KeyVerdict::Skipped,
            SearchOutcome::GaveUp(reason) => KeyVerdict::Unknown(reason),
        }
    }
}

impl Checker for Linearizable {
    fn check(&self, history: &History, opts: &CheckOptions) -> CheckResult {
        match self.model {
            ModelKind::Register => self.check_with::<Register>(history, opts),
            ModelKind::CasRegister => self.check_with::<CasRegister>(history, opts),
            ModelKind::Kv => self.check_with::<Kv>(history, opts),
            ModelKind::Set => self.check_with::<SetModel>(history, opts),
            ModelKind::Mutex => self.check_with::<Mutex>(history, opts),
            ModelKind::MultiRegister => self.check_with::<MultiRegister>(history, opts),
        }
    }
}
