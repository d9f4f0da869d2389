//! The apko build pipeline: from an apko.yaml to reproducible OCI images.
//!
//! This is the only crate that wires the others together: it loads keys and repository
//! indexes ([`apko_apk`]), resolves every architecture consistently, fetches, verifies and
//! expands packages in parallel, installs them into an in-memory filesystem ([`apko_fs`])
//! without running their scripts (emulating what they do: busybox links, accounts, the apk
//! database, CA bundles), and produces layers, OCI config, manifests and the index
//! ([`apko_oci`]) and SPDX documents ([`apko_sbom`]).
//!
//! Building an image takes a few lines:
//!
//! ```
//! use apko_build::{BuildRequest, Builder, SourceDateEpoch};
//! use std::path::Path;
//! # let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
//! # std::env::set_current_dir(&root)?;
//! # let out = tempfile::tempdir()?;
//! # let tarball = out.path().join("hello.tar");
//!
//! let config = apko_config::load(Path::new("examples/hello/apko.yaml"), &[])?;
//! let mut req = BuildRequest::new(config, std::env::current_dir()?, "example.com/hello:latest".parse()?);
//! req.source_date_epoch = SourceDateEpoch::Set(0);
//! let output = Builder::new(req).build()?;
//! output.write_tarball(&tarball)?; // `docker load`-able; or `write_layout(dir)`
//! println!("index {}", output.index_digest());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod attest;
mod base;
mod builder;
mod error;
mod fetch;
mod image;
mod inspect;
mod lock;
mod output;
mod plan;
mod report;
mod request;
mod resolve;
mod rootfs;
mod sbom;
mod session;
mod vcs;
mod verify;

pub use attest::{
    ANNOTATION_PREDICATE_TYPE, Attestation, AttestationError, AttestationKind, MEDIA_TYPE_DSSE,
    MEDIA_TYPE_STATEMENT, Verified, read_signing_key, read_verifying_key, verify_attestations,
};
pub use builder::{ArchResolution, Builder, ResolvedPackage};
pub use error::{BuildError, Mismatch};
pub use image::{ArchImage, Layer};
pub use inspect::image_sboms;
#[cfg(feature = "http")]
pub use inspect::local_or_pulled;
pub use lock::{
    Lock, LockConfig, LockContents, LockError, LockKeyring, LockPackage, LockRepository,
    RangeChecksum, config_checksum,
};
pub use output::{BuildOutput, Published};
pub use report::{Phase, Reporter, Silent};
pub use request::{BuildRequest, MAX_JOBS, SbomFormat, SourceDateEpoch, UnknownSbomFormat};
pub use rootfs::RootfsError;
pub use session::Timing;
pub use vcs::{VcsError, probe_vcs_url};
pub use verify::{Difference, Verification, compare as compare_image};

/// Re-exports of the crates a front end needs, so that it can depend on this crate alone.
pub mod deps {
    pub use apko_apk;
    pub use apko_config;
    pub use apko_fs;
    pub use apko_oci;
    pub use apko_sbom;
}
