//! OCI 1.1 referrers: artifacts (SBOMs, attestations) attached to a manifest through their
//! `subject`. A registry with the referrers API (`GET /v2/<name>/referrers/<digest>`) indexes
//! them itself; for one without it, the referrers tag schema is kept up to date: an image
//! index tagged `sha256-<hex of the subject>` listing every referrer.

use super::{Registry, RegistryError, Repository};
use crate::digest::Digest;
use crate::layout::Blob;
use crate::types::{Descriptor, MEDIA_TYPE_INDEX, MEDIA_TYPE_MANIFEST};
use std::collections::BTreeMap;

/// The OCI empty descriptor's media type (an artifact's config).
pub const MEDIA_TYPE_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// One artifact to attach.
#[derive(Debug, Clone, Copy)]
pub struct Artifact<'a> {
    /// Its `artifactType`, also its layer's media type (`application/spdx+json`, ...).
    pub artifact_type: &'a str,
    /// The document.
    pub bytes: &'a [u8],
    /// Its file name (`org.opencontainers.image.title`).
    pub title: &'a str,
}

fn plain(d: &Descriptor) -> serde_json::Value {
    serde_json::json!({"mediaType": d.media_type, "digest": d.digest.to_string(), "size": d.size})
}

/// Pushes `artifact` to `repo` as a manifest whose `subject` is `subject`, then, unless the
/// registry has the referrers API, adds it to the referrers tag of the subject. `annotations`
/// go on the artifact manifest (e.g. `org.opencontainers.image.created`). Returns the artifact
/// manifest's descriptor.
pub fn attach(
    registry: &dyn Registry,
    repo: &Repository,
    subject: &Descriptor,
    artifact: &Artifact<'_>,
    annotations: &BTreeMap<String, String>,
) -> Result<Descriptor, RegistryError> {
    let empty = EMPTY_JSON.to_vec();
    let empty_desc = Descriptor::of(MEDIA_TYPE_EMPTY, &empty);
    let layer = Descriptor::of(artifact.artifact_type, artifact.bytes);
    registry.push_blob(repo, &layer.digest, &Blob::Bytes(artifact.bytes.to_vec()))?;
    registry.push_blob(repo, &empty_desc.digest, &Blob::Bytes(empty))?;
    let bytes = artifact_manifest(subject, artifact, annotations);
    let mut desc = Descriptor::of(MEDIA_TYPE_MANIFEST, &bytes);
    registry.push_manifest(repo, &desc.digest.to_string(), MEDIA_TYPE_MANIFEST, &bytes)?;
    desc.artifact_type = Some(artifact.artifact_type.to_owned());
    if !registry.has_referrers_api(repo)? {
        update_referrers_tag(registry, repo, &subject.digest, &desc)?;
    }
    Ok(desc)
}

/// The content of the empty config of an artifact manifest ([`MEDIA_TYPE_EMPTY`]).
pub const EMPTY_JSON: &[u8] = b"{}";

/// The artifact manifest [`attach`] pushes for `artifact` (its config [`EMPTY_JSON`], its one
/// layer the document), also what an OCI layout holds as a referrer.
pub fn artifact_manifest(
    subject: &Descriptor,
    artifact: &Artifact<'_>,
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    let empty_desc = Descriptor::of(MEDIA_TYPE_EMPTY, EMPTY_JSON);
    let layer = Descriptor::of(artifact.artifact_type, artifact.bytes);
    let mut layer_json = plain(&layer);
    layer_json["annotations"] =
        serde_json::json!({"org.opencontainers.image.title": artifact.title});
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "artifactType": artifact.artifact_type,
        "config": plain(&empty_desc),
        "layers": [layer_json],
        "subject": plain(subject),
        "annotations": annotations,
    });
    serde_json::to_vec(&manifest).expect("JSON values serialise")
}

/// The referrers tag of a subject: `sha256-<hex>`.
pub fn referrers_tag(subject: &Digest) -> String {
    subject.to_string().replacen(':', "-", 1)
}

/// Adds `referrer` to the index tagged [`referrers_tag`] of `subject` (created when missing),
/// entries sorted by digest so that the same referrers give the same index.
fn update_referrers_tag(
    registry: &dyn Registry,
    repo: &Repository,
    subject: &Digest,
    referrer: &Descriptor,
) -> Result<(), RegistryError> {
    let tag = referrers_tag(subject);
    let mut entries: Vec<serde_json::Value> = match registry.find_manifest(repo, &tag)? {
        Some((_, bytes)) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["manifests"].as_array().cloned())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let digest = referrer.digest.to_string();
    if entries
        .iter()
        .any(|e| e["digest"].as_str() == Some(&digest))
    {
        return Ok(());
    }
    let mut entry = plain(referrer);
    if let Some(t) = &referrer.artifact_type {
        entry["artifactType"] = serde_json::Value::String(t.clone());
    }
    entries.push(entry);
    entries.sort_by(|a, b| a["digest"].as_str().cmp(&b["digest"].as_str()));
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": entries,
    });
    let bytes = serde_json::to_vec(&index).expect("JSON values serialise");
    registry.push_manifest(repo, &tag, MEDIA_TYPE_INDEX, &bytes)?;
    Ok(())
}
