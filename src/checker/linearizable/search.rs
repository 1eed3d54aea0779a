//! The Wing & Gong / Lowe (WGL) search for a linearization of one partition, as
//! Porcupine's `checkSingle` and Knossos' `wgl` do it.
//!
//! The history is a doubly linked list of call and return events in real-time order. The
//! search walks it from the front: at a call it tries to apply the operation to the model
//! (and, if the pair (set of linearized operations, model state) is new, lifts the call
//! and its return out of the list and starts again from the front); at a return it has
//! hit an operation that must already have taken effect, so it backtracks. `:info`
//! operations have no return event (their return is at +infinity): they can be
//! linearized anywhere after their call, and whatever is left of them when every `:ok`
//! operation is linearized is simply left out, i.e. never happened.
//!
//! Equal `:info` operations are interchangeable (nothing bounds them but their calls),
//! so an `:info` op is only tried once every equal `:info` op invoked before it is
//! linearized: any linearization can be rearranged into one of that form, and the search
//! is spared the permutations of, say, twenty crashed `write 3`s.
//!
//! The cache of visited (linearized set, state) pairs is a hash table keyed by an
//! incrementally maintained Zobrist hash of the linearized set, with the bit sets stored
//! back to back in one arena.

use crate::model::Model;
use hashbrown::HashTable;
use std::hash::BuildHasher;
use std::time::Instant;

/// One encoded operation of a partition, with the positions of its events in the history.
pub struct SearchOp<O> {
    pub op: O,
    /// Position of the invocation (orders events).
    pub call: usize,
    /// Position of the `:ok` completion; `None` for `:info` or never-completed operations.
    pub ret: Option<usize>,
}

/// When to give up.
pub struct Limits<'a> {
    pub deadline: Option<Instant>,
    /// Give up when the cache of visited configurations, or the whole process, exceeds
    /// this many bytes.
    pub max_cache_bytes: usize,
    /// Polled now and then: give up when it returns true.
    pub cancelled: &'a (dyn Fn() -> bool + Sync),
}

/// The process's resident memory in bytes (Linux: `/proc/self/statm`), 0 where unknown.
pub fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Why the search must give up on memory, if it must: its cache grew past half the limit
/// (its next growth may double it), or the whole process grew past the limit (the
/// models' tables, other keys checked at once, the history).
pub fn over_memory(limits: &Limits<'_>, cache_bytes: usize) -> Option<String> {
    let limit = limits.max_cache_bytes;
    if cache_bytes > limit / 2 {
        return Some(format!(
            "memory limit of {} MiB: the search cache ({} MiB) would pass it when it next grows",
            limit >> 20,
            cache_bytes >> 20
        ));
    }
    let resident = resident_bytes();
    (resident > limit).then(|| {
        format!(
            "memory limit of {} MiB reached by the process ({} MiB resident, {} MiB of it this search's cache)",
            limit >> 20,
            resident >> 20,
            cache_bytes >> 20
        )
    })
}

/// Where the search got stuck: the longest prefix of operations it could linearize, the
/// operation whose return it could not get past there, and the state after the prefix.
#[derive(Debug)]
pub struct Stuck<S> {
    /// Indices into the partition's operations, in linearization order.
    pub prefix: Vec<u32>,
    pub op: u32,
    pub state: S,
}

#[derive(Debug)]
pub enum SearchOutcome<S> {
    Linearizable,
    NotLinearizable(Stuck<S>),
    GaveUp(String),
}

/// What the search did, for reports and tuning.
#[derive(Clone, Copy, Debug, Default)]
pub struct SearchStats {
    /// Model steps tried.
    pub steps: u64,
    /// Distinct (linearized set, state) configurations cached.
    pub configurations: usize,
}

const HEAD: u32 = 0;

/// A doubly linked list of events with dancing-links removal: a removed node keeps its
/// own links, so removals undone in reverse order restore the list exactly.
struct EventList {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// For each node: the operation, and whether it is the return event.
    op: Vec<u32>,
    is_return: Vec<bool>,
}

impl EventList {
    fn remove(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    fn restore(&mut self, node: u32) {
        let (p, n) = (self.prev[node as usize], self.next[node as usize]);
        self.next[p as usize] = node;
        self.prev[n as usize] = node;
    }
}

struct CacheEntry<S> {
    hash: u64,
    /// Offset of its bit set in the arena.
    bits_at: usize,
    state: S,
}

/// The visited (linearized set, state) configurations.
struct Cache<S> {
    table: HashTable<CacheEntry<S>>,
    arena: Vec<u64>,
    words: usize,
    hasher: hashbrown::DefaultHashBuilder,
}

impl<S: Eq + std::hash::Hash + Clone> Cache<S> {
    fn new(words: usize) -> Cache<S> {
        Cache {
            table: HashTable::new(),
            arena: Vec::new(),
            words,
            hasher: hashbrown::DefaultHashBuilder::default(),
        }
    }

    /// Records the configuration; false if it was already there.
    fn insert(&mut self, set_hash: u64, bits: &[u64], state: &S) -> bool {
        let hash = set_hash ^ self.hasher.hash_one(state);
        let (arena, words) = (&self.arena, self.words);
        let found = self
            .table
            .find(hash, |e| {
                e.hash == hash && e.state == *state && arena[e.bits_at..e.bits_at + words] == *bits
            })
            .is_some();
        if found {
            return false;
        }
        let bits_at = self.arena.len();
        self.arena.extend_from_slice(bits);
        self.table.insert_unique(
            hash,
            CacheEntry {
                hash,
                bits_at,
                state: state.clone(),
            },
            |e| e.hash,
        );
        true
    }

    fn bytes(&self) -> usize {
        self.arena.capacity() * 8
            + self.table.capacity() * (std::mem::size_of::<CacheEntry<S>>() + 1)
    }
}

/// A well-mixed 64-bit key for operation `i` (SplitMix64), for the Zobrist hash.
fn zobrist_key(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The calls and returns of `ops` in history order: (position, is return, op index).
/// `:info` ops have a call only.
pub fn events<O>(ops: &[SearchOp<O>]) -> Vec<(usize, bool, u32)> {
    let mut events = Vec::with_capacity(2 * ops.len());
    for (i, o) in ops.iter().enumerate() {
        events.push((o.call, false, i as u32));
        if let Some(r) = o.ret {
            events.push((r, true, i as u32));
        }
    }
    events.sort_unstable();
    events
}

/// For each `:info` op, the equal `:info` op invoked just before it (`u32::MAX`: none).
/// Equal `:info` ops are interchangeable, so a search tries one only once the earlier
/// twin is linearized.
pub fn earlier_twins<O: PartialEq>(ops: &[SearchOp<O>]) -> Vec<u32> {
    let mut earlier_twin = vec![u32::MAX; ops.len()];
    let mut info: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret.is_none()).collect();
    info.sort_by_key(|&i| ops[i].call);
    for (k, &i) in info.iter().enumerate() {
        if let Some(&j) = info[..k].iter().rev().find(|&&j| ops[j].op == ops[i].op) {
            earlier_twin[i] = j as u32;
        }
    }
    earlier_twin
}

/// Searches for a linearization of `ops` against `model`.
pub fn search<M: Model>(
    model: &mut M,
    ops: &[SearchOp<M::Op>],
    limits: &Limits<'_>,
    stats: &mut SearchStats,
) -> SearchOutcome<M::State> {
    let n = ops.len();
    let mut remaining_ok = ops.iter().filter(|o| o.ret.is_some()).count();
    if remaining_ok == 0 {
        // Every operation may be left out.
        return SearchOutcome::Linearizable;
    }

    // Events in history order; node 0 is the head, node len+1 the tail.
    let events = events(ops);
    let nodes = events.len() + 2;
    let tail = (nodes - 1) as u32;
    let mut list = EventList {
        next: (1..=nodes as u32).collect(),
        prev: (0..nodes as u32).map(|i| i.wrapping_sub(1)).collect(),
        op: vec![u32::MAX; nodes],
        is_return: vec![false; nodes],
    };
    let mut call_node = vec![0u32; n];
    let mut return_node = vec![0u32; n];
    for (k, &(_, is_return, op)) in events.iter().enumerate() {
        let node = k + 1;
        list.op[node] = op;
        list.is_return[node] = is_return;
        if is_return {
            return_node[op as usize] = node as u32;
        } else {
            call_node[op as usize] = node as u32;
        }
    }

    let earlier_twin = earlier_twins(ops);

    let words = n.div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut set_hash = 0u64;
    let keys: Vec<u64> = (0..n as u64).map(zobrist_key).collect();
    let mut cache: Cache<M::State> = Cache::new(words);

    let mut state = model.initial_state();
    // The linearized operations, each with the state before it.
    let mut stack: Vec<(u32, M::State)> = Vec::new();
    let mut best: Option<Stuck<M::State>> = None;
    let mut node = list.next[HEAD as usize];
    let mut polls: u32 = 0;

    loop {
        polls = polls.wrapping_add(1);
        if polls.is_multiple_of(4096) {
            if limits.deadline.is_some_and(|d| Instant::now() >= d) {
                stats.configurations = cache.table.len();
                return SearchOutcome::GaveUp(format!(
                    "time limit reached after {} steps and {} configurations",
                    stats.steps,
                    cache.table.len()
                ));
            }
            if let Some(why) = over_memory(limits, cache.bytes()) {
                stats.configurations = cache.table.len();
                return SearchOutcome::GaveUp(format!(
                    "{why}, after {} configurations",
                    cache.table.len()
                ));
            }
            if (limits.cancelled)() {
                return SearchOutcome::GaveUp("cancelled".to_string());
            }
        }
        debug_assert!(node != tail, "reached the end with :ok operations left");
        let op = list.op[node as usize];
        if node != tail && !list.is_return[node as usize] {
            let i = op as usize;
            let twin = earlier_twin[i] as usize;
            if twin != u32::MAX as usize && linearized[twin / 64] & (1 << (twin % 64)) == 0 {
                node = list.next[node as usize];
                continue;
            }
            stats.steps += 1;
            if let Some(next_state) = model.step(&state, &ops[i].op) {
                linearized[i / 64] |= 1 << (i % 64);
                set_hash ^= keys[i];
                if cache.insert(set_hash, &linearized, &next_state) {
                    stack.push((op, std::mem::replace(&mut state, next_state)));
                    list.remove(node);
                    if ops[i].ret.is_some() {
                        list.remove(return_node[i]);
                        remaining_ok -= 1;
                        if remaining_ok == 0 {
                            stats.configurations = cache.table.len();
                            return SearchOutcome::Linearizable;
                        }
                    }
                    node = list.next[HEAD as usize];
                    continue;
                }
                linearized[i / 64] &= !(1 << (i % 64));
                set_hash ^= keys[i];
            }
            node = list.next[node as usize];
        } else {
            // A return whose operation is not linearized: a dead end. Remember the
            // deepest one for the report, then backtrack.
            if best.as_ref().is_none_or(|b| stack.len() > b.prefix.len()) {
                best = Some(Stuck {
                    prefix: stack.iter().map(|(op, _)| *op).collect(),
                    op,
                    state: state.clone(),
                });
            }
            let Some((top, before)) = stack.pop() else {
                stats.configurations = cache.table.len();
                return SearchOutcome::NotLinearizable(best.expect("a dead end was recorded"));
            };
            let i = top as usize;
            state = before;
            linearized[i / 64] &= !(1 << (i % 64));
            set_hash ^= keys[i];
            if ops[i].ret.is_some() {
                list.restore(return_node[i]);
                remaining_ok += 1;
            }
            list.restore(call_node[i]);
            node = list.next[call_node[i] as usize];
        }
    }
}
