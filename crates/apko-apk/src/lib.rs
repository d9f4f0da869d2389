//! APK v2 packages and repositories, as Alpine's apk-tools 2.x handles them.
//!
//! Features: `signatures` (default) adds RSA keys and everything that reads or writes signed
//! containers (`keys`, `package`, `APKINDEX.tar.gz` in [`index`], `installed`,
//! `repositories`); without it the crate is the pure core (names, versions, dependencies,
//! checksums, `.PKGINFO`, the APKINDEX text format, tar, the solver, the fetchers), for
//! crates that only read package metadata. `http` (default) fetches over http(s).
#![deny(missing_docs)]

pub mod checksum;
pub mod dependency;
#[cfg(feature = "signatures")]
pub mod discovery;
#[cfg(feature = "signatures")]
mod gzip;
pub mod index;
pub mod info;
#[cfg(feature = "signatures")]
pub mod installed;
#[cfg(feature = "signatures")]
pub mod keys;
pub mod name;
#[cfg(feature = "signatures")]
pub mod package;
pub mod pkginfo;
#[cfg(feature = "signatures")]
pub mod repositories;
pub mod solve;
pub mod source;
pub mod tar;
#[cfg(all(test, feature = "signatures"))]
mod test_keys;
pub mod version;

pub use checksum::Checksum;
pub use dependency::{Constraint, Dependency, Op, Provide};
pub use name::PackageName;
pub use version::{ParseVersionError, Version};
