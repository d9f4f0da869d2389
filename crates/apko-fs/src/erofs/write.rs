//! Writing a planned image front to back: superblock, metadata (inodes, xattrs, inline tails),
//! data blocks. File bodies stream from their sources; nothing but the plan is held in memory.

use super::format::{
    COMPAT_MTIME, COMPAT_SB_CHKSUM, DIRENT_SIZE, MAGIC, SUPER_OFFSET, XATTR_HEADER, crc_len,
    put_u16, put_u32, put_u64, superblock_crc,
};
use super::plan::{Data, Dirent, Inode, Plan, plan};
use super::{ErofsOptions, ErofsStats};
use crate::error::FsError;
use crate::hashing::Hashing;
use crate::layer::ContentReader;
use crate::tree::{Content, FsTree};
use sha2::Digest;
use std::io::{BufWriter, Write};

const ZEROS: [u8; 4096] = [0; 4096];

fn zeros(w: &mut dyn Write, mut n: u64) -> Result<(), FsError> {
    while n > 0 {
        let k = n.min(ZEROS.len() as u64) as usize;
        w.write_all(&ZEROS[..k]).map_err(FsError::Write)?;
        n -= k as u64;
    }
    Ok(())
}

/// Writes `len` bytes at `start` of a file's content.
fn copy_range(
    reader: &mut ContentReader<'_>,
    c: &Content,
    start: u64,
    len: u64,
    path: &str,
    w: &mut dyn Write,
) -> Result<(), FsError> {
    match c {
        Content::Bytes(b) => w
            .write_all(&b[start as usize..(start + len) as usize])
            .map_err(FsError::Write),
        Content::Source { source, offset, .. } => reader.copy(
            &Content::Source {
                source: *source,
                offset: offset + start,
                size: len,
            },
            path,
            w,
        ),
    }
}

/// The bytes of dirent block `b` of a directory (not padded).
fn dir_block(entries: &[Dirent<'_>], blocks: &[usize], b: usize, inodes: &[Inode<'_>]) -> Vec<u8> {
    let end = blocks.get(b + 1).copied().unwrap_or(entries.len());
    let block = &entries[blocks[b]..end];
    let names: usize = block.iter().map(|e| e.0.len()).sum();
    let mut out = vec![0u8; block.len() * DIRENT_SIZE];
    out.reserve(names);
    let mut nameoff = out.len();
    for (i, (name, idx, ft)) in block.iter().enumerate() {
        let d = &mut out[i * DIRENT_SIZE..(i + 1) * DIRENT_SIZE];
        put_u64(d, 0, inodes[*idx as usize].nid);
        put_u16(d, 8, nameoff as u16);
        d[10] = *ft;
        nameoff += name.len();
    }
    for (name, _, _) in block {
        out.extend_from_slice(name);
    }
    out
}

fn superblock(p: &Plan<'_>, opts: &ErofsOptions) -> Vec<u8> {
    let bs = p.block_size;
    let mut area = vec![0u8; (p.meta_blkaddr * bs) as usize];
    let sb = &mut area[SUPER_OFFSET as usize..];
    put_u32(sb, 0, MAGIC);
    put_u32(sb, 8, COMPAT_SB_CHKSUM | COMPAT_MTIME);
    sb[12] = opts.block_size_bits;
    put_u16(sb, 14, p.inodes[0].nid as u16); // the root is inode 0, nid 0
    put_u64(sb, 16, p.inodes.len() as u64);
    put_u64(sb, 24, p.build_time);
    put_u32(sb, 36, p.total_blocks as u32);
    put_u32(sb, 40, p.meta_blkaddr as u32);
    sb[48..64].copy_from_slice(&opts.uuid);
    let crc = superblock_crc(&sb[..crc_len(bs)]);
    put_u32(sb, 4, crc);
    area
}

fn inode_core(ino: &Inode<'_>, number: u32) -> Vec<u8> {
    let format = (ino.layout << 1) | u16::from(!ino.compact);
    let icount = if ino.xattrs.is_empty() {
        0
    } else {
        ((ino.xattrs.len() - XATTR_HEADER) / 4 + 1) as u16
    };
    let i_u = if ino.rdev != 0 {
        ino.rdev
    } else if ino.blocks > 0 {
        ino.blkaddr as u32
    } else {
        0
    };
    let mut b = vec![0u8; ino.core_size()];
    put_u16(&mut b, 0, format);
    put_u16(&mut b, 2, icount);
    put_u16(&mut b, 4, ino.mode);
    put_u32(&mut b, 16, i_u);
    put_u32(&mut b, 20, number);
    if ino.compact {
        put_u16(&mut b, 6, ino.nlink as u16);
        put_u32(&mut b, 8, ino.size as u32);
        // 12: i_mtime relative to the build time: 0.
        put_u16(&mut b, 24, ino.uid as u16);
        put_u16(&mut b, 26, ino.gid as u16);
    } else {
        put_u64(&mut b, 8, ino.size);
        put_u32(&mut b, 24, ino.uid);
        put_u32(&mut b, 28, ino.gid);
        // A time before 1970 is stored two's-complement, as the kernel reads it.
        put_u64(&mut b, 32, ino.mtime as u64);
        put_u32(&mut b, 44, ino.nlink);
    }
    b
}

/// Writes `tree` as an uncompressed EROFS image to `out`, front to back (no seeking), and
/// returns the image's size and SHA-256 with `out`.
///
/// The same tree and options give the same bytes. File contents are streamed from their
/// sources; memory use is proportional to the number of entries, not to the image size.
pub fn write_erofs<W: Write>(
    tree: &FsTree,
    opts: &ErofsOptions,
    out: W,
) -> Result<(ErofsStats, W), FsError> {
    let p = plan(tree, opts)?;
    let bs = p.block_size;
    let mut w = Hashing::new(BufWriter::with_capacity(1 << 20, out));
    let mut reader = ContentReader::new(tree);

    w.write_all(&superblock(&p, opts)).map_err(FsError::Write)?;

    // Metadata: each inode at nid * 32, then its xattrs and inline tail.
    let meta_start = w.len;
    for (i, ino) in p.inodes.iter().enumerate() {
        let gap = meta_start + ino.nid * 32 - w.len;
        zeros(&mut w, gap)?;
        w.write_all(&inode_core(ino, i as u32 + 1))
            .map_err(FsError::Write)?;
        w.write_all(&ino.xattrs).map_err(FsError::Write)?;
        if ino.inline > 0 {
            match &ino.data {
                Data::File(c) => copy_range(
                    &mut reader,
                    c,
                    ino.size - ino.inline,
                    ino.inline,
                    &ino.path,
                    &mut w,
                )?,
                Data::Symlink(t) => w
                    .write_all(&t[(ino.size - ino.inline) as usize..])
                    .map_err(FsError::Write)?,
                Data::Dir { entries, blocks } => {
                    let last = dir_block(entries, blocks, blocks.len() - 1, &p.inodes);
                    w.write_all(&last).map_err(FsError::Write)?;
                }
                Data::None => {}
            }
        }
    }
    let gap = meta_start + p.meta_blocks * bs - w.len;
    zeros(&mut w, gap)?;

    // Data: the full blocks of every plain or tail-packed inode, in inode order.
    for ino in p.inodes.iter().filter(|i| i.blocks > 0) {
        debug_assert_eq!(w.len, ino.blkaddr * bs);
        let len = (ino.blocks * bs).min(ino.size);
        match &ino.data {
            Data::File(c) => copy_range(&mut reader, c, 0, len, &ino.path, &mut w)?,
            Data::Symlink(t) => w.write_all(&t[..len as usize]).map_err(FsError::Write)?,
            Data::Dir { entries, blocks } => {
                for b in 0..ino.blocks as usize {
                    let bytes = dir_block(entries, blocks, b, &p.inodes);
                    w.write_all(&bytes).map_err(FsError::Write)?;
                    zeros(&mut w, bs - bytes.len() as u64)?;
                }
                continue;
            }
            Data::None => {}
        }
        zeros(&mut w, ino.blocks * bs - len)?;
    }
    debug_assert_eq!(w.len, p.total_blocks * bs);

    w.flush().map_err(FsError::Write)?;
    let stats = ErofsStats {
        size: w.len,
        sha256: w.sha.finalize().into(),
        inodes: p.inodes.len() as u64,
        block_size: bs as u32,
    };
    let out = w
        .inner
        .into_inner()
        .map_err(|e| FsError::Write(e.into_error()))?;
    Ok((stats, out))
}
