//! The store: where each run's history, results, options and logs are kept, in Jepsen's
//! layout, so that a run can be inspected, served, and re-checked later (`analyze`).
//!
//! ```text
//! store/
//!   latest -> <test-name>/<timestamp>          (the newest run of any test)
//!   <test-name>/
//!     latest -> <timestamp>                    (the newest run of this test)
//!     <YYYYMMDDTHHMMSS.mmm>/                   (UTC)
//!       history.jsonl   streamed while the run goes: survives a crash
//!       history.edn     the whole history, written at the end
//!       results.json    the checker result, as JSON
//!       results.edn     the checker result, as EDN (Jepsen's results.edn)
//!       test.json       the test record (crate::test_record): seed, workload, nemesis, ...
//!       schedule.json   the run's fault actions, replayable (crate::fault::schedule)
//!       report.html     the report (crate::report)
//!       jepsen.log      the run's log
//!       n<i>/           one folder per node for its logs
//!   sweeps/<sweep>/shard-I-of-N.json           (`sim`'s summaries, merged by `sim summarize`)
//!   shrunk/seed-S-schedule.json                (`sim --shrink`'s shrunk schedules)
//! ```
//!
//! The run's timestamp is the only wall-clock time here, and the caller passes it in.
//! [`list_runs`] and [`list_folder`] read the store back for `serve`.

use crate::checker::{CheckResult, Validity};
use crate::history::{
    read_bounded, read_history_file_with, read_history_str_with, write_edn, History, HistoryWriter,
    ReadError, ReadOptions, Source, Value, DEFAULT_MAX_BYTES,
};
use crate::test_record::TestRecord;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const HISTORY_JSONL: &str = "history.jsonl";
pub const HISTORY_EDN: &str = "history.edn";
pub const RESULTS_JSON: &str = "results.json";
pub const RESULTS_EDN: &str = "results.edn";
pub const TEST_JSON: &str = "test.json";
/// Folders of a store that hold no runs: `sim`'s sweep summaries and shrunk schedules.
pub const NOT_TESTS: [&str; 2] = ["sweeps", "shrunk"];
pub const LOG: &str = "jepsen.log";
pub const LATEST: &str = "latest";

/// The store's operations: creating a run directory, and finding a stored one again.
pub struct Store;

impl Store {
    /// Creates `root/<test_name>/<timestamp>/` and points both `latest` links at it.
    /// Fails if `test_name` is not a plain file name or the run directory exists.
    pub fn create(root: &Path, test_name: &str, timestamp: SystemTime) -> io::Result<RunDir> {
        if test_name.is_empty()
            || test_name == LATEST
            || test_name.starts_with('.')
            || test_name.contains(['/', '\\'])
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("test name `{test_name}` cannot name a folder in the store"),
            ));
        }
        let test_dir = root.join(test_name);
        fs::create_dir_all(&test_dir)?;
        // Two runs kept in the same millisecond (simulation iterations in parallel) each get
        // their own folder: the later one takes the next free millisecond.
        let mut offset = 0;
        let (stamp, path) = loop {
            let stamp = format_timestamp(timestamp + Duration::from_millis(offset));
            let path = test_dir.join(&stamp);
            match fs::create_dir(&path) {
                Ok(()) => break (stamp, path),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && offset < 10_000 => {
                    offset += 1
                }
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("cannot create run folder {}: {e}", path.display()),
                    ))
                }
            }
        };
        link_latest(&test_dir, Path::new(&stamp))?;
        link_latest(root, &Path::new(test_name).join(&stamp))?;
        Ok(RunDir { path })
    }

    /// A stored run: its folder, or a `latest` link to it. It must hold a history,
    /// `test.json` or `results.json`.
    pub fn open_run(path: &Path) -> io::Result<RunDir> {
        let path = fs::canonicalize(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("no stored run at {}: {e}", path.display()),
            )
        })?;
        let run = RunDir { path };
        if [HISTORY_EDN, HISTORY_JSONL, TEST_JSON, RESULTS_JSON]
            .iter()
            .any(|f| run.path.join(f).is_file())
        {
            Ok(run)
        } else {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} is not a stored run: it has no {HISTORY_EDN}, {HISTORY_JSONL}, {TEST_JSON} or {RESULTS_JSON}",
                    run.path.display()
                ),
            ))
        }
    }

    /// The test options a run was made with (its `test.json`).
    pub fn load_test(path: &Path) -> io::Result<Value> {
        load_json(&Store::open_run(path)?.path.join(TEST_JSON))
    }

    /// The test record a run was made with (its `test.json`, typed).
    pub fn load_record(path: &Path) -> io::Result<TestRecord> {
        let test = Store::load_test(path)?;
        TestRecord::from_value(&test).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The checker result a run stored (its `results.json`), as a results map.
    pub fn load_results(path: &Path) -> io::Result<Value> {
        load_json(&Store::open_run(path)?.path.join(RESULTS_JSON))
    }

    /// A run's history: `history.edn` if the run finished, else what `history.jsonl`
    /// had recorded when it stopped. A run killed mid-write can leave a last line without
    /// its newline (even a character cut in two): that op was never fully recorded, so it
    /// is left out. Strict pairing, the default size limit.
    pub fn load_history(path: &Path) -> Result<History, ReadError> {
        Store::load_history_with(path, &ReadOptions::default())
    }

    /// [`Store::load_history`] with the pairing and size limit of `opts`; the run's files
    /// must be regular files.
    pub fn load_history_with(path: &Path, opts: &ReadOptions) -> Result<History, ReadError> {
        let opts = ReadOptions {
            source: Source::RegularFile,
            ..*opts
        };
        let run = Store::open_run(path).map_err(|e| ReadError {
            file: path.display().to_string(),
            line: 0,
            message: e.to_string(),
        })?;
        let edn = run.path.join(HISTORY_EDN);
        if edn.is_file() {
            return read_history_file_with(&edn, &opts);
        }
        let jsonl = run.path.join(HISTORY_JSONL);
        let file = jsonl.display().to_string();
        let bytes = read_bounded(&jsonl, opts.max_bytes, opts.source)?;
        let recorded = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(end) => &bytes[..=end],
            None => &[],
        };
        let text = std::str::from_utf8(recorded).map_err(|e| ReadError {
            file: file.clone(),
            line: 1 + recorded[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            message: "not UTF-8 text: a history.jsonl is written as UTF-8".to_string(),
        })?;
        read_history_str_with(&file, text, opts.pairing)
    }
}

/// One run's folder.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The name of the test this run belongs to (its parent folder).
    pub fn test_name(&self) -> Option<&str> {
        self.path.parent()?.file_name()?.to_str()
    }

    /// A writer streaming ops to `history.jsonl` as they are recorded.
    pub fn history_writer(&self) -> io::Result<HistoryWriter> {
        HistoryWriter::create(&self.path.join(HISTORY_JSONL))
    }

    /// Writes the whole history to `history.edn`.
    pub fn write_history_edn(&self, history: &History) -> io::Result<()> {
        write_edn(&self.path.join(HISTORY_EDN), &history.ops)
    }

    /// Writes the checker result as `results.json` and `results.edn`.
    pub fn write_results(&self, result: &CheckResult) -> io::Result<()> {
        let value = result.to_value();
        write_json(&self.path.join(RESULTS_JSON), &value)?;
        fs::write(self.path.join(RESULTS_EDN), format!("{value}\n"))
    }

    /// Writes the test's options as `test.json`.
    pub fn write_test(&self, test: &Value) -> io::Result<()> {
        write_json(&self.path.join(TEST_JSON), test)
    }

    /// The run's log file, `jepsen.log` (not created here).
    pub fn log_path(&self) -> PathBuf {
        self.path.join(LOG)
    }

    /// The folder for `node`'s logs, created if needed.
    pub fn node_dir(&self, node: &str) -> io::Result<PathBuf> {
        if node.is_empty() || node.starts_with('.') || node.contains(['/', '\\']) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("node name `{node}` cannot name a folder"),
            ));
        }
        let dir = self.path.join(node);
        fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

/// The top-level verdict of the run stored in `run_dir` (its `results.json`); `None` if
/// it has none, or it cannot be read or holds no verdict (still running, or crashed).
pub fn run_verdict(run_dir: &Path) -> Option<Validity> {
    Validity::of_results(&load_json(&run_dir.join(RESULTS_JSON)).ok()?)
}

/// One stored run, as the store's index shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredRun {
    pub test: String,
    /// The run's folder name, its UTC timestamp.
    pub run: String,
    /// `None`: no readable verdict in `results.json` (still running, or crashed).
    pub verdict: Option<Validity>,
    /// Whether the run has its `report.html`.
    pub has_report: bool,
}

/// Every `<test>/<run>/` folder of the store at `root`, newest first (run folders are
/// named by UTC timestamp, so by name), then by test name. Links (`latest`) and dot
/// files are not runs.
pub fn list_runs(root: &Path) -> io::Result<Vec<StoredRun>> {
    let mut runs = Vec::new();
    for test in real_folders(root)? {
        if NOT_TESTS.contains(&test.as_str()) {
            continue;
        }
        for run in real_folders(&root.join(&test))? {
            let dir = root.join(&test).join(&run);
            runs.push(StoredRun {
                verdict: run_verdict(&dir),
                has_report: dir.join(crate::report::REPORT_HTML).is_file(),
                test: test.clone(),
                run,
            });
        }
    }
    runs.sort_by(|a, b| b.run.cmp(&a.run).then_with(|| a.test.cmp(&b.test)));
    Ok(runs)
}

/// The names of the folders (not links, not dot files, UTF-8 names only) in `dir`.
fn real_folders(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name == LATEST || name.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// One entry of a folder listing.
#[derive(Clone, Debug, PartialEq)]
pub struct FolderEntry {
    pub name: String,
    /// A folder, or a link to one.
    pub is_dir: bool,
    /// A file's size; `None` for a folder or an entry whose metadata cannot be read.
    pub size: Option<u64>,
}

/// The entries of `dir` (UTF-8 names only), by name. Links are followed: a link to a
/// folder is a folder.
pub fn list_folder(dir: &Path) -> io::Result<Vec<FolderEntry>> {
    let mut entries = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries
        .into_iter()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let meta = fs::metadata(entry.path());
            let is_dir = meta.as_ref().is_ok_and(|m| m.is_dir());
            let size = match &meta {
                Ok(m) if !is_dir => Some(m.len()),
                _ => None,
            };
            Some(FolderEntry { name, is_dir, size })
        })
        .collect())
}

fn write_json(path: &Path, value: &Value) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    fs::write(path, text)
}

/// A JSON file of the store (`test.json`, `results.json`): a regular file within the
/// history size limit (a FIFO would block the reader, `serve`'s index too).
fn load_json(path: &Path) -> io::Result<Value> {
    let bytes = read_bounded(path, DEFAULT_MAX_BYTES, Source::RegularFile).map_err(|e| {
        let kind = match fs::metadata(path) {
            Err(e) => e.kind(),
            Ok(_) => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, format!("cannot read {}", e))
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: not UTF-8 text", path.display()),
        )
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    Ok(Value::from(&json))
}

/// Points `dir/latest` at `target` (relative to `dir`), replacing any old link
/// atomically: a new link is made beside it and renamed over it.
fn link_latest(dir: &Path, target: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let tmp = dir.join(format!(".{LATEST}.{}", std::process::id()));
        let _ = fs::remove_file(&tmp);
        std::os::unix::fs::symlink(target, &tmp)?;
        fs::rename(&tmp, dir.join(LATEST))
    }
    #[cfg(not(unix))]
    {
        let _ = (dir, target);
        Ok(())
    }
}

/// `YYYYMMDDTHHMMSS.mmm` in UTC, Jepsen's run folder name.
pub fn format_timestamp(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}.{:03}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// A run folder's name, `20260102T030405.678`, as `2026-01-02 03:04:05.678`; any other
/// name as it is.
pub fn readable_time(run: &str) -> String {
    let b = run.as_bytes();
    if b.len() == 19 && b[8] == b'T' && b[15] == b'.' {
        format!(
            "{}-{}-{} {}:{}:{}.{}",
            &run[0..4],
            &run[4..6],
            &run[6..8],
            &run[9..11],
            &run[11..13],
            &run[13..15],
            &run[16..19]
        )
    } else {
        run.to_string()
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`; a dozen lines do not justify a date-time crate in the core).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_with_milliseconds() {
        let t =
            |s: u64, ms: u64| format_timestamp(UNIX_EPOCH + Duration::from_millis(s * 1000 + ms));
        assert_eq!(t(0, 0), "19700101T000000.000");
        // 2026-11-22 02:11:43.042 UTC
        assert_eq!(t(1_795_313_503, 42), "20261122T021143.042");
        // A leap day: 2024-02-29 23:59:59.999 UTC
        assert_eq!(t(1_709_251_199, 999), "20240229T235959.999");
    }

    #[test]
    fn readable_time_reads_run_folder_names() {
        assert_eq!(
            readable_time("20260102T030405.678"),
            "2026-01-02 03:04:05.678"
        );
        assert_eq!(readable_time("my-run"), "my-run");
    }

    #[test]
    fn runs_created_in_the_same_millisecond_get_their_own_folders() {
        let dir = tempfile::tempdir().unwrap();
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let a = Store::create(dir.path(), "sim-swarm", t).unwrap();
        let b = Store::create(dir.path(), "sim-swarm", t).unwrap();
        assert_ne!(a.path(), b.path());
        assert!(a.path().is_dir() && b.path().is_dir());
    }

    #[test]
    fn lists_runs_newest_first_with_their_verdicts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let run = |test: &str, stamp: &str, results: Option<&str>| {
            let path = root.join(test).join(stamp);
            fs::create_dir_all(&path).unwrap();
            if let Some(results) = results {
                fs::write(path.join(RESULTS_JSON), results).unwrap();
            }
            path
        };
        run("a", "20260101T000000.000", Some("{\"valid?\": true}"));
        let b = run(
            "b",
            "20260102T000000.000",
            Some("{\"valid?\": \":unknown\"}"),
        );
        run("a", "20260103T000000.000", None);
        run("c", "20260102T000000.000", Some("not json"));
        fs::write(b.join(crate::report::REPORT_HTML), "").unwrap();
        fs::create_dir_all(root.join(".hidden/r")).unwrap();
        link_latest(&root.join("a"), Path::new("20260103T000000.000")).unwrap();
        let listed: Vec<_> = list_runs(root)
            .unwrap()
            .into_iter()
            .map(|r| (r.test, r.run, r.verdict, r.has_report))
            .collect();
        let row = |t: &str, r: &str, v, h| (t.to_string(), r.to_string(), v, h);
        assert_eq!(
            listed,
            vec![
                row("a", "20260103T000000.000", None, false),
                row("b", "20260102T000000.000", Some(Validity::Unknown), true),
                row("c", "20260102T000000.000", None, false),
                row("a", "20260101T000000.000", Some(Validity::Valid), false),
            ]
        );
        assert_eq!(run_verdict(&root.join("a/latest")), None);
        assert_eq!(
            run_verdict(&root.join("a/20260101T000000.000")),
            Some(Validity::Valid)
        );
    }
}
