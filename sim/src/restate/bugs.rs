//! The catalogue of defects that can be switched on in the modeled cluster (`--bug NAME`),
//! each a realistic way for a distributed system to break a guarantee the checkers test.
//! With no bug switched on, the model keeps every guarantee.

use jepsen_core::fault::Fault;
use jepsen_core::workload::Workload;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One injectable defect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bug {
    /// A metadata PUT is acknowledged by the Raft leader alone, checked against its own
    /// applied state, before the entry is committed by a quorum.
    MetadataCasWithoutQuorum,
    /// The partition leader answers an invocation as soon as its log record is in the
    /// leader's append buffer; the buffer is shipped to the log servers every
    /// [`ACK_BUFFER_FLUSH`](super::partition::ACK_BUFFER_FLUSH), and nobody notices when
    /// that fails or the leader dies first.
    AckBeforeReplication,
    /// A node that does not lead the partition answers `get` handlers from its own
    /// applied state: the records its log server holds, which may lag.
    StaleFollowerRead,
    /// Log servers ignore seals, and a leader never checks that it is still the one on
    /// record: a deposed leader keeps appending, applying and answering.
    NoFencing,
    /// Handlers on one key run concurrently: each reads the object's state when it
    /// starts and writes its result back when its log append returns (last writer wins).
    NonExclusiveObject,
    /// The ingress retries a forwarded invocation under a fresh invocation id instead of
    /// the request's, so the partition cannot deduplicate the retry and runs it twice.
    DuplicateOnRetry,
}

impl Bug {
    /// Every bug, in the order `--list-bugs` shows them.
    pub const ALL: [Bug; 6] = [
        Bug::MetadataCasWithoutQuorum,
        Bug::AckBeforeReplication,
        Bug::StaleFollowerRead,
        Bug::NoFencing,
        Bug::NonExclusiveObject,
        Bug::DuplicateOnRetry,
    ];

    /// The name given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bug::MetadataCasWithoutQuorum => "metadata-cas-without-quorum",
            Bug::AckBeforeReplication => "ack-before-replication",
            Bug::StaleFollowerRead => "stale-follower-read",
            Bug::NoFencing => "no-fencing",
            Bug::NonExclusiveObject => "non-exclusive-object",
            Bug::DuplicateOnRetry => "duplicate-on-retry",
        }
    }

    /// One line saying what goes wrong.
    pub fn description(self) -> &'static str {
        match self {
            Bug::MetadataCasWithoutQuorum => {
                "a metadata PUT is acknowledged by the Raft leader alone, checked against \
                 its applied state, before a quorum commits it"
            }
            Bug::AckBeforeReplication => {
                "the partition leader answers an invocation once its record is buffered, \
                 before the log servers stored it"
            }
            Bug::StaleFollowerRead => {
                "a get on a node that does not lead the partition is answered from that \
                 node's own, possibly lagging, copy of the log"
            }
            Bug::NoFencing => {
                "log servers ignore the seal of an old epoch: a deposed partition leader \
                 keeps appending, applying and answering"
            }
            Bug::NonExclusiveObject => {
                "handlers on one object key run concurrently: read-modify-write races \
                 lose updates (Set.add, Register.cas)"
            }
            Bug::DuplicateOnRetry => {
                "the ingress retries an invocation under a fresh invocation id, so the \
                 retry is not deduplicated and runs twice"
            }
        }
    }

    /// A workload that finds this bug with the default checkers (with
    /// [`Bug::default_nemesis`], the fixed test the catalogue's tests hunt with, and what
    /// `--list-bugs` says; `sim --bug B` alone does not use it: the swarm gets no hint).
    /// Why each pair finds its bug:
    /// - metadata-cas-without-quorum: register-mds's cas through the metadata store; a
    ///   partitioned Raft leader acknowledges writes that the majority never commits.
    /// - ack-before-replication: register-vo under kill-random-node: a killed leader takes
    ///   its buffer of acknowledged records with it; the next leader's reads go back.
    ///   (Not a set workload: its post-heal phase adds 0, 1, 2, … again, which re-adds
    ///   lost elements and hides them from set-full.)
    /// - stale-follower-read: register-vo under partition-random-node: the cut-off
    ///   follower answers reads from a log that stopped growing.
    /// - no-fencing: register-vo under pause-random-node: a leader paused past the
    ///   election timeout is replaced, and on resuming keeps serving its own ingress
    ///   from its old state, its appends accepted by log servers that ignore the seal.
    /// - non-exclusive-object: set-vo with no faults: concurrent adds race their
    ///   read-modify-write of the one set, and acknowledged elements vanish.
    /// - duplicate-on-retry: register-vo under latency-spike: the ingress retries
    ///   every attempt that takes over 100 ms; at the end of a spike a retry overtakes
    ///   the original, which then runs again after the client's op completed (a write
    ///   reappears), or the original runs first and the retried cas answers 412.
    ///   A duplicate set add is invisible, hence a register.
    pub fn default_workload(self) -> Workload {
        match self {
            Bug::MetadataCasWithoutQuorum => Workload::RegisterMds,
            Bug::AckBeforeReplication => Workload::RegisterVo,
            Bug::StaleFollowerRead => Workload::RegisterVo,
            Bug::NoFencing => Workload::RegisterVo,
            Bug::NonExclusiveObject => Workload::SetVo,
            Bug::DuplicateOnRetry => Workload::RegisterVo,
        }
    }

    /// A fault that exposes this bug (see [`Bug::default_workload`]).
    pub fn default_nemesis(self) -> Fault {
        match self {
            Bug::MetadataCasWithoutQuorum => Fault::PartitionRandomNode,
            Bug::AckBeforeReplication => Fault::KillRandomNode,
            Bug::StaleFollowerRead => Fault::PartitionRandomNode,
            Bug::NoFencing => Fault::PauseRandomNode,
            Bug::NonExclusiveObject => Fault::None,
            Bug::DuplicateOnRetry => Fault::LatencySpike,
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not in the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownBug(pub String);

impl fmt::Display for UnknownBug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
        write!(
            f,
            "unknown bug `{}`; known bugs: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownBug {}

impl FromStr for Bug {
    type Err = UnknownBug;
    fn from_str(s: &str) -> Result<Bug, UnknownBug> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| UnknownBug(s.to_string()))
    }
}

/// The bugs switched on in a cluster.
pub type BugSet = BTreeSet<Bug>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for bug in Bug::ALL {
            assert_eq!(bug.name().parse::<Bug>(), Ok(bug));
            assert!(!bug.description().is_empty());
        }
        let err = "lose-everything".parse::<Bug>().unwrap_err().to_string();
        assert!(err.contains("lose-everything") && err.contains("metadata-cas-without-quorum"));
    }
}
