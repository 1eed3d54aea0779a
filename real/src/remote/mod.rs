//! Control of the nodes: run a shell command on a node and get its exit status and output,
//! as root (`sudo`), and copy files to and from it. Jepsen's `jepsen.control`, as a trait
//! with two implementations: [`SshRemote`] (russh, one reused session per node) and
//! [`LocalRemote`] (`--no-ssh`: every node is this machine, commands run with `sh -c`).
//!
//! A remote is shared by the whole test (`Send + Sync`, futures `Send`), so the nemesis,
//! the database layer and the heal-on-exit guard can all use it from any thread or runtime.

mod local;
mod shell;
mod ssh;

pub use local::LocalRemote;
pub use shell::shell_quote;
pub use ssh::{HostKeyCheck, SshAuth, SshConfig, SshRemote};

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

/// A boxed future that may move between threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a command did: its exit status and everything it printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The exit status; `None` when the command ended without one (killed by a signal).
    pub status: Option<u32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// Why a remote action failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// The node could not be reached or logged into (after the retries).
    #[error("cannot connect to node {node}: {message}")]
    Connect { node: String, message: String },
    /// The command ran and ended with a non-zero status (or none).
    #[error("on node {node}, `{command}` failed with {}: {}", status_text(*.status), .stderr.trim_end())]
    Command {
        node: String,
        command: String,
        status: Option<u32>,
        stdout: String,
        stderr: String,
    },
    /// The session or a local file failed while the command ran.
    #[error("on node {node}: {message}")]
    Io { node: String, message: String },
}

fn status_text(status: Option<u32>) -> String {
    status.map_or("no exit status (killed?)".to_string(), |s| {
        format!("exit status {s}")
    })
}

/// Runs commands on nodes and moves files to and from them.
pub trait Remote: Send + Sync {
    /// Runs `command` (a shell command line, quoted by the caller with [`shell_quote`]) on
    /// `node` and returns what it did, whatever its exit status.
    fn run<'a>(
        &'a self,
        node: &'a str,
        command: &'a str,
    ) -> BoxFuture<'a, Result<Output, RemoteError>>;

    /// Runs `command` on `node` as root: unchanged when the remote already acts as root,
    /// else through `sudo`.
    fn run_sudo<'a>(
        &'a self,
        node: &'a str,
        command: &'a str,
    ) -> BoxFuture<'a, Result<Output, RemoteError>>;

    /// Copies the local file `local` to `remote_path` on `node` (replacing it).
    fn upload<'a>(
        &'a self,
        node: &'a str,
        local: &'a Path,
        remote_path: &'a str,
    ) -> BoxFuture<'a, Result<(), RemoteError>>;

    /// Copies `remote_path` on `node` to the local file `local` (replacing it).
    fn download<'a>(
        &'a self,
        node: &'a str,
        remote_path: &'a str,
        local: &'a Path,
    ) -> BoxFuture<'a, Result<(), RemoteError>>;

    /// Whether every "node" is this machine (`--no-ssh`): then faults that act on the
    /// network stack (iptables) would hit the host itself, and are refused.
    fn is_local(&self) -> bool {
        false
    }

    /// Runs `command` on `node`; a non-zero exit status is an error that names the node,
    /// the command, the status and stderr.
    fn exec<'a>(
        &'a self,
        node: &'a str,
        command: &'a str,
    ) -> BoxFuture<'a, Result<Output, RemoteError>> {
        Box::pin(async move { checked(node, command, self.run(node, command).await?) })
    }

    /// [`Remote::exec`] as root.
    fn sudo<'a>(
        &'a self,
        node: &'a str,
        command: &'a str,
    ) -> BoxFuture<'a, Result<Output, RemoteError>> {
        Box::pin(async move { checked(node, command, self.run_sudo(node, command).await?) })
    }
}

/// `output` when the command succeeded, else the error that says where and why it failed.
pub fn checked(node: &str, command: &str, output: Output) -> Result<Output, RemoteError> {
    if output.success() {
        Ok(output)
    } else {
        Err(RemoteError::Command {
            node: node.to_string(),
            command: command.to_string(),
            status: output.status,
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }
}

/// `command` wrapped to run as root through `sudo` (non-interactive unless a password is
/// fed on stdin with `-S`).
pub fn sudo_command(command: &str, with_password: bool) -> String {
    let flags = if with_password { "-S -p ''" } else { "-n" };
    format!("sudo {flags} -- sh -c {}", shell_quote(command))
}
