//! `--sign-key`, `--provenance` and `apko verify-attestation`: signed SBOMs and SLSA
//! provenance written as DSSE envelopes and layout referrers, verified back; tampered files
//! and wrong keys refused. The `#[ignore]`d tests check the envelopes with securesystemslib,
//! in-toto and in-toto-attestation (Python, from the venv of scripts/install-test-tools.sh)
//! with keys made by openssl, and publish to a real registry; scripts/test.sh runs them, and
//! a missing tool fails them.
#![allow(clippy::disallowed_methods)]

mod common;

use apko_build::deps::apko_sbom::dsse::SigningKey;
use common::{apko, root, stderr, stdout};
use std::path::{Path, PathBuf};

const TAG: &str = "example.test/hello:latest";

fn config() -> String {
    root()
        .join("examples/hello/apko.yaml")
        .display()
        .to_string()
}

/// Writes `key` (PKCS#8) and its public key into `dir` as `<name>.pem` and `<name>.pub`.
fn write_key(dir: &Path, name: &str, key: &SigningKey) -> (PathBuf, PathBuf) {
    let private = dir.join(format!("{name}.pem"));
    let public = dir.join(format!("{name}.pub"));
    fs_err::write(&private, key.to_pkcs8_pem()).unwrap();
    fs_err::write(&public, key.verifying_key().to_pem()).unwrap();
    (private, public)
}

/// `apko build` of the hello example into `out` (under `dir`) with `args`.
fn build(dir: &Path, out: &str, args: &[&str]) {
    if !out.ends_with(".tar") {
        fs_err::create_dir_all(dir.join(out)).unwrap();
    }
    let cfg = config();
    let mut all = vec!["build", cfg.as_str(), TAG, out];
    all.extend_from_slice(args);
    let o = apko(&all, dir, &[("SOURCE_DATE_EPOCH", "1700000000")]);
    assert!(o.status.success(), "apko {all:?}: {}", stderr(&o));
}

fn verify(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["verify-attestation"];
    all.extend_from_slice(args);
    apko(&all, dir, &[])
}

#[test]
fn signed_builds_verify_and_tampering_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p256 = SigningKey::p256_from_bytes(&[0x42; 32]).unwrap();
    let ed = SigningKey::ed25519_from_bytes(&[0x43; 32]);
    let (p256_key, p256_pub) = write_key(d, "p256", &p256);
    let (ed_key, ed_pub) = write_key(d, "ed", &ed);
    let (p256_key, p256_pub) = (p256_key.to_str().unwrap(), p256_pub.to_str().unwrap());
    let (ed_key, ed_pub) = (ed_key.to_str().unwrap(), ed_pub.to_str().unwrap());

    // A layout: the envelopes are referrers in index.json and files in the directory.
    build(
        d,
        "layout",
        &["--sign-key", p256_key, "--sbom-formats", "spdx,cyclonedx"],
    );
    for f in [
        "provenance.dsse.json",
        "sbom-x86_64.spdx.dsse.json",
        "sbom-x86_64.cdx.dsse.json",
        "sbom-aarch64.spdx.dsse.json",
        "sbom-aarch64.cdx.dsse.json",
    ] {
        assert!(d.join("layout").join(f).is_file(), "{f}");
    }
    let o = verify(d, &["layout", "--key", p256_pub]);
    assert!(o.status.success(), "{}", stderr(&o));
    let said = stdout(&o);
    // 2 SBOMs per image and the provenance attached to both images.
    assert_eq!(said.lines().count(), 6, "{said}");
    for t in [
        "https://spdx.dev/Document",
        "https://cyclonedx.org/bom",
        "https://slsa.dev/provenance/v1",
    ] {
        assert!(said.contains(t), "{said}");
    }
    let o = verify(
        d,
        &["layout", "--key", p256_pub, "--type", "slsaprovenance"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o)
            .lines()
            .all(|l| l.contains("https://slsa.dev/provenance/v1")),
        "{}",
        stdout(&o)
    );

    // The wrong key.
    let o = verify(d, &["layout", "--key", ed_pub]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("error: `layout (referrer sha256:")
            && e.contains("the signature does not verify")
            && e.contains("Caused by: no signature verifies with the ed25519 key"),
        "{e}"
    );

    // A tarball: the envelopes next to it, signed with Ed25519 (provenance on by default).
    fs_err::create_dir(d.join("tar")).unwrap();
    build(&d.join("tar"), "hello.tar", &["--sign-key", ed_key]);
    let o = verify(d, &["tar/hello.tar", "--key", ed_pub]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 3, "{}", stdout(&o));
    let o = verify(
        d,
        &["tar/hello.tar", "--key", ed_pub, "--type", "cyclonedx"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no signed attestations of type cyclonedx"),
        "{}",
        stderr(&o)
    );

    // A tampered payload: the file and the check are named.
    let file = d.join("tar/sbom-x86_64.spdx.dsse.json");
    let mut env: serde_json::Value = serde_json::from_slice(&fs_err::read(&file).unwrap()).unwrap();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let payload = b64.decode(env["payload"].as_str().unwrap()).unwrap();
    let tampered = String::from_utf8(payload)
        .unwrap()
        .replace("hello-baselayout", "hello-backdoored");
    env["payload"] = b64.encode(tampered).into();
    fs_err::write(&file, serde_json::to_vec(&env).unwrap()).unwrap();
    let o = verify(d, &["tar/hello.tar", "--key", ed_pub]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "error: `{}`: the signature does not verify",
            Path::new("tar")
                .join("sbom-x86_64.spdx.dsse.json")
                .display()
        )),
        "{}",
        stderr(&o)
    );
    // Attestations of another image (another build date), validly signed.
    fs_err::create_dir(d.join("other")).unwrap();
    let o = apko(
        &[
            "build",
            &config(),
            TAG,
            "other/hello.tar",
            "--sign-key",
            ed_key,
        ],
        d,
        &[("SOURCE_DATE_EPOCH", "1")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = verify(
        d,
        &["tar/hello.tar", "--key", ed_pub, "--attestations", "other"],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("error: `other/provenance.dsse.json`: no subject of the statement is an image of `tar/hello.tar`"),
        "{e}"
    );

    // A key file that is not a key.
    let o = apko(
        &["build", &config(), TAG, "x.tar", "--sign-key", p256_pub],
        d,
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("holds a `PUBLIC KEY` PEM block; expected `PRIVATE KEY` (PKCS#8)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn unsigned_provenance_and_nothing_to_verify() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    build(d, "hello.tar", &["--provenance"]);
    let statement: serde_json::Value =
        serde_json::from_slice(&fs_err::read(d.join("provenance.intoto.json")).unwrap()).unwrap();
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert!(!d.join("provenance.dsse.json").exists());
    let key = SigningKey::ed25519_from_bytes(&[1; 32]);
    let (_, public) = write_key(d, "k", &key);
    let o = verify(d, &["hello.tar", "--key", public.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("error: `hello.tar`: no signed attestations"),
        "{e}"
    );
    assert!(e.contains("hint: build with `--sign-key KEY`"), "{e}");
    let o = verify(d, &["missing", "--key", public.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("`missing`: no such file or directory, and not a registry reference"),
        "{}",
        stderr(&o)
    );
}

fn venv_python() -> String {
    let venv = std::env::var_os("APKO_TEST_VENV")
        .map_or_else(|| root().join("target/test-venv"), PathBuf::from);
    let bin = venv.join("bin/python");
    assert!(
        bin.is_file(),
        "{} is missing; run scripts/install-test-tools.sh (or set APKO_TEST_VENV)",
        bin.display()
    );
    bin.to_str().unwrap().to_owned()
}

fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let o = std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}`: {e}; install the test tools with scripts/install-test-tools.sh")
        });
    assert!(
        o.status.success(),
        "`{program} {}` failed:\n{}\n{}",
        args.join(" "),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Verifies each envelope with securesystemslib (`Envelope.verify` with an `SSlibKey` whose
/// keyid is the SPKI SHA-256 we write) and in-toto's `Envelope`, validates its statement with
/// in-toto-attestation (and a SLSA predicate with its provenance v1 message, unknown fields
/// refused), and checks that a tampered payload does not verify.
const CHECK: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from google.protobuf import json_format
from in_toto.models.metadata import Envelope as InTotoEnvelope
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

pub_path, scheme = sys.argv[1], sys.argv[2]
pub = serialization.load_pem_public_key(open(pub_path, "rb").read())
der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
h = hashes.Hash(hashes.SHA256()); h.update(der); keyid = h.finalize().hex()
key = SSlibKey.from_crypto(pub, keyid=keyid, scheme=scheme)
for path in sys.argv[3:]:
    data = json.load(open(path))
    assert [s["keyid"] for s in data["signatures"]] == [keyid], path
    env = Envelope.from_dict(json.load(open(path)))
    assert env.payload_type == "application/vnd.in-toto+json", env.payload_type
    env.verify([key], 1)
    InTotoEnvelope.from_dict(json.load(open(path))).verify([key], 1)
    pb = json_format.Parse(env.payload, statement_pb2.Statement())
    Statement.copy_from_pb(pb).validate()
    if pb.predicate_type == "https://slsa.dev/provenance/v1":
        predicate = json.loads(env.payload)["predicate"]
        json_format.Parse(json.dumps(predicate), provenance_pb2.Provenance())
    bad = json.load(open(path))
    bad["payload"] = base64.b64encode(env.payload.replace(b"hello", b"jello")).decode()
    try:
        Envelope.from_dict(bad).verify([key], 1)
    except Exception:
        pass
    else:
        raise SystemExit(f"{path}: a tampered payload verified")
    print(path, pb.predicate_type)
"#;

#[test]
#[ignore = "needs openssl and the Python venv (securesystemslib, in-toto, in-toto-attestation; scripts/install-test-tools.sh); run by scripts/test.sh"]
fn envelopes_verify_with_securesystemslib_and_in_toto() {
    let python = venv_python();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs_err::write(d.join("check.py"), CHECK).unwrap();
    // Keys made by openssl: P-256 (PKCS#8 and SEC1) and Ed25519.
    run(
        "openssl",
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "p256.pem",
        ],
        d,
    );
    run(
        "openssl",
        &["ec", "-in", "p256.pem", "-out", "p256-sec1.pem"],
        d,
    );
    run(
        "openssl",
        &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"],
        d,
    );
    for k in ["p256", "ed"] {
        run(
            "openssl",
            &[
                "pkey",
                "-in",
                &format!("{k}.pem"),
                "-pubout",
                "-out",
                &format!("{k}.pub"),
            ],
            d,
        );
    }
    for (out, key, public, scheme) in [
        ("p256", "p256.pem", "p256.pub", "ecdsa-sha2-nistp256"),
        ("sec1", "p256-sec1.pem", "p256.pub", "ecdsa-sha2-nistp256"),
        ("ed", "ed.pem", "ed.pub", "ed25519"),
    ] {
        let key = d.join(key).display().to_string();
        build(
            d,
            out,
            &["--sign-key", &key, "--sbom-formats", "spdx,cyclonedx"],
        );
        // Reproducible: the same key and inputs give the same envelopes.
        build(
            d,
            &format!("{out}-again"),
            &["--sign-key", &key, "--sbom-formats", "spdx,cyclonedx"],
        );
        let mut files: Vec<String> = fs_err::read_dir(d.join(out))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".dsse.json"))
            .collect();
        files.sort();
        assert_eq!(files.len(), 5, "{files:?}");
        for f in &files {
            assert_eq!(
                fs_err::read(d.join(out).join(f)).unwrap(),
                fs_err::read(d.join(format!("{out}-again")).join(f)).unwrap(),
                "{out}/{f}: the same bytes"
            );
        }
        let mut args = vec!["check.py".to_owned(), public.to_owned(), scheme.to_owned()];
        args.extend(files.iter().map(|f| format!("{out}/{f}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let said = run(&python, &args, d);
        assert_eq!(said.lines().count(), 5, "{said}");
        let o = verify(d, &[out, "--key", public]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

/// `publish --sign-key` to a CNCF registry (no referrers API): every image's referrers tag
/// lists its two SBOM envelopes and the provenance, and each layer is the envelope `build`
/// writes with the same key, byte for byte.
#[test]
#[ignore = "needs docker-registry (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn publish_attaches_the_attestations_as_referrers() {
    let reg = common::LocalRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = SigningKey::p256_from_bytes(&[0x44; 32]).unwrap();
    let (private, _) = write_key(d, "k", &key);
    let private = private.to_str().unwrap();
    let tag = format!("{}/test/hello:latest", reg.host);
    let o = apko(
        &["publish", &config(), &tag, "--sign-key", private],
        d,
        &[
            ("SOURCE_DATE_EPOCH", "1700000000"),
            ("DOCKER_CONFIG", d.to_str().unwrap()),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("attached 4 attestations as OCI referrers"),
        "{}",
        stderr(&o)
    );
    // The same build as a layout, with the envelopes as files (same tag: same subjects).
    fs_err::create_dir(d.join("layout")).unwrap();
    let o = apko(
        &["build", &config(), &tag, "layout", "--sign-key", private],
        d,
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(d.join("layout/index.json")).unwrap()).unwrap();
    let images: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["platform"].is_object())
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(images.len(), 2);
    for (digest, arch) in images.iter().zip(["x86_64", "aarch64"]) {
        let referrers = reg.get(
            &format!("/v2/test/hello/manifests/{}", digest.replacen(':', "-", 1)),
            Some("application/vnd.oci.image.index.v1+json"),
        );
        let referrers: serde_json::Value = serde_json::from_slice(&referrers).unwrap();
        let mut titles = Vec::new();
        for entry in referrers["manifests"].as_array().unwrap() {
            if entry["artifactType"] != "application/vnd.dsse.envelope.v1+json" {
                continue;
            }
            let m = reg.get(
                &format!(
                    "/v2/test/hello/manifests/{}",
                    entry["digest"].as_str().unwrap()
                ),
                Some("application/vnd.oci.image.manifest.v1+json"),
            );
            let m: serde_json::Value = serde_json::from_slice(&m).unwrap();
            assert_eq!(m["subject"]["digest"], digest.as_str());
            let layer = &m["layers"][0];
            let title = layer["annotations"]["org.opencontainers.image.title"]
                .as_str()
                .unwrap()
                .to_owned();
            let blob = reg.get(
                &format!("/v2/test/hello/blobs/{}", layer["digest"].as_str().unwrap()),
                None,
            );
            assert_eq!(
                blob,
                fs_err::read(d.join("layout").join(&title)).unwrap(),
                "{arch}: {title}"
            );
            titles.push(title);
        }
        titles.sort();
        assert_eq!(
            titles,
            [
                "provenance.dsse.json".to_owned(),
                format!("sbom-{arch}.spdx.dsse.json")
            ],
            "{referrers}"
        );
    }
}
