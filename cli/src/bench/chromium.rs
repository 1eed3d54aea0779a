//! Headless Chromium (Debian's `chromium`) for the report: load a page and read its DOM
//! after the scripts ran and the console messages it printed, or take a screenshot. Used
//! by the report's load-time benchmark and its browser test (which includes this file).
//!
//! The command line does it all (`--dump-dom`, `--screenshot`, console messages on
//! stderr with `--enable-logging=stderr`), so no DevTools-protocol client is needed:
//! chromiumoxide and headless_chrome would bring a websocket and async stack for what
//! three flags give.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BINARY: &str = "chromium";

/// A fresh, empty profile folder, removed when dropped.
struct Profile(PathBuf);

impl Profile {
    fn new() -> io::Result<Profile> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "restate-jepsen-chromium-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Profile(dir))
    }
}

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(page: &Path, extra: &[&str]) -> io::Result<(Output, Duration)> {
    let profile = Profile::new()?;
    let page = std::fs::canonicalize(page)?;
    let started = Instant::now();
    let output = Command::new(BINARY)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--timeout=60000",
        ])
        .arg(format!("--user-data-dir={}", profile.0.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot run {BINARY}: {e} (scripts/test.sh installs Debian's chromium)"),
            )
        })?;
    let time = started.elapsed();
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "{BINARY} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok((output, time))
}

/// A page as Chromium left it after loading.
pub struct Loaded {
    /// The DOM after the page's scripts ran.
    pub dom: String,
    /// The page's console messages (uncaught errors included), one line each.
    pub console: Vec<String>,
}

/// Loads `page` and returns its DOM and console messages.
pub fn load(page: &Path) -> io::Result<Loaded> {
    let (output, _) = run(page, &["--dump-dom"])?;
    let console = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Ok(Loaded {
        dom: String::from_utf8_lossy(&output.stdout).into_owned(),
        console,
    })
}

/// Saves a PNG of `page` in a 1400 x 2000 window; returns how long Chromium ran, start
/// to exit.
pub fn screenshot(page: &Path, png: &Path) -> io::Result<Duration> {
    let _ = std::fs::remove_file(png);
    let (_, time) = run(
        page,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1400,2000",
            "--hide-scrollbars",
        ],
    )?;
    if png.is_file() {
        Ok(time)
    } else {
        Err(io::Error::other(format!(
            "{BINARY} wrote no screenshot at {}",
            png.display()
        )))
    }
}

/// The report's own load time: milliseconds from navigation start until its timeline was
/// drawn (the `data-ready-ms` its script sets on `<body>`).
pub fn ready_ms(dom: &str) -> Option<f64> {
    body_number(dom, "data-ready-ms")
}

/// Milliseconds from navigation start to the end of the page's `load` event (the
/// `data-load-ms` the report's script sets on `<body>`).
pub fn load_ms(dom: &str) -> Option<f64> {
    body_number(dom, "data-load-ms")
}

fn body_number(dom: &str, attribute: &str) -> Option<f64> {
    let key = format!("{attribute}=\"");
    let at = dom.find(&key)? + key.len();
    let end = at + dom[at..].find('"')?;
    dom[at..end].parse().ok()
}
