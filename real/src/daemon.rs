//! A server run as a daemon on a node with a pid file, Jepsen's `start-daemon!` /
//! `stop-daemon!`: started in the background from a shell over the [`Remote`], its pid
//! written to a file, and killed, paused and resumed by that pid. It is the nemesis's
//! [`DbControl`] for any server started this way (restate-server with `--binary`; a dummy
//! process in tests).

use crate::nemesis::DbControl;
use crate::remote::{shell_quote, BoxFuture, Remote, RemoteError};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How the daemon runs on one node.
#[derive(Clone, Debug)]
pub struct DaemonSpec {
    /// The command line, quoted for the shell (it is run as is).
    pub command: String,
    /// The folder it runs in.
    pub dir: String,
    pub pid_file: String,
    /// Where its stdout and stderr go (appended).
    pub log_file: String,
}

/// A daemon on each node, controlled by pid file.
pub struct PidFileDaemon {
    remote: Arc<dyn Remote>,
    specs: BTreeMap<String, DaemonSpec>,
}

impl PidFileDaemon {
    pub fn new(remote: Arc<dyn Remote>, specs: BTreeMap<String, DaemonSpec>) -> PidFileDaemon {
        PidFileDaemon { remote, specs }
    }

    fn spec(&self, node: &str) -> Result<&DaemonSpec, RemoteError> {
        self.specs.get(node).ok_or_else(|| RemoteError::Io {
            node: node.to_string(),
            message: "no daemon is configured for this node".to_string(),
        })
    }

    /// The daemon's pid on `node`, if its pid file names a live process.
    pub async fn pid(&self, node: &str) -> Result<Option<u32>, RemoteError> {
        let spec = self.spec(node)?;
        let pid_file = shell_quote(&spec.pid_file);
        let command = format!(
            "[ -f {pid_file} ] && pid=$(cat {pid_file}) && kill -0 \"$pid\" 2>/dev/null && echo \"$pid\"; true"
        );
        let out = self.remote.sudo(node, &command).await?;
        Ok(out.stdout.trim().parse().ok())
    }

    /// Sends `signal` to the daemon on `node`; an error if it is not running.
    async fn signal(&self, node: &str, signal: &str) -> Result<(), RemoteError> {
        let spec = self.spec(node)?;
        let command = format!("kill -{signal} \"$(cat {})\"", shell_quote(&spec.pid_file));
        self.remote.sudo(node, &command).await.map(drop)
    }
}

impl DbControl for PidFileDaemon {
    /// SIGKILL, then waits (up to 10 s) until the process is gone and removes the pid file.
    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            let spec = self.spec(node)?;
            let pid_file = shell_quote(&spec.pid_file);
            let command = format!(
                "if [ -f {pid_file} ]; then pid=$(cat {pid_file}); kill -9 \"$pid\" 2>/dev/null; \
                 i=0; while kill -0 \"$pid\" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; \
                 if kill -0 \"$pid\" 2>/dev/null; then echo \"pid $pid survived kill -9\" >&2; exit 1; fi; \
                 rm -f {pid_file}; fi"
            );
            self.remote.sudo(node, &command).await.map(drop)
        })
    }

    /// Starts it unless it runs already; detached from the session (setsid, nohup).
    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            if self.pid(node).await?.is_some() {
                return Ok(());
            }
            let spec = self.spec(node)?;
            let command = format!(
                "cd {dir} && {{ setsid nohup {command} >> {log} 2>&1 < /dev/null & echo $! > {pid_file}; }}",
                dir = shell_quote(&spec.dir),
                command = spec.command,
                log = shell_quote(&spec.log_file),
                pid_file = shell_quote(&spec.pid_file),
            );
            self.remote.sudo(node, &command).await.map(drop)
        })
    }

    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(self.signal(node, "STOP"))
    }

    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(self.signal(node, "CONT"))
    }
}
