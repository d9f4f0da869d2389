//! `contents.baseimage`: an image on top of one we built.

use crate::support::{build, pkg, request, write_repo};
use apko_build::BuildOutput;
use std::io::Read;

/// Paths and contents of layer `layer` of image 0.
fn entries(out: &BuildOutput, layer: usize) -> Vec<(String, Vec<u8>)> {
    let gz = fs_err::File::open(out.images[0].layers[layer].path()).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut d = Vec::new();
            e.read_to_end(&mut d).unwrap();
            (e.path().unwrap().display().to_string(), d)
        })
        .collect()
}

fn text(entries: &[(String, Vec<u8>)], path: &str) -> String {
    let (_, d) = entries
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("{path} missing"));
    String::from_utf8(d.clone()).unwrap()
}

#[test]
fn the_base_layers_stay_and_new_packages_go_on_top() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[
            pkg("base-files", "1.0-r0")
                .dir("etc", 0o755)
                .file("etc/base-release", 0o644, "base\n"),
            pkg("libfoo", "2.0-r0")
                .depends("base-files")
                .dir("usr", 0o755)
                .dir("usr/lib", 0o755)
                .file("usr/lib/libfoo.so", 0o755, "FOO"),
            pkg("app", "1.0-r0")
                .depends("libfoo")
                .dir("usr", 0o755)
                .dir("usr/bin", 0o755)
                .file("usr/bin/app", 0o755, "APP"),
        ],
    );
    let base_cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [libfoo]\nentrypoint:\n  command: /usr/bin/app --serve\nenvironment:\n  MODE: base\narchs: [x86_64]\n";
    let base = build(request(dir.path(), base_cfg, &repo)).unwrap();
    let layout = dir.path().join("base-layout");
    base.write_layout(&layout).unwrap();

    let top_cfg = format!(
        "contents:\n  baseimage:\n    image: {}\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [app]\narchs: [x86_64]\n",
        layout.display()
    );
    let top = build(request(dir.path(), &top_cfg, &repo)).unwrap();
    let img = &top.images[0];
    // The base's layer, unchanged, then one new layer.
    assert_eq!(img.layers.len(), 2);
    assert_eq!(
        img.layers[0].descriptor(),
        base.images[0].layers[0].descriptor()
    );
    let config: serde_json::Value = serde_json::from_slice(&img.config.bytes).unwrap();
    let base_config: serde_json::Value =
        serde_json::from_slice(&base.images[0].config.bytes).unwrap();
    assert_eq!(
        config["rootfs"]["diff_ids"][0],
        base_config["rootfs"]["diff_ids"][0]
    );
    assert_eq!(config["history"].as_array().unwrap().len(), 2);
    // The base's run-time settings are kept.
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/usr/bin/app", "--serve"])
    );
    assert!(
        config["config"]["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "MODE=base")
    );
    // The new layer holds the new package, not the base's, and the merged database.
    let top_layer = entries(&top, 1);
    let paths: Vec<&str> = top_layer.iter().map(|(p, _)| p.as_str()).collect();
    assert!(paths.contains(&"usr/bin/app"), "{paths:?}");
    assert!(
        !paths.contains(&"usr/lib/libfoo.so") && !paths.contains(&"etc/base-release"),
        "{paths:?}"
    );
    assert!(
        !paths.contains(&"etc/passwd"),
        "the base's accounts are kept: {paths:?}"
    );
    let db = text(&top_layer, "usr/lib/apk/db/installed");
    // (apk 2.14 writes its records sorted by name.)
    let names: Vec<&str> = db.lines().filter_map(|l| l.strip_prefix("P:")).collect();
    assert_eq!(names, ["app", "base-files", "libfoo"]);
    assert_eq!(
        text(&top_layer, "etc/apk/world"),
        "app=1.0-r0\nbase-files=1.0-r0\nlibfoo=2.0-r0\n"
    );
    // Every package is in the image's package list (and so in its SBOM).
    let listed: Vec<String> = img.packages.iter().map(|p| p.name.to_string()).collect();
    assert_eq!(listed, ["base-files", "libfoo", "app"]);
}

#[test]
fn a_base_image_without_the_architecture_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64", "aarch64"],
        &[pkg("a", "1-r0")],
    );
    let base = build(request(
        dir.path(),
        "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [a]\narchs: [x86_64]\n",
        &repo,
    ))
    .unwrap();
    let layout = dir.path().join("b");
    base.write_layout(&layout).unwrap();
    let cfg = format!(
        "contents:\n  baseimage:\n    image: {}\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [a]\narchs: [aarch64]\n",
        layout.display()
    );
    let err = build(request(dir.path(), &cfg, &repo)).unwrap_err();
    assert!(err.to_string().contains("no arm64 image"), "{err}");
    let err = build(request(
        dir.path(),
        "contents:\n  baseimage:\n    image: ./nowhere\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [a]\narchs: [x86_64]\n",
        &repo,
    ))
    .unwrap_err();
    assert!(err.to_string().contains("not an OCI image layout"), "{err}");
}

#[test]
fn a_base_image_can_be_a_docker_tarball_or_an_oci_archive() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[
            pkg("a", "1-r0").dir("etc", 0o755).file("etc/a", 0o644, "A"),
            pkg("b", "1-r0")
                .depends("a")
                .dir("usr", 0o755)
                .file("usr/b", 0o644, "B"),
        ],
    );
    let base = build(request(
        dir.path(),
        "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [a]\narchs: [x86_64]\n",
        &repo,
    ))
    .unwrap();
    let docker = dir.path().join("base.tar");
    base.write_tarball(&docker).unwrap();
    let layout = dir.path().join("layout");
    base.write_layout(&layout).unwrap();
    let oci = dir.path().join("base-oci.tar");
    {
        let mut t = tar::Builder::new(fs_err::File::create(&oci).unwrap());
        t.append_dir_all(".", &layout).unwrap();
        t.finish().unwrap();
    }
    for image in [&docker, &oci] {
        let cfg = format!(
            "contents:\n  baseimage:\n    image: {}\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [b]\narchs: [x86_64]\n",
            image.display()
        );
        let top = build(request(dir.path(), &cfg, &repo)).unwrap();
        let img = &top.images[0];
        assert_eq!(
            img.layers[0].descriptor(),
            base.images[0].layers[0].descriptor(),
            "{}",
            image.display()
        );
        let names: Vec<String> = img.packages.iter().map(|p| p.name.to_string()).collect();
        assert!(
            names.contains(&"a".to_owned()) && names.contains(&"b".to_owned()),
            "{names:?}"
        );
    }
}

#[test]
fn a_zstd_base_image_keeps_its_zstd_layers() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[
            pkg("a", "1-r0")
                .dir("etc", 0o755)
                .file("etc/a", 0o644, "a\n"),
            pkg("b", "1-r0")
                .dir("etc", 0o755)
                .file("etc/b", 0o644, "b\n"),
        ],
    );
    let base = build(request(
        dir.path(),
        "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [a]\narchs: [x86_64]\ncompression: zstd\n",
        &repo,
    ))
    .unwrap();
    let layout = dir.path().join("zstd-base");
    base.write_layout(&layout).unwrap();
    let cfg = format!(
        "contents:\n  baseimage:\n    image: {}\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [b]\narchs: [x86_64]\n",
        layout.display()
    );
    let out = build(request(dir.path(), &cfg, &repo)).unwrap();
    let layers = &out.images[0].layers;
    assert_eq!(layers.len(), 2);
    assert_eq!(
        layers[0].descriptor(),
        base.images[0].layers[0].descriptor()
    );
    assert_eq!(
        layers[0].descriptor().media_type,
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert_eq!(
        layers[1].descriptor().media_type,
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    // The base's installed database (read from its zstd layer) leads the new one.
    let names: Vec<&str> = out.images[0]
        .packages
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
}
