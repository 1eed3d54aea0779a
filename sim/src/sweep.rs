//! Sweeps beyond one machine: `sim --shard I/N` runs the I-th (from 0) of N disjoint,
//! contiguous slices of the seed range and writes its summary into the store
//! (`<store>/sweeps/<sweep>/shard-I-of-N.json`; a run without `--shard` is shard 0/1);
//! `sim summarize STORE` merges the summaries of every sweep in a store: counts, and the
//! failing seeds in seed order with their replay lines. A scheduler's job array (Slurm's
//! `sbatch --array`, a Kubernetes Indexed Job) runs the shards into a shared store.
//!
//! A sweep is named by what decides its seeds' verdicts: the first seed, the number of
//! iterations and the flags given, so shards of the same sweep find each other and a
//! sweep with other flags never mixes in.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One of N slices of a seed range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// From 0.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// This shard's seeds of `all`: contiguous, the first `len mod N` shards one longer.
    pub fn seeds(&self, all: Range<u64>) -> Range<u64> {
        let len = all.end - all.start;
        let (base, extra) = (len / self.count, len % self.count);
        let start = all.start + self.index * base + self.index.min(extra);
        let size = base + u64::from(self.index < extra);
        start..start + size
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard {s}: give I/N with 0 <= I < N (e.g. 0/4)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count) = (
            i.trim().parse::<u64>().map_err(|_| bad())?,
            n.trim().parse::<u64>().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A seed that was not valid.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedFailure {
    pub seed: u64,
    /// invalid or unknown.
    pub verdict: String,
    /// Why, in a few words.
    pub why: String,
    /// The seed's configuration as flags (swarm seeds).
    pub configuration: Option<String>,
    pub replay: String,
    pub replay_real: Option<String>,
    /// Its folder in the store, if kept.
    pub stored: Option<String>,
}

/// What one shard of a sweep found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardSummary {
    pub sweep: String,
    /// The sweep's first seed and iterations, and the flags given.
    pub seed: u64,
    pub iterations: u64,
    pub flags: Vec<String>,
    pub shard: Shard,
    /// The seeds this shard ran.
    pub seeds: Range<u64>,
    pub valid: u64,
    pub invalid: u64,
    pub unknown: u64,
    pub ops: u64,
    pub failures: Vec<SeedFailure>,
}

/// The name of the sweep of `iterations` seeds from `seed` with `flags`.
pub fn sweep_name(seed: u64, iterations: u64, flags: &[String]) -> String {
    // 64-bit FNV-1a of the flags: short, stable across builds and machines.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in flags.join("\u{1f}").bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("seed{seed}-n{iterations}-{hash:016x}")
}

impl ShardSummary {
    /// Where it is kept in `store`.
    pub fn path(&self, store: &Path) -> PathBuf {
        store.join("sweeps").join(&self.sweep).join(format!(
            "shard-{}-of-{}.json",
            self.shard.index, self.shard.count
        ))
    }

    /// Writes it into `store` (atomically: a reader never sees half of it).
    pub fn write(&self, store: &Path) -> std::io::Result<PathBuf> {
        let path = self.path(store);
        std::fs::create_dir_all(path.parent().expect("a shard file has a folder"))?;
        let partial = path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(self).expect("a summary is JSON") + "\n";
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, &path)?;
        Ok(path)
    }
}

/// A sweep's merged summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepSummary {
    pub sweep: String,
    pub seed: u64,
    pub iterations: u64,
    pub flags: Vec<String>,
    /// How many shards the sweep has, and those whose summary is missing.
    pub shards: u64,
    pub missing_shards: Vec<u64>,
    pub valid: u64,
    pub invalid: u64,
    pub unknown: u64,
    pub ops: u64,
    pub failures: Vec<SeedFailure>,
}

impl SweepSummary {
    /// Merges the shards of one sweep (all with the same shard count).
    fn merge(shards: &[ShardSummary]) -> SweepSummary {
        let first = &shards[0];
        let count = first.shard.count;
        let have: Vec<u64> = shards.iter().map(|s| s.shard.index).collect();
        let mut failures: Vec<SeedFailure> =
            shards.iter().flat_map(|s| s.failures.clone()).collect();
        failures.sort_by_key(|f| f.seed);
        SweepSummary {
            sweep: first.sweep.clone(),
            seed: first.seed,
            iterations: first.iterations,
            flags: first.flags.clone(),
            shards: count,
            missing_shards: (0..count).filter(|i| !have.contains(i)).collect(),
            valid: shards.iter().map(|s| s.valid).sum(),
            invalid: shards.iter().map(|s| s.invalid).sum(),
            unknown: shards.iter().map(|s| s.unknown).sum(),
            ops: shards.iter().map(|s| s.ops).sum(),
            failures,
        }
    }

    /// The summary as text: counts, then each failure with its replay lines.
    pub fn text(&self) -> String {
        let mut out = format!(
            "sweep {}: {} iterations from seed {}{}, {} shard(s){}: {} valid, {} invalid, {} unknown, {} ops\n",
            self.sweep,
            self.iterations,
            self.seed,
            if self.flags.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.flags.join(" "))
            },
            self.shards,
            if self.missing_shards.is_empty() {
                String::new()
            } else {
                format!(" (missing: {:?})", self.missing_shards)
            },
            self.valid,
            self.invalid,
            self.unknown,
            self.ops
        );
        for f in &self.failures {
            out.push_str(&format!(
                "seed {}: {}\t{}\n",
                f.seed,
                f.verdict,
                f.why.trim()
            ));
            if let Some(c) = &f.configuration {
                out.push_str(&format!("  configuration: {c}\n"));
            }
            out.push_str(&format!("  replay: {}\n", f.replay));
            if let Some(r) = &f.replay_real {
                out.push_str(&format!("  replay on a real cluster: {r}\n"));
            }
        }
        out
    }
}

/// The merged summary of every sweep in `store` (sweeps in name order). A sweep whose
/// shards disagree on their count is an error naming the files.
pub fn summarize(store: &Path) -> Result<Vec<SweepSummary>, String> {
    let dir = store.join("sweeps");
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        format!(
            "{}: {e}: give a store that `sim` (with or without --shard) wrote to",
            dir.display()
        )
    })?;
    let mut sweeps: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    sweeps.sort();
    let mut merged = Vec::new();
    for sweep in sweeps.iter().filter(|p| p.is_dir()) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(sweep)
            .map_err(|e| format!("{}: {e}", sweep.display()))?
            .filter_map(|e| Some(e.ok()?.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        let mut shards = Vec::new();
        for file in &files {
            let text =
                std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
            let shard: ShardSummary = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a shard summary: {e}", file.display()))?;
            shards.push(shard);
        }
        let Some(first) = shards.first() else {
            continue;
        };
        if let Some(odd) = shards.iter().find(|s| s.shard.count != first.shard.count) {
            return Err(format!(
                "{}: shards of {} and of {} in one sweep: remove the older sweep's files",
                sweep.display(),
                first.shard.count,
                odd.shard.count
            ));
        }
        merged.push(SweepSummary::merge(&shards));
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_seeds_once_and_parse_with_a_clear_error() {
        for n in 1..7u64 {
            let mut seen = Vec::new();
            for i in 0..n {
                seen.extend(Shard { index: i, count: n }.seeds(40..53));
            }
            assert_eq!(seen, (40..53).collect::<Vec<_>>());
        }
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1", "a/b", "0/0"] {
            assert!(bad.parse::<Shard>().unwrap_err().starts_with("--shard"));
        }
    }
}
