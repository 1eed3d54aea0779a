//! The store's own pages, as `serve` shows them: the index of runs coloured by verdict,
//! and a folder's listing. Pure: the store is read by [`crate::store::list_runs`] and
//! [`crate::store::list_folder`], the pages are written here.

use super::html::esc;
use super::REPORT_HTML;
use crate::checker::Validity;
use crate::store::{readable_time, FolderEntry, StoredRun};
use std::fmt::Write;

const STYLE: &str = "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
td,th{padding:.3em .8em;text-align:left}tr.valid{background:#c8f0c8}\
tr.invalid{background:#f6c0c0}tr.unknown{background:#fbe3a8}tr.incomplete{background:#e4e4e4}\
a{color:#124}";

/// The index page of the store at `root_display`: one row per run (newest first as
/// given), its class the verdict (`incomplete` without one), with links to its report,
/// its files (`/files/<test>/<run>/`) and its zip (`/zip/<test>/<run>`).
pub fn store_index(root_display: &str, runs: &[StoredRun]) -> String {
    let mut page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>restate-jepsen store</title>\
         <style>{STYLE}</style></head><body><h1>Runs in {}</h1>",
        esc(root_display)
    );
    if runs.is_empty() {
        page.push_str("<p>No runs yet.</p>");
    } else {
        page.push_str(
            "<table><tr><th>time (UTC)</th><th>test</th><th>verdict</th><th></th></tr>\n",
        );
    }
    for r in runs {
        let href = format!("{}/{}", encode(&r.test), encode(&r.run));
        let report = if r.has_report {
            format!("<a class=\"report\" href=\"/files/{href}/{REPORT_HTML}\">report</a> ")
        } else {
            String::new()
        };
        let _ = writeln!(
            page,
            "<tr class=\"{class}\" data-run=\"{test}/{run}\"><td>{time}</td><td>{test}</td>\
             <td>{class}</td><td>{report}<a class=\"files\" href=\"/files/{href}/\">files</a> \
             <a class=\"zip\" href=\"/zip/{href}\">zip</a></td></tr>",
            class = verdict_class(r.verdict),
            test = esc(&r.test),
            run = esc(&r.run),
            time = esc(&readable_time(&r.run)),
        );
    }
    if !runs.is_empty() {
        page.push_str("</table>");
    }
    page.push_str("<p><a href=\"/files/\">all files</a></p></body></html>\n");
    page
}

/// The listing of the store's folder at `/files/<relative>`: its `entries` linked
/// relative to the folder's URL, a `../` link unless it is the store's root, and a zip
/// link when it is a run's folder (`run`: its test and run names).
pub fn folder_listing(
    relative: &str,
    run: Option<(&str, &str)>,
    is_root: bool,
    entries: &[FolderEntry],
) -> String {
    let title = format!("/{}", relative.trim_matches('/'));
    let mut page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{STYLE}</style></head><body><h1>{t}</h1><p><a href=\"/\">runs</a>",
        t = esc(&title)
    );
    if let Some((test, run)) = run {
        let _ = write!(
            page,
            " · <a class=\"zip\" href=\"/zip/{}/{}\">download as zip</a>",
            encode(test),
            encode(run)
        );
    }
    page.push_str("</p><ul>\n");
    if !is_root {
        page.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for entry in entries {
        let slash = if entry.is_dir { "/" } else { "" };
        let size = match entry.size {
            Some(bytes) => format!(" <small>{bytes} bytes</small>"),
            None => String::new(),
        };
        let _ = writeln!(
            page,
            "<li><a href=\"{}{slash}\">{}{slash}</a>{size}</li>",
            encode(&entry.name),
            esc(&entry.name)
        );
    }
    page.push_str("</ul></body></html>\n");
    page
}

/// A run's row class: its verdict, or `incomplete` without one.
fn verdict_class(verdict: Option<Validity>) -> &'static str {
    verdict.map_or("incomplete", Validity::name)
}

/// `segment` percent-encoded as one path segment of a link: controls, non-ASCII bytes
/// and `` "#%/<>?`{}`` and space.
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for &b in segment.as_bytes() {
        if !(0x20..0x7f).contains(&b) || b" \"#%/<>?`{}".contains(&b) {
            let _ = write!(out, "%{b:02X}");
        } else {
            out.push(b as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(test: &str, run: &str, verdict: Option<Validity>, has_report: bool) -> StoredRun {
        StoredRun {
            test: test.into(),
            run: run.into(),
            verdict,
            has_report,
        }
    }

    #[test]
    fn encodes_a_link_segment() {
        assert_eq!(encode("reg-b"), "reg-b");
        assert_eq!(
            encode("a b#%?/<>\"`{}é\u{1}\u{7f}&'"),
            "a%20b%23%25%3F%2F%3C%3E%22%60%7B%7D%C3%A9%01%7F&'"
        );
    }

    #[test]
    fn index_rows_are_coloured_by_verdict_and_link_the_run() {
        let page = store_index(
            "/s<",
            &[
                run("t a", "20260102T030405.678", Some(Validity::Invalid), true),
                run("t", "r", None, false),
            ],
        );
        assert!(page.contains("<h1>Runs in /s&lt;</h1>"));
        assert!(page.contains(
            "<tr class=\"invalid\" data-run=\"t a/20260102T030405.678\">\
             <td>2026-01-02 03:04:05.678</td><td>t a</td><td>invalid</td><td>\
             <a class=\"report\" href=\"/files/t%20a/20260102T030405.678/report.html\">report</a> \
             <a class=\"files\" href=\"/files/t%20a/20260102T030405.678/\">files</a> \
             <a class=\"zip\" href=\"/zip/t%20a/20260102T030405.678\">zip</a></td></tr>\n"
        ));
        assert!(page.contains("<tr class=\"incomplete\" data-run=\"t/r\"><td>r</td>"));
        assert!(store_index("/s", &[]).contains("<p>No runs yet.</p>"));
    }

    #[test]
    fn folder_listing_links_entries_and_the_zip_of_a_run() {
        let entries = [
            FolderEntry {
                name: "n 1".into(),
                is_dir: true,
                size: None,
            },
            FolderEntry {
                name: "a<b".into(),
                is_dir: false,
                size: Some(3),
            },
        ];
        let page = folder_listing("t/r/", Some(("t", "r")), false, &entries);
        assert!(page.contains("<title>/t/r</title>"));
        assert!(page.contains(" · <a class=\"zip\" href=\"/zip/t/r\">download as zip</a></p>"));
        assert!(page.contains("<li><a href=\"../\">../</a></li>\n"));
        assert!(page.contains("<li><a href=\"n%201/\">n 1/</a></li>\n"));
        assert!(page.contains("<li><a href=\"a%3Cb\">a&lt;b</a> <small>3 bytes</small></li>\n"));
        let root = folder_listing("", None, true, &[]);
        assert!(!root.contains("../") && !root.contains("zip"));
    }
}
