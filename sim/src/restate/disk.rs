//! The simulated disk of a modeled Restate node: what survives a crash.
//!
//! A node's disk lives outside the node's tasks (the cluster owns it, shared through an
//! `Arc`), so a kill, which drops every task of the node, leaves it intact, and the
//! restarted node reads it back. What the node holds only in its tasks' memory is lost.
//!
//! Sync semantics: the metadata store's Raft log and hard state reach the disk only
//! through [`NodeDisk::sync_raft`], which takes [`DiskTiming::sync_latency`] of
//! simulated time (an fsync) and writes the data when it completes. A node killed while a
//! sync is under way loses that write: its task is dropped in the middle of the await, so
//! the data never reaches the disk, exactly as unsynced pages vanish in a real crash. A
//! completed sync is durable. Two small writes are made durable at once, without a sync:
//! the boot counter (written once per start, before anything else) and the Raft commit
//! index (advisory: Raft recomputes it from a quorum after a restart).
//!
//! The Raft log is kept in raft-rs's `MemStorage`, which is also the `Storage` the node's
//! Raft reads: it holds exactly what was synced. The log is never compacted (a simulated
//! run is short), so there are no Raft snapshots; the state machine is rebuilt after a
//! restart by replaying the committed log.

use super::log_server::LogStore;
use raft::prelude::{ConfState, Entry, HardState};
use raft::storage::MemStorage;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long disk operations take.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskTiming {
    /// The time an fsync of the Raft log takes.
    pub sync_latency: Duration,
}

impl Default for DiskTiming {
    /// 1 ms per sync (madsim's shortest sleep).
    fn default() -> Self {
        DiskTiming {
            sync_latency: Duration::from_millis(1),
        }
    }
}

/// One node's disk.
pub struct NodeDisk {
    /// The synced Raft log, hard state and configuration.
    raft: MemStorage,
    /// How many times the node started on this disk.
    boots: AtomicU64,
    /// The log server's records (see [`super::log_server`]).
    pub log: LogStore,
    timing: DiskTiming,
}

impl NodeDisk {
    /// A freshly formatted disk of a member of a cluster whose Raft voters are `voters`
    /// (every node starts with the same configuration, as Raft's bootstrap requires).
    pub fn format(voters: Vec<u64>, timing: DiskTiming) -> NodeDisk {
        NodeDisk {
            raft: MemStorage::new_with_conf_state(ConfState::from((voters, vec![]))),
            boots: AtomicU64::new(0),
            log: LogStore::default(),
            timing,
        }
    }

    /// Records a start of the node and returns its number (1 for the first start): a
    /// node tells its own requests from those of its earlier lives by it.
    pub fn boot(&self) -> u64 {
        self.boots.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// How many times the node started on this disk.
    pub fn boots(&self) -> u64 {
        self.boots.load(Ordering::SeqCst)
    }

    /// The synced Raft state, as raft-rs's storage (a handle on the disk itself).
    pub fn raft_storage(&self) -> MemStorage {
        self.raft.clone()
    }

    /// Writes `entries` (replacing any conflicting suffix) and the hard state `hard_state`
    /// to the Raft log, durably: completes after the sync latency. If the node is killed
    /// before that, nothing of it was written.
    pub async fn sync_raft(&self, entries: &[Entry], hard_state: Option<&HardState>) {
        if entries.is_empty() && hard_state.is_none() {
            return;
        }
        if !self.timing.sync_latency.is_zero() {
            madsim::time::sleep(self.timing.sync_latency).await;
        }
        let mut log = self.raft.wl();
        log.append(entries)
            .expect("the log accepts what Raft hands out");
        if let Some(hs) = hard_state {
            log.set_hardstate(hs.clone());
        }
    }

    /// Records the commit index (advisory, no sync: see the module docs).
    pub fn set_commit(&self, commit: u64) {
        self.raft.wl().mut_hard_state().commit = commit;
    }

    /// The time a sync takes.
    pub fn sync_latency(&self) -> Duration {
        self.timing.sync_latency
    }

    /// The synced Raft log's last index (0 when empty).
    pub fn last_index(&self) -> u64 {
        use raft::Storage;
        self.raft.last_index().expect("a memory log always answers")
    }

    /// The synced hard state.
    pub fn hard_state(&self) -> HardState {
        self.raft.rl().hard_state().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::simulate;

    fn entry(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Entry::default()
        }
    }

    #[test]
    fn a_completed_sync_is_durable_and_an_interrupted_one_is_lost() {
        let (after_first, after_killed) = simulate(1, |_rt| async {
            let disk = std::sync::Arc::new(NodeDisk::format(vec![1, 2, 3], DiskTiming::default()));
            let mut hs = HardState {
                term: 1,
                ..HardState::default()
            };
            disk.sync_raft(&[entry(1, 1)], Some(&hs)).await;
            let after_first = (disk.last_index(), disk.hard_state().term);
            // A sync cut short, as a kill drops the task in the middle of it.
            hs.term = 2;
            let write = {
                let disk = disk.clone();
                let hs = hs.clone();
                madsim::task::spawn(async move { disk.sync_raft(&[entry(2, 2)], Some(&hs)).await })
            };
            write.abort();
            madsim::time::sleep(Duration::from_millis(10)).await;
            (after_first, (disk.last_index(), disk.hard_state().term))
        });
        assert_eq!(after_first, (1, 1));
        assert_eq!(after_killed, (1, 1));
    }

    #[test]
    fn boots_are_counted() {
        let disk = NodeDisk::format(vec![1], DiskTiming::default());
        assert_eq!(disk.boot(), 1);
        assert_eq!(disk.boot(), 2);
        assert_eq!(disk.boots(), 2);
    }
}
