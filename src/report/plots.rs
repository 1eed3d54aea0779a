//! The two plots, as inline SVG written here: latency over time (each op a dot coloured
//! by how it ended, with p50 / p95 / p99 lines, on a log scale as Jepsen's latency-raw
//! plot) and throughput over time (completions per second by outcome), both with the
//! fault windows shaded and labelled.
//!
//! Why hand-written SVG rather than `plotters`: the pictures are simple (dots, lines,
//! shaded bands, ticks), the page must stay small and quick with 100,000 ops (dots that
//! fall in the same 2-pixel cell are drawn once, and all dots of a colour are one `<path>`), and
//! plotters' SVG backend still needs a font stack to lay out text; ~250 lines here keep
//! the core free of it and give full control over the markup the browser test inspects.

use super::faults::FaultInterval;
use super::html::esc;
use crate::history::{History, OpType};
use std::collections::BTreeSet;
use std::fmt::Write;

const WIDTH: f64 = 1000.0;
const HEIGHT: f64 = 270.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 45.0;

/// How an op ended, as the plots colour it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Ok,
    Fail,
    Info,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Ok, Outcome::Fail, Outcome::Info];

    pub fn of(kind: OpType) -> Outcome {
        match kind {
            OpType::Ok => Outcome::Ok,
            OpType::Fail => Outcome::Fail,
            _ => Outcome::Info,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }
}

/// One completed client op: when it was invoked and how long it took, in seconds and
/// milliseconds from the history's first op.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub invoked_s: f64,
    pub latency_ms: f64,
    pub outcome: Outcome,
}

/// The latencies of the completed client ops, in invocation order, and how many
/// invocations never completed (they have no latency to plot).
pub fn latencies(history: &History) -> (Vec<Latency>, usize) {
    let t0 = history.ops.first().map_or(0, |o| o.time);
    let mut out = Vec::new();
    let mut open = 0;
    for (inv, comp) in history.client_pairs() {
        let Some(comp) = comp else {
            open += 1;
            continue;
        };
        let (i, c) = (&history.ops[inv], &history.ops[comp]);
        out.push(Latency {
            invoked_s: (i.time - t0) as f64 / 1e9,
            latency_ms: (c.time - i.time) as f64 / 1e6,
            outcome: Outcome::of(c.kind),
        });
    }
    (out, open)
}

/// The `q` quantile (0..=1) of sorted values, nearest rank.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A step of the form 1, 2 or 5 times a power of ten, near `span / ticks`.
pub fn nice_step(span: f64, ticks: f64) -> f64 {
    let raw = (span / ticks).max(1e-12);
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let step = if norm < 1.5 {
        1.0
    } else if norm < 3.5 {
        2.0
    } else if norm < 7.5 {
        5.0
    } else {
        10.0
    };
    step * magnitude
}

/// The plot area and its x scale (seconds), shared by both plots.
struct Frame {
    duration_s: f64,
}

impl Frame {
    fn x(&self, t_s: f64) -> f64 {
        LEFT + (t_s / self.duration_s).clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
    }

    fn bottom(&self) -> f64 {
        HEIGHT - BOTTOM
    }

    /// The svg element's start, the fault bands and the x axis.
    fn open(&self, id: &str, title: &str, faults: &[FaultInterval], t0: i64, s: &mut String) {
        let _ = write!(
            s,
            "<svg class=\"plot\" id=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\">\
             <text class=\"title\" x=\"{LEFT}\" y=\"18\">{}</text>\
             <rect class=\"area\" x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\"/>",
            esc(title),
            WIDTH - LEFT - RIGHT,
            self.bottom() - TOP
        );
        for (n, fault) in faults.iter().enumerate() {
            let x0 = self.x((fault.start - t0) as f64 / 1e9);
            let x1 = self.x((fault.end - t0) as f64 / 1e9).max(x0 + 1.0);
            let label_y = TOP + 12.0 + 12.0 * (n % 2) as f64;
            let _ = write!(
                s,
                "<g class=\"fault\"><title>{label}: {:.3} s – {:.3} s</title>\
                 <rect x=\"{x0:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{:.1}\"/>\
                 <text x=\"{:.1}\" y=\"{label_y}\">{label}</text></g>",
                (fault.start - t0) as f64 / 1e9,
                (fault.end - t0) as f64 / 1e9,
                x1 - x0,
                self.bottom() - TOP,
                x0 + 2.0,
                label = esc(&fault.label),
            );
        }
        let step = nice_step(self.duration_s, 10.0);
        let mut t = 0.0;
        while t <= self.duration_s + step * 1e-9 {
            let x = self.x(t);
            let _ = write!(
                s,
                "<line class=\"tick\" x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\"/>\
                 <text class=\"xtick\" x=\"{x:.1}\" y=\"{}\">{}</text>",
                self.bottom(),
                self.bottom() + 5.0,
                self.bottom() + 18.0,
                trim_float(t)
            );
            t += step;
        }
        let _ = write!(
            s,
            "<text class=\"axis\" x=\"{}\" y=\"{}\">time (s)</text>",
            WIDTH / 2.0,
            HEIGHT - 5.0
        );
    }

    fn legend(&self, items: &[(&str, &str)], s: &mut String) {
        let mut x = WIDTH - RIGHT - 90.0 * items.len() as f64;
        for (class, label) in items {
            let _ = write!(
                s,
                "<g class=\"legend {class}\"><rect x=\"{x:.0}\" y=\"8\" width=\"12\" height=\"12\"/>\
                 <text x=\"{:.0}\" y=\"18\">{}</text></g>",
                x + 16.0,
                esc(label)
            );
            x += 90.0;
        }
    }
}

fn trim_float(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn duration_s(history: &History) -> (i64, f64) {
    let t0 = history.ops.first().map_or(0, |o| o.time);
    let t1 = history.ops.last().map_or(0, |o| o.time);
    (t0, ((t1 - t0) as f64 / 1e9).max(1e-3))
}

/// The latency plot: one dot per completed client op at (invocation time, latency), on a
/// log scale, with p50 / p95 / p99 over time windows.
pub fn latency_svg(history: &History, faults: &[FaultInterval]) -> String {
    let (t0, duration_s) = duration_s(history);
    let frame = Frame { duration_s };
    let (points, open) = latencies(history);
    let mut s = String::new();
    frame.open(
        "latency-plot",
        &format!(
            "Latency ({} ops; {open} never completed, not shown)",
            points.len()
        ),
        faults,
        t0,
        &mut s,
    );
    let floor_ms = 1e-3;
    let (mut lo, mut hi) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        let l = p.latency_ms.max(floor_ms);
        (lo.min(l), hi.max(l))
    });
    if points.is_empty() {
        (lo, hi) = (1.0, 10.0);
    }
    let (decade_lo, mut decade_hi) = (lo.log10().floor(), hi.log10().ceil());
    if decade_hi <= decade_lo {
        decade_hi = decade_lo + 1.0;
    }
    let y = |ms: f64| {
        let f = (ms.max(floor_ms).log10() - decade_lo) / (decade_hi - decade_lo);
        frame.bottom() - f * (frame.bottom() - TOP)
    };
    let mut decade = decade_lo;
    while decade <= decade_hi {
        let yy = y(10f64.powf(decade));
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{}\" y2=\"{yy:.1}\"/>\
             <text class=\"ytick\" x=\"{}\" y=\"{:.1}\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            trim_float(10f64.powf(decade))
        );
        decade += 1.0;
    }
    let _ = write!(
        s,
        "<text class=\"axis\" transform=\"translate(14 {}) rotate(-90)\">latency (ms)</text>",
        (TOP + frame.bottom()) / 2.0
    );

    // Dots: 2 x 2 squares on a 2-pixel grid, one per occupied cell and outcome, each
    // outcome one filled path (filling squares is far cheaper for the browser to paint
    // than stroking round dots, which matters with 100,000 ops).
    for outcome in Outcome::ALL {
        let cells: BTreeSet<(i32, i32)> = points
            .iter()
            .filter(|p| p.outcome == outcome)
            .map(|p| {
                (
                    (frame.x(p.invoked_s) / 2.0).floor() as i32,
                    (y(p.latency_ms) / 2.0).floor() as i32,
                )
            })
            .collect();
        let mut d = String::with_capacity(cells.len() * 16);
        for (cx, cy) in cells {
            let _ = write!(d, "M{} {}h2v2h-2z", cx * 2, cy * 2);
        }
        let _ = write!(s, "<path class=\"pt {}\" d=\"{d}\"/>", outcome.name());
    }

    // Quantile lines over 100 windows.
    let windows = 100usize;
    let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); windows];
    for p in &points {
        let b = ((p.invoked_s / duration_s) * windows as f64) as usize;
        buckets[b.min(windows - 1)].push(p.latency_ms);
    }
    for b in &mut buckets {
        b.sort_by(f64::total_cmp);
    }
    for (q, class) in [(0.5, "q50"), (0.95, "q95"), (0.99, "q99")] {
        let line: Vec<String> = buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.is_empty())
            .map(|(i, b)| {
                let t = (i as f64 + 0.5) / windows as f64 * duration_s;
                format!("{:.1},{:.1}", frame.x(t), y(quantile(b, q)))
            })
            .collect();
        let _ = write!(
            s,
            "<polyline class=\"{class}\" points=\"{}\"/>",
            line.join(" ")
        );
    }
    frame.legend(
        &[
            ("ok", "ok"),
            ("fail", "fail"),
            ("info", "info"),
            ("q50", "p50"),
            ("q95", "p95"),
            ("q99", "p99"),
        ],
        &mut s,
    );
    s.push_str("</svg>");
    s
}

/// Completions per second in each time window, by outcome.
pub fn throughput(history: &History, windows: usize) -> (f64, Vec<[f64; 3]>) {
    let (t0, duration_s) = duration_s(history);
    let width_s = duration_s / windows as f64;
    let mut rates = vec![[0.0; 3]; windows];
    for (_, comp) in history.client_pairs() {
        let Some(comp) = comp else { continue };
        let op = &history.ops[comp];
        let t = (op.time - t0) as f64 / 1e9;
        let b = ((t / duration_s) * windows as f64) as usize;
        rates[b.min(windows - 1)][Outcome::of(op.kind) as usize] += 1.0 / width_s;
    }
    (width_s, rates)
}

/// The throughput plot: ok, fail and info completions per second over time.
pub fn throughput_svg(history: &History, faults: &[FaultInterval]) -> String {
    let (t0, duration_s) = duration_s(history);
    let frame = Frame { duration_s };
    // About 20 completions a window on average, between 10 and 100 windows.
    let windows = (history.client_pairs().count() / 20).clamp(10, 100);
    let (width_s, rates) = throughput(history, windows);
    let mut s = String::new();
    frame.open(
        "throughput-plot",
        &format!(
            "Throughput (completions per second, {:.3} s windows)",
            width_s
        ),
        faults,
        t0,
        &mut s,
    );
    let max = rates.iter().flatten().fold(1.0f64, |m, &r| m.max(r));
    let step = nice_step(max, 5.0);
    let top = (max / step).ceil() * step;
    let y = |r: f64| frame.bottom() - r / top * (frame.bottom() - TOP);
    let mut tick = 0.0;
    while tick <= top + step * 1e-9 {
        let yy = y(tick);
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{}\" y2=\"{yy:.1}\"/>\
             <text class=\"ytick\" x=\"{}\" y=\"{:.1}\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            trim_float(tick)
        );
        tick += step;
    }
    let _ = write!(
        s,
        "<text class=\"axis\" transform=\"translate(14 {}) rotate(-90)\">ops/s</text>",
        (TOP + frame.bottom()) / 2.0
    );
    for outcome in Outcome::ALL {
        let line: Vec<String> = rates
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let t = (i as f64 + 0.5) * width_s;
                format!("{:.1},{:.1}", frame.x(t), y(r[outcome as usize]))
            })
            .collect();
        let _ = write!(
            s,
            "<polyline class=\"rate {}\" points=\"{}\"/>",
            outcome.name(),
            line.join(" ")
        );
    }
    frame.legend(&[("ok", "ok"), ("fail", "fail"), ("info", "info")], &mut s);
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Value};

    fn pair(p: u64, start: i64, end: i64, kind: OpType) -> [Op; 2] {
        let inv = Op::invoke(p, "read", Value::Nil).with_time(start);
        let comp = inv.complete(kind).with_time(end);
        [inv, comp]
    }

    fn history() -> History {
        let mut ops = Vec::new();
        ops.extend(pair(0, 0, 1_000_000, OpType::Ok));
        ops.extend(pair(1, 500_000_000, 510_000_000, OpType::Fail));
        ops.extend(pair(0, 1_000_000_000, 1_100_000_000, OpType::Info));
        ops.push(Op::invoke(2, "read", Value::Nil).with_time(1_500_000_000));
        ops.push(
            Op::new(
                OpType::Info,
                crate::history::Process::Nemesis,
                "stop",
                Value::Nil,
            )
            .with_time(2_000_000_000),
        );
        History::from_ops(ops).unwrap()
    }

    #[test]
    fn latencies_of_completed_ops() {
        let (l, open) = latencies(&history());
        assert_eq!(open, 1);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].latency_ms, 1.0);
        assert_eq!(l[1].invoked_s, 0.5);
        assert_eq!(l[1].outcome, Outcome::Fail);
        assert_eq!(l[2].latency_ms, 100.0);
        assert_eq!(l[2].outcome, Outcome::Info);
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[7.0], 0.95), 7.0);
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(10.0, 10.0), 1.0);
        assert_eq!(nice_step(37.0, 10.0), 5.0);
        assert_eq!(nice_step(0.2, 10.0), 0.02);
    }

    #[test]
    fn throughput_counts_completions_per_window() {
        // 2 s in 4 windows of 0.5 s: the ok lands in window 0, the fail in 1, the info in 2.
        let (width, rates) = throughput(&history(), 4);
        assert_eq!(width, 0.5);
        assert_eq!(rates[0], [2.0, 0.0, 0.0]);
        assert_eq!(rates[1], [0.0, 2.0, 0.0]);
        assert_eq!(rates[2], [0.0, 0.0, 2.0]);
        assert_eq!(rates[3], [0.0, 0.0, 0.0]);
    }

    #[test]
    fn svgs_shade_faults_and_draw_every_outcome() {
        let faults = [FaultInterval {
            start: 200_000_000,
            end: 900_000_000,
            label: "start <n1>".into(),
        }];
        let lat = latency_svg(&history(), &faults);
        assert!(lat.contains("id=\"latency-plot\""));
        assert!(lat.contains("start &lt;n1&gt;"));
        for class in ["pt ok", "pt fail", "pt info", "q50", "q95", "q99"] {
            assert!(lat.contains(&format!("class=\"{class}\"")), "{class}");
        }
        // One dot per op here.
        assert_eq!(lat.matches("h2v2h-2z").count(), 3);
        let thr = throughput_svg(&history(), &faults);
        assert!(thr.contains("id=\"throughput-plot\""));
        assert!(thr.contains("class=\"rate fail\""));
        assert!(thr.contains("<g class=\"fault\">"));
    }
}
