use crate::checksum::Checksum;
use crate::pkginfo::PkgInfoError;
use crate::tar::TarError;

/// A package that cannot be read, or that failed verification.
///
/// The `package` field names the package (its file name or `name-version` when known).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// The archive is malformed (bad gzip, bad tar, truncated).
    #[error("{package}: malformed package")]
    Format {
        /// The package.
        package: String,
        /// The cause.
        #[source]
        source: TarError,
    },
    /// `.PKGINFO` is missing.
    #[error("{package}: no .PKGINFO in the control segment")]
    NoPkgInfo {
        /// The package.
        package: String,
    },
    /// `.PKGINFO` is invalid.
    #[error("{package}: invalid .PKGINFO")]
    PkgInfo {
        /// The package.
        package: String,
        /// The cause.
        #[source]
        source: PkgInfoError,
    },
    /// A structural rule of the APK format is broken.
    #[error("{package}: {reason}")]
    Structure {
        /// The package.
        package: String,
        /// What is wrong.
        reason: String,
    },
    /// The control segment is larger than [`crate::package::Limits::max_control_size`].
    #[error("{package}: control segment larger than the limit of {limit} bytes")]
    ControlTooLarge {
        /// The package.
        package: String,
        /// The limit.
        limit: u64,
    },
    /// The package identity does not match the index.
    #[error("{package}: checksum mismatch: the index says {expected}, the package is {actual}")]
    IdentityMismatch {
        /// The package.
        package: String,
        /// From the index.
        expected: Checksum,
        /// Computed.
        actual: Checksum,
    },
    /// The data segment does not match `.PKGINFO` `datahash`.
    #[error(
        "{package}: data segment does not match its datahash (expected {expected}, got {actual})"
    )]
    DatahashMismatch {
        /// The package.
        package: String,
        /// From `.PKGINFO`.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// A file's content does not match its `APK-TOOLS.checksum.SHA1`.
    #[error(
        "{package}: file `{path}` does not match its checksum (expected {expected}, got {actual})"
    )]
    FileChecksumMismatch {
        /// The package.
        package: String,
        /// The file.
        path: String,
        /// From the tar header.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// A path is absolute, contains `..`, or a link points outside the root.
    #[error("{package}: refusing unsafe entry `{path}`: {reason}")]
    UnsafePath {
        /// The package.
        package: String,
        /// The entry.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// Writing the expanded data failed.
    #[error("{package}: cannot write expanded data to `{path}`")]
    Write {
        /// The package.
        package: String,
        /// Where.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl PackageError {
    pub(crate) fn format(package: &str, source: impl Into<TarError>) -> Self {
        PackageError::Format {
            package: package.to_owned(),
            source: source.into(),
        }
    }

    pub(crate) fn structure(package: &str, reason: impl Into<String>) -> Self {
        PackageError::Structure {
            package: package.to_owned(),
            reason: reason.into(),
        }
    }
}
