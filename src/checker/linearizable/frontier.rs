//! Just-in-time linearization over a frontier of configurations: the search the checker
//! tries first, because its cost per event does not grow with the length of the history.
//!
//! The history's events are walked once, in order. A *configuration* is what a
//! linearization of everything seen so far leaves behind: the model state, the still
//! running `:ok` operations it has already linearized early, and the `:info` operations
//! it has linearized. The frontier holds every distinct configuration. Operations are
//! linearized only when they must be (Lowe's just-in-time linearization): at the return
//! of an `:ok` operation X, each configuration that has not linearized X yet is extended
//! by every sequence of open operations (running `:ok` ones, and `:info` ones invoked so
//! far) that ends with X; what the others do after X can wait for their own returns. An
//! empty frontier means no linearization exists, and X is the operation it stuck on.
//!
//! Once X has returned, every configuration has linearized it: it is *committed* and
//! leaves the configurations (its bit is freed for the next invocation), so a
//! configuration is as small as the concurrency, and a long sequential history is
//! checked in time linear in its length and in constant memory (but for the path kept
//! for the report).
//!
//! `:info` operations are optional: a configuration that has linearized a subset of the
//! `:info` operations another has linearized, in the same state and with the same early
//! `:ok` operations, can do all that the other can (*dominance*), so the other is dropped.
//! Sequences are grown breadth-first, fewest operations first, so a crashed write is
//! linearized only where something observes it: a read of its value is reached through
//! that write alone, and every longer way to the same state is dominated. Equal `:info`
//! operations are interchangeable, as in the depth-first search ([`super::search`]), and a
//! crashed blind write ([`Model::is_blind`]) is not tried right after another crashed op:
//! straight from the configuration before, it reaches the same state with less.
//!
//! Wide histories (many operations running at once) can make the frontier grow as the
//! power set of the running operations; the search gives up with [`GaveUp::Wide`] when
//! the configurations exceed their share of the memory limit, and the checker falls back
//! to the depth-first search, which needs no frontier.

use super::search::{
    earlier_twins, events, over_memory, Limits, SearchOp, SearchOutcome, SearchStats, Stuck,
};
use crate::model::Model;
use hashbrown::HashTable;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::time::Instant;

/// Why the frontier search stopped without a verdict.
#[derive(Debug)]
pub enum GaveUp {
    /// Too many configurations at once: try the depth-first search.
    Wide(String),
    /// The time or memory limit, or cancelled: no other search would do better.
    Limit(String),
}

const NO_PARENT: u32 = u32::MAX;

/// The linearization paths of configurations, as a tree: each node is one operation
/// linearized after its parent's path. Kept for the report (the longest prefix).
struct Paths {
    parent: Vec<u32>,
    op: Vec<u32>,
    depth: Vec<u32>,
}

impl Paths {
    fn push(&mut self, parent: u32, op: u32) -> u32 {
        let depth = if parent == NO_PARENT {
            1
        } else {
            self.depth[parent as usize] + 1
        };
        self.parent.push(parent);
        self.op.push(op);
        self.depth.push(depth);
        (self.parent.len() - 1) as u32
    }

    fn depth(&self, node: u32) -> u32 {
        if node == NO_PARENT {
            0
        } else {
            self.depth[node as usize]
        }
    }

    /// The operations of the path ending at `node`, first first.
    fn ops(&self, mut node: u32) -> Vec<u32> {
        let mut ops = Vec::new();
        while node != NO_PARENT {
            ops.push(self.op[node as usize]);
            node = self.parent[node as usize];
        }
        ops.reverse();
        ops
    }

    fn bytes(&self) -> usize {
        self.parent.capacity() * 12
    }
}

/// A set of configurations without dominated ones. Each has a state, a bit set (the
/// early `:ok` operations in the first `ok_words` words, by slot; the `:info` operations
/// in the rest, by their rank among the `:info` operations) and its path.
struct Configs<S> {
    ok_words: usize,
    words: usize,
    states: Vec<S>,
    bits: Vec<u64>,
    paths: Vec<u32>,
    /// Configurations by (state, early `:ok` bits); equal keys chain through `next`.
    index: HashTable<u32>,
    next: Vec<u32>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl<S: Clone + Eq + std::hash::Hash> Configs<S> {
    fn new(ok_words: usize, info_words: usize) -> Configs<S> {
        Configs {
            ok_words,
            words: ok_words + info_words,
            states: Vec::new(),
            bits: Vec::new(),
            paths: Vec::new(),
            index: HashTable::new(),
            next: Vec::new(),
            hasher: hashbrown::DefaultHashBuilder::default(),
        }
    }

    fn len(&self) -> usize {
        self.states.len()
    }

    fn clear(&mut self) {
        self.states.clear();
        self.bits.clear();
        self.paths.clear();
        self.index.clear();
        self.next.clear();
    }

    fn bits(&self, i: usize) -> &[u64] {
        &self.bits[i * self.words..(i + 1) * self.words]
    }

    fn hash(&self, state: &S, ok: &[u64]) -> u64 {
        self.hasher.hash_one((state, ok))
    }

    /// Adds the configuration unless one that dominates it (or equals it) is there.
    fn insert(&mut self, state: &S, bits: &[u64], path: u32) -> bool {
        let (ok, info) = bits.split_at(self.ok_words);
        let hash = self.hash(state, ok);
        let words = self.words;
        let ok_words = self.ok_words;
        let (states, all_bits) = (&self.states, &self.bits);
        let same_key = |i: u32| {
            let i = i as usize;
            states[i] == *state && all_bits[i * words..i * words + ok_words] == *ok
        };
        let head = self.index.find(hash, |&i| same_key(i)).copied();
        if let Some(head) = head {
            // Dominated: some configuration with the same key linearized a subset of
            // these `:info` operations.
            let mut i = head;
            while i != NO_PARENT {
                let theirs = &self.bits[i as usize * words + ok_words..(i as usize + 1) * words];
                if theirs.iter().zip(info).all(|(t, m)| t & !m == 0) {
                    return false;
                }
                i = self.next[i as usize];
            }
        }
        let id = self.states.len() as u32;
        self.states.push(state.clone());
        self.bits.extend_from_slice(bits);
        self.paths.push(path);
        match head {
            Some(head) => {
                // Chain behind the head (the table keeps pointing at the head).
                self.next.push(self.next[head as usize]);
                self.next[head as usize] = id;
            }
            None => {
                self.next.push(NO_PARENT);
                let Configs {
                    index,
                    states,
                    bits,
                    hasher,
                    ..
                } = self;
                index.insert_unique(hash, id, |&i| {
                    let i = i as usize;
                    hasher.hash_one((&states[i], &bits[i * words..i * words + ok_words]))
                });
            }
        }
        true
    }

    fn bytes(&self) -> usize {
        self.states.capacity() * std::mem::size_of::<S>()
            + self.bits.capacity() * 8
            + self.paths.capacity() * 4
            + self.next.capacity() * 4
            + self.index.capacity() * 5
    }
}

fn has(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

fn set(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

fn unset(bits: &mut [u64], i: usize) {
    bits[i / 64] &= !(1 << (i % 64));
}

/// Searches for a linearization of `ops` against `model`, keeping the configurations
/// within `max_bytes` (else [`GaveUp::Wide`]).
pub fn search<M: Model>(
    model: &mut M,
    ops: &[SearchOp<M::Op>],
    limits: &Limits<'_>,
    max_bytes: usize,
    stats: &mut SearchStats,
) -> Result<SearchOutcome<M::State>, GaveUp> {
    if max_bytes == 0 {
        return Err(GaveUp::Wide("no memory given to the frontier".to_string()));
    }
    let n = ops.len();
    let events = events(ops);

    // Slots for running `:ok` operations (reused once one returns), ranks for `:info` ones.
    let mut info_rank = vec![u32::MAX; n];
    let mut infos = 0usize;
    let (mut running, mut most_running) = (0usize, 0usize);
    for &(_, is_return, op) in &events {
        if ops[op as usize].ret.is_none() {
            info_rank[op as usize] = infos as u32;
            infos += 1;
        } else if is_return {
            running -= 1;
        } else {
            running += 1;
            most_running = most_running.max(running);
        }
    }
    let ok_words = most_running.div_ceil(64);
    let info_words = infos.div_ceil(64);
    let words = ok_words + info_words;
    // The bit of an operation in a configuration's bit set.
    let mut slot_of = vec![u32::MAX; n];
    let mut free_slots: Vec<u32> = (0..most_running as u32).rev().collect();
    let bit_of = |slot_of: &[u32], op: usize| -> usize {
        match ops[op].ret {
            Some(_) => slot_of[op] as usize,
            None => ok_words * 64 + info_rank[op] as usize,
        }
    };

    let earlier_twin = earlier_twins(ops);

    let mut paths = Paths {
        parent: Vec::new(),
        op: Vec::new(),
        depth: Vec::new(),
    };
    let mut frontier: Configs<M::State> = Configs::new(ok_words, info_words);
    let mut next: Configs<M::State> = Configs::new(ok_words, info_words);
    let mut seen: Configs<M::State> = Configs::new(ok_words, info_words);
    let initial = model.initial_state();
    frontier.insert(&initial, &vec![0; words], NO_PARENT);
    // The open operations: running `:ok` ones and `:info` ones invoked so far; the
    // crashed blind writes apart (not tried right after another crashed op).
    let mut open: Vec<u32> = Vec::new();
    let mut open_blind: Vec<u32> = Vec::new();
    let mut work: VecDeque<u32> = VecDeque::new();
    let mut after_info: Vec<bool> = Vec::new();
    let mut scratch = vec![0u64; words];
    let mut polls: u32 = 0;

    for &(_, is_return, x) in &events {
        let xi = x as usize;
        if !is_return {
            if ops[xi].ret.is_some() {
                slot_of[xi] = free_slots.pop().expect("slots for every running op");
                open.push(x);
            } else if model.is_blind(&ops[xi].op) {
                open_blind.push(x);
            } else {
                open.push(x);
            }
            continue;
        }
        // X returns: extend every configuration by sequences of open ops ending in X.
        let x_bit = bit_of(&slot_of, xi);
        next.clear();
        seen.clear();
        work.clear();
        // Per configuration of `seen`: whether this closure reached it by a crashed op
        // (then a blind crashed write after it would only overwrite that op: the same
        // write straight from the configuration before dominates it).
        after_info.clear();
        for c in 0..frontier.len() {
            let bits = frontier.bits(c);
            if has(bits, x_bit) {
                scratch.copy_from_slice(bits);
                unset(&mut scratch, x_bit);
                next.insert(&frontier.states[c], &scratch, frontier.paths[c]);
            } else if seen.insert(&frontier.states[c], bits, frontier.paths[c]) {
                after_info.push(false);
                work.push_back((seen.len() - 1) as u32);
            }
        }
        // The deepest configuration reached without X, for the report.
        let mut deepest: Option<u32> = None;
        while let Some(c) = work.pop_front() {
            polls = polls.wrapping_add(1);
            if polls.is_multiple_of(1024) {
                if limits.deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(GaveUp::Limit(format!(
                        "time limit reached after {} steps",
                        stats.steps
                    )));
                }
                if (limits.cancelled)() {
                    return Err(GaveUp::Limit("cancelled".to_string()));
                }
                let bytes = frontier.bytes() + next.bytes() + seen.bytes() + paths.bytes();
                if bytes > max_bytes {
                    return Err(GaveUp::Wide(format!(
                        "{} configurations at once ({} MiB)",
                        seen.len() + next.len(),
                        bytes >> 20
                    )));
                }
                if let Some(why) = over_memory(limits, bytes) {
                    return Err(GaveUp::Limit(format!(
                        "{why}, after {} steps, with {} configurations at once",
                        stats.steps,
                        seen.len() + next.len()
                    )));
                }
            }
            let c = c as usize;
            let path = seen.paths[c];
            if deepest.is_none_or(|d| paths.depth(path) > paths.depth(seen.paths[d as usize])) {
                deepest = Some(c as u32);
            }
            let blind = if after_info[c] {
                &[][..]
            } else {
                &open_blind[..]
            };
            for &o in open.iter().chain(blind) {
                let oi = o as usize;
                let bit = bit_of(&slot_of, oi);
                let bits = seen.bits(c);
                if has(bits, bit) {
                    continue;
                }
                let twin = earlier_twin[oi];
                if twin != u32::MAX && !has(bits, bit_of(&slot_of, twin as usize)) {
                    continue;
                }
                let info = ops[oi].ret.is_none();
                stats.steps += 1;
                let Some(state) = model.step(&seen.states[c], &ops[oi].op) else {
                    continue;
                };
                scratch.copy_from_slice(bits);
                // Path nodes only for configurations kept.
                let node = paths.parent.len() as u32;
                if o == x {
                    if next.insert(&state, &scratch, node) {
                        paths.push(path, o);
                    }
                } else {
                    set(&mut scratch, bit);
                    if seen.insert(&state, &scratch, node) {
                        paths.push(path, o);
                        after_info.push(info);
                        work.push_back((seen.len() - 1) as u32);
                    }
                }
            }
        }
        if next.len() == 0 {
            let d = deepest.expect("a configuration without X was there") as usize;
            stats.configurations = seen.len();
            return Ok(SearchOutcome::NotLinearizable(Stuck {
                prefix: paths.ops(seen.paths[d]),
                op: x,
                state: seen.states[d].clone(),
            }));
        }
        // X is committed: it leaves the open ops and frees its slot.
        open.retain(|&o| o != x);
        free_slots.push(slot_of[xi]);
        stats.configurations = stats.configurations.max(next.len());
        std::mem::swap(&mut frontier, &mut next);
    }
    Ok(SearchOutcome::Linearizable)
}
