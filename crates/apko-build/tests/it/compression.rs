//! zstd layers: the same tar as gzip layers (same diff_ids), the same bytes at any thread count.

use crate::support::{build, pkg, request, write_repo};
use apko_build::deps::apko_config::LayerCompression;

#[test]
fn zstd_layers_hold_the_same_tar_and_do_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap();
    let big: String = (0..200_000).map(|i| format!("line {i}\n")).collect();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[pkg("a", "1-r0")
            .dir("usr", 0o755)
            .file("usr/big.txt", 0o644, &big)],
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [a]\narchs: [x86_64]\n";
    let with = |compression: Option<LayerCompression>, jobs: usize, in_config: bool| {
        let cfg = if in_config {
            format!("{cfg}compression: zstd\n")
        } else {
            cfg.to_owned()
        };
        let mut req = request(dir.path(), &cfg, &repo);
        req.compression = compression;
        req.jobs = jobs;
        build(req).unwrap()
    };
    let gzip = with(None, 2, false);
    let zstd1 = with(Some(LayerCompression::Zstd), 1, false);
    let zstd4 = with(Some(LayerCompression::Zstd), 4, false);
    let from_config = with(None, 2, true);
    let desc = |o: &apko_build::BuildOutput| o.images[0].layers[0].descriptor();
    assert_eq!(
        desc(&gzip).media_type,
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        desc(&zstd1).media_type,
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    assert_eq!(desc(&zstd1), desc(&zstd4), "same bytes at 1 and 4 threads");
    // (`/etc/apko.json` records the configuration, so only the format is compared.)
    assert_eq!(
        desc(&from_config).media_type,
        desc(&zstd1).media_type,
        "`compression: zstd` in the configuration"
    );
    assert_eq!(zstd1.index_json, zstd4.index_json);
    assert_eq!(
        gzip.images[0].layers[0].diff_id(),
        zstd1.images[0].layers[0].diff_id(),
        "the same tar inside"
    );
    let bytes = fs_err::read(zstd1.images[0].layers[0].path()).unwrap();
    assert_eq!(&bytes[..4], &[0x28, 0xb5, 0x2f, 0xfd], "a zstd frame");
    let manifest: serde_json::Value =
        serde_json::from_slice(&zstd1.images[0].manifest.bytes).unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
}

#[test]
fn erofs_images_have_one_raw_erofs_layer() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[pkg("a", "1-r0")
            .dir("usr", 0o755)
            .dir("usr/bin", 0o755)
            .file("usr/bin/a", 0o755, "A")],
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [a]\narchs: [x86_64]\nformat: erofs\n";
    let out = build(request(dir.path(), cfg, &repo)).unwrap();
    let img = &out.images[0];
    assert_eq!(img.layers.len(), 1);
    let d = img.layers[0].descriptor();
    assert_eq!(d.media_type, "application/vnd.erofs");
    assert_eq!(
        d.digest,
        img.layers[0].diff_id(),
        "an erofs layer's digest is its diff_id"
    );
    let config: serde_json::Value = serde_json::from_slice(&img.config.bytes).unwrap();
    assert_eq!(config["os.features"], serde_json::json!(["erofs"]));
    let platform = img.manifest.descriptor.platform.as_ref().unwrap();
    assert_eq!(platform.os_features, ["erofs"]);
    let mut f = fs_err::File::open(img.layers[0].path()).unwrap();
    let listing = apko_build::deps::apko_fs::erofs::list_erofs(&mut f).unwrap();
    let paths: Vec<&str> = listing.entries.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.contains(&"usr/bin/a") && paths.contains(&"usr/lib/apk/db/installed"),
        "{paths:?}"
    );
    // With layering it is refused when the configuration is read, as in apko.
    let layered = dir.path().join("layered.yaml");
    fs_err::write(
        &layered,
        "contents:\n  packages: [a]\nformat: erofs\nlayering:\n  strategy: origin\n  budget: 2\n",
    )
    .unwrap();
    let err = apko_build::deps::apko_config::load(&layered, &[]).unwrap_err();
    assert!(err.to_string().contains("erofs"), "{err}");
}
