//! Workspace policy: the crate dependency graph follows the rooms rule (docs/architecture.md).
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};

/// Allowed dependencies between workspace crates (normal and build dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("apko-config", &[]),
    ("apko-apk", &[]),
    ("apko-fs", &[]),
    ("apko-oci", &[]),
    ("apko-sbom", &["apko-apk"]),
    (
        "apko-build",
        &[
            "apko-config",
            "apko-apk",
            "apko-fs",
            "apko-sbom",
            "apko-oci",
        ],
    ),
    ("apko-cli", &["apko-build"]),
];

#[test]
fn crate_graph_follows_the_rooms_rule() {
    let out = std::process::Command::new(env!("CARGO"))
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
    let members: BTreeSet<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let ok = allowed.get(name).unwrap_or_else(|| {
            panic!("crate `{name}` is not in the architecture table (docs/architecture.md)")
        });
        for d in p["dependencies"].as_array().unwrap() {
            let dep = d["name"].as_str().unwrap();
            let dev = d["kind"].as_str() == Some("dev");
            if members.contains(dep) && !dev {
                assert!(
                    ok.contains(&dep),
                    "`{name}` may not depend on `{dep}` (allowed: {ok:?})"
                );
            }
        }
    }
}
