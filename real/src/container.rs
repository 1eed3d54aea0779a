//! restate-server in a container on each node (`--image`, `--image-tarball`), the way
//! restatedev/jepsen runs it: Docker (or podman-docker) on the node, the image tarball
//! uploaded and `docker load`ed once (skipped when the node has that image already), then
//! `docker run --network=host` with the node's config file and data folder as volumes. It
//! is the nemesis's [`DbControl`] for such a server: `docker kill -s KILL`, `docker start`,
//! `docker kill -s STOP` / `-s CONT` (the process is stopped, not the container: it keeps
//! its state "running", and the kernel still accepts TCP connections for it).
//!
//! Everything goes through the [`Remote`], so it works over SSH and with `--no-ssh` alike.

use crate::nemesis::DbControl;
use crate::remote::{shell_quote, BoxFuture, Remote, RemoteError};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where the container reads its config and keeps its data (the volumes' container side).
pub const CONFIG_IN_CONTAINER: &str = "/config.toml";
pub const DATA_IN_CONTAINER: &str = "/restate-data";

/// How the server's container runs on one node. Paths are on the node, absolute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSpec {
    /// The container's name. Unique among nodes that share a container storage.
    pub name: String,
    /// A folder of the node's own, where the image tarball is uploaded before loading.
    pub dir: String,
    /// The config file, mounted at [`CONFIG_IN_CONTAINER`] (the caller writes it).
    pub config_file: String,
    /// The data folder, mounted at [`DATA_IN_CONTAINER`] (made if missing).
    pub data_dir: String,
    /// `--env NAME=VALUE` besides `DO_NOT_TRACK=true`.
    pub env: Vec<(String, String)>,
    /// Arguments after the image and `--config-file /config.toml`.
    pub args: Vec<String>,
}

impl ContainerSpec {
    /// The spec restatedev/jepsen uses, in `dir` (its `/opt/restate`): container
    /// `restate-<node>` (the node's name or address, as far as a container name allows),
    /// `dir/config.toml`, `dir/restate-data`, no extra env or args.
    pub fn in_dir(node: &str, dir: &str) -> ContainerSpec {
        let safe: String = node
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let dir = dir.trim_end_matches('/');
        ContainerSpec {
            name: format!("restate-{safe}"),
            dir: dir.to_string(),
            config_file: format!("{dir}/config.toml"),
            data_dir: format!("{dir}/restate-data"),
            env: Vec::new(),
            args: Vec::new(),
        }
    }
}

/// What [`ContainerServer::install`] did on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installed {
    /// The tarball was uploaded and loaded.
    Loaded,
    /// The node had the image already (the same image id as the tarball's): nothing done.
    AlreadyPresent,
    /// No tarball: the image was there, or was pulled.
    Pulled,
}

/// Why the container layer failed on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerError {
    /// The node has no docker command: the nodes are not set up for `--image`.
    NoDocker { node: String, docker: String },
    /// The docker command is there but does not reach a container engine.
    NoEngine {
        node: String,
        docker: String,
        stderr: String,
    },
    /// The image tarball (on this machine) cannot be read, or is not an image archive.
    BadTarball { path: PathBuf, message: String },
    /// After loading the tarball, the node still has no image of that name.
    ImageNotInTarball {
        node: String,
        image: String,
        tarball: PathBuf,
        tags: Vec<String>,
    },
    /// A command on the node failed.
    Remote(RemoteError),
}

impl fmt::Display for ContainerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContainerError::NoDocker { node, docker } => write!(
                f,
                "node {node} has no {docker}: install podman and podman-docker (or Docker) there"
            ),
            ContainerError::NoEngine {
                node,
                docker,
                stderr,
            } => write!(
                f,
                "on node {node}, `{docker} info` fails, so it reaches no container engine: {}; install podman and podman-docker (or start the Docker engine)",
                stderr.trim_end()
            ),
            ContainerError::BadTarball { path, message } => {
                write!(f, "--image-tarball {}: {message}", path.display())
            }
            ContainerError::ImageNotInTarball {
                node,
                image,
                tarball,
                tags,
            } => write!(
                f,
                "on node {node}, loading {} gave no image {image} (the tarball holds {}): give --image one of them",
                tarball.display(),
                if tags.is_empty() {
                    "no tagged image".to_string()
                } else {
                    tags.join(", ")
                }
            ),
            ContainerError::Remote(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ContainerError {}

impl From<RemoteError> for ContainerError {
    fn from(e: RemoteError) -> ContainerError {
        ContainerError::Remote(e)
    }
}

/// The image a `docker save` tarball holds: its id (the config's digest) and tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarballImage {
    /// Hex digits, without `sha256:`.
    pub id: String,
    pub tags: Vec<String>,
}

/// Reads the image id and tags from a `docker save` / `podman save` (docker-archive)
/// tarball's `manifest.json`, without reading its layers.
pub fn tarball_image(path: &Path) -> Result<TarballImage, ContainerError> {
    let bad = |message: String| ContainerError::BadTarball {
        path: path.to_path_buf(),
        message,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries_with_seek()
        .map_err(|e| bad(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let is_manifest = entry
            .path()
            .map(|p| p == Path::new("manifest.json"))
            .unwrap_or(false);
        if !is_manifest {
            continue;
        }
        let manifest: serde_json::Value =
            serde_json::from_reader(&mut entry).map_err(|e| bad(format!("manifest.json: {e}")))?;
        let image = manifest
            .as_array()
            .and_then(|images| images.first())
            .ok_or_else(|| bad("manifest.json lists no image".into()))?;
        // "<hex>.json" (docker-archive) or "blobs/sha256/<hex>" (Docker 25's OCI layout).
        let config = image["Config"]
            .as_str()
            .ok_or_else(|| bad("manifest.json has no Config".into()))?;
        let id = config.rsplit('/').next().unwrap_or(config);
        let id = id.strip_suffix(".json").unwrap_or(id).to_string();
        let tags = image["RepoTags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| t.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        return Ok(TarballImage { id, tags });
    }
    Err(bad(
        "no manifest.json: not a `docker save` archive".to_string()
    ))
}

/// restate-server in a container on each node.
pub struct ContainerServer {
    remote: Arc<dyn Remote>,
    /// The docker command on the nodes (`docker`, `podman`, or a path).
    docker: String,
    image: String,
    tarball: Option<PathBuf>,
    specs: BTreeMap<String, ContainerSpec>,
}

impl ContainerServer {
    /// Runs `image` (loaded from `tarball` when given) on the nodes of `specs`, with the
    /// command `docker`.
    pub fn new(
        remote: Arc<dyn Remote>,
        image: impl Into<String>,
        tarball: Option<PathBuf>,
        specs: BTreeMap<String, ContainerSpec>,
    ) -> ContainerServer {
        ContainerServer {
            remote,
            docker: "docker".to_string(),
            image: image.into(),
            tarball,
            specs,
        }
    }

    /// Uses `docker` (a program name or path: `podman`, `/usr/bin/docker`) as the docker
    /// command on the nodes.
    pub fn with_docker(mut self, docker: impl Into<String>) -> ContainerServer {
        self.docker = docker.into();
        self
    }

    pub fn image(&self) -> &str {
        &self.image
    }

    pub fn spec(&self, node: &str) -> Result<&ContainerSpec, RemoteError> {
        self.specs.get(node).ok_or_else(|| RemoteError::Io {
            node: node.to_string(),
            message: "no container is configured for this node".to_string(),
        })
    }

    /// `docker ARGS…`, quoted for the node's shell.
    fn docker_command(&self, args: &[&str]) -> String {
        let mut words = vec![shell_quote(&self.docker)];
        words.extend(args.iter().map(|a| shell_quote(a)));
        words.join(" ")
    }

    /// Checks that the node has a working docker command, then makes sure it has the
    /// image: from the tarball (uploaded to the spec's `dir` and loaded, unless the node
    /// has an image with the tarball's id already), or else pulled if missing.
    pub async fn install(&self, node: &str) -> Result<Installed, ContainerError> {
        let spec = self.spec(node)?;
        let found = self
            .remote
            .run_sudo(
                node,
                &format!("command -v {} >/dev/null", shell_quote(&self.docker)),
            )
            .await?;
        if !found.success() {
            return Err(ContainerError::NoDocker {
                node: node.to_string(),
                docker: self.docker.clone(),
            });
        }
        let info = self
            .remote
            .run_sudo(
                node,
                &format!("{} >/dev/null", self.docker_command(&["info"])),
            )
            .await?;
        if !info.success() {
            return Err(ContainerError::NoEngine {
                node: node.to_string(),
                docker: self.docker.clone(),
                stderr: info.stderr,
            });
        }
        let present = self.node_image_id(node).await?;
        let Some(tarball) = &self.tarball else {
            if present.is_none() {
                self.remote
                    .sudo(node, &self.docker_command(&["pull", &self.image]))
                    .await?;
            }
            return Ok(Installed::Pulled);
        };
        let in_tarball = tarball_image(tarball)?;
        if present.as_deref() == Some(in_tarball.id.as_str()) {
            return Ok(Installed::AlreadyPresent);
        }
        let remote_tar = format!("{}/restate-image.tar", spec.dir);
        self.remote
            .sudo(node, &format!("mkdir -p {}", shell_quote(&spec.dir)))
            .await?;
        self.remote.upload(node, tarball, &remote_tar).await?;
        let load = format!(
            "{} >/dev/null; status=$?; rm -f {}; exit $status",
            self.docker_command(&["load", "--input", &remote_tar]),
            shell_quote(&remote_tar)
        );
        self.remote.sudo(node, &load).await?;
        if self.node_image_id(node).await?.is_none() {
            return Err(ContainerError::ImageNotInTarball {
                node: node.to_string(),
                image: self.image.clone(),
                tarball: tarball.clone(),
                tags: in_tarball.tags,
            });
        }
        Ok(Installed::Loaded)
    }

    /// The id (hex, without `sha256:`) of the node's image of our name, if it has one.
    async fn node_image_id(&self, node: &str) -> Result<Option<String>, RemoteError> {
        let inspect =
            self.docker_command(&["image", "inspect", "--format", "{{.Id}}", &self.image]);
        let out = self
            .remote
            .run_sudo(node, &format!("{inspect} 2>/dev/null"))
            .await?;
        let id = out.stdout.trim();
        Ok((out.success() && !id.is_empty())
            .then(|| id.strip_prefix("sha256:").unwrap_or(id).to_string()))
    }

    /// Starts the server's container on `node` (detached, host network), replacing any
    /// container of the same name left from before; makes the data folder if missing.
    pub async fn run(&self, node: &str) -> Result<(), ContainerError> {
        let spec = self.spec(node)?;
        let volume = |from: &str, to: &str| format!("{from}:{to}");
        let mut args: Vec<String> = vec![
            "run".into(),
            format!("--name={}", spec.name),
            "--network=host".into(),
            "--detach".into(),
            "--volume".into(),
            volume(&spec.config_file, CONFIG_IN_CONTAINER),
            "--volume".into(),
            volume(&spec.data_dir, DATA_IN_CONTAINER),
            "--env".into(),
            "DO_NOT_TRACK=true".into(),
        ];
        for (name, value) in &spec.env {
            args.push("--env".into());
            args.push(format!("{name}={value}"));
        }
        args.push(self.image.clone());
        args.push("--config-file".into());
        args.push(CONFIG_IN_CONTAINER.into());
        args.extend(spec.args.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let command = format!(
            "{} >/dev/null 2>&1; mkdir -p {} && {} >/dev/null",
            self.docker_command(&["rm", "--force", &spec.name]),
            shell_quote(&spec.data_dir),
            self.docker_command(&args)
        );
        self.remote.sudo(node, &command).await?;
        Ok(())
    }

    /// Whether the container on `node` is running (a SIGSTOPped server counts as running).
    pub async fn is_running(&self, node: &str) -> Result<bool, RemoteError> {
        let spec = self.spec(node)?;
        let inspect = self.docker_command(&[
            "container",
            "inspect",
            "--format",
            "{{.State.Running}}",
            &spec.name,
        ]);
        let out = self
            .remote
            .run_sudo(node, &format!("{inspect} 2>/dev/null"))
            .await?;
        Ok(out.success() && out.stdout.trim() == "true")
    }

    /// Removes the container on `node`, running or not (`docker rm -f`); fine if it is gone
    /// already. Its data folder stays.
    pub async fn remove(&self, node: &str) -> Result<(), RemoteError> {
        let spec = self.spec(node)?;
        let command = format!(
            "{} >/dev/null 2>&1 || ! {} >/dev/null 2>&1",
            self.docker_command(&["rm", "--force", &spec.name]),
            self.docker_command(&["container", "inspect", &spec.name]),
        );
        self.remote.sudo(node, &command).await.map(drop)
    }

    /// The container's output so far (`docker logs`, stdout and stderr interleaved).
    pub async fn logs(&self, node: &str) -> Result<String, RemoteError> {
        let spec = self.spec(node)?;
        let command = format!("{} 2>&1", self.docker_command(&["logs", &spec.name]));
        let out = self.remote.sudo(node, &command).await?;
        Ok(without_podman_docker_notice(&out.stdout).to_string())
    }

    /// `docker kill -s SIGNAL` of the node's container.
    async fn signal(&self, node: &str, signal: &str) -> Result<(), RemoteError> {
        let spec = self.spec(node)?;
        let command = format!(
            "{} >/dev/null",
            self.docker_command(&["kill", "--signal", signal, &spec.name])
        );
        self.remote.sudo(node, &command).await.map(drop)
    }
}

/// `text` without the line podman-docker's `docker` prints to stderr at every call
/// ("Emulate Docker CLI using podman. …"), which `2>&1` mixes into the output.
fn without_podman_docker_notice(text: &str) -> &str {
    match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("Emulate Docker CLI using podman") => rest,
        _ => text,
    }
}

impl DbControl for ContainerServer {
    /// `docker kill -s KILL`, then waits (up to 10 s) until the container has stopped. A
    /// container that is not running is left as it is.
    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            let spec = self.spec(node)?;
            let command = format!(
                "{} >/dev/null 2>&1; timeout 10 {} >/dev/null",
                self.docker_command(&["kill", "--signal", "KILL", &spec.name]),
                self.docker_command(&["wait", &spec.name]),
            );
            self.remote.sudo(node, &command).await.map(drop)
        })
    }

    /// `docker start`: the same container, so the same command line, config and data.
    /// Does nothing to a running container.
    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(async move {
            let spec = self.spec(node)?;
            let command = format!("{} >/dev/null", self.docker_command(&["start", &spec.name]));
            self.remote.sudo(node, &command).await.map(drop)
        })
    }

    /// SIGSTOP to the server (`docker kill -s STOP`), as restatedev/jepsen does.
    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(self.signal(node, "STOP"))
    }

    /// SIGCONT to the server (`docker kill -s CONT`).
    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), RemoteError>> {
        Box::pin(self.signal(node, "CONT"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_name_containers_after_their_node() {
        let spec = ContainerSpec::in_dir("10.0.0.2", "/opt/restate/");
        assert_eq!(spec.name, "restate-10.0.0.2");
        assert_eq!(spec.config_file, "/opt/restate/config.toml");
        assert_eq!(spec.data_dir, "/opt/restate/restate-data");
        assert_eq!(ContainerSpec::in_dir("n1:22", "/x").name, "restate-n1_22");
    }

    fn write_tarball(dir: &Path, manifest: Option<&str>) -> PathBuf {
        let path = dir.join("image.tar");
        let mut builder = tar::Builder::new(std::fs::File::create(&path).unwrap());
        let mut add = |name: &str, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, name, data).unwrap();
        };
        add("abc/layer.tar", &[7u8; 5000]);
        if let Some(manifest) = manifest {
            add("manifest.json", manifest.as_bytes());
        }
        builder.finish().unwrap();
        path
    }

    #[test]
    fn the_image_id_and_tags_come_from_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let podman = r#"[{"Config":"375493d3.json","RepoTags":["localhost/restate-jepsen:1.7.12"],"Layers":["bb5c.tar"]}]"#;
        let image = tarball_image(&write_tarball(dir.path(), Some(podman))).unwrap();
        assert_eq!(image.id, "375493d3");
        assert_eq!(image.tags, vec!["localhost/restate-jepsen:1.7.12"]);
        let oci = r#"[{"Config":"blobs/sha256/9f86d081","RepoTags":null,"Layers":[]}]"#;
        let image = tarball_image(&write_tarball(dir.path(), Some(oci))).unwrap();
        assert_eq!(image.id, "9f86d081");
        assert!(image.tags.is_empty());
    }

    #[test]
    fn a_file_that_is_no_image_archive_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let err = tarball_image(&write_tarball(dir.path(), None)).unwrap_err();
        assert!(err.to_string().contains("no manifest.json"), "{err}");
        let err = tarball_image(&dir.path().join("missing.tar")).unwrap_err();
        assert!(err.to_string().starts_with("--image-tarball "), "{err}");
    }

    #[test]
    fn the_podman_docker_notice_is_dropped_from_logs() {
        let logs = "Emulate Docker CLI using podman. Create /etc/containers/nodocker to quiet msg.\nline 1\n";
        assert_eq!(without_podman_docker_notice(logs), "line 1\n");
        assert_eq!(without_podman_docker_notice("line 1\n"), "line 1\n");
    }
}
