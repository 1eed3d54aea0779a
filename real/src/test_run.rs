//! The real world of the core's test lifecycle ([`jepsen_core::test_run`]): [`RealWorld`]
//! sets the database up on the nodes, runs the workload on tokio with HTTP clients and the
//! [`RealEffector`]'s genuine faults, and then, whatever happens (an error, a panic,
//! Ctrl-C, SIGTERM), one cleanup runs exactly once: heal every fault, copy the node logs
//! into the store, tear down (unless `--leave-db-running`).
//!
//! The history names nodes logically (`n1` … `nN`, node i of the nodes list); the
//! transport and the effector map those names to the nodes' addresses.

use crate::db::{DbError, DbSpec, RestateDb};
use crate::heal_on_exit::HealOnExit;
use crate::http_transport::HttpTransport;
use crate::metadata_transport::RestatectlMetadataTransport;
use crate::nemesis::RealEffector;
use crate::remote::Remote;
use crate::tokio_runtime::TokioRuntime;
use jepsen_core::fault::FaultEffector;
use jepsen_core::test_run::{Executed, RunError, RunLog, Sink, WorkloadRun, World};
use jepsen_core::workload::transport::{Reply, Transport};
use jepsen_core::workload::Workload;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// How the metadata workloads reach the metadata store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataClient {
    /// `GET`/`PUT /metadata/{key}` on the admin port (servers built with `metadata-api`).
    Http,
    /// `restatectl metadata get/put` on the node (any server).
    Restatectl,
}

/// A real cluster, as a world for the core's lifecycle.
pub struct RealWorld {
    pub remote: Arc<dyn Remote>,
    pub db: DbSpec,
    pub metadata_client: MetadataClient,
    pub leave_db_running: bool,
    /// Seeds the runtime's random streams (the generator's and the nemesis's choices).
    pub seed: u64,
}

/// The cleanup, run once: heal, logs, teardown.
struct Cleanup {
    done: AtomicBool,
    effector: RealEffector,
    db: Arc<RestateDb>,
    logs: Option<PathBuf>,
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
        if let Err(e) = self.effector.heal_for_exit() {
            errors.push(format!("healing: {e}"));
        }
        if let Some(dir) = &self.logs {
            // Each node's logs go to the folder of its logical name.
            let names: BTreeMap<&str, &str> = self
                .effector
                .hosts()
                .iter()
                .map(|(n, a)| (a.as_str(), n.as_str()))
                .collect();
            let failures = self
                .db
                .collect_logs(&|node| {
                    let dir = dir.join(names.get(node).copied().unwrap_or(node));
                    std::fs::create_dir_all(&dir).ok().map(|_| dir)
                })
                .await;
            errors.extend(
                failures
                    .into_iter()
                    .map(|f| format!("collecting logs: {f}")),
            );
            self.log.line("node logs collected");
        }
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

impl World for RealWorld {
    fn execute(
        &mut self,
        workload: WorkloadRun,
        mut sink: Sink,
        log: &RunLog,
        logs: Option<&Path>,
    ) -> Result<Executed, RunError> {
        let nodes = self.db.nodes.clone();
        if nodes.is_empty() {
            return Err(RunError::BadInput(
                "no nodes: give --nodes, --node or --nodes-file".to_string(),
            ));
        }
        let remote = self.remote.clone();
        // Every node must answer before anything is touched.
        let setup_rt = TokioRuntime::new(self.seed);
        let unreachable = setup_rt.run(async {
            let checks =
                futures::future::join_all(nodes.iter().map(|n| remote.exec(n, "true"))).await;
            checks.into_iter().find_map(Result::err)
        });
        if let Some(e) = unreachable {
            log.line(&e.to_string());
            return Err(RunError::BadInput(e.to_string()));
        }

        let db =
            Arc::new(RestateDb::new(remote.clone(), self.db.clone()).map_err(RunError::Crashed)?);
        let effector = RealEffector::new(
            remote.clone(),
            db.control(),
            nodes.clone(),
            !remote.is_local(),
        );
        let refused = match &workload.schedule {
            Some(schedule) => schedule.actions().find_map(|a| effector.refusal(a)),
            None if workload.options.with_nemesis => workload
                .faults
                .iter()
                .find_map(|f| effector.refuse_fault(*f).err()),
            None => None,
        };
        if let Some(why) = refused {
            log.line(&why);
            return Err(RunError::BadInput(why));
        }
        let cleanup = Arc::new(Cleanup {
            done: AtomicBool::new(false),
            effector: effector.clone(),
            db: db.clone(),
            logs: logs.map(Path::to_path_buf),
            leave_db_running: self.leave_db_running,
            log: log.clone(),
            errors: Mutex::new(Vec::new()),
        });
        let on_exit = cleanup.clone();
        let guard = HealOnExit::new(Arc::new(move || on_exit.run()))
            .map_err(|e| RunError::Crashed(format!("cannot install the signal handlers: {e}")))?;

        log.line("setting up the cluster");
        // Whatever an earlier run left (a partition or a netem qdisc of a harness killed
        // with -9) goes first.
        if !remote.is_local() {
            if let Err(e) = setup_rt.run(effector.heal_leftovers()) {
                log.line(&format!("healing what an earlier run left: {e}"));
            }
        }
        if let Err(e) = setup_rt.run(db.setup(&|m| log.line(m))) {
            log.line(&format!("setup failed: {e}"));
            drop(guard);
            return Err(match e {
                DbError::Remote(e) => RunError::Crashed(format!("setting up the cluster: {e}")),
                DbError::Setup(m) => RunError::Crashed(m),
            });
        }

        let hosts = effector.hosts().clone();
        let http =
            HttpTransport::with_default_timeouts(hosts.clone()).map_err(RunError::Crashed)?;
        let transport: Rc<dyn Transport> = match self.metadata_client {
            MetadataClient::Restatectl
                if workload
                    .workloads
                    .workloads()
                    .iter()
                    .any(|w| matches!(w, Workload::SetMds | Workload::RegisterMds)) =>
            {
                // restatectl runs on the node by its address; so do its HTTP fallbacks.
                let by_address = hosts.values().map(|a| (a.clone(), a.clone())).collect();
                let http =
                    HttpTransport::with_default_timeouts(by_address).map_err(RunError::Crashed)?;
                Rc::new(PerNodeRestatectl::new(remote.clone(), &db, &hosts, http))
            }
            _ => Rc::new(http),
        };
        let rt = TokioRuntime::new(self.seed);
        let effector: Rc<dyn FaultEffector> = Rc::new(effector);
        let history = rt.run(workload.run(rt.clone(), transport, effector, &mut *sink));
        log.line("workload done");
        cleanup.run().ok();
        drop(guard);
        let cleanup_errors = cleanup.errors.lock().unwrap().clone();
        let history = history.map_err(|e| RunError::Crashed(format!("the run failed: {e}")))?;
        Ok(Executed {
            history,
            cleanup_errors,
        })
    }
}

/// Metadata requests through the restatectl in each node's own folder.
struct PerNodeRestatectl {
    /// Logical name -> (address, its transport).
    by_node: BTreeMap<String, (String, RestatectlMetadataTransport)>,
}

impl PerNodeRestatectl {
    /// `hosts`: each logical node name and its address.
    fn new(
        remote: Arc<dyn Remote>,
        db: &RestateDb,
        hosts: &BTreeMap<String, String>,
        http: HttpTransport,
    ) -> PerNodeRestatectl {
        let by_node = hosts
            .iter()
            .map(|(name, address)| {
                let transport = RestatectlMetadataTransport::new(
                    remote.clone(),
                    &db.restatectl_on(address),
                    http.clone(),
                );
                (name.clone(), (address.clone(), transport))
            })
            .collect();
        PerNodeRestatectl { by_node }
    }
}

impl Transport for PerNodeRestatectl {
    fn send(&self, node: &str, request: jepsen_core::workload::transport::Request) -> Reply {
        match self.by_node.get(node) {
            Some((address, t)) => t.send(address, request),
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
