//! Progress bars (indicatif) on stderr for the long work a person waits on: sim
//! iterations, a real run, checking large histories.
//!
//! They draw only when stderr is a terminal: indicatif's `ProgressDrawTarget::stderr()`
//! hides itself when stderr is a pipe, a file, or `TERM` is unset or `dumb`, so output
//! captured by tests and scripts stays clean (nothing at all is written). Each type keeps
//! its count whether drawn or not. All methods take `&self` and the types are `Send +
//! Sync`: they can be shared with worker threads.
//!
//! Every bar of the process lives in one [`terminal`] group, which log lines are written
//! through (see `logging`), so that a log line never lands in the middle of a bar.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The process's progress bars, drawn on stderr when it is a terminal.
pub fn terminal() -> &'static MultiProgress {
    static BARS: OnceLock<MultiProgress> = OnceLock::new();
    BARS.get_or_init(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
}

/// How often a visible bar redraws on its own, so elapsed time moves while nothing happens.
const TICK: Duration = Duration::from_millis(200);

/// `sim`: iterations done / total, how many were not valid, iterations per second.
pub struct IterationProgress {
    bar: ProgressBar,
    failures: AtomicU64,
}

impl IterationProgress {
    /// A bar for `total` iterations on stderr (hidden unless stderr is a terminal).
    pub fn new(total: u64) -> IterationProgress {
        IterationProgress::with_bar(terminal().add(ProgressBar::new(total)))
    }

    fn with_bar(bar: ProgressBar) -> IterationProgress {
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} sim [{bar:30}] {pos}/{len} iterations, {msg}, {per_sec} ({eta} left)",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message("0 failing");
        start_ticking(&bar);
        IterationProgress {
            bar,
            failures: AtomicU64::new(0),
        }
    }

    /// One iteration has been judged; `valid` false counts it as failing.
    pub fn iteration_done(&self, valid: bool) {
        if !valid {
            let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
            self.bar.set_message(format!("{failures} failing"));
        }
        self.bar.inc(1);
    }

    /// Iterations judged so far.
    #[allow(dead_code)] // for tests and callers that report counts
    pub fn done(&self) -> u64 {
        self.bar.position()
    }

    /// Iterations judged not valid so far.
    #[allow(dead_code)] // for tests and callers that report counts
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Removes the bar from the terminal (before the summary is printed).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A real run: elapsed / time limit, ops completed, ops per second, the active fault.
///
/// ```ignore
/// let progress = RunProgress::new(Duration::from_secs(60));
/// progress.fault(Some("partition n2"));   // when the nemesis starts a fault
/// progress.op_completed();                // for every completed client op
/// progress.fault(None);                   // when it heals
/// progress.finish();                      // before printing the run's summary
/// ```
pub struct RunProgress {
    bar: ProgressBar,
}

impl RunProgress {
    /// A bar for a run whose workload lasts `time_limit`, on stderr (hidden unless stderr
    /// is a terminal). Elapsed time counts from this call.
    pub fn new(time_limit: Duration) -> RunProgress {
        RunProgress::with_bar(time_limit, terminal().add(ProgressBar::no_length()))
    }

    fn with_bar(time_limit: Duration, bar: ProgressBar) -> RunProgress {
        let limit = time_limit;
        let style = ProgressStyle::with_template(
            "{spinner} {elapsed_precise} / {limit} [{timebar}] {pos} ops, {rate} ops/s, {msg}",
        )
        .expect("a valid template")
        .with_key(
            "limit",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let s = limit.as_secs();
                let _ = write!(w, "{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
            },
        )
        .with_key(
            "timebar",
            move |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&time_bar(state.elapsed(), limit, 30));
            },
        )
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let secs = state.elapsed().as_secs_f64().max(1e-3);
                let _ = write!(w, "{:.1}", state.pos() as f64 / secs);
            },
        );
        bar.set_style(style);
        bar.set_message("no fault");
        start_ticking(&bar);
        RunProgress { bar }
    }

    /// A client op has completed (ok, fail or info).
    pub fn op_completed(&self) {
        self.bar.inc(1);
    }

    /// The fault now active, e.g. `Some("partition n2")`, or `None` once healed.
    pub fn fault(&self, active: Option<&str>) {
        match active {
            Some(fault) => self.bar.set_message(format!("fault: {fault}")),
            None => self.bar.set_message("no fault"),
        }
    }

    /// Client ops completed so far.
    #[allow(dead_code)] // for tests
    pub fn ops(&self) -> u64 {
        self.bar.position()
    }

    /// What the bar says about faults: `fault: <name>` or `no fault`.
    #[allow(dead_code)] // for tests
    pub fn fault_text(&self) -> String {
        self.bar.message()
    }

    /// Removes the bar from the terminal (before the run's summary is printed).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// `check`: one spinner per file being read and checked, several at once.
pub struct CheckProgress {
    bars: MultiProgress,
}

/// The spinner of one file; it disappears when finished or dropped.
pub struct FileSpinner {
    spinner: ProgressBar,
}

impl CheckProgress {
    /// Spinners on stderr (hidden unless stderr is a terminal).
    pub fn new() -> CheckProgress {
        CheckProgress {
            bars: terminal().clone(),
        }
    }

    /// A spinner for `file`, saying it is being read.
    pub fn file(&self, file: &Path) -> FileSpinner {
        let spinner = self.bars.add(ProgressBar::new_spinner());
        spinner.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("a valid template"),
        );
        spinner.set_message(format!("reading {}", file.display()));
        start_ticking(&spinner);
        FileSpinner { spinner }
    }
}

impl FileSpinner {
    /// The file has been read: now it is being checked.
    pub fn checking(&self, file: &Path, ops: usize) {
        self.spinner
            .set_message(format!("checking {} ({ops} ops)", file.display()));
    }

    /// What the spinner says now.
    #[allow(dead_code)] // for tests
    pub fn text(&self) -> String {
        self.spinner.message()
    }

    /// Removes the spinner.
    pub fn finish(&self) {
        self.spinner.finish_and_clear();
    }
}

impl Drop for FileSpinner {
    fn drop(&mut self) {
        self.spinner.finish_and_clear();
    }
}

/// Redraws a visible bar on its own; a hidden one needs no ticker thread.
fn start_ticking(bar: &ProgressBar) {
    if !bar.is_hidden() {
        bar.enable_steady_tick(TICK);
    }
}

#[allow(dead_code)] // used by RunProgress
/// `width` cells, filled in proportion to `elapsed / limit` (full past the limit).
fn time_bar(elapsed: Duration, limit: Duration, width: usize) -> String {
    let fraction = if limit.is_zero() {
        1.0
    } else {
        (elapsed.as_secs_f64() / limit.as_secs_f64()).min(1.0)
    };
    let filled = (fraction * width as f64).round() as usize;
    let mut bar = "=".repeat(filled);
    if filled < width {
        bar.push('>');
        bar.push_str(&" ".repeat(width - filled - 1));
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_progress_counts_iterations_and_failures() {
        let p = IterationProgress::with_bar(ProgressBar::hidden());
        p.iteration_done(true);
        p.iteration_done(false);
        p.iteration_done(false);
        assert_eq!((p.done(), p.failures()), (3, 2));
        assert_eq!(p.bar.message(), "2 failing");
        p.finish();
        assert!(p.bar.is_finished());
    }

    #[test]
    fn run_progress_counts_ops_and_shows_the_active_fault() {
        let p = RunProgress::with_bar(Duration::from_secs(10), ProgressBar::hidden());
        assert_eq!(p.fault_text(), "no fault");
        for _ in 0..7 {
            p.op_completed();
        }
        p.fault(Some("partition n2"));
        assert_eq!(p.ops(), 7);
        assert_eq!(p.fault_text(), "fault: partition n2");
        p.fault(None);
        assert_eq!(p.fault_text(), "no fault");
        p.finish();
    }

    #[test]
    fn the_time_bar_fills_with_elapsed_time_and_stops_full() {
        let limit = Duration::from_secs(10);
        assert_eq!(time_bar(Duration::ZERO, limit, 4), ">   ");
        assert_eq!(time_bar(Duration::from_secs(5), limit, 4), "==> ");
        assert_eq!(time_bar(Duration::from_secs(30), limit, 4), "====");
    }

    #[test]
    fn a_file_spinner_says_what_it_does() {
        let progress = CheckProgress {
            bars: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
        };
        let spinner = progress.file(Path::new("h.edn"));
        assert_eq!(spinner.text(), "reading h.edn");
        spinner.checking(Path::new("h.edn"), 12);
        assert_eq!(spinner.text(), "checking h.edn (12 ops)");
        spinner.finish();
    }
}
