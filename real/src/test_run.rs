//! One test against a real Restate cluster, Jepsen's `core/run!`: set the database up on the
//! nodes, run the workload's generator (with restatedev/jepsen's schedule and the named
//! fault) through the core's interpreter on tokio, stream the history to the store, heal,
//! collect every node's logs, tear the database down, and check the history.
//!
//! Whatever happens — an error, a panic, Ctrl-C, SIGTERM — one cleanup runs exactly once:
//! heal every fault, copy the node logs into the store, tear down (unless
//! `--leave-db-running`). The history recorded so far is on disk at every moment.

use crate::db::{DbError, DbSpec, RestateDb};
use crate::heal_on_exit::HealOnExit;
use crate::http_transport::HttpTransport;
use crate::metadata_transport::RestatectlMetadataTransport;
use crate::nemesis::{Healer, RealNemesis};
use crate::remote::Remote;
use crate::tokio_runtime::TokioRuntime;
use jepsen_core::checker::{registry, CheckOptions, CheckResult};
use jepsen_core::fault::Fault;
use jepsen_core::generator::TestInfo;
use jepsen_core::history::{History, Value};
use jepsen_core::interpreter::{run, InterpreterOptions};
use jepsen_core::runtime::{NoopNemesis, Runtime};
use jepsen_core::store::{RunDir, Store};
use jepsen_core::workload::transport::Transport;
use jepsen_core::workload::{schedule, Workload, WorkloadOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How the metadata workloads reach the metadata store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataClient {
    /// `GET`/`PUT /metadata/{key}` on the admin port (servers built with `metadata-api`).
    Http,
    /// `restatectl metadata get/put` on the node (any server).
    Restatectl,
}

/// What one real test runs.
#[derive(Clone, Debug)]
pub struct RealTest {
    pub workload: Workload,
    pub nemesis: Fault,
    pub workload_options: WorkloadOptions,
    pub db: DbSpec,
    pub metadata_client: MetadataClient,
    pub leave_db_running: bool,
    /// Seeds the generator's and the nemesis's choices.
    pub seed: u64,
    /// The store's root folder.
    pub store: PathBuf,
    /// The options as given, kept in test.json.
    pub options: Vec<(Value, Value)>,
}

impl RealTest {
    /// The test's name in the store, Jepsen style: `<workload>-<nemesis>`.
    pub fn name(&self) -> String {
        format!("{}-{}", self.workload, self.nemesis)
    }
}

/// How a run ended without a verdict.
#[derive(Debug)]
pub enum RunError {
    /// The nodes or the options are wrong (a node unreachable, a file missing): exit 254.
    BadInput(String),
    /// The cluster could not be set up or the run broke: exit 255.
    Crashed(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::BadInput(m) | RunError::Crashed(m) => f.write_str(m),
        }
    }
}

/// What a finished run found.
pub struct RunOutcome {
    pub result: CheckResult,
    pub history: History,
    pub run_dir: PathBuf,
    /// Problems of the cleanup (healing, logs, teardown), reported but not fatal.
    pub cleanup_errors: Vec<String>,
}

/// The run's log: `jepsen.log` in the store, and the tracing log (stderr, text or JSON).
#[derive(Clone)]
pub struct RunLog {
    file: Arc<Mutex<Option<std::fs::File>>>,
    start: Instant,
}

impl RunLog {
    fn new(path: &Path) -> RunLog {
        RunLog {
            file: Arc::new(Mutex::new(std::fs::File::create(path).ok())),
            start: Instant::now(),
        }
    }

    pub fn line(&self, message: &str) {
        let line = format!("[{:8.3}] {message}", self.start.elapsed().as_secs_f64());
        tracing::info!("{message}");
        if let Some(file) = self.file.lock().unwrap().as_mut() {
            let _ = writeln!(file, "{line}");
        }
    }
}

/// The cleanup, run once: heal, logs, teardown.
struct Cleanup {
    done: AtomicBool,
    healer: Mutex<Option<Arc<Healer>>>,
    db: Arc<RestateDb>,
    run_dir: PathBuf,
    leave_db_running: bool,
    log: RunLog,
    errors: Mutex<Vec<String>>,
}

impl Cleanup {
    /// Heals, collects logs and tears down, on a thread and runtime of its own (so it can
    /// run from a signal handler's thread, a drop, or beside another runtime). Only the
    /// first call acts.
    fn run(self: &Arc<Self>) -> Result<(), String> {
        if self.done.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let this = self.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot build a runtime to clean up: {e}"))?;
            rt.block_on(this.clean())
        })
        .join()
        .unwrap_or_else(|_| Err("the cleanup panicked".to_string()))
    }

    async fn clean(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        let healer = self.healer.lock().unwrap().clone();
        if let Some(healer) = healer {
            if let Err(e) = healer.heal().await {
                errors.push(format!("healing: {e}"));
            }
        }
        let run_dir = self.run_dir.clone();
        let failures = self
            .db
            .collect_logs(&|node| {
                let dir = run_dir.join(node);
                std::fs::create_dir_all(&dir).ok().map(|_| dir)
            })
            .await;
        errors.extend(
            failures
                .into_iter()
                .map(|f| format!("collecting logs: {f}")),
        );
        self.log.line("node logs collected");
        if self.leave_db_running {
            self.log
                .line("leaving the database running (--leave-db-running)");
        } else if let Err(e) = self.db.teardown().await {
            errors.push(format!("teardown: {e}"));
        } else {
            self.log.line("database torn down");
        }
        for e in &errors {
            self.log.line(e);
        }
        self.errors.lock().unwrap().extend(errors.iter().cloned());
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// Runs `test` on the nodes through `remote`; `on_op` sees every op as it is recorded
/// (for progress).
pub fn run_test(
    test: &RealTest,
    remote: Arc<dyn Remote>,
    on_op: &mut dyn FnMut(&jepsen_core::history::Op),
) -> Result<RunOutcome, RunError> {
    let nodes = test.db.nodes.clone();
    if nodes.is_empty() {
        return Err(RunError::BadInput(
            "no nodes: give --nodes, --node or --nodes-file".to_string(),
        ));
    }
    let store_error = |e: std::io::Error| {
        RunError::BadInput(format!(
            "{}: cannot write the store: {e}",
            test.store.display()
        ))
    };
    let run = Store::create(&test.store, &test.name(), SystemTime::now()).map_err(store_error)?;
    let log = RunLog::new(&run.log_path());
    write_test_file(&run, test).map_err(store_error)?;
    log.line(&format!(
        "test {} on {} (store {})",
        test.name(),
        nodes.join(", "),
        run.path().display()
    ));

    // Every node must answer before anything is touched.
    let setup_rt = TokioRuntime::new(test.seed);
    let unreachable = setup_rt.run(async {
        let checks = futures::future::join_all(nodes.iter().map(|n| remote.exec(n, "true"))).await;
        checks.into_iter().find_map(Result::err)
    });
    if let Some(e) = unreachable {
        log.line(&e.to_string());
        return Err(RunError::BadInput(e.to_string()));
    }

    let db = Arc::new(RestateDb::new(remote.clone(), test.db.clone()).map_err(RunError::Crashed)?);
    let cleanup = Arc::new(Cleanup {
        done: AtomicBool::new(false),
        healer: Mutex::new(None),
        db: db.clone(),
        run_dir: run.path().to_path_buf(),
        leave_db_running: test.leave_db_running,
        log: log.clone(),
        errors: Mutex::new(Vec::new()),
    });
    let on_exit = cleanup.clone();
    let guard = HealOnExit::new(Arc::new(move || on_exit.run()))
        .map_err(|e| RunError::Crashed(format!("cannot install the signal handlers: {e}")))?;

    log.line("setting up the cluster");
    let setup = setup_rt.run(db.setup(&|m| log.line(m)));
    if let Err(e) = setup {
        log.line(&format!("setup failed: {e}"));
        drop(guard);
        return Err(match e {
            DbError::Remote(e) => RunError::Crashed(format!("setting up the cluster: {e}")),
            DbError::Setup(m) => RunError::Crashed(m),
        });
    }

    let http = HttpTransport::with_default_timeouts(
        nodes.iter().map(|n| (n.clone(), n.clone())).collect(),
    )
    .map_err(RunError::Crashed)?;
    let transport: Rc<dyn Transport> = match test.metadata_client {
        MetadataClient::Restatectl
            if matches!(test.workload, Workload::SetMds | Workload::RegisterMds) =>
        {
            Rc::new(PerNodeRestatectl::new(remote.clone(), &db, http))
        }
        _ => Rc::new(http),
    };

    let rt = TokioRuntime::new(test.seed);
    let mut options = test.workload_options.clone();
    options.with_nemesis = test.nemesis != Fault::None;
    let info = TestInfo {
        nodes: nodes.clone(),
        concurrency: options.concurrency,
    };
    let nemesis: Box<dyn jepsen_core::runtime::Nemesis> = if test.nemesis == Fault::None {
        Box::new(NoopNemesis)
    } else {
        let nemesis = RealNemesis::new(
            test.nemesis,
            nodes.clone(),
            remote.clone(),
            db.control(),
            jepsen_core::runtime::seeded_rng(test.seed, "nemesis"),
        )
        .map_err(RunError::BadInput)?;
        *cleanup.healer.lock().unwrap() = Some(nemesis.healer());
        Box::new(nemesis)
    };
    let client = test.workload.client(transport, rt.rng("workload"));
    let gen = schedule(test.workload, &options);
    let mut writer = run.history_writer().map_err(store_error)?;
    let mut write_error = None;
    log.line(&format!(
        "running {} with nemesis {} for {} s (+{} s after the final heal)",
        test.workload,
        test.nemesis,
        options.time_limit.as_secs(),
        if options.with_nemesis {
            options.heal_time.as_secs()
        } else {
            0
        }
    ));
    let history = rt.run(run_interpreter(
        rt.clone(),
        &info,
        client,
        nemesis,
        gen,
        &mut |op| {
            if write_error.is_none() {
                if let Err(e) = writer.record(op) {
                    write_error = Some(e);
                }
            }
            on_op(op);
        },
    ));
    let _ = writer.finish();
    log.line("workload done");
    cleanup.run().ok();
    drop(guard);
    let cleanup_errors = cleanup.errors.lock().unwrap().clone();
    if let Some(e) = write_error {
        return Err(store_error(e));
    }
    let history = history.map_err(|e| RunError::Crashed(format!("the run failed: {e}")))?;
    run.write_history_edn(&history).map_err(store_error)?;
    log.line(&format!("checking {} ops", history.ops.len()));
    let checker = registry::build(&test.workload.checkers()).map_err(RunError::Crashed)?;
    let result = checker.check(
        &history,
        &CheckOptions {
            time_limit: Some(Duration::from_secs(300)),
            nodes: nodes.clone(),
        },
    );
    run.write_results(&result).map_err(store_error)?;
    match jepsen_core::report::write_report(run.path()) {
        Ok(path) => log.line(&format!("report: {}", path.display())),
        Err(e) => log.line(&format!("the report could not be written: {e}")),
    }
    log.line(&format!("verdict: {:?}", result.valid));
    Ok(RunOutcome {
        result,
        history,
        run_dir: run.path().to_path_buf(),
        cleanup_errors,
    })
}

async fn run_interpreter(
    rt: TokioRuntime,
    info: &TestInfo,
    client: Box<dyn jepsen_core::runtime::Client>,
    nemesis: Box<dyn jepsen_core::runtime::Nemesis>,
    gen: jepsen_core::generator::Gen,
    sink: &mut dyn FnMut(&jepsen_core::history::Op),
) -> Result<History, jepsen_core::interpreter::InterpretError> {
    run(
        rt,
        info,
        &InterpreterOptions::default(),
        client,
        nemesis,
        gen,
        sink,
    )
    .await
}

fn write_test_file(run: &RunDir, test: &RealTest) -> std::io::Result<()> {
    let mut fields = vec![
        (Value::keyword("name"), Value::Str(test.name())),
        (Value::keyword("world"), Value::from("real")),
        (Value::keyword("seed"), Value::Int(test.seed as i64)),
        (
            Value::keyword("workload"),
            Value::from(test.workload.name()),
        ),
        (Value::keyword("nemesis"), Value::from(test.nemesis.name())),
        (
            Value::keyword("nodes"),
            Value::Vec(test.db.nodes.iter().cloned().map(Value::Str).collect()),
        ),
    ];
    fields.extend(test.options.iter().cloned());
    fields.extend(test.workload.checkers().to_fields());
    run.write_test(&Value::Map(fields))
}

/// Metadata requests through the restatectl in each node's own folder.
struct PerNodeRestatectl {
    by_node: std::collections::BTreeMap<String, RestatectlMetadataTransport>,
}

impl PerNodeRestatectl {
    fn new(remote: Arc<dyn Remote>, db: &RestateDb, http: HttpTransport) -> PerNodeRestatectl {
        let by_node = db
            .spec()
            .nodes
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    RestatectlMetadataTransport::new(
                        remote.clone(),
                        &db.restatectl_on(n),
                        http.clone(),
                    ),
                )
            })
            .collect();
        PerNodeRestatectl { by_node }
    }
}

impl Transport for PerNodeRestatectl {
    fn send(
        &self,
        node: &str,
        request: jepsen_core::workload::transport::Request,
    ) -> jepsen_core::runtime::LocalBoxFuture<
        'static,
        Result<
            jepsen_core::workload::transport::Response,
            jepsen_core::workload::transport::TransportError,
        >,
    > {
        match self.by_node.get(node) {
            Some(t) => t.send(node, request),
            None => {
                let node = node.to_string();
                Box::pin(async move {
                    Err(jepsen_core::workload::transport::TransportError::Other(
                        format!("unknown node {node}"),
                    ))
                })
            }
        }
    }
}
