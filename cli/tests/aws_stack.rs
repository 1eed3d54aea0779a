//! The AWS CDK app in `aws/` (the EC2 cluster for `real --nodes-file aws/nodes.txt`), checked
//! offline: `cdk synth` runs with no AWS credentials and no network (a fresh HOME, no AWS
//! variables, the instance metadata service disabled, CDK's notices, version check and
//! telemetry off, and as root in a network namespace with no network at all), under a time
//! limit so that a synth waiting on the network fails instead of hanging. The template is then read as JSON and its resources checked: N t3.small
//! Debian nodes with 16 GiB disks, one security group open between the nodes and to the
//! given CIDR only, an ED25519 key pair, the outputs `aws/scripts/write-nodes.ts` reads.
//! That script is run too, against a stack-outputs file and a stand-in `aws` command.
//!
//! Needs node and `aws/node_modules` (scripts/test.sh installs it with `npm ci`); without
//! them the tests fail and say so.

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{repository, text};

const STACK: &str = "jepsen-test-cluster";
/// Far above a normal synth (about 20 s here); reached only if something waits on the network.
const SYNTH_TIME_LIMIT: Duration = Duration::from_secs(300);
const DEBIAN_AMI_PARAMETER: &str = "/aws/service/debian/release/bookworm/latest/amd64";

fn aws_dir() -> PathBuf {
    repository().join("aws")
}

/// A program of `aws/node_modules/.bin`, or a failure that says how to install it.
fn npm_bin(name: &str) -> PathBuf {
    let path = aws_dir().join("node_modules/.bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: install the CDK app's npm packages first (scripts/test.sh does, or \
         `cd aws && npm ci --ignore-scripts`)",
        path.display()
    );
    path
}

/// Whether commands can run in a network namespace of their own (root, `unshare`).
fn can_unshare_network() -> bool {
    Command::new("unshare")
        .args(["--net", "--", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs a command in `aws/` with no AWS credentials or configuration and no phoning home
/// (as root: in a network namespace of its own, which has no network at all); kills it and
/// fails if it outlives [`SYNTH_TIME_LIMIT`].
fn run_offline(program: &Path, args: &[String], home: &Path) -> Output {
    let mut command = if can_unshare_network() {
        let mut command = Command::new("unshare");
        command.args(["--net", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    };
    command.args(args).current_dir(aws_dir());
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") || key.to_string_lossy().starts_with("CDK_") {
            command.env_remove(&key);
        }
    }
    command
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            home.join("no-aws-credentials"),
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("CDK_DISABLE_VERSION_CHECK", "1")
        .env("CDK_DISABLE_CLI_TELEMETRY", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the command starts");
    let started = Instant::now();
    // Drain the pipes on threads, so that a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buffer).ok();
        buffer
    });
    let err_reader = std::thread::spawn(move || {
        let mut buffer = Vec::new();
        std::io::Read::read_to_end(&mut stderr, &mut buffer).ok();
        buffer
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the command") {
            break status;
        }
        if started.elapsed() > SYNTH_TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`{} {}` did not finish in {:?}: is it waiting on the network?",
                program.display(),
                args.join(" "),
                SYNTH_TIME_LIMIT
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// What one `cdk synth` gave: the template and the CLI's messages.
struct Synth {
    template: Value,
    stderr: String,
    out_dir: tempfile::TempDir,
}

fn synth_args(context: &[(&str, &str)], out_dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "synth",
        "--no-notices",
        "--no-version-reporting",
        "--quiet",
        "--output",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(out_dir.to_string_lossy().into_owned());
    for (key, value) in [("stack-name", STACK)].iter().chain(context) {
        args.push("--context".into());
        args.push(format!("{key}={value}"));
    }
    args
}

fn synth(context: &[(&str, &str)]) -> Synth {
    let cdk = npm_bin("cdk");
    let out_dir = tempfile::tempdir().expect("temp dir");
    let home = tempfile::tempdir().expect("temp dir");
    let out = run_offline(&cdk, &synth_args(context, out_dir.path()), home.path());
    assert!(
        out.status.success(),
        "cdk synth {context:?} failed ({}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    let file = out_dir.path().join(format!("{STACK}.template.json"));
    let template = serde_json::from_str(
        &std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
    )
    .expect("the template is JSON");
    Synth {
        template,
        stderr: text(&out.stderr),
        out_dir,
    }
}

/// A failing synth's messages.
fn synth_failure(context: &[(&str, &str)]) -> String {
    let cdk = npm_bin("cdk");
    let out_dir = tempfile::tempdir().expect("temp dir");
    let home = tempfile::tempdir().expect("temp dir");
    let out = run_offline(&cdk, &synth_args(context, out_dir.path()), home.path());
    assert!(
        !out.status.success(),
        "cdk synth {context:?} should have failed"
    );
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// (logical id, properties) of every resource of a type, in template order.
fn resources<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str(), &r["Properties"]))
        .collect()
}

fn get_att(id: &str, attribute: &str) -> Value {
    serde_json::json!({ "Fn::GetAtt": [id, attribute] })
}

fn reference(id: &str) -> Value {
    serde_json::json!({ "Ref": id })
}

/// Every ingress rule: those inline in the security groups and the separate ones.
fn ingress_rules(template: &Value) -> Vec<Value> {
    let mut rules = Vec::new();
    for (id, group) in resources(template, "AWS::EC2::SecurityGroup") {
        for rule in group["SecurityGroupIngress"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let mut rule = rule.clone();
            rule["GroupId"] = get_att(id, "GroupId");
            rules.push(rule);
        }
    }
    for (_, rule) in resources(template, "AWS::EC2::SecurityGroupIngress") {
        rules.push(rule.clone());
    }
    rules
}

fn is_open_to_the_world(rule: &Value) -> bool {
    rule["CidrIp"] == "0.0.0.0/0" || rule["CidrIpv6"] == "::/0"
}

/// The checks that hold for any node count and source CIDR.
fn assert_cluster(synth: &Synth, nodes: usize, source_cidrs: &[&str]) {
    let t = &synth.template;

    // Nodes: t3.small, Debian bookworm amd64 AMI from the SSM parameter, 16 GiB gp3 root.
    let instances = resources(t, "AWS::EC2::Instance");
    assert_eq!(instances.len(), nodes, "instances: {instances:?}");
    let (key_pair_id, key_pair) = {
        let pairs = resources(t, "AWS::EC2::KeyPair");
        assert_eq!(pairs.len(), 1, "one key pair: {pairs:?}");
        pairs[0]
    };
    assert_eq!(
        key_pair["KeyType"], "ed25519",
        "russh (no RSA feature) reads ED25519 keys"
    );
    let groups = resources(t, "AWS::EC2::SecurityGroup");
    assert_eq!(groups.len(), 1, "one security group: {groups:?}");
    let group_id = groups[0].0;
    let mut hostnames = BTreeSet::new();
    for (id, instance) in &instances {
        assert_eq!(instance["InstanceType"], "t3.small", "{id}");
        let devices = instance["BlockDeviceMappings"].as_array().expect("disks");
        assert_eq!(devices.len(), 1, "{id}: {devices:?}");
        assert_eq!(devices[0]["DeviceName"], "/dev/xvda", "{id}");
        assert_eq!(devices[0]["Ebs"]["VolumeSize"], 16, "{id}: 16 GiB");
        assert_eq!(devices[0]["Ebs"]["VolumeType"], "gp3", "{id}");
        assert_eq!(instance["KeyName"], reference(key_pair_id), "{id}");
        let image = instance["ImageId"]["Ref"].as_str().expect("AMI parameter");
        let parameter = &t["Parameters"][image];
        assert_eq!(
            parameter["Type"],
            "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"
        );
        assert_eq!(parameter["Default"], DEBIAN_AMI_PARAMETER);
        let interface = &instance["NetworkInterfaces"][0];
        assert_eq!(interface["AssociatePublicIpAddress"], true, "{id}");
        assert_eq!(
            interface["GroupSet"],
            serde_json::json!([get_att(group_id, "GroupId")]),
            "{id}: only the nodes' security group"
        );
        let user_data = instance["UserData"]["Fn::Base64"]
            .as_str()
            .expect("user data as text");
        for package in ["podman", "podman-docker", "nodejs", "iptables", "jq"] {
            assert!(
                user_data.split_whitespace().any(|word| word == package),
                "{id}: user data installs {package}:\n{user_data}"
            );
        }
        let hostname = user_data
            .lines()
            .find_map(|l| l.strip_prefix("hostnamectl set-hostname "))
            .expect("user data sets the hostname");
        hostnames.insert(hostname.to_string());
    }
    let expected: BTreeSet<String> = (1..=nodes).map(|n| format!("n{n}")).collect();
    assert_eq!(hostnames, expected);

    // The network: DNS hostnames on (nodes.txt holds public DNS names that resolve to the
    // private addresses inside the VPC), a public subnet with an internet gateway route.
    let vpcs = resources(t, "AWS::EC2::VPC");
    assert_eq!(vpcs.len(), 1);
    assert_eq!(vpcs[0].1["EnableDnsHostnames"], true);
    assert_eq!(vpcs[0].1["EnableDnsSupport"], true);
    assert_eq!(resources(t, "AWS::EC2::InternetGateway").len(), 1);
    assert!(resources(t, "AWS::EC2::Route")
        .iter()
        .any(|(_, r)| r["DestinationCidrBlock"] == "0.0.0.0/0" && r["GatewayId"].is_object()));
    assert!(
        resources(t, "AWS::EC2::NatGateway").is_empty(),
        "no NAT gateway"
    );

    // Security group: all traffic between the nodes; from outside only the given CIDRs.
    let rules = ingress_rules(t);
    let world: Vec<&Value> = rules.iter().filter(|r| is_open_to_the_world(r)).collect();
    assert!(world.is_empty(), "ingress open to the world: {world:?}");
    let group = get_att(group_id, "GroupId");
    assert!(
        rules.iter().any(|r| r["GroupId"] == group
            && r["SourceSecurityGroupId"] == group
            && r["IpProtocol"] == "-1"),
        "the nodes are open to each other: {rules:?}"
    );
    let cidrs: BTreeSet<&str> = rules
        .iter()
        .filter_map(|r| r["CidrIp"].as_str().or(r["CidrIpv6"].as_str()))
        .collect();
    assert_eq!(cidrs, source_cidrs.iter().copied().collect::<BTreeSet<_>>());
    for rule in rules.iter().filter(|r| r["CidrIp"].is_string()) {
        assert_eq!(
            rule["IpProtocol"], "-1",
            "all ports to the operator: {rule}"
        );
    }

    // Outputs that scripts/write-nodes.ts reads.
    let outputs = t["Outputs"].as_object().expect("Outputs");
    for n in 1..=nodes {
        // The instance of node n is the one that names itself nN.
        let (instance, _) = instances
            .iter()
            .find(|(_, i)| {
                i["UserData"]["Fn::Base64"]
                    .as_str()
                    .is_some_and(|u| u.contains(&format!("set-hostname n{n}\n")))
            })
            .copied()
            .unwrap_or_else(|| panic!("no instance is n{n}"));
        for (key, attribute) in [
            ("PublicDnsName", "PublicDnsName"),
            ("PublicIp", "PublicIp"),
            ("PrivateIp", "PrivateIp"),
        ] {
            assert_eq!(
                outputs[&format!("Node{n}{key}")]["Value"],
                get_att(instance, attribute),
                "output Node{n}{key}"
            );
        }
        assert_eq!(
            outputs[&format!("Node{n}InstanceId")]["Value"],
            reference(instance)
        );
    }
    assert!(!outputs.contains_key(&format!("Node{}PublicDnsName", nodes + 1)));
    assert_eq!(outputs["NodeCount"]["Value"], nodes.to_string());
    assert_eq!(outputs["SshUser"]["Value"], "admin");
    assert_eq!(outputs["Region"]["Value"], reference("AWS::Region"));
    assert_eq!(
        outputs["PrivateKeyParameterName"]["Value"],
        serde_json::json!({ "Fn::Join": ["", ["/ec2/keypair/", get_att(key_pair_id, "KeyPairId")]] })
    );

    // Deployable without `cdk bootstrap`: no bootstrap version check, no assets.
    assert!(
        t["Parameters"].get("BootstrapVersion").is_none(),
        "needs no bootstrap"
    );
    assert!(
        resources(t, "AWS::Lambda::Function").is_empty(),
        "no Lambda"
    );
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(synth.out_dir.path().join("manifest.json")).expect("manifest"),
    )
    .expect("manifest JSON");
    let asset_manifests: Vec<&String> = manifest["artifacts"]
        .as_object()
        .expect("artifacts")
        .iter()
        .filter(|(_, a)| a["type"] == "cdk:asset-manifest")
        .map(|(id, _)| id)
        .collect();
    assert!(asset_manifests.is_empty(), "assets: {asset_manifests:?}");
}

#[test]
fn aws_stack_synthesizes_offline_with_three_closed_nodes_by_default() {
    let synth = synth(&[]);
    assert_cluster(&synth, 3, &[]);
    assert!(
        synth.stderr.contains("no allow-source-cidr given"),
        "a warning says the nodes are closed to the operator:\n{}",
        synth.stderr
    );
}

#[test]
fn aws_stack_takes_the_node_count_and_source_cidr_from_context() {
    let synth = synth(&[("nodes", "5"), ("allow-source-cidr", "203.0.113.7/32")]);
    assert_cluster(&synth, 5, &["203.0.113.7/32"]);
    assert!(!synth.stderr.contains("no allow-source-cidr given"));
}

#[test]
fn aws_stack_rejects_a_bad_node_count_or_cidr() {
    let failure = synth_failure(&[("nodes", "0")]);
    assert!(failure.contains("nodes '0'"), "{failure}");
    let failure = synth_failure(&[("allow-source-cidr", "203.0.113.7")]);
    assert!(
        failure.contains("allow-source-cidr '203.0.113.7'"),
        "{failure}"
    );
}

#[test]
fn aws_app_typechecks() {
    let tsc = npm_bin("tsc");
    let home = tempfile::tempdir().expect("temp dir");
    let out = run_offline(&tsc, &["--noEmit".to_string()], home.path());
    assert!(
        out.status.success(),
        "tsc --noEmit in aws/ failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn write_nodes_writes_the_nodes_file_and_the_private_key() {
    let tsx = npm_bin("tsx");
    let dir = tempfile::tempdir().expect("temp dir");
    let nodes = 11; // n10 and n11 must come after n9
    let mut outputs = serde_json::Map::new();
    // In the outputs file's (alphabetic) order, not the nodes' order.
    for n in (1..=nodes).rev() {
        outputs.insert(
            format!("Node{n}PublicDnsName"),
            format!("ec2-n{n}.example").into(),
        );
        outputs.insert(format!("Node{n}PublicIp"), format!("198.51.100.{n}").into());
    }
    outputs.insert("NodeCount".into(), nodes.to_string().into());
    outputs.insert("Region".into(), "eu-central-1".into());
    outputs.insert("SshUser".into(), "admin".into());
    outputs.insert(
        "PrivateKeyParameterName".into(),
        "/ec2/keypair/key-0123".into(),
    );
    let outputs_file = dir.path().join("cdk-outputs.json");
    std::fs::write(
        &outputs_file,
        serde_json::json!({ STACK: outputs }).to_string(),
    )
    .unwrap();

    // A stand-in `aws` that records its arguments and prints a key, first on PATH.
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let aws_log = dir.path().join("aws-args");
    let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----";
    std::fs::write(
        bin.join("aws"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nprintf '%s\\n' '{}'\n",
            aws_log.display(),
            key.replace('\n', "' '")
        ),
    )
    .unwrap();
    std::fs::set_permissions(bin.join("aws"), Permissions::from_mode(0o755)).unwrap();
    let out_dir = dir.path().join("out");
    // A key file left from an earlier cluster, readable by all: it must end up 600.
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::write(out_dir.join("private-key.pem"), "old").unwrap();
    std::fs::set_permissions(
        out_dir.join("private-key.pem"),
        Permissions::from_mode(0o644),
    )
    .unwrap();

    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new(&tsx)
        .arg("scripts/write-nodes.ts")
        .arg("--outputs")
        .arg(&outputs_file)
        .arg("--out-dir")
        .arg(&out_dir)
        .arg("--no-wait")
        .current_dir(aws_dir())
        .env("PATH", path)
        .output()
        .expect("tsx runs");
    assert!(
        out.status.success(),
        "write-nodes failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    let nodes_file = std::fs::read_to_string(out_dir.join("nodes.txt")).unwrap();
    let expected: String = (1..=nodes).map(|n| format!("ec2-n{n}.example\n")).collect();
    assert_eq!(nodes_file, expected);
    let key_file = out_dir.join("private-key.pem");
    assert_eq!(
        std::fs::read_to_string(&key_file).unwrap(),
        format!("{key}\n")
    );
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "private-key.pem is 600");
    let aws_args = std::fs::read_to_string(&aws_log).unwrap();
    let aws_args: Vec<&str> = aws_args.lines().collect();
    assert_eq!(
        aws_args,
        [
            "ssm",
            "get-parameter",
            "--region",
            "eu-central-1",
            "--name",
            "/ec2/keypair/key-0123",
            "--with-decryption",
            "--query",
            "Parameter.Value",
            "--output",
            "text"
        ]
    );

    // A stack without the outputs: one clear message, a failure.
    std::fs::write(&outputs_file, serde_json::json!({ STACK: {} }).to_string()).unwrap();
    let out = Command::new(&tsx)
        .arg("scripts/write-nodes.ts")
        .arg("--outputs")
        .arg(&outputs_file)
        .arg("--out-dir")
        .arg(&out_dir)
        .arg("--no-wait")
        .current_dir(aws_dir())
        .output()
        .expect("tsx runs");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("the stack outputs have no NodeCount"),
        "{}",
        text(&out.stderr)
    );
}
