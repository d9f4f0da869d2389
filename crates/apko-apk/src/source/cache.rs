use super::FetchError;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A download cache shared between builds.
///
/// Files are written to a temporary name in their final directory and renamed into place, so a
/// reader never sees a partial file and two builds filling the same entry at once both leave a
/// complete copy. Credentials are never part of a cache path.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The URL without scheme and userinfo.
fn key(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
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

    /// Where the copy of `url` lives: `<root>/<escaped directory URL>/<file name>`.
    pub fn path_for(&self, url: &str) -> PathBuf {
        let k = key(url);
        let (dir, file) = k.rsplit_once('/').unwrap_or(("", k));
        self.root.join(escape(dir)).join(escape(file))
    }

    fn etag_path(&self, url: &str) -> PathBuf {
        let mut p = self.path_for(url).into_os_string();
        p.push(".etag");
        PathBuf::from(p)
    }

    /// The cached copy of `url`, if there is one.
    pub fn get(&self, url: &str) -> Option<PathBuf> {
        let p = self.path_for(url);
        p.is_file().then_some(p)
    }

    /// The entity tag stored with the cached copy. Cache metadata is untrusted: a tag that
    /// could not be sent back as a header (control characters such as CR LF, non-ASCII, over
    /// 1 KiB) is ignored, and the file is fetched in full instead.
    pub fn etag(&self, url: &str) -> Option<String> {
        self.get(url)?;
        let text = fs_err::read(self.etag_path(url)).ok()?;
        let tag = std::str::from_utf8(&text).ok()?.trim();
        let usable = !tag.is_empty()
            && tag.len() <= 1024
            && tag.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if !usable {
            tracing::debug!("{url}: ignoring an unusable cached entity tag");
        }
        usable.then(|| tag.to_owned())
    }

    /// A temporary file next to where `url` is cached, to download into: committing it is a
    /// rename, not a copy.
    pub(crate) fn spool(&self, url: &str) -> Result<tempfile::NamedTempFile, FetchError> {
        let path = self.path_for(url);
        let dir = path.parent().expect("cache paths have a parent");
        let cache_err = |source: io::Error| FetchError::Cache {
            path: path.display().to_string(),
            source,
        };
        fs_err::create_dir_all(dir).map_err(cache_err)?;
        tempfile::NamedTempFile::new_in(dir).map_err(cache_err)
    }

    /// Makes a complete download (from [`Cache::spool`]) the cached copy of `url`, atomically,
    /// with its entity tag.
    pub(crate) fn commit(
        &self,
        url: &str,
        etag: Option<&str>,
        tmp: tempfile::NamedTempFile,
    ) -> Result<PathBuf, FetchError> {
        let path = self.path_for(url);
        let dir = path.parent().expect("cache paths have a parent");
        let cache_err = |source: io::Error| FetchError::Cache {
            path: path.display().to_string(),
            source,
        };
        tmp.as_file().sync_data().map_err(cache_err)?;
        // The old entity tag goes first: it must never describe the new content.
        let etag_path = self.etag_path(url);
        let _ = fs_err::remove_file(&etag_path);
        tmp.persist(&path).map_err(|e| cache_err(e.error))?;
        if let Some(tag) = etag {
            let mut t = tempfile::NamedTempFile::new_in(dir).map_err(cache_err)?;
            t.write_all(tag.as_bytes()).map_err(cache_err)?;
            t.persist(&etag_path).map_err(|e| cache_err(e.error))?;
        }
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
                path: self.path_for(url).display().to_string(),
                source,
            })?;
        }
        self.commit(url, etag, tmp)
    }

    /// Removes the cached copy of `url` (for example after it failed verification).
    pub fn remove(&self, url: &str) {
        let _ = fs_err::remove_file(self.path_for(url));
        let _ = fs_err::remove_file(self.etag_path(url));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_atomic_store() {
        let dir = tempfile::tempdir().unwrap();
        let c = Cache::new(dir.path());
        let url = "https://user:pw@dl.example.org/alpine/v3.20/main/x86_64/APKINDEX.tar.gz";
        let p = c.path_for(url);
        assert!(!p.to_string_lossy().contains("pw"), "{}", p.display());
        assert_eq!(p.file_name().unwrap(), "APKINDEX.tar.gz");
        assert!(c.get(url).is_none());
        c.store(url, Some("\"abc\""), |w| {
            w.write_all(b"data").map_err(|e| FetchError::Io {
                url: url.into(),
                source: e,
            })
        })
        .unwrap();
        assert_eq!(fs_err::read(c.get(url).unwrap()).unwrap(), b"data");
        assert_eq!(c.etag(url).as_deref(), Some("\"abc\""));
        // A failing fill leaves the old copy in place.
        let r = c.store(url, None, |w| {
            w.write_all(b"partial").unwrap();
            Err(FetchError::NotFound { url: url.into() })
        });
        assert!(r.is_err());
        assert_eq!(fs_err::read(c.get(url).unwrap()).unwrap(), b"data");
        c.remove(url);
        assert!(c.get(url).is_none());
    }
}
