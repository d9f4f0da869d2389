//! Listing an EROFS image (any uncompressed-metadata image: ours, apko's, `mkfs.erofs`'s, with
//! or without compressed file data). Every read is bounds-checked against the image, and the
//! walk has limits, so a hostile image ends in an error, never a panic, a loop or unbounded
//! memory.

use super::entry::{ErofsEntry, ErofsKind, ErofsListing, ErofsReadError};
use super::format::{
    COMPAT_SB_CHKSUM, DIRENT_SIZE, INCOMPAT_48BIT, INCOMPAT_METABOX, INODE_COMPACT, INODE_EXTENDED,
    LAYOUT_CHUNK_BASED, LAYOUT_FLAT_INLINE, LAYOUT_FLAT_PLAIN, MAGIC, NAME_LEN, S_IFBLK, S_IFCHR,
    S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, SUPER_OFFSET, SUPER_SIZE, XATTR_HEADER,
    crc_len, decode_dev, get_u16, get_u32, get_u64, superblock_crc, xattr_prefix,
};
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};

/// Entries listed at most.
const MAX_ENTRIES: usize = 8_000_000;
/// Longest path listed (bytes).
const MAX_PATH: usize = 64 * 1024;
/// Bytes of all listed paths together.
const MAX_PATH_BYTES: usize = 256 << 20;
/// Bytes of all listed xattrs together.
const MAX_XATTR_BYTES: usize = 64 << 20;
/// Longest symbolic link target read.
const MAX_SYMLINK: u64 = 4096;

/// An inode as stored.
struct Raw {
    /// Byte offset of the inode.
    pos: u64,
    core: u64,
    layout: u16,
    mode: u16,
    nlink: u32,
    size: u64,
    i_u: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    mtime_nsec: u32,
    xattr_size: u64,
}

struct Image<'r, R> {
    r: &'r mut R,
    len: u64,
    bs: u64,
    meta: u64,
    xattr_base: u64,
    epoch: u64,
    fixed_nsec: u32,
    dir_budget: u64,
    xattr_budget: usize,
}

fn corrupt(path: &str, what: &'static str) -> ErofsReadError {
    ErofsReadError::Corrupt {
        path: path.to_owned(),
        what,
    }
}

impl<R: Read + Seek> Image<'_, R> {
    fn read_at(&mut self, off: u64, n: u64, path: &str) -> Result<Vec<u8>, ErofsReadError> {
        match off.checked_add(n) {
            Some(end) if end <= self.len => {}
            _ => return Err(corrupt(path, "points past the end of the image")),
        }
        self.r
            .seek(SeekFrom::Start(off))
            .map_err(ErofsReadError::Io)?;
        let mut buf = vec![0u8; n as usize];
        self.r.read_exact(&mut buf).map_err(ErofsReadError::Io)?;
        Ok(buf)
    }

    fn inode(&mut self, nid: u64, path: &str) -> Result<Raw, ErofsReadError> {
        let pos = nid
            .checked_mul(32)
            .and_then(|o| o.checked_add(self.meta))
            .ok_or_else(|| corrupt(path, "inode number out of range"))?;
        let mut b = self.read_at(pos, INODE_COMPACT as u64, path)?;
        let format = get_u16(&b, 0);
        if format & !0x1f != 0 {
            return Err(corrupt(path, "unknown inode format bits"));
        }
        let layout = (format >> 1) & 0x7;
        if layout > LAYOUT_CHUNK_BASED {
            return Err(corrupt(path, "unknown inode data layout"));
        }
        let mode = get_u16(&b, 4);
        let icount = u64::from(get_u16(&b, 2));
        let xattr_size = if icount == 0 {
            0
        } else {
            XATTR_HEADER as u64 + 4 * (icount - 1)
        };
        let extended = format & 1 == 1;
        let raw = if extended {
            b = self.read_at(pos, INODE_EXTENDED as u64, path)?;
            Raw {
                pos,
                core: INODE_EXTENDED as u64,
                layout,
                mode,
                nlink: get_u32(&b, 44),
                size: get_u64(&b, 8),
                i_u: get_u32(&b, 16),
                uid: get_u32(&b, 24),
                gid: get_u32(&b, 28),
                mtime: get_u64(&b, 32) as i64,
                mtime_nsec: get_u32(&b, 40),
                xattr_size,
            }
        } else {
            // Bit 4 of a non-directory compact inode: nlink is 1 and the field means something
            // else. The mtime is relative to the superblock's epoch (0 in older images).
            let nlink_one = format & 0x10 != 0 && mode & S_IFMT != S_IFDIR;
            Raw {
                pos,
                core: INODE_COMPACT as u64,
                layout,
                mode,
                nlink: if nlink_one {
                    1
                } else {
                    u32::from(get_u16(&b, 6))
                },
                size: u64::from(get_u32(&b, 8)),
                i_u: get_u32(&b, 16),
                uid: u32::from(get_u16(&b, 24)),
                gid: u32::from(get_u16(&b, 26)),
                mtime: self.epoch.wrapping_add(u64::from(get_u32(&b, 12))) as i64,
                mtime_nsec: self.fixed_nsec,
                xattr_size,
            }
        };
        Ok(raw)
    }

    /// The data of a directory or symbolic link (flat layouts only).
    fn data(&mut self, ino: &Raw, path: &str) -> Result<Vec<u8>, ErofsReadError> {
        let bs = self.bs;
        let blocks_at = |blkaddr: u32| -> Result<u64, ErofsReadError> {
            u64::from(blkaddr)
                .checked_mul(bs)
                .ok_or_else(|| corrupt(path, "block address out of range"))
        };
        match ino.layout {
            LAYOUT_FLAT_PLAIN => {
                if ino.size == 0 {
                    return Ok(Vec::new());
                }
                let at = blocks_at(ino.i_u)?;
                self.read_at(at, ino.size, path)
            }
            LAYOUT_FLAT_INLINE => {
                let nblocks = ino.size.div_ceil(bs);
                let head = nblocks.saturating_sub(1) * bs;
                let mut out = if head > 0 {
                    let at = blocks_at(ino.i_u)?;
                    self.read_at(at, head, path)?
                } else {
                    Vec::new()
                };
                let tail_at = ino.pos + ino.core + ino.xattr_size;
                let tail = ino.size - head;
                if tail_at % bs + tail > bs {
                    return Err(corrupt(path, "inline data crosses a block boundary"));
                }
                out.extend(self.read_at(tail_at, tail, path)?);
                Ok(out)
            }
            _ => Err(ErofsReadError::Unsupported {
                what: "directories or symbolic links stored compressed or in chunks",
            }),
        }
    }

    fn xattrs(&mut self, ino: &Raw, path: &str) -> Result<Vec<(String, Vec<u8>)>, ErofsReadError> {
        if ino.xattr_size == 0 {
            return Ok(Vec::new());
        }
        let area = self.read_at(ino.pos + ino.core, ino.xattr_size, path)?;
        self.spend_xattrs(area.len())?;
        let shared = usize::from(area[4]);
        let mut pos = XATTR_HEADER + 4 * shared;
        if pos > area.len() {
            return Err(corrupt(path, "shared xattr ids past the xattr area"));
        }
        let mut out = Vec::new();
        for i in 0..shared {
            let id = u64::from(get_u32(&area, XATTR_HEADER + 4 * i));
            let at = id
                .checked_mul(4)
                .and_then(|o| o.checked_add(self.xattr_base))
                .ok_or_else(|| corrupt(path, "shared xattr id out of range"))?;
            let head = self.read_at(at, 4, path)?;
            let n = u64::from(head[0]) + u64::from(get_u16(&head, 2));
            let body = self.read_at(at + 4, n, path)?;
            self.spend_xattrs(body.len())?;
            if let Some(x) = xattr(head[1], &body, usize::from(head[0]), path)? {
                out.push(x);
            }
        }
        while pos + 4 <= area.len() {
            let (name_len, index) = (usize::from(area[pos]), area[pos + 1]);
            let value_len = usize::from(get_u16(&area, pos + 2));
            let end = pos + 4 + name_len + value_len;
            if end > area.len() {
                return Err(corrupt(path, "an xattr runs past the xattr area"));
            }
            if let Some(x) = xattr(index, &area[pos + 4..end], name_len, path)? {
                out.push(x);
            }
            pos = end.next_multiple_of(4);
        }
        out.sort();
        Ok(out)
    }

    fn spend_xattrs(&mut self, n: usize) -> Result<(), ErofsReadError> {
        self.xattr_budget = self
            .xattr_budget
            .checked_sub(n)
            .ok_or(ErofsReadError::Limit {
                what: "more than 64 MiB of extended attributes",
            })?;
        Ok(())
    }

    /// The entries of a directory other than `.` and `..`, sorted by name.
    fn dir(&mut self, ino: &Raw, path: &str) -> Result<Vec<(Vec<u8>, u64)>, ErofsReadError> {
        self.dir_budget = self
            .dir_budget
            .checked_sub(ino.size)
            .ok_or_else(|| corrupt(path, "directories larger than the image"))?;
        let data = self.data(ino, path)?;
        let mut out = Vec::new();
        for blk in data.chunks(self.bs as usize) {
            if blk.len() < DIRENT_SIZE {
                return Err(corrupt(path, "truncated directory block"));
            }
            let first = usize::from(get_u16(blk, 8));
            if first < DIRENT_SIZE || first % DIRENT_SIZE != 0 || first > blk.len() {
                return Err(corrupt(path, "bad first name offset in a directory block"));
            }
            let n = first / DIRENT_SIZE;
            for i in 0..n {
                let d = &blk[i * DIRENT_SIZE..];
                let start = usize::from(get_u16(d, 8));
                let end = if i + 1 < n {
                    usize::from(get_u16(d, DIRENT_SIZE + 8))
                } else {
                    blk.len()
                };
                if start < first || end < start || end > blk.len() {
                    return Err(corrupt(path, "bad name offset in a directory block"));
                }
                let mut name = &blk[start..end];
                if i + 1 == n
                    && let Some(z) = name.iter().position(|&c| c == 0)
                {
                    name = &name[..z];
                }
                if name.is_empty() || name.len() > NAME_LEN || name.contains(&b'/') {
                    return Err(corrupt(path, "bad entry name"));
                }
                if name.contains(&0) {
                    return Err(corrupt(path, "NUL in an entry name"));
                }
                if name == b"." || name == b".." {
                    continue;
                }
                out.push((name.to_vec(), get_u64(d, 0)));
            }
        }
        out.sort_unstable();
        if out.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(corrupt(path, "two entries with the same name"));
        }
        Ok(out)
    }

    fn entry(&mut self, nid: u64, path: String) -> Result<(ErofsEntry, Raw), ErofsReadError> {
        let raw = self.inode(nid, &path)?;
        let kind = match raw.mode & S_IFMT {
            S_IFREG => ErofsKind::File,
            S_IFDIR => ErofsKind::Dir,
            S_IFLNK => {
                if raw.size > MAX_SYMLINK {
                    return Err(corrupt(
                        &path,
                        "symbolic link target longer than 4096 bytes",
                    ));
                }
                let t = self.data(&raw, &path)?;
                ErofsKind::Symlink(String::from_utf8_lossy(&t).into_owned())
            }
            S_IFCHR => {
                let (ma, mi) = decode_dev(raw.i_u);
                ErofsKind::CharDevice(ma, mi)
            }
            S_IFBLK => {
                let (ma, mi) = decode_dev(raw.i_u);
                ErofsKind::BlockDevice(ma, mi)
            }
            S_IFIFO => ErofsKind::Fifo,
            S_IFSOCK => ErofsKind::Socket,
            _ => return Err(corrupt(&path, "unknown file type")),
        };
        let xattrs = self.xattrs(&raw, &path)?;
        let e = ErofsEntry {
            path,
            kind,
            mode: u32::from(raw.mode & 0o7777),
            uid: raw.uid,
            gid: raw.gid,
            size: raw.size,
            mtime: raw.mtime,
            mtime_nsec: raw.mtime_nsec,
            nlink: raw.nlink,
            nid,
            xattrs,
        };
        Ok((e, raw))
    }
}

/// Decodes one xattr entry body (name suffix then value); `None` for long-prefix names.
fn xattr(
    index: u8,
    body: &[u8],
    name_len: usize,
    path: &str,
) -> Result<Option<(String, Vec<u8>)>, ErofsReadError> {
    if index & 0x80 != 0 {
        return Ok(None);
    }
    let prefix = xattr_prefix(index).ok_or_else(|| corrupt(path, "unknown xattr name index"))?;
    let name = format!(
        "{prefix}{}",
        String::from_utf8_lossy(&body[..name_len.min(body.len())])
    );
    if name.is_empty() {
        return Err(corrupt(path, "an xattr without a name"));
    }
    Ok(Some((name, body[name_len.min(body.len())..].to_vec())))
}

/// Lists every entry of the EROFS image `r`.
pub fn list_erofs<R: Read + Seek>(r: &mut R) -> Result<ErofsListing, ErofsReadError> {
    let len = r.seek(SeekFrom::End(0)).map_err(ErofsReadError::Io)?;
    if len < SUPER_OFFSET + SUPER_SIZE as u64 {
        return Err(ErofsReadError::NotErofs);
    }
    let mut img = Image {
        r,
        len,
        bs: 4096,
        meta: 0,
        xattr_base: 0,
        epoch: 0,
        fixed_nsec: 0,
        dir_budget: len,
        xattr_budget: MAX_XATTR_BYTES,
    };
    let sb = img.read_at(SUPER_OFFSET, SUPER_SIZE as u64, "")?;
    if get_u32(&sb, 0) != MAGIC {
        return Err(ErofsReadError::NotErofs);
    }
    let bits = sb[12];
    if !(9..=16).contains(&bits) {
        return Err(ErofsReadError::Unsupported {
            what: "block sizes other than 512 B to 64 KiB",
        });
    }
    img.bs = 1 << bits;
    let incompat = get_u32(&sb, 80);
    if incompat & INCOMPAT_48BIT != 0 {
        return Err(ErofsReadError::Unsupported {
            what: "48-bit block addresses",
        });
    }
    if incompat & !(INCOMPAT_METABOX * 2 - 1) != 0 || incompat & INCOMPAT_METABOX != 0 {
        return Err(ErofsReadError::Unsupported {
            what: "the metabox or an unknown incompatible feature",
        });
    }
    if get_u32(&sb, 8) & COMPAT_SB_CHKSUM != 0 {
        let n = crc_len(img.bs) as u64;
        let block = img.read_at(SUPER_OFFSET, n, "")?;
        if superblock_crc(&block) != get_u32(&sb, 4) {
            return Err(corrupt("", "superblock checksum mismatch"));
        }
    }
    img.epoch = get_u64(&sb, 24);
    img.fixed_nsec = get_u32(&sb, 32);
    img.meta = u64::from(get_u32(&sb, 40)) * img.bs;
    img.xattr_base = u64::from(get_u32(&sb, 44)) * img.bs;
    let root_nid = u64::from(get_u16(&sb, 14));

    let (root, raw) = img.entry(root_nid, String::new())?;
    if root.kind != ErofsKind::Dir {
        return Err(corrupt("", "the root is not a directory"));
    }
    let mut seen_dirs = HashSet::from([root_nid]);
    let mut path_bytes = 0usize;
    let mut entries = Vec::new();
    let mut stack = vec![(String::new(), img.dir(&raw, "")?.into_iter())];
    while let Some((prefix, iter)) = stack.last_mut() {
        let Some((name, nid)) = iter.next() else {
            stack.pop();
            continue;
        };
        let name = String::from_utf8_lossy(&name);
        let path = if prefix.is_empty() {
            name.into_owned()
        } else {
            format!("{prefix}/{name}")
        };
        if path.len() > MAX_PATH {
            return Err(ErofsReadError::Limit {
                what: "a path longer than 64 KiB",
            });
        }
        path_bytes += path.len();
        if path_bytes > MAX_PATH_BYTES || entries.len() >= MAX_ENTRIES {
            return Err(ErofsReadError::Limit {
                what: "more than 8 million entries or 256 MiB of paths",
            });
        }
        let (e, raw) = img.entry(nid, path)?;
        if let ErofsKind::Symlink(t) = &e.kind {
            // Hard-linked symbolic links would otherwise repeat a 4 KiB target for free.
            path_bytes += t.len();
            if path_bytes > MAX_PATH_BYTES {
                return Err(ErofsReadError::Limit {
                    what: "more than 8 million entries or 256 MiB of paths",
                });
            }
        }
        if e.kind == ErofsKind::Dir {
            if !seen_dirs.insert(nid) {
                return Err(corrupt(&e.path, "a directory reached twice (a loop)"));
            }
            let children = img.dir(&raw, &e.path)?;
            let p = e.path.clone();
            entries.push(e);
            stack.push((p, children.into_iter()));
        } else {
            entries.push(e);
        }
    }
    Ok(ErofsListing {
        block_size: img.bs as u32,
        build_time: img.epoch,
        inodes: get_u64(&sb, 16),
        root,
        entries,
    })
}
