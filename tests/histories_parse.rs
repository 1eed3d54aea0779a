//! Every reference history in ../shared/histories parses into a well-formed history.
use jepsen_core::history::read_history_file;
use std::path::{Path, PathBuf};

fn edn_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            edn_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "edn") {
            out.push(path);
        }
    }
}

#[test]
fn every_shared_history_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/histories");
    let mut files = Vec::new();
    edn_files(&root, &mut files);
    assert!(
        files.len() >= 150,
        "expected the shared histories, found {}",
        files.len()
    );
    for f in &files {
        let h = read_history_file(f).unwrap_or_else(|e| panic!("{e}"));
        assert!(h.len() > 1, "{}", f.display());
    }
}
