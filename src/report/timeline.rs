//! The timeline: one lane per process, each op a bar from its invocation to its
//! completion, coloured by how it ended; hovering shows the op. The ops are embedded in
//! the page as compact JSON (one array per field) and drawn on a canvas by
//! `timeline.js`, which draws only the lanes and the time span in view, so the page
//! stays quick with 100,000 ops.

use super::faults::FaultInterval;
use super::html::{op_text_parts, script_json, truncate};
use crate::history::{History, OpType, Process};
use serde::Serialize;
use std::collections::BTreeMap;

/// The timeline's script, embedded in the page.
pub const SCRIPT: &str = include_str!("timeline.js");

/// At most this many characters of an op's value and error are kept for hovering.
const TEXT_MAX: usize = 160;

/// The timeline's data, one array per field, indexed by op (in invocation order).
/// Times are microseconds from the history's first op.
#[derive(Debug, Default, Serialize)]
pub struct TimelineData {
    /// The history's duration (µs).
    pub dur: i64,
    /// Lane names: client processes in numeric order, then the nemesis and others.
    pub lanes: Vec<String>,
    /// The distinct `:f`s.
    pub fs: Vec<String>,
    pub lane: Vec<u32>,
    /// Invocation time.
    pub s: Vec<i64>,
    /// Completion time, -1 if the op never completed.
    pub e: Vec<i64>,
    /// 0 ok, 1 fail, 2 info, 3 never completed.
    pub k: Vec<u8>,
    pub f: Vec<u32>,
    /// The op's index in the history (of its invocation).
    pub i: Vec<i64>,
    /// The op's value and error, as text.
    pub v: Vec<String>,
    /// Fault windows: [start, end, label].
    pub faults: Vec<(i64, i64, String)>,
}

/// The timeline's data for `history`.
pub fn timeline_data(history: &History, faults: &[FaultInterval]) -> TimelineData {
    let t0 = history.ops.first().map_or(0, |o| o.time);
    let us = |t: i64| (t - t0) / 1000;
    let mut data = TimelineData {
        dur: history.ops.last().map_or(0, |o| us(o.time)),
        ..TimelineData::default()
    };
    // Lanes in process order: clients by number, then named processes.
    let processes: std::collections::BTreeSet<&Process> =
        history.ops.iter().map(|op| &op.process).collect();
    let lane_of: BTreeMap<&Process, u32> = processes
        .iter()
        .enumerate()
        .map(|(n, p)| (*p, n as u32))
        .collect();
    data.lanes = processes.iter().map(|p| p.to_string()).collect();
    let mut f_of: BTreeMap<&str, u32> = BTreeMap::new();
    for (pos, op) in history.ops.iter().enumerate() {
        // Invocations only: a client's invoke, or a nemesis op's first half.
        let partner = history.partner(pos);
        let is_invocation = if op.is_client() {
            op.is_invoke()
        } else {
            partner.is_none_or(|p| p > pos)
        };
        if !is_invocation {
            continue;
        }
        let completion = partner.filter(|&p| p > pos).map(|p| &history.ops[p]);
        let next_f = f_of.len() as u32;
        let f = *f_of.entry(op.f.as_str()).or_insert(next_f);
        if f == next_f {
            data.fs.push(op.f.clone());
        }
        data.lane.push(lane_of[&op.process]);
        data.s.push(us(op.time));
        data.e.push(completion.map_or(-1, |c| us(c.time)));
        data.k.push(match completion.map(|c| c.kind) {
            Some(OpType::Ok) => 0,
            Some(OpType::Fail) => 1,
            Some(_) => 2,
            None => 3,
        });
        data.f.push(f);
        data.i.push(op.index);
        data.v
            .push(truncate(&op_text_parts(completion.unwrap_or(op)), TEXT_MAX));
    }
    data.faults = faults
        .iter()
        .map(|w| (us(w.start), us(w.end), w.label.clone()))
        .collect();
    data
}

/// The timeline section's HTML: the canvas, its controls, the data and the script.
pub fn section(history: &History, faults: &[FaultInterval]) -> String {
    let data = timeline_data(history, faults);
    let json = serde_json::to_string(&data).expect("timeline data serializes");
    format!(
        "<section id=\"timeline\"><h2>Timeline</h2>\
         <p class=\"help\">One lane per process; bars run from invocation to completion \
         (<span class=\"ok\">ok</span>, <span class=\"fail\">fail</span>, \
         <span class=\"info\">info</span>, <span class=\"open\">never completed</span>); \
         grey bands are faults. Wheel zooms, shift+wheel scrolls lanes, drag pans; hover \
         shows the op. \
         <button data-zoom=\"in\">zoom in</button> <button data-zoom=\"out\">zoom out</button> \
         <button data-zoom=\"reset\">reset</button></p>\
         <div id=\"timeline-box\"><canvas id=\"timeline-canvas\"></canvas>\
         <div id=\"timeline-tip\" hidden></div></div>\
         <p id=\"timeline-status\">the timeline needs JavaScript</p>\
         <script type=\"application/json\" id=\"timeline-data\">{}</script>\
         <script>{}</script></section>",
        script_json(&json),
        SCRIPT
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Value};

    #[test]
    fn one_entry_per_invocation_with_lanes_and_outcomes() {
        let inv = |p: u64, f: &str, t: i64| Op::invoke(p, f, Value::Int(p as i64)).with_time(t);
        let h = History::from_ops(vec![
            inv(10, "write", 1_000),
            inv(2, "read", 2_000),
            inv(10, "write", 1_000)
                .complete(OpType::Ok)
                .with_time(5_000),
            Op::new(OpType::Info, Process::Nemesis, "start", Value::Nil).with_time(6_000),
            Op::new(OpType::Info, Process::Nemesis, "start", Value::from("n1")).with_time(7_000),
            inv(2, "read", 2_000)
                .complete(OpType::Fail)
                .with_time(8_000)
                .with_error(Value::keyword("timeout")),
            inv(10, "read", 9_000),
        ])
        .unwrap();
        let d = timeline_data(&h, &[]);
        assert_eq!(d.dur, 8);
        assert_eq!(d.lanes, vec!["2", "10", ":nemesis"]);
        assert_eq!(d.fs, vec!["write", "read", "start"]);
        assert_eq!(d.lane, vec![1, 0, 2, 1]);
        assert_eq!(d.s, vec![0, 1, 5, 8]);
        assert_eq!(d.e, vec![4, 7, 6, -1]);
        assert_eq!(d.k, vec![0, 1, 2, 3]);
        assert_eq!(d.f, vec![0, 1, 2, 1]);
        assert_eq!(d.v[1], ":fail :read 2 :timeout");
        assert_eq!(d.v[2], ":info :start n1");
    }

    #[test]
    fn section_embeds_data_safely() {
        let h = History::from_ops(vec![
            Op::invoke(0, "write", Value::from("</script>")).with_time(0)
        ])
        .unwrap();
        let html = section(&h, &[]);
        assert_eq!(html.matches("</script>").count(), 2);
        assert!(html.contains("id=\"timeline-canvas\""));
    }
}
