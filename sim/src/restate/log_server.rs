//! The log server on every node: stores the records of the partitions' replicated logs
//! on the node's disk, and fences old leaders by sealing.
//!
//! A record is written at a log position (LSN) by a partition leader of some epoch. A
//! seal for epoch `e` makes the server refuse every later append from an epoch below
//! `e`, and answers the records it holds, so that the leader of epoch `e` can recover
//! the log: a record counts once `replication` servers stored it, and a seal reaches
//! `nodes - replication + 1` servers, so every counted record is in some seal's answer.
//!
//! An append is synced before it is acknowledged (the disk's sync latency; a node killed
//! meanwhile never stored it), and the seal is checked again when the sync completes, so
//! no append is stored after a seal that did not report it. A seal is durable at once.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// One record of a partition's log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    pub epoch: u64,
    pub payload: Vec<u8>,
}

/// A request to a log server.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum LogRequest {
    Append {
        partition: u32,
        epoch: u64,
        lsn: u64,
        record: LogRecord,
    },
    Seal {
        partition: u32,
        epoch: u64,
    },
}

/// A log server's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum LogReply {
    Appended,
    /// Refused: the log is sealed at this epoch.
    Sealed(u64),
    /// Sealed; the records held.
    Records(BTreeMap<u64, LogRecord>),
}

#[derive(Clone, Debug, Default)]
struct PartitionLog {
    sealed: u64,
    records: BTreeMap<u64, LogRecord>,
}

/// The log server's data on one node's disk.
#[derive(Debug, Default)]
pub struct LogStore {
    partitions: Mutex<BTreeMap<u32, PartitionLog>>,
}

impl LogStore {
    /// Handles `request`; an append waits `sync_latency` before it is stored. Without
    /// `fencing` (the `no-fencing` bug), seals are recorded but never refuse an append.
    pub async fn handle(
        &self,
        request: LogRequest,
        sync_latency: Duration,
        fencing: bool,
    ) -> LogReply {
        match request {
            LogRequest::Append {
                partition,
                epoch,
                lsn,
                record,
            } => {
                if !sync_latency.is_zero() {
                    madsim::time::sleep(sync_latency).await;
                }
                let mut partitions = self.partitions.lock().expect("not poisoned");
                let log = partitions.entry(partition).or_default();
                if fencing && epoch < log.sealed {
                    return LogReply::Sealed(log.sealed);
                }
                let newer = log
                    .records
                    .get(&lsn)
                    .is_some_and(|r| r.epoch > record.epoch);
                if !newer {
                    log.records.insert(lsn, record);
                }
                LogReply::Appended
            }
            LogRequest::Seal { partition, epoch } => {
                let mut partitions = self.partitions.lock().expect("not poisoned");
                let log = partitions.entry(partition).or_default();
                log.sealed = log.sealed.max(epoch);
                LogReply::Records(log.records.clone())
            }
        }
    }

    /// The records of `partition` held here from `lsn` on, as long as they follow each
    /// other without a gap (what a follower can apply in order).
    pub fn records_from(&self, partition: u32, lsn: u64) -> Vec<(u64, LogRecord)> {
        let partitions = self.partitions.lock().expect("not poisoned");
        let Some(log) = partitions.get(&partition) else {
            return Vec::new();
        };
        log.records
            .range(lsn..)
            .zip(lsn..)
            .take_while(|((at, _), expected)| *at == expected)
            .map(|((at, record), _)| (*at, record.clone()))
            .collect()
    }

    /// The records of `partition` held here (for tests).
    pub fn records(&self, partition: u32) -> BTreeMap<u64, LogRecord> {
        let partitions = self.partitions.lock().expect("not poisoned");
        partitions
            .get(&partition)
            .map(|l| l.records.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::simulate;

    fn append(epoch: u64, lsn: u64) -> LogRequest {
        LogRequest::Append {
            partition: 0,
            epoch,
            lsn,
            record: LogRecord {
                epoch,
                payload: vec![lsn as u8],
            },
        }
    }

    #[test]
    fn a_seal_fences_older_epochs_and_reports_the_records() {
        let (first, sealed, refused, newer) = simulate(1, |_rt| async {
            let store = LogStore::default();
            let ms = Duration::from_millis(1);
            let first = store.handle(append(1, 1), ms, true).await;
            let sealed = store
                .handle(
                    LogRequest::Seal {
                        partition: 0,
                        epoch: 2,
                    },
                    ms,
                    true,
                )
                .await;
            let refused = store.handle(append(1, 2), ms, true).await;
            let newer = store.handle(append(2, 2), ms, true).await;
            (first, sealed, refused, newer)
        });
        assert!(matches!(first, LogReply::Appended));
        match sealed {
            LogReply::Records(r) => assert_eq!(r.keys().copied().collect::<Vec<_>>(), vec![1]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(refused, LogReply::Sealed(2)));
        assert!(matches!(newer, LogReply::Appended));
    }

    #[test]
    fn without_fencing_a_sealed_epoch_still_appends_and_followers_read_a_gapless_prefix() {
        let (refused, prefix) = simulate(1, |_rt| async {
            let store = LogStore::default();
            let ms = Duration::from_millis(1);
            store.handle(append(1, 1), ms, false).await;
            let seal = LogRequest::Seal {
                partition: 0,
                epoch: 2,
            };
            store.handle(seal, ms, false).await;
            let refused = store.handle(append(1, 2), ms, false).await;
            store.handle(append(1, 4), ms, false).await;
            let prefix: Vec<u64> = store.records_from(0, 1).iter().map(|r| r.0).collect();
            (refused, prefix)
        });
        assert!(matches!(refused, LogReply::Appended));
        assert_eq!(prefix, vec![1, 2]);
    }
}
