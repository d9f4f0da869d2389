//! Reading, verifying, expanding and writing `.apk` packages.

mod cache;
mod error;
mod expand;
mod limits;
mod path;
mod read;
mod segments;
mod write;

pub use cache::{
    CachedData, CachedPackage, ExpandedCache, PendingEntry, STALE_TEMPORARY, link_replacing,
    move_replacing, same_file, sweep_stale_temporaries,
};
pub use error::PackageError;
pub use expand::{DataEntry, DataKind, ExpandedPackage, expand};
pub use limits::Limits;
pub use path::{normalize_entry_path, resolve_symlink_target};
pub use read::{Control, ControlFile, PackageDigests, PackageReader, verify_package};
pub(crate) use segments::Segments as segments_for_index;
pub(crate) use write::signature_segment;
pub use write::{BuiltPackage, PackageBuilder, PackageFile, PackageFileKind};
