use super::local::local_path;
use super::{Cache, Fetch, FetchError, FileTransport, Transport, is_remote};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A fetched file, on local disk.
#[derive(Debug)]
pub enum Fetched {
    /// A file of a local repository, or a cached copy.
    File(PathBuf),
    /// A download kept in a temporary file (no cache configured); deleted on drop.
    Temp(tempfile::TempPath),
}

impl Fetched {
    /// Where the bytes are.
    pub fn path(&self) -> &Path {
        match self {
            Fetched::File(p) => p,
            Fetched::Temp(t) => t,
        }
    }
}

/// Fetches indexes and packages: local files directly, remote ones through a [`Transport`]
/// with retries, an optional [`Cache`], offline mode and parallel downloads.
#[derive(Debug, Clone)]
pub struct Fetcher {
    remote: Option<Arc<dyn Transport>>,
    cache: Option<Cache>,
    offline: bool,
    attempts: u32,
    backoff: Duration,
    jobs: usize,
    /// Where downloads without a cache are spooled (default: the temporary directory).
    spool_dir: Option<PathBuf>,
}

impl Fetcher {
    /// A fetcher for local repositories only.
    pub fn local() -> Self {
        Fetcher {
            remote: None,
            cache: None,
            offline: false,
            attempts: 3,
            backoff: Duration::from_secs(1),
            jobs: 8,
            spool_dir: None,
        }
    }

    /// A fetcher that uses `transport` for `http(s)://` URLs.
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        Fetcher {
            remote: Some(transport),
            ..Self::local()
        }
    }

    /// Keeps downloads in `cache`.
    pub fn with_cache(mut self, cache: Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Offline: remote files come from the cache only.
    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Tries a transient failure `attempts` times in all, waiting `backoff`, then twice as
    /// long, between tries.
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// Downloads that are not cached are spooled in `dir` (a build's work directory, say, so
    /// that removing it removes them) instead of the temporary directory.
    pub fn with_spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool_dir = Some(dir.into());
        self
    }

    /// At most `jobs` downloads at once.
    pub fn with_jobs(mut self, jobs: usize) -> Self {
        self.jobs = jobs.max(1);
        self
    }

    /// The cache, if any.
    pub fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    fn transport(&self, url: &str) -> Result<&dyn Transport, FetchError> {
        if is_remote(url) {
            self.remote.as_deref().ok_or_else(|| FetchError::NoHttp {
                url: url.to_owned(),
            })
        } else {
            Ok(&FileTransport)
        }
    }

    /// Runs the transport with retries.
    fn get(&self, url: &str, etag: Option<&str>, out: &mut Spool) -> Result<Fetch, FetchError> {
        let transport = self.transport(url)?;
        let mut wait = self.backoff;
        let mut attempt = 1;
        loop {
            out.reset().map_err(|source| FetchError::Io {
                url: url.to_owned(),
                source,
            })?;
            let got = transport.get(url, etag, out);
            // A failure of our side of the copy (the limit, a full disk) is not the server's.
            if let Some(e) = out.failure(url) {
                return Err(e);
            }
            match got {
                Ok(f) => return Ok(f),
                Err(e) if e.is_transient() && attempt < self.attempts => {
                    tracing::warn!(
                        "{e}; retrying in {wait:?} (attempt {attempt} of {})",
                        self.attempts
                    );
                    std::thread::sleep(wait);
                    wait *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn fetch_remote(&self, url: &str, revalidate: bool, limit: u64) -> Result<Fetched, FetchError> {
        let Some(cache) = &self.cache else {
            if self.offline {
                return Err(FetchError::Offline {
                    url: url.to_owned(),
                });
            }
            let mut spool = Spool::new(self.spool_dir.as_deref(), limit)?;
            self.get(url, None, &mut spool)?;
            return Ok(Fetched::Temp(spool.into_temp_path()));
        };
        let cached = cache.get(url);
        if let Some(path) = &cached
            && (self.offline || !revalidate)
        {
            return Ok(Fetched::File(path.clone()));
        }
        // A package apko expanded into the cache: its segments, put back together.
        if cached.is_none()
            && !revalidate
            && let Some(parts) = cache.expanded_parts(url)
        {
            return self.join_parts(url, &parts, limit);
        }
        if self.offline {
            return Err(FetchError::Offline {
                url: url.to_owned(),
            });
        }
        let etag = if revalidate { cache.etag(url) } else { None };
        // Downloaded straight into the cache directory, then renamed into place.
        let mut spool = Spool::in_cache(cache.spool(url)?, cache, limit);
        match self.get(url, etag.as_deref(), &mut spool)? {
            Fetch::NotModified => match cached {
                Some(path) => Ok(Fetched::File(path)),
                None => Err(FetchError::NotFound {
                    url: url.to_owned(),
                }),
            },
            Fetch::Body { etag } => Ok(Fetched::File(cache.commit(
                url,
                etag.as_deref(),
                spool.file,
            )?)),
        }
    }

    /// Concatenates a package's cached segments into a spooled file.
    fn join_parts(&self, url: &str, parts: &[PathBuf], limit: u64) -> Result<Fetched, FetchError> {
        let mut spool = Spool::new(self.spool_dir.as_deref(), limit)?;
        for p in parts {
            let copied = fs_err::File::open(p).and_then(|mut f| io::copy(&mut f, &mut spool));
            if let Some(e) = spool.failure(url) {
                return Err(e);
            }
            copied.map_err(|source| FetchError::Cache {
                path: p.display().to_string(),
                source,
            })?;
        }
        Ok(Fetched::Temp(spool.into_temp_path()))
    }

    /// An `APKINDEX.tar.gz`. Remote indexes are revalidated against the server (with the
    /// cached entity tag) unless offline.
    pub fn fetch_index(&self, url: &str) -> Result<Fetched, FetchError> {
        self.fetch_index_bounded(url, u64::MAX)
    }

    /// [`Fetcher::fetch_index`], refusing a download of more than `limit` bytes (stopped
    /// there, not read to the end).
    pub fn fetch_index_bounded(&self, url: &str, limit: u64) -> Result<Fetched, FetchError> {
        if is_remote(url) {
            self.fetch_remote(url, true, limit)
        } else {
            Self::local_file(url)
        }
    }

    /// A package. A cached copy is used as is; callers verify it and call
    /// [`Fetcher::invalidate`] when it does not match.
    pub fn fetch_package(&self, url: &str) -> Result<Fetched, FetchError> {
        self.fetch_package_bounded(url, u64::MAX)
    }

    /// [`Fetcher::fetch_package`], refusing a download of more than `limit` bytes (stopped
    /// there, not read to the end; the signed index gives a package's size).
    pub fn fetch_package_bounded(&self, url: &str, limit: u64) -> Result<Fetched, FetchError> {
        if is_remote(url) {
            self.fetch_remote(url, false, limit)
        } else {
            Self::local_file(url)
        }
    }

    fn local_file(url: &str) -> Result<Fetched, FetchError> {
        let p = local_path(url);
        if p.is_file() {
            Ok(Fetched::File(p))
        } else {
            Err(FetchError::NotFound {
                url: url.to_owned(),
            })
        }
    }

    /// Drops the cached copy of `url`.
    pub fn invalidate(&self, url: &str) {
        if let Some(c) = &self.cache {
            c.remove(url);
        }
    }

    /// Runs `work` over `items` on up to `jobs` threads; results keep the input order.
    pub fn parallel<T: Sync, R: Send>(&self, items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
        parallel(self.jobs, items, work)
    }
}

/// Runs `work` over `items` on up to `threads` scoped threads (at least one); results keep
/// the input order. Work is handed out one item at a time, so slow items do not hold up a
/// whole chunk.
pub fn parallel<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<R>>> =
        items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1).min(items.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= items.len() {
                        break;
                    }
                    let r = work(&items[i]);
                    *results[i].lock().expect("no panics while holding the lock") = Some(r);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("not poisoned")
                .expect("every item ran")
        })
        .collect()
}

/// A temporary file receiving one download, at most `limit` bytes; it remembers why a write
/// failed, so that the error names the real cause (the limit, the disk) rather than the
/// connection.
struct Spool {
    file: tempfile::NamedTempFile,
    /// Where it lives (for errors): the cache directory or the temporary directory.
    dir: String,
    limit: u64,
    written: u64,
    failed: Option<SpoolFailure>,
}

enum SpoolFailure {
    TooLarge,
    Write(io::Error),
}

impl Spool {
    fn new(dir: Option<&Path>, limit: u64) -> Result<Self, FetchError> {
        let (file, name) = match dir {
            Some(d) => (tempfile::NamedTempFile::new_in(d), d.display().to_string()),
            None => (
                tempfile::NamedTempFile::new(),
                "the temporary directory".to_owned(),
            ),
        };
        let file = file.map_err(|source| FetchError::Cache {
            path: name.clone(),
            source,
        })?;
        Ok(Spool::with(file, name, limit))
    }

    fn in_cache(file: tempfile::NamedTempFile, cache: &Cache, limit: u64) -> Self {
        Spool::with(file, cache.root().display().to_string(), limit)
    }

    fn with(file: tempfile::NamedTempFile, dir: String, limit: u64) -> Self {
        Spool {
            file,
            dir,
            limit,
            written: 0,
            failed: None,
        }
    }

    fn reset(&mut self) -> io::Result<()> {
        use std::io::Seek;
        let f = self.file.as_file_mut();
        f.set_len(0)?;
        f.seek(io::SeekFrom::Start(0))?;
        self.written = 0;
        self.failed = None;
        Ok(())
    }

    /// Why writing stopped, as the error to report.
    fn failure(&mut self, url: &str) -> Option<FetchError> {
        match self.failed.take()? {
            SpoolFailure::TooLarge => Some(FetchError::TooLarge {
                url: url.to_owned(),
                limit: self.limit,
            }),
            SpoolFailure::Write(source) => Some(FetchError::Cache {
                path: self.dir.clone(),
                source,
            }),
        }
    }

    /// The spooled download (it lives only as long as the build: nothing to sync).
    fn into_temp_path(self) -> tempfile::TempPath {
        self.file.into_temp_path()
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written.saturating_add(buf.len() as u64) > self.limit {
            self.failed = Some(SpoolFailure::TooLarge);
            return Err(io::Error::other("download larger than its limit"));
        }
        match self.file.as_file_mut().write(buf) {
            Ok(n) => {
                self.written += n as u64;
                Ok(n)
            }
            Err(e) => {
                let kind = e.kind();
                self.failed = Some(SpoolFailure::Write(e));
                Err(io::Error::new(kind, "cannot write the download"))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_file_mut().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_failures_name_their_cause() {
        let dir = tempfile::tempdir().unwrap();
        // The limit: the write that would cross it fails, and the error says so.
        let mut s = Spool::new(Some(dir.path()), 10).unwrap();
        assert!(s.write_all(b"0123456789").is_ok());
        assert!(s.write_all(b"x").is_err());
        let e = s.failure("https://r/x.apk").unwrap();
        assert!(matches!(e, FetchError::TooLarge { limit: 10, .. }), "{e}");
        assert!(s.failure("u").is_none(), "reported once");
        // A failing disk (here: a file opened read-only) names the spool directory, not
        // the server.
        let path = dir.path().join("ro");
        fs_err::write(&path, b"").unwrap();
        let ro = fs_err::File::open(&path).unwrap().into_file();
        let file = tempfile::NamedTempFile::from_parts(
            ro,
            tempfile::TempPath::try_from_path(&path).unwrap(),
        );
        let mut s = Spool::with(file, dir.path().display().to_string(), u64::MAX);
        assert!(s.write_all(b"data").is_err());
        let e = s.failure("https://r/x.apk").unwrap();
        match e {
            FetchError::Cache { path, .. } => assert_eq!(path, dir.path().display().to_string()),
            other => panic!("{other}"),
        }
    }
}
