//! Expanding a package: verify it and record its data entries, keeping the decompressed
//! data segment so that file contents can be read later by offset.

use super::read::{Control, PackageDigests, PackageReader};
use super::{Limits, PackageError};
use crate::checksum::Checksum;
use sha1::{Digest, Sha1};
use std::io::{Read, Write};

/// The kind of a data entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataKind {
    /// A regular file; its content is `size` bytes at `data_offset`.
    File,
    /// A directory.
    Directory,
    /// A symbolic link with this target (as written in the package).
    Symlink(String),
    /// A hard link to an earlier file of the same package (normalised path).
    HardLink(String),
    /// A character device (major, minor).
    CharDevice(u32, u32),
    /// A block device (major, minor).
    BlockDevice(u32, u32),
    /// A named pipe.
    Fifo,
}

/// One entry of a package's data segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEntry {
    /// Normalised path relative to the root (no leading `./` or `/`, no trailing `/`).
    pub path: String,
    /// What it is.
    pub kind: DataKind,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    /// Numeric owner from the tar header.
    pub uid: u32,
    /// Numeric group from the tar header.
    pub gid: u32,
    /// Owner name from the tar header.
    pub uname: String,
    /// Group name from the tar header.
    pub gname: String,
    /// Modification time.
    pub mtime: i64,
    /// Content size (regular files only; 0 otherwise).
    pub size: u64,
    /// SHA-1 of the content (files), of the target (symlinks) or the target's (hard links).
    pub checksum: Option<Checksum>,
    /// Extended attributes (`SCHILY.xattr.*`), in file order.
    pub xattrs: Vec<(String, Vec<u8>)>,
    /// Offset of the content in the decompressed data segment.
    pub data_offset: u64,
}

impl DataEntry {
    /// A `.keep_*` placeholder file: apk neither installs nor records these.
    pub fn is_keep_placeholder(&self) -> bool {
        self.kind == DataKind::File
            && self
                .path
                .rsplit('/')
                .next()
                .is_some_and(|base| base.starts_with(".keep_"))
    }
}

/// A verified package: control information, data entries and digests.
#[derive(Debug, Clone)]
pub struct ExpandedPackage {
    /// Signatures, `.PKGINFO` and scripts.
    pub control: Control,
    /// The data entries, in archive order.
    pub entries: Vec<DataEntry>,
    /// Identity, signed digests and segment sizes.
    pub digests: PackageDigests,
}

/// Reads and verifies a whole package, copying the decompressed data segment to `sink`.
///
/// When `expected` is given (the `C:` of the index the package was chosen from), the package
/// identity must match it: this, the `datahash` and the per-file checksums form the chain of
/// trust from a signed index. Every file gets a checksum (computed when the package carries
/// none). Symlink and hard-link checksums follow apk: SHA-1 of the target string, and the
/// target file's checksum.
pub fn expand<R: Read, W: Write>(
    reader: R,
    name: &str,
    limits: &Limits,
    expected: Option<&Checksum>,
    sink: W,
) -> Result<(ExpandedPackage, W), PackageError> {
    let mut pr = PackageReader::with_data_sink(reader, name, limits, sink)?;
    let check = |actual: Checksum| match expected {
        Some(e) if *e != actual => Err(PackageError::IdentityMismatch {
            package: name.to_owned(),
            expected: *e,
            actual,
        }),
        _ => Ok(()),
    };
    if let Some(control) = pr.control_digests() {
        check(Checksum::Sha1(control.sha1))?;
    }
    let mut entries: Vec<DataEntry> = Vec::new();
    while let Some(mut entry) = pr.next_entry()? {
        match &entry.kind {
            super::DataKind::File if entry.checksum.is_none() => {
                // The reader hashes every file it reads: take its digest.
                entry.checksum = pr.finish_entry()?.map(Checksum::Sha1);
            }
            super::DataKind::Symlink(target) if entry.checksum.is_none() => {
                entry.checksum = Some(Checksum::Sha1(Sha1::digest(target.as_bytes()).into()));
            }
            super::DataKind::HardLink(target) => {
                entry.checksum = entries
                    .iter()
                    .rev()
                    .find(|e| &e.path == target)
                    .and_then(|e| e.checksum);
            }
            _ => {}
        }
        entries.push(entry);
    }
    let (control, digests, sink) = pr.finish()?;
    check(digests.identity)?;
    Ok((
        ExpandedPackage {
            control,
            entries,
            digests,
        },
        sink,
    ))
}

#[cfg(test)]
mod tests;
