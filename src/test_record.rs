//! The test record: what a run was (Jepsen's test map), typed, as both worlds write it to
//! `test.json` and as `analyze`, `serve`, the report and `check` read it back. Reading is
//! lenient: a field a record lacks (an older run, a hand-written file) takes its default,
//! and fields it does not know are kept in `extra`.

use crate::checker::registry::CheckerChoice;
use crate::history::Value;

/// One run's test, as stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TestRecord {
    /// The test's name, the store folder it is kept under (e.g. `sim-set-vo-kill-random-node`).
    pub name: String,
    /// `sim` or `real`.
    pub world: String,
    pub seed: Option<u64>,
    /// The workloads run, at once (each on its own client threads).
    pub workloads: Vec<String>,
    /// The nemesis's faults, comma-separated (`none`: no nemesis).
    pub nemesis: Option<String>,
    /// The logical node names the history uses (`n1` … `nN`).
    pub nodes: Vec<String>,
    /// Real runs: each logical node's address, in order.
    pub addresses: Vec<String>,
    /// Simulated runs: the defects planted in the model.
    pub bugs: Vec<String>,
    pub concurrency: Option<usize>,
    /// Client ops per second over all threads.
    pub rate: Option<f64>,
    /// Seconds the workload and the nemesis run, before the final heal.
    pub time_limit: Option<f64>,
    /// Seconds the workload runs after the final heal.
    pub heal_time: Option<f64>,
    /// Seconds between a fault's start and stop, and a stop and the next start.
    pub fault_interval: Option<f64>,
    /// Fault episodes (instead of the cycle): their mean duration and gap, in seconds.
    pub fault_duration: Option<f64>,
    pub fault_gap: Option<f64>,
    /// Seconds a client waits for an answer.
    pub client_timeout: Option<f64>,
    pub checkers: CheckerChoice,
    /// The schedule file this run replayed, if it replayed one.
    pub schedule: Option<String>,
    /// The command that replays this run in the simulation, if it was simulated.
    pub replay: Option<String>,
    /// The command that replays this run's fault schedule on a real cluster.
    pub replay_real: Option<String>,
    /// The Restate server's version, where known.
    pub restate_version: Option<String>,
    /// Other fields, kept as they are (world-specific options).
    pub extra: Vec<(String, Value)>,
}

const KNOWN: &[&str] = &[
    "name",
    "world",
    "seed",
    "workload",
    "workloads",
    "nemesis",
    "nodes",
    "addresses",
    "bugs",
    "concurrency",
    "rate",
    "time-limit",
    "heal-time",
    "fault-interval",
    "client-timeout",
    "fault-duration",
    "fault-gap",
    "checkers",
    "parts",
    "model",
    "initial",
    "key-split",
    "linearizable-reads",
    "consistency-model",
    "schedule",
    "replay",
    "replay-real",
    "restate-version",
];

impl TestRecord {
    /// The record as a test map: flat, Jepsen-style keys.
    pub fn to_value(&self) -> Value {
        let mut fields: Vec<(Value, Value)> = Vec::new();
        let mut put = |k: &str, v: Value| fields.push((Value::keyword(k), v));
        let names = |items: &[String]| Value::Vec(items.iter().cloned().map(Value::Str).collect());
        put("name", Value::Str(self.name.clone()));
        put("world", Value::Str(self.world.clone()));
        if let Some(seed) = self.seed {
            put("seed", Value::Int(seed as i64));
        }
        if let [one] = self.workloads.as_slice() {
            put("workload", Value::Str(one.clone()));
        } else {
            put("workloads", names(&self.workloads));
        }
        if let Some(n) = &self.nemesis {
            put("nemesis", Value::Str(n.clone()));
        }
        put("nodes", names(&self.nodes));
        if !self.addresses.is_empty() {
            put("addresses", names(&self.addresses));
        }
        if self.world == "sim" || !self.bugs.is_empty() {
            put("bugs", names(&self.bugs));
        }
        if let Some(c) = self.concurrency {
            put("concurrency", Value::Int(c as i64));
        }
        for (k, v) in [
            ("rate", self.rate),
            ("time-limit", self.time_limit),
            ("heal-time", self.heal_time),
            ("fault-interval", self.fault_interval),
            ("fault-duration", self.fault_duration),
            ("fault-gap", self.fault_gap),
            ("client-timeout", self.client_timeout),
        ] {
            if let Some(v) = v {
                put(k, Value::Float(v));
            }
        }
        for (k, v) in [
            ("schedule", &self.schedule),
            ("replay", &self.replay),
            ("replay-real", &self.replay_real),
            ("restate-version", &self.restate_version),
        ] {
            if let Some(v) = v {
                put(k, Value::Str(v.clone()));
            }
        }
        for (k, v) in &self.extra {
            put(k, v.clone());
        }
        fields.extend(self.checkers.to_fields());
        Value::Map(fields)
    }

    /// Reads a record back from a stored test map (`test.json`).
    pub fn from_value(test: &Value) -> Result<TestRecord, String> {
        let Value::Map(entries) = test else {
            return Err("test.json: the test must be a map".to_string());
        };
        let text = |k: &str| test.get(k).and_then(Value::as_name).map(str::to_string);
        let list = |k: &str| -> Result<Vec<String>, String> {
            match test.get(k) {
                None | Some(Value::Nil) => Ok(Vec::new()),
                Some(v) => v
                    .as_slice()
                    .ok_or(format!("test.json: `{k}` must be a list of names"))?
                    .iter()
                    .map(|n| {
                        n.as_name()
                            .map(str::to_string)
                            .ok_or(format!("test.json: `{k}` holds a non-name"))
                    })
                    .collect(),
            }
        };
        let number = |k: &str| match test.get(k) {
            Some(Value::Int(i)) => Some(*i as f64),
            Some(Value::Float(f)) => Some(*f),
            _ => None,
        };
        let mut workloads = list("workloads")?;
        if let Some(w) = text("workload") {
            workloads.insert(0, w);
        }
        Ok(TestRecord {
            name: text("name").unwrap_or_default(),
            world: text("world").unwrap_or_default(),
            seed: test.get("seed").and_then(Value::as_int).map(|s| s as u64),
            workloads,
            nemesis: text("nemesis"),
            nodes: list("nodes")?,
            addresses: list("addresses")?,
            bugs: list("bugs")?,
            concurrency: test
                .get("concurrency")
                .and_then(Value::as_int)
                .map(|c| c as usize),
            rate: number("rate"),
            time_limit: number("time-limit"),
            heal_time: number("heal-time"),
            fault_interval: number("fault-interval"),
            fault_duration: number("fault-duration"),
            fault_gap: number("fault-gap"),
            client_timeout: number("client-timeout"),
            checkers: CheckerChoice::from_test(test)?,
            schedule: text("schedule"),
            replay: text("replay"),
            replay_real: text("replay-real"),
            restate_version: text("restate-version"),
            extra: entries
                .iter()
                .filter_map(|(k, v)| {
                    let k = k.as_name()?;
                    (!KNOWN.contains(&k)).then(|| (k.to_string(), v.clone()))
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written_through_json() {
        let record = TestRecord {
            name: "sim-set-vo-kill-random-node".into(),
            world: "sim".into(),
            seed: Some(42),
            workloads: vec!["set-vo".into()],
            nemesis: Some("kill-random-node".into()),
            nodes: vec!["n1".into(), "n2".into()],
            bugs: vec!["no-fencing".into()],
            concurrency: Some(5),
            rate: Some(50.0),
            time_limit: Some(4.0),
            replay: Some("cargo run -- sim --seed 42".into()),
            checkers: CheckerChoice {
                checkers: vec!["set-full".into()],
                linearizable_reads: true,
                ..CheckerChoice::default()
            },
            extra: vec![("server".into(), Value::Str("/bin/restate-server".into()))],
            ..TestRecord::default()
        };
        let json = serde_json::to_string(&record.to_value()).unwrap();
        let back: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(TestRecord::from_value(&back).unwrap(), record);
    }

    #[test]
    fn a_sparse_record_takes_defaults_and_a_bad_one_is_refused() {
        let sparse: Value = serde_json::from_str(r#"{"checkers":["stats"]}"#).unwrap();
        let r = TestRecord::from_value(&sparse).unwrap();
        assert_eq!(r.checkers.checkers, vec!["stats".to_string()]);
        assert!(r.nodes.is_empty() && r.seed.is_none());
        let bad: Value = serde_json::from_str(r#"{"nodes":5}"#).unwrap();
        assert!(TestRecord::from_value(&bad).unwrap_err().contains("nodes"));
    }
}
