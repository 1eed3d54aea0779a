//! Times parsing and linearizability checking of reference histories (run in release):
//! `cargo run --release --example check_speed -- MODEL FILE...`, or with no arguments the
//! etcd corpus (cas-register) and the porcupine-kv histories (kv). `CHECK_TIME_LIMIT_MS`
//! sets a time limit, `CHECK_THREADS` the threads per check (default: all cores); `SHOW_RESULT=1` prints each result map.

use jepsen_core::checker::linearizable::Linearizable;
use jepsen_core::checker::{CheckOptions, Checker};
use jepsen_core::history::read_history_file;
use jepsen_core::model::ModelKind;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

fn time_files(model: ModelKind, files: &[PathBuf]) {
    let threads = std::env::var("CHECK_THREADS").map_or(0, |t| t.parse().expect("a number"));
    let checker = Linearizable::new(model).with_threads(threads);
    let (mut parse_total, mut check_total) = (Duration::ZERO, Duration::ZERO);
    for file in files {
        let t0 = Instant::now();
        let history = read_history_file(file).unwrap_or_else(|e| panic!("{e}"));
        let t1 = Instant::now();
        let opts = CheckOptions {
            time_limit: std::env::var("CHECK_TIME_LIMIT_MS")
                .ok()
                .map(|ms| Duration::from_millis(ms.parse().expect("milliseconds"))),
            ..CheckOptions::default()
        };
        let result = checker.check(&history, &opts);
        let t2 = Instant::now();
        if std::env::var_os("SHOW_RESULT").is_some() {
            println!("{}", result.to_value());
        }
        parse_total += t1 - t0;
        check_total += t2 - t1;
        println!(
            "{:<28} {:>6} ops  parse {:>8.2} ms  check {:>8.2} ms  valid? {}",
            file.file_name().unwrap().to_string_lossy(),
            history.len(),
            (t1 - t0).as_secs_f64() * 1e3,
            (t2 - t1).as_secs_f64() * 1e3,
            result.valid.to_value()
        );
    }
    println!(
        "total {} files: parse {:.1} ms + check {:.1} ms = {:.1} ms",
        files.len(),
        parse_total.as_secs_f64() * 1e3,
        check_total.as_secs_f64() * 1e3,
        (parse_total + check_total).as_secs_f64() * 1e3
    );
}

fn edn_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "edn"))
        .collect();
    files.sort();
    files
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some((model, files)) = args.split_first() {
        let model = ModelKind::from_str(model).unwrap_or_else(|e| panic!("{e}"));
        let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
        time_files(model, &files);
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/histories");
    time_files(ModelKind::CasRegister, &edn_files(&root.join("etcd")));
    time_files(ModelKind::Kv, &edn_files(&root.join("porcupine-kv")));
}
