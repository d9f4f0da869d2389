//! Images read back from a real registry (the CNCF `docker-registry`, started by the test):
//! `apko sbom REF`, `apko verify CONFIG --lockfile L REF` and `apko verify-attestation REF`
//! give what they give on the local layout of the same build. `#[ignore]`d: scripts/test.sh
//! runs them after installing the registry; a missing registry fails them.
#![allow(clippy::disallowed_methods)]

mod common;

use apko_build::deps::apko_sbom::dsse::SigningKey;
use common::{apko, root, stderr, stdout};
use std::path::Path;

const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1700000000");

fn setup(d: &Path) -> String {
    let cfg = root().join("examples/hello/apko.yaml");
    let cfg = cfg.to_str().unwrap().to_owned();
    let o = apko(&["lock", &cfg, "--output", "hello.lock.json"], d, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    cfg
}

#[test]
#[ignore = "needs docker-registry (scripts/install-test-tools.sh)"]
fn registry_images_are_read_back_by_sbom_verify_and_verify_attestation() {
    let reg = common::LocalRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = setup(d);
    let key = SigningKey::ed25519_from_bytes(&[0x51; 32]);
    fs_err::write(d.join("k.pem"), key.to_pkcs8_pem()).unwrap();
    fs_err::write(d.join("k.pub"), key.verifying_key().to_pem()).unwrap();
    let tag = format!("{}/test/hello:latest", reg.host);
    let env = [EPOCH, ("DOCKER_CONFIG", d.to_str().unwrap())];
    let common = ["--lockfile", "hello.lock.json", "--sign-key", "k.pem"];
    let mut args = vec!["publish", cfg.as_str(), tag.as_str()];
    args.extend_from_slice(&common);
    let o = apko(&args, d, &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let published = stdout(&o).trim().to_owned();
    assert!(published.contains("@sha256:"), "{published}");
    fs_err::create_dir(d.join("layout")).unwrap();
    let mut args = vec!["build", cfg.as_str(), tag.as_str(), "layout"];
    args.extend_from_slice(&common);
    let o = apko(&args, d, &[EPOCH]);
    assert!(o.status.success(), "{}", stderr(&o));

    // apko sbom: the same documents from the registry as from the layout.
    for (image, out) in [("layout", "from-layout"), (tag.as_str(), "from-registry")] {
        fs_err::create_dir(d.join(out)).unwrap();
        let o = apko(
            &["sbom", image, "--sbom-path", out, "--reference", &tag],
            d,
            &env,
        );
        assert!(o.status.success(), "{image}: {}", stderr(&o));
    }
    for arch in ["x86_64", "aarch64"] {
        let f = format!("sbom-{arch}.spdx.json");
        assert_eq!(
            fs_err::read(d.join("from-registry").join(&f)).unwrap(),
            fs_err::read(d.join("from-layout").join(&f)).unwrap(),
            "{f}"
        );
    }

    // apko verify: by tag and by the published digest.
    for image in [tag.as_str(), published.as_str()] {
        let o = apko(
            &[
                "verify",
                cfg.as_str(),
                image,
                "--tag",
                tag.as_str(),
                "--lockfile",
                "hello.lock.json",
            ],
            d,
            &env,
        );
        assert!(o.status.success(), "{image}: {}", stderr(&o));
        assert!(stdout(&o).contains("verified"), "{}", stdout(&o));
    }
    // Another build date: the first difference is named.
    let o = apko(
        &[
            "verify",
            cfg.as_str(),
            &published,
            "--tag",
            &tag,
            "--lockfile",
            "hello.lock.json",
        ],
        d,
        &[("SOURCE_DATE_EPOCH", "0"), env[1]],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("mtime: rebuilt 0, image 1700000000"),
        "{}",
        stderr(&o)
    );

    // apko verify-attestation: the referrers pulled with the image.
    let o = apko(&["verify-attestation", &tag, "--key", "k.pub"], d, &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let verified = stdout(&o);
    assert!(verified.contains("https://spdx.dev/Document"), "{verified}");
    assert!(
        verified.contains("https://slsa.dev/provenance/v1"),
        "{verified}"
    );
    // With another key: refused.
    let other = SigningKey::ed25519_from_bytes(&[0x52; 32]);
    fs_err::write(d.join("other.pub"), other.verifying_key().to_pem()).unwrap();
    let o = apko(&["verify-attestation", &tag, "--key", "other.pub"], d, &env);
    assert!(!o.status.success(), "{}", stdout(&o));

    // A reference that names nothing: the registry's answer, not a panic.
    let o = apko(
        &["sbom", &format!("{}/test/nothing:latest", reg.host)],
        d,
        &env,
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot pull"), "{}", stderr(&o));
    let o = apko(&["sbom", "no-such-dir"], d, &env);
    assert!(
        stderr(&o).contains("not a registry reference"),
        "{}",
        stderr(&o)
    );
}
