//! `--no-ssh`: every node is this machine. Commands run with `sh -c`, files are copied.

use super::{shell_quote, sudo_command, BoxFuture, Output, Remote, RemoteError};
use crate::cluster::command::effective_uid;
use std::path::Path;
use std::process::Stdio;

/// Runs every node's commands here, as Jepsen's `--no-ssh` does.
#[derive(Clone, Debug, Default)]
pub struct LocalRemote;

impl LocalRemote {
    pub fn new() -> LocalRemote {
        LocalRemote
    }
}

fn io_error(node: &str, what: String, e: std::io::Error) -> RemoteError {
    RemoteError::Io {
        node: node.to_string(),
        message: format!("{what}: {e}"),
    }
}

async fn sh(node: &str, command: &str) -> Result<Output, RemoteError> {
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| {
            io_error(
                node,
                format!("cannot run sh -c {}", shell_quote(command)),
                e,
            )
        })?;
    Ok(Output {
        status: out.status.code().map(|c| c as u32),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

async fn copy(node: &str, from: &Path, to: &Path) -> Result<(), RemoteError> {
    tokio::fs::copy(from, to).await.map(drop).map_err(|e| {
        io_error(
            node,
            format!("copy {} to {}", from.display(), to.display()),
            e,
        )
    })
}

impl Remote for LocalRemote {
    fn is_local(&self) -> bool {
        true
    }

    fn run<'a>(
        &'a self,
        node: &'a str,
        command: &'a str,
    ) -> BoxFuture<'a, Result<Output, RemoteError>> {
        Box::pin(sh(node, command))
    }

    fn run_sudo<'a>(
        &'a self,
        node: &'a str,
        command: &'a str,
    ) -> BoxFuture<'a, Result<Output, RemoteError>> {
        Box::pin(async move {
            if effective_uid() == Some(0) {
                sh(node, command).await
            } else {
                sh(node, &sudo_command(command, false)).await
            }
        })
    }

    fn upload<'a>(
        &'a self,
        node: &'a str,
        local: &'a Path,
        remote_path: &'a str,
    ) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(copy(node, local, Path::new(remote_path)))
    }

    fn download<'a>(
        &'a self,
        node: &'a str,
        remote_path: &'a str,
        local: &'a Path,
    ) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(copy(node, Path::new(remote_path), local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn runs_commands_and_reports_failures_with_node_command_status_and_stderr() {
        block_on(async {
            let r = LocalRemote::new();
            let out = r.exec("n1", "echo out; echo err >&2").await.unwrap();
            assert_eq!(
                (out.stdout.as_str(), out.stderr.as_str()),
                ("out\n", "err\n")
            );
            let err = r
                .exec("n1", "echo broken >&2; exit 3")
                .await
                .unwrap_err()
                .to_string();
            assert_eq!(
                err,
                "on node n1, `echo broken >&2; exit 3` failed with exit status 3: broken"
            );
            let killed = r.run("n1", "kill -9 $$").await.unwrap();
            assert_eq!(killed.status, None);
        });
    }

    #[test]
    fn upload_and_download_copy_files() {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let a = dir.path().join("a");
            std::fs::write(&a, b"bytes\0\xff").unwrap();
            let b = dir.path().join("b");
            let c = dir.path().join("c");
            let r = LocalRemote::new();
            r.upload("n1", &a, b.to_str().unwrap()).await.unwrap();
            r.download("n1", b.to_str().unwrap(), &c).await.unwrap();
            assert_eq!(std::fs::read(&c).unwrap(), b"bytes\0\xff");
            let missing = r.download("n1", "/nonexistent/x", &c).await.unwrap_err();
            assert!(missing.to_string().contains("/nonexistent/x"), "{missing}");
        });
    }
}
