//! The report in a real browser: headless Chromium (Debian's `chromium`, installed by
//! scripts/test.sh) opens the `report.html` of a valid run, a set-full failure, a
//! linearizability failure and a 100,000-op run; each must show its verdict, both plots,
//! a drawn timeline and (for the failures) the failure view, print nothing on the
//! console, and leave a screenshot in `target/report-screenshots/`.

#[path = "../src/bench/chromium.rs"]
mod chromium;
#[path = "../src/bench/report_history.rs"]
mod report_history;

use jepsen_core::checker::registry::CheckerChoice;
use jepsen_core::history::{History, Op, OpType, Process, Value};
use jepsen_core::store::Store;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::UNIX_EPOCH;

const BIN: &str = env!("CARGO_BIN_EXE_restate-jepsen");

/// `target/report-screenshots/`, beside the test binary's profile folder.
fn screenshots() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_path_buf();
    let dir = target.join("report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn restate_jepsen(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Runs one sim iteration into `store` and returns its run folder.
fn sim(store: &Path, args: &[&str]) -> PathBuf {
    let mut all = vec![
        "sim",
        "--iterations",
        "1",
        "--store",
        store.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let (_, out) = restate_jepsen(&all);
    let stored = out
        .lines()
        .find_map(|l| l.strip_prefix("stored: "))
        .unwrap_or_else(|| panic!("sim stored no run:\n{out}"));
    PathBuf::from(stored)
}

/// Stores `history` with the checkers of `choice` and lets `analyze` check it and write
/// its report; returns the run folder.
fn stored_and_analyzed(
    store: &Path,
    name: &str,
    history: &History,
    choice: CheckerChoice,
) -> PathBuf {
    let run = Store::create(store, name, UNIX_EPOCH).unwrap();
    run.write_history_edn(history).unwrap();
    let mut fields = vec![
        (Value::keyword("name"), Value::from(name)),
        (Value::keyword("seed"), Value::Int(7)),
    ];
    fields.extend(choice.to_fields());
    run.write_test(&Value::Map(fields)).unwrap();
    let (code, out) = restate_jepsen(&["analyze", run.path().to_str().unwrap()]);
    assert!(code == 0 || code == 1, "analyze failed ({code}): {out}");
    run.path().to_path_buf()
}

/// What every report must show in the browser; returns the DOM for further checks.
fn open_report(run: &Path, verdict: &str, screenshot: &str) -> String {
    let page = run.join("report.html");
    assert!(page.is_file(), "no report at {}", page.display());
    let loaded = chromium::load(&page).unwrap();
    assert!(
        loaded.console.is_empty(),
        "the report wrote to the console: {:#?}",
        loaded.console
    );
    let dom = &loaded.dom;
    assert!(
        dom.contains(&format!("id=\"verdict\">{verdict}<")),
        "verdict {verdict} not shown"
    );
    for id in ["latency-plot", "throughput-plot", "timeline-canvas"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "no #{id}");
    }
    assert!(
        dom.contains("class=\"pt ok\"") && dom.contains("polyline class=\"q99\""),
        "the latency plot has no dots or no p99 line"
    );
    // The timeline's script ran and drew bars.
    let status = between(dom, "<p id=\"timeline-status\">", "</p>");
    let drawn: usize = between(status, "drawn ", " bars").parse().unwrap();
    assert!(drawn > 0, "timeline drew nothing: {status}");
    assert!(chromium::ready_ms(dom).is_some(), "no data-ready-ms");
    assert!(chromium::load_ms(dom).is_some(), "no data-load-ms");
    let png = screenshots().join(screenshot);
    chromium::screenshot(&page, &png).unwrap();
    assert!(
        std::fs::metadata(&png).unwrap().len() > 10_000,
        "{} is blank",
        png.display()
    );
    loaded.dom
}

fn between<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    let start = text.find(from).unwrap_or_else(|| panic!("no {from:?}")) + from.len();
    let end = start
        + text[start..]
            .find(to)
            .unwrap_or_else(|| panic!("no {to:?} after {from:?}"));
    &text[start..end]
}

#[test]
fn console_errors_are_caught() {
    // The check above is only worth something if a failing script shows up.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("broken.html");
    std::fs::write(&page, "<html><body><script>null.x;</script></body></html>").unwrap();
    let loaded = chromium::load(&page).unwrap();
    assert!(
        loaded
            .console
            .iter()
            .any(|l| l.contains("Uncaught TypeError")),
        "{:?}",
        loaded.console
    );
}

#[test]
fn report_of_a_valid_sim_run() {
    let store = tempfile::tempdir().unwrap();
    let run = sim(
        store.path(),
        &[
            "--seed",
            "42",
            "--workload",
            "register-mds",
            "--nemesis",
            "partition-random-node",
        ],
    );
    let dom = open_report(&run, "valid", "valid-run.png");
    assert!(dom.contains("id=\"no-failure\""));
    assert!(dom.contains("<pre id=\"replay\">cargo run --release -- sim --seed 42"));
    assert!(
        dom.contains("<g class=\"fault\">"),
        "no fault window shaded"
    );
    hover_and_zoom(&run.join("report.html"));
}

/// Moves the pointer along the timeline's first lane until the tooltip shows an op, then
/// clicks "zoom in": run by a probe script appended to a copy of the page.
fn hover_and_zoom(page: &Path) {
    const PROBE: &str = r#"<script>
(function () {
  var canvas = document.getElementById("timeline-canvas");
  var tip = document.getElementById("timeline-tip");
  var status = document.getElementById("timeline-status");
  var r = canvas.getBoundingClientRect();
  var found = "";
  for (var x = 0; x < r.width && !found; x += 2) {
    canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: r.left + x, clientY: r.top + 32, bubbles: true }));
    if (!tip.hidden) found = tip.textContent;
  }
  var before = status.textContent;
  document.querySelector('#timeline button[data-zoom="in"]').click();
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = "TIP[" + found + "]BEFORE[" + before + "]AFTER[" + status.textContent + "]";
  document.body.appendChild(out);
})();
</script>"#;
    let probe = page.with_file_name("probe.html");
    let mut html = std::fs::read_to_string(page).unwrap();
    html.push_str(PROBE);
    std::fs::write(&probe, html).unwrap();
    let loaded = chromium::load(&probe).unwrap();
    assert!(loaded.console.is_empty(), "{:#?}", loaded.console);
    let probed = between(&loaded.dom, "<pre id=\"probe\">", "</pre>");
    let tip = between(probed, "TIP[", "]BEFORE");
    assert!(
        tip.starts_with("process 0, index "),
        "no op under the pointer: {tip:?}"
    );
    assert!(tip.contains("invoked at "), "{tip}");
    // The span shown halves: "showing A s to B s".
    let span = |status: &str| {
        let shown = between(status, "showing ", " s, lanes");
        let (a, b) = shown.split_once(" s to ").unwrap();
        b.parse::<f64>().unwrap() - a.parse::<f64>().unwrap()
    };
    let before = span(between(probed, "BEFORE[", "]AFTER"));
    let after = span(between(probed, "AFTER[", "]"));
    assert!(
        (after / before - 0.5).abs() < 0.01,
        "zoom in: {before} s -> {after} s"
    );
}

#[test]
fn report_of_a_linearizability_failure() {
    let store = tempfile::tempdir().unwrap();
    let run = sim(
        store.path(),
        &[
            "--seed",
            "16",
            "--workload",
            "register-mds",
            "--nemesis",
            "partition-random-node",
            "--bug",
            "metadata-cas-without-quorum",
        ],
    );
    let dom = open_report(&run, "invalid", "linearizability-failure.png");
    let view = between(&dom, "id=\"linearizable-failure\"", "</details>");
    assert!(view.contains("id=\"key-ops-plot\""));
    assert!(view.contains("Longest linearizable prefix"));
    assert!(view.contains("<tr class=\"stuck\">"));
    assert!(view.contains("model state before it"));
    // `analyze` rebuilds the page.
    std::fs::remove_file(run.join("report.html")).unwrap();
    let (code, out) = restate_jepsen(&["analyze", run.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(run.join("report.html").is_file());
}

/// Twenty elements added one after another; reads every 50 ms return what was added so
/// far, except that element 7 vanishes from reads after 300 ms (lost) and element 13
/// shows up in reads only 100 ms after its add completed (stale).
fn set_full_failure() -> History {
    const MS: i64 = 1_000_000;
    let mut ops: Vec<Op> = Vec::new();
    let mut added: Vec<(i64, i64)> = Vec::new(); // (element, completed at)
    for e in 0..20i64 {
        let t = e * 25 * MS;
        ops.push(Op::invoke((e % 4) as u64, "add", Value::Int(e)).with_time(t));
        let done = t + 5 * MS;
        ops.push(
            Op::new(
                OpType::Ok,
                Process::Client((e % 4) as u64),
                "add",
                Value::Int(e),
            )
            .with_time(done),
        );
        added.push((e, done));
    }
    for n in 0..14i64 {
        let t = n * 50 * MS + 20 * MS;
        let seen: Vec<Value> = added
            .iter()
            .filter(|&&(e, done)| {
                done < t && !(e == 7 && t > 300 * MS) && !(e == 13 && t < done + 100 * MS)
            })
            .map(|&(e, _)| Value::Int(e))
            .collect();
        ops.push(Op::invoke(9, "read", Value::Nil).with_time(t));
        ops.push(
            Op::new(OpType::Ok, Process::Client(9), "read", Value::Vec(seen)).with_time(t + 2 * MS),
        );
    }
    for (t, f) in [(280, "start"), (281, "start"), (420, "stop"), (421, "stop")] {
        ops.push(Op::new(OpType::Info, Process::Nemesis, f, Value::from("n2")).with_time(t * MS));
    }
    ops.sort_by_key(|op| op.time);
    History::from_ops(ops).unwrap()
}

#[test]
fn report_of_a_set_full_failure() {
    let store = tempfile::tempdir().unwrap();
    let choice = CheckerChoice {
        checkers: vec!["set-full".into()],
        linearizable_reads: true,
        ..CheckerChoice::default()
    };
    let run = stored_and_analyzed(
        store.path(),
        "set-full-failure",
        &set_full_failure(),
        choice,
    );
    let dom = open_report(&run, "invalid", "set-full-failure.png");
    let lost = between(&dom, "id=\"lost-elements\"", "</table>");
    assert!(
        lost.contains("<td><b>7</b></td>"),
        "element 7 not listed as lost"
    );
    assert!(lost.contains(":ok :add 7"), "the add of 7 not shown");
    let stale = between(&dom, "id=\"stale-elements\"", "</table>");
    assert!(
        stale.contains("<td><b>13</b></td>"),
        "element 13 not listed as stale"
    );
}

#[test]
fn report_of_a_100k_op_run() {
    let store = tempfile::tempdir().unwrap();
    let history = report_history::register_history(100_000, 7);
    assert!(history.len() >= 99_990);
    let choice = CheckerChoice {
        checkers: vec!["linearizable".into(), "stats".into()],
        model: Some("cas-register".into()),
        key_split: Some("independent".into()),
        ..CheckerChoice::default()
    };
    let run = stored_and_analyzed(store.path(), "large", &history, choice);
    let dom = open_report(&run, "valid", "100k-ops.png");
    let status = between(&dom, "<p id=\"timeline-status\">", "</p>");
    let ops: usize = between(status, "", " ops in").parse().unwrap();
    let drawn: usize = between(status, "drawn ", " bars").parse().unwrap();
    assert!(ops >= 49_000, "{status}");
    // Zoomed out, bars that share a pixel are drawn once: far fewer than the ops.
    assert!(drawn < ops / 2, "{status}");
}
