//! Sweeps beyond one process: `sim --shard I/N` slices, merged by `sim summarize`, equal
//! the same seeds run in one process; and the same on a real Slurm cluster (Debian's
//! slurm-wlm, one node on this machine, started by `scripts/slurm-up.sh`), four array
//! tasks of `scripts/slurm-sweep.sbatch` writing into one store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SWEEP: [&str; 6] = [
    "--seed",
    "1000",
    "--iterations",
    "40",
    "--bug",
    "non-exclusive-object",
];

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_restate-jepsen")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sim(args: &[&str], store: &Path) -> Output {
    Command::new(bin())
        .arg("sim")
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .unwrap()
}

fn summarize(store: &Path, flags: &[&str]) -> Output {
    Command::new(bin())
        .args(["sim", "summarize"])
        .arg(store)
        .args(flags)
        .output()
        .unwrap()
}

/// The merged summary as JSON, without what differs between stores: the paths of kept
/// runs (and the real-cluster replays naming them).
fn summary(store: &Path) -> serde_json::Value {
    let o = summarize(store, &["--json"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.code() == Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for f in v["failures"].as_array_mut().unwrap() {
        f.as_object_mut().unwrap().remove("stored");
        f.as_object_mut().unwrap().remove("replay_real");
    }
    v.as_object_mut().unwrap().remove("shards");
    v
}

fn one_process(dir: &Path) -> serde_json::Value {
    let o = sim(&SWEEP, dir);
    assert_eq!(o.status.code(), Some(1), "the bug is found in 40 seeds");
    summary(dir)
}

#[test]
fn four_shards_merge_to_the_summary_of_one_process() {
    let (whole, sharded) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let expected = one_process(whole.path());
    for i in 0..4 {
        let shard = format!("{i}/4");
        let args: Vec<&str> = SWEEP.iter().copied().chain(["--shard", &shard]).collect();
        let o = sim(&args, sharded.path());
        assert!(matches!(o.status.code(), Some(0 | 1)), "shard {shard}");
    }
    let merged = summary(sharded.path());
    assert_eq!(merged, expected);
    assert!(merged["invalid"].as_u64().unwrap() > 0);
    assert_eq!(merged["missing_shards"], serde_json::json!([]));
    // With a shard missing, the summary says so and is not valid.
    std::fs::remove_file(
        std::fs::read_dir(sharded.path().join("sweeps"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
            .join("shard-2-of-4.json"),
    )
    .unwrap();
    let o = summarize(sharded.path(), &[]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("missing: [2]"));
}

#[test]
fn a_slurm_job_array_sweeps_into_one_store_and_merges_to_the_one_process_summary() {
    let up = Command::new("bash")
        .arg(repo().join("scripts/slurm-up.sh"))
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "the one-node Slurm cluster: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    let (whole, shared) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let expected = one_process(whole.path());
    let logs = shared.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let o = Command::new("sbatch")
        .args(["--wait", "--array=0-3"])
        .arg(format!("--output={}/%A_%a.out", logs.display()))
        .arg(repo().join("scripts/slurm-sweep.sbatch"))
        .args(SWEEP)
        .env("RESTATE_JEPSEN", bin())
        .env("STORE", shared.path().join("store"))
        .current_dir(shared.path())
        .output()
        .unwrap();
    let task_logs: Vec<String> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(task_logs.len(), 4, "four array tasks ran: {task_logs:?}");
    // sbatch --wait returns the highest task code: 1, some shard found the bug.
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}{task_logs:?}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        task_logs
            .iter()
            .any(|l| l.contains("(shard 3/4: seeds 1030..1040)")),
        "{task_logs:?}"
    );
    let merged = summary(&shared.path().join("store"));
    assert_eq!(merged, expected);
}
