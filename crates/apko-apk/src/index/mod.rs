//! Repository indexes: the `APKINDEX` text format and the signed `APKINDEX.tar.gz` container
//! (the container needs the `signatures` feature).

#[cfg(feature = "signatures")]
mod container;
pub(crate) mod text;

#[cfg(feature = "signatures")]
pub use container::{IndexTrust, IndexVerification, read_index, write_index};
pub use text::{IndexError, parse_index_text, write_index_text, write_record};

use crate::info::PackageInfo;
#[cfg(feature = "signatures")]
use crate::package::{Control, PackageDigests};

/// A parsed repository index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApkIndex {
    /// The `DESCRIPTION` entry (Alpine puts the git describe of aports there).
    pub description: Option<String>,
    /// The package records, in file order.
    pub packages: Vec<PackageInfo>,
}

#[cfg(feature = "signatures")]
impl ApkIndex {
    /// An index record for a package read from its `.apk`: `.PKGINFO` plus the file size
    /// (`S:`) and identity (`C:`), as `apk index` makes it.
    pub fn entry_for(control: &Control, digests: &PackageDigests) -> PackageInfo {
        let mut info = control.info.clone();
        info.size = digests.file_size();
        info.checksum = Some(digests.identity);
        info
    }
}
