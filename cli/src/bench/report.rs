//! `bench --only report`: how long the report of a 100,000-op run takes to make and to
//! load in headless Chromium.
//!
//! The run is a synthetic cas-register history ([`report_history`]) checked for
//! linearizability; the figures are the time to render `report.html`, its size, the
//! page's own load time (navigation start until its timeline is drawn, and until its
//! `load` event ended, measured by the page's script), and Chromium's whole run taking a
//! screenshot of the page against the same for an empty page (the difference is what the
//! report adds to a browser's start). `--dump-dom` runs are not timed: dumping 3 MB of
//! DOM through the headless shell costs more than loading it.

use super::chromium;
use super::report_history::register_history;
use super::{best_of, ms};
use crate::exit::Failure;
use jepsen_core::checker::registry::{self, CheckerChoice};
use jepsen_core::checker::CheckOptions;
use jepsen_core::history::Value;
use jepsen_core::report::{render, ReportInput};
use std::time::Duration;

/// Ops in the benchmark's history.
pub const OPS: usize = 100_000;

pub fn run(repeat: usize) -> Result<i32, Failure> {
    let history = register_history(OPS, 42);
    let choice = CheckerChoice {
        checkers: vec!["linearizable".into(), "stats".into()],
        model: Some("cas-register".into()),
        key_split: Some("independent".into()),
        ..CheckerChoice::default()
    };
    let checker = registry::build(&choice).map_err(Failure::bad_input)?;
    let results = checker.check(&history, &CheckOptions::default()).to_value();
    let test = Value::Map(choice.to_fields());
    let (page, render_time) = best_of(repeat, || {
        render(&ReportInput {
            title: "report benchmark".into(),
            history: &history,
            results: Some(&results),
            test: Some(&test),
        })
    });
    let dir = std::env::temp_dir().join(format!(
        "restate-jepsen-bench-report-{}",
        std::process::id()
    ));
    let io = |e: std::io::Error| Failure::bad_input(format!("report benchmark: {e}"));
    std::fs::create_dir_all(&dir).map_err(io)?;
    let (report, empty) = (dir.join("report.html"), dir.join("empty.html"));
    std::fs::write(&report, &page).map_err(io)?;
    std::fs::write(&empty, "<!DOCTYPE html><html><body></body></html>").map_err(io)?;

    let (mut ready, mut load) = (f64::MAX, f64::MAX);
    let (mut shot, mut empty_shot) = (Duration::MAX, Duration::MAX);
    for _ in 0..repeat {
        let loaded = chromium::load(&report).map_err(io)?;
        if !loaded.console.is_empty() {
            return Err(Failure::bad_input(format!(
                "report benchmark: the page wrote to the console: {:?}",
                loaded.console
            )));
        }
        let r = chromium::ready_ms(&loaded.dom).ok_or_else(|| {
            Failure::bad_input("report benchmark: the page's timeline was not drawn")
        })?;
        ready = ready.min(r);
        load = load.min(chromium::load_ms(&loaded.dom).unwrap_or(f64::MAX));
        let png = dir.join("shot.png");
        shot = shot.min(chromium::screenshot(&report, &png).map_err(io)?);
        empty_shot = empty_shot.min(chromium::screenshot(&empty, &png).map_err(io)?);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "report: {} ops ({} valid), rendered in {render_time}, {:.1} MB",
        history.len(),
        results.get("valid?").map_or("?".into(), |v| v.to_string()),
        page.len() as f64 / 1e6
    );
    println!(
        "report: in chromium, {ready:.1} ms from navigation start to timeline drawn, \
         {load:.1} ms to the load event's end"
    );
    println!(
        "report: chromium started, loading and taking a screenshot: {:.1} ms vs {:.1} ms for \
         an empty page (+{:.1} ms)",
        ms(shot),
        ms(empty_shot),
        ms(shot.saturating_sub(empty_shot)),
    );
    Ok(0)
}
