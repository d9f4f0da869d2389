//! Pushing images to a registry with the OCI distribution protocol: blobs by monolithic
//! upload (skipped when the registry has them), manifests and indexes by digest and by tag,
//! anonymous, basic or bearer-token authentication, retries on transient failures.
//!
//! The bytes pushed are exactly the bytes written to layouts and tarballs, so the digests a
//! registry reports are the ones the build computed (checked on every manifest).
//!
//! The types, errors and the [`Registry`] trait are always available (an embedder can bring
//! its own transport), as are the pure readers of registry answers ([`Challenge`],
//! [`token_of`], [`error_detail`], [`resolve_location`]) and of docker's `config.json`
//! ([`docker_config`]), with its writer for `login` ([`docker_login`]); [`RegistryClient`],
//! the HTTP implementation, and [`pull`], which reads images with it, need the `registry`
//! feature.

#[cfg(feature = "registry")]
mod client;
pub mod docker_config;
pub mod docker_login;
mod protocol;
#[cfg(feature = "registry")]
pub mod pull;
pub mod referrers;
#[cfg(all(test, feature = "registry"))]
mod tests;

#[cfg(feature = "registry")]
pub use client::RegistryClient;
pub use protocol::{Challenge, error_detail, resolve_location, token_of};

use crate::digest::Digest;
use crate::layout::{Blob, ImageBlobs};
use std::collections::BTreeMap;

/// A user name and a password or token for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"xxxxx")
            .finish()
    }
}

/// Where the client finds credentials for a registry host (`ghcr.io`, `localhost:5000`).
pub trait CredentialSource: Send + Sync {
    /// The credentials for `registry`, if any.
    fn credentials(&self, registry: &str) -> Option<Credentials>;
}

/// Credentials given up front, by registry host.
#[derive(Debug, Clone, Default)]
pub struct StaticCredentials(pub BTreeMap<String, Credentials>);

impl CredentialSource for StaticCredentials {
    fn credentials(&self, registry: &str) -> Option<Credentials> {
        self.0.get(registry).cloned()
    }
}

/// A registry operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry could not be reached.
    #[error("cannot reach {url}")]
    Connect {
        /// The URL.
        url: String,
        /// The cause (the transport's error).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The registry answered with an error.
    #[error("{method} {url}: {status}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Status {
        /// HTTP method.
        method: &'static str,
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's error codes and messages.
        detail: String,
    },
    /// Authentication was refused or impossible.
    #[error("{registry}: {reason}")]
    Auth {
        /// The registry.
        registry: String,
        /// Why.
        reason: String,
    },
    /// The registry computed another digest for what we sent.
    #[error("{url}: the registry says the digest is {got}, the content's is {expected}")]
    DigestMismatch {
        /// The URL.
        url: String,
        /// Our digest.
        expected: String,
        /// The registry's.
        got: String,
    },
    /// A local blob could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Something the registry served is not what its descriptor or reference says (size,
    /// digest, format).
    #[error("{url}: {reason}")]
    BadBlob {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

impl RegistryError {
    /// A hint for the user, when there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            RegistryError::Status { status: 401, .. } | RegistryError::Auth { .. } => Some(
                "log in with `docker login <registry>` (apko-rs reads ~/.docker/config.json and credential helpers)",
            ),
            RegistryError::Status { status: 403, .. } => {
                Some("the credentials are valid but may not push to this repository")
            }
            RegistryError::Connect { .. } => Some(
                "check the registry host and port (local registries may use plain http; others need `--insecure-registry HOST` for it)",
            ),
            _ => None,
        }
    }
}

/// The repository part of a reference: `registry/repository`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Repository {
    /// Registry host (and port).
    pub registry: String,
    /// Repository path.
    pub name: String,
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

/// Whether `registry` is spoken to over plain http, as go-containerregistry decides: the
/// local host and `.local`/`.localhost` names.
pub fn is_local_registry(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
        || host.ends_with(".localhost")
        || host.ends_with(".local")
}

/// What pushing one blob came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// The registry had it (`HEAD`): nothing was sent.
    Present,
    /// Mounted from another repository of the same registry: nothing was sent.
    Mounted,
    /// Uploaded: this many bytes.
    Uploaded(u64),
}

/// What a push sent, summed over blobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Blobs uploaded.
    pub uploaded: u64,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// Blobs the registry already had.
    pub present: u64,
    /// Blobs mounted from another repository.
    pub mounted: u64,
}

impl PushStats {
    /// Counts one blob.
    pub fn add(&mut self, o: BlobOutcome) {
        match o {
            BlobOutcome::Present => self.present += 1,
            BlobOutcome::Mounted => self.mounted += 1,
            BlobOutcome::Uploaded(n) => {
                self.uploaded += 1;
                self.uploaded_bytes += n;
            }
        }
    }

    /// Both counts together.
    pub fn merge(&mut self, o: PushStats) {
        self.uploaded += o.uploaded;
        self.uploaded_bytes += o.uploaded_bytes;
        self.present += o.present;
        self.mounted += o.mounted;
    }
}

/// What publishing needs from a registry: the seam between built images and the wire
/// ([`RegistryClient`] speaks the distribution protocol; an embedder may bring its own, or a
/// test double).
pub trait Registry: Sync {
    /// Uploads a blob unless the registry has it.
    fn push_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        blob: &Blob,
    ) -> Result<BlobOutcome, RegistryError>;

    /// Uploads a blob the caller knows the registry lacks (it asked [`Registry::has_blob`]);
    /// default: [`Registry::push_blob`], which may ask again.
    fn upload_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        blob: &Blob,
    ) -> Result<BlobOutcome, RegistryError> {
        self.push_blob(repo, digest, blob)
    }

    /// The manifest or index at `reference` (media type and bytes), `None` when there is none
    /// (default: `None`).
    fn find_manifest(
        &self,
        _repo: &Repository,
        _reference: &str,
    ) -> Result<Option<(String, Vec<u8>)>, RegistryError> {
        Ok(None)
    }

    /// Whether the registry serves the OCI 1.1 referrers API for `repo` (default: `false`).
    fn has_referrers_api(&self, _repo: &Repository) -> Result<bool, RegistryError> {
        Ok(false)
    }

    /// Whether the registry has blob `digest` in `repo` (default: unknown, `false`).
    fn has_blob(&self, _repo: &Repository, _digest: &Digest) -> Result<bool, RegistryError> {
        Ok(false)
    }

    /// Mounts blob `digest` into `repo` from `from` (same registry) without uploading it;
    /// `Ok(false)` when the registry does not (then the blob is pushed).
    fn mount_blob(
        &self,
        _repo: &Repository,
        _digest: &Digest,
        _from: &Repository,
    ) -> Result<bool, RegistryError> {
        Ok(false)
    }

    /// Puts a manifest or index under `reference` (a tag or its digest); returns its digest.
    fn push_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError>;

    /// Pushes one image to `repo`: its layers and config — each only when the registry
    /// lacks it in `repo` (`HEAD`), mounted from one of `mount_from` (other repositories of the
    /// same registry) when one has it, uploaded otherwise — then its manifest by digest.
    fn push_image(
        &self,
        repo: &Repository,
        image: &ImageBlobs,
        mount_from: &[Repository],
    ) -> Result<(Digest, PushStats), RegistryError> {
        let mut stats = PushStats::default();
        let config = Blob::Bytes(image.config.bytes.clone());
        let blobs = image
            .layers
            .iter()
            .map(|l| (&l.descriptor.digest, &l.blob))
            .chain([(&image.config.descriptor.digest, &config)]);
        for (digest, blob) in blobs {
            if self.has_blob(repo, digest)? {
                stats.add(BlobOutcome::Present);
                continue;
            }
            let mut mounted = false;
            for from in mount_from
                .iter()
                .filter(|f| f.registry == repo.registry && *f != repo)
            {
                if self.mount_blob(repo, digest, from)? {
                    mounted = true;
                    break;
                }
            }
            stats.add(if mounted {
                BlobOutcome::Mounted
            } else {
                self.upload_blob(repo, digest, blob)?
            });
        }
        let digest = self.push_manifest(
            repo,
            &image.manifest.descriptor.digest.to_string(),
            &image.manifest.descriptor.media_type,
            &image.manifest.bytes,
        )?;
        Ok((digest, stats))
    }
}
