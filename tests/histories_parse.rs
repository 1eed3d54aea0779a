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

/// Loose pairing takes what Jepsen's non-pairing checkers take (an invocation after an
/// `:info`, a completion without an invocation, an invocation while one is open) and
/// leaves those ops unpaired; strict pairing refuses each, naming the line.
#[test]
fn loose_pairing_takes_what_strict_pairing_refuses() {
    use jepsen_core::history::{read_history_str, read_history_str_with, Pairing};
    let text = "\
{:type :invoke, :f :add, :value 1, :process 0}
{:type :info, :f :add, :value 1, :process 0}
{:type :invoke, :f :add, :value 2, :process 0}
{:type :invoke, :f :add, :value 3, :process 0}
{:type :ok, :f :add, :value 3, :process 0}
{:type :ok, :f :read, :value [1 3], :process 7}
";
    let e = read_history_str("h.edn", text).unwrap_err();
    assert!(e.to_string().starts_with("h.edn:3: "), "{e}");
    let h = read_history_str_with("h.edn", text, Pairing::Loose).unwrap();
    assert_eq!(h.len(), 6);
    assert_eq!(h.partner(0), Some(1), "the first add and its :info pair");
    assert_eq!(
        h.partner(2),
        None,
        "an invocation superseded by the next stays open"
    );
    assert_eq!(h.partner(3), Some(4));
    assert_eq!(
        h.partner(5),
        None,
        "a completion without an invocation stays unpaired"
    );
    assert!(h.invocation(5).is_none() && h.completion(2).is_none());
}
