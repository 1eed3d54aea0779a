//! The database under test: a Restate cluster on the nodes, set up and torn down the way
//! restatedev/jepsen does it, plus the SDK services on every node. On each node, in its own
//! folder (`<node-dir>/n<i>/`, so that nodes sharing one file system, as the namespace nodes
//! of `cluster up` do, never collide):
//!
//! ```text
//! bin/restate-server, bin/restatectl   uploaded once, kept across runs (sha256-checked)
//! config.toml                          this node's configuration (see config.rs)
//! restate-data/                        the server's data
//! restate.log, restate.pid             the server daemon
//! services/services.js                 the services bundle, run with node on port 9080
//! services.log, services.pid           the services daemon
//! ```
//!
//! Setup: install on every node, start every server, wait for `/health` on every node, then
//! for every partition to have an active leader (`restatectl partitions list`), then start
//! the services everywhere, register the deployment once, and wait until every node's
//! ingress serves it. A "node" in the nemesis's sense is both processes: killing a node kills
//! its server and its services, as a crash of the machine would.

pub mod config;
mod upload;

use crate::container::{ContainerServer, ContainerSpec, DATA_IN_CONTAINER};
use crate::daemon::{DaemonSpec, PidFileDaemon};
use crate::http_transport::HttpTransport;
use crate::nemesis::DbControl;
use crate::remote::{shell_quote, BoxFuture, Remote, RemoteError};
use config::ClusterConfig;
use futures::future::join_all;
use jepsen_core::workload::transport::{Request, Transport, ADMIN_PORT, INGRESS_PORT};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
pub use upload::upload_cached;

/// The node-to-node port (fabric, metadata, `/health`).
pub const FABRIC_PORT: u16 = 5122;
/// Where the services listen on every node.
pub const SERVICES_PORT: u16 = 9080;

/// What to run and where.
#[derive(Clone, Debug)]
pub struct DbSpec {
    /// The nodes' addresses, as the control machine and the nodes reach each other.
    pub nodes: Vec<String>,
    pub cluster: ClusterConfig,
    /// The folder on the nodes under which each node gets `n<i>/`.
    pub node_dir: String,
    /// How restate-server runs: an uploaded binary, or a container image.
    pub server: ServerSource,
    /// The restatectl binary to upload (readiness, metadata workloads).
    pub restatectl_binary: PathBuf,
    /// The services bundle (`services/dist/services.js`).
    pub services_bundle: PathBuf,
    /// `durable` or `broken` (`SERVICES_VARIANT`).
    pub services_variant: String,
    /// The node program on the nodes.
    pub node_program: String,
    /// How long the cluster may take to become ready.
    pub ready_timeout: Duration,
}

/// How restate-server gets onto the nodes and runs there.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerSource {
    /// `--binary FILE`: uploaded (once) and run as a daemon with a pid file.
    Binary(PathBuf),
    /// `--image IMAGE [--image-tarball FILE]`: run with `docker run --network=host`, the
    /// tarball uploaded and loaded once per node.
    Image {
        image: String,
        tarball: Option<PathBuf>,
        /// The docker command on the nodes.
        docker: String,
    },
}

/// The server on every node, whichever way it runs.
enum Server {
    Daemon(Arc<PidFileDaemon>),
    Container(Arc<ContainerServer>),
}

impl Server {
    fn control(&self) -> Arc<dyn DbControl> {
        match self {
            Server::Daemon(d) => d.clone(),
            Server::Container(c) => c.clone(),
        }
    }

    async fn is_running(&self, node: &str) -> Result<bool, RemoteError> {
        match self {
            Server::Daemon(d) => Ok(d.pid(node).await?.is_some()),
            Server::Container(c) => c.is_running(node).await,
        }
    }
}

/// Why setting the cluster up failed.
#[derive(Debug)]
pub enum DbError {
    Remote(RemoteError),
    /// A node lacks something the test needs, or never became ready.
    Setup(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Remote(e) => e.fmt(f),
            DbError::Setup(m) => f.write_str(m),
        }
    }
}

impl From<RemoteError> for DbError {
    fn from(e: RemoteError) -> DbError {
        DbError::Remote(e)
    }
}

/// The paths on one node.
#[derive(Clone, Debug)]
pub struct NodePaths {
    pub dir: String,
}

impl NodePaths {
    fn file(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }
    pub fn server_binary(&self) -> String {
        self.file("bin/restate-server")
    }
    pub fn restatectl(&self) -> String {
        self.file("bin/restatectl")
    }
    pub fn config(&self) -> String {
        self.file("config.toml")
    }
    pub fn data(&self) -> String {
        self.file("restate-data")
    }
    pub fn server_log(&self) -> String {
        self.file("restate.log")
    }
    pub fn services_bundle(&self) -> String {
        self.file("services/services.js")
    }
    pub fn services_log(&self) -> String {
        self.file("services.log")
    }
}

/// The Restate cluster and its services on the nodes.
pub struct RestateDb {
    remote: Arc<dyn Remote>,
    spec: DbSpec,
    server: Server,
    services: Arc<PidFileDaemon>,
    http: HttpTransport,
    /// Whether setup got as far as starting a server (else there are no server logs).
    server_started: std::sync::atomic::AtomicBool,
}

impl RestateDb {
    pub fn new(remote: Arc<dyn Remote>, spec: DbSpec) -> Result<RestateDb, String> {
        let mut server_specs = BTreeMap::new();
        let mut container_specs = BTreeMap::new();
        let mut services_specs = BTreeMap::new();
        for (i, node) in spec.nodes.iter().enumerate() {
            let paths = paths_of(&spec, i);
            container_specs.insert(node.clone(), ContainerSpec::in_dir(node, &paths.dir));
            server_specs.insert(
                node.clone(),
                DaemonSpec {
                    command: format!(
                        "env DO_NOT_TRACK=true {} --config-file {}",
                        shell_quote(&paths.server_binary()),
                        shell_quote(&paths.config())
                    ),
                    dir: paths.dir.clone(),
                    pid_file: paths.file("restate.pid"),
                    log_file: paths.server_log(),
                },
            );
            services_specs.insert(
                node.clone(),
                DaemonSpec {
                    command: format!(
                        "env SERVICES_VARIANT={} PORT={SERVICES_PORT} {} {}",
                        shell_quote(&spec.services_variant),
                        shell_quote(&spec.node_program),
                        shell_quote(&paths.services_bundle())
                    ),
                    dir: paths.dir.clone(),
                    pid_file: paths.file("services.pid"),
                    log_file: paths.services_log(),
                },
            );
        }
        let hosts = spec.nodes.iter().map(|n| (n.clone(), n.clone())).collect();
        let http = HttpTransport::new(hosts, Duration::from_millis(500), Duration::from_secs(5))?;
        let server = match &spec.server {
            ServerSource::Binary(_) => {
                Server::Daemon(Arc::new(PidFileDaemon::new(remote.clone(), server_specs)))
            }
            ServerSource::Image {
                image,
                tarball,
                docker,
            } => Server::Container(Arc::new(
                ContainerServer::new(
                    remote.clone(),
                    image.clone(),
                    tarball.clone(),
                    container_specs,
                )
                .with_docker(docker.clone()),
            )),
        };
        Ok(RestateDb {
            server,
            services: Arc::new(PidFileDaemon::new(remote.clone(), services_specs)),
            remote,
            spec,
            http,
            server_started: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn spec(&self) -> &DbSpec {
        &self.spec
    }

    /// The paths on `node`.
    pub fn paths(&self, node: &str) -> NodePaths {
        let index = self.spec.nodes.iter().position(|n| n == node).unwrap_or(0);
        paths_of(&self.spec, index)
    }

    /// Where restatectl is on the nodes (the same path on each, under its own folder).
    pub fn restatectl_on(&self, node: &str) -> String {
        self.paths(node).restatectl()
    }

    /// The nemesis's handle on the nodes: kill, start, pause and resume a whole node.
    pub fn control(&self) -> Arc<dyn DbControl> {
        let partition_stores = self
            .spec
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let store = format!(
                    "{}/{}/db",
                    paths_of(&self.spec, i).data(),
                    ClusterConfig::node_name(i)
                );
                (node.clone(), store)
            })
            .collect();
        Arc::new(NodeProcesses {
            server: self.server.control(),
            services: self.services.clone(),
            remote: self.remote.clone(),
            partition_stores,
        })
    }

    /// Everything a node needs: its folder, the binaries (uploaded unless already there),
    /// the services bundle and its config. Fails when the node has no node program.
    async fn install(&self, index: usize) -> Result<(), DbError> {
        let node = &self.spec.nodes[index];
        let paths = paths_of(&self.spec, index);
        let check_node = format!(
            "command -v {} >/dev/null",
            shell_quote(&self.spec.node_program)
        );
        if !self.remote.run(node, &check_node).await?.success() {
            return Err(DbError::Setup(format!(
                "node {node} has no {} program (Node.js) for the services: install nodejs on it",
                self.spec.node_program
            )));
        }
        self.remote
            .sudo(
                node,
                &format!(
                    "mkdir -p {} {} {}",
                    shell_quote(&paths.file("bin")),
                    shell_quote(&paths.file("services")),
                    shell_quote(&paths.data())
                ),
            )
            .await?;
        // The folder belongs to the login user (e.g. `admin` on AWS), so that uploads, which
        // run as that user, can write there; the servers run as root through sudo.
        let user = self
            .remote
            .exec(node, "id -un")
            .await?
            .stdout
            .trim()
            .to_string();
        if !user.is_empty() && user != "root" {
            let chown = format!(
                "chown -R {} {}",
                shell_quote(&user),
                shell_quote(&paths.dir)
            );
            self.remote.sudo(node, &chown).await?;
        }
        let base_dir = match (&self.spec.server, &self.server) {
            (ServerSource::Binary(binary), _) => {
                upload_cached(&*self.remote, node, binary, &paths.server_binary()).await?;
                paths.data()
            }
            (ServerSource::Image { .. }, Server::Container(container)) => {
                container
                    .install(node)
                    .await
                    .map_err(|e| DbError::Setup(e.to_string()))?;
                DATA_IN_CONTAINER.to_string()
            }
            (ServerSource::Image { .. }, Server::Daemon(_)) => unreachable!("built together"),
        };
        upload_cached(
            &*self.remote,
            node,
            &self.spec.restatectl_binary,
            &paths.restatectl(),
        )
        .await?;
        self.remote
            .upload(node, &self.spec.services_bundle, &paths.services_bundle())
            .await?;
        let config = self.spec.cluster.node_config(index, &base_dir);
        self.remote
            .sudo(
                node,
                &format!(
                    "printf '%s' {} > {}",
                    shell_quote(&config),
                    shell_quote(&paths.config())
                ),
            )
            .await?;
        Ok(())
    }

    /// Sets the cluster up and waits until it serves the services on every node; returns
    /// what it did with the time each step took, for the log.
    pub async fn setup(&self, log: &dyn Fn(&str)) -> Result<(), DbError> {
        let started = Instant::now();
        let installs = join_all((0..self.spec.nodes.len()).map(|i| self.install(i))).await;
        installs.into_iter().collect::<Result<Vec<_>, _>>()?;
        log(&format!(
            "installed on every node ({:.1} s)",
            started.elapsed().as_secs_f64()
        ));
        let starts = join_all(self.spec.nodes.iter().map(|n| self.start_server(n))).await;
        starts.into_iter().collect::<Result<Vec<_>, _>>()?;
        let deadline = started + self.spec.ready_timeout;
        for node in &self.spec.nodes {
            self.wait_for(deadline, &format!("{node} to answer /health"), || async {
                let request = Request::new("GET", FABRIC_PORT, "/health");
                matches!(self.http.send(node, request).await, Ok(r) if r.status == 200)
            })
            .await?;
        }
        log(&format!(
            "every node healthy ({:.1} s)",
            started.elapsed().as_secs_f64()
        ));
        self.wait_for(
            deadline,
            "every partition to have an active leader",
            || async { self.partitions_led().await == Some(true) },
        )
        .await?;
        log(&format!(
            "all {} partitions led ({:.1} s)",
            self.spec.cluster.partitions,
            started.elapsed().as_secs_f64()
        ));
        let starts = join_all(self.spec.nodes.iter().map(|n| self.services.start(n))).await;
        starts.into_iter().collect::<Result<Vec<_>, _>>()?;
        for node in &self.spec.nodes {
            self.wait_for(
                deadline,
                &format!("the services on {node} to listen"),
                || async {
                    let address = format!("{node}:{SERVICES_PORT}");
                    matches!(
                        tokio::time::timeout(
                            Duration::from_millis(500),
                            tokio::net::TcpStream::connect(address)
                        )
                        .await,
                        Ok(Ok(_))
                    )
                },
            )
            .await?;
        }
        self.register_deployment(deadline).await?;
        for node in &self.spec.nodes {
            self.wait_for(
                deadline,
                &format!("the ingress of {node} to serve the services"),
                || async {
                    let request = Request::new("POST", INGRESS_PORT, "/Set/jepsen-probe/get");
                    matches!(self.http.send(node, request).await, Ok(r) if r.status == 200)
                },
            )
            .await?;
        }
        log(&format!(
            "services registered and served by every node ({:.1} s)",
            started.elapsed().as_secs_f64()
        ));
        Ok(())
    }

    /// Starts the server on `node` for the first time in this run.
    async fn start_server(&self, node: &str) -> Result<(), DbError> {
        self.server_started
            .store(true, std::sync::atomic::Ordering::SeqCst);
        match &self.server {
            Server::Daemon(d) => d.start(node).await.map_err(DbError::from),
            Server::Container(c) => c.run(node).await.map_err(|e| DbError::Setup(e.to_string())),
        }
    }

    /// Waits until `ready` holds, polling every 200 ms; an error naming `what` at `deadline`.
    async fn wait_for<F, Fut>(&self, deadline: Instant, what: &str, ready: F) -> Result<(), DbError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        loop {
            if ready().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(DbError::Setup(format!(
                    "the cluster was not ready within {} s: still waiting for {what} (see the node logs in the store)",
                    self.spec.ready_timeout.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether `restatectl partitions list` (run on the first node) shows every partition
    /// with an active leader; `None` when it cannot tell.
    pub async fn partitions_led(&self) -> Option<bool> {
        let node = self.spec.nodes.first()?;
        let command = format!(
            "DO_NOT_TRACK=true {} --address {} partitions list 2>&1",
            shell_quote(&self.restatectl_on(node)),
            shell_quote(&format!("http://{node}:{FABRIC_PORT}"))
        );
        let out = self.remote.run(node, &command).await.ok()?;
        if !out.success() {
            return None;
        }
        let led = partitions_with_active_leader(&out.stdout);
        Some(led.len() >= self.spec.cluster.partitions as usize)
    }

    /// Registers the services once, through the first node's admin API. The deployment is
    /// `http://127.0.0.1:9080`: each server calls the services on its own node, so no node's
    /// services are a single point of failure that the faults do not touch.
    async fn register_deployment(&self, deadline: Instant) -> Result<(), DbError> {
        let node = &self.spec.nodes[0];
        let mut last;
        loop {
            let request = Request::new("POST", ADMIN_PORT, "/deployments").json(
                &json!({ "uri": format!("http://127.0.0.1:{SERVICES_PORT}"), "force": true }),
            );
            match self.http.send(node, request).await {
                Ok(r) if (200..300).contains(&r.status) => return Ok(()),
                Ok(r) => last = format!("{} {}", r.status, String::from_utf8_lossy(&r.body)),
                Err(e) => last = format!("{e:?}"),
            }
            if Instant::now() >= deadline {
                return Err(DbError::Setup(format!(
                    "registering the services deployment on {node} failed: {last}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Copies every node's server and services logs (and its config) into the folder
    /// `node_dir(node)` gives, on all nodes at once. Missing logs are skipped; returns what
    /// failed.
    pub async fn collect_logs(&self, node_dir: &dyn Fn(&str) -> Option<PathBuf>) -> Vec<String> {
        let jobs = self.spec.nodes.iter().map(|node| {
            let local = node_dir(node);
            async move {
                let Some(local) = local else {
                    return vec![format!("{node}: no store folder")];
                };
                let paths = self.paths(node);
                let mut failures = Vec::new();
                let started = self
                    .server_started
                    .load(std::sync::atomic::Ordering::SeqCst);
                if let (Server::Container(container), true) = (&self.server, started) {
                    match container.logs(node).await {
                        Ok(log) => {
                            if let Err(e) = std::fs::write(local.join("restate.log"), log) {
                                failures.push(format!("{node}: writing restate.log: {e}"));
                            }
                        }
                        Err(e) => failures.push(e.to_string()),
                    }
                }
                for (remote, name) in [
                    (paths.server_log(), "restate.log"),
                    (paths.services_log(), "services.log"),
                    (paths.config(), "config.toml"),
                ] {
                    let exists = format!("test -f {}", shell_quote(&remote));
                    if !matches!(self.remote.run(node, &exists).await, Ok(o) if o.success()) {
                        continue;
                    }
                    if let Err(e) = self.remote.download(node, &remote, &local.join(name)).await {
                        failures.push(e.to_string());
                    }
                }
                failures
            }
        });
        join_all(jobs).await.into_iter().flatten().collect()
    }

    /// Stops both daemons on every node (all nodes at once) and removes their data and
    /// logs (the uploaded binaries stay, for the next run).
    pub async fn teardown(&self) -> Result<(), DbError> {
        let jobs = self
            .spec
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| async move {
                let paths = paths_of(&self.spec, i);
                let mut errors = Vec::new();
                let mut daemons = vec![&self.services];
                if let Server::Daemon(server) = &self.server {
                    daemons.push(server);
                }
                for daemon in daemons {
                    if daemon.pid(node).await.ok().flatten().is_none() {
                        continue;
                    }
                    // A stopped process is continued first, so it dies and is reaped at once.
                    let _ = daemon.resume(node).await;
                    if let Err(e) = daemon.kill(node).await {
                        errors.push(e.to_string());
                    }
                }
                if let Server::Container(container) = &self.server {
                    let _ = container.resume(node).await;
                    if let Err(e) = container.remove(node).await {
                        errors.push(e.to_string());
                    }
                }
                let remove = format!(
                    "rm -rf {} {} {} {} {}",
                    shell_quote(&paths.data()),
                    shell_quote(&paths.server_log()),
                    shell_quote(&paths.services_log()),
                    shell_quote(&paths.config()),
                    shell_quote(&paths.file("services")),
                );
                if let Err(e) = self.remote.sudo(node, &remove).await {
                    errors.push(e.to_string());
                }
                errors
            });
        let errors: Vec<String> = join_all(jobs).await.into_iter().flatten().collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DbError::Setup(errors.join("; ")))
        }
    }

    /// Whether any daemon of the test still runs on any node.
    pub async fn running(&self) -> Result<Vec<String>, RemoteError> {
        let mut running = Vec::new();
        for node in &self.spec.nodes {
            if self.server.is_running(node).await? {
                running.push(format!("{node}: restate-server"));
            }
            if self.services.pid(node).await?.is_some() {
                running.push(format!("{node}: services"));
            }
        }
        Ok(running)
    }
}

fn paths_of(spec: &DbSpec, index: usize) -> NodePaths {
    NodePaths {
        dir: format!(
            "{}/{}",
            spec.node_dir.trim_end_matches('/'),
            ClusterConfig::node_name(index)
        ),
    }
}

/// The partition ids that `restatectl partitions list` shows with an active leader.
pub fn partitions_with_active_leader(listing: &str) -> std::collections::BTreeSet<u32> {
    listing
        .lines()
        .filter_map(|line| {
            let columns: Vec<&str> = line.split_whitespace().collect();
            match columns.as_slice() {
                [id, _node, "Leader", "Active", ..] => id.parse().ok(),
                _ => None,
            }
        })
        .collect()
}

/// A whole node for the nemesis: its server and its services.
struct NodeProcesses {
    server: Arc<dyn DbControl>,
    services: Arc<PidFileDaemon>,
    remote: Arc<dyn Remote>,
    /// Each node's partition store (`<data>/n<i>/db`).
    partition_stores: BTreeMap<String, String>,
}

impl DbControl for NodeProcesses {
    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            let (a, b) = futures::join!(self.server.kill(node), self.services.kill(node));
            a.and(b)
        })
    }

    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            self.server.start(node).await?;
            self.services.start(node).await
        })
    }

    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            let (a, b) = futures::join!(self.server.pause(node), self.services.pause(node));
            a.and(b)
        })
    }

    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            let (a, b) = futures::join!(self.server.resume(node), self.services.resume(node));
            a.and(b)
        })
    }

    fn can_wipe_partition_store(&self) -> bool {
        true
    }

    /// Moves `<data>/n<i>/db` to `db.nuked-<epoch seconds>` (kept for the post-mortem).
    fn wipe_partition_store<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            let Some(store) = self.partition_stores.get(node) else {
                return Err(RemoteError::Io {
                    node: node.to_string(),
                    message: "no partition store is known for this node".to_string(),
                });
            };
            let command = format!(
                "if [ -d {store} ]; then mv {store} {store}.nuked-$(date +%s%N); fi",
                store = shell_quote(store)
            );
            self.remote.sudo(node, &command).await.map(drop)
        })
    }
}

/// Where a local file for `node` goes in a store run folder.
pub fn node_folder(run: &Path, node: &str) -> PathBuf {
    run.join(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_with_an_active_leader_are_read_from_the_listing() {
        let listing = "Alive partition processors (nodes config v4, partition table v2)\n\
             ID  NODE   MODE      STATUS  EPOCH\n\
             0   N1:1   Leader    Active  e3\n\
             0   N2:1   Follower  Active  e3\n\
             1   N3:1   Leader    Starting e1\n\
             2   N2:1   Leader    Active  e2\n";
        let led: Vec<u32> = partitions_with_active_leader(listing).into_iter().collect();
        assert_eq!(led, vec![0, 2]);
    }
}
