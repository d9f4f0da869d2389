//! Laying out an image: inode order and numbers, layouts, block addresses. Everything is known
//! before a byte is written, so the image can be written front to back.

use super::ErofsOptions;
use super::format::{
    DIRENT_SIZE, FT_BLK, FT_CHR, FT_DIR, FT_FIFO, FT_REG, FT_SYMLINK, INODE_COMPACT,
    INODE_EXTENDED, LAYOUT_FLAT_INLINE, LAYOUT_FLAT_PLAIN, NAME_LEN, S_IFBLK, S_IFCHR, S_IFDIR,
    S_IFIFO, S_IFLNK, S_IFREG, SUPER_OFFSET, SUPER_SIZE, XATTR_HEADER, encode_dev, xattr_split,
};
use crate::error::FsError;
use crate::tree::{Content, FsTree, Kind, NodeId, ROOT};
use std::collections::{BTreeMap, HashMap, btree_map};

/// Longest symbolic link target (Linux `PATH_MAX` less the NUL).
const MAX_SYMLINK: usize = 4095;
/// Largest inline xattr area `i_xattr_icount` (16 bits) can describe.
const MAX_XATTR_AREA: usize = XATTR_HEADER + 4 * (u16::MAX as usize - 1);

/// One directory entry: name, inode index, file type.
pub(super) type Dirent<'t> = (&'t [u8], u32, u8);

/// What an inode's data is.
pub(super) enum Data<'t> {
    /// Devices, fifos, empty files.
    None,
    /// A regular file's content.
    File(&'t Content),
    /// Directory entries (`.` and `..` included, in byte order) and the index of the first
    /// entry of each block.
    Dir {
        entries: Vec<Dirent<'t>>,
        blocks: Vec<usize>,
    },
    /// A symbolic link's target.
    Symlink(&'t [u8]),
}

/// One inode, placed.
pub(super) struct Inode<'t> {
    /// The first path naming it (for errors).
    pub(super) path: String,
    /// Type and permission bits.
    pub(super) mode: u16,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mtime: i64,
    pub(super) nlink: u32,
    /// `i_size`.
    pub(super) size: u64,
    /// `i_u` for devices.
    pub(super) rdev: u32,
    /// The serialized inline xattr area (empty: none).
    pub(super) xattrs: Vec<u8>,
    pub(super) data: Data<'t>,
    /// 32-byte inode (its mtime is the build time).
    pub(super) compact: bool,
    pub(super) layout: u16,
    /// Bytes of data stored right after the inode (the tail).
    pub(super) inline: u64,
    /// Blocks of data in the data area, from `blkaddr`.
    pub(super) blocks: u64,
    pub(super) blkaddr: u64,
    pub(super) nid: u64,
}

impl Inode<'_> {
    pub(super) fn core_size(&self) -> usize {
        if self.compact {
            INODE_COMPACT
        } else {
            INODE_EXTENDED
        }
    }
}

/// The whole image.
pub(super) struct Plan<'t> {
    pub(super) block_size: u64,
    pub(super) build_time: u64,
    /// Inodes in on-disk order; index 0 is the root.
    pub(super) inodes: Vec<Inode<'t>>,
    /// First block of the metadata area (after the superblock).
    pub(super) meta_blkaddr: u64,
    /// Blocks of metadata.
    pub(super) meta_blocks: u64,
    /// Blocks of the whole image.
    pub(super) total_blocks: u64,
}

fn too_large(path: &str, what: &'static str) -> FsError {
    FsError::TooLarge {
        path: path.to_owned(),
        what,
    }
}

/// Serializes the inline xattr area: the 12-byte header, then the entries sorted by name
/// (the last value of a repeated name wins, as in the tar writer).
fn xattr_area(path: &str, xattrs: &[(String, Vec<u8>)]) -> Result<Vec<u8>, FsError> {
    if xattrs.is_empty() {
        return Ok(Vec::new());
    }
    let sorted: BTreeMap<&str, &[u8]> = xattrs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let mut out = vec![0u8; XATTR_HEADER];
    for (name, value) in sorted {
        let (index, suffix) = xattr_split(name);
        let name_len = u8::try_from(suffix.len()).map_err(|_| {
            too_large(
                path,
                "an EROFS xattr name is at most 255 bytes after its prefix",
            )
        })?;
        let value_len = u16::try_from(value.len())
            .map_err(|_| too_large(path, "an EROFS xattr value is at most 65535 bytes"))?;
        out.push(name_len);
        out.push(index);
        out.extend_from_slice(&value_len.to_le_bytes());
        out.extend_from_slice(suffix.as_bytes());
        out.extend_from_slice(value);
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    if out.len() > MAX_XATTR_AREA {
        return Err(too_large(
            path,
            "the extended attributes of an EROFS inode take at most 256 KiB",
        ));
    }
    Ok(out)
}

/// Splits sorted dirents into blocks greedily; returns the first entry of each block and the
/// directory's size (full blocks, then the used part of the last one).
pub(super) fn pack_dir(entries: &[Dirent<'_>], block_size: u64) -> (Vec<usize>, u64) {
    let bs = block_size as usize;
    let mut starts = Vec::new();
    let mut used = 0usize;
    let mut full_blocks = 0u64;
    for (i, (name, _, _)) in entries.iter().enumerate() {
        let need = DIRENT_SIZE + name.len();
        if starts.is_empty() || used + need > bs {
            if !starts.is_empty() {
                full_blocks += 1;
            }
            starts.push(i);
            used = 0;
        }
        used += need;
    }
    (starts, full_blocks * block_size + used as u64)
}

struct Frame<'t> {
    dir: u32,
    path: String,
    iter: btree_map::Iter<'t, String, NodeId>,
}

fn file_type(kind: &Kind) -> u8 {
    match kind {
        Kind::Dir(_) => FT_DIR,
        Kind::File(_) => FT_REG,
        Kind::Symlink(_) => FT_SYMLINK,
        Kind::CharDevice(..) => FT_CHR,
        Kind::BlockDevice(..) => FT_BLK,
        Kind::Fifo => FT_FIFO,
    }
}

/// A new inode for `node` (data, size and placement are filled in later).
fn inode(tree: &FsTree, id: NodeId, path: String) -> Result<Inode<'_>, FsError> {
    let n = tree.node(id);
    let perm = (n.meta.mode & 0o7777) as u16;
    let mut rdev = 0;
    let mut xattrs: &[(String, Vec<u8>)] = &[];
    let (mode, data) = match &n.kind {
        Kind::Dir(_) => {
            xattrs = &n.meta.xattrs;
            (
                S_IFDIR | perm,
                Data::Dir {
                    entries: Vec::new(),
                    blocks: Vec::new(),
                },
            )
        }
        Kind::File(c) => {
            xattrs = &n.meta.xattrs;
            (S_IFREG | perm, Data::File(c))
        }
        Kind::Symlink(t) => {
            if t.is_empty() {
                return Err(FsError::InvalidPath {
                    path: format!("{path} (a symbolic link with an empty target)"),
                });
            }
            if t.len() > MAX_SYMLINK {
                return Err(too_large(
                    &path,
                    "a symbolic link target is at most 4095 bytes",
                ));
            }
            // Linux ignores a link's mode and shows 0777 (go-erofs pins it too).
            (S_IFLNK | 0o777, Data::Symlink(t.as_bytes()))
        }
        Kind::CharDevice(ma, mi) | Kind::BlockDevice(ma, mi) => {
            rdev = encode_dev(*ma, *mi).ok_or_else(|| {
                too_large(
                    &path,
                    "device numbers are at most 4095 (major) and 1048575 (minor)",
                )
            })?;
            let t = if matches!(n.kind, Kind::CharDevice(..)) {
                S_IFCHR
            } else {
                S_IFBLK
            };
            (t | perm, Data::None)
        }
        Kind::Fifo => (S_IFIFO | perm, Data::None),
    };
    let xattrs = xattr_area(&path, xattrs)?;
    Ok(Inode {
        mode,
        uid: n.meta.uid,
        gid: n.meta.gid,
        mtime: n.meta.mtime,
        nlink: if n.is_dir() { 2 } else { 1 },
        size: 0,
        rdev,
        xattrs,
        data,
        compact: false,
        layout: LAYOUT_FLAT_PLAIN,
        inline: 0,
        blocks: 0,
        blkaddr: 0,
        nid: 0,
        path,
    })
}

/// Collects the inodes in depth-first pre-order (entries of a directory in byte order), one per
/// node: a hard-linked file gets one inode and several dirents.
fn collect(tree: &FsTree) -> Result<Vec<Inode<'_>>, FsError> {
    let mut inodes = vec![inode(tree, ROOT, String::new())?];
    let mut index: HashMap<NodeId, u32> = HashMap::from([(ROOT, 0)]);
    let Kind::Dir(root) = &tree.node(ROOT).kind else {
        return Err(FsError::NotADirectory { path: "/".into() });
    };
    let mut stack = vec![Frame {
        dir: 0,
        path: String::new(),
        iter: root.iter(),
    }];
    while let Some(top) = stack.last_mut() {
        let Some((name, &id)) = top.iter.next() else {
            stack.pop();
            continue;
        };
        let dir = top.dir;
        let path = if top.path.is_empty() {
            name.clone()
        } else {
            format!("{}/{name}", top.path)
        };
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(FsError::InvalidPath { path });
        }
        if name.len() > NAME_LEN {
            return Err(too_large(&path, "an EROFS entry name is at most 255 bytes"));
        }
        let node = tree.node(id);
        let (idx, new) = match index.get(&id) {
            Some(&i) => {
                if node.is_dir() {
                    // Only a corrupted tree links a directory twice; refuse rather than loop.
                    return Err(FsError::HardLinkTarget {
                        path,
                        target: "directory",
                    });
                }
                inodes[i as usize].nlink = inodes[i as usize].nlink.saturating_add(1);
                (i, false)
            }
            None => {
                let i = u32::try_from(inodes.len())
                    .map_err(|_| too_large(&path, "an EROFS image has fewer than 2^32 inodes"))?;
                index.insert(id, i);
                inodes.push(inode(tree, id, path.clone())?);
                (i, true)
            }
        };
        if let Data::Dir { entries, .. } = &mut inodes[dir as usize].data {
            entries.push((name.as_bytes(), idx, file_type(&node.kind)));
        }
        if let (true, Kind::Dir(children)) = (new, &node.kind) {
            inodes[dir as usize].nlink = inodes[dir as usize].nlink.saturating_add(1);
            stack.push(Frame {
                dir: idx,
                path,
                iter: children.iter(),
            });
        }
    }
    Ok(inodes)
}

/// Plans the image of `tree`.
pub(super) fn plan<'t>(tree: &'t FsTree, opts: &ErofsOptions) -> Result<Plan<'t>, FsError> {
    if !(9..=16).contains(&opts.block_size_bits) {
        return Err(too_large(
            "",
            "the EROFS block size is 512 B to 64 KiB (block_size_bits 9 to 16)",
        ));
    }
    let bs = 1u64 << opts.block_size_bits;
    let epoch = opts.build_time.max(0);
    let mut inodes = collect(tree)?;

    // `..` of every directory: its parent (the root's is itself).
    let mut parent = vec![0u32; inodes.len()];
    for (i, ino) in inodes.iter().enumerate() {
        if let Data::Dir { entries, .. } = &ino.data {
            for &(_, child, ft) in entries {
                if ft == FT_DIR {
                    parent[child as usize] = i as u32;
                }
            }
        }
    }

    let mut off = 0u64; // byte offset in the metadata area
    for (i, ino) in inodes.iter_mut().enumerate() {
        ino.size = match &mut ino.data {
            Data::None => 0,
            Data::File(c) => c.len(),
            Data::Symlink(t) => t.len() as u64,
            Data::Dir { entries, blocks } => {
                entries.push((b".", i as u32, FT_DIR));
                entries.push((b"..", parent[i], FT_DIR));
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                let (starts, size) = pack_dir(entries, bs);
                *blocks = starts;
                size
            }
        };
        ino.compact = u16::try_from(ino.uid).is_ok()
            && u16::try_from(ino.gid).is_ok()
            && u16::try_from(ino.nlink).is_ok()
            && u32::try_from(ino.size).is_ok()
            && ino.mtime == epoch;
        let core = ino.core_size() as u64;
        let head = core + ino.xattrs.len() as u64;
        // An inode's core (and its xattrs, when they fit in a block) never straddles two
        // blocks.
        if off % bs + if head <= bs { head } else { core } > bs {
            off = off.next_multiple_of(bs);
        }
        let nblocks = ino.size.div_ceil(bs);
        let tail = ino.size - nblocks.saturating_sub(1) * bs;
        ino.layout = LAYOUT_FLAT_PLAIN;
        ino.blocks = nblocks;
        if ino.size > 0 && tail < bs && head + tail <= bs {
            // Tail packing: the last partial block right after the inode, in the same block.
            let here = off % bs;
            let fits = here + head + tail <= bs;
            // Moving the inode to the next block wastes `bs - here`; a plain tail `bs - tail`.
            if fits || bs - here < bs - tail {
                if !fits {
                    off = off.next_multiple_of(bs);
                }
                ino.layout = LAYOUT_FLAT_INLINE;
                ino.inline = tail;
                ino.blocks = nblocks - 1;
            }
        }
        ino.nid = off / 32;
        off += (head + ino.inline).next_multiple_of(32);
    }

    let meta_blkaddr = (SUPER_OFFSET + SUPER_SIZE as u64).div_ceil(bs);
    let meta_blocks = off.div_ceil(bs);
    let mut next = meta_blkaddr + meta_blocks;
    for ino in &mut inodes {
        if ino.blocks > 0 {
            ino.blkaddr = next;
            next += ino.blocks;
        }
    }
    if next > u64::from(u32::MAX) {
        return Err(too_large(
            "",
            "an EROFS image has at most 2^32 blocks (16 TiB at 4 KiB)",
        ));
    }
    Ok(Plan {
        block_size: bs,
        build_time: epoch.unsigned_abs(),
        inodes,
        meta_blkaddr,
        meta_blocks,
        total_blocks: next,
    })
}
