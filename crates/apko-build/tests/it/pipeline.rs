use crate::support::*;
use apko_build::deps::apko_oci::{Digest, Index, Manifest};
use std::path::Path;

fn example_request(threads: usize) -> apko_build::BuildRequest {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cfg = root.join("examples/hello/apko.yaml");
    let loaded = apko_build::deps::apko_config::load(&cfg, &[]).unwrap();
    let mut req = apko_build::BuildRequest::new(
        loaded,
        root.clone(),
        "example.test/hello:latest".parse().unwrap(),
    );
    req.source_date_epoch = apko_build::SourceDateEpoch::Set(0);
    req.jobs = threads;
    req
}

#[test]
fn builds_the_hello_example_for_two_architectures() {
    let out = build(example_request(2)).unwrap();
    assert_eq!(out.images.len(), 2);
    let index: Index = serde_json::from_slice(&out.index_json).unwrap();
    let archs: Vec<&str> = index
        .manifests
        .iter()
        .map(|m| m.platform.as_ref().unwrap().architecture.as_str())
        .collect();
    assert_eq!(archs, ["amd64", "arm64"]);
    for (i, img) in out.images.iter().enumerate() {
        let manifest: Manifest = serde_json::from_slice(&img.manifest.bytes).unwrap();
        assert_eq!(manifest.config.digest, Digest::of(&img.config.bytes));
        assert_eq!(index.manifests[i].digest, Digest::of(&img.manifest.bytes));
        assert_eq!(
            manifest.layers[0].size,
            fs_err::metadata(img.layers[0].path()).unwrap().len()
        );
        let config: serde_json::Value = serde_json::from_slice(&img.config.bytes).unwrap();
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/usr/bin/hello"])
        );
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            img.layers[0].blob.diff_id()
        );
        let entries = layer_entries(&out, i);
        let hello = find(&entries, "usr/bin/hello");
        assert_eq!(hello.mode, 0o755);
        assert!(hello.data.starts_with(b"\x7fELF"));
        assert_eq!(find(&entries, "bin").link.as_deref(), Some("usr/bin"));
        assert_eq!(
            find(&entries, "lib/apk").link.as_deref(),
            Some("../usr/lib/apk")
        );
        assert_eq!(
            find(&entries, "var/tmp").mode,
            0o1777,
            "package directories keep their sticky bit"
        );
        let world = text(&entries, "etc/apk/world");
        assert_eq!(world, "hello-baselayout=1.0.0-r0\nhello=1.0.0-r0\n");
        let db = text(&entries, "usr/lib/apk/db/installed");
        assert!(
            db.contains("P:hello\n") && db.contains("R:hello\na:0:0:755\n"),
            "{db}"
        );
        let apko_json: serde_json::Value =
            serde_json::from_str(&text(&entries, "etc/apko.json")).unwrap();
        assert_eq!(apko_json["archs"][0], img.arch.oci_name());
        assert_eq!(find(&entries, "etc/apko.json").mode, 0o444);
        // Entries are sorted, directories have no trailing slash.
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        let mut sorted = paths.clone();
        sorted.sort_unstable();
        assert_eq!(paths, sorted);
        assert!(find(&entries, "dev/null").kind == tar::EntryType::Char);
    }
    assert!(out.images[0].sbom.is_some() && out.index_sbom.is_some());
}

#[test]
fn outputs_do_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, threads) in [1usize, 3].into_iter().enumerate() {
        let out = build(example_request(threads)).unwrap();
        let tar = dir.path().join(format!("img{i}.tar"));
        out.write_tarball(&tar).unwrap();
        let layout = dir.path().join(format!("layout{i}"));
        out.write_layout(&layout).unwrap();
        files.push((
            fs_err::read(&tar).unwrap(),
            fs_err::read(layout.join("index.json")).unwrap(),
        ));
    }
    assert_eq!(files[0], files[1]);
}

#[test]
fn layout_and_tarball_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = build(example_request(2)).unwrap();
    let layout = dir.path().join("layout");
    out.write_layout(&layout).unwrap();
    assert_eq!(
        fs_err::read_to_string(layout.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    assert_eq!(
        fs_err::read(layout.join("index.json")).unwrap(),
        out.index_json
    );
    for img in &out.images {
        for d in [
            img.manifest.descriptor.digest,
            img.config.descriptor.digest,
            Digest::from_sha256(img.layers[0].blob.digests.compressed_sha256),
        ] {
            let blob = fs_err::read(layout.join("blobs/sha256").join(d.hex())).unwrap();
            assert_eq!(Digest::of(&blob), d, "blob content matches its name");
        }
    }
    let tar_path = dir.path().join("out.tar");
    out.write_tarball(&tar_path).unwrap();
    let mut ar = tar::Archive::new(fs_err::File::open(&tar_path).unwrap());
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(
        names.contains(&"manifest.json".to_owned()) && names.last().unwrap() == "index.json",
        "{names:?}"
    );
    let mut ar = tar::Archive::new(fs_err::File::open(&tar_path).unwrap());
    let manifest = ar
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap().to_str() == Some("manifest.json"))
        .map(|mut e| {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            s
        })
        .unwrap();
    let m: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m[0]["RepoTags"][0], "example.test/hello:latest-amd64");
    assert_eq!(m[1]["RepoTags"][0], "example.test/hello:latest-arm64");
    let sboms = out.write_sboms(dir.path()).unwrap();
    assert_eq!(sboms.len(), 3);
}

#[test]
fn minirootfs_is_a_plain_tar() {
    let dir = tempfile::tempdir().unwrap();
    let req = example_request(1);
    let out = dir.path().join("rootfs.tar");
    apko_build::Builder::new(req.clone())
        .build_minirootfs(apko_build::deps::apko_config::Arch::Amd64, &out)
        .unwrap();
    let mut ar = tar::Archive::new(fs_err::File::open(&out).unwrap());
    assert!(
        ar.entries()
            .unwrap()
            .any(|e| e.unwrap().path().unwrap().to_str() == Some("usr/bin/hello"))
    );
    let gz = dir.path().join("rootfs.tar.gz");
    apko_build::Builder::new(req)
        .build_minirootfs(apko_build::deps::apko_config::Arch::Amd64, &gz)
        .unwrap();
    assert_eq!(&fs_err::read(&gz).unwrap()[..2], b"\x1f\x8b");
}
