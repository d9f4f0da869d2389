//! The download cache, in apko's layout (see docs/cache.md), so that a cache filled by apko (or
//! prepared for it, as rules_apko does) serves apko-rs and the other way round.
//!
//! ```text
//! <root>/<QueryEscape(scheme://host[:port]/<repository path>)>/<arch>/
//!     APKINDEX/<base32(etag)>.tar.gz          an index, named by its entity tag
//!     <name>-<version>.apk                    a package as downloaded
//!     <name>-<version>/<control sha1>.ctl.tar.gz, .sig.tar.gz, <datahash>.dat.tar.gz
//!                                             a package as apko expands it (read only)
//!     <key>.rsa.pub/<base32(etag)>.etag       a key, or any other file, named by its entity tag
//! ```
//!
//! apko never deletes old index or key versions and, offline, takes the newest file of the
//! directory whatever its name; so do we. An entry without an entity tag is named `latest`.

use super::FetchError;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A download cache shared between builds (and with apko).
///
/// Files are written to a temporary name (starting with `.`, which readers skip) in their
/// final directory and renamed into place, so a reader never sees a partial file and two builds
/// filling the same entry at once both leave a complete copy. Credentials are never part of a
/// cache path (apko puts the URL's user information in the directory name).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// How a URL is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `APKINDEX.tar.gz`: versions in `APKINDEX/`, named `<etag>.tar.gz`.
    Index,
    /// `*.apk`: one file.
    Package,
    /// Anything else (keys): versions in a directory named after the file, named `<etag>.etag`.
    Versioned,
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Go's escaping of a URL path (`EscapedPath` when the raw path no longer applies).
fn path_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'~'
                    | b'$'
                    | b'&'
                    | b'+'
                    | b','
                    | b'/'
                    | b':'
                    | b';'
                    | b'='
                    | b'@'
            )
        {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Percent-decoding (Go's `url.Path` is the decoded path); invalid escapes are kept as they are.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_digit(b[i + 1]), hex_digit(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Go's `path.Clean`-based `Dir` and `Base` of a slash path.
fn split_dir(p: &str) -> (String, String) {
    let trimmed = p.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => ("/".to_owned(), trimmed[1..].to_owned()),
        Some(i) => (trimmed[..i].to_owned(), trimmed[i + 1..].to_owned()),
        None => (".".to_owned(), trimmed.to_owned()),
    }
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 with padding (Go's `base32.StdEncoding`).
fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    for chunk in data.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let v = buf.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..8 {
            if i < chars {
                out.push(B32[((v >> (35 - i * 5)) & 31) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(8) {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() / 8 * 5);
    for chunk in s.as_bytes().chunks(8) {
        let data = chunk.iter().take_while(|&&c| c != b'=').count();
        if chunk[data..].iter().any(|&c| c != b'=') {
            return None;
        }
        let bytes = match data {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => return None,
        };
        let mut v = 0u64;
        for (i, &c) in chunk.iter().enumerate() {
            let d = if i < data {
                B32.iter().position(|&x| x == c)? as u64
            } else {
                0
            };
            v = (v << 5) | d;
        }
        for i in 0..bytes {
            out.push((v >> (32 - i * 8)) as u8);
        }
    }
    Some(out)
}

/// The file-name form of an entity tag (apko's `etagFromResponse`: quotes trimmed, base32).
fn etag_name(etag: &str) -> String {
    base32_encode(etag.trim_matches('"').as_bytes())
}

/// The entity tag back from a file name; `None` for names that are not one.
fn etag_from_name(stem: &str) -> Option<String> {
    let raw = String::from_utf8(base32_decode(stem)?).ok()?;
    Some(if raw.starts_with("W/") {
        if raw.ends_with('"') {
            raw
        } else {
            format!("{raw}\"")
        }
    } else {
        format!("\"{raw}\"")
    })
}

fn is_usable_etag(tag: &str) -> bool {
    !tag.is_empty() && tag.len() <= 1024 && tag.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
}

/// Where a URL lives: the directory of its kind of entry and the file name.
struct Location {
    kind: Kind,
    /// `<root>/<escaped repository>/<arch>`.
    dir: PathBuf,
    /// The (decoded) file name.
    file: String,
    /// The file name as the URL spells it, when that differs (rules_apko writes keys that way).
    raw_file: String,
}

impl Location {
    /// The directory holding the versions of an index or a key.
    fn versions(&self) -> PathBuf {
        match self.kind {
            Kind::Index => self.dir.join("APKINDEX"),
            Kind::Package | Kind::Versioned => self.dir.join(&self.file),
        }
    }

    fn extension(&self) -> &'static str {
        match self.kind {
            Kind::Index => ".tar.gz",
            Kind::Package | Kind::Versioned => ".etag",
        }
    }
}

impl Cache {
    /// A cache rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn locate(&self, url: &str) -> Location {
        let (scheme, rest) = url.split_once("://").unwrap_or(("file", url));
        let rest = rest.split(['?', '#']).next().unwrap_or(rest);
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let raw_path = &rest[authority_end..];
        let path = percent_decode(raw_path);
        let (dir, file) = split_dir(&path);
        let (repo, arch) = split_dir(&dir);
        let (_, raw_file) = split_dir(raw_path);
        let prefix = query_escape(&format!(
            "{}://{host}{}",
            scheme.to_ascii_lowercase(),
            path_escape(if repo == "." { "" } else { &repo })
        ));
        let kind = if file.ends_with("APKINDEX.tar.gz") {
            Kind::Index
        } else if file.ends_with(".apk") {
            Kind::Package
        } else {
            Kind::Versioned
        };
        // Components are single path segments: `..` and empty names cannot escape the root.
        let safe = |s: &str| {
            if s.is_empty() || s == "." || s == ".." {
                query_escape(&format!("_{s}"))
            } else {
                s.replace(['/', '\\'], "_")
            }
        };
        Location {
            kind,
            dir: self.root.join(safe(&prefix)).join(safe(&arch)),
            file: safe(&file),
            raw_file: safe(&raw_file),
        }
    }

    /// Where `url` is (or would be) cached: the file of a package, the newest version of an
    /// index or key (or where a version without entity tag goes).
    pub fn path_for(&self, url: &str) -> PathBuf {
        let loc = self.locate(url);
        match loc.kind {
            Kind::Package => loc.dir.join(&loc.file),
            Kind::Index | Kind::Versioned => newest(&loc.versions())
                .unwrap_or_else(|| loc.versions().join(format!("latest{}", loc.extension()))),
        }
    }

    /// The cached copy of `url`, if there is one: for indexes and keys the newest version, as
    /// apko takes it.
    pub fn get(&self, url: &str) -> Option<PathBuf> {
        let loc = self.locate(url);
        match loc.kind {
            Kind::Package => {
                let p = loc.dir.join(&loc.file);
                p.is_file().then_some(p)
            }
            Kind::Index => newest(&loc.versions()),
            Kind::Versioned => newest(&loc.versions()).or_else(|| {
                // rules_apko names the key directory (and file) as the URL spells it.
                (loc.raw_file != loc.file)
                    .then(|| newest(&loc.dir.join(&loc.raw_file)))
                    .flatten()
            }),
        }
    }

    /// The parts of a package that apko keeps expanded instead of the `.apk` (signature,
    /// control and data segments, in file order); concatenated they are the package.
    pub fn expanded_parts(&self, url: &str) -> Option<Vec<PathBuf>> {
        let loc = self.locate(url);
        if loc.kind != Kind::Package {
            return None;
        }
        let dir = loc.dir.join(loc.file.strip_suffix(".apk")?);
        let mut ctl = Vec::new();
        let mut dat = Vec::new();
        for e in fs_err::read_dir(&dir).ok()?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(h) = name.strip_suffix(".ctl.tar.gz") {
                ctl.push(h.to_owned());
            } else if name.ends_with(".dat.tar.gz") {
                dat.push(e.path());
            }
        }
        let ([ctl], [dat]) = (ctl.as_slice(), dat.as_slice()) else {
            return None;
        };
        let mut parts = Vec::new();
        let sig = dir.join(format!("{ctl}.sig.tar.gz"));
        if sig.is_file() {
            parts.push(sig);
        }
        parts.push(dir.join(format!("{ctl}.ctl.tar.gz")));
        parts.push(dat.clone());
        parts.iter().all(|p| p.is_file()).then_some(parts)
    }

    /// The entity tag of the cached copy (from its file name). Cache metadata is untrusted: a
    /// tag that could not be sent back as a header (control characters such as CR LF,
    /// non-ASCII, over 1 KiB) is ignored, and the file is fetched in full instead.
    pub fn etag(&self, url: &str) -> Option<String> {
        let loc = self.locate(url);
        if loc.kind == Kind::Package {
            return None;
        }
        let path = self.get(url)?;
        let name = path.file_name()?.to_str()?;
        let tag = etag_from_name(name.strip_suffix(loc.extension())?)?;
        let usable = is_usable_etag(&tag);
        if !usable {
            tracing::debug!("{url}: ignoring an unusable cached entity tag");
        }
        usable.then_some(tag)
    }

    fn target(&self, url: &str, etag: Option<&str>) -> PathBuf {
        let loc = self.locate(url);
        match loc.kind {
            Kind::Package => loc.dir.join(&loc.file),
            Kind::Index | Kind::Versioned => {
                let stem = etag
                    .filter(|t| is_usable_etag(t))
                    .map_or_else(|| "latest".to_owned(), etag_name);
                loc.versions().join(format!("{stem}{}", loc.extension()))
            }
        }
    }

    /// A temporary file next to where `url` is cached, to download into: committing it is a
    /// rename, not a copy.
    pub(crate) fn spool(&self, url: &str) -> Result<tempfile::NamedTempFile, FetchError> {
        let path = self.target(url, None);
        let dir = path.parent().expect("cache paths have a parent");
        let cache_err = |source: io::Error| FetchError::Cache {
            path: path.display().to_string(),
            source,
        };
        fs_err::create_dir_all(dir).map_err(cache_err)?;
        tempfile::NamedTempFile::new_in(dir).map_err(cache_err)
    }

    /// Makes a complete download (from [`Cache::spool`]) the cached copy of `url`, atomically,
    /// named by its entity tag.
    pub(crate) fn commit(
        &self,
        url: &str,
        etag: Option<&str>,
        tmp: tempfile::NamedTempFile,
    ) -> Result<PathBuf, FetchError> {
        let path = self.target(url, etag);
        let cache_err = |source: io::Error| FetchError::Cache {
            path: path.display().to_string(),
            source,
        };
        // No fsync: a cached copy is verified on use (size, signatures, checksums) and fetched
        // again when a crash left it torn (docs/cache.md).
        tmp.persist(&path).map_err(|e| cache_err(e.error))?;
        Ok(path)
    }

    /// Stores `url`: `fill` writes the content into a temporary file that replaces the cached
    /// copy only when complete.
    pub fn store(
        &self,
        url: &str,
        etag: Option<&str>,
        fill: impl FnOnce(&mut dyn Write) -> Result<(), FetchError>,
    ) -> Result<PathBuf, FetchError> {
        let mut tmp = self.spool(url)?;
        {
            let mut w = io::BufWriter::new(tmp.as_file_mut());
            fill(&mut w)?;
            w.flush().map_err(|source| FetchError::Cache {
                path: self.target(url, etag).display().to_string(),
                source,
            })?;
        }
        self.commit(url, etag, tmp)
    }

    /// Removes the cached copies of `url` (for example after one failed verification): the
    /// package file, or every version of an index or key. A read-only cache is left as is.
    pub fn remove(&self, url: &str) {
        let loc = self.locate(url);
        match loc.kind {
            Kind::Package => {
                let _ = fs_err::remove_file(loc.dir.join(&loc.file));
            }
            Kind::Index | Kind::Versioned => {
                for p in versions(&loc.versions()) {
                    let _ = fs_err::remove_file(p);
                }
            }
        }
    }
}

/// The named entries of a versions directory: not temporary files (ours start with `.`,
/// apko's end in `.tmp` and are only the targets of its named links), only files.
fn versions(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs_err::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            !n.starts_with('.') && !n.ends_with(".tmp")
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect()
}

/// The newest version (by the modification time of the entry itself, as apko's offline mode
/// picks it; ties by name, for determinism).
fn newest(dir: &Path) -> Option<PathBuf> {
    versions(dir)
        .into_iter()
        .filter_map(|p| {
            let t = std::fs::symlink_metadata(&p).ok()?.modified().ok()?;
            Some((t, p))
        })
        .max()
        .map(|(_, p)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_apkos() {
        let c = Cache::new("/c");
        let url = "https://user:pw@dl-cdn.alpinelinux.org/alpine/v3.20/main/x86_64/APKINDEX.tar.gz";
        assert_eq!(
            c.target(url, Some("\"66a1b2c3-1f2e\"")),
            Path::new(
                "/c/https%3A%2F%2Fdl-cdn.alpinelinux.org%2Falpine%2Fv3.20%2Fmain/x86_64/APKINDEX/GY3GCMLCGJRTGLJRMYZGK===.tar.gz"
            )
        );
        assert_eq!(
            c.path_for(
                "https://dl-cdn.alpinelinux.org/alpine/v3.20/main/x86_64/busybox-1.36.1-r29.apk"
            ),
            Path::new(
                "/c/https%3A%2F%2Fdl-cdn.alpinelinux.org%2Falpine%2Fv3.20%2Fmain/x86_64/busybox-1.36.1-r29.apk"
            )
        );
        // A key one level under the host: the repository is `/`; the file name is decoded.
        assert_eq!(
            c.target(
                "https://alpinelinux.org/keys/alpine-devel%40lists.alpinelinux.org-6165ee59.rsa.pub",
                Some("\"e\"")
            ),
            Path::new(
                "/c/https%3A%2F%2Falpinelinux.org%2F/keys/alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub/MU======.etag"
            )
        );
        // Hostile URLs stay under the root.
        let p = c.target("https://h/../../x/../APKINDEX.tar.gz", None);
        assert!(
            p.starts_with("/c/") && !p.components().any(|x| x.as_os_str() == ".."),
            "{}",
            p.display()
        );
    }

    #[test]
    fn base32_round_trips() {
        for s in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "66a1b2c3-1f2e",
        ] {
            assert_eq!(
                base32_decode(&base32_encode(s.as_bytes())).as_deref(),
                if s.is_empty() {
                    None
                } else {
                    Some(s.as_bytes())
                }
            );
        }
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI======");
        assert_eq!(
            etag_from_name("MZXW6YTBOI======").as_deref(),
            Some("\"foobar\"")
        );
        assert_eq!(
            etag_from_name(&etag_name("W/\"x\"")).as_deref(),
            Some("W/\"x\"")
        );
        assert_eq!(etag_from_name("latest"), None);
    }

    #[test]
    fn versions_and_atomic_store() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::new(dir.path());
        let url = "https://user:pw@dl.example.org/alpine/v3.20/main/x86_64/APKINDEX.tar.gz";
        assert!(c.get(url).is_none());
        let write = |etag: Option<&str>, data: &'static [u8]| {
            c.store(url, etag, |w| {
                w.write_all(data).map_err(|e| FetchError::Io {
                    url: url.into(),
                    source: e,
                })
            })
        };
        let first = write(Some("\"abc\""), b"data").unwrap();
        assert!(
            !first.to_string_lossy().contains("pw"),
            "{}",
            first.display()
        );
        assert_eq!(fs_err::read(c.get(url).unwrap()).unwrap(), b"data");
        assert_eq!(c.etag(url).as_deref(), Some("\"abc\""));
        // A failing fill leaves the old copy in place.
        let r = c.store(url, None, |w| {
            w.write_all(b"partial").unwrap();
            Err(FetchError::NotFound { url: url.into() })
        });
        assert!(r.is_err());
        assert_eq!(fs_err::read(c.get(url).unwrap()).unwrap(), b"data");
        // A newer version wins; its tag is the one sent back.
        std::thread::sleep(std::time::Duration::from_millis(20));
        write(Some("\"def\""), b"new").unwrap();
        assert_eq!(fs_err::read(c.get(url).unwrap()).unwrap(), b"new");
        assert_eq!(c.etag(url).as_deref(), Some("\"def\""));
        c.remove(url);
        assert!(c.get(url).is_none());
    }

    #[test]
    fn apkos_expanded_packages_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::new(dir.path());
        let url = "https://h/os/x86_64/foo-1.0-r0.apk";
        assert!(c.expanded_parts(url).is_none());
        let pkg = c.path_for(url).with_extension("");
        fs_err::create_dir_all(pkg.join("expand-apk1")).unwrap();
        for (name, body) in [
            ("stream-1.tar.gz", "S"),
            ("stream-2.tar.gz", "C"),
            ("stream-3.tar.gz", "D"),
        ] {
            fs_err::write(pkg.join("expand-apk1").join(name), body).unwrap();
        }
        for (link, target) in [
            ("ab.sig.tar.gz", "stream-1.tar.gz"),
            ("ab.ctl.tar.gz", "stream-2.tar.gz"),
            ("cd.dat.tar.gz", "stream-3.tar.gz"),
        ] {
            std::os::unix::fs::symlink(format!("expand-apk1/{target}"), pkg.join(link)).unwrap();
        }
        let parts = c.expanded_parts(url).unwrap();
        let bytes: Vec<String> = parts
            .iter()
            .map(|p| fs_err::read_to_string(p).unwrap())
            .collect();
        assert_eq!(bytes, ["S", "C", "D"]);
    }
}
