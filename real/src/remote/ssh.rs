//! Control over SSH with russh: key (a private key file) or password login, host key
//! checking on (a known_hosts file) or off (any key accepted, Jepsen's default), and one
//! session per node, opened on first use and reused by every later command (each command is
//! a channel on it). Connecting is retried with exponential backoff on transient errors
//! (refused, reset, timed out, unreachable); a command itself is never retried, since it may
//! have run. Files move over exec channels: `cat > FILE` fed from the local file, `cat FILE`.
//!
//! The sessions live on a small runtime of their own (one worker thread), so a remote works
//! from any thread and any runtime, including the heal-on-exit guard's, while the test's
//! own runtime is gone or busy.

use super::{shell_quote, sudo_command, BoxFuture, Output, Remote, RemoteError};
use russh::client::{self, Handle};
use russh::keys::{check_known_hosts_path, HashAlg, PrivateKey, PrivateKeyWithHashAlg};
use russh::keys::{Algorithm, PublicKeyOrCertificate};
use russh::ChannelMsg;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How to log in.
#[derive(Clone, Debug)]
pub enum SshAuth {
    /// A private key file (`--ssh-private-key`), unencrypted.
    Key(PathBuf),
    /// A password (`--password`); also given to `sudo` when the user is not root.
    Password(String),
}

/// Whether a node's host key is checked (`--strict-host-key-checking`).
#[derive(Clone, Debug)]
pub enum HostKeyCheck {
    /// Any host key is accepted (Jepsen's default).
    AcceptAny,
    /// The key must be listed for the node's address in this known_hosts file.
    KnownHosts(PathBuf),
}

/// How to reach the nodes.
#[derive(Clone, Debug)]
pub struct SshConfig {
    /// `--username` (Jepsen's default: root).
    pub username: String,
    pub auth: SshAuth,
    pub host_key_check: HostKeyCheck,
    pub port: u16,
    /// The limit of one connection attempt (TCP, key exchange and login).
    pub connect_timeout: Duration,
    /// Attempts before giving up on a node; the waits between them double from `backoff`.
    pub connect_attempts: u32,
    pub backoff: Duration,
}

impl SshConfig {
    /// Port 22, any host key, 5 attempts 100 ms apart at first, 5 s each.
    pub fn new(username: &str, auth: SshAuth) -> SshConfig {
        SshConfig {
            username: username.to_string(),
            auth,
            host_key_check: HostKeyCheck::AcceptAny,
            port: 22,
            connect_timeout: Duration::from_secs(5),
            connect_attempts: 5,
            backoff: Duration::from_millis(100),
        }
    }
}

/// Decides whether to trust a node's host key.
struct HostKeyChecker {
    check: HostKeyCheck,
    host: String,
    port: u16,
}

impl client::Handler for HostKeyChecker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        match &self.check {
            HostKeyCheck::AcceptAny => Ok(true),
            HostKeyCheck::KnownHosts(path) => match key {
                PublicKeyOrCertificate::PublicKey { key, .. } => {
                    Ok(check_known_hosts_path(&self.host, self.port, key, path).unwrap_or(false))
                }
                PublicKeyOrCertificate::Certificate(_) => Ok(false),
            },
        }
    }
}

type Session = Arc<Handle<HostKeyChecker>>;

/// What stays the same for every node, shared with the tasks on the session runtime.
struct Shared {
    config: SshConfig,
    key: Option<Arc<PrivateKey>>,
    /// One slot per node; its lock is held while connecting, so a node gets one session.
    sessions: Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<Option<Session>>>>>,
}

/// A runtime that is shut down without waiting when dropped (dropping a runtime normally
/// blocks, which is forbidden inside another runtime).
struct SessionRuntime(Option<tokio::runtime::Runtime>);

impl Drop for SessionRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The SSH remote; clones share the sessions.
#[derive(Clone)]
pub struct SshRemote {
    shared: Arc<Shared>,
    runtime: Arc<SessionRuntime>,
}

/// What a command printed, as bytes.
struct RawOutput {
    status: Option<u32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl RawOutput {
    fn text(self) -> Output {
        Output {
            status: self.status,
            stdout: String::from_utf8_lossy(&self.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&self.stderr).into_owned(),
        }
    }
}

/// What a command reads on stdin.
enum Stdin {
    Empty,
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl SshRemote {
    /// A remote for `config`; reads the private key now, so a bad key file fails here.
    pub fn new(config: SshConfig) -> Result<SshRemote, String> {
        let key = match &config.auth {
            SshAuth::Key(path) => Some(Arc::new(
                russh::keys::load_secret_key(path, None)
                    .map_err(|e| format!("--ssh-private-key {}: {e}", path.display()))?,
            )),
            SshAuth::Password(_) => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("ssh-sessions")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the SSH runtime: {e}"))?;
        Ok(SshRemote {
            shared: Arc::new(Shared {
                config,
                key,
                sessions: Mutex::default(),
            }),
            runtime: Arc::new(SessionRuntime(Some(runtime))),
        })
    }

    /// How many sessions are open (one per node used so far).
    pub fn open_sessions(&self) -> usize {
        let slots: Vec<_> = self
            .shared
            .sessions
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        slots
            .iter()
            .filter(|slot| {
                slot.try_lock()
                    .map(|s| s.as_ref().is_some_and(|h| !h.is_closed()))
                    .unwrap_or(true)
            })
            .count()
    }

    /// Runs `task` on the session runtime and waits for it from wherever we are.
    async fn on_runtime<T: Send + 'static>(
        &self,
        node: &str,
        task: impl std::future::Future<Output = Result<T, RemoteError>> + Send + 'static,
    ) -> Result<T, RemoteError> {
        let rt = self
            .runtime
            .0
            .as_ref()
            .expect("the runtime lives until drop");
        rt.spawn(task).await.map_err(|e| RemoteError::Io {
            node: node.to_string(),
            message: format!("the SSH task failed: {e}"),
        })?
    }

    async fn raw(
        &self,
        node: &str,
        command: String,
        stdin: Stdin,
    ) -> Result<RawOutput, RemoteError> {
        let shared = self.shared.clone();
        let node_owned = node.to_string();
        self.on_runtime(node, async move {
            shared.run(&node_owned, &command, stdin).await
        })
        .await
    }

    fn is_root(&self) -> bool {
        self.shared.config.username == "root"
    }
}

impl Shared {
    fn slot(&self, node: &str) -> Arc<tokio::sync::Mutex<Option<Session>>> {
        self.sessions
            .lock()
            .unwrap()
            .entry(node.to_string())
            .or_default()
            .clone()
    }

    /// The node's open session, connecting (with retries) if there is none or it died.
    async fn session(&self, node: &str) -> Result<Session, RemoteError> {
        let slot = self.slot(node);
        let mut slot = slot.lock().await;
        if let Some(session) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(session.clone());
        }
        let session = Arc::new(self.connect_with_retries(node).await?);
        *slot = Some(session.clone());
        Ok(session)
    }

    /// Forgets the node's session if it is `dead`.
    async fn forget(&self, node: &str, dead: &Session) {
        let slot = self.slot(node);
        let mut slot = slot.lock().await;
        if slot.as_ref().is_some_and(|s| Arc::ptr_eq(s, dead)) {
            *slot = None;
        }
    }

    async fn connect_with_retries(
        &self,
        node: &str,
    ) -> Result<Handle<HostKeyChecker>, RemoteError> {
        let config = &self.config;
        let mut wait = config.backoff;
        let mut attempt = 1;
        loop {
            match self.connect(node).await {
                Ok(handle) => return Ok(handle),
                Err((message, transient)) => {
                    if !transient || attempt >= config.connect_attempts {
                        let tries = if attempt > 1 {
                            format!(" (after {attempt} attempts)")
                        } else {
                            String::new()
                        };
                        return Err(RemoteError::Connect {
                            node: node.to_string(),
                            message: format!("{message}{tries}"),
                        });
                    }
                }
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
            attempt += 1;
        }
    }

    /// One attempt: the error text and whether trying again may help.
    async fn connect(&self, node: &str) -> Result<Handle<HostKeyChecker>, (String, bool)> {
        let config = &self.config;
        let checker = HostKeyChecker {
            check: config.host_key_check.clone(),
            host: node.to_string(),
            port: config.port,
        };
        let client_config = Arc::new(client::Config {
            nodelay: true,
            ..client::Config::default()
        });
        let attempt = async {
            let mut handle = client::connect(client_config, (node, config.port), checker)
                .await
                .map_err(|e| classify(e, &config.host_key_check))?;
            let user = config.username.clone();
            let auth = match &config.auth {
                SshAuth::Key(_) => {
                    let key = self.key.clone().expect("a key auth has its key loaded");
                    let hash = if matches!(key.algorithm(), Algorithm::Rsa { .. }) {
                        Some(HashAlg::Sha256)
                    } else {
                        None
                    };
                    handle
                        .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash))
                        .await
                }
                SshAuth::Password(password) => {
                    handle.authenticate_password(user, password.clone()).await
                }
            }
            .map_err(|e| classify(e, &config.host_key_check))?;
            if !auth.success() {
                let how = match &config.auth {
                    SshAuth::Key(path) => format!("key {}", path.display()),
                    SshAuth::Password(_) => "password".to_string(),
                };
                return Err((
                    format!("login as {} with {how} refused", config.username),
                    false,
                ));
            }
            Ok(handle)
        };
        match tokio::time::timeout(config.connect_timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err((
                format!(
                    "no answer on port {} within {:?}",
                    config.port, config.connect_timeout
                ),
                true,
            )),
        }
    }

    /// Runs `command` on `node`; if the cached session turns out dead before the command
    /// was sent, reconnects once.
    async fn run(&self, node: &str, command: &str, stdin: Stdin) -> Result<RawOutput, RemoteError> {
        let mut session = self.session(node).await?;
        let channel = match session.channel_open_session().await {
            Ok(channel) => channel,
            Err(_) => {
                self.forget(node, &session).await;
                session = self.session(node).await?;
                session
                    .channel_open_session()
                    .await
                    .map_err(|e| io(node, e))?
            }
        };
        run_on_channel(node, channel, command, stdin).await
    }
}

/// Runs `command` on a fresh channel: stdin is written while the output is read (a
/// large upload would otherwise stall once the unread window updates fill the channel's
/// queue).
async fn run_on_channel(
    node: &str,
    channel: russh::Channel<client::Msg>,
    command: &str,
    stdin: Stdin,
) -> Result<RawOutput, RemoteError> {
    let (mut reader, writer) = channel.split();
    writer.exec(true, command).await.map_err(|e| io(node, e))?;
    let write = async {
        match stdin {
            Stdin::Empty => {}
            Stdin::Bytes(bytes) => writer.data_bytes(bytes).await.map_err(|e| io(node, e))?,
            Stdin::File(path) => {
                let local_error = |e: std::io::Error| RemoteError::Io {
                    node: node.to_string(),
                    message: format!("{}: {e}", path.display()),
                };
                let mut file = tokio::fs::File::open(&path).await.map_err(local_error)?;
                loop {
                    let mut chunk = vec![0u8; 64 * 1024];
                    let n = file.read(&mut chunk).await.map_err(local_error)?;
                    if n == 0 {
                        break;
                    }
                    chunk.truncate(n);
                    writer.data_bytes(chunk).await.map_err(|e| io(node, e))?;
                }
            }
        }
        // The command may have ended without reading all of its input: not an error here,
        // its exit status tells.
        let _ = writer.eof().await;
        Ok::<(), RemoteError>(())
    };
    let read = async {
        let mut out = RawOutput {
            status: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        while let Some(message) = reader.wait().await {
            match message {
                ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => out.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => out.status = Some(exit_status),
                _ => {}
            }
        }
        out
    };
    tokio::pin!(write, read);
    tokio::select! {
        // The channel closed: input not yet written is moot (the command ended without
        // reading it, e.g. `cat > FILE` that could not open FILE).
        out = &mut read => Ok(out),
        written = &mut write => {
            // A local read error: give up (dropping the channel ends the command).
            written?;
            Ok(read.await)
        }
    }
}

fn io(node: &str, e: russh::Error) -> RemoteError {
    RemoteError::Io {
        node: node.to_string(),
        message: format!("SSH session failed: {e}"),
    }
}

/// The text of a connection error and whether it is transient.
fn classify(e: russh::Error, check: &HostKeyCheck) -> (String, bool) {
    match e {
        russh::Error::UnknownKey => {
            let file = match check {
                HostKeyCheck::KnownHosts(path) => path.display().to_string(),
                HostKeyCheck::AcceptAny => "-".to_string(),
            };
            (
                format!(
                    "host key not listed in known_hosts file {file} (--strict-host-key-checking)"
                ),
                false,
            )
        }
        russh::Error::IO(io) => {
            use std::io::ErrorKind::*;
            let transient = matches!(
                io.kind(),
                ConnectionRefused
                    | ConnectionReset
                    | ConnectionAborted
                    | TimedOut
                    | HostUnreachable
                    | NetworkUnreachable
                    | UnexpectedEof
                    | BrokenPipe
                    | Interrupted
            );
            (io.to_string(), transient)
        }
        e @ (russh::Error::Disconnect
        | russh::Error::HUP
        | russh::Error::ConnectionTimeout
        | russh::Error::SendError
        | russh::Error::RecvError) => (e.to_string(), true),
        e => (e.to_string(), false),
    }
}

impl Remote for SshRemote {
    fn run<'a>(
        &'a self,
        node: &'a str,
        command: &'a str,
    ) -> BoxFuture<'a, Result<Output, RemoteError>> {
        Box::pin(async move {
            Ok(self
                .raw(node, command.to_string(), Stdin::Empty)
                .await?
                .text())
        })
    }

    fn run_sudo<'a>(
        &'a self,
        node: &'a str,
        command: &'a str,
    ) -> BoxFuture<'a, Result<Output, RemoteError>> {
        Box::pin(async move {
            if self.is_root() {
                return self.run(node, command).await;
            }
            let (wrapped, stdin) = match &self.shared.config.auth {
                SshAuth::Password(p) => (
                    sudo_command(command, true),
                    Stdin::Bytes(format!("{p}\n").into_bytes()),
                ),
                SshAuth::Key(_) => (sudo_command(command, false), Stdin::Empty),
            };
            Ok(self.raw(node, wrapped, stdin).await?.text())
        })
    }

    fn upload<'a>(
        &'a self,
        node: &'a str,
        local: &'a Path,
        remote_path: &'a str,
    ) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            if let Err(e) = std::fs::metadata(local) {
                return Err(RemoteError::Io {
                    node: node.to_string(),
                    message: format!("upload {}: {e}", local.display()),
                });
            }
            let command = format!("cat > {}", shell_quote(remote_path));
            let out = self
                .raw(node, command.clone(), Stdin::File(local.to_path_buf()))
                .await?
                .text();
            super::checked(node, &command, out).map(drop)
        })
    }

    fn download<'a>(
        &'a self,
        node: &'a str,
        remote_path: &'a str,
        local: &'a Path,
    ) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            let command = format!("cat {}", shell_quote(remote_path));
            let raw = self.raw(node, command.clone(), Stdin::Empty).await?;
            if raw.status != Some(0) {
                return super::checked(node, &command, raw.text()).map(drop);
            }
            std::fs::write(local, &raw.stdout).map_err(|e| RemoteError::Io {
                node: node.to_string(),
                message: format!("download to {}: {e}", local.display()),
            })
        })
    }
}
