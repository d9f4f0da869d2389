//! Writing a tree as a layer: a tar stream laid out as Go's `archive/tar` writes apko's layers
//! (entries in byte order, pre-order; no trailing slash on directories; two zero blocks at the
//! end), optionally gzip-compressed in parallel, with both digests computed in the same pass.

use crate::error::FsError;
use crate::gzip::{Digests, compress};
use crate::tar::{BLOCK, Header, encode};
use crate::tree::{Content, FsTree, Kind, NodeId};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::FileExt;

/// How to write a layer.
#[derive(Debug, Clone)]
pub struct LayerOptions {
    /// The compression of the layer.
    pub compression: Compression,
    /// gzip level (0–9; default 6), or zstd level (1–19; 3 is zstd's default).
    pub compression_level: u32,
    /// Compression threads (the output does not depend on it).
    pub threads: usize,
    /// Size of the independently compressed blocks (default 1 MiB; part of the output's
    /// identity).
    pub block_size: usize,
    /// User names by uid, for the tar `uname` field (from the image's `/etc/passwd`).
    pub users: BTreeMap<u32, String>,
    /// Group names by gid (from the image's `/etc/group`).
    pub groups: BTreeMap<u32, String>,
}

impl Default for LayerOptions {
    fn default() -> Self {
        LayerOptions {
            compression: Compression::Gzip,
            compression_level: 6,
            threads: 1,
            block_size: 1 << 20,
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
        }
    }
}

/// How a layer is compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    /// gzip, in parallel blocks (the same bytes at any thread count).
    #[default]
    Gzip,
    /// zstd (the same bytes at any thread count).
    Zstd,
}

/// A written layer's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerBlob {
    /// SHA-256 and size of the compressed blob, and of the tar (the diffID).
    pub digests: Digests,
}

impl LayerBlob {
    /// `sha256:<hex>` of the compressed blob.
    pub fn digest(&self) -> String {
        format!("sha256:{}", hex(&self.digests.compressed_sha256))
    }

    /// `sha256:<hex>` of the uncompressed tar.
    pub fn diff_id(&self) -> String {
        format!("sha256:{}", hex(&self.digests.uncompressed_sha256))
    }

    /// Compressed size.
    pub fn size(&self) -> u64 {
        self.digests.compressed_size
    }
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// Source files kept open at once while writing a layer.
const MAX_OPEN_SOURCES: usize = 64;

/// Which part of a tree a layer holds, for images of several layers.
pub struct LayerPart<'a> {
    /// The entries (other than directories) of this layer.
    pub include: &'a (dyn Fn(&str, NodeId) -> bool + Sync),
    /// Whether this layer holds the tree's directories. Otherwise a directory is written only
    /// as a missing parent of an entry of the layer, dated like that entry (apko's package
    /// layers).
    pub directories: bool,
    /// Files this layer holds with other content than the tree's (a partial installed
    /// database), by path; their metadata comes from the tree.
    pub replace: BTreeMap<String, Vec<u8>>,
}

impl std::fmt::Debug for LayerPart<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerPart")
            .field("directories", &self.directories)
            .field("replace", &self.replace.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl LayerPart<'_> {
    /// The whole tree.
    pub fn all() -> LayerPart<'static> {
        LayerPart {
            include: &|_, _| true,
            directories: true,
            replace: BTreeMap::new(),
        }
    }
}

/// Copies file contents out of the tree, keeping a bounded set of source files open.
pub(crate) struct ContentReader<'t> {
    tree: &'t FsTree,
    files: HashMap<u32, fs_err::File>,
    buf: Vec<u8>,
    /// Key mode ([`layer_key`]): write a source's identity, offset and size instead of its
    /// bytes, and record which sources were used.
    identities: Option<KeySources>,
}

#[derive(Default)]
struct KeySources {
    used: std::collections::BTreeSet<u32>,
    anonymous: bool,
}

impl<'t> ContentReader<'t> {
    pub(crate) fn new(tree: &'t FsTree) -> Self {
        ContentReader {
            tree,
            files: HashMap::new(),
            buf: vec![0u8; 1 << 20],
            identities: None,
        }
    }

    /// Writes content `c` (of the entry at `path`, for errors) to `w`.
    pub(crate) fn copy(
        &mut self,
        c: &Content,
        path: &str,
        w: &mut dyn Write,
    ) -> Result<(), FsError> {
        let tree = self.tree;
        match c {
            // In a key stream, each content is tagged with its kind, so that in-memory bytes
            // can never read as a source record of the same length.
            Content::Bytes(b) if self.identities.is_some() => w
                .write_all(&[0])
                .and_then(|()| w.write_all(b))
                .map_err(FsError::Write),
            Content::Bytes(b) => w.write_all(b).map_err(FsError::Write),
            Content::Source {
                source,
                offset,
                size,
            } if self.identities.is_some() => {
                let ids = self.identities.as_mut().expect("checked");
                ids.used.insert(*source);
                match tree.source_id(*source) {
                    Some(id) => {
                        let mut rec = vec![1];
                        rec.extend_from_slice(&id);
                        rec.extend_from_slice(&offset.to_le_bytes());
                        rec.extend_from_slice(&size.to_le_bytes());
                        w.write_all(&rec).map_err(FsError::Write)
                    }
                    None => {
                        ids.anonymous = true;
                        Ok(())
                    }
                }
            }
            Content::Source {
                source,
                offset,
                size,
            } => {
                // Bounded: images of thousands of packages stay below `ulimit -n`.
                if self.files.len() >= MAX_OPEN_SOURCES && !self.files.contains_key(source) {
                    self.files.clear();
                }
                let f = match self.files.entry(*source) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        let p = tree.source_path(*source);
                        let f = fs_err::File::open(p).map_err(|e| FsError::Source {
                            path: path.to_owned(),
                            source_path: p.display().to_string(),
                            source: e,
                        })?;
                        v.insert(f)
                    }
                };
                let mut done = 0u64;
                while done < *size {
                    let n = (*size - done).min(self.buf.len() as u64) as usize;
                    f.file()
                        .read_exact_at(&mut self.buf[..n], offset + done)
                        .map_err(|e| FsError::Source {
                            path: path.to_owned(),
                            source_path: tree.source_path(*source).display().to_string(),
                            source: e,
                        })?;
                    w.write_all(&self.buf[..n]).map_err(FsError::Write)?;
                    done += n as u64;
                }
                Ok(())
            }
        }
    }
}

/// Writes the tar stream of the `part` of `tree` to `w`.
pub fn write_tar_entries(
    tree: &FsTree,
    opts: &LayerOptions,
    w: &mut dyn Write,
    part: &LayerPart<'_>,
) -> Result<(), FsError> {
    write_entries(tree, opts, w, part, &mut ContentReader::new(tree))
}

/// What a layer's bytes are made of, short of the contents of its source files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerKey {
    /// SHA-256 over the format of this writer, the compression, its level and block size,
    /// and the layer's tar stream with each source file's content replaced by that file's
    /// identity, offset and length: two layers with the same key have the same bytes, as long
    /// as each source identity names one content.
    pub key: [u8; 32],
    /// The source files whose contents the layer holds (they must be what their identities
    /// say before the layer is written from them).
    pub sources: Vec<u32>,
}

/// The version of the layer format in cache keys: raised whenever this crate would write
/// other bytes for the same tree.
const LAYER_KEY_FORMAT: &str = concat!("apko-fs layer key 2, apko-fs ", env!("CARGO_PKG_VERSION"));

/// The cache key of the layer [`write_layer_part`] would write for `part` of `tree` with
/// `opts` (thread counts do not change the bytes and are not in it). `None` when a file
/// of the layer comes from a source without an identity ([`FsTree::add_source_with_id`]).
/// Costs a walk of the tree and hashing its metadata and in-memory contents; no source file
/// is read.
pub fn layer_key(
    tree: &FsTree,
    opts: &LayerOptions,
    part: &LayerPart<'_>,
) -> Result<Option<LayerKey>, FsError> {
    use sha2::Digest as _;
    let mut reader = ContentReader::new(tree);
    reader.identities = Some(KeySources::default());
    let mut h = crate::hashing::Hashing::new(std::io::sink());
    {
        let mut bw = std::io::BufWriter::with_capacity(1 << 16, &mut h);
        write_entries(tree, opts, &mut bw, part, &mut reader)?;
        bw.flush().map_err(FsError::Write)?;
    }
    let ids = reader.identities.take().unwrap_or_default();
    if ids.anonymous {
        return Ok(None);
    }
    let mut k = sha2::Sha256::new();
    k.update(LAYER_KEY_FORMAT.as_bytes());
    k.update([0, opts.compression as u8]);
    k.update(opts.compression_level.to_le_bytes());
    k.update((opts.block_size as u64).to_le_bytes());
    k.update(h.len.to_le_bytes());
    k.update(h.sha.finalize());
    k.update(compressor_fingerprint(
        opts.compression,
        opts.compression_level,
    )?);
    Ok(Some(LayerKey {
        key: k.finalize().into(),
        sources: ids.used.into_iter().collect(),
    }))
}

/// What the compressor makes of a fixed sample at `level` (text and pseudo-random bytes, in
/// several blocks), with zstd's library version: a new zlib-rs or libzstd that would
/// compress differently gives other keys, so a warm build never returns bytes a cold build
/// would no longer write. Computed once per process and setting (about a millisecond).
fn compressor_fingerprint(compression: Compression, level: u32) -> Result<[u8; 32], FsError> {
    use sha2::Digest as _;
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Memo = Mutex<HashMap<(u8, u32), [u8; 32]>>;
    static DONE: OnceLock<Memo> = OnceLock::new();
    let done = DONE.get_or_init(Mutex::default);
    let key = (compression as u8, level);
    if let Some(f) = done
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return Ok(*f);
    }
    let mut sample = Vec::with_capacity(192 << 10);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while sample.len() < 96 << 10 {
        sample.extend_from_slice(format!("line {} of the sample\n", sample.len() % 977).as_bytes());
    }
    while sample.len() < 192 << 10 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        sample.extend_from_slice(&x.to_le_bytes()[..3]);
    }
    let produce = |w: &mut dyn Write| w.write_all(&sample).map_err(FsError::Write);
    let (_, digests) = match compression {
        Compression::Gzip => compress(Vec::new(), level, 64 << 10, 1, produce)?,
        Compression::Zstd => {
            crate::zstd::compress_zstd(Vec::new(), i32::try_from(level).unwrap_or(3), 1, produce)?
        }
    };
    let mut h = sha2::Sha256::new();
    h.update(digests.compressed_sha256);
    h.update(zstd::zstd_safe::version_number().to_le_bytes());
    let f: [u8; 32] = h.finalize().into();
    done.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(key, f);
    Ok(f)
}

fn write_entries(
    tree: &FsTree,
    opts: &LayerOptions,
    w: &mut dyn Write,
    part: &LayerPart<'_>,
    reader: &mut ContentReader<'_>,
) -> Result<(), FsError> {
    let walk = tree.walk();
    let mut links: HashMap<NodeId, usize> = HashMap::new();
    for (_, id) in &walk {
        *links.entry(*id).or_default() += 1;
    }
    let dirs: HashMap<&str, NodeId> = if part.directories {
        HashMap::new()
    } else {
        walk.iter()
            .filter(|(_, id)| tree.node(*id).is_dir())
            .map(|(p, id)| (p.as_str(), *id))
            .collect()
    };
    let mut emitted: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut first_path: HashMap<NodeId, String> = HashMap::new();
    let header = |path: &str, n: &crate::tree::Node| Header {
        name: path.to_owned(),
        mode: n.meta.mode & 0o7777,
        uid: n.meta.uid,
        gid: n.meta.gid,
        mtime: n.meta.mtime,
        uname: opts.users.get(&n.meta.uid).cloned().unwrap_or_default(),
        gname: opts.groups.get(&n.meta.gid).cloned().unwrap_or_default(),
        ..Header::default()
    };
    for (path, id) in &walk {
        let n = tree.node(*id);
        let replacement = part.replace.get(path);
        if n.is_dir() {
            if !part.directories {
                continue;
            }
        } else if replacement.is_none() && !(part.include)(path, *id) {
            continue;
        }
        if !part.directories {
            // Missing parents first, dated like this entry.
            let mut parent = String::new();
            for c in path
                .split('/')
                .collect::<Vec<_>>()
                .split_last()
                .map_or(&[][..], |(_, d)| d)
            {
                if !parent.is_empty() {
                    parent.push('/');
                }
                parent.push_str(c);
                if emitted.contains(&parent) {
                    continue;
                }
                if let Some(&d) = dirs.get(parent.as_str()) {
                    let dn = tree.node(d);
                    let mut h = header(&parent, dn);
                    h.mtime = n.meta.mtime;
                    h.typeflag = b'5';
                    h.pax = dn
                        .meta
                        .xattrs
                        .iter()
                        .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.clone()))
                        .collect();
                    w.write_all(&encode(&h)).map_err(FsError::Write)?;
                }
                emitted.insert(parent.clone());
            }
        }
        let mut h = header(path, n);
        let xattrs = || {
            n.meta
                .xattrs
                .iter()
                .map(|(k, v)| (format!("SCHILY.xattr.{k}"), v.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        let mut content: Option<&Content> = None;
        match &n.kind {
            Kind::Dir(_) => {
                h.typeflag = b'5';
                h.pax = xattrs();
            }
            Kind::File(_) if replacement.is_some() => {
                let data = replacement.expect("checked");
                h.typeflag = b'0';
                h.size = data.len() as u64;
                h.pax = xattrs();
                w.write_all(&encode(&h)).map_err(FsError::Write)?;
                w.write_all(data).map_err(FsError::Write)?;
                let pad = (BLOCK - (data.len() % BLOCK)) % BLOCK;
                w.write_all(&vec![0u8; pad]).map_err(FsError::Write)?;
                continue;
            }
            Kind::File(c) => {
                if let Some(first) = first_path.get(id) {
                    h.typeflag = b'1';
                    h.linkname.clone_from(first);
                } else {
                    if links[id] > 1 {
                        first_path.insert(*id, path.clone());
                    }
                    h.typeflag = b'0';
                    h.size = c.len();
                    h.pax = xattrs();
                    content = Some(c);
                }
            }
            Kind::Symlink(t) => {
                h.typeflag = b'2';
                h.linkname.clone_from(t);
            }
            Kind::CharDevice(ma, mi) => {
                h.typeflag = b'3';
                (h.devmajor, h.devminor) = (*ma, *mi);
            }
            Kind::BlockDevice(ma, mi) => {
                h.typeflag = b'4';
                (h.devmajor, h.devminor) = (*ma, *mi);
            }
            Kind::Fifo => h.typeflag = b'6',
        }
        w.write_all(&encode(&h)).map_err(FsError::Write)?;
        if let Some(c) = content {
            reader.copy(c, path, w)?;
            let pad = (BLOCK - (c.len() as usize % BLOCK)) % BLOCK;
            w.write_all(&vec![0u8; pad]).map_err(FsError::Write)?;
        }
    }
    w.write_all(&[0u8; 2 * BLOCK]).map_err(FsError::Write)
}

/// Writes the whole tree as a gzip-compressed layer to `out`.
pub fn write_layer<W: Write + Send>(
    tree: &FsTree,
    opts: &LayerOptions,
    out: W,
) -> Result<(LayerBlob, W), FsError> {
    write_layer_part(tree, opts, out, &LayerPart::all())
}

/// Writes a `part` of the tree as a gzip-compressed layer.
pub fn write_layer_part<W: Write + Send>(
    tree: &FsTree,
    opts: &LayerOptions,
    out: W,
    part: &LayerPart<'_>,
) -> Result<(LayerBlob, W), FsError> {
    let tar = |w: &mut dyn Write| {
        let mut bw = std::io::BufWriter::with_capacity(1 << 20, w);
        write_tar_entries(tree, opts, &mut bw, part)?;
        bw.flush().map_err(FsError::Write)
    };
    let (out, digests) = match opts.compression {
        Compression::Gzip => compress(
            out,
            opts.compression_level,
            opts.block_size,
            opts.threads,
            tar,
        )?,
        Compression::Zstd => crate::zstd::compress_zstd(
            out,
            i32::try_from(opts.compression_level).unwrap_or(3),
            opts.threads,
            tar,
        )?,
    };
    Ok((LayerBlob { digests }, out))
}

/// Writes the tree as an uncompressed tar; returns its size and SHA-256.
pub fn write_tar<W: Write>(
    tree: &FsTree,
    opts: &LayerOptions,
    out: W,
) -> Result<(u64, [u8; 32]), FsError> {
    use sha2::Digest;
    let mut h = crate::hashing::Hashing::new(std::io::BufWriter::with_capacity(1 << 20, out));
    write_tar_entries(tree, opts, &mut h, &LayerPart::all())?;
    h.flush().map_err(FsError::Write)?;
    Ok((h.len, h.sha.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressor_fingerprints_tell_settings_apart_and_are_stable() {
        let g6 = compressor_fingerprint(Compression::Gzip, 6).unwrap();
        let g1 = compressor_fingerprint(Compression::Gzip, 1).unwrap();
        let z3 = compressor_fingerprint(Compression::Zstd, 3).unwrap();
        assert_ne!(g6, g1);
        assert_ne!(g6, z3);
        // The same again (from the memo).
        assert_eq!(compressor_fingerprint(Compression::Gzip, 6).unwrap(), g6);
    }
}
