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
use jepsen_core::checker::Validity;
use jepsen_core::store::{LATEST, RESULTS_JSON};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use std::fs;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

/// A run's report, written beside its results (by the report module).
const REPORT_HTML: &str = "report.html";

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
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Outside => (StatusCode::FORBIDDEN, "outside the store\n").into_response(),
            Refused::NotFound => (StatusCode::NOT_FOUND, "not in the store\n").into_response(),
        }
    }
}

/// The real path of `relative` (already percent-decoded, `/`-separated) in the store at
/// `root`, if it exists and lies inside the store once every symlink is followed.
fn resolve(root: &Path, relative: &str) -> Result<PathBuf, Refused> {
    let mut path = root.to_path_buf();
    for part in relative.split('/').filter(|p| !p.is_empty()) {
        if part == "." || part == ".." || part.contains(['\\', '\0']) {
            return Err(Refused::Outside);
        }
        path.push(part);
    }
    let real = fs::canonicalize(&path).map_err(|_| Refused::NotFound)?;
    if real.starts_with(root) {
        Ok(real)
    } else {
        Err(Refused::Outside)
    }
}

/// One stored run, as the index shows it.
#[derive(Debug)]
struct RunEntry {
    test: String,
    run: String,
    /// `None`: no readable `results.json` (still running, or crashed).
    verdict: Option<Validity>,
    has_report: bool,
}

/// Every `<test>/<run>/` folder of the store, newest first (run folders are named by
/// UTC timestamp, so by name), then by test name. Links (`latest`) and dot files are
/// not runs.
fn list_runs(root: &Path) -> io::Result<Vec<RunEntry>> {
    let mut runs = Vec::new();
    for test in real_folders(root)? {
        for run in real_folders(&root.join(&test))? {
            let dir = root.join(&test).join(&run);
            runs.push(RunEntry {
                verdict: read_verdict(&dir.join(RESULTS_JSON)),
                has_report: dir.join(REPORT_HTML).is_file(),
                test: test.clone(),
                run,
            });
        }
    }
    runs.sort_by(|a, b| b.run.cmp(&a.run).then_with(|| a.test.cmp(&b.test)));
    Ok(runs)
}

/// The names of the folders (not links, not dot files, UTF-8 names only) in `dir`.
fn real_folders(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name == LATEST || name.starts_with('.') || !entry.file_type()?.is_dir() {
            continue;
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

/// The top-level verdict of a `results.json`: `valid?` true, false or "unknown".
fn read_verdict(path: &Path) -> Option<Validity> {
    let text = fs::read_to_string(path).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let valid = json.get("valid?").or_else(|| json.get("valid"))?;
    match valid {
        serde_json::Value::Bool(true) => Some(Validity::Valid),
        serde_json::Value::Bool(false) => Some(Validity::Invalid),
        serde_json::Value::String(s) if s.trim_start_matches(':') == "unknown" => {
            Some(Validity::Unknown)
        }
        _ => None,
    }
}

fn verdict_class(verdict: Option<Validity>) -> &'static str {
    match verdict {
        Some(Validity::Valid) => "valid",
        Some(Validity::Invalid) => "invalid",
        Some(Validity::Unknown) => "unknown",
        None => "incomplete",
    }
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
td,th{padding:.3em .8em;text-align:left}tr.valid{background:#c8f0c8}\
tr.invalid{background:#f6c0c0}tr.unknown{background:#fbe3a8}tr.incomplete{background:#e4e4e4}\
a{color:#124}";

async fn index(State(root): State<Root>) -> Response {
    let runs = match list_runs(&root) {
        Ok(runs) => runs,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the store: {e}\n"),
            )
                .into_response()
        }
    };
    let mut page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>restate-jepsen store</title>\
         <style>{STYLE}</style></head><body><h1>Runs in {}</h1>",
        escape(&root.display().to_string())
    );
    if runs.is_empty() {
        page.push_str("<p>No runs yet.</p>");
    } else {
        page.push_str(
            "<table><tr><th>time (UTC)</th><th>test</th><th>verdict</th><th></th></tr>\n",
        );
    }
    for r in &runs {
        let href = format!("{}/{}", encode(&r.test), encode(&r.run));
        let report = if r.has_report {
            format!("<a class=\"report\" href=\"/files/{href}/{REPORT_HTML}\">report</a> ")
        } else {
            String::new()
        };
        page.push_str(&format!(
            "<tr class=\"{class}\" data-run=\"{test}/{run}\"><td>{time}</td><td>{test}</td>\
             <td>{class}</td><td>{report}<a class=\"files\" href=\"/files/{href}/\">files</a> \
             <a class=\"zip\" href=\"/zip/{href}\">zip</a></td></tr>\n",
            class = verdict_class(r.verdict),
            test = escape(&r.test),
            run = escape(&r.run),
            time = escape(&readable_time(&r.run)),
        ));
    }
    if !runs.is_empty() {
        page.push_str("</table>");
    }
    page.push_str("<p><a href=\"/files/\">all files</a></p></body></html>\n");
    Html(page).into_response()
}

/// `20260102T030405.678` as `2026-01-02 03:04:05.678`; any other name as it is.
fn readable_time(run: &str) -> String {
    let b = run.as_bytes();
    if b.len() == 19 && b[8] == b'T' && b[15] == b'.' {
        format!(
            "{}-{}-{} {}:{}:{}.{}",
            &run[0..4],
            &run[4..6],
            &run[6..8],
            &run[9..11],
            &run[11..13],
            &run[13..15],
            &run[16..19]
        )
    } else {
        run.to_string()
    }
}

async fn store_listing(State(root): State<Root>) -> Response {
    folder_listing(&root, &root, "")
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
        return folder_listing(&root, &path, &relative);
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

/// An HTML list of the folder `dir` (a real path in the store), shown at `/files/<relative>`.
fn folder_listing(root: &Path, dir: &Path, relative: &str) -> Response {
    let mut entries = match fs::read_dir(dir).and_then(|d| d.collect::<io::Result<Vec<_>>>()) {
        Ok(entries) => entries,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the folder: {e}\n"),
            )
                .into_response()
        }
    };
    entries.sort_by_key(|e| e.file_name());
    let title = format!("/{}", relative.trim_matches('/'));
    let mut page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{STYLE}</style></head><body><h1>{t}</h1><p><a href=\"/\">runs</a>",
        t = escape(&title)
    );
    // A run folder (`<test>/<run>`) can be downloaded whole.
    if dir.parent().and_then(Path::parent) == Some(root) {
        if let (Some(test), Some(run)) = (
            dir.parent()
                .and_then(Path::file_name)
                .and_then(|n| n.to_str()),
            dir.file_name().and_then(|n| n.to_str()),
        ) {
            page.push_str(&format!(
                " · <a class=\"zip\" href=\"/zip/{}/{}\">download as zip</a>",
                encode(test),
                encode(run)
            ));
        }
    }
    page.push_str("</p><ul>\n");
    if dir != root {
        page.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for entry in entries {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        // Follows links (`latest`): a link to a folder is shown as a folder.
        let meta = fs::metadata(entry.path());
        let is_dir = meta.as_ref().map(|m| m.is_dir()).unwrap_or(false);
        let slash = if is_dir { "/" } else { "" };
        let size = match &meta {
            Ok(m) if !is_dir => format!(" <small>{} bytes</small>", m.len()),
            _ => String::new(),
        };
        page.push_str(&format!(
            "<li><a href=\"{}{slash}\">{}{slash}</a>{size}</li>\n",
            encode(&name),
            escape(&name)
        ));
    }
    page.push_str("</ul></body></html>\n");
    Html(page).into_response()
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

/// Characters escaped in one path segment of a link.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
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
    fn readable_time_reads_run_folder_names() {
        assert_eq!(
            readable_time("20260102T030405.678"),
            "2026-01-02 03:04:05.678"
        );
        assert_eq!(readable_time("my-run"), "my-run");
    }
}
