//! SPDX 2.3 and CycloneDX 1.6 software bills of materials for images built from APK packages.
//!
//! Pure functions: the caller gathers what was installed and serialises the returned
//! [`spdx::Document`] or [`cyclonedx::Bom`]; both formats are built from the same inputs
//! ([`ImageSbom`], [`IndexSbom`]). Unlike apko, which lists only packages that ship their own
//! SPDX file, every installed package appears, with its purl, licence, checksum and
//! dependencies; licences that are not valid SPDX expressions become `LicenseRef-` entries
//! with their text (SPDX) or named licences (CycloneDX), so the documents validate. The SPDX
//! documents packages ship themselves ([`PackageSpdx`]) are merged into the image's
//! ([`image_sbom_with`]). Nothing
//! is random or read from the clock: a CycloneDX `serialNumber` is derived from the digest
//! of what the BOM describes ([`serial_number`]).
//!
//! ```
//! use apko_sbom::{ImageSbom, OsRelease, image_bom, image_sbom};
//! let mut p = apko_apk::info::PackageInfo::new("busybox".parse().unwrap(), "1.36.1-r29".parse().unwrap());
//! p.license = "GPL-2.0-only".into();
//! let input = ImageSbom {
//!     image_digest: "sha256:aaaa".into(),
//!     layer_digests: vec!["sha256:bbbb".into()],
//!     repository: "alpine".into(),
//!     oci_arch: "amd64".into(),
//!     apk_arch: "x86_64".into(),
//!     os: OsRelease::default(),
//!     packages: vec![&p],
//!     created: "1970-01-01T00:00:00Z".into(),
//!     tool: "apko-rs 0.1.0".into(),
//! };
//! let doc = image_sbom(&input);
//! assert_eq!(doc.packages.last().unwrap().name, "busybox");
//! let bom = image_bom(&input);
//! assert_eq!(bom.components.last().unwrap().purl.as_deref(),
//!            Some("pkg:apk/unknown/busybox@1.36.1-r29?arch=x86_64"));
//! ```
#![deny(missing_docs)]

mod bom;
mod build;
pub mod cyclonedx;
pub mod dsse;
mod graph;
mod merge;
mod package_doc;
pub mod provenance;
mod purl;
pub mod spdx;
pub mod statement;
mod uuid;

pub use bom::{image_bom, index_bom, serial_number};
pub use build::{
    ImageSbom, IndexImage, IndexSbom, OsRelease, Vcs, image_sbom, image_sbom_with, index_sbom,
    sanitize_id,
};
pub use merge::{MAX_MERGED_ELEMENTS, PackageSpdx};
pub use package_doc::{MAX_DOCUMENT_BYTES, MAX_ELEMENTS, MAX_RELATIONSHIPS, MAX_SMALL_LISTS};
