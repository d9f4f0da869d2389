//! APK v2 packages and repositories, as Alpine's apk-tools 2.x handles them.
#![deny(missing_docs)]

pub mod checksum;
pub mod dependency;
mod gzip;
pub mod index;
pub mod info;
pub mod installed;
pub mod keys;
pub mod name;
pub mod package;
pub mod pkginfo;
pub mod repositories;
pub mod solve;
pub mod source;
pub mod tar;
#[cfg(test)]
mod test_keys;
pub mod version;

pub use checksum::Checksum;
pub use dependency::{Constraint, Dependency, Op, Provide};
pub use name::PackageName;
pub use version::{ParseVersionError, Version};
