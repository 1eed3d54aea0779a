//! The catalogue of defects that can be switched on in the modeled cluster (`--bug NAME`),
//! each a realistic way for a distributed system to break a guarantee the checkers test.
//! With no bug switched on, the model keeps every guarantee.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One injectable defect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bug {
    /// A metadata PUT is acknowledged by the Raft leader alone, checked against its own
    /// applied state, before the entry is committed by a quorum.
    MetadataCasWithoutQuorum,
    /// The partition leader answers an invocation before its log record reached
    /// `replication` log servers (the append goes on in the background, and nobody
    /// notices when it fails).
    AckBeforeReplication,
}

impl Bug {
    /// Every bug, in the order `--list-bugs` shows them.
    pub const ALL: [Bug; 2] = [Bug::MetadataCasWithoutQuorum, Bug::AckBeforeReplication];

    /// The name given on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Bug::MetadataCasWithoutQuorum => "metadata-cas-without-quorum",
            Bug::AckBeforeReplication => "ack-before-replication",
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
                "the partition leader answers an invocation before its log record is \
                 stored on default-replication log servers"
            }
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
