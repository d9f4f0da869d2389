//! `apko verify CONFIG --lockfile L IMAGE`: the same image verifies (layout and docker
//! tarball); another one fails naming the first differing file and field.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{apko, hello_config, root, stderr, stdout};
use std::path::Path;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let repo = root().join("examples/hello/repo");
    let key = root().join("examples/hello/keys/hello.rsa.pub");
    fs_err::write(
        dir.path().join("apko.yaml"),
        hello_config(&repo.display().to_string(), &[&key.display().to_string()]),
    )
    .unwrap();
    let o = apko(&["lock", "apko.yaml"], dir.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

fn build(dir: &Path, out: &str, epoch: &str, extra: &[&str]) {
    let mut args = vec![
        "build",
        "apko.yaml",
        "hello:latest",
        out,
        "--lockfile",
        "apko.lock.json",
    ];
    args.extend_from_slice(extra);
    if !out.ends_with(".tar") {
        fs_err::create_dir_all(dir.join(out)).unwrap();
    }
    let o = apko(&args, dir, &[("SOURCE_DATE_EPOCH", epoch)]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn verify(dir: &Path, image: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "verify",
        "apko.yaml",
        image,
        "--tag",
        "hello:latest",
        "--lockfile",
        "apko.lock.json",
    ];
    args.extend_from_slice(extra);
    apko(&args, dir, &[("SOURCE_DATE_EPOCH", "0")])
}

#[test]
fn the_same_image_verifies() {
    let dir = setup();
    build(dir.path(), "layout", "0", &[]);
    build(dir.path(), "image.tar", "0", &[]);
    for image in ["layout", "image.tar"] {
        let o = verify(dir.path(), image, &[]);
        assert!(o.status.success(), "{image}: {}", stderr(&o));
        assert!(stdout(&o).contains("verified"), "{}", stdout(&o));
    }
}

#[test]
fn another_image_fails_naming_the_first_difference() {
    let dir = setup();
    // Another build date: every entry's mtime differs; the first entry is named.
    build(dir.path(), "later", "1000", &[]);
    let o = verify(dir.path(), "later", &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("first difference: x86_64 layer 0"), "{e}");
    assert!(e.contains("mtime: rebuilt 0, image 1000"), "{e}");

    // Another compression: the same tar, said so.
    build(dir.path(), "zstd", "0", &["--compression", "zstd"]);
    let o = verify(dir.path(), "zstd", &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("compression (the same tar)"), "{e}");
    assert!(e.contains("tar+zstd"), "{e}");

    // Annotations: /etc/apko.json records them, so that file is the first difference.
    build(
        dir.path(),
        "annotated",
        "0",
        &["--annotations", "org.example.k:v"],
    );
    let o = verify(dir.path(), "annotated", &[]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("/etc/apko.json: size: rebuilt"), "{e}");
    // The same annotations verify.
    let o = verify(
        dir.path(),
        "annotated",
        &["--annotations", "org.example.k:v"],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    // A missing image and a missing lockfile are usage errors.
    let o = verify(dir.path(), "nothing-here", &[]);
    assert!(
        stderr(&o).contains("no such file or directory, and not a registry reference"),
        "{}",
        stderr(&o)
    );
    let o = apko(&["verify", "apko.yaml", "layout"], dir.path(), &[]);
    assert!(stderr(&o).contains("needs --lockfile"), "{}", stderr(&o));
}
