//! What several tests (and the benchmark example) share.

pub mod register;

use jepsen_core::checker::linearizable::Linearizable;
use jepsen_core::checker::{CheckOptions, Checker, Validity};
use jepsen_core::history::{History, OpType, Process};
use jepsen_core::model::ModelKind;
use std::collections::BTreeMap;

/// The register history's verdict as a cas-register.
#[allow(dead_code)] // not every test binary uses it
pub fn check(history: &History) -> Validity {
    Linearizable::new(ModelKind::CasRegister)
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
