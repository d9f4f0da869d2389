//! The expanded-package cache: packages already verified and decompressed, keyed by their
//! identity, so that a rebuild neither downloads nor decompresses them.
//!
//! An entry is two files in the cache directory:
//!
//! * `<key>.tar`: the package's decompressed data segment (entries point into it by offset);
//! * `<key>.meta`: a checksum line (`sha256:<hex>` of the rest) and a JSON document with the
//!   control information, the data entries (with their SHA-1 checksums), the digests, and the
//!   size of the `.tar`.
//!
//! `<key>` is `<name>-<version>-<identity in hex>`: the identity (`C:`) is what the signed
//! index names, the SHA-1 of the control segment, and that segment pins the data segment by
//! its `datahash`; so an entry can only ever have one content, and builds sharing a cache can
//! write the same entry at the same time: each writes temporary files and renames them into
//! place, the data first and the metadata last, so a reader that finds the metadata finds
//! the data it describes.
//!
//! Verified on use: the metadata by its checksum line, its format, identity, name and version
//! (a mismatch is a miss, and the entry is written again); the data by its size when the entry
//! is found, and every file's content by its SHA-1 checksum before it is read
//! ([`CachedData::verify`]: exactly the bytes a layer copies, and nothing to hash while
//! expanding, since expanding computes those checksums anyway): a
//! rebuild whose layers are all cached never reads it. The cache trusts its directory as the
//! download cache does: whoever can write it can make entries consistent with themselves.

use super::expand::{DataEntry, DataKind, ExpandedPackage};
use super::read::{Control, ControlFile, PackageDigests};
use crate::checksum::Checksum;
use crate::info::PackageInfo;
use crate::keys::{Digests, SignatureEntry};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The format name written in every entry; another one is a miss.
const FORMAT: &str = "apko-rs expanded package v3";

/// The largest metadata file read (entries of a package with a hundred thousand files fit).
const MAX_META: u64 = 256 << 20;

/// Hard-links `from` to `to`, replacing `to` atomically (a temporary name, then a rename).
pub fn link_replacing(from: &Path, to: &Path) -> std::io::Result<()> {
    let tmp = to.with_extension("link-tmp");
    let _ = fs_err::remove_file(&tmp);
    fs_err::hard_link(from, &tmp)?;
    fs_err::rename(&tmp, to).inspect_err(|_| {
        let _ = fs_err::remove_file(&tmp);
    })
}

/// Moves `from` to `to`: a rename, or a copy where they are on different filesystems.
pub fn move_replacing(from: &Path, to: &Path) -> std::io::Result<()> {
    if fs_err::rename(from, to).is_ok() {
        return Ok(());
    }
    fs_err::copy(from, to)?;
    let _ = fs_err::remove_file(from);
    Ok(())
}

/// Whether `a` and `b` name the same file (device and inode).
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (fs_err::metadata(a), fs_err::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// A directory of expanded packages.
#[derive(Debug, Clone)]
pub struct ExpandedCache {
    root: PathBuf,
    swept: std::sync::Arc<std::sync::Once>,
}

/// How old a temporary directory in a cache must be to be taken for a crashed build's
/// leftover (a live build's are minutes old).
pub const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_hours(24);

/// Removes the `.tmp-*` directories directly in `root` that were last modified more than
/// `older_than` before `fresh`, a directory just created in `root` (what builds that crashed
/// or were killed left behind). Ages are measured with the filesystem's own timestamps, not
/// the clock. Errors are ignored: the cache works with or without them.
pub fn sweep_stale_temporaries(root: &Path, fresh: &Path, older_than: std::time::Duration) {
    let Ok(now) = fs_err::metadata(fresh).and_then(|m| m.modified()) else {
        return;
    };
    let Ok(entries) = fs_err::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > older_than);
        if old && e.file_type().is_ok_and(|t| t.is_dir()) {
            let _ = fs_err::remove_dir_all(e.path());
        }
    }
}

/// The data file of a cached package and what it must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedData {
    /// The decompressed data segment.
    pub path: PathBuf,
    /// Its size.
    pub size: u64,
}

impl CachedData {
    /// Whether the file still has its size and every regular file of `entries` (the
    /// package's entries, which point into it) still has its SHA-1 checksum. An entry with
    /// another kind of checksum (legacy MD5) cannot be checked: `false`.
    pub fn verify(&self, entries: &[DataEntry]) -> std::io::Result<bool> {
        use sha1::{Digest as _, Sha1};
        use std::os::unix::fs::FileExt as _;
        let f = fs_err::File::open(&self.path)?;
        if f.metadata()?.len() != self.size {
            return Ok(false);
        }
        let mut buf = vec![0u8; 1 << 20];
        for e in entries.iter().filter(|e| e.kind == DataKind::File) {
            let Some(Checksum::Sha1(want)) = e.checksum else {
                return Ok(false);
            };
            if e.data_offset.saturating_add(e.size) > self.size {
                return Ok(false);
            }
            let mut h = Sha1::new();
            let mut done = 0u64;
            while done < e.size {
                let n = usize::try_from((e.size - done).min(buf.len() as u64)).unwrap_or(0);
                f.file()
                    .read_exact_at(&mut buf[..n], e.data_offset + done)?;
                h.update(&buf[..n]);
                done += n as u64;
            }
            if <[u8; 20]>::from(h.finalize()) != want {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A package found in the cache.
#[derive(Debug, Clone)]
pub struct CachedPackage {
    /// Control information, entries and digests, as expanding it gave them.
    pub package: ExpandedPackage,
    /// Its data file.
    pub data: CachedData,
}

/// A cache entry being written: the data goes to [`PendingEntry::data_path`], then
/// [`ExpandedCache::commit`] moves it into place.
#[derive(Debug)]
pub struct PendingEntry {
    dir: tempfile::TempDir,
    key: String,
}

impl PendingEntry {
    /// Where to write the decompressed data segment.
    pub fn data_path(&self) -> PathBuf {
        self.dir.path().join("data.tar")
    }
}

impl ExpandedCache {
    /// A cache in `root` (created when first written).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ExpandedCache {
            root: root.into(),
            swept: std::sync::Arc::new(std::sync::Once::new()),
        }
    }

    /// Its directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn key(info: &PackageInfo, identity: &Checksum) -> String {
        // Names and versions are path-safe in indexes apk accepts; anything else is escaped.
        let safe: String = info
            .name_version()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '~') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{safe}-{}", hex::encode(identity.as_bytes()))
    }

    fn paths(&self, key: &str) -> (PathBuf, PathBuf) {
        (
            self.root.join(format!("{key}.tar")),
            self.root.join(format!("{key}.meta")),
        )
    }

    /// The entry of the package `info` describes (its identity `C:` must be known), if the
    /// cache has a complete and consistent one. The data's size is checked here, its content
    /// by [`CachedData::verify`] before use.
    pub fn get(&self, info: &PackageInfo) -> Option<CachedPackage> {
        let identity = info.checksum?;
        let key = Self::key(info, &identity);
        let (data, meta) = self.paths(&key);
        let text = read_bounded(&meta)?;
        let package = decode(&text)?;
        let (package, size) = package;
        if package.digests.identity != identity
            || package.control.info.name != info.name
            || package.control.info.version != info.version
        {
            return None;
        }
        if fs_err::metadata(&data).ok()?.len() != size {
            return None;
        }
        Some(CachedPackage {
            package,
            data: CachedData { path: data, size },
        })
    }

    /// Starts an entry for the package `info` describes (`None` when its identity is not
    /// known: such a package is not cached).
    pub fn begin(&self, info: &PackageInfo) -> std::io::Result<Option<PendingEntry>> {
        let Some(identity) = info.checksum else {
            return Ok(None);
        };
        fs_err::create_dir_all(&self.root)?;
        let dir = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(&self.root)?;
        self.swept
            .call_once(|| sweep_stale_temporaries(&self.root, dir.path(), STALE_TEMPORARY));
        Ok(Some(PendingEntry {
            dir,
            key: Self::key(info, &identity),
        }))
    }

    /// Moves a written entry into place: the data (of `size` bytes) first,
    /// then the metadata. Returns the entry as [`ExpandedCache::get`] would.
    pub fn commit(
        &self,
        pending: PendingEntry,
        package: &ExpandedPackage,
        size: u64,
    ) -> std::io::Result<CachedData> {
        let (data, meta) = self.paths(&pending.key);
        let text = encode(package, size);
        let tmp_meta = pending.dir.path().join("meta");
        // No fsync (it would cost seconds per large build): an entry a crash left torn fails
        // its checks on use and is written again.
        fs_err::write(&tmp_meta, &text)?;
        let tmp_data = pending.data_path();
        // Another build may have written the same entry meanwhile: its content is the same
        // (the identity pins it), and a rename replaces it atomically for new readers while
        // files already open stay valid.
        fs_err::rename(&tmp_data, &data)?;
        fs_err::rename(&tmp_meta, &meta)?;
        // Empty now; failing to remove it only leaves an empty directory behind.
        let _ = pending.dir.close();
        Ok(CachedData { path: data, size })
    }

    /// Removes the entry of `info` whose data file is `used` (the same file, or a hard link
    /// to it) because it failed verification; an entry another build has written again since
    /// (another file) is kept.
    pub fn remove_if_same(&self, info: &PackageInfo, used: &Path) {
        let Some(identity) = info.checksum else {
            return;
        };
        let (data, meta) = self.paths(&Self::key(info, &identity));
        if same_file(&data, used) {
            let _ = fs_err::remove_file(meta);
            let _ = fs_err::remove_file(data);
        }
    }
}

fn read_bounded(path: &Path) -> Option<Vec<u8>> {
    let f = fs_err::File::open(path).ok()?;
    let mut out = Vec::new();
    f.take(MAX_META + 1).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= MAX_META).then_some(out)
}

#[derive(Serialize, Deserialize)]
struct Meta {
    format: String,
    data_size: u64,
    identity: String,
    signed: [String; 3],
    segment_data_sha256: String,
    signature_size: u64,
    signature_sha1: Option<String>,
    control_size: u64,
    data_segment_size: u64,
    signatures: Vec<(String, String, String)>,
    pkginfo: String,
    control_files: Vec<(String, u32, i64, String)>,
    entries: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    path: String,
    /// `f`, `d`, `l`, `h`, `c`, `b`, `p`.
    kind: char,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    target: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    major: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    minor: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    uname: String,
    gname: String,
    mtime: i64,
    size: u64,
    checksum: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    xattrs: Vec<(String, String)>,
    offset: u64,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn encode(p: &ExpandedPackage, size: u64) -> Vec<u8> {
    let d = &p.digests;
    let meta = Meta {
        format: FORMAT.to_owned(),
        data_size: size,
        identity: d.identity.to_string(),
        signed: [
            hex::encode(d.signed.sha1),
            hex::encode(d.signed.sha256),
            hex::encode(d.signed.sha512),
        ],
        segment_data_sha256: hex::encode(d.data_sha256),
        signature_size: d.signature_size,
        signature_sha1: d.signature_sha1.map(hex::encode),
        control_size: d.control_size,
        data_segment_size: d.data_size,
        signatures: p
            .control
            .signatures
            .iter()
            .map(|s| {
                (
                    s.kind.map_or("", |k| k.as_str()).to_owned(),
                    s.key_name.clone(),
                    B64.encode(&s.signature),
                )
            })
            .collect(),
        pkginfo: B64.encode(&p.control.pkginfo),
        control_files: p
            .control
            .files
            .iter()
            .map(|f| (f.name.clone(), f.mode, f.mtime, B64.encode(&f.data)))
            .collect(),
        entries: p
            .entries
            .iter()
            .map(|e| {
                let (kind, target, major, minor) = match &e.kind {
                    DataKind::File => ('f', String::new(), 0, 0),
                    DataKind::Directory => ('d', String::new(), 0, 0),
                    DataKind::Symlink(t) => ('l', t.clone(), 0, 0),
                    DataKind::HardLink(t) => ('h', t.clone(), 0, 0),
                    DataKind::CharDevice(a, b) => ('c', String::new(), *a, *b),
                    DataKind::BlockDevice(a, b) => ('b', String::new(), *a, *b),
                    DataKind::Fifo => ('p', String::new(), 0, 0),
                };
                Entry {
                    path: e.path.clone(),
                    kind,
                    target,
                    major,
                    minor,
                    mode: e.mode,
                    uid: e.uid,
                    gid: e.gid,
                    uname: e.uname.clone(),
                    gname: e.gname.clone(),
                    mtime: e.mtime,
                    size: e.size,
                    checksum: e.checksum.map(|c| c.to_string()),
                    xattrs: e
                        .xattrs
                        .iter()
                        .map(|(k, v)| (k.clone(), B64.encode(v)))
                        .collect(),
                    offset: e.data_offset,
                }
            })
            .collect(),
    };
    let json = serde_json::to_vec(&meta).unwrap_or_default();
    let mut out = format!("sha256:{}\n", hex::encode(Sha256::digest(&json))).into_bytes();
    out.extend_from_slice(&json);
    out
}

fn decode(text: &[u8]) -> Option<(ExpandedPackage, u64)> {
    let nl = text.iter().position(|&b| b == b'\n')?;
    let (line, json) = (&text[..nl], &text[nl + 1..]);
    let want = line.strip_prefix(b"sha256:")?;
    if hex::encode(Sha256::digest(json)).as_bytes() != want {
        return None;
    }
    let m: Meta = serde_json::from_slice(json).ok()?;
    if m.format != FORMAT {
        return None;
    }
    let arr = |s: &str| -> Option<[u8; 32]> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(out)
    };
    let b64 = |s: &str| B64.decode(s).ok();
    let pkginfo = b64(&m.pkginfo)?;
    let info = crate::pkginfo::parse(&pkginfo).ok()?;
    let mut sha1 = [0u8; 20];
    hex::decode_to_slice(&m.signed[0], &mut sha1).ok()?;
    let mut sha512 = [0u8; 64];
    hex::decode_to_slice(&m.signed[2], &mut sha512).ok()?;
    let signature_sha1 = match &m.signature_sha1 {
        Some(s) => {
            let mut out = [0u8; 20];
            hex::decode_to_slice(s, &mut out).ok()?;
            Some(out)
        }
        None => None,
    };
    let mut signatures = Vec::with_capacity(m.signatures.len());
    for (kind, key_name, sig) in &m.signatures {
        let name = format!(".SIGN.{kind}.{key_name}");
        let (kind, _) = SignatureEntry::parse_name(&name)?;
        signatures.push(SignatureEntry {
            kind,
            key_name: key_name.clone(),
            signature: b64(sig)?,
        });
    }
    let mut files = Vec::with_capacity(m.control_files.len());
    for (name, mode, mtime, data) in &m.control_files {
        files.push(ControlFile {
            name: name.clone(),
            mode: *mode,
            mtime: *mtime,
            data: b64(data)?,
        });
    }
    let mut entries = Vec::with_capacity(m.entries.len());
    for e in m.entries {
        let kind = match e.kind {
            'f' => DataKind::File,
            'd' => DataKind::Directory,
            'l' => DataKind::Symlink(e.target),
            'h' => DataKind::HardLink(e.target),
            'c' => DataKind::CharDevice(e.major, e.minor),
            'b' => DataKind::BlockDevice(e.major, e.minor),
            'p' => DataKind::Fifo,
            _ => return None,
        };
        let checksum = match &e.checksum {
            Some(c) => Some(c.parse::<Checksum>().ok()?),
            None => None,
        };
        let mut xattrs = Vec::with_capacity(e.xattrs.len());
        for (k, v) in &e.xattrs {
            xattrs.push((k.clone(), b64(v)?));
        }
        entries.push(DataEntry {
            path: e.path,
            kind,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            uname: e.uname,
            gname: e.gname,
            mtime: e.mtime,
            size: e.size,
            checksum,
            xattrs,
            data_offset: e.offset,
        });
    }
    let package = ExpandedPackage {
        control: Control {
            signatures,
            info,
            pkginfo,
            files,
        },
        entries,
        digests: PackageDigests {
            identity: m.identity.parse().ok()?,
            signed: Digests {
                sha1,
                sha256: arr(&m.signed[1])?,
                sha512,
            },
            data_sha256: arr(&m.segment_data_sha256)?,
            signature_size: m.signature_size,
            signature_sha1,
            control_size: m.control_size,
            data_size: m.data_segment_size,
        },
    };
    Some((package, m.data_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_old_temporary_directories_are_swept() {
        let root = tempfile::tempdir().unwrap();
        let old = root.path().join(".tmp-crashed");
        let young = root.path().join(".tmp-running");
        let entry = root.path().join("pkg-1-r0-00.tar");
        fs_err::create_dir(&old).unwrap();
        fs_err::write(old.join("data.tar"), b"partial").unwrap();
        fs_err::create_dir(&young).unwrap();
        fs_err::write(&entry, b"data").unwrap();
        let two_days = fs_err::metadata(&young).unwrap().modified().unwrap()
            - std::time::Duration::from_hours(48);
        for p in [&old, &entry] {
            fs_err::File::open(p)
                .unwrap()
                .set_modified(two_days)
                .unwrap();
        }
        sweep_stale_temporaries(root.path(), &young, STALE_TEMPORARY);
        assert!(!old.exists(), "a day-old temporary directory is removed");
        assert!(young.exists(), "a live build's is kept");
        assert!(entry.exists(), "entries are never swept");
    }
}
