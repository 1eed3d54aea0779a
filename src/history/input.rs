//! A history file's bytes, read within a size limit.
//!
//! A history is read whole before it is parsed, and the parsed ops take several times the
//! file's size in memory, so a file larger than the limit ([`DEFAULT_MAX_BYTES`] unless
//! raised, e.g. with `--max-history-mb`) is refused up front, with the limit in the
//! message. A file that is not regular (a pipe, `/dev/zero`) is read only up to the
//! limit, and a NUL byte (never in a text history) ends the read at once. The store's
//! own files must be regular files: a FIFO left there would block its reader forever.

use super::ReadError;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The default limit on a history file's size: 256 MiB (a million-op Jepsen history in
/// EDN is about 150 MB).
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// Where a file to read may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Anything that can be read: a file, a pipe (`<(…)`), a device.
    Any,
    /// A regular file only: a file of the store.
    RegularFile,
}

/// The bytes of `path`, at most `max_bytes` of them; else an error naming the file and
/// the limit.
pub fn read_bounded(path: &Path, max_bytes: u64, source: Source) -> Result<Vec<u8>, ReadError> {
    let file_name = path.display().to_string();
    let err = |message: String| ReadError {
        file: file_name.clone(),
        line: 0,
        message,
    };
    let io_err = |e: std::io::Error| {
        err(match e.kind() {
            std::io::ErrorKind::NotFound => "no such file: check the path".to_string(),
            _ => format!("cannot read: {e}"),
        })
    };
    // Before opening: opening a FIFO for reading blocks until someone writes to it.
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Err(err(
            "cannot read: a folder, not a file; give a history file (EDN or JSON lines)"
                .to_string(),
        ));
    }
    if source == Source::RegularFile && !meta.is_file() {
        return Err(err(
            "not a regular file (a pipe or a device): a stored run keeps regular files".to_string(),
        ));
    }
    let too_large = |size: &str| {
        err(format!(
            "{size}larger than the limit of {}: raise it with --max-history-mb",
            mib(max_bytes)
        ))
    };
    if meta.is_file() && meta.len() > max_bytes {
        return Err(too_large(&format!("{} bytes, ", meta.len())));
    }
    let mut file = File::open(path).map_err(io_err)?;
    let mut bytes = Vec::with_capacity(if meta.is_file() {
        meta.len() as usize
    } else {
        0
    });
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        if chunk[..n].contains(&0) {
            return Err(err(
                "holds a NUL byte: not a text file; expected an EDN or JSON-lines history"
                    .to_string(),
            ));
        }
        if bytes.len() as u64 + n as u64 > max_bytes {
            return Err(too_large(""));
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    Ok(bytes)
}

/// `bytes` in MiB, as the limit's messages give it.
pub fn mib(bytes: u64) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_limit_is_refused_with_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.edn");
        std::fs::write(&path, "x".repeat(3 << 20)).unwrap();
        let e = read_bounded(&path, 2 << 20, Source::Any).unwrap_err();
        assert!(e.message.contains("limit of 2 MiB"), "{e}");
        assert_eq!(
            read_bounded(&path, 3 << 20, Source::Any).unwrap().len(),
            3 << 20
        );
    }

    #[test]
    fn a_device_is_read_only_up_to_a_nul() {
        let e = read_bounded(Path::new("/dev/zero"), DEFAULT_MAX_BYTES, Source::Any).unwrap_err();
        assert!(e.message.contains("NUL"), "{e}");
        let e = read_bounded(Path::new("/dev/null"), 10, Source::RegularFile).unwrap_err();
        assert!(e.message.contains("not a regular file"), "{e}");
    }
}
