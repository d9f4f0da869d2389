//! OCI image JSON types, with fields in go-containerregistry's order (apko writes its images
//! with it), `BTreeMap`s for every map, and RFC 3339 times.

use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// `application/vnd.oci.image.manifest.v1+json`
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.index.v1+json`
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.config.v1+json`
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// `application/vnd.oci.image.layer.v1.tar+gzip`
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// apko's erofs layer: a raw EROFS filesystem image (its digest is its diff_id).
pub const MEDIA_TYPE_LAYER_EROFS: &str = "application/vnd.erofs";
/// A zstd-compressed tar layer.
pub const MEDIA_TYPE_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Media type of the referenced content.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Content digest.
    pub digest: Digest,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The platform of an image in an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type (for image manifests, the config media type).
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor of `data` with `media_type`.
    pub fn of(media_type: &str, data: &[u8]) -> Self {
        Descriptor {
            media_type: media_type.to_owned(),
            size: data.len() as u64,
            digest: Digest::of(data),
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }
}

/// A JSON document (a config, a manifest, an index) with its descriptor: the bytes are
/// exactly what the descriptor's digest and size describe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its descriptor (for a manifest in an index: with platform and artifact type).
    pub descriptor: Descriptor,
    /// The serialised document.
    pub bytes: Vec<u8>,
}

impl Document {
    /// `bytes` described with `media_type`.
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Self {
        Document {
            descriptor: Descriptor::of(media_type, &bytes),
            bytes,
        }
    }
}

/// An OS and CPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`, `arm64`, `arm`).
    pub architecture: String,
    /// Operating system.
    pub os: String,
    /// OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// [`MEDIA_TYPE_MANIFEST`].
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, bottom first.
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// [`MEDIA_TYPE_INDEX`].
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The manifests.
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// Author.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// RFC 3339 time.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// What created the layer.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    /// Comment.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
}

/// The layers of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Uncompressed layer digests, bottom first.
    pub diff_ids: Vec<Digest>,
}

/// The run-time configuration (docker's capitalised field names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Default arguments.
    #[serde(rename = "Cmd", default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    /// The entrypoint.
    #[serde(rename = "Entrypoint", default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    /// `KEY=value` pairs.
    #[serde(rename = "Env", default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Labels.
    #[serde(rename = "Labels", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// User (name or uid).
    #[serde(rename = "User", default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// Volumes (written as `{"/path":{}}`).
    #[serde(
        rename = "Volumes",
        default,
        skip_serializing_if = "BTreeSet::is_empty",
        with = "volume_map"
    )]
    pub volumes: BTreeSet<String>,
    /// Working directory.
    #[serde(
        rename = "WorkingDir",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    /// Stop signal.
    #[serde(
        rename = "StopSignal",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
}

/// `Volumes` is a JSON object whose values are empty objects.
mod volume_map {
    use serde::ser::SerializeMap;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::collections::{BTreeMap, BTreeSet};

    #[derive(serde::Serialize, Deserialize)]
    struct Empty {}

    pub(super) fn serialize<S: Serializer>(
        set: &BTreeSet<String>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(set.len()))?;
        for k in set {
            m.serialize_entry(k, &Empty {})?;
        }
        m.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeSet<String>, D::Error> {
        // The values are `{}`; only the keys matter.
        let m: BTreeMap<String, serde_json::Value> = BTreeMap::deserialize(d)?;
        Ok(m.into_keys().collect())
    }
}

/// An image configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture.
    pub architecture: String,
    /// Author.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    /// One entry per layer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Operating system.
    pub os: String,
    /// The layers.
    pub rootfs: RootFs,
    /// Run-time configuration.
    pub config: RunConfig,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

/// The earliest time RFC 3339 can write: 0000-01-01T00:00:00Z.
pub const RFC3339_MIN: i64 = -62_167_219_200;
/// The latest time RFC 3339 can write: 9999-12-31T23:59:59Z.
pub const RFC3339_MAX: i64 = 253_402_300_799;

/// Whether `secs` can be written as an RFC 3339 time (a four-digit year).
pub fn rfc3339_representable(secs: i64) -> bool {
    (RFC3339_MIN..=RFC3339_MAX).contains(&secs)
}

/// `secs` since the epoch as RFC 3339 in UTC (`1970-01-01T00:00:00Z`). Times outside [`RFC3339_MIN`]..=[`RFC3339_MAX`]
/// have no RFC 3339 form; callers check [`rfc3339_representable`] first (the build does).
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::to_go_json;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn descriptor_field_order_matches_ggcr() {
        let mut d = Descriptor::of(MEDIA_TYPE_MANIFEST, b"{}");
        d.platform = Some(Platform {
            architecture: "arm".into(),
            os: "linux".into(),
            os_features: vec![],
            variant: Some("v7".into()),
        });
        d.artifact_type = Some(MEDIA_TYPE_CONFIG.into());
        let json = String::from_utf8(to_go_json(&d)).unwrap();
        assert!(json.starts_with(r#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":2,"digest":"sha256:"#), "{json}");
        assert!(json.ends_with(r#""platform":{"architecture":"arm","os":"linux","variant":"v7"},"artifactType":"application/vnd.oci.image.config.v1+json"}"#), "{json}");
    }
}
