//! A schedule found in the simulation replays on a real cluster: a failing simulated seed
//! (ack-before-replication under kill-random-node) prints the command that replays its
//! fault schedule on a real cluster; that command, pointed at a `cluster up` namespace
//! cluster, runs the same workload against restate-server 1.7.12, and the real run's
//! nemesis performs the simulated run's actions, action for action, each no earlier than
//! the simulation performed it.
//!
//! Needs root, openssh-server, node, the npm packages in `.tools/npm` and the services
//! bundle (scripts/test.sh installs and builds them).

use jepsen_core::fault::{Action, Schedule, SCHEDULE_JSON};
use std::path::Path;
use std::process::Command;

mod common;

use common::{cluster_up_on_free_subnet, repository, text, ClusterGuard, BIN};

/// Every action of the schedule, in order, with the time of the op that performed it.
fn timed_actions(schedule: &Schedule) -> Vec<(i64, Action)> {
    schedule
        .ops
        .iter()
        .flat_map(|o| o.actions.iter().map(move |a| (o.time, a.clone())))
        .collect()
}

/// The value after `flag` in `args`, replaced by `value`.
fn set_flag(args: &mut [String], flag: &str, value: &Path) {
    let at = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("{flag} is not in the printed command: {args:?}"));
    args[at + 1] = value.display().to_string();
}

#[test]
fn a_failing_simulated_seed_replays_its_faults_on_a_namespace_cluster() {
    let scratch = tempfile::tempdir().unwrap();
    let sim_store = scratch.path().join("sim-store");
    let sim = Command::new(BIN)
        .args([
            "sim",
            "--seed",
            "1005",
            "--iterations",
            "1",
            "--workload",
            "register-vo",
            "--nemesis",
            "kill-random-node",
            "--bug",
            "ack-before-replication",
            "--store",
        ])
        .arg(&sim_store)
        .output()
        .unwrap();
    let out = text(&sim.stdout);
    assert_eq!(sim.status.code(), Some(1), "the seed fails: {out}");
    let printed = out
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("replay on a real cluster: cargo run --release -- ")
        })
        .unwrap_or_else(|| panic!("no real-cluster replay printed: {out}"));
    let mut args: Vec<String> = printed.split_whitespace().map(String::from).collect();
    let schedule_at = args.iter().position(|a| a == "--schedule").unwrap() + 1;
    let simulated = Schedule::load(Path::new(&args[schedule_at])).unwrap();
    assert!(
        simulated.actions().any(|a| matches!(a, Action::Kill(_))),
        "the simulated run killed a node: {simulated:?}"
    );

    let dir = scratch.path().join("cluster");
    let (up, _) = cluster_up_on_free_subnet(&dir, 3, 85);
    let _guard = ClusterGuard { dir: dir.clone() };
    assert!(up.status.success(), "cluster up: {}", text(&up.stderr));
    set_flag(&mut args, "--nodes-file", &dir.join("nodes.txt"));
    set_flag(&mut args, "--ssh-private-key", &dir.join("id_ed25519"));
    set_flag(&mut args, "--node-dir", &dir.join("restate"));
    let real_store = scratch.path().join("real-store");
    let real = Command::new(BIN)
        .current_dir(repository())
        .args(&args)
        .arg("--store")
        .arg(&real_store)
        .output()
        .unwrap();
    let stdout = text(&real.stdout);
    let stderr = text(&real.stderr);
    assert!(
        matches!(real.status.code(), Some(0 | 1)),
        "the real replay reached a verdict: {stdout}\n{}",
        &stderr[stderr.len().saturating_sub(4000)..]
    );

    let run = real_store
        .join("register-vo-kill-random-node")
        .join("latest")
        .canonicalize()
        .unwrap();
    let test: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("test.json")).unwrap()).unwrap();
    assert_eq!(test["schedule"], serde_json::json!(args[schedule_at]));
    let replayed = Schedule::load(&run.join(SCHEDULE_JSON)).unwrap();
    let (sim_actions, real_actions) = (timed_actions(&simulated), timed_actions(&replayed));
    let untimed = |v: &[(i64, Action)]| v.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>();
    assert_eq!(
        untimed(&real_actions),
        untimed(&sim_actions),
        "the real nemesis did what the simulated one did"
    );
    let limit = simulated.time_limit.unwrap().as_nanos() as i64;
    for ((sim_at, action), (real_at, _)) in sim_actions.iter().zip(&real_actions) {
        if *sim_at < limit {
            assert!(
                real_at >= sim_at,
                "{action:?} replayed at {real_at} ns, before its offset {sim_at} ns"
            );
        }
    }
}
