//! The installed database: `lib/apk/db/installed`, `scripts.tar` and `triggers`, in the
//! format apk-tools 2.x reads and writes.

use crate::checksum::Checksum;
use crate::dependency::Dependency;
use crate::index::text::{INSTALLED_ONLY, RecordBuilder};
use crate::index::{IndexError, write_record};
use crate::info::PackageInfo;
use crate::name::PackageName;
use crate::package::{ControlFile, DataEntry, DataKind};
use crate::tar::{TarBuilder, TarEntryBuilder};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Owner, mode and extended-attribute checksum of a directory (`M:`) or file (`a:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acl {
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: u32,
    /// SHA-1 over the extended attributes, when there are any.
    pub xattrs: Option<Checksum>,
}

impl Acl {
    /// `root:root` with `mode` and no xattrs.
    pub fn root(mode: u32) -> Self {
        Acl {
            uid: 0,
            gid: 0,
            mode,
            xattrs: None,
        }
    }

    fn parse(value: &str) -> Option<Self> {
        let mut it = value.splitn(4, ':');
        let uid = it.next()?.parse().ok()?;
        let gid = it.next()?.parse().ok()?;
        let mode = u32::from_str_radix(it.next()?, 8).ok()?;
        let xattrs = match it.next() {
            Some(x) => Some(x.parse().ok()?),
            None => None,
        };
        Some(Acl {
            uid,
            gid,
            mode,
            xattrs,
        })
    }

    fn write(&self) -> String {
        let mut s = format!("{}:{}:{:o}", self.uid, self.gid, self.mode);
        if let Some(x) = &self.xattrs {
            let _ = write!(s, ":{x}");
        }
        s
    }
}

/// A non-directory entry owned by a package (`R:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledFile {
    /// Base name within its directory.
    pub name: String,
    /// Owner and mode (`a:`); `root:root 0644` when not written.
    pub acl: Acl,
    /// `Z:`: content checksum (target string for symlinks; absent for devices).
    pub checksum: Option<Checksum>,
}

/// A directory listed by a package (`F:`) with the files it owns there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledDir {
    /// Path relative to the root without leading or trailing `/`; empty for the root itself.
    pub path: String,
    /// Owner and mode (`M:`); `root:root 0755` when not written.
    pub acl: Acl,
    /// The files, in installation order.
    pub files: Vec<InstalledFile>,
}

/// One package record of the installed database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    /// Index fields (`C P V A S I T U L o m t c k D p i`) and `r:`/`q:`.
    pub info: PackageInfo,
    /// `s:`: the repository tag the package was installed from (without `@`).
    pub repository_tag: Option<String>,
    /// `f:`: repair flags (`f` files broken, `s` script failed, `x` xattrs failed).
    pub flags: String,
    /// Directories and files, in order.
    pub dirs: Vec<InstalledDir>,
}

impl InstalledPackage {
    /// A record with no files.
    pub fn new(info: PackageInfo) -> Self {
        InstalledPackage {
            info,
            repository_tag: None,
            flags: String::new(),
            dirs: Vec::new(),
        }
    }

    /// Builds the file list from a package's data entries as apk does: every directory entry
    /// and the parent of every file is listed once, in order of first appearance; files keep
    /// the mode of their own tar header and the given owner (the numeric uid/gid on the target
    /// system). Files named `.keep_*` are not recorded.
    pub fn with_entries<'a>(
        mut self,
        entries: impl IntoIterator<Item = (&'a DataEntry, (u32, u32))>,
    ) -> Self {
        let mut index: BTreeMap<String, usize> = BTreeMap::new();
        let mut dir_of = |dirs: &mut Vec<InstalledDir>, path: &str| -> usize {
            *index.entry(path.to_owned()).or_insert_with(|| {
                dirs.push(InstalledDir {
                    path: path.to_owned(),
                    acl: Acl::root(0o755),
                    files: Vec::new(),
                });
                dirs.len() - 1
            })
        };
        for (e, (uid, gid)) in entries {
            if e.kind == DataKind::Directory {
                let i = dir_of(&mut self.dirs, &e.path);
                self.dirs[i].acl = Acl {
                    uid,
                    gid,
                    mode: e.mode,
                    xattrs: xattr_checksum(&e.xattrs),
                };
                continue;
            }
            if e.is_keep_placeholder() {
                continue;
            }
            let (parent, base) = e.path.rsplit_once('/').unwrap_or(("", &e.path));
            let i = dir_of(&mut self.dirs, parent);
            let checksum = match &e.kind {
                DataKind::CharDevice(..) | DataKind::BlockDevice(..) | DataKind::Fifo => None,
                _ => e.checksum,
            };
            self.dirs[i].files.push(InstalledFile {
                name: base.to_owned(),
                acl: Acl {
                    uid,
                    gid,
                    mode: e.mode,
                    xattrs: xattr_checksum(&e.xattrs),
                },
                checksum,
            });
        }
        self
    }

    /// Removes a file from the record (another package took it over).
    pub fn remove_file(&mut self, path: &str) -> bool {
        let (parent, base) = path.rsplit_once('/').unwrap_or(("", path));
        for d in &mut self.dirs {
            if d.path == parent
                && let Some(i) = d.files.iter().position(|f| f.name == base)
            {
                d.files.remove(i);
                return true;
            }
        }
        false
    }

    /// Every file path the record lists.
    pub fn file_paths(&self) -> impl Iterator<Item = String> + '_ {
        self.dirs.iter().flat_map(|d| {
            d.files.iter().map(move |f| {
                if d.path.is_empty() {
                    f.name.clone()
                } else {
                    format!("{}/{}", d.path, f.name)
                }
            })
        })
    }
}

/// SHA-1 over xattrs sorted by name, each name and value prefixed by its 32-bit big-endian
/// length (apk's xattr checksum); `None` when there are none.
pub fn xattr_checksum(xattrs: &[(String, Vec<u8>)]) -> Option<Checksum> {
    use sha1::{Digest, Sha1};
    if xattrs.is_empty() {
        return None;
    }
    let mut sorted: Vec<_> = xattrs.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha1::new();
    for (k, v) in sorted {
        h.update((k.len() as u32).to_be_bytes());
        h.update(k.as_bytes());
        h.update((v.len() as u32).to_be_bytes());
        h.update(v);
    }
    Some(Checksum::Sha1(h.finalize().into()))
}

/// The installed database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstalledDb {
    /// The records, in file order.
    pub packages: Vec<InstalledPackage>,
}

/// An installed-database line that apk would refuse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstalledDbError {
    /// An index field is invalid.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// An installed-database field is invalid or out of place.
    #[error("{source_name} line {line}: {reason}")]
    Field {
        /// The file.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Go apko writes `i:[]` and `i:[a b]` (a Go slice printed with `%v`); accept both.
fn strip_go_brackets(value: &str) -> &str {
    value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value)
}

impl InstalledDb {
    /// Parses `lib/apk/db/installed`. `source` names the file in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, InstalledDbError> {
        let mut packages = Vec::new();
        let mut rec: Option<(RecordBuilder, InstalledPackage)> = None;
        let field_err = |line: usize, reason: String| InstalledDbError::Field {
            source_name: source.to_owned(),
            line,
            reason,
        };
        let mut last = 0;
        // Lines end at `\n` only, as apk reads them: a `\r` is part of the value.
        for (i, line) in text.split('\n').enumerate() {
            let lineno = i + 1;
            last = lineno;
            if line.is_empty() {
                if let Some((b, mut p)) = rec.take() {
                    p.info = b.finish(source, lineno - 1)?;
                    packages.push(p);
                }
                continue;
            }
            let bytes = line.as_bytes();
            if bytes.len() < 2 || bytes[1] != b':' {
                return Err(field_err(
                    lineno,
                    format!("expected `X:value`, found `{line}`"),
                ));
            }
            let field = bytes[0] as char;
            let mut value = &line[2..];
            let (b, p) = rec.get_or_insert_with(|| {
                (
                    RecordBuilder::new(),
                    InstalledPackage::new(PackageInfo::new(
                        "placeholder".parse().expect("valid"),
                        "0".parse().expect("valid"),
                    )),
                )
            });
            if field == 'i' {
                value = strip_go_brackets(value);
            }
            if b.apply(source, lineno, field, value)? {
                continue;
            }
            match field {
                'r' => {
                    b.info.replaces = value
                        .split_ascii_whitespace()
                        .filter_map(|d| d.parse::<Dependency>().ok())
                        .collect();
                }
                'q' => {
                    b.info.replaces_priority =
                        Some(value.parse().map_err(|_| {
                            field_err(lineno, format!("invalid `q:` value `{value}`"))
                        })?);
                }
                's' => p.repository_tag = Some(value.to_owned()),
                'f' => p.flags = value.to_owned(),
                'F' => p.dirs.push(InstalledDir {
                    path: value.to_owned(),
                    acl: Acl::root(0o755),
                    files: Vec::new(),
                }),
                'M' => {
                    let acl = Acl::parse(value).ok_or_else(|| {
                        field_err(lineno, format!("invalid `M:` value `{value}`"))
                    })?;
                    let dir = p
                        .dirs
                        .last_mut()
                        .ok_or_else(|| field_err(lineno, "`M:` before any `F:`".to_owned()))?;
                    dir.acl = acl;
                }
                'R' => {
                    let dir = p
                        .dirs
                        .last_mut()
                        .ok_or_else(|| field_err(lineno, "`R:` before any `F:`".to_owned()))?;
                    dir.files.push(InstalledFile {
                        name: value.to_owned(),
                        acl: Acl::root(0o644),
                        checksum: None,
                    });
                }
                'a' | 'Z' => {
                    let file = p
                        .dirs
                        .last_mut()
                        .and_then(|d| d.files.last_mut())
                        .ok_or_else(|| field_err(lineno, format!("`{field}:` before any `R:`")))?;
                    if field == 'a' {
                        file.acl = Acl::parse(value).ok_or_else(|| {
                            field_err(lineno, format!("invalid `a:` value `{value}`"))
                        })?;
                    } else {
                        file.checksum = Some(value.parse().map_err(|_| {
                            field_err(lineno, format!("invalid `Z:` value `{value}`"))
                        })?);
                    }
                }
                c if c.is_ascii_uppercase() && !INSTALLED_ONLY.contains(c) => {
                    return Err(field_err(
                        lineno,
                        format!("unknown field `{c}:` (written by a newer apk?)"),
                    ));
                }
                _ => {}
            }
        }
        if let Some((b, mut p)) = rec.take() {
            p.info = b.finish(source, last)?;
            packages.push(p);
        }
        Ok(InstalledDb { packages })
    }

    /// Writes the database as apk-tools 2.x does: records sorted by name (case-insensitive,
    /// then case-sensitive, then version), index fields, `r: q: s: f:`, then the file list.
    pub fn write(&self) -> String {
        let mut sorted: Vec<&InstalledPackage> = self.packages.iter().collect();
        sorted.sort_by(|a, b| {
            PackageName::apk_cmp(a.info.name.as_str(), b.info.name.as_str())
                .then_with(|| a.info.version.cmp(&b.info.version))
        });
        let mut out = String::new();
        for p in sorted {
            write_record(&mut out, &p.info);
            let mut line = |k: char, v: &str| {
                let _ = writeln!(out, "{k}:{v}");
            };
            if !p.info.replaces.is_empty() {
                let r: Vec<String> = p.info.replaces.iter().map(ToString::to_string).collect();
                line('r', &r.join(" "));
            }
            if let Some(q) = p.info.replaces_priority.filter(|&q| q != 0) {
                line('q', &q.to_string());
            }
            if let Some(s) = &p.repository_tag {
                line('s', s);
            }
            if !p.flags.is_empty() {
                line('f', &p.flags);
            }
            for d in &p.dirs {
                line('F', &d.path);
                if d.acl != Acl::root(0o755) {
                    line('M', &d.acl.write());
                }
                for f in &d.files {
                    line('R', &f.name);
                    if f.acl != Acl::root(0o644) {
                        line('a', &f.acl.write());
                    }
                    if let Some(z) = &f.checksum {
                        line('Z', &z.to_string());
                    }
                }
            }
            out.push('\n');
        }
        out
    }
}

/// Writes `lib/apk/db/scripts.tar`: one entry per install script, named
/// `<name>-<version>.<Q1 identity>.<type>`, mode 0755, owner root, mtime = build time.
/// `packages` gives, in install order, each package's metadata and control files.
pub fn write_scripts_tar<'a>(
    packages: impl IntoIterator<Item = (&'a PackageInfo, &'a [ControlFile])>,
) -> Vec<u8> {
    let mut tar = TarBuilder::new(Vec::new());
    for (info, files) in packages {
        let id = info.checksum.map(|c| c.to_string()).unwrap_or_default();
        for f in files.iter().filter(|f| f.script_type().is_some()) {
            let name = format!("{}-{}.{id}{}", info.name, info.version, f.name);
            let entry = TarEntryBuilder::file(&name, 0o755, f.data.len() as u64)
                .owner(0, 0, "root", "root")
                .mtime(info.build_time.unwrap_or(0));
            tar.append_data(&entry, &f.data).expect("writing to memory");
        }
    }
    tar.finish().expect("writing to memory")
}

/// Writes `lib/apk/db/triggers`: `<Q1 identity> <glob> <glob>…` per package with triggers.
pub fn write_triggers<'a>(packages: impl IntoIterator<Item = &'a PackageInfo>) -> String {
    let mut out = String::new();
    for p in packages {
        if p.triggers.is_empty() {
            continue;
        }
        let id = p.checksum.map(|c| c.to_string()).unwrap_or_default();
        let _ = writeln!(out, "{id} {}", p.triggers.join(" "));
    }
    out
}

#[cfg(test)]
mod tests;
