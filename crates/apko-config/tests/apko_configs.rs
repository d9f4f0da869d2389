//! Configurations written by apko's users and apko's own, loaded unchanged.
//!
//! * `apko_testdata_configs_load`: every apko configuration in the shared corpus
//!   (`$APKO_TESTDATA/apko/cli-testdata`, copied from apko's `internal/cli/testdata`);
//! * `apko_source_configs_load`: every configuration in a checkout of apko's source named by
//!   `APKO_SOURCE` (its `examples/` and test data; melange recipes are not apko configurations).
//!
//! Both are ignored by default and run by scripts/test.sh; each fails, never skips, when its
//! directory is set but holds no configuration.

#![allow(clippy::print_stdout, clippy::disallowed_methods)]

use apko_config::load;
use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs_err::read_dir(dir).expect("readable directory") {
        let p = e.expect("directory entry").path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml")
            && !p.to_string_lossy().ends_with(".melange.yaml")
        {
            out.push(p);
        }
    }
}

fn load_all(root: &Path, dirs: &[&str], include_paths: &[PathBuf]) -> usize {
    let mut files = Vec::new();
    for d in dirs {
        let dir = root.join(d);
        assert!(dir.is_dir(), "{} is missing", dir.display());
        yaml_files(&dir, &mut files);
    }
    files.sort();
    assert!(
        !files.is_empty(),
        "no configuration under {}",
        root.display()
    );
    let mut failures = Vec::new();
    for f in &files {
        if let Err(e) = load(f, include_paths) {
            failures.push(format!("{}: {e}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "configurations refused:\n{}",
        failures.join("\n")
    );
    println!(
        "{} configurations under {} loaded",
        files.len(),
        root.display()
    );
    files.len()
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA; run by scripts/test.sh"]
fn apko_testdata_configs_load() {
    let root = PathBuf::from(std::env::var_os("APKO_TESTDATA").expect("APKO_TESTDATA is set"));
    let dir = root.join("apko/cli-testdata");
    let n = load_all(&dir, &["."], std::slice::from_ref(&dir));
    assert!(
        n >= 7,
        "expected apko's 7 CLI test configurations, found {n}"
    );
}

#[test]
#[ignore = "needs APKO_SOURCE (a checkout of chainguard-dev/apko); run by scripts/test.sh when set"]
fn apko_source_configs_load() {
    let root = PathBuf::from(std::env::var_os("APKO_SOURCE").expect("APKO_SOURCE is set"));
    // apko's tests resolve includes from the repository root (examples/) and from
    // pkg/build/types (its overlay test data).
    let include = [root.clone(), root.join("pkg/build/types")];
    let n = load_all(
        &root,
        &[
            "examples",
            "internal/cli/testdata",
            "pkg/build/testdata",
            "pkg/build/types/testdata",
        ],
        &include,
    );
    assert!(
        n >= 30,
        "expected apko's examples and test configurations, found {n}"
    );
}
