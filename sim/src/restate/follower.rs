//! A follower's applied state of the partition, for the `stale-follower-read` bug: the
//! objects as the records on this node's own log server make them, applied in log
//! order up to the first gap. A follower that missed records (partitioned, restarted,
//! lossy network) lags the leader, which is what the bug lets a read see.
//!
//! The correct model never answers from it: every read goes through the leader's log.

use super::log_server::LogStore;
use super::virtual_objects::{Invocation, ObjectStore, Outcome};

/// The applied state, caught up on demand.
#[derive(Default)]
pub struct FollowerState {
    applied: u64,
    objects: ObjectStore,
}

impl FollowerState {
    /// Applies what `log` holds of `partition` after the last applied record (up to a
    /// gap), then answers the read `invocation` from the state.
    pub fn read(&mut self, log: &LogStore, partition: u32, invocation: &Invocation) -> Outcome {
        for (lsn, record) in log.records_from(partition, self.applied + 1) {
            if let Ok(logged) = serde_json::from_slice::<Invocation>(&record.payload) {
                self.objects.invoke(&logged);
            }
            self.applied = lsn;
        }
        let read = Invocation {
            idempotency_key: None,
            ..invocation.clone()
        };
        ObjectStore::with_state_of(&read, self.objects.state_of(&read)).invoke(&read)
    }

    /// The last log position applied.
    pub fn applied(&self) -> u64 {
        self.applied
    }
}
