//! Consistency models and the anomalies they prohibit, as Elle's
//! `elle.consistency-model` relates them: a model directly proscribes some anomalies
//! (and inherits those of the weaker models it implies); an anomaly found also implies
//! others (G0 implies G1c, which implies G1, …), so a model prohibits every anomaly that
//! implies one it proscribes. Only the models this checker offers are listed; their
//! direct proscriptions are Elle's, gathered over each model's implied (weaker) models.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// The consistency models `--consistency-model` takes, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConsistencyModel {
    ReadUncommitted,
    ReadCommitted,
    SnapshotIsolation,
    StrongSessionSnapshotIsolation,
    Serializable,
    StrictSerializable,
}

impl ConsistencyModel {
    pub const ALL: [ConsistencyModel; 6] = [
        ConsistencyModel::ReadUncommitted,
        ConsistencyModel::ReadCommitted,
        ConsistencyModel::SnapshotIsolation,
        ConsistencyModel::StrongSessionSnapshotIsolation,
        ConsistencyModel::Serializable,
        ConsistencyModel::StrictSerializable,
    ];

    /// Elle's (friendly) name.
    pub fn name(self) -> &'static str {
        match self {
            ConsistencyModel::ReadUncommitted => "read-uncommitted",
            ConsistencyModel::ReadCommitted => "read-committed",
            ConsistencyModel::SnapshotIsolation => "snapshot-isolation",
            ConsistencyModel::StrongSessionSnapshotIsolation => "strong-session-snapshot-isolation",
            ConsistencyModel::Serializable => "serializable",
            ConsistencyModel::StrictSerializable => "strict-serializable",
        }
    }

    /// The models of this list that this one implies (itself included).
    fn implied(self) -> Vec<ConsistencyModel> {
        use ConsistencyModel::*;
        match self {
            ReadUncommitted => vec![ReadUncommitted],
            ReadCommitted => vec![ReadCommitted, ReadUncommitted],
            SnapshotIsolation => vec![SnapshotIsolation, ReadCommitted, ReadUncommitted],
            StrongSessionSnapshotIsolation => vec![
                StrongSessionSnapshotIsolation,
                SnapshotIsolation,
                ReadCommitted,
                ReadUncommitted,
            ],
            Serializable => vec![
                Serializable,
                SnapshotIsolation,
                ReadCommitted,
                ReadUncommitted,
            ],
            StrictSerializable => ConsistencyModel::ALL.to_vec(),
        }
    }

    /// What Elle's model (with every model it implies, here or not) directly proscribes.
    fn proscribed(self) -> &'static [&'static str] {
        use ConsistencyModel::*;
        match self {
            // PL-1.
            ReadUncommitted => &["G0", "duplicate-elements", "cyclic-versions"],
            // PL-2.
            ReadCommitted => &["G1"],
            // PL-SI, and what it implies: forward-consistent-view (G-SIb), consistent-view
            // (G-single), cursor-stability (lost-update), read-atomic (future-read), …
            SnapshotIsolation => &[
                "internal",
                "G1",
                "G1a",
                "G-SI",
                "G-SIb",
                "G-single",
                "G-nonadjacent",
                "lost-update",
                "future-read",
            ],
            // Strong session SI, strong-session PL-2 and PL-1.
            StrongSessionSnapshotIsolation => &[
                "internal",
                "G1-process",
                "G-nonadjacent-process",
                "G1c-process",
                "G0-process",
            ],
            // PL-3 (and repeatable-read, update-serializable).
            Serializable => &["internal", "G1", "G2", "G2-item", "lost-update"],
            // PL-SS, strong SI, strong PL-2 and PL-1, strong-session serializable.
            StrictSerializable => &[
                "G1",
                "G1c-realtime",
                "G2-realtime",
                "G1-realtime",
                "G-nonadjacent-realtime",
                "G0-realtime",
                "G1-process",
                "G2-process",
            ],
        }
    }

    /// Every anomaly this model prohibits: those it proscribes, those of the models it
    /// implies, and every anomaly that implies one of them.
    pub fn prohibited(self) -> BTreeSet<&'static str> {
        let direct: Vec<&'static str> = self
            .implied()
            .into_iter()
            .flat_map(|m| m.proscribed().iter().copied())
            .collect();
        anomalies_implying(&direct)
    }
}

impl fmt::Display for ConsistencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ConsistencyModel {
    type Err = String;
    fn from_str(name: &str) -> Result<ConsistencyModel, String> {
        ConsistencyModel::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = ConsistencyModel::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown consistency model {name:?}; valid models: {}",
                    names.join(", ")
                )
            })
    }
}

/// Elle's `implied-anomalies`: finding the first anomaly means finding the others too.
const IMPLIED: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    (
        "G-single-item",
        &["G-single", "G-single-item-process", "G-nonadjacent-item"],
    ),
    (
        "G-single-item-process",
        &[
            "G-single-process",
            "G-single-item-realtime",
            "G-nonadjacent-item-process",
        ],
    ),
    (
        "G-single-item-realtime",
        &["G-single-realtime", "G-nonadjacent-item-realtime"],
    ),
    ("G-single", &["G-nonadjacent", "GSIb", "G-single-process"]),
    (
        "G-single-process",
        &["G-nonadjacent-process", "G-single-realtime"],
    ),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    (
        "G-nonadjacent-item",
        &["G-nonadjacent", "G2-item", "G-nonadjacent-item-process"],
    ),
    (
        "G-nonadjacent-item-process",
        &[
            "G-nonadjacent-process",
            "G2-item-process",
            "G-nonadjacent-item-realtime",
        ],
    ),
    (
        "G-nonadjacent-item-realtime",
        &["G2-item-realtime", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    ("GSIa", &["GSI"]),
    ("GSIb", &["GSI"]),
    ("incompatible-order", &["G1a"]),
    ("future-read", &["G1c"]),
    ("dirty-update", &["G1a"]),
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
];

/// `anomalies` and every anomaly that implies one of them (Elle's
/// `all-anomalies-implying`).
pub fn anomalies_implying(anomalies: &[&'static str]) -> BTreeSet<&'static str> {
    let mut found: BTreeSet<&'static str> = anomalies.iter().copied().collect();
    loop {
        let before = found.len();
        for (anomaly, implied) in IMPLIED {
            if implied.iter().any(|i| found.contains(i)) {
                found.insert(anomaly);
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

/// Of this checker's models, those the `found` anomalies rule out: the weakest of them
/// (`not`) and the rest (`also-not`), as Elle's `friendly-boundary`.
pub fn boundary(found: &[&str]) -> (Vec<&'static str>, Vec<&'static str>) {
    let impossible: Vec<ConsistencyModel> = ConsistencyModel::ALL
        .into_iter()
        .filter(|m| {
            let prohibited = m.prohibited();
            found.iter().any(|a| prohibited.contains(a))
        })
        .collect();
    let weakest = |m: &ConsistencyModel| {
        !impossible
            .iter()
            .any(|other| other != m && m.implied().contains(other))
    };
    let (not, also_not): (Vec<ConsistencyModel>, Vec<ConsistencyModel>) =
        impossible.iter().partition(|m| weakest(m));
    (
        not.iter().map(|m| m.name()).collect(),
        also_not.iter().map(|m| m.name()).collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stronger_models_prohibit_more() {
        let ru = ConsistencyModel::ReadUncommitted.prohibited();
        let rc = ConsistencyModel::ReadCommitted.prohibited();
        let si = ConsistencyModel::SnapshotIsolation.prohibited();
        let ser = ConsistencyModel::Serializable.prohibited();
        let strict = ConsistencyModel::StrictSerializable.prohibited();
        assert!(ru.contains("G0") && !ru.contains("G1c"));
        assert!(rc.contains("G1c") && rc.contains("G1a") && rc.contains("G0"));
        assert!(
            si.contains("G-single-item") && !si.contains("G2-item"),
            "write skew is SI"
        );
        assert!(ser.contains("G2-item") && !ser.contains("G2-item-realtime"));
        assert!(strict.contains("G2-item-realtime") && strict.contains("G0-process"));
        assert!(ConsistencyModel::StrongSessionSnapshotIsolation
            .prohibited()
            .contains("G-single-item-process"));
        for m in ConsistencyModel::ALL {
            assert_eq!(m.name().parse::<ConsistencyModel>(), Ok(m));
        }
    }

    #[test]
    fn the_boundary_names_the_weakest_model_ruled_out() {
        let (not, also_not) = boundary(&["G2-item"]);
        assert_eq!(not, vec!["serializable"]);
        assert_eq!(also_not, vec!["strict-serializable"]);
        let (not, _) = boundary(&["G0"]);
        assert_eq!(not, vec!["read-uncommitted"]);
    }
}
