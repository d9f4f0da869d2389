//! Writing into an existing OCI layout: blobs already there are trusted only if they are
//! what their names say.
#![allow(clippy::disallowed_methods)]

use apko_oci::{
    Blob, Digest, Document, ImageBlobs, LayerRef, MEDIA_TYPE_CONFIG, MEDIA_TYPE_LAYER_GZIP,
    MEDIA_TYPE_MANIFEST, write_layout,
};

fn image() -> (ImageBlobs, Vec<u8>) {
    let layer = b"not really a gzip layer, but a blob all the same".to_vec();
    let layer_desc = apko_oci::Descriptor::of(MEDIA_TYPE_LAYER_GZIP, &layer);
    let config = Document::new(MEDIA_TYPE_CONFIG, br#"{"architecture":"amd64"}"#.to_vec());
    let manifest = Document::new(
        MEDIA_TYPE_MANIFEST,
        format!(
            r#"{{"config":{{"digest":"{}"}},"layers":[{{"digest":"{}"}}]}}"#,
            config.descriptor.digest, layer_desc.digest
        )
        .into_bytes(),
    );
    let index = format!(
        r#"{{"manifests":[{{"digest":"{}"}}]}}"#,
        manifest.descriptor.digest
    );
    (
        ImageBlobs {
            manifest,
            config,
            layers: vec![LayerRef {
                descriptor: layer_desc,
                blob: Blob::Bytes(layer),
            }],
            repo_tags: Vec::new(),
        },
        index.into_bytes(),
    )
}

fn blob(dir: &std::path::Path, d: &Digest) -> std::path::PathBuf {
    dir.join("blobs/sha256").join(d.hex())
}

#[test]
fn corrupt_existing_blobs_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (img, index) = image();
    write_layout(dir.path(), &index, std::slice::from_ref(&img)).unwrap();
    let layer = blob(dir.path(), &img.layers[0].descriptor.digest);
    let config = blob(dir.path(), &img.config.descriptor.digest);
    // Truncate one blob, replace another by a symbolic link to something else.
    fs_err::write(&layer, b"trunc").unwrap();
    fs_err::remove_file(&config).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &config).unwrap();
    write_layout(dir.path(), &index, std::slice::from_ref(&img)).unwrap();
    for (path, want) in [
        (&layer, &img.layers[0].descriptor.digest),
        (&config, &img.config.descriptor.digest),
    ] {
        let meta = fs_err::symlink_metadata(path).unwrap();
        assert!(meta.is_file(), "{} is a regular file again", path.display());
        assert_eq!(Digest::of(&fs_err::read(path).unwrap()), *want);
    }
    // Intact blobs are kept as they are (not rewritten).
    let before = fs_err::metadata(&layer).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_layout(dir.path(), &index, std::slice::from_ref(&img)).unwrap();
    assert_eq!(
        fs_err::metadata(&layer).unwrap().modified().unwrap(),
        before
    );
}
