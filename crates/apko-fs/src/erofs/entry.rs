//! What [`list_erofs`](super::list_erofs) returns, and its error.

/// Why an image cannot be listed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErofsReadError {
    /// Reading the image failed.
    #[error("cannot read the EROFS image")]
    Io(#[source] std::io::Error),
    /// There is no EROFS superblock.
    #[error("not an EROFS image (no EROFS superblock at byte 1024)")]
    NotErofs,
    /// The image contradicts itself or points outside itself.
    #[error("corrupt EROFS image at `/{path}`: {what}")]
    Corrupt {
        /// The entry being read (empty: the superblock or the root).
        path: String,
        /// What is wrong.
        what: &'static str,
    },
    /// The image uses a feature this reader does not implement.
    #[error("unsupported EROFS image: {what}")]
    Unsupported {
        /// The feature.
        what: &'static str,
    },
    /// Listing the image would exceed a limit (entries, path length, memory).
    #[error("the EROFS image exceeds a listing limit: {what}")]
    Limit {
        /// The limit.
        what: &'static str,
    },
}

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErofsKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link and its target (invalid UTF-8 replaced by U+FFFD).
    Symlink(String),
    /// A character device (major, minor).
    CharDevice(u32, u32),
    /// A block device (major, minor).
    BlockDevice(u32, u32),
    /// A named pipe.
    Fifo,
    /// A socket.
    Socket,
}

/// One entry of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErofsEntry {
    /// Path from the root, without a leading `/` (empty for the root itself); names that are
    /// not UTF-8 have U+FFFD in place of the bad bytes.
    pub path: String,
    /// What it is.
    pub kind: ErofsKind,
    /// Permission bits with setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// `i_size`: a file's length, a link's target length, a directory's dirent bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds of the modification time.
    pub mtime_nsec: u32,
    /// Link count.
    pub nlink: u32,
    /// Inode number (`nid`): entries with the same one are hard links.
    pub nid: u64,
    /// Extended attributes by full name, sorted (names with a long prefix, which only
    /// `mkfs.erofs --xattr-prefix` writes, are left out).
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// The result of [`list_erofs`](super::list_erofs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErofsListing {
    /// Block size in bytes.
    pub block_size: u32,
    /// The superblock's build time (seconds; the mtime of compact inodes).
    pub build_time: u64,
    /// The superblock's inode count.
    pub inodes: u64,
    /// The root directory.
    pub root: ErofsEntry,
    /// Every other entry, depth-first pre-order, the entries of a directory in byte order (as
    /// [`crate::FsTree::walk`]).
    pub entries: Vec<ErofsEntry>,
}
