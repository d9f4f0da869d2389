//! The tree as a `newc` cpio archive (the initramfs format), deterministic like the tar layers:
//! entries in the tree's order, inode numbers in order of first appearance, hard links as newc
//! writes them (shared inode, the data with the last name).

use crate::error::FsError;
use crate::tree::{FsTree, Kind, NodeId};
use std::collections::HashMap;
use std::io::Write;

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFIFO: u32 = 0o010_000;

struct Entry<'a> {
    name: &'a str,
    ino: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    mtime: i64,
    size: u64,
    rdev: (u32, u32),
}

fn header(e: &Entry<'_>) -> Result<Vec<u8>, FsError> {
    let size = u32::try_from(e.size).map_err(|_| FsError::TooLarge {
        path: e.name.to_owned(),
        what: "a cpio (newc) member is at most 4 GiB",
    })?;
    // newc has 32-bit unsigned times: dates before 1970 are written as 0, after 2106 as the
    // largest value.
    let mtime = u32::try_from(e.mtime.max(0)).unwrap_or(u32::MAX);
    let namesize = u32::try_from(e.name.len() + 1).map_err(|_| FsError::TooLarge {
        path: e.name.to_owned(),
        what: "name too long for cpio",
    })?;
    let fields = [
        e.ino, e.mode, e.uid, e.gid, e.nlink, mtime, size, 0, 0, e.rdev.0, e.rdev.1, namesize, 0,
    ];
    let mut h = String::with_capacity(110 + e.name.len() + 4);
    h.push_str("070701");
    for f in fields {
        h.push_str(&format!("{f:08X}"));
    }
    let mut out = h.into_bytes();
    out.extend_from_slice(e.name.as_bytes());
    out.push(0);
    out.resize(out.len().div_ceil(4) * 4, 0);
    Ok(out)
}

/// Writes `tree` as a newc cpio archive (uncompressed) to `w`.
pub fn write_cpio(tree: &FsTree, w: &mut dyn Write) -> Result<(), FsError> {
    let walk = tree.walk();
    let mut names: HashMap<NodeId, u32> = HashMap::new();
    for (_, id) in &walk {
        *names.entry(*id).or_default() += 1;
    }
    let mut inodes: HashMap<NodeId, u32> = HashMap::new();
    let mut seen: HashMap<NodeId, u32> = HashMap::new();
    let mut reader = crate::layer::ContentReader::new(tree);
    for (path, id) in &walk {
        let n = tree.node(*id);
        let next = u32::try_from(inodes.len() + 1).unwrap_or(u32::MAX);
        let ino = *inodes.entry(*id).or_insert(next);
        let perm = n.meta.mode & 0o7777;
        let mut e = Entry {
            name: path,
            ino,
            mode: perm,
            uid: n.meta.uid,
            gid: n.meta.gid,
            nlink: 1,
            mtime: n.meta.mtime,
            size: 0,
            rdev: (0, 0),
        };
        let mut data: Option<&[u8]> = None;
        let mut content = None;
        match &n.kind {
            Kind::Dir(_) => {
                e.mode |= S_IFDIR;
                e.nlink = 2;
            }
            Kind::File(c) => {
                e.mode |= S_IFREG;
                e.nlink = names[id];
                let count = seen.entry(*id).or_default();
                *count += 1;
                // newc keeps a hard-linked file's data with its last name.
                if *count == e.nlink {
                    e.size = c.len();
                    content = Some(c);
                }
            }
            Kind::Symlink(t) => {
                e.mode |= S_IFLNK;
                e.size = t.len() as u64;
                data = Some(t.as_bytes());
            }
            Kind::CharDevice(ma, mi) => {
                e.mode |= S_IFCHR;
                e.rdev = (*ma, *mi);
            }
            Kind::BlockDevice(ma, mi) => {
                e.mode |= S_IFBLK;
                e.rdev = (*ma, *mi);
            }
            Kind::Fifo => e.mode |= S_IFIFO,
        }
        w.write_all(&header(&e)?).map_err(FsError::Write)?;
        if let Some(d) = data {
            w.write_all(d).map_err(FsError::Write)?;
        }
        if let Some(c) = content {
            reader.copy(c, path, w)?;
        }
        let pad = (4 - (e.size % 4) as usize) % 4;
        w.write_all(&[0u8; 3][..pad]).map_err(FsError::Write)?;
    }
    let trailer = Entry {
        name: "TRAILER!!!",
        ino: 0,
        mode: 0,
        uid: 0,
        gid: 0,
        nlink: 1,
        mtime: 0,
        size: 0,
        rdev: (0, 0),
    };
    w.write_all(&header(&trailer)?).map_err(FsError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Meta, Node};

    #[test]
    fn newc_entries_links_and_trailer() {
        let mut t = FsTree::new();
        t.mkdir_all("bin", &Meta::root(0o755)).unwrap();
        let f = t
            .insert(
                "bin/busybox",
                Node::new(Kind::File(b"ELF!!".to_vec().into()), Meta::root(0o755)),
            )
            .unwrap();
        t.link("bin/hard", f).unwrap();
        t.insert(
            "bin/sh",
            Node::new(Kind::Symlink("/bin/busybox".into()), Meta::root(0o777)),
        )
        .unwrap();
        let mut out = Vec::new();
        write_cpio(&t, &mut out).unwrap();
        let text = String::from_utf8_lossy(&out);
        assert!(text.starts_with("070701"));
        assert!(text.ends_with("TRAILER!!!\0\0\0\0") || text.contains("TRAILER!!!"));
        assert_eq!(out.len() % 4, 0);
        // The data appears once (with the last of the two names).
        assert_eq!(text.matches("ELF!!").count(), 1);
        let mut again = Vec::new();
        write_cpio(&t, &mut again).unwrap();
        assert_eq!(out, again, "deterministic");
    }
}
