//! Attestations of a build (docs/sbom.md): in-toto statements about the images (their SBOMs
//! and the SLSA provenance of the build), signed as DSSE envelopes when a key is given;
//! written as files, held by OCI layouts and attached in registries as OCI 1.1 referrers,
//! and checked again by [`verify_attestations`].

mod verify;

pub use verify::{AttestationError, Verified, verify_attestations};

use crate::error::BuildError;
use crate::fetch::Expanded;
use crate::output::BuildOutput;
use crate::request::{BuildRequest, SourceDateEpoch};
use apko_config::Arch;
use apko_oci::registry::referrers::{Artifact, EMPTY_JSON, MEDIA_TYPE_EMPTY, artifact_manifest};
use apko_oci::{Blob, Descriptor, Digest, Document, ImageBlobs, LayerRef, MEDIA_TYPE_MANIFEST};
use apko_sbom::dsse::{Envelope, PAYLOAD_TYPE_IN_TOTO, SigningKey, VerifyingKey};
use apko_sbom::provenance::{ConfigFile, ImageProvenance, PackageMaterial};
use apko_sbom::statement::{
    PREDICATE_CYCLONEDX, PREDICATE_SLSA_PROVENANCE, PREDICATE_SPDX, ResourceDescriptor, Statement,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// The media type (and referrer `artifactType`) of a DSSE envelope.
pub const MEDIA_TYPE_DSSE: &str = "application/vnd.dsse.envelope.v1+json";
/// The media type (and referrer `artifactType`) of an unsigned in-toto statement.
pub const MEDIA_TYPE_STATEMENT: &str = PAYLOAD_TYPE_IN_TOTO;
/// The annotation of a referrer manifest that names the statement's `predicateType`.
pub const ANNOTATION_PREDICATE_TYPE: &str = "in-toto.io/predicate-type";

/// What an attestation says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum AttestationKind {
    /// The image's SPDX SBOM.
    Spdx,
    /// The image's CycloneDX SBOM.
    CycloneDx,
    /// The SLSA provenance v1 of the build.
    SlsaProvenance,
}

impl AttestationKind {
    /// Every kind.
    pub const ALL: [AttestationKind; 3] = [
        AttestationKind::Spdx,
        AttestationKind::CycloneDx,
        AttestationKind::SlsaProvenance,
    ];

    /// Its name (`verify-attestation --type`): `spdx`, `cyclonedx`, `slsaprovenance`.
    pub fn name(self) -> &'static str {
        match self {
            AttestationKind::Spdx => "spdx",
            AttestationKind::CycloneDx => "cyclonedx",
            AttestationKind::SlsaProvenance => "slsaprovenance",
        }
    }

    /// Its statement's `predicateType`.
    pub fn predicate_type(self) -> &'static str {
        match self {
            AttestationKind::Spdx => PREDICATE_SPDX,
            AttestationKind::CycloneDx => PREDICATE_CYCLONEDX,
            AttestationKind::SlsaProvenance => PREDICATE_SLSA_PROVENANCE,
        }
    }

    /// The kind of a `predicateType`.
    pub fn of_predicate_type(t: &str) -> Option<AttestationKind> {
        AttestationKind::ALL
            .into_iter()
            .find(|k| k.predicate_type() == t)
    }
}

impl FromStr for AttestationKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttestationKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("unknown attestation type `{s}`: expected `spdx`, `cyclonedx` or `slsaprovenance`")
            })
    }
}

/// One attestation: a statement, and its envelope when the build signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// What it says.
    pub kind: AttestationKind,
    /// Its file name without extension: `sbom-<apk arch>.spdx`, `sbom-<apk arch>.cdx`,
    /// `provenance`.
    pub stem: String,
    /// The manifest digests of the images it is about.
    pub subjects: Vec<Digest>,
    /// The in-toto statement (compact JSON; the envelope's payload).
    pub statement: Vec<u8>,
    /// The DSSE envelope (compact JSON), when signed.
    pub envelope: Option<Vec<u8>>,
}

impl Attestation {
    /// `<stem>.dsse.json` when signed, else `<stem>.intoto.json`.
    pub fn file_name(&self) -> String {
        let ext = if self.envelope.is_some() {
            "dsse.json"
        } else {
            "intoto.json"
        };
        format!("{}.{ext}", self.stem)
    }

    /// What is written and attached: the envelope, else the statement.
    pub fn bytes(&self) -> &[u8] {
        self.envelope.as_deref().unwrap_or(&self.statement)
    }

    /// Its media type: [`MEDIA_TYPE_DSSE`] or [`MEDIA_TYPE_STATEMENT`].
    pub fn media_type(&self) -> &'static str {
        if self.envelope.is_some() {
            MEDIA_TYPE_DSSE
        } else {
            MEDIA_TYPE_STATEMENT
        }
    }
}

/// Reads a PEM private key (`--sign-key`): PKCS#8 or SEC1, ECDSA P-256 or Ed25519.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, BuildError> {
    let text = fs_err::read_to_string(path).map_err(BuildError::io(path.display()))?;
    SigningKey::from_pem(&text, &path.display().to_string())
        .map_err(|e| AttestationError::Key(e).into())
}

/// Reads a PEM public key (`verify-attestation --key`; a private key is accepted too).
pub fn read_verifying_key(path: &Path) -> Result<VerifyingKey, BuildError> {
    let text = fs_err::read_to_string(path).map_err(BuildError::io(path.display()))?;
    VerifyingKey::from_pem(&text, &path.display().to_string())
        .map_err(|e| AttestationError::Key(e).into())
}

/// The provenance record of an installed package: where it was fetched from (credentials
/// removed), its `C:` (SHA-1 of the control segment) and the SHA-256 of its data segment,
/// both verified when it was expanded.
pub(crate) fn material(e: &Expanded, arch: Arch) -> PackageMaterial {
    let info = &e.chosen.info;
    PackageMaterial {
        name: info.name.to_string(),
        version: info.version.to_string(),
        arch: info
            .arch
            .clone()
            .unwrap_or_else(|| arch.apk_name().to_owned()),
        uri: if e.chosen.url.starts_with('/') {
            format!("file://{}", e.chosen.url)
        } else {
            apko_apk::source::strip_credentials(&e.chosen.url)
        },
        control_sha1: e.package.digests.identity.sha1().map(hex::encode),
        data_sha256: Some(hex::encode(e.package.digests.data_sha256)),
    }
}

/// The attestations `req` asks for of `out`: with a signing key, an envelope of every image
/// SBOM; with `provenance`, the provenance of the build (signed with the key, if any).
pub(crate) fn attestations(out: &BuildOutput, req: &BuildRequest) -> Vec<Attestation> {
    let name = format!("{}/{}", req.tag.registry, req.tag.repository);
    let sign = |statement: &Statement| {
        let payload = statement.to_json();
        let envelope = req
            .signing_key
            .as_ref()
            .map(|k| Envelope::sign(PAYLOAD_TYPE_IN_TOTO, &payload, k).to_json());
        (payload, envelope)
    };
    let mut list = Vec::new();
    if req.signing_key.is_some() {
        for i in &out.images {
            let digest = i.manifest.descriptor.digest;
            let subject = vec![ResourceDescriptor::sha256(&name, &digest.to_string())];
            for (kind, doc, ext) in [
                (AttestationKind::Spdx, &i.sbom, "spdx"),
                (AttestationKind::CycloneDx, &i.cyclonedx, "cdx"),
            ] {
                let Some(doc) = doc else { continue };
                let statement = Statement::of_document(subject.clone(), kind.predicate_type(), doc)
                    .expect("our SBOMs are JSON");
                let (statement, envelope) = sign(&statement);
                list.push(Attestation {
                    kind,
                    stem: format!("sbom-{}.{ext}", i.arch.apk_name()),
                    subjects: vec![digest],
                    statement,
                    envelope,
                });
            }
        }
    }
    if req.provenance {
        let statement = provenance(out, req, &name).statement();
        let (statement, envelope) = sign(&statement);
        list.push(Attestation {
            kind: AttestationKind::SlsaProvenance,
            stem: "provenance".to_owned(),
            subjects: out
                .images
                .iter()
                .map(|i| i.manifest.descriptor.digest)
                .collect(),
            statement,
            envelope,
        });
    }
    list
}

/// The provenance of `out`: subjects the images, parameters the configuration files and the
/// command line, dependencies the configuration files, base images and packages.
fn provenance(out: &BuildOutput, req: &BuildRequest, name: &str) -> ImageProvenance {
    use sha2::Digest as _;
    ImageProvenance {
        subjects: out
            .images
            .iter()
            .map(|i| ResourceDescriptor::sha256(name, &i.manifest.descriptor.digest.to_string()))
            .collect(),
        config_files: req
            .config
            .sources
            .iter()
            .map(|s| ConfigFile {
                name: s.name.clone(),
                sha256: hex::encode(sha2::Sha256::digest(&s.bytes)),
            })
            .collect(),
        parameters: parameters(req),
        base_images: out
            .images
            .iter()
            .filter_map(|i| {
                i.base_image.map(|d| {
                    let mut r = ResourceDescriptor::sha256(
                        &format!("contents.baseimage ({})", i.arch.apk_name()),
                        &d.to_string(),
                    );
                    r.media_type = Some(MEDIA_TYPE_MANIFEST.to_owned());
                    r
                })
            })
            .collect(),
        packages: out
            .images
            .iter()
            .flat_map(|i| i.materials.iter().cloned())
            .collect(),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// `externalParameters` besides the configuration: what the command line adds or overrides
/// that changes the image (only what was given).
fn parameters(req: &BuildRequest) -> BTreeMap<String, serde_json::Value> {
    use serde_json::Value;
    let strip = |list: &[String]| -> Value {
        list.iter()
            .map(|u| Value::from(apko_apk::source::strip_credentials(u)))
            .collect()
    };
    let mut p = BTreeMap::new();
    p.insert("reference".to_owned(), req.tag.to_string().into());
    if let Some(archs) = &req.archs {
        let names: Vec<Value> = archs.iter().map(|a| a.apk_name().into()).collect();
        p.insert("archs".to_owned(), names.into());
    }
    for (key, list) in [
        ("packages", &req.extra_packages),
        ("repositories", &req.extra_repositories),
        ("buildRepositories", &req.extra_build_repositories),
        ("keyring", &req.extra_keyring),
    ] {
        if !list.is_empty() {
            let v = if key == "packages" {
                list.iter().map(|s| Value::from(s.as_str())).collect()
            } else {
                strip(list)
            };
            p.insert(key.to_owned(), v);
        }
    }
    if !req.annotations.is_empty() {
        p.insert(
            "annotations".to_owned(),
            serde_json::to_value(&req.annotations).expect("strings serialise"),
        );
    }
    if let Some(d) = req.build_date {
        p.insert("buildDate".to_owned(), apko_oci::rfc3339(d).into());
    }
    match req.source_date_epoch {
        SourceDateEpoch::Unset => {}
        SourceDateEpoch::Empty => {
            p.insert("sourceDateEpoch".to_owned(), "".into());
        }
        SourceDateEpoch::Set(v) => {
            p.insert("sourceDateEpoch".to_owned(), v.to_string().into());
        }
    }
    if let Some(vcs) = req
        .config
        .config
        .vcs_url
        .as_deref()
        .filter(|v| !v.is_empty())
    {
        p.insert(
            "vcsUrl".to_owned(),
            apko_apk::source::strip_credentials(vcs).into(),
        );
    }
    if let Some(lock) = &req.lock {
        use sha2::Digest as _;
        let digest = hex::encode(sha2::Sha256::digest(lock.to_json()));
        p.insert(
            "lockfile".to_owned(),
            serde_json::json!({"digest": {"sha256": digest}}),
        );
    }
    if let Some(f) = req.format {
        let name = match f {
            apko_config::ImageFormat::Erofs => "erofs",
            apko_config::ImageFormat::Tar => "tar",
        };
        p.insert("format".to_owned(), name.into());
    }
    if let Some(c) = req.compression {
        let name = match c {
            apko_config::LayerCompression::Zstd => "zstd",
            apko_config::LayerCompression::Gzip => "gzip",
        };
        p.insert("compression".to_owned(), name.into());
    }
    if let Some(l) = req.compression_level {
        p.insert("compressionLevel".to_owned(), l.into());
    }
    if req.ignore_signatures {
        p.insert("ignoreSignatures".to_owned(), true.into());
    }
    p
}

/// The referrer artifacts of every attestation for `out`'s images: one artifact manifest per
/// (attestation, image), exactly as [`BuildOutput::attach_attestations`] pushes them.
pub(crate) fn referrers(out: &BuildOutput) -> Vec<(Descriptor, ImageBlobs)> {
    let mut list = Vec::new();
    for a in &out.attestations {
        let title = a.file_name();
        let artifact = Artifact {
            artifact_type: a.media_type(),
            bytes: a.bytes(),
            title: &title,
        };
        for d in &a.subjects {
            let Some(image) = out
                .images
                .iter()
                .find(|i| i.manifest.descriptor.digest == *d)
            else {
                continue;
            };
            let manifest = artifact_manifest(
                &subject(image),
                &artifact,
                &referrer_annotations(a, image.created),
            );
            let doc = Document::new(MEDIA_TYPE_MANIFEST, manifest);
            let mut entry = doc.descriptor.clone();
            entry.artifact_type = Some(a.media_type().to_owned());
            list.push((
                entry,
                ImageBlobs {
                    manifest: doc,
                    config: Document::new(MEDIA_TYPE_EMPTY, EMPTY_JSON.to_vec()),
                    layers: vec![LayerRef {
                        descriptor: Descriptor::of(a.media_type(), a.bytes()),
                        blob: Blob::Bytes(a.bytes().to_vec()),
                    }],
                    repo_tags: Vec::new(),
                },
            ));
        }
    }
    list
}

/// The descriptor of `image` as a referrer's `subject` (no platform, no artifact type).
pub(crate) fn subject(image: &crate::image::ArchImage) -> Descriptor {
    let mut d = image.manifest.descriptor.clone();
    d.platform = None;
    d.artifact_type = None;
    d
}

/// The annotations of the referrer manifest of `a`: the build date and the predicate type.
pub(crate) fn referrer_annotations(a: &Attestation, created: i64) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            ANNOTATION_PREDICATE_TYPE.to_owned(),
            a.kind.predicate_type().to_owned(),
        ),
        (
            "org.opencontainers.image.created".to_owned(),
            apko_oci::rfc3339(created),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        for k in AttestationKind::ALL {
            assert_eq!(k.name().parse::<AttestationKind>(), Ok(k));
            assert_eq!(
                AttestationKind::of_predicate_type(k.predicate_type()),
                Some(k)
            );
        }
        assert!("slsa".parse::<AttestationKind>().is_err());
    }
}
