//! Streaming reader for `.apk` files.

use super::expand::{DataEntry, DataKind};
use super::path::normalize_entry_path;
use super::segments::Segments;
use super::{Limits, PackageError};
use crate::checksum::Checksum;
use crate::gzip::MemberStream;
use crate::info::PackageInfo;
use crate::keys::{Digests, Keyring, SignatureEntry, SignaturePolicy, Verdict, verify_signatures};
use crate::pkginfo;
use crate::tar::{EntryKind, TarError, TarHeader, TarReader};
use sha1::{Digest, Sha1};
use std::io::{self, Read, Write};

/// The largest device number a USTAR header (and so an image layer) can hold.
const MAX_DEVICE_NUMBER: u32 = 0o7_777_777;

/// The largest signature entry accepted (apk 3 ignores larger ones).
const MAX_SIGNATURE: u64 = 64 * 1024;

/// A file of the control segment other than `.PKGINFO` (install scripts, `.trigger`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlFile {
    /// The entry name, for example `.post-install`.
    pub name: String,
    /// Permission bits.
    pub mode: u32,
    /// Modification time.
    pub mtime: i64,
    /// The content.
    pub data: Vec<u8>,
}

impl ControlFile {
    /// The script type (`post-install`, `trigger`, ...) if this is an install script apk runs.
    pub fn script_type(&self) -> Option<&str> {
        const SCRIPTS: [&str; 7] = [
            ".pre-install",
            ".post-install",
            ".pre-deinstall",
            ".post-deinstall",
            ".pre-upgrade",
            ".post-upgrade",
            ".trigger",
        ];
        SCRIPTS.iter().find(|s| **s == self.name).map(|s| &s[1..])
    }
}

/// The signature and control segments of a package.
#[derive(Debug, Clone)]
pub struct Control {
    /// `.SIGN.*` entries, in file order.
    pub signatures: Vec<SignatureEntry>,
    /// The parsed `.PKGINFO`.
    pub info: PackageInfo,
    /// The raw `.PKGINFO`.
    pub pkginfo: Vec<u8>,
    /// Other control entries, in file order.
    pub files: Vec<ControlFile>,
}

impl Control {
    /// The install scripts, in file order.
    pub fn scripts(&self) -> impl Iterator<Item = &ControlFile> {
        self.files.iter().filter(|f| f.script_type().is_some())
    }
}

/// Hashes and sizes of a package, computed over its compressed bytes.
#[derive(Debug, Clone)]
pub struct PackageDigests {
    /// The identity apk uses (`C:`): SHA-1 of the control member, or of everything after the
    /// signatures for a package without `datahash`.
    pub identity: Checksum,
    /// Digests of the bytes the package's signatures cover.
    pub signed: Digests,
    /// SHA-256 of the data segment (compare with `datahash`).
    pub data_sha256: [u8; 32],
    /// Compressed size of the signature segment.
    pub signature_size: u64,
    /// SHA-1 of the signature segment's compressed bytes (`None` when unsigned), as lockfiles
    /// record it.
    pub signature_sha1: Option<[u8; 20]>,
    /// Compressed size of the control segment.
    pub control_size: u64,
    /// Compressed size of the data segment.
    pub data_size: u64,
}

impl PackageDigests {
    /// Total size of the `.apk` file (the index `S:` field).
    pub fn file_size(&self) -> u64 {
        self.signature_size + self.control_size + self.data_size
    }
}

/// Passes decompressed bytes through, copying those of the data segment to a sink.
struct DataTee<R: Read, W> {
    inner: MemberStream<R, Segments>,
    sink: W,
    data_pos: u64,
    data_limit: u64,
}

impl<R: Read, W: Write> Read for DataTee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        // A single read never spans two gzip members, so the whole chunk is in one segment.
        if n > 0 && self.inner.observer().in_data {
            self.data_pos += n as u64;
            if self.data_pos > self.data_limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "data segment exceeds the limit of {} bytes (decompression bomb?)",
                        self.data_limit
                    ),
                ));
            }
            self.sink.write_all(&buf[..n])?;
        }
        Ok(n)
    }
}

struct Current {
    path: String,
    expected: Option<Checksum>,
    hasher: Option<Sha1>,
}

/// Reads a package from a stream: signatures and control first, then data entries one by
/// one, verifying every file's checksum and, at [`PackageReader::finish`], the datahash.
///
/// The decompressed data segment is copied to `W` (use [`io::sink`] when it is not needed);
/// [`DataEntry::data_offset`] points into that copy.
pub struct PackageReader<R: Read, W: Write = io::Sink> {
    name: String,
    tar: TarReader<DataTee<R, W>>,
    control: Control,
    pending: Option<TarHeader>,
    current: Option<Current>,
    data_start: Option<u64>,
    hardlink_targets: std::collections::HashSet<String>,
    seen_data_entry: bool,
}

impl<R: Read, W: Write> std::fmt::Debug for PackageReader<R, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackageReader")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<R: Read> PackageReader<R, io::Sink> {
    /// Opens a package; `name` is used in error messages (a file name or URL).
    pub fn new(reader: R, name: &str, limits: &Limits) -> Result<Self, PackageError> {
        Self::with_data_sink(reader, name, limits, io::sink())
    }
}

impl<R: Read, W: Write> PackageReader<R, W> {
    /// Opens a package and copies its decompressed data segment to `sink`.
    pub fn with_data_sink(
        reader: R,
        name: &str,
        limits: &Limits,
        sink: W,
    ) -> Result<Self, PackageError> {
        let fmt = |e: io::Error| PackageError::format(name, e);
        let stream = MemberStream::new(
            reader,
            Segments::new(),
            limits.max_control_size.saturating_add(limits.max_data_size),
        )
        .map_err(fmt)?;
        let mut tar = TarReader::new(DataTee {
            inner: stream,
            sink,
            data_pos: 0,
            data_limit: limits.max_data_size,
        });
        let mut signatures = Vec::new();
        let mut info = None;
        let mut pkginfo_raw = Vec::new();
        let mut files = Vec::new();
        let mut control_bytes = 0u64;
        let mut pending = None;
        loop {
            let header = tar
                .next_header()
                .map_err(|e| PackageError::format(name, e))?;
            let Some(header) = header else { break };
            let observer = tar.get_mut().inner.observer_mut();
            if !observer.non_sign_seen && header.path.starts_with(".SIGN.") {
                if signatures.len() >= crate::keys::MAX_SIGNATURES {
                    return Err(PackageError::structure(
                        name,
                        format!(
                            "more than {} signature entries",
                            crate::keys::MAX_SIGNATURES
                        ),
                    ));
                }
                if header.size > MAX_SIGNATURE {
                    return Err(PackageError::structure(
                        name,
                        format!("signature entry `{}` is too large", header.path),
                    ));
                }
                let data =
                    read_all(&mut tar, header.size).map_err(|e| PackageError::format(name, e))?;
                if let Some((kind, key)) = SignatureEntry::parse_name(&header.path) {
                    signatures.push(SignatureEntry {
                        kind,
                        key_name: key.to_owned(),
                        signature: data,
                    });
                }
                continue;
            }
            observer.non_sign_seen = true;
            if observer.in_data {
                pending = Some(header);
                break;
            }
            if !header.path.starts_with('.') || header.path.contains('/') {
                return Err(PackageError::structure(
                    name,
                    format!(
                        "data entry `{}` inside the control segment (APKv1 packages are not supported)",
                        header.path
                    ),
                ));
            }
            control_bytes += header.size;
            if control_bytes > limits.max_control_size {
                return Err(PackageError::ControlTooLarge {
                    package: name.to_owned(),
                    limit: limits.max_control_size,
                });
            }
            let data =
                read_all(&mut tar, header.size).map_err(|e| PackageError::format(name, e))?;
            if header.path == ".PKGINFO" {
                let parsed = pkginfo::parse(&data).map_err(|source| PackageError::PkgInfo {
                    package: name.to_owned(),
                    source,
                })?;
                tar.get_mut().inner.observer_mut().has_datahash = parsed.datahash.is_some();
                info = Some(parsed);
                pkginfo_raw = data;
            } else {
                files.push(ControlFile {
                    name: header.path.clone(),
                    mode: header.mode,
                    mtime: header.mtime,
                    data,
                });
            }
        }
        let info = info.ok_or_else(|| PackageError::NoPkgInfo {
            package: name.to_owned(),
        })?;
        Ok(PackageReader {
            name: info.name_version(),
            tar,
            control: Control {
                signatures,
                info,
                pkginfo: pkginfo_raw,
                files,
            },
            pending,
            current: None,
            data_start: None,
            hardlink_targets: std::collections::HashSet::new(),
            seen_data_entry: false,
        })
    }

    /// The signature and control segments.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Digests of the control member, once the data segment has started; these are what the
    /// package's signatures cover when it has a `datahash`.
    pub fn control_digests(&self) -> Option<Digests> {
        let seg = self.tar.get_ref().inner.observer();
        if seg.has_datahash {
            seg.control.clone()
        } else {
            None
        }
    }

    fn finish_current(&mut self) -> Result<Option<[u8; 20]>, PackageError> {
        let Some(mut cur) = self.current.take() else {
            return Ok(None);
        };
        let Some(mut hasher) = cur.hasher.take() else {
            return Ok(None);
        };
        let mut buf = [0u8; 16 * 1024];
        loop {
            let n = self
                .tar
                .read(&mut buf)
                .map_err(|e| PackageError::format(&self.name, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let got: [u8; 20] = hasher.finalize().into();
        if let Some(Checksum::Sha1(want)) = cur.expected
            && got != want
        {
            return Err(PackageError::FileChecksumMismatch {
                package: self.name.clone(),
                path: std::mem::take(&mut cur.path),
                expected: hex::encode(want),
                actual: hex::encode(got),
            });
        }
        Ok(Some(got))
    }

    /// Reads the rest of the current entry's content, verifies it against the checksum the
    /// package records, and returns its SHA-1 (`None` for entries without content).
    pub fn finish_entry(&mut self) -> Result<Option<[u8; 20]>, PackageError> {
        self.finish_current()
    }

    /// The next entry of the data segment; its content (for regular files) can then be read
    /// through this reader's [`Read`] implementation.
    pub fn next_entry(&mut self) -> Result<Option<DataEntry>, PackageError> {
        loop {
            self.finish_current()?;
            let header = match self.pending.take() {
                Some(h) => Some(h),
                None => self
                    .tar
                    .next_header()
                    .map_err(|e| PackageError::format(&self.name, e))?,
            };
            let Some(header) = header else {
                return Ok(None);
            };
            let data_start = *self
                .data_start
                .get_or_insert(self.tar.position() - self.tar.get_ref().data_pos);
            let unsafe_path = |reason: &str| PackageError::UnsafePath {
                package: self.name.clone(),
                path: header.path.clone(),
                reason: reason.to_owned(),
            };
            // APKv1 compatibility (as apko): top-level dot files before the first real entry.
            if !self.seen_data_entry
                && header.path.starts_with('.')
                && !header.path.trim_start_matches("./").contains('/')
                && header.path != "./"
                && header.path != "."
            {
                continue;
            }
            self.seen_data_entry = true;
            // `None` is the root directory itself.
            let Some(path) = normalize_entry_path(&header.path).map_err(unsafe_path)? else {
                continue;
            };
            let kind = match header.kind {
                EntryKind::Regular => DataKind::File,
                EntryKind::Directory => DataKind::Directory,
                EntryKind::Symlink => {
                    super::path::resolve_symlink_target(&path, &header.link_target)
                        .map_err(unsafe_path)?;
                    DataKind::Symlink(header.link_target.clone())
                }
                EntryKind::HardLink => {
                    let target = normalize_entry_path(&header.link_target)
                        .map_err(unsafe_path)?
                        .ok_or_else(|| unsafe_path("hard link to the root"))?;
                    if !self.hardlink_targets.contains(&target) {
                        return Err(unsafe_path(
                            "hard link target is not an earlier file of the same package",
                        ));
                    }
                    DataKind::HardLink(target)
                }
                EntryKind::CharDevice | EntryKind::BlockDevice
                    if header.dev_major > MAX_DEVICE_NUMBER
                        || header.dev_minor > MAX_DEVICE_NUMBER =>
                {
                    return Err(unsafe_path(
                        "device numbers too large for a tar header (7 octal digits)",
                    ));
                }
                EntryKind::CharDevice => DataKind::CharDevice(header.dev_major, header.dev_minor),
                EntryKind::BlockDevice => DataKind::BlockDevice(header.dev_major, header.dev_minor),
                EntryKind::Fifo => DataKind::Fifo,
                EntryKind::Other(_) => continue,
            };
            let checksum = file_checksum(&header);
            let xattrs = header
                .pax
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("SCHILY.xattr.")
                        .map(|n| (n.to_owned(), v.clone()))
                })
                .collect();
            if matches!(kind, DataKind::File) {
                self.hardlink_targets.insert(path.clone());
            }
            let has_data = matches!(kind, DataKind::File);
            if let DataKind::Symlink(target) = &kind
                && let Some(Checksum::Sha1(want)) = &checksum
            {
                let got: [u8; 20] = Sha1::digest(target.as_bytes()).into();
                if &got != want {
                    return Err(PackageError::FileChecksumMismatch {
                        package: self.name.clone(),
                        path,
                        expected: hex::encode(want),
                        actual: hex::encode(got),
                    });
                }
            }
            self.current = Some(Current {
                path: path.clone(),
                expected: if has_data { checksum } else { None },
                hasher: has_data.then(Sha1::new),
            });
            return Ok(Some(DataEntry {
                path,
                kind,
                mode: header.mode,
                uid: header.uid,
                gid: header.gid,
                uname: header.uname,
                gname: header.gname,
                mtime: header.mtime,
                size: if has_data { header.size } else { 0 },
                checksum,
                xattrs,
                data_offset: header.data_offset - data_start,
            }));
        }
    }

    /// Reads everything that is left, verifies the data segment and returns the digests.
    pub fn finish(mut self) -> Result<(Control, PackageDigests, W), PackageError> {
        while self.next_entry()?.is_some() {}
        self.finish_current()?;
        self.tar
            .drain()
            .map_err(|e| PackageError::format(&self.name, e))?;
        let tee = self.tar.into_inner();
        let segments = tee.inner.into_observer();
        let (signature_size, control_size, data_size) = (
            segments.signature_len,
            segments.control_len,
            segments.data_len,
        );
        let has_datahash = segments.has_datahash;
        let signature_sha1 = segments.signature_sha1;
        let (control, region, data_sha256) = segments.finish();
        let control = control.unwrap_or_else(|| region.clone());
        let (identity, signed) = if has_datahash {
            (Checksum::Sha1(control.sha1), control)
        } else {
            (Checksum::Sha1(region.sha1), region)
        };
        if let Some(expected) = self.control.info.datahash
            && expected != data_sha256
        {
            return Err(PackageError::DatahashMismatch {
                package: self.name,
                expected: hex::encode(expected),
                actual: hex::encode(data_sha256),
            });
        }
        Ok((
            self.control,
            PackageDigests {
                identity,
                signed,
                data_sha256,
                signature_size,
                signature_sha1,
                control_size,
                data_size,
            },
            tee.sink,
        ))
    }
}

impl<R: Read, W: Write> Read for PackageReader<R, W> {
    /// Reads the content of the current data entry (and hashes it for verification).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(cur) = self.current.as_mut() else {
            return Ok(0);
        };
        let Some(hasher) = cur.hasher.as_mut() else {
            return Ok(0);
        };
        let n = self.tar.read(buf)?;
        hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn read_all<R: Read>(tar: &mut TarReader<R>, size: u64) -> Result<Vec<u8>, TarError> {
    let mut data = Vec::with_capacity(size.min(1 << 20) as usize);
    tar.read_to_end(&mut data)?;
    Ok(data)
}

/// The checksum a tar entry carries: `APK-TOOLS.checksum.SHA1` (hex) or legacy MD5.
fn file_checksum(header: &TarHeader) -> Option<Checksum> {
    if let Some(v) = header.pax("APK-TOOLS.checksum.SHA1") {
        let text = std::str::from_utf8(v).ok()?.trim();
        if let Ok(raw) = hex::decode(text) {
            return raw.try_into().ok().map(Checksum::Sha1);
        }
        return text.parse().ok();
    }
    if let Some(v) = header.pax("APK-TOOLS.checksum.MD5") {
        let raw = hex::decode(std::str::from_utf8(v).ok()?.trim()).ok()?;
        return raw.try_into().ok().map(Checksum::Md5);
    }
    None
}

/// Verifies a package as `apk verify` does and returns the verdict: its own signature over
/// the control segment decides between trusted, untrusted and bad; a trusted package whose
/// data does not match its `datahash` or whose files do not match their checksums is bad too
/// (apk reports both as "BAD signature"). A malformed archive is an error.
pub fn verify_package<R: Read>(
    reader: R,
    name: &str,
    keyring: &Keyring,
    policy: SignaturePolicy,
    limits: &Limits,
) -> Result<Verdict, PackageError> {
    let pr = PackageReader::new(reader, name, limits)?;
    let signatures = pr.control().signatures.clone();
    let early = pr.control_digests();
    let result = pr.finish();
    let signed = match (&result, early) {
        (Ok((_, digests, _)), _) => digests.signed.clone(),
        (Err(_), Some(control)) => control,
        (Err(_), None) => return result.map(|_| Verdict::Untrusted),
    };
    let verdict = verify_signatures(&signatures, &signed, keyring, policy);
    match (verdict, result) {
        (
            Verdict::Trusted { key },
            Err(PackageError::DatahashMismatch { .. } | PackageError::FileChecksumMismatch { .. }),
        ) => Ok(Verdict::BadSignature { key }),
        (Verdict::Trusted { .. }, Err(e)) => Err(e),
        (verdict, _) => Ok(verdict),
    }
}
