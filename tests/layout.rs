//! The design rule, checked: the core knows no world (no madsim, tokio, russh or reqwest
//! among its dependencies), and the two worlds never depend on each other.

use std::collections::BTreeMap;
use std::process::Command;

/// Each workspace package's normal dependencies, by package name.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

#[test]
fn the_core_knows_no_world_and_the_worlds_do_not_know_each_other() {
    let deps = dependencies();
    let core = &deps["restate-jepsen-core"];
    for world in [
        "madsim",
        "madsim-tokio",
        "tokio",
        "russh",
        "reqwest",
        "restate-jepsen-sim",
        "restate-jepsen-real",
    ] {
        assert!(
            !core.iter().any(|d| d == world),
            "the core depends on {world}"
        );
    }
    assert!(!deps["restate-jepsen-sim"]
        .iter()
        .any(|d| d == "restate-jepsen-real"));
    assert!(!deps["restate-jepsen-real"]
        .iter()
        .any(|d| d == "restate-jepsen-sim"));
    for world in ["restate-jepsen-sim", "restate-jepsen-real"] {
        assert!(
            deps[world].iter().any(|d| d == "restate-jepsen-core"),
            "{world} builds on the core"
        );
    }
}
