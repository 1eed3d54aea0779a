//! How fast `check` judges Porcupine's own test histories, parse included: the 51 etcd
//! histories (cas-register) and porcupine-kv/c50-ok (kv), each file in turn as Porcupine's tests
//! do (a file's keys are checked in parallel). The parse-only time of the same files is the baseline.

use super::{best_of, ms, Timing};
use crate::exit::Failure;
use jepsen_core::checker::registry::{self, CheckerChoice};
use jepsen_core::checker::{CheckOptions, Validity};
use jepsen_core::history::read_history_file;
use std::path::{Path, PathBuf};

/// Porcupine's time for the same work on this machine class, as the issue gives it.
const PORCUPINE_ETCD_MS: f64 = 300.0;
const PORCUPINE_KV_C50_MS: f64 = 270.0;

pub fn run(histories: &Path, repeat: usize) -> Result<(), Failure> {
    let etcd_dir = histories.join("etcd");
    let mut etcd: Vec<PathBuf> = std::fs::read_dir(&etcd_dir)
        .map_err(|e| {
            Failure::bad_input(format!(
                "--histories {}: {e} (point it at shared/histories)",
                histories.display()
            ))
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "edn"))
        .collect();
    etcd.sort();
    let kv = vec![histories.join("porcupine-kv/c50-ok.edn")];

    println!("check: parse + linearizable, each file in turn (a file's keys in parallel), best of {repeat}");
    one(
        "etcd (51 files, cas-register)",
        &etcd,
        "cas-register",
        PORCUPINE_ETCD_MS,
        repeat,
    )?;
    one(
        "porcupine-kv/c50-ok (kv)",
        &kv,
        "kv",
        PORCUPINE_KV_C50_MS,
        repeat,
    )?;
    Ok(())
}

fn one(
    label: &str,
    files: &[PathBuf],
    model: &str,
    porcupine_ms: f64,
    repeat: usize,
) -> Result<(), Failure> {
    let choice = CheckerChoice {
        model: Some(model.into()),
        ..Default::default()
    };
    let checker = registry::build(&choice).map_err(Failure::bad_input)?;
    let read_all = || -> Result<Vec<_>, Failure> {
        files
            .iter()
            .map(|f| read_history_file(f).map_err(|e| Failure::bad_input(e.to_string())))
            .collect()
    };
    let (_, parse): (_, Timing) = best_of(repeat, read_all);
    let (verdicts, total) = best_of(repeat, || -> Result<Vec<Validity>, Failure> {
        Ok(read_all()?
            .iter()
            .map(|h| checker.check(h, &CheckOptions::default()).valid)
            .collect())
    });
    let verdicts = verdicts?;
    let invalid = verdicts.iter().filter(|v| **v == Validity::Invalid).count();
    println!(
        "  {label:<32} parse+check {total}  parse only {parse}  = {:.2}x parse;  {:.2}x Porcupine's {porcupine_ms} ms  ({} invalid of {})",
        ms(total.wall) / ms(parse.wall).max(1e-9),
        ms(total.wall) / porcupine_ms,
        invalid,
        verdicts.len()
    );
    Ok(())
}
