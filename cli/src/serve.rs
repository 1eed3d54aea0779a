//! `serve`: the store over HTTP, for a person with a browser (Jepsen's `lein run serve`).
//!
//! - `/` lists the runs (`<test>/<timestamp>/` folders), newest first, coloured by their
//!   `results.json` verdict, each with links to its `report.html`, its files and a zip;
//! - `/files/<path>` serves a file of the store, or lists a folder;
//! - `/zip/<test>/<run>` streams a run folder as a zip (written on a blocking thread,
//!   piped to the response: nothing is buffered whole).
//!
//! Nothing outside the store is served: a path with a `.` or `..` part (also when
//! percent-encoded) is refused, and every path is resolved (symlinks followed) and must
//! still lie in the store. The store's own `latest` links are relative and stay inside.

use crate::exit::Failure;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use clap::Args;
use jepsen_core::report::{folder_listing, store_index};
use jepsen_core::store::{list_folder, list_runs};
use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// The port to listen on (0: any free port, printed at start).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The store folder to serve.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

pub fn run(args: ServeArgs) -> Result<i32, Failure> {
    let root = fs::canonicalize(&args.store)
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| {
            Failure::bad_input(format!(
                "--store {}: no such folder (runs are stored there by sim and real runs)",
                args.store.display()
            ))
        })?;
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = std::net::TcpListener::bind(addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| Failure::bad_input(format!("--bind/--port: cannot listen on {addr}: {e}")))?;
    let local = listener.local_addr().unwrap_or(addr);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::bad_input(format!("cannot start the HTTP server: {e}")))?;
    runtime
        .block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            println!("serving {} at http://{local}/", root.display());
            tracing::info!(store = %root.display(), "serving at http://{local}/");
            axum::serve(listener, router(root))
                .with_graceful_shutdown(async {
                    let _ = tokio::signal::ctrl_c().await;
                })
                .await
        })
        .map_err(|e| Failure::bad_input(format!("the HTTP server stopped: {e}")))?;
    Ok(0)
}

/// The routes, serving the store at `root` (a canonical path).
pub fn router(root: PathBuf) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/files", get(|| async { Redirect::permanent("/files/") }))
        .route("/files/", get(store_listing))
        .route("/files/{*path}", get(file_or_folder))
        .route("/zip/{test}/{run}", get(zip_run))
        .with_state(Arc::new(root))
}

type Root = Arc<PathBuf>;

/// Why a path is not served.
#[derive(Debug)]
enum Refused {
    /// It names something outside the store (or tries to, with `..`).
    Outside,
    NotFound,
    /// A FIFO, socket or device: reading it could block the server forever.
    NotAFile,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Outside => (StatusCode::FORBIDDEN, "outside the store\n").into_response(),
            Refused::NotFound => (StatusCode::NOT_FOUND, "not in the store\n").into_response(),
            Refused::NotAFile => (
                StatusCode::FORBIDDEN,
                "not a regular file or folder: only those are served\n",
            )
                .into_response(),
        }
    }
}

/// The real path of `relative` (already percent-decoded, `/`-separated) in the store at
/// `root`, if it exists, lies inside the store once every symlink is followed, and is a
/// regular file or a folder.
fn resolve(root: &Path, relative: &str) -> Result<PathBuf, Refused> {
    let mut path = root.to_path_buf();
    for part in relative.split('/').filter(|p| !p.is_empty()) {
        if part == "." || part == ".." || part.contains(['\\', '\0']) {
            return Err(Refused::Outside);
        }
        path.push(part);
    }
    let real = fs::canonicalize(&path).map_err(|_| Refused::NotFound)?;
    if !real.starts_with(root) {
        return Err(Refused::Outside);
    }
    let meta = fs::metadata(&real).map_err(|_| Refused::NotFound)?;
    if meta.is_file() || meta.is_dir() {
        Ok(real)
    } else {
        Err(Refused::NotAFile)
    }
}

async fn index(State(root): State<Root>) -> Response {
    match list_runs(&root) {
        Ok(runs) => Html(store_index(&root.display().to_string(), &runs)).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the store: {e}\n"),
        )
            .into_response(),
    }
}

async fn store_listing(State(root): State<Root>) -> Response {
    folder_page(&root, &root, "")
}

async fn file_or_folder(
    State(root): State<Root>,
    UrlPath(relative): UrlPath<String>,
    uri: Uri,
    request: Request,
) -> Response {
    let path = match resolve(&root, &relative) {
        Ok(path) => path,
        Err(refused) => return refused.into_response(),
    };
    if path.is_dir() {
        // Relative links in a listing need the folder's URL to end in `/`.
        if !uri.path().ends_with('/') {
            return Redirect::permanent(&format!("{}/", uri.path())).into_response();
        }
        return folder_page(&root, &path, &relative);
    }
    let served = ServeFile::new_with_mime(&path, &mime_of(&path))
        .oneshot(request)
        .await;
    match served {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

/// The content type of a store file by its extension; the store's own text formats (EDN,
/// JSON lines, logs) as plain text, so that a browser shows them instead of saving them.
fn mime_of(path: &Path) -> mime::Mime {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    match ext {
        "" | "edn" | "jsonl" | "log" | "txt" | "out" | "err" => mime::TEXT_PLAIN_UTF_8,
        "html" | "htm" => mime::TEXT_HTML_UTF_8,
        "json" => mime::APPLICATION_JSON,
        "svg" => mime::IMAGE_SVG,
        "png" => mime::IMAGE_PNG,
        "css" => mime::TEXT_CSS_UTF_8,
        "js" => mime::APPLICATION_JAVASCRIPT_UTF_8,
        _ => mime::APPLICATION_OCTET_STREAM,
    }
}

/// The listing of the folder `dir` (a real path in the store), shown at `/files/<relative>`.
fn folder_page(root: &Path, dir: &Path, relative: &str) -> Response {
    let entries = match list_folder(dir) {
        Ok(entries) => entries,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the folder: {e}\n"),
            )
                .into_response()
        }
    };
    // A run folder (`<test>/<run>`) can be downloaded whole.
    let run = dir
        .parent()
        .filter(|test_dir| test_dir.parent() == Some(root))
        .and_then(|test_dir| Some((test_dir.file_name()?.to_str()?, dir.file_name()?.to_str()?)));
    Html(folder_listing(relative, run, dir == root, &entries)).into_response()
}

async fn zip_run(
    State(root): State<Root>,
    UrlPath((test, run)): UrlPath<(String, String)>,
) -> Response {
    if test.contains('/') || run.contains('/') {
        return Refused::Outside.into_response();
    }
    let dir = match resolve(&root, &format!("{test}/{run}")) {
        Ok(dir) if dir.is_dir() => dir,
        Ok(_) => return Refused::NotFound.into_response(),
        Err(refused) => return refused.into_response(),
    };
    // The names in the zip are the real ones (`latest` resolved): `<test>/<run>/...`.
    let relative = dir
        .strip_prefix(root.as_path())
        .unwrap_or(&dir)
        .to_path_buf();
    let prefix: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let file_name = format!("{}.zip", prefix.join("-"));
    let (reader, writer) = tokio::io::duplex(64 * 1024);
    let root = root.as_path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let sink = tokio_util::io::SyncIoBridge::new(writer);
        if let Err(e) = write_zip(&root, &dir, &format!("{}/", prefix.join("/")), sink) {
            // The client sees a truncated zip; most often it went away.
            tracing::warn!(folder = %dir.display(), "zip download stopped: {e}");
        }
    });
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file_name.replace('"', "")),
            ),
        ],
        Body::from_stream(tokio_util::io::ReaderStream::new(reader)),
    )
        .into_response()
}

/// Writes the folder `dir` as a zip to `out`, its entries named `prefix` + their path
/// below `dir`. A symlink is followed only to a file inside the store at `root`.
fn write_zip<W: Write>(
    root: &Path,
    dir: &Path,
    prefix: &str,
    out: W,
) -> zip::result::ZipResult<()> {
    let mut zip = ZipWriter::new_stream(out);
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    zip.add_directory(prefix, options)?;
    add_folder(&mut zip, root, dir, prefix, options)?;
    let mut out = zip.finish()?.into_inner();
    out.flush()?;
    Ok(())
}

fn add_folder<W: Write>(
    zip: &mut ZipWriter<zip::write::StreamWriter<W>>,
    root: &Path,
    dir: &Path,
    prefix: &str,
    options: SimpleFileOptions,
) -> zip::result::ZipResult<()> {
    let mut entries = fs::read_dir(dir)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let kind = entry.file_type()?;
        let inner = format!("{prefix}{name}");
        if kind.is_dir() {
            zip.add_directory(format!("{inner}/"), options)?;
            add_folder(zip, root, &entry.path(), &format!("{inner}/"), options)?;
            continue;
        }
        let source = if kind.is_symlink() {
            match fs::canonicalize(entry.path()) {
                Ok(target) if target.starts_with(root) && target.is_file() => target,
                _ => continue,
            }
        } else if kind.is_file() {
            entry.path()
        } else {
            continue;
        };
        let size = fs::metadata(&source)?.len();
        zip.start_file(inner, options.large_file(size >= u32::MAX as u64))?;
        io::copy(&mut fs::File::open(&source)?, zip)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_dot_parts_and_paths_that_leave_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap().join("store");
        fs::create_dir_all(root.join("t/r1")).unwrap();
        fs::write(root.join("t/r1/a.txt"), "a").unwrap();
        fs::write(dir.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink("../secret", root.join("out")).unwrap();
        std::os::unix::fs::symlink("r1", root.join("t/latest")).unwrap();
        assert_eq!(
            resolve(&root, "t/r1/a.txt").unwrap(),
            root.join("t/r1/a.txt")
        );
        assert_eq!(
            resolve(&root, "t/latest/a.txt").unwrap(),
            root.join("t/r1/a.txt")
        );
        assert!(matches!(resolve(&root, "../secret"), Err(Refused::Outside)));
        assert!(matches!(
            resolve(&root, "t/../../secret"),
            Err(Refused::Outside)
        ));
        assert!(matches!(resolve(&root, "t/./r1"), Err(Refused::Outside)));
        assert!(matches!(resolve(&root, "out"), Err(Refused::Outside)));
        assert!(matches!(resolve(&root, "t/r2"), Err(Refused::NotFound)));
    }

    #[test]
    fn resolve_refuses_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        let fifo = root.join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(matches!(resolve(&root, "fifo"), Err(Refused::NotAFile)));
    }
}
