//! Reading an image back from a registry into an OCI image layout: the index (or the single
//! manifest), every manifest, config and layer, every digest and size checked, and optionally
//! each manifest's referrers (SBOMs, attestations) listed in the layout's `index.json` after
//! the image.
//!
//! ```no_run
//! use apko_oci::registry::RegistryClient;
//! use apko_oci::registry::pull::{ImageRef, pull_image};
//!
//! let client = RegistryClient::new("apko-rs");
//! let r: ImageRef = "registry.example/app@sha256:0123…".parse()?;
//! let pulled = pull_image(&client, &r, std::path::Path::new("layout"), true)?;
//! println!("{} ({} blobs)", pulled.digest, pulled.blobs);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{RegistryClient, RegistryError, Repository};
use crate::{Descriptor, Digest, MEDIA_TYPE_INDEX, Reference};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A registry reference by tag or by digest: `host/repo:tag`, `host/repo@sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The repository.
    pub repo: Repository,
    /// A tag, or a digest (`sha256:…`).
    pub reference: String,
}

impl std::str::FromStr for ImageRef {
    type Err = crate::reference::ParseReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        if let Some(d) = digest
            && d.parse::<Digest>().is_err()
        {
            return Err(crate::reference::ParseReferenceError {
                text: s.to_owned(),
                reason: "the digest is not `sha256:` and 64 hex digits",
            });
        }
        let r: Reference = name.parse()?;
        Ok(ImageRef {
            repo: Repository {
                registry: r.registry,
                name: r.repository,
            },
            reference: digest.map_or(r.tag, str::to_owned),
        })
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        write!(f, "{}{sep}{}", self.repo, self.reference)
    }
}

/// What [`pull_image`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    /// The layout directory.
    pub layout: PathBuf,
    /// The digest of what the reference names (an index or a manifest).
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Blobs written (documents and layers).
    pub blobs: usize,
    /// Referrers found (their manifests are listed in `index.json` after the image).
    pub referrers: usize,
}

/// The largest manifest, index or config read.
const MAX_DOCUMENT: u64 = 16 << 20;

fn bad(url: &str, reason: impl Into<String>) -> RegistryError {
    RegistryError::BadBlob {
        url: url.to_owned(),
        reason: reason.into(),
    }
}

struct Writer<'a> {
    client: &'a RegistryClient,
    repo: &'a Repository,
    blobs: PathBuf,
    written: BTreeSet<Digest>,
}

impl Writer<'_> {
    fn path(&self, d: &Digest) -> PathBuf {
        self.blobs.join(d.hex())
    }

    fn put_document(&mut self, d: &Digest, bytes: &[u8]) -> Result<(), RegistryError> {
        if self.written.insert(*d) {
            let p = self.path(d);
            fs_err::write(&p, bytes).map_err(|source| RegistryError::Read {
                path: p.display().to_string(),
                source,
            })?;
        }
        Ok(())
    }

    /// A manifest or index by digest, checked, stored.
    fn manifest(&mut self, d: &Descriptor) -> Result<Value, RegistryError> {
        let (_, bytes) = self.client.get_manifest(self.repo, &d.digest.to_string())?;
        let what = format!("{}@{}", self.repo, d.digest);
        if Digest::of(&bytes) != d.digest {
            return Err(bad(&what, "the manifest's bytes do not hash to its digest"));
        }
        self.put_document(&d.digest, &bytes)?;
        serde_json::from_slice(&bytes).map_err(|e| bad(&what, format!("not JSON: {e}")))
    }

    fn blob(&mut self, d: &Descriptor) -> Result<(), RegistryError> {
        if self.written.insert(d.digest) {
            let p = self.path(&d.digest);
            self.client.get_blob(self.repo, &d.digest, d.size, &p)?;
        }
        Ok(())
    }

    /// An image manifest, its config and its layers.
    fn image(&mut self, d: &Descriptor) -> Result<(), RegistryError> {
        let m = self.manifest(d)?;
        let what = format!("{}@{}", self.repo, d.digest);
        let config: Descriptor = serde_json::from_value(m["config"].clone())
            .map_err(|e| bad(&what, format!("no usable config descriptor: {e}")))?;
        if config.size > MAX_DOCUMENT {
            return Err(bad(&what, "the config is larger than 16 MiB"));
        }
        self.blob(&config)?;
        for l in m["layers"].as_array().into_iter().flatten() {
            let l: Descriptor = serde_json::from_value(l.clone())
                .map_err(|e| bad(&what, format!("a layer descriptor is not usable: {e}")))?;
            self.blob(&l)?;
        }
        Ok(())
    }

    /// The referrers of `subject`: their manifests and blobs, stored; their descriptors.
    fn referrers(&mut self, subject: &Digest) -> Result<Vec<Descriptor>, RegistryError> {
        let mut out = Vec::new();
        for r in self.client.referrers(self.repo, subject)? {
            let m = self.manifest(&r)?;
            for l in m["layers"].as_array().into_iter().flatten() {
                if let Ok(l) = serde_json::from_value::<Descriptor>(l.clone()) {
                    self.blob(&l)?;
                }
            }
            if let Ok(c) = serde_json::from_value::<Descriptor>(m["config"].clone()) {
                self.blob(&c)?;
            }
            out.push(r);
        }
        Ok(out)
    }
}

/// Pulls what `r` names into a new OCI image layout at `dir` (which must not exist; it is
/// written in a temporary sibling and renamed into place): for an index, the index and every
/// image it lists; for a single manifest, that image. `index.json` lists the index (or the
/// manifest, with its platform), then, with `referrers`, every referrer found for the
/// index and its images (the layout form `apko build` writes attestations in).
pub fn pull_image(
    client: &RegistryClient,
    r: &ImageRef,
    dir: &Path,
    referrers: bool,
) -> Result<PulledImage, RegistryError> {
    let io = |p: &Path| {
        let path = p.display().to_string();
        move |source| RegistryError::Read { path, source }
    };
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs_err::create_dir_all(parent).map_err(io(parent))?;
    let tmp = tempfile::Builder::new()
        .prefix(".pull-")
        .tempdir_in(parent)
        .map_err(io(parent))?;
    let blobs = tmp.path().join("blobs/sha256");
    fs_err::create_dir_all(&blobs).map_err(io(&blobs))?;
    let (media_type, bytes) = client.get_manifest(&r.repo, &r.reference)?;
    let digest = Digest::of(&bytes);
    let what = r.to_string();
    if r.reference.starts_with("sha256:") && r.reference != digest.to_string() {
        return Err(bad(&what, format!("the registry served {digest}")));
    }
    let doc: Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(&what, format!("not JSON: {e}")))?;
    let mut w = Writer {
        client,
        repo: &r.repo,
        blobs,
        written: BTreeSet::new(),
    };
    w.put_document(&digest, &bytes)?;
    let is_index = doc["manifests"].is_array();
    let media_type = if media_type.is_empty() || media_type.starts_with("text/") {
        doc["mediaType"]
            .as_str()
            .unwrap_or(MEDIA_TYPE_INDEX)
            .to_owned()
    } else {
        media_type
    };
    let mut top = Descriptor {
        media_type: media_type.clone(),
        size: bytes.len() as u64,
        digest,
        annotations: None,
        platform: None,
        artifact_type: None,
    };
    let mut subjects = vec![digest];
    if is_index {
        for m in doc["manifests"].as_array().into_iter().flatten() {
            let d: Descriptor = serde_json::from_value(m.clone())
                .map_err(|e| bad(&what, format!("a manifest descriptor is not usable: {e}")))?;
            w.image(&d)?;
            subjects.push(d.digest);
        }
    } else {
        w.image(&top)?;
        // The platform, from the config, as a layout lists a single image.
        let config: Option<Descriptor> = serde_json::from_value(doc["config"].clone()).ok();
        if let Some(c) = config {
            let p = w.path(&c.digest);
            if let Ok(cfg) = fs_err::read(&p)
                && let Ok(v) = serde_json::from_slice::<Value>(&cfg)
            {
                top.platform = serde_json::from_value(serde_json::json!({
                    "architecture": v["architecture"],
                    "os": v["os"],
                    "variant": v.get("variant"),
                }))
                .ok();
            }
        }
    }
    let mut listed = vec![top];
    let mut found = 0;
    if referrers {
        for s in &subjects {
            let rs = w.referrers(s)?;
            found += rs.len();
            listed.extend(rs);
        }
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": listed,
    });
    let index_path = tmp.path().join("index.json");
    fs_err::write(
        &index_path,
        serde_json::to_vec_pretty(&index).unwrap_or_default(),
    )
    .map_err(io(&index_path))?;
    let marker = tmp.path().join("oci-layout");
    fs_err::write(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io(&marker))?;
    let blobs_written = w.written.len();
    let staged = tmp.keep();
    fs_err::rename(&staged, dir).map_err(|e| {
        let _ = fs_err::remove_dir_all(&staged);
        io(dir)(e)
    })?;
    Ok(PulledImage {
        layout: dir.to_owned(),
        digest,
        media_type,
        blobs: blobs_written,
        referrers: found,
    })
}
