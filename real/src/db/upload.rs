//! Uploading large binaries (restate-server is 225 MB) once: the file on the node is kept
//! with its sha256 beside it, and uploaded again only when the local file's hash differs.

use crate::remote::{shell_quote, Remote, RemoteError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The sha256 of a local file, in hex; memoised per path for the process's life.
fn local_sha256(node: &str, path: &Path) -> Result<String, RemoteError> {
    static CACHE: Mutex<BTreeMap<PathBuf, String>> = Mutex::new(BTreeMap::new());
    if let Some(hash) = CACHE.lock().unwrap().get(path) {
        return Ok(hash.clone());
    }
    let io = |e: std::io::Error| RemoteError::Io {
        node: node.to_string(),
        message: format!("upload {}: {e}", path.display()),
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    CACHE
        .lock()
        .unwrap()
        .insert(path.to_path_buf(), hash.clone());
    Ok(hash)
}

/// Puts the local executable `local` at `remote_path` on `node` unless the same file (by
/// sha256) is there already. Returns whether it uploaded.
pub async fn upload_cached(
    remote: &dyn Remote,
    node: &str,
    local: &Path,
    remote_path: &str,
) -> Result<bool, RemoteError> {
    let hash = local_sha256(node, local)?;
    let marker = format!("{remote_path}.sha256");
    let check = format!(
        "test -x {path} && test \"$(cat {marker} 2>/dev/null)\" = {hash}",
        path = shell_quote(remote_path),
        marker = shell_quote(&marker),
    );
    if remote.run(node, &check).await?.success() {
        return Ok(false);
    }
    let partial = format!("{remote_path}.partial");
    remote.upload(node, local, &partial).await?;
    let install = format!(
        "chmod 755 {partial} && mv -f {partial} {path} && printf '%s' {hash} > {marker}",
        partial = shell_quote(&partial),
        path = shell_quote(remote_path),
        marker = shell_quote(&marker),
    );
    remote.exec(node, &install).await?;
    Ok(true)
}
