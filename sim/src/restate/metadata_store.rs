//! The metadata store's state machine: a versioned key-value map, as Restate's metadata
//! API exposes it. Every value carries a version chosen by the writer (the `etag` of a
//! PUT); a write states a precondition on the current version. The replicated log
//! carries [`MetadataCommand`]s; every replica applies them in log order to its own
//! [`MetadataStore`] and so reaches the same state and the same outcome for each.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a write requires of the key's current version (HTTP `if-match`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Precondition {
    /// `*`: unconditional, whether or not the key exists.
    Any,
    /// `does-not-exist`: only if the key has no value.
    DoesNotExist,
    /// A version: only if the key's value has exactly this version.
    MatchesVersion(u64),
}

/// A value and its version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionedValue {
    pub version: u64,
    pub value: Vec<u8>,
}

/// A write, as the log carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetadataCommand {
    Put {
        key: String,
        precondition: Precondition,
        value: VersionedValue,
    },
    Delete {
        key: String,
        precondition: Precondition,
    },
}

/// The outcome of a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    Done,
    /// The precondition did not hold: nothing changed (HTTP 412).
    PreconditionFailed,
}

/// The versioned key-value map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataStore {
    values: BTreeMap<String, VersionedValue>,
}

impl MetadataStore {
    pub fn get(&self, key: &str) -> Option<&VersionedValue> {
        self.values.get(key)
    }

    /// Whether `precondition` holds for `key` now.
    pub fn holds(&self, key: &str, precondition: Precondition) -> bool {
        match (precondition, self.values.get(key)) {
            (Precondition::Any, _) => true,
            (Precondition::DoesNotExist, current) => current.is_none(),
            (Precondition::MatchesVersion(v), Some(current)) => current.version == v,
            (Precondition::MatchesVersion(_), None) => false,
        }
    }

    /// Whether `command`'s precondition holds now (what applying it would answer).
    pub fn would_apply(&self, command: &MetadataCommand) -> WriteOutcome {
        let (key, precondition) = match command {
            MetadataCommand::Put {
                key, precondition, ..
            }
            | MetadataCommand::Delete { key, precondition } => (key, *precondition),
        };
        if self.holds(key, precondition) {
            WriteOutcome::Done
        } else {
            WriteOutcome::PreconditionFailed
        }
    }

    /// Applies `command` if its precondition holds.
    pub fn apply(&mut self, command: &MetadataCommand) -> WriteOutcome {
        let outcome = self.would_apply(command);
        if outcome == WriteOutcome::Done {
            match command {
                MetadataCommand::Put { key, value, .. } => {
                    self.values.insert(key.clone(), value.clone());
                }
                MetadataCommand::Delete { key, .. } => {
                    self.values.remove(key);
                }
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &str, precondition: Precondition, version: u64, value: &str) -> MetadataCommand {
        MetadataCommand::Put {
            key: key.to_string(),
            precondition,
            value: VersionedValue {
                version,
                value: value.as_bytes().to_vec(),
            },
        }
    }

    #[test]
    fn preconditions_decide_whether_a_write_happens() {
        let mut s = MetadataStore::default();
        assert_eq!(
            s.apply(&put("k", Precondition::MatchesVersion(1), 2, "a")),
            WriteOutcome::PreconditionFailed
        );
        assert_eq!(s.get("k"), None);
        assert_eq!(
            s.apply(&put("k", Precondition::DoesNotExist, 1, "a")),
            WriteOutcome::Done
        );
        assert_eq!(
            s.apply(&put("k", Precondition::DoesNotExist, 5, "b")),
            WriteOutcome::PreconditionFailed
        );
        assert_eq!(
            s.apply(&put("k", Precondition::MatchesVersion(2), 3, "b")),
            WriteOutcome::PreconditionFailed
        );
        assert_eq!(
            s.apply(&put("k", Precondition::MatchesVersion(1), 2, "b")),
            WriteOutcome::Done
        );
        assert_eq!(
            s.get("k").map(|v| (v.version, v.value.clone())),
            Some((2, b"b".to_vec()))
        );
        assert_eq!(
            s.apply(&put("k", Precondition::Any, 8, "c")),
            WriteOutcome::Done
        );
        assert_eq!(
            s.apply(&put("j", Precondition::Any, 8, "c")),
            WriteOutcome::Done
        );
        assert_eq!(s.get("k").unwrap().version, 8);
        let delete = MetadataCommand::Delete {
            key: "k".into(),
            precondition: Precondition::MatchesVersion(7),
        };
        assert_eq!(s.apply(&delete), WriteOutcome::PreconditionFailed);
        let delete = MetadataCommand::Delete {
            key: "k".into(),
            precondition: Precondition::MatchesVersion(8),
        };
        assert_eq!(s.apply(&delete), WriteOutcome::Done);
        assert_eq!(s.get("k"), None);
    }
}
