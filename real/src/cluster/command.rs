//! Running the system tools the local cluster is made of (`ip`, `ssh-keygen`, `kill`), with
//! a one-line error that names the command, its exit status and its stderr.

use super::ClusterError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `program args…` to completion; its stdout on success.
pub fn run(program: &str, args: &[&str]) -> Result<String, ClusterError> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| ClusterError::Failed(format!("cannot run {program}: {e}")))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    Err(ClusterError::Failed(format!(
        "`{program} {}` failed ({}): {first}",
        args.join(" "),
        output.status
    )))
}

/// Where `name` is: searched in `PATH`, then in the sbin folders (root tools live there but
/// are not always on a non-login `PATH`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The effective user id of this process, from `/proc/self/status`.
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}
