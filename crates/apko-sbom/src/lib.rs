//! SPDX 2.3 software bills of materials for images built from APK packages.
//!
//! Pure functions: the caller gathers what was installed and serialises the returned
//! [`spdx::Document`]. Unlike apko, which lists only packages that ship their own SPDX file,
//! every installed package appears, with its purl, licence, checksum and dependencies; licences
//! that are not valid SPDX expressions become `LicenseRef-` entries with their text, so the
//! documents validate.
//!
//! ```
//! use apko_sbom::{ImageSbom, OsRelease, image_sbom};
//! let mut p = apko_apk::info::PackageInfo::new("busybox".parse().unwrap(), "1.36.1-r29".parse().unwrap());
//! p.license = "GPL-2.0-only".into();
//! let doc = image_sbom(&ImageSbom {
//!     image_digest: "sha256:aaaa".into(),
//!     layer_digests: vec!["sha256:bbbb".into()],
//!     repository: "alpine".into(),
//!     oci_arch: "amd64".into(),
//!     apk_arch: "x86_64".into(),
//!     os: OsRelease::default(),
//!     packages: vec![&p],
//!     created: "1970-01-01T00:00:00Z".into(),
//!     tool: "apko-rs 0.1.0".into(),
//! });
//! assert_eq!(doc.packages.last().unwrap().name, "busybox");
//! ```
#![deny(missing_docs)]

mod build;
pub mod spdx;

pub use build::{
    ImageSbom, IndexImage, IndexSbom, OsRelease, Vcs, image_sbom, index_sbom, sanitize_id,
};
