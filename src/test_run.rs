//! One test's lifecycle, Jepsen's `core/run!`, for both worlds: the store, the test record,
//! the history streamed to disk, the workload and its nemesis run by the interpreter,
//! checking, results, the schedule and the report. A world ([`World`]) plugs in only what
//! differs: how it brings the database up and down, its runtime, its transport, how it
//! inflicts fault actions, and what it collects from the nodes.
//!
//! [`Keep::Always`] streams the history to the store from the first op (a real run never
//! loses what it recorded); [`Keep::UnlessValid`] (simulation iterations) keeps nothing
//! until the verdict says the run is worth keeping, so a valid iteration costs no I/O.

use crate::checker::{registry, CheckOptions, CheckResult, Validity};
use crate::fault::episodes::{episode_ops, episodes_gen};
use crate::fault::{faults_name, Fault, FaultTiming};
use crate::fault::{FaultEffector, FaultNemesis, FaultOptions, Schedule, SCHEDULE_JSON};
use crate::generator::TestInfo;
use crate::history::{History, HistoryWriter, Op};
use crate::interpreter::{run, InterpretError, InterpreterOptions};
use crate::runtime::{Nemesis, NoopNemesis, Runtime};
use crate::store::{RunDir, Store};
use crate::test_record::TestRecord;
use crate::workload::transport::Transport;
use crate::workload::{
    replay_schedule, schedule, schedule_with_nemesis_ops, WorkloadMix, WorkloadOptions,
};
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// What one test runs, in either world.
#[derive(Clone, Debug)]
pub struct TestRun {
    /// What is stored as `test.json`. Its `nodes` are the logical names the history uses;
    /// `replay-real` may hold `{schedule}`, replaced by the stored schedule's path.
    pub record: TestRecord,
    pub workloads: WorkloadMix,
    /// The faults the nemesis inflicts (none: no nemesis, unless a schedule is replayed).
    pub faults: Vec<Fault>,
    /// `None`: restatedev/jepsen's cycle (start, `fault_interval`, stop, `fault_interval`);
    /// else episodes of the faults drawn from the seed ([`crate::fault::episodes`]).
    pub fault_timing: Option<FaultTiming>,
    pub options: WorkloadOptions,
    pub fault_options: FaultOptions,
    /// A schedule to replay instead of drawing faults.
    pub schedule: Option<Schedule>,
    /// How long the checkers may take before the verdict is unknown.
    pub check_time_limit: Option<Duration>,
}

impl TestRun {
    /// Whether a nemesis runs (a fault, or a schedule to replay).
    pub fn with_nemesis(&self) -> bool {
        !self.faults.is_empty() || self.schedule.is_some()
    }

    /// The part of the run that happens inside the world.
    pub fn workload_run(&self) -> WorkloadRun {
        let mut options = self.options.clone();
        options.with_nemesis = self.with_nemesis();
        WorkloadRun {
            workloads: self.workloads.clone(),
            faults: self.faults.clone(),
            fault_timing: self.fault_timing,
            options,
            fault_options: self.fault_options.clone(),
            schedule: self.schedule.clone(),
            nodes: self.record.nodes.clone(),
        }
    }
}

/// The workload, its schedule and its nemesis, ready to run in a world's executor.
#[derive(Clone, Debug)]
pub struct WorkloadRun {
    pub workloads: WorkloadMix,
    pub faults: Vec<Fault>,
    pub fault_timing: Option<FaultTiming>,
    pub options: WorkloadOptions,
    pub fault_options: FaultOptions,
    pub schedule: Option<Schedule>,
    pub nodes: Vec<String>,
}

impl WorkloadRun {
    /// Runs the workload on `rt` through `transport`, faults through `effector`, every op
    /// handed to `sink` as it is recorded. Client ops and faults use the logical node names.
    pub async fn run<R: Runtime>(
        self,
        rt: R,
        transport: Rc<dyn Transport>,
        effector: Rc<dyn FaultEffector>,
        sink: &mut dyn FnMut(&Op),
    ) -> Result<History, InterpretError> {
        let info = TestInfo {
            nodes: self.nodes.clone(),
            concurrency: self.options.concurrency,
        };
        let first = self.faults.first().copied().unwrap_or(Fault::None);
        let (gen, nemesis): (_, Box<dyn Nemesis>) = match &self.schedule {
            Some(replayed) => (
                replay_schedule(&self.workloads, &self.options, replayed),
                Box::new(FaultNemesis::scripted(first, replayed, effector)),
            ),
            None if self.options.with_nemesis => {
                let gen = match &self.fault_timing {
                    None => schedule(&self.workloads, &self.options),
                    Some(timing) => {
                        let ops = episode_ops(
                            &self.faults,
                            timing,
                            self.options.time_limit,
                            &mut *rt.rng("fault-episodes").borrow_mut(),
                        );
                        schedule_with_nemesis_ops(
                            &self.workloads,
                            &self.options,
                            episodes_gen(&ops),
                        )
                    }
                };
                let nemesis = FaultNemesis::planned(
                    self.faults.clone(),
                    self.nodes.clone(),
                    self.fault_options.clone(),
                    rt.rng("nemesis"),
                    effector,
                );
                (gen, Box::new(nemesis))
            }
            None => (
                schedule(&self.workloads, &self.options),
                Box::new(NoopNemesis),
            ),
        };
        let client = self.workloads.client(transport, rt.rng("workload"));
        run(
            rt,
            &info,
            &InterpreterOptions::default(),
            client,
            nemesis,
            gen,
            sink,
        )
        .await
    }
}

/// When a run is kept in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// From the start, the history streamed as it is recorded.
    Always,
    /// Only when the verdict is not valid (written after the check).
    UnlessValid,
}

/// How a run ended without a verdict.
#[derive(Debug)]
pub enum RunError {
    /// The nodes or the options are wrong (a node unreachable, a file missing): exit 254.
    BadInput(String),
    /// The cluster could not be set up or the run broke: exit 255.
    Crashed(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::BadInput(m) | RunError::Crashed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for RunError {}

/// What a world's [`World::execute`] hands back.
pub struct Executed {
    pub history: History,
    /// Problems of the cleanup (healing, logs, teardown), reported but not fatal.
    pub cleanup_errors: Vec<String>,
}

/// Receives every op as it is recorded.
pub type Sink = Box<dyn FnMut(&Op) + Send>;

/// A world: the simulation or a real cluster.
pub trait World {
    /// Sets the database up, runs `workload` (with [`WorkloadRun::run`]) in this world's
    /// runtime, transport and fault effector, handing each op to `sink`; then, whatever
    /// happened, heals every fault, collects the nodes' logs into `logs` (a kept run's
    /// folder) and tears the database down.
    fn execute(
        &mut self,
        workload: WorkloadRun,
        sink: Sink,
        log: &RunLog,
        logs: Option<&Path>,
    ) -> Result<Executed, RunError>;

    /// Writes this world's extra files into a kept run's folder (e.g. a model trace).
    fn keep_extras(&mut self, _run_dir: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// What a finished run found.
pub struct RunOutcome {
    pub result: CheckResult,
    pub history: History,
    /// The store folder, when the run was kept.
    pub run_dir: Option<PathBuf>,
    pub cleanup_errors: Vec<String>,
}

/// The run's log: `jepsen.log` in the store (when kept from the start) and tracing.
#[derive(Clone)]
pub struct RunLog {
    file: Option<Arc<Mutex<std::fs::File>>>,
    start: Instant,
}

impl RunLog {
    /// A log written to `path` and to tracing.
    pub fn to_file(path: &Path) -> RunLog {
        RunLog {
            file: std::fs::File::create(path)
                .ok()
                .map(|f| Arc::new(Mutex::new(f))),
            start: Instant::now(),
        }
    }

    /// A log to tracing only, at debug level (simulation iterations).
    pub fn quiet() -> RunLog {
        RunLog {
            file: None,
            start: Instant::now(),
        }
    }

    pub fn line(&self, message: &str) {
        match &self.file {
            Some(file) => {
                tracing::info!("{message}");
                let line = format!("[{:8.3}] {message}", self.start.elapsed().as_secs_f64());
                let _ = writeln!(file.lock().unwrap_or_else(|e| e.into_inner()), "{line}");
            }
            None => tracing::debug!("{message}"),
        }
    }
}

/// The history as it is recorded: streamed to the store's writer, if any, and to the
/// caller's `on_op`; the first write error is kept.
struct Recording {
    writer: Option<HistoryWriter>,
    error: Option<io::Error>,
    on_op: Box<dyn FnMut(&Op) + Send>,
}

fn store_error(root: &Path) -> impl Fn(io::Error) -> RunError + '_ {
    move |e| RunError::BadInput(format!("{}: cannot write the store: {e}", root.display()))
}

/// Runs `test` in `world`, keeping it in the store under `store_root` as `keep` says;
/// `on_op` sees every op as it is recorded (for progress).
pub fn run_test(
    test: &TestRun,
    world: &mut dyn World,
    keep: Keep,
    store_root: &Path,
    on_op: Box<dyn FnMut(&Op) + Send>,
) -> Result<RunOutcome, RunError> {
    let io_error = store_error(store_root);
    let mut record = test.record.clone();
    let (mut run_dir, log) = if keep == Keep::Always {
        let run = Store::create(store_root, &record.name, SystemTime::now()).map_err(&io_error)?;
        let log = RunLog::to_file(&run.log_path());
        fill_in_schedule_path(&mut record, &run);
        run.write_test(&record.to_value()).map_err(&io_error)?;
        log.line(&format!(
            "test {} on {} (store {})",
            record.name,
            record.nodes.join(", "),
            run.path().display()
        ));
        (Some(run), log)
    } else {
        (None, RunLog::quiet())
    };
    let writer = match &run_dir {
        Some(run) => Some(run.history_writer().map_err(&io_error)?),
        None => None,
    };
    let recording = Arc::new(Mutex::new(Recording {
        writer,
        error: None,
        on_op,
    }));
    let sink: Sink = {
        let recording = recording.clone();
        Box::new(move |op| {
            let mut r = recording.lock().unwrap_or_else(|e| e.into_inner());
            let r = &mut *r;
            if let (Some(w), None) = (r.writer.as_mut(), &r.error) {
                if let Err(e) = w.record(op) {
                    r.error = Some(e);
                }
            }
            (r.on_op)(op);
        })
    };
    log.line(&format!(
        "running {} with nemesis {}{} for {} s (+{} s after the final heal)",
        test.workloads,
        faults_name(&test.faults),
        if test.schedule.is_some() {
            " (replaying a schedule)"
        } else {
            ""
        },
        test.options.time_limit.as_secs_f64(),
        if test.with_nemesis() {
            test.options.heal_time.as_secs_f64()
        } else {
            0.0
        }
    ));
    let executed = world.execute(
        test.workload_run(),
        sink,
        &log,
        run_dir.as_ref().map(RunDir::path),
    );
    let Recording { writer, error, .. } = match Arc::try_unwrap(recording) {
        Ok(cell) => cell.into_inner().unwrap_or_else(|e| e.into_inner()),
        Err(_) => {
            return Err(RunError::Crashed(
                "the world kept the history's sink".into(),
            ))
        }
    };
    if let Some(w) = writer {
        let _ = w.finish();
    }
    if let Some(e) = error {
        return Err(io_error(e));
    }
    let Executed {
        history,
        cleanup_errors,
    } = executed?;
    log.line(&format!(
        "workload done; checking {} ops",
        history.ops.len()
    ));

    let result = check(test, &history).map_err(RunError::Crashed)?;
    if run_dir.is_none() && result.valid != Validity::Valid {
        let run = Store::create(store_root, &record.name, SystemTime::now()).map_err(&io_error)?;
        fill_in_schedule_path(&mut record, &run);
        run.write_test(&record.to_value()).map_err(&io_error)?;
        let mut writer = run.history_writer().map_err(&io_error)?;
        for op in &history.ops {
            writer.record(op).map_err(&io_error)?;
        }
        writer.finish().map_err(&io_error)?;
        run_dir = Some(run);
    }
    if let Some(run) = &run_dir {
        run.write_history_edn(&history).map_err(&io_error)?;
        run.write_results(&result).map_err(&io_error)?;
        let time_limit = Some(test.options.time_limit);
        let schedule = Schedule::from_history(&history, &record.nodes, time_limit);
        std::fs::write(run.path().join(SCHEDULE_JSON), schedule.to_json()).map_err(&io_error)?;
        world.keep_extras(run.path()).map_err(&io_error)?;
        match crate::report::write_report(run.path()) {
            Ok(path) => log.line(&format!("report: {}", path.display())),
            Err(e) => log.line(&format!("the report could not be written: {e}")),
        }
    }
    log.line(&format!("verdict: {}", result.valid.name()));
    Ok(RunOutcome {
        result,
        history,
        run_dir: run_dir.map(|r| r.path().to_path_buf()),
        cleanup_errors,
    })
}

/// Judges `history` with the test's checkers (as recorded), on its nodes.
pub fn check(test: &TestRun, history: &History) -> Result<CheckResult, String> {
    let checker = registry::build(&test.record.checkers)?;
    Ok(checker.check(
        history,
        &CheckOptions {
            time_limit: test.check_time_limit,
            nodes: test.record.nodes.clone(),
        },
    ))
}

/// `{schedule}` in the record's real-cluster replay command becomes the run's schedule.
fn fill_in_schedule_path(record: &mut TestRecord, run: &RunDir) {
    if let Some(command) = &mut record.replay_real {
        let path = run.path().join(SCHEDULE_JSON);
        *command = command.replace("{schedule}", &path.display().to_string());
    }
}
