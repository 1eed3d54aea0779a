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
//!       test.json       the test's options: seed, workload, nemesis, checkers, ...
//!       jepsen.log      the run's log
//!       <node>/         one folder per node for its logs
//! ```
//!
//! The run's timestamp is the only wall-clock time here, and the caller passes it in.

use crate::checker::CheckResult;
use crate::history::{
    read_history_file, read_history_str, write_edn, History, HistoryWriter, ReadError, Value,
};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const HISTORY_JSONL: &str = "history.jsonl";
pub const HISTORY_EDN: &str = "history.edn";
pub const RESULTS_JSON: &str = "results.json";
pub const RESULTS_EDN: &str = "results.edn";
pub const TEST_JSON: &str = "test.json";
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
        let stamp = format_timestamp(timestamp);
        let test_dir = root.join(test_name);
        fs::create_dir_all(&test_dir)?;
        let path = test_dir.join(&stamp);
        fs::create_dir(&path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create run folder {}: {e}", path.display()),
            )
        })?;
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

    /// The checker result a run stored (its `results.json`), as a results map.
    pub fn load_results(path: &Path) -> io::Result<Value> {
        load_json(&Store::open_run(path)?.path.join(RESULTS_JSON))
    }

    /// A run's history: `history.edn` if the run finished, else what `history.jsonl`
    /// had recorded when it stopped. A run killed mid-write can leave a last line without
    /// its newline: that op was never fully recorded, so it is left out.
    pub fn load_history(path: &Path) -> Result<History, ReadError> {
        let run = Store::open_run(path).map_err(|e| ReadError {
            file: path.display().to_string(),
            line: 0,
            message: e.to_string(),
        })?;
        let edn = run.path.join(HISTORY_EDN);
        if edn.is_file() {
            return read_history_file(&edn);
        }
        let jsonl = run.path.join(HISTORY_JSONL);
        let text = fs::read_to_string(&jsonl).map_err(|e| ReadError {
            file: jsonl.display().to_string(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        let recorded = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        read_history_str(&jsonl.display().to_string(), recorded)
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

fn write_json(path: &Path, value: &Value) -> io::Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    fs::write(path, text)
}

fn load_json(path: &Path) -> io::Result<Value> {
    let text = fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
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
}
