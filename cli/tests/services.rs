//! The SDK services (`services/dist/services.js`) on a real Restate server, end to end:
//! `cluster up --nodes 1` makes one namespace node with sshd; over SSH restate-server 1.7.12
//! and the services (node) are started on it, inside the namespace; the deployment is
//! registered through the admin API from the host; then, with the workloads' transport
//! ([`HttpTransport`]), the `Set` and `Register` objects must answer as the workload clients
//! expect (`cas` on a mismatch: 412). The durable `Set` keeps an acknowledged add across a
//! `kill -9` of the services process; the broken variant (`SERVICES_VARIANT=broken`) loses
//! it. Finally `cluster down` must leave no namespace and no process behind.
//!
//! restate-server calls out at every start, so it only ever runs inside the node's
//! namespace, which has no default route (checked before it starts).
//!
//! Needs root, openssh-server, node, the npm packages in `.tools/npm` and the bundle in
//! `services/dist` (scripts/test.sh installs and builds them); without them the test fails
//! and says what is missing.

use jepsen_core::workload::transport::{
    Request, Response, Transport, TransportError, ADMIN_PORT, INGRESS_PORT,
};
use jepsen_real::http_transport::HttpTransport;
use jepsen_real::tokio_runtime::TokioRuntime;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;

use common::{cluster_up_on_free_subnet, npm_binary, repository, ssh_ok, text, ClusterGuard};

const SERVICES_PORT: u16 = 9080;

fn restate_server() -> PathBuf {
    npm_binary("restate-server", "restate-server")
}

fn services_bundle() -> PathBuf {
    repository().join("services/dist/services.js")
}

/// The `node` on the host's PATH (the node's SSH session may have another PATH).
fn node_program() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("node"))
            .find(|candidate| candidate.is_file())
    })
}

/// Why this machine cannot run the test, if it cannot.
fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(String::from));
    if uid.as_deref() != Some("0") {
        return Some("not root".into());
    }
    for needed in [
        PathBuf::from("/usr/sbin/sshd"),
        PathBuf::from("/usr/bin/ssh"),
        restate_server(),
        services_bundle(),
    ] {
        if !needed.exists() {
            return Some(format!("{} is missing", needed.display()));
        }
    }
    if node_program().is_none() {
        return Some("node is not on the PATH".into());
    }
    None
}

fn listening(ip: &str, port: u16) -> bool {
    let address: SocketAddr = format!("{ip}:{port}").parse().unwrap();
    TcpStream::connect_timeout(&address, Duration::from_millis(300)).is_ok()
}

/// A one-node Restate: replicated metadata on itself, replication 1, and the node's own
/// address advertised for the fabric, the ingress and the admin API.
fn restate_config(cluster: &str, ip: &str, dir: &Path) -> String {
    format!(
        r#"cluster-name = "{cluster}"
node-name = "n1"
force-node-id = 1
advertised-address = "http://{ip}:5122"
auto-provision = true
base-dir = "{base}"
roles = ["admin", "metadata-server", "worker", "log-server", "http-ingress"]
default-replication = 1
default-num-partitions = 2
log-disable-ansi-codes = true

[metadata-server]
type = "replicated"

[metadata-client]
type = "replicated"
addresses = ["http://{ip}:5122"]

[bifrost]
default-provider = "replicated"

[ingress]
advertised-ingress-endpoint = "http://{ip}:8080/"

[admin]
advertised-admin-endpoint = "http://{ip}:9070/"
"#,
        base = dir.join("restate-data").display(),
    )
}

/// The node's services process: started and killed over SSH, inside the namespace.
struct Services<'a> {
    key: &'a Path,
    ip: &'a str,
    node_dir: PathBuf,
}

impl Services<'_> {
    fn pid_file(&self) -> PathBuf {
        self.node_dir.join("services.pid")
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.node_dir.join("services.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Starts `node services.js` with the variant, and waits until it listens; the time
    /// that took.
    fn start(&self, variant: &str) -> Duration {
        let started = Instant::now();
        ssh_ok(
            self.key,
            self.ip,
            &format!(
                "cd {dir}; SERVICES_VARIANT={variant} PORT={SERVICES_PORT} nohup {node} {bundle} >> {dir}/services.log 2>&1 < /dev/null & echo $! > {pid}",
                dir = self.node_dir.display(),
                node = node_program().unwrap().display(),
                bundle = services_bundle().display(),
                pid = self.pid_file().display(),
            ),
        );
        while !listening(self.ip, SERVICES_PORT) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the services ({variant}) never listened:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        started.elapsed()
    }

    /// `kill -9` of the services process; waits until it is gone from the node.
    fn kill(&self) {
        let pid = std::fs::read_to_string(self.pid_file()).unwrap();
        let pid = pid.trim();
        ssh_ok(self.key, self.ip, &format!("kill -9 {pid}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while listening(self.ip, SERVICES_PORT)
            || ssh_ok(self.key, self.ip, "ps -e -o comm=")
                .lines()
                .any(|c| c.trim() == "node")
        {
            assert!(Instant::now() < deadline, "the killed services live on");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Requests to the node through the workloads' transport.
struct Node {
    rt: TokioRuntime,
    transport: HttpTransport,
}

impl Node {
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        self.rt.run(self.transport.send("n1", request))
    }

    /// Sends `request` until it answers `status` (Restate may still be starting, or
    /// retrying its call to a restarted services process), at most 60 s.
    fn until(&self, request: Request, status: u16) -> Response {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let last = self.send(request.clone());
            match &last {
                Ok(r) if r.status == status => return r.clone(),
                _ if Instant::now() >= deadline => panic!(
                    "{} {} never answered {status}; last: {}",
                    request.method,
                    request.path,
                    describe(&last)
                ),
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// One call to a handler on the ingress; its response, whatever the status.
    fn call(&self, method: &'static str, path: &str, body: Option<serde_json::Value>) -> Response {
        let request = Request::new(method, INGRESS_PORT, path);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = self.send(request);
        match response {
            Ok(r) => r,
            Err(e) => panic!("{method} {path}: {e:?}"),
        }
    }

    fn call_ok(
        &self,
        method: &'static str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Option<serde_json::Value> {
        let response = self.call(method, path, body);
        assert_eq!(
            response.status,
            200,
            "{method} {path}: {}",
            describe(&Ok(response.clone()))
        );
        response.body_json()
    }
}

fn describe(response: &Result<Response, TransportError>) -> String {
    match response {
        Ok(r) => format!("{} {}", r.status, text(&r.body)),
        Err(e) => format!("{e:?}"),
    }
}

#[test]
fn the_services_answer_the_workloads_on_a_real_restate_and_only_the_broken_set_loses_adds() {
    if let Some(why) = missing_prerequisite() {
        panic!("the services test cannot run: {why} (run scripts/test.sh as root: it installs and builds what the test needs)");
    }
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("cluster");
    let dir_text = dir.to_string_lossy().into_owned();
    // A subnet of its own (10.78.x, apart from the cluster test's 10.77.x).
    let (up, octet) = cluster_up_on_free_subnet(&dir, 1, 78);
    let prefix = format!("rj78-{octet}");
    let guard = ClusterGuard { dir: dir.clone() };
    assert!(
        up.status.success(),
        "cluster up failed: {}",
        text(&up.stderr)
    );
    let key = dir.join("id_ed25519");
    let ip = std::fs::read_to_string(dir.join("nodes.txt"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(ip, format!("10.78.{octet}.11"));
    let default_route = ssh_ok(&key, &ip, "ip route show default");
    assert!(
        default_route.trim().is_empty(),
        "n1 has a default route: {default_route}"
    );

    // restate-server on the node.
    let node_dir = dir.join("n1");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let cluster_name = format!("services-{}-{nanos}", std::process::id());
    std::fs::write(
        node_dir.join("restate.toml"),
        restate_config(&cluster_name, &ip, &node_dir),
    )
    .unwrap();
    let server_started = Instant::now();
    ssh_ok(
        &key,
        &ip,
        &format!(
            "cd {dir}; DO_NOT_TRACK=true nohup {server} --config-file {dir}/restate.toml >> {dir}/restate.log 2>&1 < /dev/null &",
            dir = node_dir.display(),
            server = restate_server().display(),
        ),
    );
    let rt = TokioRuntime::new(1);
    let hosts = BTreeMap::from([("n1".to_string(), ip.clone())]);
    let node = Node {
        rt,
        transport: HttpTransport::with_default_timeouts(hosts).unwrap(),
    };
    node.until(Request::new("GET", ADMIN_PORT, "/health"), 200);
    let server_ready = server_started.elapsed();

    // The services, durable variant, and their registration from the host.
    let services = Services {
        key: &key,
        ip: &ip,
        node_dir: node_dir.clone(),
    };
    let services_start = services.start("durable");
    let registration_started = Instant::now();
    let registration = Request::new("POST", ADMIN_PORT, "/deployments")
        .json(&json!({ "uri": format!("http://{ip}:{SERVICES_PORT}") }));
    let registered = node.until(registration, 201);
    let registration_took = registration_started.elapsed();
    let manifest = registered.body_json().unwrap_or_default();
    let mut names: Vec<&str> = manifest["services"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    names.sort();
    assert_eq!(names, ["Register", "Set"], "{manifest}");
    // The ingress learns of the deployment shortly after: the first call may answer 404.
    let first_call_started = Instant::now();
    let empty = node.until(Request::new("POST", INGRESS_PORT, "/Set/s/get"), 200);
    let first_call_after = first_call_started.elapsed();
    assert_eq!(empty.body_json(), Some(json!([])));

    // Set: add appends once; get returns the array.
    node.call_ok("POST", "/Set/s/add", Some(json!(1)));
    node.call_ok("POST", "/Set/s/add", Some(json!(2)));
    node.call_ok("POST", "/Set/s/add", Some(json!(1)));
    assert_eq!(
        node.call_ok("POST", "/Set/s/get", None),
        Some(json!([1, 2]))
    );
    assert_eq!(
        node.call_ok("POST", "/Set/other/get", None),
        Some(json!([]))
    );

    // Register: set, cas that matches, cas that does not (412), get (GET, as the workload).
    assert_eq!(
        node.call_ok("GET", "/Register/r/get", None),
        Some(json!(null))
    );
    node.call_ok("POST", "/Register/r/set", Some(json!(3)));
    node.call_ok(
        "POST",
        "/Register/r/cas",
        Some(json!({"expected": 3, "newValue": 4})),
    );
    let mismatch = node.call(
        "POST",
        "/Register/r/cas",
        Some(json!({"expected": 3, "newValue": 5})),
    );
    assert_eq!(mismatch.status, 412, "{}", text(&mismatch.body));
    assert_eq!(node.call_ok("GET", "/Register/r/get", None), Some(json!(4)));
    node.call_ok("POST", "/Register/r/clear", None);
    assert_eq!(
        node.call_ok("GET", "/Register/r/get", None),
        Some(json!(null))
    );

    // Durable: an acknowledged add survives a kill -9 of the services process.
    node.call_ok("POST", "/Set/durable/add", Some(json!(7)));
    services.kill();
    let restart = services.start("durable");
    let kept = node.until(Request::new("POST", INGRESS_PORT, "/Set/durable/get"), 200);
    assert_eq!(kept.body_json(), Some(json!([7])));

    // Broken: the same deployment served from process memory; the add is acknowledged and
    // read back, then lost with the process.
    services.kill();
    services.start("broken");
    node.until(Request::new("POST", INGRESS_PORT, "/Set/broken/get"), 200);
    node.call_ok("POST", "/Set/broken/add", Some(json!(9)));
    assert_eq!(
        node.call_ok("POST", "/Set/broken/get", None),
        Some(json!([9]))
    );
    services.kill();
    services.start("broken");
    let lost = node.until(Request::new("POST", INGRESS_PORT, "/Set/broken/get"), 200);
    assert_eq!(
        lost.body_json(),
        Some(json!([])),
        "the broken variant kept an add across a kill"
    );
    // It does not read Restate state: the element the durable variant stored there is
    // invisible to it.
    assert_eq!(
        node.call_ok("POST", "/Set/durable/get", None),
        Some(json!([])),
        "the broken variant reads Restate state"
    );

    eprintln!(
        "restate-server admin /health after {:.2} s; services listening after {:.3} s (restart {:.3} s); deployment registered in {:.3} s; first ingress call ok {:.3} s later",
        server_ready.as_secs_f64(),
        services_start.as_secs_f64(),
        restart.as_secs_f64(),
        registration_took.as_secs_f64(),
        first_call_after.as_secs_f64(),
    );

    let down = guard.down();
    assert!(
        down.status.success(),
        "cluster down failed: {}",
        text(&down.stderr)
    );
    let namespaces = text(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    );
    assert!(
        !namespaces.contains(&prefix),
        "namespaces left: {namespaces}"
    );
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = text(&cmdline).replace('\0', " ");
            assert!(!cmdline.contains(&dir_text), "process left: {cmdline}");
        }
    }
}
