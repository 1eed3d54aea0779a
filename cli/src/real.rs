//! `real`: the workloads against a real Restate cluster over SSH (or `--no-ssh` on this
//! machine), with genuine faults; flags as Jepsen's and restatedev/jepsen's. The work is in
//! `jepsen_real::test_run`; this turns flags into a test, runs it `--test-count` times and
//! maps the outcome to Jepsen's exit codes (0 valid, 1 invalid, 2 unknown, 254 bad input,
//! 255 crash).

use crate::exit::{self, Failure, CRASH};
use crate::progress::RunProgress;
use crate::sim::parse_concurrency;
use clap::Args;
use jepsen_core::checker::Validity;
use jepsen_core::fault::Fault;
use jepsen_core::history::{Op, OpType, Process, Value};
use jepsen_core::workload::{Workload, WorkloadOptions};
use jepsen_real::db::config::ClusterConfig;
use jepsen_real::db::{DbSpec, ServerSource};
use jepsen_real::remote::{HostKeyCheck, LocalRemote, Remote, SshAuth, SshConfig, SshRemote};
use jepsen_real::test_run::{run_test, MetadataClient, RealTest, RunError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where scripts/test.sh puts the npm packages' binaries, from the repository root.
const NPM_SERVER: &str =
    ".tools/npm/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server";
const NPM_RESTATECTL: &str =
    ".tools/npm/node_modules/@restatedev/restatectl-linux-x64/bin/restatectl";

#[derive(Args, Debug, Clone)]
pub struct RealArgs {
    /// Comma-separated node addresses.
    #[arg(long)]
    pub nodes: Option<String>,
    /// A file with one node address per line (`cluster up` and aws/ write one).
    #[arg(long)]
    pub nodes_file: Option<PathBuf>,
    /// A node address (repeatable).
    #[arg(long = "node")]
    pub node: Vec<String>,
    #[arg(long, default_value = "root")]
    pub username: String,
    #[arg(long)]
    pub password: Option<String>,
    #[arg(long)]
    pub ssh_private_key: Option<PathBuf>,
    /// Check the nodes' host keys against ~/.ssh/known_hosts.
    #[arg(long)]
    pub strict_host_key_checking: bool,
    /// Run every node's commands on this machine (one node only).
    #[arg(long)]
    pub no_ssh: bool,
    /// Client threads: N, or Nn for N per node.
    #[arg(long, default_value = "5")]
    pub concurrency: String,
    /// Seconds the workload (and the nemesis) runs.
    #[arg(long, default_value_t = 60)]
    pub time_limit: u64,
    /// Seconds the workload runs after the final heal.
    #[arg(long, default_value_t = 10)]
    pub heal_time: u64,
    /// Seconds between a fault's start and stop, and a stop and the next start.
    #[arg(long, default_value_t = 5)]
    pub fault_interval: u64,
    /// Client ops per second over all threads.
    #[arg(long, default_value_t = 10.0)]
    pub rate: f64,
    /// How many times to run the test.
    #[arg(long, default_value_t = 1)]
    pub test_count: u32,
    #[arg(long)]
    pub leave_db_running: bool,
    /// set-vo, set-mds, register-vo or register-mds.
    #[arg(long)]
    pub workload: String,
    /// none, kill-random-node, pause-random-node, partition-random-node, partition-majority,
    /// partition-minority, partition-halves, partition-bridge, partition-ring, …
    #[arg(long, default_value = "none")]
    pub nemesis: String,
    #[arg(long, default_value_t = 1)]
    pub num_partitions: u32,
    /// Register workloads: ops on each key.
    #[arg(long, default_value_t = 100)]
    pub ops_per_key: u64,
    /// Run Restate from this container image (needs docker or podman-docker on the nodes).
    #[arg(long)]
    pub image: Option<String>,
    /// A tarball of the image, uploaded and loaded on every node once.
    #[arg(long)]
    pub image_tarball: Option<PathBuf>,
    /// The docker command on the nodes (`docker`, podman-docker's too, or `podman`).
    #[arg(long, default_value = "docker")]
    pub docker_command: String,
    /// Run this restate-server binary as a daemon (no Docker needed). The default: the npm
    /// package's binary in .tools/npm, when there.
    #[arg(long)]
    pub binary: Option<PathBuf>,
    /// The restatectl binary put on the nodes (readiness, metadata workloads).
    #[arg(long)]
    pub restatectl: Option<PathBuf>,
    /// The services bundle run on every node.
    #[arg(long, default_value = "services/dist/services.js")]
    pub services: PathBuf,
    /// durable, or broken (keeps the Set in process memory: a kill loses adds).
    #[arg(long, default_value = "durable")]
    pub services_variant: String,
    /// Nodes that run only the services (restatedev/jepsen's flag; 0 here).
    #[arg(long, default_value_t = 0)]
    pub dedicated_service_nodes: u32,
    /// How the metadata workloads reach the metadata store: restatectl (any server) or
    /// http (the /metadata API of servers built with the metadata-api feature).
    #[arg(long, default_value = "restatectl")]
    pub metadata_client: String,
    /// The folder on the nodes where each node gets its own n<i>/ folder.
    #[arg(long, default_value = "/opt/restate-jepsen")]
    pub node_dir: String,
    /// Seeds the generator's and the nemesis's choices.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Seconds the cluster may take to become ready.
    #[arg(long, default_value_t = 120)]
    pub ready_timeout: u64,
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

fn nodes_of(args: &RealArgs) -> Result<Vec<String>, Failure> {
    let mut nodes: Vec<String> = Vec::new();
    if let Some(list) = &args.nodes {
        nodes.extend(
            list.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    }
    nodes.extend(args.node.iter().cloned());
    if let Some(file) = &args.nodes_file {
        let text = std::fs::read_to_string(file).map_err(|e| {
            Failure::bad_input(format!(
                "--nodes-file {}: {e}; give a file with one node address per line (`cluster up` writes one)",
                file.display()
            ))
        })?;
        nodes.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    if nodes.is_empty() {
        return Err(Failure::bad_input(
            "no nodes: give --nodes-file FILE, --nodes a,b,c or --node ADDRESS",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for node in &nodes {
        if !seen.insert(node) {
            return Err(Failure::bad_input(format!("node {node} is given twice")));
        }
    }
    Ok(nodes)
}

/// An existing local file for `flag`: the given one, or the default if it exists.
fn local_file(
    flag: &str,
    given: Option<&Path>,
    default: &str,
    fix: &str,
) -> Result<PathBuf, Failure> {
    let path = given
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(default));
    if path.is_file() {
        Ok(path.canonicalize().unwrap_or(path))
    } else {
        Err(Failure::bad_input(format!(
            "{flag} {}: no such file; {fix}",
            path.display()
        )))
    }
}

/// With `--no-ssh` restate-server runs on this machine; it calls out to an outside host at
/// every start, so it may only run where there is no default route.
fn refuse_default_route() -> Result<(), Failure> {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let has_default = routes
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().nth(1) == Some("00000000"));
    if has_default {
        return Err(Failure::bad_input(
            "--no-ssh would run restate-server on this machine, which has a default route, and restate-server calls out to an outside host at every start: run inside a network namespace without one (ip netns exec NS restate-jepsen real --no-ssh ...)",
        ));
    }
    Ok(())
}

fn remote_of(args: &RealArgs) -> Result<Arc<dyn Remote>, Failure> {
    if args.no_ssh {
        return Ok(Arc::new(LocalRemote::new()));
    }
    let auth = match (&args.ssh_private_key, &args.password) {
        (Some(key), _) => {
            if !key.is_file() {
                return Err(Failure::bad_input(format!(
                    "--ssh-private-key {}: no such file; give the private key that logs into the nodes",
                    key.display()
                )));
            }
            SshAuth::Key(key.clone())
        }
        (None, Some(password)) => SshAuth::Password(password.clone()),
        (None, None) => {
            let default = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".ssh/id_ed25519");
            if !default.is_file() {
                return Err(Failure::bad_input(
                    "no SSH credentials: give --ssh-private-key FILE or --password, or --no-ssh",
                ));
            }
            SshAuth::Key(default)
        }
    };
    let mut config = SshConfig::new(&args.username, auth);
    if args.strict_host_key_checking {
        let known = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".ssh/known_hosts");
        config.host_key_check = HostKeyCheck::KnownHosts(known);
    }
    let remote = SshRemote::new(config).map_err(Failure::bad_input)?;
    Ok(Arc::new(remote))
}

fn test_from(args: &RealArgs, nodes: Vec<String>) -> Result<RealTest, Failure> {
    let workload: Workload = args
        .workload
        .parse()
        .map_err(|e| Failure::bad_input(format!("--workload: {e}")))?;
    let nemesis: Fault = args
        .nemesis
        .parse()
        .map_err(|e| Failure::bad_input(format!("--nemesis: {e}")))?;
    if args.time_limit == 0 {
        return Err(Failure::bad_input(
            "--time-limit 0: give a positive number of seconds",
        ));
    }
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        return Err(Failure::bad_input(format!(
            "--rate {}: give a positive number of ops per second",
            args.rate
        )));
    }
    if args.num_partitions == 0 {
        return Err(Failure::bad_input("--num-partitions 0: give at least 1"));
    }
    if args.test_count == 0 {
        return Err(Failure::bad_input("--test-count 0: give at least 1"));
    }
    if args.dedicated_service_nodes != 0 {
        return Err(Failure::bad_input(format!(
            "--dedicated-service-nodes {}: not supported yet; the services run on every node (give 0)",
            args.dedicated_service_nodes
        )));
    }
    if !matches!(args.services_variant.as_str(), "durable" | "broken") {
        return Err(Failure::bad_input(format!(
            "--services-variant {}: give durable or broken",
            args.services_variant
        )));
    }
    let metadata_client = match args.metadata_client.as_str() {
        "restatectl" => MetadataClient::Restatectl,
        "http" => MetadataClient::Http,
        other => {
            return Err(Failure::bad_input(format!(
                "--metadata-client {other}: give restatectl or http"
            )))
        }
    };
    if args.no_ssh && nodes.len() > 1 {
        return Err(Failure::bad_input(format!(
            "--no-ssh runs every node on this machine, and one machine holds one restate-server's ports: give one node, not {}",
            nodes.len()
        )));
    }
    let server = match (&args.image, &args.binary) {
        (Some(_), Some(_)) => {
            return Err(Failure::bad_input(
                "--image and --binary both given: choose one way to run restate-server",
            ))
        }
        (Some(image), None) => {
            if let Some(tarball) = &args.image_tarball {
                if !tarball.is_file() {
                    return Err(Failure::bad_input(format!(
                        "--image-tarball {}: no such file; give a `docker save` tarball of --image (scripts/build-restate-image.sh makes one)",
                        tarball.display()
                    )));
                }
            }
            if args.no_ssh {
                return Err(Failure::bad_input(
                    "--image with --no-ssh would run restate-server with the host's network: use --binary",
                ));
            }
            ServerSource::Image {
                image: image.clone(),
                tarball: args.image_tarball.clone(),
                docker: args.docker_command.clone(),
            }
        }
        (None, binary) => {
            if args.image_tarball.is_some() {
                return Err(Failure::bad_input(
                    "--image-tarball needs --image (the image's name in the tarball)",
                ));
            }
            ServerSource::Binary(local_file(
                "--binary",
                binary.as_deref(),
                NPM_SERVER,
                "give --binary with a restate-server executable (scripts/test.sh puts one in .tools/npm)",
            )?)
        }
    };
    let restatectl_binary = local_file(
        "--restatectl",
        args.restatectl.as_deref(),
        NPM_RESTATECTL,
        "give --restatectl with a restatectl executable (scripts/test.sh puts one in .tools/npm)",
    )?;
    let services_bundle = local_file(
        "--services",
        Some(&args.services),
        "",
        "build it with `just make-services` (services/dist/services.js)",
    )?;
    let concurrency = parse_concurrency(&args.concurrency, nodes.len())?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let cluster = ClusterConfig::new(
        &format!("jepsen-{stamp}"),
        nodes.clone(),
        args.num_partitions,
    );
    let options = vec![
        (
            Value::keyword("concurrency"),
            Value::Int(concurrency as i64),
        ),
        (Value::keyword("rate"), Value::Float(args.rate)),
        (
            Value::keyword("time-limit"),
            Value::Int(args.time_limit as i64),
        ),
        (
            Value::keyword("heal-time"),
            Value::Int(args.heal_time as i64),
        ),
        (
            Value::keyword("num-partitions"),
            Value::Int(args.num_partitions as i64),
        ),
        (
            Value::keyword("ops-per-key"),
            Value::Int(args.ops_per_key as i64),
        ),
        (
            Value::keyword("services-variant"),
            Value::from(args.services_variant.as_str()),
        ),
        (
            Value::keyword("server"),
            Value::Str(match &server {
                ServerSource::Binary(b) => b.display().to_string(),
                ServerSource::Image { image, .. } => image.clone(),
            }),
        ),
    ];
    Ok(RealTest {
        workload,
        nemesis,
        workload_options: WorkloadOptions {
            concurrency,
            rate: args.rate,
            time_limit: Duration::from_secs(args.time_limit),
            fault_interval: Duration::from_secs(args.fault_interval.max(1)),
            heal_time: Duration::from_secs(args.heal_time),
            ops_per_key: args.ops_per_key,
            threads_per_key: nodes.len().min(concurrency),
            ..WorkloadOptions::default()
        },
        db: DbSpec {
            nodes,
            cluster,
            node_dir: args.node_dir.clone(),
            server,
            restatectl_binary,
            services_bundle,
            services_variant: args.services_variant.clone(),
            node_program: "node".to_string(),
            ready_timeout: Duration::from_secs(args.ready_timeout),
        },
        metadata_client,
        leave_db_running: args.leave_db_running,
        seed: args.seed,
        store: args.store.clone(),
        options,
    })
}

pub fn run(args: RealArgs) -> Result<i32, Failure> {
    let nodes = nodes_of(&args)?;
    let mut test = test_from(&args, nodes)?;
    if args.no_ssh {
        refuse_default_route()?;
    }
    let remote = remote_of(&args)?;
    let mut overall = Validity::Valid;
    for i in 0..args.test_count {
        if args.test_count > 1 {
            eprintln!("test {} of {}", i + 1, args.test_count);
            test.seed = args.seed + i as u64;
        }
        let total = test.workload_options.time_limit
            + if test.nemesis == Fault::None {
                Duration::ZERO
            } else {
                test.workload_options.heal_time
            };
        let mut progress: Option<RunProgress> = None;
        let mut on_op = |op: &Op| {
            let bar = progress.get_or_insert_with(|| RunProgress::new(total));
            match (&op.process, op.kind) {
                (_, OpType::Invoke) => {}
                (Process::Nemesis, _) => match op.f.as_str() {
                    "start" if op.value != Value::Nil => bar.fault(Some(&fault_label(&op.value))),
                    "stop" if op.value != Value::Nil => bar.fault(None),
                    _ => {}
                },
                _ => bar.op_completed(),
            }
        };
        let outcome = run_test(&test, remote.clone(), &mut on_op);
        if let Some(bar) = progress.take() {
            bar.finish();
        }
        let outcome = outcome.map_err(|e| match e {
            RunError::BadInput(m) => Failure::bad_input(m),
            RunError::Crashed(m) => Failure {
                code: CRASH,
                message: m,
            },
        })?;
        let why = crate::check::reason(&outcome.result);
        println!(
            "{}: {}{why}",
            outcome.run_dir.display(),
            crate::check::verdict_name(outcome.result.valid)
        );
        for e in &outcome.cleanup_errors {
            println!("cleanup: {e}");
        }
        if outcome.result.valid == Validity::Valid {
            println!("Everything looks good! ヽ(‘ー`)ノ");
        }
        overall = worse(overall, outcome.result.valid);
    }
    Ok(exit::for_validity(overall))
}

/// What a nemesis `start` did, short: `killed 10.0.0.2`, `isolated n2`, `grudge`, ...
fn fault_label(value: &Value) -> String {
    match value {
        Value::Map(fields) => fields
            .first()
            .map(|(k, v)| {
                let nodes = match v {
                    Value::Vec(items) => items
                        .iter()
                        .map(|i| {
                            i.as_name()
                                .map(String::from)
                                .unwrap_or_else(|| format!("{i:?}"))
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.as_name().map(String::from).unwrap_or_default(),
                };
                format!("{} {nodes}", k.as_name().unwrap_or("fault"))
            })
            .unwrap_or_default(),
        other => other.as_name().map(String::from).unwrap_or_default(),
    }
}

fn worse(a: Validity, b: Validity) -> Validity {
    match (a, b) {
        (Validity::Invalid, _) | (_, Validity::Invalid) => Validity::Invalid,
        (Validity::Unknown, _) | (_, Validity::Unknown) => Validity::Unknown,
        _ => Validity::Valid,
    }
}
