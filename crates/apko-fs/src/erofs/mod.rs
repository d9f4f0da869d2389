//! EROFS images: the layer format of `apko build --format erofs`.
//!
//! apko's EROFS layer is a raw, uncompressed EROFS filesystem image (media type
//! `application/vnd.erofs`; its digest is also its diffID). [`write_erofs`] writes one from a
//! [`FsTree`](crate::FsTree): deterministic (the same tree and options give the same bytes),
//! front to back into any [`Write`](std::io::Write) with its SHA-256 computed on the way, file
//! bodies streamed from their sources. [`list_erofs`] reads an image back (ours, apko's or
//! `mkfs.erofs`'s) for `apko erofs ls`, and [`format_ls`] prints it as apko does.
//!
//! On-disk choices (see `docs/erofs.md`): 4 KiB blocks by default; superblock with a CRC32C;
//! then all inodes, depth-first in byte order, each followed by its xattrs and the tail of its
//! data (tail packing); then the full data blocks. Compact 32-byte inodes where the mtime is
//! the build time, extended ones otherwise. Hard links share one inode.
//!
//! ```
//! use apko_fs::erofs::{ErofsOptions, list_erofs, write_erofs};
//! use apko_fs::{FsTree, Meta};
//!
//! let mut fs = FsTree::new();
//! fs.write_file("etc/os-release", b"ID=wolfi\n".to_vec(), &Meta::root(0o644)).unwrap();
//! let (stats, image) = write_erofs(&fs, &ErofsOptions::default(), Vec::new()).unwrap();
//! assert_eq!(stats.size, image.len() as u64);
//!
//! let listing = list_erofs(&mut std::io::Cursor::new(image)).unwrap();
//! let paths: Vec<&str> = listing.entries.iter().map(|e| e.path.as_str()).collect();
//! assert_eq!(paths, ["etc", "etc/os-release"]);
//! ```

mod entry;
mod format;
mod ls;
mod plan;
mod read;
mod write;

pub use entry::{ErofsEntry, ErofsKind, ErofsListing, ErofsReadError};
pub use ls::format_ls;
pub use read::list_erofs;
pub use write::write_erofs;

/// How to write an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErofsOptions {
    /// The superblock's build time, seconds since the epoch (apko: `SOURCE_DATE_EPOCH`; a
    /// negative value is written as 0, as apko does). Inodes with this mtime get the compact
    /// 32-byte form.
    pub build_time: i64,
    /// Block size as a power of two, 9 (512 B) to 16 (64 KiB); default 12 (4 KiB, as apko).
    /// Kernels before 6.x and erofs-utils before 1.6 read only blocks of the page size.
    pub block_size_bits: u8,
    /// The volume UUID (default all zero, as apko).
    pub uuid: [u8; 16],
}

impl Default for ErofsOptions {
    fn default() -> Self {
        ErofsOptions {
            build_time: 0,
            block_size_bits: 12,
            uuid: [0; 16],
        }
    }
}

/// A written image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErofsStats {
    /// Size in bytes (a multiple of the block size).
    pub size: u64,
    /// SHA-256 of the image: the layer's digest and its diffID.
    pub sha256: [u8; 32],
    /// Inodes (hard links share one).
    pub inodes: u64,
    /// Block size in bytes.
    pub block_size: u32,
}

impl ErofsStats {
    /// `sha256:<hex>` of the image.
    pub fn digest(&self) -> String {
        let mut s = String::with_capacity(71);
        s.push_str("sha256:");
        for b in self.sha256 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

#[cfg(test)]
mod tests;
