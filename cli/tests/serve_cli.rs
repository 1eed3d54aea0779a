//! `serve` from the outside: the binary serves a temporary store on 127.0.0.1 with an
//! ephemeral port, and real HTTP requests check the run list (order, colours, links),
//! file and folder pages, the zip of a run, and that nothing outside the store is served,
//! however the path is spelled. Bad flags end with one line and exit 254.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_restate-jepsen");
const SECRET: &str = "the secret outside the store";

/// A fake store with four runs of two tests (valid, invalid, unknown, no results), `latest` links as the store makes them,
/// a report for one run, and a secret file beside the store with a link to it inside.
struct FakeStore {
    dir: tempfile::TempDir,
}

impl FakeStore {
    fn new() -> FakeStore {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let run = |test: &str, stamp: &str, results: &str| -> PathBuf {
            let path = store.join(test).join(stamp);
            std::fs::create_dir_all(&path).unwrap();
            std::fs::write(path.join("results.json"), results).unwrap();
            std::fs::write(path.join("history.edn"), format!("{{:run \"{stamp}\"}}\n")).unwrap();
            path
        };
        run("set-a", "20260101T100000.000", "{\"valid?\": true}\n");
        let invalid = run(
            "reg-b",
            "20260102T100000.000",
            "{\"valid?\": false, \"linear\": {\"valid?\": false}}\n",
        );
        run(
            "set-a",
            "20260103T100000.000",
            "{\"valid?\": \"unknown\"}\n",
        );
        // A run that never wrote its results (still running, or crashed).
        let crashed = store.join("reg-b/20260101T090000.000");
        std::fs::create_dir_all(&crashed).unwrap();
        std::fs::write(crashed.join("history.jsonl"), "{}\n").unwrap();
        std::fs::write(
            invalid.join("report.html"),
            "<html>the report of reg-b</html>\n",
        )
        .unwrap();
        std::fs::create_dir(invalid.join("n1")).unwrap();
        std::fs::write(invalid.join("n1/restate.log"), "node one's log\n").unwrap();
        std::os::unix::fs::symlink("20260103T100000.000", store.join("set-a/latest")).unwrap();
        std::os::unix::fs::symlink("20260102T100000.000", store.join("reg-b/latest")).unwrap();
        std::os::unix::fs::symlink("set-a/20260103T100000.000", store.join("latest")).unwrap();
        std::fs::write(dir.path().join("secret.txt"), SECRET).unwrap();
        std::os::unix::fs::symlink("../../../secret.txt", invalid.join("escape.txt")).unwrap();
        FakeStore { dir }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }
}

/// The server, killed when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(store: &Path) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--bind", "127.0.0.1", "--port", "0", "--store"])
            .arg(store)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .rsplit_once(" at ")
            .map(|(_, url)| url.trim_end_matches('/').to_string())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server { child, base }
    }

    fn address(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("the server answers")
}

async fn get_text(url: &str) -> String {
    let response = get(url).await;
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

/// `(class, data-run)` of each run row of the index, in page order.
fn run_rows(page: &str) -> Vec<(String, String)> {
    page.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("<tr class=\"")?;
            let (class, rest) = rest.split_once('"')?;
            let rest = rest.strip_prefix(" data-run=\"")?;
            let (run, _) = rest.split_once('"')?;
            Some((class.to_string(), run.to_string()))
        })
        .collect()
}

/// A request sent byte for byte (an HTTP client would normalise `..` away): the status
/// code and the whole response.
fn raw_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"));
    (status, response)
}

#[tokio::test]
async fn serve_lists_runs_newest_first_coloured_by_verdict() {
    let store = FakeStore::new();
    let server = Server::start(&store.store());
    let page = get_text(&format!("{}/", server.base)).await;
    assert_eq!(
        run_rows(&page),
        vec![
            ("unknown".into(), "set-a/20260103T100000.000".into()),
            ("invalid".into(), "reg-b/20260102T100000.000".into()),
            ("valid".into(), "set-a/20260101T100000.000".into()),
            ("incomplete".into(), "reg-b/20260101T090000.000".into()),
        ],
        "{page}"
    );
    // Each verdict class has its own background colour.
    let colour = |class: &str| {
        let rule = format!("tr.{class}{{background:");
        let at = page
            .find(&rule)
            .unwrap_or_else(|| panic!("no {rule} in {page}"));
        page[at + rule.len()..]
            .split('}')
            .next()
            .unwrap()
            .to_string()
    };
    let mut colours: Vec<String> = ["valid", "invalid", "unknown", "incomplete"]
        .into_iter()
        .map(colour)
        .collect();
    colours.sort();
    colours.dedup();
    assert_eq!(colours.len(), 4, "{colours:?}");
    // `latest` links are not runs.
    assert!(!page.contains("data-run=\"set-a/latest\""));
}

#[tokio::test]
async fn serve_links_each_run_to_its_report_and_files() {
    let store = FakeStore::new();
    let server = Server::start(&store.store());
    let page = get_text(&format!("{}/", server.base)).await;
    let report_links: Vec<&str> = page
        .match_indices("class=\"report\" href=\"")
        .map(|(at, m)| page[at + m.len()..].split('"').next().unwrap())
        .collect();
    assert_eq!(
        report_links,
        vec!["/files/reg-b/20260102T100000.000/report.html"],
        "only the run with a report links to one"
    );
    let report = get(&format!("{}{}", server.base, report_links[0])).await;
    assert_eq!(report.status(), 200);
    assert!(report.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(
        report.text().await.unwrap(),
        "<html>the report of reg-b</html>\n"
    );

    for run in [
        "reg-b/20260101T090000.000",
        "set-a/20260103T100000.000",
        "reg-b/20260102T100000.000",
        "set-a/20260101T100000.000",
    ] {
        assert!(page.contains(&format!("href=\"/files/{run}/\"")), "{run}");
        assert!(page.contains(&format!("href=\"/zip/{run}\"")), "{run}");
    }
    // A run's folder lists its files; a file is served as it is, also through `latest`.
    let listing = get_text(&format!("{}/files/reg-b/20260102T100000.000/", server.base)).await;
    for name in ["history.edn", "results.json", "report.html", "n1/"] {
        assert!(
            listing.contains(&format!("href=\"{name}\"")),
            "{name} in {listing}"
        );
    }
    assert_eq!(
        get_text(&format!(
            "{}/files/reg-b/latest/n1/restate.log",
            server.base
        ))
        .await,
        "node one's log\n"
    );
    // A folder without its trailing slash is redirected to it (relative links work).
    assert_eq!(
        get_text(&format!("{}/files/reg-b/20260102T100000.000", server.base)).await,
        listing
    );
    assert_eq!(
        get(&format!("{}/files/reg-b/no-such-run/", server.base))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn serve_streams_a_run_folder_as_a_zip_with_its_files() {
    let store = FakeStore::new();
    let server = Server::start(&store.store());
    let response = get(&format!("{}/zip/reg-b/latest", server.base)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("reg-b-20260102T100000.000.zip"));
    let bytes = response.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();

    let run = store.store().join("reg-b/20260102T100000.000");
    let mut files = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().unwrap().to_string();
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        let relative = name
            .strip_prefix("reg-b/20260102T100000.000/")
            .unwrap_or_else(|| panic!("{name} is not under the run's folder"));
        assert_eq!(
            content,
            std::fs::read(run.join(relative)).unwrap(),
            "{name}"
        );
        files.push(relative.to_string());
    }
    files.sort();
    // Every file of the run, and not the link that leaves the store.
    assert_eq!(
        files,
        vec![
            "history.edn",
            "n1/restate.log",
            "report.html",
            "results.json"
        ]
    );
}

#[test]
fn serve_refuses_paths_outside_the_store() {
    let store = FakeStore::new();
    let server = Server::start(&store.store());
    let address = server.address();
    for path in [
        "/files/../secret.txt",
        "/files/%2e%2e/secret.txt",
        "/files/%2E%2E/secret.txt",
        "/files/reg-b/../../secret.txt",
        "/files/reg-b/%2e%2e/%2e%2e/secret.txt",
        "/files/reg-b%2f..%2f..%2fsecret.txt",
        "/files/reg-b/20260102T100000.000/escape.txt",
        "/files/reg-b/latest/escape.txt",
        "/files//etc/passwd",
        "/zip/%2e%2e/store",
        "/zip/reg-b/..",
        "/zip/..%2f../store",
        "/../secret.txt",
    ] {
        let (status, response) = raw_get(address, path);
        assert!(
            status == 403 || status == 404,
            "{path}: {status}\n{response}"
        );
        assert!(!response.contains(SECRET), "{path} leaked: {response}");
        assert!(!response.contains("root:"), "{path} leaked: {response}");
    }
    // The same server still serves what is inside.
    let (status, response) = raw_get(address, "/files/reg-b/latest/n1/restate.log");
    assert_eq!(status, 200, "{response}");
    assert!(response.ends_with("node one's log\n"), "{response}");
}

#[test]
fn serve_with_a_port_in_use_or_no_store_exits_254_with_one_line() {
    let store = FakeStore::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let missing = store.dir.path().join("no-store");
    for (args, says) in [
        (
            vec![
                "--port",
                port.as_str(),
                "--store",
                store.store().to_str().unwrap(),
            ],
            "cannot listen",
        ),
        (
            vec!["--port", "0", "--store", missing.to_str().unwrap()],
            "--store",
        ),
        (vec!["--bind", "not-an-address"], "--bind"),
    ] {
        let out = Command::new(BIN)
            .arg("serve")
            .args(&args)
            .output()
            .expect("the binary runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(254), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{says} not in {err}");
    }
}

/// A request as [`raw_get`], given up after `timeout`: `None` when no whole response came.
fn raw_get_within(
    address: &str,
    path: &str,
    timeout: std::time::Duration,
) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, response))
}

#[test]
fn serve_answers_a_fifo_in_the_store_with_an_error_and_never_hangs() {
    let store = FakeStore::new();
    let run = store.store().join("reg-b/20260102T100000.000");
    for fifo in [run.join("pipe.log"), run.join("n1/results.json")] {
        let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success(), "mkfifo {}", fifo.display());
    }
    // A run whose results.json is a FIFO: the index must not wait for a writer.
    let stuck = store.store().join("set-a/20260104T100000.000");
    std::fs::create_dir_all(&stuck).unwrap();
    assert!(Command::new("mkfifo")
        .arg(stuck.join("results.json"))
        .status()
        .unwrap()
        .success());
    let server = Server::start(&store.store());
    let address = server.address();
    let within = std::time::Duration::from_secs(5);
    for path in [
        "/files/reg-b/20260102T100000.000/pipe.log",
        "/files/reg-b/latest/n1/results.json",
    ] {
        let (status, response) = raw_get_within(address, path, within)
            .unwrap_or_else(|| panic!("{path}: no response within {within:?}"));
        assert_eq!(status, 403, "{path}: {response}");
        assert!(response.contains("not a regular file"), "{response}");
    }
    let (status, index) =
        raw_get_within(address, "/", within).expect("the index answers within 5 s");
    assert_eq!(status, 200, "{index}");
    assert!(
        index.contains("20260104T100000.000"),
        "the stuck run is listed"
    );
    let (status, _) = raw_get_within(address, "/zip/reg-b/20260102T100000.000", within)
        .expect("the zip of a run with a FIFO is written within 5 s");
    assert_eq!(status, 200);
    // The server still serves files.
    let (status, _) = raw_get_within(address, "/files/reg-b/latest/n1/restate.log", within)
        .expect("the server still answers");
    assert_eq!(status, 200);
}
