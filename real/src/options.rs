//! The `real` command's options, as Jepsen's and restatedev/jepsen's flags, and how they
//! become a test ([`TestRun`]) and a world ([`RealWorld`]): nodes, SSH, the server's
//! source, the workload, the fault or a schedule to replay. Bad input is a one-line error
//! naming the flag and the fix.

use crate::db::config::ClusterConfig;
use crate::db::{DbSpec, ServerSource};
use crate::nemesis::logical_name;
use crate::remote::{HostKeyCheck, LocalRemote, Remote, SshAuth, SshConfig, SshRemote};
use crate::test_run::{MetadataClient, RealWorld};
use clap::Args;
use jepsen_core::fault::{faults_name, FaultOptions};
use jepsen_core::history::Value;
use jepsen_core::test_args::{TestArgs, TestChoice, TestDefaults};
use jepsen_core::test_record::TestRecord;
use jepsen_core::test_run::TestRun;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The version in the npm package.json beside a binary at `<package>/bin/restate-server`.
fn npm_version(binary: &Path) -> Option<String> {
    let package = binary.parent()?.parent()?.join("package.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(package).ok()?).ok()?;
    json.get("version")?.as_str().map(str::to_string)
}

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
    /// The workload (required), the fault (default none) or a schedule, rates and times.
    #[command(flatten)]
    pub test: TestArgs,
    /// How many times to run the test.
    #[arg(long, default_value_t = 1)]
    pub test_count: u32,
    #[arg(long)]
    pub leave_db_running: bool,
    #[arg(long, default_value_t = 1)]
    pub num_partitions: u32,
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
}

pub fn nodes_of(args: &RealArgs) -> Result<Vec<String>, String> {
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
            format!(
                "--nodes-file {}: {e}; give a file with one node address per line (`cluster up` writes one)",
                file.display()
            )
        })?;
        nodes.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    if nodes.is_empty() {
        return Err(
            "no nodes: give --nodes-file FILE, --nodes a,b,c or --node ADDRESS".to_string(),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for node in &nodes {
        if !seen.insert(node) {
            return Err(format!("node {node} is given twice"));
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
) -> Result<PathBuf, String> {
    let path = given
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(default));
    if path.is_file() {
        Ok(path.canonicalize().unwrap_or(path))
    } else {
        Err(format!("{flag} {}: no such file; {fix}", path.display()))
    }
}

/// With `--no-ssh` restate-server runs on this machine; it calls out to an outside host at
/// every start, so it may only run where there is no default route.
pub fn refuse_default_route() -> Result<(), String> {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let has_default = routes
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().nth(1) == Some("00000000"));
    if has_default {
        return Err("--no-ssh would run restate-server on this machine, which has a default route, and restate-server calls out to an outside host at every start: run inside a network namespace without one (ip netns exec NS restate-jepsen real --no-ssh ...)".to_string());
    }
    Ok(())
}

pub fn remote_of(args: &RealArgs) -> Result<Arc<dyn Remote>, String> {
    if args.no_ssh {
        return Ok(Arc::new(LocalRemote::new()));
    }
    let auth = match (&args.ssh_private_key, &args.password) {
        (Some(key), _) => {
            if !key.is_file() {
                return Err(format!(
                    "--ssh-private-key {}: no such file; give the private key that logs into the nodes",
                    key.display()
                ));
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
                return Err(
                    "no SSH credentials: give --ssh-private-key FILE or --password, or --no-ssh"
                        .to_string(),
                );
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
    let remote = SshRemote::new(config).map_err(|e| e.to_string())?;
    Ok(Arc::new(remote))
}

pub fn test_from(args: &RealArgs, nodes: Vec<String>) -> Result<(TestRun, RealWorld), String> {
    let defaults = TestDefaults {
        workload: None,
        nemesis: Vec::new(),
        fault_timing: None,
        concurrency: 5,
        rate: 10.0,
        time_limit: 60.0,
        heal_time: 10.0,
        fault_interval: 5.0,
        ops_per_key: 100,
    };
    let TestChoice {
        workloads,
        faults,
        fault_timing,
        options,
        schedule,
        schedule_file,
    } = args.test.resolve(nodes.len(), &defaults)?;
    if args.num_partitions == 0 {
        return Err("--num-partitions 0: give at least 1".to_string());
    }
    if args.test_count == 0 {
        return Err("--test-count 0: give at least 1".to_string());
    }
    if args.dedicated_service_nodes != 0 {
        return Err(format!(
            "--dedicated-service-nodes {}: not supported yet; the services run on every node (give 0)",
            args.dedicated_service_nodes
        ));
    }
    if !matches!(args.services_variant.as_str(), "durable" | "broken") {
        return Err(format!(
            "--services-variant {}: give durable or broken",
            args.services_variant
        ));
    }
    let metadata_client = match args.metadata_client.as_str() {
        "restatectl" => MetadataClient::Restatectl,
        "http" => MetadataClient::Http,
        other => {
            return Err(format!(
                "--metadata-client {other}: give restatectl or http"
            ))
        }
    };
    if args.no_ssh && nodes.len() > 1 {
        return Err(format!(
            "--no-ssh runs every node on this machine, and one machine holds one restate-server's ports: give one node, not {}",
            nodes.len()
        ));
    }
    let server = match (&args.image, &args.binary) {
        (Some(_), Some(_)) => {
            return Err(
                "--image and --binary both given: choose one way to run restate-server".to_string(),
            )
        }
        (Some(image), None) => {
            if let Some(tarball) = &args.image_tarball {
                if !tarball.is_file() {
                    return Err(format!(
                        "--image-tarball {}: no such file; give a `docker save` tarball of --image (scripts/build-restate-image.sh makes one)",
                        tarball.display()
                    ));
                }
            }
            if args.no_ssh {
                return Err("--image with --no-ssh would run restate-server with the host's network: use --binary".to_string());
            }
            ServerSource::Image {
                image: image.clone(),
                tarball: args.image_tarball.clone(),
                docker: args.docker_command.clone(),
            }
        }
        (None, binary) => {
            if args.image_tarball.is_some() {
                return Err(
                    "--image-tarball needs --image (the image's name in the tarball)".to_string(),
                );
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
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let cluster = ClusterConfig::new(
        &format!("jepsen-{stamp}"),
        nodes.clone(),
        args.num_partitions,
    );
    let restate_version = match &server {
        ServerSource::Binary(b) => npm_version(b),
        ServerSource::Image { .. } => None,
    };
    let server_name = match &server {
        ServerSource::Binary(b) => b.display().to_string(),
        ServerSource::Image { image, .. } => image.clone(),
    };
    let details = vec![
        (
            "num-partitions".to_string(),
            Value::Int(args.num_partitions as i64),
        ),
        (
            "ops-per-key".to_string(),
            Value::Int(options.ops_per_key as i64),
        ),
        (
            "services-variant".to_string(),
            Value::from(args.services_variant.as_str()),
        ),
        ("server".to_string(), Value::Str(server_name)),
    ];
    let names: Vec<String> = (0..nodes.len()).map(logical_name).collect();
    let record = TestRecord {
        name: format!("{workloads}-{}", faults_name(&faults).replace(',', "+")),
        world: "real".to_string(),
        seed: Some(args.seed),
        workloads: workloads
            .workloads()
            .iter()
            .map(|w| w.name().to_string())
            .collect(),
        nemesis: Some(faults_name(&faults)),
        nodes: names,
        addresses: nodes.clone(),
        concurrency: Some(options.concurrency),
        rate: Some(options.rate),
        time_limit: Some(options.time_limit.as_secs_f64()),
        heal_time: Some(options.heal_time.as_secs_f64()),
        fault_interval: Some(options.fault_interval.as_secs_f64()),
        fault_duration: fault_timing.map(|t| t.duration.as_secs_f64()),
        fault_gap: fault_timing.map(|t| t.gap.as_secs_f64()),
        client_timeout: Some(5.0),
        checkers: workloads.checkers(),
        schedule: schedule_file,
        restate_version,
        extra: details,
        ..TestRecord::default()
    };
    let test = TestRun {
        record,
        workloads,
        faults,
        fault_timing,
        options,
        fault_options: FaultOptions::default(),
        schedule,
        check_time_limit: Some(Duration::from_secs(300)),
    };
    let world = RealWorld {
        remote: remote_of(args)?,
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
    };
    Ok((test, world))
}
