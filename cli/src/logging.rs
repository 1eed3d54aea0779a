//! Where log lines go and how they look: `tracing` events on stderr, as text for a person
//! or as one JSON object per line for a machine (`--log-format json`, Jepsen's
//! `--logging-json`). The level comes from `RUST_LOG` (e.g. `debug`, `jepsen_core=debug`),
//! info by default. stdout is left to the commands' results.
//!
//! Log lines are written with the progress bars put aside for the moment (see
//! `progress::terminal`), so that a line and a bar never share a row.

use std::io::{self, IsTerminal, Write};
use tracing_subscriber::EnvFilter;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Installs the global subscriber; call once, before any work. `default_filter` applies
/// when `RUST_LOG` is unset or unreadable, e.g. `info`.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| BesideProgress);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
    // Only a second call could fail, and then the first subscriber stays: nothing to do.
    drop(installed);
}

/// stderr, written while the progress bars are hidden (they redraw after the line).
struct BesideProgress;

impl Write for BesideProgress {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        crate::progress::terminal().suspend(|| io::stderr().write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        crate::progress::terminal().suspend(|| io::stderr().write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}
