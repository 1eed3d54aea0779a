//! A node's container engine setup, so that `docker` (podman-docker) works in an SSH
//! session on a netns node as on a machine of its own, without touching the host's config:
//! a `containers.conf` (runc, cgroupfs, no default ulimits: what podman needs on this kind
//! of host) and a `storage.conf` with the node's own image and container storage in its
//! folder. The node's sshd hands both to every session (`SetEnv`, see `sshd.rs`).
//!
//! Why storage of its own: podman keeps its state database in the storage folder but its
//! "alive" marker, locks and runc state under `/run`, which is private to each node. Nodes
//! sharing one storage would each take the others' running containers for leftovers of a
//! reboot and reset them. So each node loads its image into its own storage, like separate
//! machines do; `lock_type = "file"` keeps the locks under the node's `/run` too (the
//! default, shared memory in `/dev/shm`, is common to all nodes).

use super::ClusterError;
use std::path::{Path, PathBuf};

/// The files of one node's container engine, in `<node dir>/containers/`.
pub struct ContainerFiles {
    pub dir: PathBuf,
    /// For `CONTAINERS_CONF`.
    pub containers_conf: PathBuf,
    /// For `CONTAINERS_STORAGE_CONF`.
    pub storage_conf: PathBuf,
}

impl ContainerFiles {
    pub fn in_dir(node_dir: &Path) -> ContainerFiles {
        let dir = node_dir.join("containers");
        ContainerFiles {
            containers_conf: dir.join("containers.conf"),
            storage_conf: dir.join("storage.conf"),
            dir,
        }
    }

    /// Writes both files; the storage itself is made by podman on first use.
    pub fn write(&self) -> Result<(), ClusterError> {
        let fail = |path: &Path, e: std::io::Error| {
            ClusterError::Failed(format!("{}: {e}", path.display()))
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| fail(&self.dir, e))?;
        let containers_conf = "# Written by `restate-jepsen cluster up`.\n\
             [containers]\n\
             default_ulimits = []\n\
             log_driver = \"k8s-file\"\n\
             [engine]\n\
             runtime = \"runc\"\n\
             cgroup_manager = \"cgroupfs\"\n\
             events_logger = \"file\"\n\
             lock_type = \"file\"\n";
        std::fs::write(&self.containers_conf, containers_conf)
            .map_err(|e| fail(&self.containers_conf, e))?;
        let storage_conf = format!(
            "# Written by `restate-jepsen cluster up`.\n\
             [storage]\n\
             driver = \"overlay\"\n\
             graphroot = \"{}\"\n\
             runroot = \"/run/containers/storage\"\n",
            self.dir.join("storage").display()
        );
        std::fs::write(&self.storage_conf, storage_conf).map_err(|e| fail(&self.storage_conf, e))
    }
}

/// Removes the cgroups podman made for the node's containers (`libpod_parent/libpod-<id>`
/// in every cgroup hierarchy) once their processes are gone: a container that was still
/// running when its node was killed leaves them behind, empty. Ids come from the node's
/// container storage; a node that never ran a container has none.
pub fn remove_leftover_cgroups(node_dir: &Path) -> Result<(), ClusterError> {
    let containers = ContainerFiles::in_dir(node_dir)
        .dir
        .join("storage/overlay-containers");
    let Ok(entries) = std::fs::read_dir(&containers) else {
        return Ok(());
    };
    let ids: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let cgroup_root = Path::new("/sys/fs/cgroup");
    // cgroup v2 at the root, or v1 (and a v2 "unified") one folder down.
    let mut hierarchies = vec![cgroup_root.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(cgroup_root) {
        hierarchies.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for hierarchy in &hierarchies {
        for id in &ids {
            let cgroup = hierarchy.join("libpod_parent").join(format!("libpod-{id}"));
            if cgroup.is_dir() {
                remove_cgroup(&cgroup)?;
            }
        }
    }
    Ok(())
}

/// `rmdir` of a cgroup and the cgroups below it, deepest first (their files are not files).
fn remove_cgroup(cgroup: &Path) -> Result<(), ClusterError> {
    if let Ok(entries) = std::fs::read_dir(cgroup) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&entry.path())?;
            }
        }
    }
    std::fs::remove_dir(cgroup)
        .map_err(|e| ClusterError::Failed(format!("cgroup {}: {e}", cgroup.display())))
}
