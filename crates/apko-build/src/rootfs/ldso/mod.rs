//! `/etc/ld.so.cache` for glibc images: what `ldconfig` would write after installing packages
//! (apko emulates it too, apko-behaviour §3.8 step 10).
//!
//! Generated only when the image has `/etc/ld.so.conf`. The directories are those of
//! `ld.so.conf` (with `include` globs, each file read once), then `/lib`, as glibc's ldconfig
//! orders them, each scanned once even when reached by several names. Every `lib*.so*` / `ld-*.so*` that is (or links to) a shared object of the
//! image's architecture is entered under its file name when that name is its `DT_SONAME` or
//! the `.so` link name (`libfoo.so` for `libfoo.so.1`), as ldconfig does once its soname links
//! exist. Entries are sorted the way glibc's loader binary-searches them: descending by
//! `_dl_cache_libcmp` (digit runs compare as numbers), ties in directory order. The file is the
//! `glibc-ld.so.cache1.1` format, little endian, with a generator extension.
//!
//! Differences from apko: apko puts `/lib` first (so a library in a configured directory
//! cannot override it), sorts by plain byte order in the version this project tracks (glibc
//! then fails to find some libraries), stops reading `ld.so.conf` after the first `include`,
//! and aborts the build on an ELF file of another machine; here such files are skipped.

use super::{Rootfs, RootfsError};
use apko_config::Arch;
use apko_config::ImageConfig;
use apko_fs::{FsTree, Kind, Meta, NodeId};
use std::cmp::Ordering;

const MAGIC: &[u8; 17] = b"glibc-ld.so.cache";
const VERSION: &[u8; 3] = b"1.1";
const HEADER_LEN: usize = 48;
const ENTRY_LEN: usize = 24;
const FLAG_ELF_LIBC6: u32 = 0x0003;
const FLAG_X8664_LIB64: u32 = 0x0300;
const FLAG_AARCH64_LIB64: u32 = 0x0a00;
const ENDIAN_LITTLE: u8 = 2;
const EXTENSION_MAGIC: u32 = 0xeaa4_2174;
const TAG_GENERATOR: u32 = 0;
const GENERATOR: &[u8] = b"apko-rs";

const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// One cache entry: the name programs ask for and the file that answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) path: String,
    pub(crate) flags: u32,
}

/// What the image's architecture needs: ELF machine and cache flags. `None`: glibc images of
/// this architecture are not supported here (apko supports the same two).
fn arch_flags(arch: Arch) -> Option<(u16, u32)> {
    match arch {
        Arch::Amd64 => Some((EM_X86_64, FLAG_ELF_LIBC6 | FLAG_X8664_LIB64)),
        Arch::Arm64 => Some((EM_AARCH64, FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64)),
        _ => None,
    }
}

/// The rootfs step: `/etc/ld.so.cache`, warnings kept with the rootfs.
pub(crate) fn apply(r: &mut Rootfs, _: &ImageConfig) -> Result<(), RootfsError> {
    let mut warnings = Vec::new();
    generate(&mut r.tree, r.arch, &mut |w| warnings.push(w))?;
    r.warnings.append(&mut warnings);
    Ok(())
}

/// Writes `/etc/ld.so.cache` when `/etc/ld.so.conf` exists; returns the number of entries
/// (`None`: not generated). Warnings go to `warn`.
pub(crate) fn generate(
    fs: &mut FsTree,
    arch: Arch,
    warn: &mut dyn FnMut(String),
) -> Result<Option<usize>, RootfsError> {
    if !fs.exists("etc/ld.so.conf") {
        return Ok(None);
    }
    let Some((machine, flags)) = arch_flags(arch) else {
        warn(format!(
            "/etc/ld.so.conf exists but apko-rs generates /etc/ld.so.cache only for x86_64 and aarch64, not {}",
            arch.apk_name()
        ));
        return Ok(None);
    };
    // As glibc's ldconfig: the configured directories, then the system one.
    let mut dirs = Vec::new();
    let mut budget = ConfBudget::default();
    read_conf(fs, "/etc/ld.so.conf", &mut budget, &mut dirs, warn);
    if !dirs.iter().any(|d| d == "/lib") {
        dirs.push("/lib".to_owned());
    }
    let entries = entries(fs, &dirs, machine, flags, arch == Arch::Amd64);
    let bytes = encode(&entries);
    let id = fs
        .write_file_nofollow("etc/ld.so.cache", bytes, &Meta::root(0o644))
        .map_err(RootfsError::fs("writing /etc/ld.so.cache"))?;
    let node = fs.node_mut(id);
    node.meta.mode = 0o644;
    node.meta.mtime = 0;
    Ok(Some(entries.len()))
}

/// Limits on reading `ld.so.conf` and what it includes: every file is read once, and a
/// hostile configuration cannot make the build read without end.
#[derive(Default)]
struct ConfBudget {
    read: std::collections::BTreeSet<NodeId>,
    files: usize,
}

const MAX_CONF_FILES: usize = 1024;
const MAX_DIRS: usize = 4096;

/// Appends the directories of the configuration file `path` (absolute) to `dirs`.
fn read_conf(
    fs: &FsTree,
    path: &str,
    budget: &mut ConfBudget,
    dirs: &mut Vec<String>,
    warn: &mut dyn FnMut(String),
) {
    let Ok(id) = fs.resolve(path.trim_start_matches('/'), true) else {
        return;
    };
    if !budget.read.insert(id) {
        return; // already read (an include loop, or the same file twice)
    }
    budget.files += 1;
    if budget.files > MAX_CONF_FILES {
        if budget.files == MAX_CONF_FILES + 1 {
            warn(format!(
                "{path}: more than {MAX_CONF_FILES} ld.so.conf files; the rest are ignored"
            ));
        }
        return;
    }
    let Ok(text) = fs.read(id, path) else {
        return;
    };
    let text = String::from_utf8_lossy(&text);
    let conf_dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line
            .strip_prefix("include")
            .filter(|r| r.starts_with([' ', '\t']))
        {
            for pattern in rest.split_whitespace() {
                let pattern = if pattern.starts_with('/') {
                    pattern.to_owned()
                } else {
                    format!("{conf_dir}/{pattern}")
                };
                for file in glob(fs, &pattern) {
                    read_conf(fs, &file, budget, dirs, warn);
                }
            }
        } else if line
            .strip_prefix("hwcap")
            .is_some_and(|r| r.starts_with([' ', '\t']))
        {
            // Legacy hwcap lines are ignored by current ldconfig too.
        } else {
            // `dir=TYPE` (an old libc5 notation) names the directory before the `=`.
            let dir = line.split('=').next().unwrap_or(line).trim();
            let dir = dir.trim_end_matches('/');
            let dir = if dir.is_empty() { "/" } else { dir };
            if dir.starts_with('/') && !dirs.iter().any(|d| d == dir) && dirs.len() < MAX_DIRS {
                dirs.push(dir.to_owned());
            }
        }
    }
}

/// Absolute paths of the image matching `pattern` (`*`, `?` within one component), sorted.
fn glob(fs: &FsTree, pattern: &str) -> Vec<String> {
    let mut found = vec![String::new()];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let mut next = Vec::new();
        for base in &found {
            if !part.contains(['*', '?']) {
                let p = format!("{base}/{part}");
                if fs.exists(p.trim_start_matches('/')) {
                    next.push(p);
                }
                continue;
            }
            let dir = if base.is_empty() { "" } else { &base[1..] };
            let Ok(id) = fs.resolve(dir, true) else {
                continue;
            };
            if let Kind::Dir(children) = &fs.node(id).kind {
                for name in children.keys() {
                    if !name.starts_with('.') && wildcard(part.as_bytes(), name.as_bytes()) {
                        next.push(format!("{base}/{name}"));
                    }
                }
            }
        }
        found = next;
    }
    found.retain(|p| !p.is_empty());
    found.sort();
    found
}

/// Shell wildcard match of `*` and `?` (greedy with one backtrack point: no exponential
/// blow-up on patterns like `*****b`).
fn wildcard(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// `lib*.so*` or `ld-*.so*`, as ldconfig scans; returns the link name (`libfoo.so`).
fn link_name(file: &str) -> Option<&str> {
    if !file.starts_with("lib") && !file.starts_with("ld-") {
        return None;
    }
    if file.ends_with(".so") {
        return Some(file);
    }
    let i = file.rfind(".so.")?;
    (i > 0).then(|| &file[..i + 3])
}

/// The cache entries of `dirs`; `signed_char`: whether the target's `char` is signed (x86),
/// which decides how glibc's loader compares names.
fn entries(
    fs: &FsTree,
    dirs: &[String],
    machine: u16,
    flags: u32,
    signed_char: bool,
) -> Vec<Entry> {
    let mut seen: Vec<NodeId> = Vec::new();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(id) = fs.resolve(dir.trim_start_matches('/'), true) else {
            continue;
        };
        let Kind::Dir(children) = &fs.node(id).kind else {
            continue;
        };
        if seen.contains(&id) {
            continue; // the same directory under another name (`/lib -> usr/lib`)
        }
        seen.push(id);
        for (name, &child) in children {
            let Some(link) = link_name(name) else {
                continue;
            };
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            let target = match &fs.node(child).kind {
                Kind::File(_) => child,
                Kind::Symlink(_) => match fs.resolve(path.trim_start_matches('/'), true) {
                    Ok(t) if matches!(fs.node(t).kind, Kind::File(_)) => t,
                    _ => continue,
                },
                _ => continue,
            };
            let Some(elf) = read_elf(fs, target, &path) else {
                continue;
            };
            if elf.machine != machine || !elf.class64 {
                tracing::debug!("{path}: not a shared object of this architecture; skipped");
                continue;
            }
            let soname = elf.soname.unwrap_or_else(|| name.clone());
            let matches =
                soname == *name || link_name(&soname).is_some_and(|l| l == link && name == link);
            if matches {
                out.push(Entry {
                    key: name.clone(),
                    path,
                    flags,
                });
            }
        }
    }
    // Stable: equal names keep directory order (the first directory wins at lookup).
    out.sort_by(|a, b| {
        libcmp(b.key.as_bytes(), a.key.as_bytes(), signed_char).then(b.flags.cmp(&a.flags))
    });
    out
}

/// glibc's `_dl_cache_libcmp`: byte order, except that runs of digits compare as numbers.
/// Bytes compare as C `char`s: signed on x86, unsigned on arm64 (it matters for non-ASCII
/// names only).
pub(crate) fn libcmp(a: &[u8], b: &[u8], signed_char: bool) -> Ordering {
    let ch = |c: u8| -> i16 {
        if signed_char {
            i16::from(c.cast_signed())
        } else {
            i16::from(c)
        }
    };
    let (mut i, mut j) = (0, 0);
    while i < a.len() {
        let (x, y) = (a[i], b.get(j).copied().unwrap_or(0));
        if x.is_ascii_digit() {
            if !y.is_ascii_digit() {
                return Ordering::Greater;
            }
            let (mut v1, mut v2) = (0u64, 0u64);
            while i < a.len() && a[i].is_ascii_digit() {
                v1 = v1.saturating_mul(10).saturating_add(u64::from(a[i] - b'0'));
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                v2 = v2.saturating_mul(10).saturating_add(u64::from(b[j] - b'0'));
                j += 1;
            }
            if v1 != v2 {
                return v1.cmp(&v2);
            }
        } else if y.is_ascii_digit() {
            return Ordering::Less;
        } else if x != y {
            return ch(x).cmp(&ch(y));
        } else {
            i += 1;
            j += 1;
        }
    }
    if j < b.len() {
        // `*p1 - *p2` with *p1 == 0: the sign of the other byte decides.
        0.cmp(&ch(b[j]))
    } else {
        Ordering::Equal
    }
}

/// What the cache needs from an ELF file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ElfInfo {
    pub(crate) machine: u16,
    pub(crate) class64: bool,
    pub(crate) soname: Option<String>,
}

/// Reads the header, program headers and dynamic section of a shared object (`ET_DYN`);
/// `None` for anything else or anything malformed. Only the needed ranges are read.
fn read_elf(fs: &FsTree, id: NodeId, path: &str) -> Option<ElfInfo> {
    parse_elf(&mut |offset, len| fs.read_at(id, offset, len, path).ok())
}

/// [`read_elf`] over any random-access reader (`read(offset, len)`).
pub(crate) fn parse_elf(read: &mut dyn FnMut(u64, u64) -> Option<Vec<u8>>) -> Option<ElfInfo> {
    let h = read(0, 64)?;
    if h.len() < 52 || &h[..4] != b"\x7fELF" {
        return None;
    }
    let class64 = match h[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let le = match h[5] {
        1 => true,
        2 => false,
        _ => return None,
    };
    let u16_at = |b: &[u8], o: usize| -> Option<u16> {
        let s: [u8; 2] = b.get(o..o + 2)?.try_into().ok()?;
        Some(if le {
            u16::from_le_bytes(s)
        } else {
            u16::from_be_bytes(s)
        })
    };
    let u32_at = |b: &[u8], o: usize| -> Option<u32> {
        let s: [u8; 4] = b.get(o..o + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(s)
        } else {
            u32::from_be_bytes(s)
        })
    };
    let u64_at = |b: &[u8], o: usize| -> Option<u64> {
        let s: [u8; 8] = b.get(o..o + 8)?.try_into().ok()?;
        Some(if le {
            u64::from_le_bytes(s)
        } else {
            u64::from_be_bytes(s)
        })
    };
    // Address-sized fields.
    let word = |b: &[u8], o: usize| -> Option<u64> {
        if class64 {
            u64_at(b, o)
        } else {
            u32_at(b, o).map(u64::from)
        }
    };
    const ET_DYN: u16 = 3;
    if u16_at(&h, 16)? != ET_DYN {
        return None;
    }
    let machine = u16_at(&h, 18)?;
    let (phoff, phentsize, phnum) = if class64 {
        (u64_at(&h, 32)?, u16_at(&h, 54)?, u16_at(&h, 56)?)
    } else {
        (u64::from(u32_at(&h, 28)?), u16_at(&h, 42)?, u16_at(&h, 44)?)
    };
    let min_ph = if class64 { 56 } else { 32 };
    if usize::from(phentsize) < min_ph || phnum == 0 || phnum > 4096 {
        return None;
    }
    let table = read(phoff, u64::from(phentsize) * u64::from(phnum))?;
    // (offset, vaddr, filesz) of PT_LOAD segments, and the PT_DYNAMIC segment.
    let mut loads = Vec::new();
    let mut dynamic = None;
    for i in 0..usize::from(phnum) {
        let p = table.get(i * usize::from(phentsize)..(i + 1) * usize::from(phentsize))?;
        let kind = u32_at(p, 0)?;
        let (offset, vaddr, filesz) = if class64 {
            (u64_at(p, 8)?, u64_at(p, 16)?, u64_at(p, 32)?)
        } else {
            (
                u64::from(u32_at(p, 4)?),
                u64::from(u32_at(p, 8)?),
                u64::from(u32_at(p, 16)?),
            )
        };
        match kind {
            1 => loads.push((offset, vaddr, filesz)),
            2 => dynamic = Some((offset, filesz)),
            _ => {}
        }
    }
    let soname = (|| {
        let (offset, size) = dynamic?;
        let dynamic = read(offset, size.min(1 << 20))?;
        let entry = if class64 { 16 } else { 8 };
        let (mut strtab, mut soname) = (None, None);
        for e in dynamic.chunks_exact(entry) {
            let tag = word(e, 0)?;
            let val = word(e, entry / 2)?;
            match tag {
                0 => break,
                5 => strtab = Some(val),
                14 => soname = Some(val),
                _ => {}
            }
        }
        let (strtab, soname) = (strtab?, soname?);
        let addr = strtab.checked_add(soname)?;
        let file_offset = loads.iter().find_map(|&(off, vaddr, filesz)| {
            (addr >= vaddr && addr < vaddr.checked_add(filesz)?).then(|| addr - vaddr + off)
        })?;
        let bytes = read(file_offset, 4096)?;
        let end = bytes.iter().position(|&b| b == 0)?;
        String::from_utf8(bytes[..end].to_vec()).ok()
    })();
    Some(ElfInfo {
        machine,
        class64,
        soname,
    })
}

/// The cache file: header, entries, string table, then the generator extension.
pub(crate) fn encode(entries: &[Entry]) -> Vec<u8> {
    let strings_start = HEADER_LEN + ENTRY_LEN * entries.len();
    let mut strings = Vec::new();
    let mut records = Vec::with_capacity(entries.len() * ENTRY_LEN);
    for e in entries {
        // One string per path; the key points at its file name, as ldconfig shares them.
        let value = strings_start + strings.len();
        let key = value + e.path.len() - e.key.len();
        strings.extend_from_slice(e.path.as_bytes());
        strings.push(0);
        records.extend_from_slice(&e.flags.to_le_bytes());
        records.extend_from_slice(&u32::try_from(key).unwrap_or(u32::MAX).to_le_bytes());
        records.extend_from_slice(&u32::try_from(value).unwrap_or(u32::MAX).to_le_bytes());
        records.extend_from_slice(&0u32.to_le_bytes()); // osversion (unused)
        records.extend_from_slice(&0u64.to_le_bytes()); // hwcap
    }
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(VERSION);
    let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX).to_le_bytes();
    out.extend_from_slice(&n(entries.len()));
    out.extend_from_slice(&n(strings.len()));
    out.push(ENDIAN_LITTLE);
    out.extend_from_slice(&[0; 3]);
    let ext_offset = (strings_start + strings.len()).next_multiple_of(4);
    out.extend_from_slice(&n(ext_offset));
    out.extend_from_slice(&[0; 12]);
    debug_assert_eq!(out.len(), HEADER_LEN);
    out.extend_from_slice(&records);
    out.extend_from_slice(&strings);
    out.resize(ext_offset, 0);
    // Extension directory: magic, count, one section (tag, flags, offset, size), its data.
    let data_offset = ext_offset + 8 + 16;
    out.extend_from_slice(&EXTENSION_MAGIC.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    out.extend_from_slice(&TAG_GENERATOR.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&n(data_offset));
    out.extend_from_slice(&n(GENERATOR.len()));
    out.extend_from_slice(GENERATOR);
    out
}

#[cfg(test)]
mod tests;
