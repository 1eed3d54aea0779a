//! `sim` from the outside: the default run is valid, an injected bug is found and its
//! printed replay command reproduces the same history byte for byte, seeds are
//! deterministic under every fault, the regression seeds keep their verdicts, and bad
//! input is one line with exit 254.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sim(args: &[&str], store: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_restate-jepsen"))
        .arg("sim")
        .args(args)
        .arg("--store")
        .arg(store)
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stored_histories(store: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for test in std::fs::read_dir(store).into_iter().flatten().flatten() {
        if test.file_name() == "latest" {
            continue;
        }
        for run in std::fs::read_dir(test.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let history = run.path().join("history.jsonl");
            if run.file_name() != "latest" && history.exists() {
                found.push(history);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_default_run_is_valid() {
    let store = tempfile::tempdir().unwrap();
    let o = sim(&["--seed", "42", "--iterations", "30"], store.path());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout(&o).contains("30 valid, 0 invalid, 0 unknown"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn a_thousand_iterations_of_every_workload_are_valid_without_a_bug() {
    let store = tempfile::tempdir().unwrap();
    for workload in ["set-vo", "set-mds", "register-vo", "register-mds"] {
        let o = sim(
            &[
                "--seed",
                "42",
                "--iterations",
                "1000",
                "--workload",
                workload,
            ],
            store.path(),
        );
        assert_eq!(
            o.status.code(),
            Some(0),
            "{workload}: {}{}",
            stdout(&o),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            stdout(&o).contains("1000 valid, 0 invalid, 0 unknown"),
            "{workload}: {}",
            stdout(&o)
        );
    }
}

#[test]
fn an_injected_bug_is_found_and_its_replay_reproduces_the_history_exactly() {
    let store = tempfile::tempdir().unwrap();
    let o = sim(
        &[
            "--seed",
            "1",
            "--iterations",
            "60",
            "--bug",
            "metadata-cas-without-quorum",
        ],
        store.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    let replay = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: cargo run --release -- sim "))
        .expect("a replay command is printed")
        .to_string();
    let args: Vec<&str> = replay.split_whitespace().collect();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for dir in [&a, &b] {
        let o = sim(&args, dir.path());
        assert_eq!(
            o.status.code(),
            Some(1),
            "the replay fails again: {}",
            stdout(&o)
        );
    }
    let (ha, hb) = (stored_histories(a.path()), stored_histories(b.path()));
    assert_eq!(
        (ha.len(), hb.len()),
        (1, 1),
        "a replay keeps its run in the store"
    );
    let (ta, tb) = (
        std::fs::read(&ha[0]).unwrap(),
        std::fs::read(&hb[0]).unwrap(),
    );
    assert!(!ta.is_empty());
    assert_eq!(
        ta, tb,
        "two replays of a seed write byte-identical histories"
    );
}

#[test]
fn every_fault_replays_deterministically() {
    let store = tempfile::tempdir().unwrap();
    for fault in [
        "none",
        "partition-random-node",
        "partition-random-halves",
        "partition-majorities-ring",
        "partition-bridge",
        "partition-one-way",
        "kill-random-node",
        "pause-random-node",
        "packet-loss",
        "latency-spike",
    ] {
        for workload in ["register-mds", "set-mds", "register-vo", "set-vo"] {
            let o = sim(
                &[
                    "--seed",
                    "3",
                    "--iterations",
                    "2",
                    "--check-determinism",
                    "--nemesis",
                    fault,
                    "--workload",
                    workload,
                ],
                store.path(),
            );
            assert!(
                !stdout(&o).contains("not deterministic"),
                "{workload} under {fault}: {}",
                stdout(&o)
            );
            assert_ne!(
                o.status.code(),
                Some(254),
                "{fault}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

#[test]
fn regression_seeds_keep_their_verdicts() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds/regressions.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut cases = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let args: Vec<&str> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let expected = match case["expect"].as_str().unwrap() {
            "valid" => 0,
            "invalid" => 1,
            "unknown" => 2,
            other => panic!("bad expectation {other}"),
        };
        let store = tempfile::tempdir().unwrap();
        let o = sim(&args, store.path());
        assert_eq!(
            o.status.code(),
            Some(expected),
            "{}: {}",
            case["name"],
            stdout(&o)
        );
        cases += 1;
    }
    assert!(cases >= 3);
}

#[test]
fn bad_input_is_one_line_and_254() {
    let store = tempfile::tempdir().unwrap();
    for (args, says) in [
        (vec!["--workload", "tree"], "--workload"),
        (vec!["--nemesis", "meteor"], "--nemesis"),
        (vec!["--bug", "gremlin"], "--bug"),
        (vec!["--concurrency", "x"], "--concurrency"),
        (vec!["--iterations", "0"], "--iterations"),
        (
            vec![
                "--workload",
                "set-vo",
                "--nemesis",
                "none",
                "--heal-time",
                "0.5",
            ],
            "--heal-time",
        ),
        (vec!["--shard", "4/4"], "--shard"),
        (vec!["--nodes", "1"], "--nodes"),
        (vec!["--replication", "0"], "--replication"),
        (
            vec!["--nemesis", "kill-random-node,kill-random-node"],
            "--nemesis",
        ),
    ] {
        let o = sim(&args, store.path());
        assert_eq!(o.status.code(), Some(254), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{says} not in {err}");
    }
    let o = sim(&["--list-bugs"], store.path());
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("metadata-cas-without-quorum"));
}

#[test]
fn a_replay_writes_the_model_trace_and_a_bug_gives_no_hint() {
    let store = tempfile::tempdir().unwrap();
    let o = sim(
        &[
            "--seed",
            "1000",
            "--iterations",
            "1",
            "--bug",
            "no-fencing",
            "--workload",
            "register-vo",
            "--nemesis",
            "pause-random-node",
        ],
        store.path(),
    );
    let out = stdout(&o);
    assert!(out.contains("register-vo under pause-random-node"), "{out}");
    let histories = stored_histories(store.path());
    assert_eq!(histories.len(), 1, "{out}");
    let trace = std::fs::read_to_string(histories[0].with_file_name("model-trace.log"))
        .expect("a replay writes model-trace.log");
    for event in [
        "metadata: became the Raft leader",
        "partition: claimed epoch 1",
        "stored on 2 log servers",
        "acked Register/",
        "nemesis pause n",
    ] {
        assert!(trace.contains(event), "{event} not in the trace");
    }
    // A bug alone only switches the defect on: the seeds draw their configurations.
    let o = sim(
        &["--seed", "1000", "--iterations", "3", "--bug", "no-fencing"],
        store.path(),
    );
    assert!(stdout(&o).contains("3 swarm iterations"), "{}", stdout(&o));
}

/// A swarm failure prints its configuration; the seed alone and the configuration's
/// flags both replay it byte for byte.
#[test]
fn a_swarm_failure_replays_from_its_seed_and_from_its_configuration() {
    let first = tempfile::tempdir().unwrap();
    let o = sim(
        &[
            "--seed",
            "1001",
            "--iterations",
            "1",
            "--bug",
            "non-exclusive-object",
        ],
        first.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    let line = |prefix: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} line: {out}"))
            .to_string()
    };
    let configuration = line("configuration: ");
    assert!(configuration.contains("--workload ") && configuration.contains("--nemesis "));
    assert_eq!(
        line("replay: cargo run --release -- sim "),
        "--seed 1001 --iterations 1 --bug non-exclusive-object"
    );
    let again = tempfile::tempdir().unwrap();
    let args: Vec<&str> = ["--seed", "1001", "--iterations", "1"]
        .into_iter()
        .chain(configuration.split_whitespace())
        .collect();
    let o = sim(&args, again.path());
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let (a, b) = (
        stored_histories(first.path()),
        stored_histories(again.path()),
    );
    assert_eq!(
        std::fs::read(&a[0]).unwrap(),
        std::fs::read(&b[0]).unwrap(),
        "the configuration pins the seed's test exactly"
    );
    let test: serde_json::Value =
        serde_json::from_slice(&std::fs::read(a[0].with_file_name("test.json")).unwrap()).unwrap();
    assert_eq!(test["configuration"].as_str(), Some(configuration.as_str()));
    assert_eq!(test["swarm"], serde_json::Value::Bool(true));
}

/// `--shrink` keeps a smaller failing run, prints its sizes and replay commands, and the
/// shrunk replay fails again.
#[test]
fn a_failure_shrinks_and_its_shrunk_replay_still_fails() {
    let store = tempfile::tempdir().unwrap();
    let o = sim(
        &[
            "--seed",
            "1016",
            "--iterations",
            "1",
            "--bug",
            "no-fencing",
            "--shrink",
        ],
        store.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    let sizes = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("shrunk in "))
        .unwrap_or_else(|| panic!("no sizes: {out}"));
    let ops = |side: &str| -> usize {
        let words: Vec<&str> = side.split_whitespace().collect();
        let at = words.iter().position(|w| *w == "client").unwrap();
        words[at - 1].parse().unwrap()
    };
    let (before, after) = sizes.split_once(" -> ").unwrap();
    assert!(ops(after) * 2 < ops(before), "{sizes}");
    assert!(out.contains("shrunk replay on a real cluster: "), "{out}");
    let replay = out
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("shrunk replay: cargo run --release -- sim ")
        })
        .unwrap();
    assert!(replay.contains("--schedule "), "{replay}");
    let again = tempfile::tempdir().unwrap();
    let args: Vec<&str> = replay.split_whitespace().collect();
    let o = sim(&args, again.path());
    assert_eq!(
        o.status.code(),
        Some(1),
        "the shrunk run fails: {}",
        stdout(&o)
    );
}

#[test]
fn list_bugs_shows_the_whole_catalogue_one_line_each() {
    let store = tempfile::tempdir().unwrap();
    let o = sim(&["--list-bugs"], store.path());
    let out = stdout(&o);
    let names = [
        "metadata-cas-without-quorum",
        "ack-before-replication",
        "stale-follower-read",
        "no-fencing",
        "non-exclusive-object",
        "duplicate-on-retry",
    ];
    assert_eq!(out.lines().count(), names.len(), "{out}");
    for name in names {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} not in {out}"
        );
    }
}

/// `sim --schedule` replays another seed's faults: the same actions, in the same order, at
/// the same offsets, although the seed (and so the workload's choices) differs.
#[test]
fn a_schedule_replays_its_faults_under_another_seed() {
    use jepsen_core::fault::{Schedule, SCHEDULE_JSON};
    let store = tempfile::tempdir().unwrap();
    let first = store.path().join("first");
    let args = [
        "--iterations",
        "1",
        "--workload",
        "set-vo",
        "--nemesis",
        "partition-random-halves",
        "--nodes",
        "5",
    ];
    let o = sim(&[&["--seed", "3"][..], &args].concat(), &first);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let recorded = stored_histories(&first)[0].with_file_name(SCHEDULE_JSON);
    let original = Schedule::load(&recorded).unwrap();
    assert!(original.actions().count() >= 4, "{original:?}");

    let second = store.path().join("second");
    let file = recorded.to_string_lossy().into_owned();
    let o = sim(
        &[&["--seed", "4", "--schedule", &file][..], &args].concat(),
        &second,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let replay_line = stdout(&o);
    let replayed =
        Schedule::load(&stored_histories(&second)[0].with_file_name(SCHEDULE_JSON)).unwrap();
    assert_eq!(
        replayed.actions().collect::<Vec<_>>(),
        original.actions().collect::<Vec<_>>()
    );
    let limit = original.time_limit.unwrap().as_nanos() as i64;
    for (a, b) in original
        .ops
        .iter()
        .zip(&replayed.ops)
        .filter(|(a, _)| a.time < limit)
    {
        // At the recorded offset, give or take the scheduler's step (well under 1 ms).
        assert!(
            (b.time - a.time).abs() < 1_000_000,
            "replayed at {} ns, recorded at {} ns",
            b.time,
            a.time
        );
    }
    // Another seed draws another partition: the replay did not just draw the same one.
    let o = sim(
        &[&["--seed", "4"][..], &args].concat(),
        &store.path().join("third"),
    );
    let drawn = Schedule::load(
        &stored_histories(&store.path().join("third"))[0].with_file_name(SCHEDULE_JSON),
    )
    .unwrap();
    assert_ne!(
        drawn.actions().collect::<Vec<_>>(),
        original.actions().collect::<Vec<_>>(),
        "{}",
        stdout(&o)
    );
    let test_json =
        std::fs::read_to_string(stored_histories(&second)[0].with_file_name("test.json")).unwrap();
    assert!(
        test_json.contains(&file),
        "the record names the schedule: {test_json}"
    );
    assert!(!replay_line.is_empty());
}

/// `sim` as [`sim`] does, killed (and the test failed) if it runs longer than `limit`.
fn sim_within(args: &[&str], store: &Path, limit: std::time::Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_restate-jepsen"))
        .arg("sim")
        .args(args)
        .arg("--store")
        .arg(store)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sim {args:?} still running after {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn the_top_seeds_run_exactly_their_iterations_and_past_them_is_refused() {
    let store = tempfile::tempdir().unwrap();
    let minute = std::time::Duration::from_secs(60);
    let fixed = [
        "--workload",
        "set-vo",
        "--nemesis",
        "none",
        "--time-limit",
        "1",
    ];
    // The largest seed a run can reach: one iteration, which ends.
    for jobs in ["1", "2"] {
        let mut args = vec![
            "--seed",
            "18446744073709551614",
            "--iterations",
            "1",
            "--jobs",
            jobs,
        ];
        args.extend(fixed);
        let o = sim_within(&args, store.path(), minute);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(stdout(&o).starts_with("1 iterations"), "{}", stdout(&o));
    }
    // Seeds do not wrap around to 0: past the largest, the run is refused up front.
    for (seed, iterations) in [
        ("18446744073709551615", "1"),
        ("18446744073709551614", "2"),
        ("1", "18446744073709551615"),
    ] {
        let mut args = vec!["--seed", seed, "--iterations", iterations, "--jobs", "1"];
        args.extend(fixed);
        let o = sim_within(&args, store.path(), minute);
        assert_eq!(
            o.status.code(),
            Some(254),
            "{seed} {iterations}: {}",
            stdout(&o)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("--seed") && err.contains("--iterations"),
            "{err}"
        );
    }
}

#[test]
fn absurd_sizes_are_refused_before_work_starts() {
    let store = tempfile::tempdir().unwrap();
    let minute = std::time::Duration::from_secs(60);
    for (args, says) in [
        (vec!["--concurrency", "1000000000"], "10000"),
        (vec!["--concurrency", "10001"], "10000"),
        (vec!["--concurrency", "4000000000000000000n"], "10000"),
        (vec!["--jobs", "1000000000"], "--jobs"),
        (vec!["--nodes", "2"], "--nodes"),
        (vec!["--nodes", "10"], "--nodes"),
    ] {
        let o = sim_within(&args, store.path(), minute);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(254), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{says} not in {err}");
    }
}
