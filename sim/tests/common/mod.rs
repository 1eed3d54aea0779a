//! What several tests (and the benchmark example) share.

pub mod register;

use jepsen_core::checker::registry::{self, CheckerChoice};
use jepsen_core::checker::{CheckOptions, Validity};
use jepsen_core::history::{History, OpType, Process};
use std::collections::BTreeMap;

/// The register history's verdict as a cas-register per key.
#[allow(dead_code)] // not every test binary uses it
pub fn check(history: &History) -> Validity {
    let choice = CheckerChoice {
        checkers: vec!["linearizable".to_string()],
        model: Some("cas-register".to_string()),
        key_split: Some("independent".to_string()),
        ..CheckerChoice::default()
    };
    registry::build(&choice)
        .unwrap()
        .check(history, &CheckOptions::default())
        .valid
}

/// Counts of client completions by type, e.g. {"ok": 250, "fail": 40, "info": 10}.
#[allow(dead_code)]
pub fn outcomes(history: &History) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for op in &history.ops {
        if matches!(op.process, Process::Client(_)) && op.kind != OpType::Invoke {
            let name = match op.kind {
                OpType::Ok => "ok",
                OpType::Fail => "fail",
                _ => "info",
            };
            *counts.entry(name).or_default() += 1;
        }
    }
    counts
}
