//! Attestations of a build: the signed SBOMs and the provenance, their bytes reproducible,
//! held by the layout as referrers and attached in a registry (an in-memory double of the
//! `Registry` trait) the same way, then read back and verified.

use crate::support::{build, pkg, request, write_repo};
use apko_build::deps::apko_oci::registry::referrers::referrers_tag;
use apko_build::deps::apko_oci::registry::{BlobOutcome, Registry, RegistryError, Repository};
use apko_build::deps::apko_oci::{Blob, Digest};
use apko_build::deps::apko_sbom::dsse::{Envelope, SigningKey};
use apko_build::deps::apko_sbom::statement::Statement;
use apko_build::{AttestationKind, BuildRequest, MEDIA_TYPE_DSSE, SbomFormat};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

const CONFIG: &str = "contents:\n  keyring: [@KEY@]\n  repositories: [@REPO@]\n  packages: [app]\narchs: [x86_64, aarch64]\n";

fn signed_request(dir: &Path, key: SigningKey) -> BuildRequest {
    let repo = write_repo(
        &dir.join("repo"),
        &["x86_64", "aarch64"],
        &[
            pkg("app", "1.0-r0")
                .depends("libapp")
                .file("usr/bin/app", 0o755, "app"),
            pkg("libapp", "2.0-r1").file("usr/lib/libapp.so", 0o644, "lib"),
        ],
    );
    let mut req = request(dir, CONFIG, &repo);
    req.sbom_formats = SbomFormat::ALL.into_iter().collect();
    req.signing_key = Some(key);
    req.provenance = true;
    req.extra_packages = vec!["libapp".into()];
    req
}

/// Manifests by (repository, reference): (media type, bytes).
type Manifests = BTreeMap<(String, String), (String, Vec<u8>)>;

/// A registry in memory: blobs and manifests by repository and reference; no referrers API,
/// so the referrers tag schema is used.
#[derive(Default)]
struct MemoryRegistry {
    blobs: Mutex<BTreeMap<(String, Digest), Vec<u8>>>,
    manifests: Mutex<Manifests>,
}

impl Registry for MemoryRegistry {
    fn push_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        blob: &Blob,
    ) -> Result<BlobOutcome, RegistryError> {
        let bytes = match blob {
            Blob::Bytes(b) => b.clone(),
            Blob::File(p) => fs_err::read(p).unwrap(),
        };
        assert_eq!(Digest::of(&bytes), *digest);
        self.blobs
            .lock()
            .unwrap()
            .insert((repo.name.clone(), *digest), bytes);
        Ok(BlobOutcome::Uploaded(0))
    }

    fn find_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<(String, Vec<u8>)>, RegistryError> {
        Ok(self
            .manifests
            .lock()
            .unwrap()
            .get(&(repo.name.clone(), reference.to_owned()))
            .cloned())
    }

    fn push_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::of(bytes);
        let mut m = self.manifests.lock().unwrap();
        for r in [reference.to_owned(), digest.to_string()] {
            m.insert(
                (repo.name.clone(), r),
                (media_type.to_owned(), bytes.to_vec()),
            );
        }
        Ok(digest)
    }
}

#[test]
fn signed_sboms_and_provenance_are_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    for key in [
        SigningKey::p256_from_bytes(&[5; 32]).unwrap(),
        SigningKey::ed25519_from_bytes(&[6; 32]),
    ] {
        let a = build(signed_request(dir.path(), key.clone())).unwrap();
        let mut again = signed_request(dir.path(), key.clone());
        again.jobs = 1;
        let b = build(again).unwrap();
        assert_eq!(a.attestations, b.attestations, "{:?}", key.algorithm());
        let names: Vec<String> = a
            .attestations
            .iter()
            .map(apko_build::Attestation::file_name)
            .collect();
        assert_eq!(
            names,
            [
                "sbom-x86_64.spdx.dsse.json",
                "sbom-x86_64.cdx.dsse.json",
                "sbom-aarch64.spdx.dsse.json",
                "sbom-aarch64.cdx.dsse.json",
                "provenance.dsse.json",
            ]
        );
        for att in &a.attestations {
            let env = Envelope::from_json(att.bytes()).unwrap();
            let payload = env.verify(&key.verifying_key()).unwrap();
            assert_eq!(payload, att.statement, "the envelope signs the statement");
            let s: Statement = serde_json::from_slice(&payload).unwrap();
            assert_eq!(s.predicate_type, att.kind.predicate_type());
            for d in &att.subjects {
                assert!(s.has_subject(&d.to_string()));
                assert_eq!(s.subject[0].name.as_deref(), Some("example.test/img"));
            }
        }
        // The layouts are the same bytes too, referrers included.
        let (la, lb) = (dir.path().join("la"), dir.path().join("lb"));
        a.write_layout(&la).unwrap();
        b.write_layout(&lb).unwrap();
        assert_eq!(
            fs_err::read(la.join("index.json")).unwrap(),
            fs_err::read(lb.join("index.json")).unwrap()
        );
        let _ = fs_err::remove_dir_all(&la);
        let _ = fs_err::remove_dir_all(&lb);
    }
}

#[test]
fn provenance_lists_the_configuration_and_every_package() {
    let dir = tempfile::tempdir().unwrap();
    let out = build(signed_request(
        dir.path(),
        SigningKey::ed25519_from_bytes(&[1; 32]),
    ))
    .unwrap();
    let p = out
        .attestations
        .iter()
        .find(|a| a.kind == AttestationKind::SlsaProvenance)
        .unwrap();
    assert_eq!(p.subjects.len(), 2, "both images");
    let s: serde_json::Value = serde_json::from_slice(&p.statement).unwrap();
    let def = &s["predicate"]["buildDefinition"];
    assert_eq!(
        def["externalParameters"]["packages"],
        serde_json::json!(["libapp"])
    );
    assert_eq!(def["externalParameters"]["sourceDateEpoch"], "0");
    assert!(
        def["externalParameters"]["configuration"][0]["name"]
            .as_str()
            .unwrap()
            .ends_with("apko.yaml")
    );
    let deps = def["resolvedDependencies"].as_array().unwrap();
    // The configuration file, then two packages per architecture.
    assert_eq!(deps.len(), 5, "{deps:#?}");
    for (image, arch) in out.images.iter().zip(["x86_64", "aarch64"]) {
        assert_eq!(image.arch.apk_name(), arch);
        for pkg in &image.packages {
            let name = format!("{}-{}", pkg.name, pkg.version);
            let d = deps
                .iter()
                .find(|d| d["name"] == name.as_str() && d["annotations"]["arch"] == arch)
                .unwrap_or_else(|| panic!("{name} {arch}"));
            let c = pkg.checksum.as_ref().unwrap().sha1().unwrap();
            assert_eq!(d["digest"]["sha1"], hex::encode(c));
            assert_eq!(d["digest"]["sha256"].as_str().unwrap().len(), 64);
            assert!(d["uri"].as_str().unwrap().starts_with("file:///"), "{d}");
        }
    }
    assert!(s["predicate"]["runDetails"].get("metadata").is_none());
}

#[test]
fn attestations_are_attached_as_referrers_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::p256_from_bytes(&[9; 32]).unwrap();
    let out = build(signed_request(dir.path(), key.clone())).unwrap();
    let reg = MemoryRegistry::default();
    let tags = ["reg.test/team/img:v1".parse().unwrap()];
    out.publish(&reg, &tags, 2).unwrap();
    assert_eq!(out.attach_sboms(&reg, &tags).unwrap(), 6);
    // 4 SBOM envelopes and the provenance attached to each of the 2 images.
    assert_eq!(out.attach_attestations(&reg, &tags).unwrap(), 6);
    let layout = dir.path().join("layout");
    out.write_layout(&layout).unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(layout.join("index.json")).unwrap()).unwrap();
    let repo = Repository {
        registry: "reg.test".into(),
        name: "team/img".into(),
    };
    for image in &out.images {
        let digest = image.manifest.descriptor.digest;
        let (_, referrers) = reg
            .find_manifest(&repo, &referrers_tag(&digest))
            .unwrap()
            .expect("a referrers tag");
        let referrers: serde_json::Value = serde_json::from_slice(&referrers).unwrap();
        let dsse: Vec<&serde_json::Value> = referrers["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["artifactType"] == MEDIA_TYPE_DSSE)
            .collect();
        assert_eq!(dsse.len(), 3, "two SBOMs and the provenance: {referrers}");
        let mut kinds = Vec::new();
        for entry in dsse {
            let d = entry["digest"].as_str().unwrap();
            let (_, manifest) = reg.find_manifest(&repo, d).unwrap().unwrap();
            let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
            assert_eq!(m["subject"]["digest"], digest.to_string());
            // The layout holds the same referrer manifest.
            assert!(
                index["manifests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["digest"] == d && e["artifactType"] == MEDIA_TYPE_DSSE),
                "{d} in the layout"
            );
            let layer: Digest = m["layers"][0]["digest"].as_str().unwrap().parse().unwrap();
            let env = reg.blobs.lock().unwrap()[&(repo.name.clone(), layer)].clone();
            let payload = Envelope::from_json(&env)
                .unwrap()
                .verify(&key.verifying_key())
                .unwrap();
            let s: Statement = serde_json::from_slice(&payload).unwrap();
            assert!(s.has_subject(&digest.to_string()));
            assert_eq!(
                m["annotations"]["in-toto.io/predicate-type"],
                s.predicate_type.as_str()
            );
            kinds.push(AttestationKind::of_predicate_type(&s.predicate_type).unwrap());
        }
        kinds.sort();
        assert_eq!(kinds, AttestationKind::ALL);
    }
    // verify-attestation reads them back from the layout.
    let verified = apko_build::verify_attestations(
        &layout,
        &key.verifying_key(),
        Some(&dir.path().join("no-files")),
        None,
        dir.path(),
    );
    // (no such directory of files: an error naming it)
    assert!(verified.is_err());
    fs_err::create_dir(dir.path().join("no-files")).unwrap();
    let verified = apko_build::verify_attestations(
        &layout,
        &key.verifying_key(),
        Some(&dir.path().join("no-files")),
        None,
        dir.path(),
    )
    .unwrap();
    assert_eq!(verified.len(), 6, "{verified:#?}");
}
