//! Building `.apk` files: the writer melange-like packagers (and our own test fixtures) use.

use super::PackageError;
use crate::checksum::Checksum;
use crate::info::PackageInfo;
use crate::keys::{Digests, SignatureEntry, SignatureKind, SigningKey};
use crate::pkginfo;
use crate::tar::{TarBuilder, TarEntryBuilder};
use flate2::{Compression, GzBuilder};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use std::collections::HashSet;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// What a [`PackageFile`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageFileKind {
    /// A regular file with this content.
    File(Vec<u8>),
    /// A directory.
    Directory,
    /// A symbolic link to this target.
    Symlink(String),
    /// A hard link to another file of the package (its path).
    HardLink(String),
    /// A character device (major, minor).
    CharDevice(u32, u32),
}

/// One entry of the data segment to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// Path relative to the root, without leading `/`.
    pub path: String,
    /// What it is.
    pub kind: PackageFileKind,
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Owner name written in the header.
    pub uname: String,
    /// Group name written in the header.
    pub gname: String,
    /// Modification time.
    pub mtime: u64,
    /// Extended attributes.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl PackageFile {
    fn new(path: &str, kind: PackageFileKind, mode: u32) -> Self {
        PackageFile {
            path: path
                .trim_start_matches('/')
                .trim_end_matches('/')
                .to_owned(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            uname: "root".to_owned(),
            gname: "root".to_owned(),
            mtime: 0,
            xattrs: Vec::new(),
        }
    }

    /// A regular file.
    pub fn file(path: &str, mode: u32, content: impl Into<Vec<u8>>) -> Self {
        Self::new(path, PackageFileKind::File(content.into()), mode)
    }

    /// A directory.
    pub fn dir(path: &str, mode: u32) -> Self {
        Self::new(path, PackageFileKind::Directory, mode)
    }

    /// A symbolic link.
    pub fn symlink(path: &str, target: &str) -> Self {
        Self::new(path, PackageFileKind::Symlink(target.to_owned()), 0o777)
    }

    /// A hard link to `target` (another path of the package).
    pub fn hardlink(path: &str, target: &str, mode: u32) -> Self {
        Self::new(
            path,
            PackageFileKind::HardLink(target.trim_start_matches('/').to_owned()),
            mode,
        )
    }

    /// Sets the owner.
    pub fn owner(mut self, uid: u32, gid: u32, uname: &str, gname: &str) -> Self {
        (self.uid, self.gid) = (uid, gid);
        self.uname = uname.to_owned();
        self.gname = gname.to_owned();
        self
    }

    /// Sets the modification time.
    pub fn mtime(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }

    /// Adds an extended attribute.
    pub fn xattr(mut self, name: &str, value: &[u8]) -> Self {
        self.xattrs.push((name.to_owned(), value.to_vec()));
        self
    }
}

/// What [`PackageBuilder::write`] produced.
#[derive(Debug, Clone)]
pub struct BuiltPackage {
    /// The final metadata (with `size` and `datahash` filled in, and `S:`/`C:` set).
    pub info: PackageInfo,
}

impl BuiltPackage {
    /// The package identity (`C:`).
    pub fn identity(&self) -> Checksum {
        self.info
            .checksum
            .expect("a built package has its identity")
    }

    /// Size of the `.apk` file (`S:`).
    pub fn file_size(&self) -> u64 {
        self.info.size
    }
}

/// Builds a v2 `.apk`: an optional signature segment, the control segment (`.PKGINFO` and
/// scripts) and the data segment, each one gzip member, byte-identical for identical input.
#[derive(Debug, Clone)]
pub struct PackageBuilder {
    info: PackageInfo,
    files: Vec<PackageFile>,
    scripts: Vec<(String, Vec<u8>)>,
    keys: Vec<(SigningKey, SignatureKind)>,
    level: u32,
    generator: String,
}

impl PackageBuilder {
    /// Starts a package with this metadata; `size` and `datahash` are computed.
    pub fn new(info: PackageInfo) -> Self {
        PackageBuilder {
            info,
            files: Vec::new(),
            scripts: Vec::new(),
            keys: Vec::new(),
            level: 9,
            generator: concat!("apko-rs ", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// Adds a data entry.
    pub fn with_file(mut self, file: PackageFile) -> Self {
        self.files.push(file);
        self
    }

    /// Adds a data entry.
    pub fn add_file(&mut self, file: PackageFile) {
        self.files.push(file);
    }

    /// Adds an install script; `kind` is `pre-install`, `post-install`, ..., or `trigger`.
    pub fn with_script(mut self, kind: &str, content: impl Into<Vec<u8>>) -> Self {
        self.scripts.push((format!(".{kind}"), content.into()));
        self
    }

    /// Signs the package with `key` (several keys may sign).
    pub fn with_signature(mut self, key: SigningKey, kind: SignatureKind) -> Self {
        self.keys.push((key, kind));
        self
    }

    /// Sets the gzip level (default 9, as abuild).
    pub fn with_compression_level(mut self, level: u32) -> Self {
        self.level = level.min(9);
        self
    }

    /// Adds every file below `dir` (sorted, owners root:root, modes and mtimes from the disk).
    pub fn with_dir(mut self, dir: &std::path::Path) -> io::Result<Self> {
        add_dir(&mut self.files, dir, dir)?;
        Ok(self)
    }

    fn gzip(&self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut gz = GzBuilder::new()
            .operating_system(3)
            .write(Vec::new(), Compression::new(self.level));
        gz.write_all(data)?;
        gz.finish()
    }

    /// Writes the package to `out`.
    pub fn write<W: Write>(mut self, mut out: W) -> Result<BuiltPackage, PackageError> {
        let name = self.info.name_version();
        let werr = |source| PackageError::Write {
            package: name.clone(),
            path: "output".to_owned(),
            source,
        };
        let ordered =
            order_files(&self.files).map_err(|reason| PackageError::structure(&name, reason))?;

        // Data segment, spooled to a temporary file.
        let spool = tempfile::tempfile().map_err(werr)?;
        let mut gz = GzBuilder::new()
            .operating_system(3)
            .write(HashingWriter::new(spool), Compression::new(self.level));
        let mut installed_size = 0u64;
        {
            let mut tar = TarBuilder::new(&mut gz);
            let mut sums: std::collections::HashMap<&str, String> =
                std::collections::HashMap::new();
            for f in &ordered {
                let mut e = match &f.kind {
                    PackageFileKind::File(data) => {
                        installed_size += data.len() as u64;
                        let sum = hex::encode(Sha1::digest(data));
                        sums.insert(&f.path, sum.clone());
                        TarEntryBuilder::file(&f.path, f.mode, data.len() as u64)
                            .pax("APK-TOOLS.checksum.SHA1", sum.as_bytes())
                    }
                    PackageFileKind::Directory => TarEntryBuilder::dir(&f.path, f.mode),
                    PackageFileKind::Symlink(t) => TarEntryBuilder::symlink(&f.path, t).pax(
                        "APK-TOOLS.checksum.SHA1",
                        hex::encode(Sha1::digest(t.as_bytes())).as_bytes(),
                    ),
                    PackageFileKind::HardLink(t) => {
                        let e = TarEntryBuilder::hardlink(&f.path, t, f.mode);
                        match sums.get(t.as_str()) {
                            Some(s) => e.pax("APK-TOOLS.checksum.SHA1", s.as_bytes()),
                            None => e,
                        }
                    }
                    PackageFileKind::CharDevice(ma, mi) => {
                        TarEntryBuilder::device(&f.path, f.mode, false, *ma, *mi)
                    }
                };
                for (k, v) in &f.xattrs {
                    e = e.pax(&format!("SCHILY.xattr.{k}"), v);
                }
                e = e.owner(f.uid, f.gid, &f.uname, &f.gname).mtime(f.mtime);
                tar.append(&e).map_err(werr)?;
                if let PackageFileKind::File(data) = &f.kind {
                    tar.write_all(data).map_err(werr)?;
                }
            }
            tar.finish().map_err(werr)?;
        }
        let data = gz.finish().map_err(werr)?;
        let (mut spool, datahash, data_len) = data.finish();
        if installed_size == 0 && (!ordered.is_empty() || !self.scripts.is_empty()) {
            // apk 2.x does not unpack packages whose installed size is 0.
            installed_size = 1;
        }
        self.info.installed_size = installed_size;
        self.info.datahash = Some(datahash);

        // Control segment: .PKGINFO then scripts, without end-of-archive blocks.
        let mtime = self.info.build_time.unwrap_or(0);
        let pkginfo = pkginfo::write(&self.info, &self.generator);
        let mut ctar = TarBuilder::new(Vec::new());
        ctar.append_data(
            &TarEntryBuilder::file(".PKGINFO", 0o644, pkginfo.len() as u64)
                .owner(0, 0, "root", "root")
                .mtime(mtime),
            pkginfo.as_bytes(),
        )
        .map_err(werr)?;
        self.scripts.sort_by(|a, b| a.0.cmp(&b.0));
        for (sname, content) in &self.scripts {
            ctar.append_data(
                &TarEntryBuilder::file(sname, 0o755, content.len() as u64)
                    .owner(0, 0, "root", "root")
                    .mtime(mtime),
                content,
            )
            .map_err(werr)?;
        }
        let control = self
            .gzip(&ctar.finish_without_trailer().map_err(werr)?)
            .map_err(werr)?;
        let digests = Digests::of(&control);
        let identity = Checksum::Sha1(digests.sha1);

        // Signature segment.
        let mut sigs = Vec::new();
        for (key, kind) in &self.keys {
            sigs.push(
                key.sign_entry(*kind, &digests)
                    .map_err(|e| PackageError::structure(&name, e.to_string()))?,
            );
        }
        let signature = signature_segment(&sigs, mtime, self.level).map_err(werr)?;

        out.write_all(&signature).map_err(werr)?;
        out.write_all(&control).map_err(werr)?;
        spool.seek(SeekFrom::Start(0)).map_err(werr)?;
        io::copy(&mut (&mut spool).take(data_len), &mut out).map_err(werr)?;
        out.flush().map_err(werr)?;

        self.info.size = signature.len() as u64 + control.len() as u64 + data_len;
        self.info.checksum = Some(identity);
        Ok(BuiltPackage { info: self.info })
    }

    /// Builds the package in memory.
    pub fn build(self) -> Result<(BuiltPackage, Vec<u8>), PackageError> {
        let mut out = Vec::new();
        let built = self.write(&mut out)?;
        Ok((built, out))
    }
}

/// Writes a signature segment: one tar entry per signature, no end-of-archive, one gzip member.
pub(crate) fn signature_segment(
    sigs: &[SignatureEntry],
    mtime: u64,
    level: u32,
) -> io::Result<Vec<u8>> {
    if sigs.is_empty() {
        return Ok(Vec::new());
    }
    let mut tar = TarBuilder::new(Vec::new());
    for s in sigs {
        let kind = s.kind.unwrap_or(SignatureKind::Rsa256);
        tar.append_data(
            &TarEntryBuilder::file(
                &SignatureEntry::entry_name(kind, &s.key_name),
                0o644,
                s.signature.len() as u64,
            )
            .owner(0, 0, "root", "root")
            .mtime(mtime),
            &s.signature,
        )?;
    }
    let raw = tar.finish_without_trailer()?;
    let mut gz = GzBuilder::new()
        .operating_system(3)
        .write(Vec::new(), Compression::new(level));
    gz.write_all(&raw)?;
    gz.finish()
}

/// Sorts entries by path and moves every hard link after its target.
fn order_files(files: &[PackageFile]) -> Result<Vec<&PackageFile>, String> {
    for f in files {
        // The writer refuses what the reader would refuse: a packager finds out at once.
        match super::path::normalize_entry_path(&f.path) {
            Ok(Some(n)) if n == f.path => {}
            Ok(_) => {
                return Err(format!(
                    "path `{}` is not normalised",
                    f.path.escape_debug()
                ));
            }
            Err(why) => return Err(format!("path `{}`: {why}", f.path.escape_debug())),
        }
    }
    let mut sorted: Vec<&PackageFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let mut seen = HashSet::new();
    for w in sorted.windows(2) {
        if w[0].path == w[1].path {
            return Err(format!("duplicate path `{}`", w[0].path));
        }
    }
    let mut out = Vec::with_capacity(sorted.len());
    let mut deferred: Vec<&PackageFile> = Vec::new();
    for f in sorted {
        if let PackageFileKind::HardLink(t) = &f.kind
            && !seen.contains(t.as_str())
        {
            deferred.push(f);
            continue;
        }
        seen.insert(f.path.as_str());
        out.push(f);
        // Release hard links whose target just appeared.
        let mut i = 0;
        while i < deferred.len() {
            if let PackageFileKind::HardLink(t) = &deferred[i].kind
                && seen.contains(t.as_str())
            {
                let d = deferred.remove(i);
                seen.insert(d.path.as_str());
                out.push(d);
                i = 0;
                continue;
            }
            i += 1;
        }
    }
    if let Some(d) = deferred.first() {
        return Err(format!(
            "hard link `{}` points to a path that is not a file of the package",
            d.path
        ));
    }
    Ok(out)
}

fn add_dir(
    files: &mut Vec<PackageFile>,
    root: &std::path::Path,
    dir: &std::path::Path,
) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mut entries: Vec<_> = fs_err::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(fs_err::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map_err(|e| io::Error::other(e.to_string()))?
            .to_string_lossy()
            .into_owned();
        let meta = fs_err::symlink_metadata(&path)?;
        let mode = meta.permissions().mode() & 0o7777;
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        let file = if meta.file_type().is_symlink() {
            PackageFile::symlink(&rel, &fs_err::read_link(&path)?.to_string_lossy())
        } else if meta.is_dir() {
            PackageFile::dir(&rel, mode)
        } else if meta.is_file() {
            PackageFile::file(&rel, mode, fs_err::read(&path)?)
        } else {
            continue;
        };
        files.push(file.mtime(mtime));
        if meta.is_dir() {
            add_dir(files, root, &path)?;
        }
    }
    Ok(())
}

/// A writer that hashes (SHA-256) and counts what passes through.
pub(crate) struct HashingWriter<W> {
    inner: W,
    sha256: Sha256,
    len: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            sha256: Sha256::new(),
            len: 0,
        }
    }

    pub(crate) fn finish(self) -> (W, [u8; 32], u64) {
        (self.inner, self.sha256.finalize().into(), self.len)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha256.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
