//! One self-contained HTML page per run, `report.html` in its store folder: what a person
//! looks at after a run. It holds the summary (verdicts, options, seed and replay command,
//! op counts), latency and throughput over time with the fault windows shaded, a
//! timeline of every op by process, and a picture of the failure for linearizability and
//! set-full. Nothing is fetched from the network: the plots are inline SVG, the timeline
//! a canvas drawn by a small embedded script from the ops embedded as JSON.
//!
//! [`render`] is pure (history, results and options in, HTML out); [`write_report`]
//! reads a stored run and writes its page.
//! [`store_index`] and [`folder_listing`] are the store's own pages, for `serve`.

mod failure;
mod faults;
mod html;
mod plots;
mod store_index;
mod summary;
mod timeline;

pub use failure::{element_ops, ElementOps};
pub use faults::{fault_intervals, FaultInterval};
pub use store_index::{folder_listing, store_index};
pub use timeline::{timeline_data, TimelineData};

use crate::history::{History, Pairing, ReadOptions, Value};
use crate::store::{Store, RESULTS_JSON, TEST_JSON};
use html::esc;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The report's file name in a run's folder.
pub const REPORT_HTML: &str = "report.html";

/// What a report is made from.
pub struct ReportInput<'a> {
    /// The page's title, e.g. the test's name and the run's timestamp.
    pub title: String,
    pub history: &'a History,
    /// The checker's results (`results.json`), if the run was checked.
    pub results: Option<&'a Value>,
    /// The test's options (`test.json`), if stored.
    pub test: Option<&'a Value>,
}

/// The report page for `input`.
pub fn render(input: &ReportInput<'_>) -> String {
    let faults = fault_intervals(input.history);
    let mut page = String::with_capacity(64 * input.history.len() + 64 * 1024);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    page.push_str(&format!("<title>{}</title>", esc(&input.title)));
    page.push_str("<style>");
    page.push_str(CSS);
    page.push_str("</style></head><body>");
    page.push_str(&format!("<h1>{}</h1>", esc(&input.title)));
    page.push_str(&summary::section(input.history, input.results, input.test));
    page.push_str(&failure::section(input.history, input.results));
    page.push_str("<section id=\"plots\"><h2>Latency and throughput</h2>");
    page.push_str(&plots::latency_svg(input.history, &faults));
    page.push_str(&plots::throughput_svg(input.history, &faults));
    page.push_str("</section>");
    page.push_str(&timeline::section(input.history, &faults));
    page.push_str("</body></html>\n");
    page
}

/// Reads the run stored in `run_dir` (its history, and `results.json` and `test.json`
/// when present) and writes its `report.html` there; returns the page's path.
pub fn write_report(run_dir: &Path) -> io::Result<PathBuf> {
    let run = Store::open_run(run_dir)?;
    let dir = run.path();
    // A report shows what was recorded, whatever the checkers thought of its pairs.
    let read = ReadOptions {
        pairing: Pairing::Loose,
        ..ReadOptions::default()
    };
    let history = Store::load_history_with(dir, &read)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    let results = if dir.join(RESULTS_JSON).is_file() {
        Some(Store::load_results(dir)?)
    } else {
        None
    };
    let test = if dir.join(TEST_JSON).is_file() {
        Some(Store::load_test(dir)?)
    } else {
        None
    };
    let name = |p: &Path| {
        p.file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned())
    };
    let title = match dir.parent() {
        Some(test_dir) => format!("{} {}", name(test_dir), name(dir)),
        None => name(dir),
    };
    let page = render(&ReportInput {
        title,
        history: &history,
        results: results.as_ref(),
        test: test.as_ref(),
    });
    let path = dir.join(REPORT_HTML);
    fs::write(&path, page)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

const CSS: &str = r#"
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222;max-width:1400px}
h1{font-size:20px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:2px;margin-top:28px}
h3{font-size:15px}h4{font-size:14px;margin:14px 0 4px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5}code,pre{font:12px/1.35 ui-monospace,monospace}pre{background:#f5f5f5;padding:6px;white-space:pre-wrap}
.verdict{font-size:22px;font-weight:bold}.valid,.ok{color:#2e7d32}.invalid,.fail,.stuck td{color:#c62828}
.unknown,.info{color:#b26a00}.open{color:#777}.error{color:#c62828}
svg.plot{display:block;margin:8px 0;background:#fff;max-width:100%;height:auto}
svg text{font:11px sans-serif;fill:#333}svg text.title{font-size:13px;font-weight:bold}
svg .area{fill:#fcfcfc;stroke:#bbb}svg .grid,svg .tick{stroke:#e3e3e3}svg .xtick{text-anchor:middle}svg .ytick{text-anchor:end}
svg .axis{text-anchor:middle}svg .fault rect{fill:#777;fill-opacity:.16}svg .fault text{fill:#555;font-size:10px}
svg .pt{stroke:none;fill-opacity:.8}svg .pt.ok{fill:#2e9d4f}svg .pt.fail{fill:#d9534f}svg .pt.info{fill:#e6a23c}
svg .rate.ok{stroke:#2e9d4f}svg .rate.fail{stroke:#d9534f}svg .rate.info{stroke:#e6a23c}
svg .rate{fill:none;stroke-width:1.5}svg polyline.q50,svg polyline.q95,svg polyline.q99{fill:none;stroke-width:1.5}
svg .q50{stroke:#1f4e9c}svg .q95{stroke:#7b3fa0}svg .q99{stroke:#111;stroke-dasharray:4 2}
svg .legend.ok rect{fill:#2e9d4f}svg .legend.fail rect{fill:#d9534f}svg .legend.info rect{fill:#e6a23c}
svg .legend.q50 rect{fill:#1f4e9c}svg .legend.q95 rect{fill:#7b3fa0}svg .legend.q99 rect{fill:#111}
svg.key-ops-plot{display:block;margin:8px 0;max-width:100%;height:auto}
.key-ops-plot .placed rect{fill:#a5d6a7;stroke:#2e7d32}.key-ops-plot .stuck rect{fill:#ef9a9a;stroke:#c62828;stroke-width:2}
.key-ops-plot .unplaced rect{fill:#e0e0e0;stroke:#999}
.failure{border-left:4px solid #c62828;padding-left:12px;margin:10px 0}
#timeline-box{position:relative;border:1px solid #ccc;user-select:none}
#timeline-canvas{display:block;cursor:grab}
#timeline-tip{position:absolute;background:#fffde7;border:1px solid #bbb;padding:4px 6px;font:12px ui-monospace,monospace;white-space:pre-wrap;max-width:320px;pointer-events:none}
.help{color:#555}
.row{display:flex;gap:24px;flex-wrap:wrap;align-items:flex-start}.row>div:first-child{flex:1 1 520px}
table.options{font-size:12px}.verdict{margin:4px 0 8px}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::linearizable::Linearizable;
    use crate::checker::{CheckOptions, Checker};
    use crate::history::{Op, OpType, Process};
    use crate::model::ModelKind;

    /// A cas-register history that is not linearizable: a read sees a value never written.
    fn bad_register() -> History {
        let w = |p: u64, v: i64| Op::invoke(p, "write", Value::Int(v));
        let r = |p: u64| Op::invoke(p, "read", Value::Nil);
        let t = |op: Op, t: i64| op.with_time(t);
        History::from_ops(vec![
            t(w(0, 1), 0),
            t(w(0, 1).complete(OpType::Ok), 10),
            Op::new(OpType::Info, Process::Nemesis, "start", Value::Nil).with_time(12),
            Op::new(OpType::Info, Process::Nemesis, "start", Value::from("n1")).with_time(13),
            t(w(1, 2), 20),
            t(w(1, 2).complete(OpType::Ok), 30),
            t(r(2), 40),
            t(
                Op {
                    value: Value::Int(1),
                    ..r(2).complete(OpType::Ok)
                },
                50,
            ),
            Op::new(OpType::Info, Process::Nemesis, "stop", Value::Nil).with_time(60),
            Op::new(OpType::Info, Process::Nemesis, "stop", Value::Nil).with_time(61),
        ])
        .unwrap()
    }

    #[test]
    fn linearizability_failure_page_shows_prefix_and_stuck_op() {
        let h = bad_register();
        let result = Linearizable::new(ModelKind::CasRegister).check(&h, &CheckOptions::default());
        let results = Value::Map(vec![
            (Value::keyword("valid?"), Value::Bool(false)),
            (Value::keyword("linearizable"), result.to_value()),
        ]);
        let page = render(&ReportInput {
            title: "bad <register>".into(),
            history: &h,
            results: Some(&results),
            test: None,
        });
        assert!(page.contains("<title>bad &lt;register&gt;</title>"));
        assert!(page.contains("id=\"verdict\">invalid<"));
        assert!(page.contains("id=\"linearizable-failure\""));
        assert!(page.contains("id=\"key-ops-plot\""));
        // The read of 1 after the write of 2 cannot be placed; the prefix is both writes.
        assert!(page.contains("<tr class=\"stuck\"><td>✗</td><td><code>7 2 :ok :read 1</code>"));
        assert!(page.contains("Longest linearizable prefix: 2 ops"));
        assert!(page.contains("<g class=\"fault\"><title>start n1"));
        assert!(page.contains("id=\"timeline-data\""));
    }

    #[test]
    fn writes_the_report_of_a_stored_run() {
        let dir = tempfile::tempdir().unwrap();
        let run = Store::create(dir.path(), "t", std::time::UNIX_EPOCH).unwrap();
        let h = bad_register();
        run.write_history_edn(&h).unwrap();
        run.write_test(&Value::Map(vec![
            (Value::keyword("seed"), Value::Int(16)),
            (
                Value::keyword("replay"),
                Value::from("cargo run -- sim --seed 16"),
            ),
        ]))
        .unwrap();
        let path = write_report(&dir.path().join("latest")).unwrap();
        assert_eq!(path.file_name().unwrap(), REPORT_HTML);
        let page = fs::read_to_string(path).unwrap();
        assert!(page.contains("<title>t 19700101T000000.000</title>"));
        assert!(page.contains("id=\"verdict\">not checked<"));
        assert!(page.contains("<pre id=\"replay\">cargo run -- sim --seed 16</pre>"));
        assert!(page.contains("id=\"no-failure\""));
    }
}
