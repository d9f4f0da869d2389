//! Configured repositories as one value: where keys, indexes and packages come from, and the
//! checks that make them trustworthy.
//!
//! [`Repositories`] owns the fetcher, the keyring, the trust policy, the size limits and the
//! directories relative paths are taken from. Each lookup runs *locate → fetch → verify*, and
//! a cached copy that fails verification (a corrupted file kept alive by its `ETag`, a
//! truncated download) is dropped and fetched again once: callers never see the retry.
//!
//! ```no_run
//! use apko_apk::index::IndexTrust;
//! use apko_apk::keys::SignaturePolicy;
//! use apko_apk::package::Limits;
//! use apko_apk::repositories::Repositories;
//! use apko_apk::source::{Fetcher, RepositoryUrl};
//!
//! let mut repos = Repositories::new(
//!     Fetcher::local(),
//!     IndexTrust::Require(SignaturePolicy::AnyValid),
//!     Limits::default(),
//!     std::env::current_dir()?,
//! );
//! repos.add_key("keys/me.rsa.pub")?;
//! let repo: RepositoryUrl = "./packages".parse()?;
//! if let Some(index) = repos.index(&repo, "x86_64")? {
//!     println!("{} packages", index.packages.len());
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::Checksum;
use crate::index::{ApkIndex, IndexTrust, IndexVerification, read_index};
use crate::info::PackageInfo;
use crate::keys::{KeyError, Keyring};
use crate::package::{CachedData, ExpandedCache, ExpandedPackage, Limits, PackageError, expand};
use crate::source::{FetchError, Fetcher, RepositoryUrl, is_remote, redact};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The largest key file fetched (an RSA public key is well under 4 KiB).
pub const MAX_KEY_SIZE: u64 = 1 << 20;

/// How far past its indexed size a package download may run before it is stopped.
const SIZE_MARGIN: u64 = 64 << 10;

/// Where warnings go (a corrupted cache entry fetched again, a local repository without an
/// index for an architecture).
pub type WarningSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Keys, indexes and packages of the configured repositories, verified.
#[derive(Clone)]
pub struct Repositories {
    fetcher: Fetcher,
    keyring: Keyring,
    keys: Vec<KeyFile>,
    trust: IndexTrust,
    limits: Limits,
    base_dir: PathBuf,
    fallback_dir: Option<PathBuf>,
    expanded: Option<ExpandedCache>,
    warn: WarningSink,
}

impl std::fmt::Debug for Repositories {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Repositories")
            .field("fetcher", &self.fetcher)
            .field(
                "keys",
                &self.keys.iter().map(|k| &k.name).collect::<Vec<_>>(),
            )
            .field("trust", &self.trust)
            .field("limits", &self.limits)
            .field("base_dir", &self.base_dir)
            .field("fallback_dir", &self.fallback_dir)
            .finish_non_exhaustive()
    }
}

/// A key as loaded: its file name under `/etc/apk/keys` and its PEM text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFile {
    /// The file name (the last component of the configured path or URL, unescaped).
    pub name: String,
    /// The PEM bytes as fetched.
    pub pem: Vec<u8>,
}

/// What a package must be: the record the signed index (or a lockfile) gives for it.
#[derive(Debug, Clone, Copy)]
pub struct PackageRequest<'a> {
    /// Where to fetch it from (already located: see [`Repositories::locate`]).
    pub url: &'a str,
    /// Its record: name, version, identity (`C:`), file size (`S:`), installed size (`I:`).
    pub info: &'a PackageInfo,
    /// The SHA-256 of the data segment a lockfile pins, if any.
    pub data_sha256: Option<[u8; 32]>,
}

/// A fetched, verified and expanded package.
#[derive(Debug)]
pub struct VerifiedPackage {
    /// Metadata, entries and digests.
    pub package: ExpandedPackage,
    /// Time spent fetching (not verifying or expanding).
    pub fetch_time: Duration,
}

/// A package as [`Repositories::package_cached`] gives it.
#[derive(Debug)]
pub struct ExpandedFile {
    /// Metadata, entries and digests.
    pub package: ExpandedPackage,
    /// The file holding its decompressed data segment.
    pub data: PathBuf,
    /// Time spent fetching (zero when the cache had it).
    pub fetch_time: Duration,
    /// For data found in the cache: what it must hash to, to be checked
    /// ([`CachedData::verify`]) before its contents are read.
    pub unverified: Option<CachedData>,
}

/// Why a key cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyLoadError {
    /// It could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// It could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// It is not an RSA public key.
    #[error(transparent)]
    Parse(#[from] KeyError),
}

/// Why an index cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// It could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The fetched file could not be read.
    #[error("cannot read `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// It is malformed, badly signed or untrusted.
    #[error(transparent)]
    Verify(#[from] IndexVerification),
}

/// Why a package is refused.
#[derive(Debug, thiserror::Error)]
pub enum PackageFetchError {
    /// It could not be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// A local file could not be read or written.
    #[error("cannot access `{path}`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not as large as the signed index says.
    #[error("the file is {actual} bytes, the signed index says {expected}")]
    Size {
        /// Bytes fetched.
        actual: u64,
        /// `S:` of the index.
        expected: u64,
    },
    /// The download ran past the size the signed index says and was stopped.
    #[error(
        "the download is larger than the {expected} bytes the signed index says (stopped after {stopped_at})"
    )]
    Oversized {
        /// `S:` of the index.
        expected: u64,
        /// Where the download was stopped.
        stopped_at: u64,
    },
    /// It is malformed, fails verification or is hostile.
    #[error(transparent)]
    Refused(#[from] PackageError),
    /// Its `.PKGINFO` names another package.
    #[error("its .PKGINFO says `{found}`")]
    NotThePackage {
        /// `name-version` of its `.PKGINFO`.
        found: String,
    },
    /// Its data segment is not the one a lockfile pins.
    #[error("its data segment is not the one the lockfile pins")]
    DataPin,
}

impl Repositories {
    /// Repositories fetched with `fetcher`, verified with `trust` and bounded by `limits`;
    /// relative paths are taken from `base_dir`. The keyring starts empty
    /// ([`Repositories::add_key`]).
    pub fn new(fetcher: Fetcher, trust: IndexTrust, limits: Limits, base_dir: PathBuf) -> Self {
        Repositories {
            fetcher,
            keyring: Keyring::new(),
            keys: Vec::new(),
            trust,
            limits,
            base_dir,
            fallback_dir: None,
            expanded: None,
            warn: Arc::new(|msg| tracing::warn!("{msg}")),
        }
    }

    /// Relative paths that do not exist under the base directory are looked up here too (the
    /// directory of the configuration file, relative to the base directory).
    pub fn with_fallback_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.fallback_dir = dir;
        self
    }

    /// Keeps expanded packages in `cache` ([`Repositories::package_cached`]).
    pub fn with_expanded_cache(mut self, cache: Option<ExpandedCache>) -> Self {
        self.expanded = cache;
        self
    }

    /// The expanded-package cache, if any.
    pub fn expanded_cache(&self) -> Option<&ExpandedCache> {
        self.expanded.as_ref()
    }

    /// Sends warnings to `sink` instead of `tracing`.
    pub fn with_warnings(mut self, sink: WarningSink) -> Self {
        self.warn = sink;
        self
    }

    /// The fetcher (for its cache and thread count).
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The size limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The keys added so far, in order.
    pub fn keys(&self) -> &[KeyFile] {
        &self.keys
    }

    /// The keyring indexes are verified with.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// A local path or URL. Relative paths are taken from the base directory and, when
    /// nothing is there, from the fallback directory.
    pub fn locate(&self, s: &str) -> String {
        if is_remote(s) {
            return s.to_owned();
        }
        let p = s.strip_prefix("file://").unwrap_or(s);
        let path = Path::new(p);
        if path.is_absolute() {
            return p.to_owned();
        }
        let from_base = self.base_dir.join(path);
        if !from_base.exists()
            && let Some(dir) = &self.fallback_dir
        {
            let from_config = self.base_dir.join(dir).join(path);
            if from_config.exists() {
                return from_config.display().to_string();
            }
        }
        from_base.display().to_string()
    }

    /// Adds a key given by its content (a discovered key, or one a lockfile carries).
    pub fn add_key_pem(&mut self, name: &str, pem: &[u8]) -> Result<&KeyFile, KeyLoadError> {
        self.keyring.add_pem(name, pem)?;
        self.keys.push(KeyFile {
            name: name.to_owned(),
            pem: pem.to_vec(),
        });
        Ok(self.keys.last().expect("just pushed"))
    }

    /// `repo` with its URL located.
    pub fn locate_repository(&self, repo: &RepositoryUrl) -> RepositoryUrl {
        RepositoryUrl {
            tag: repo.tag.clone(),
            url: self.locate(&repo.url),
        }
    }

    /// Fetches the key at `spec` (path or URL) and adds it to the keyring.
    pub fn add_key(&mut self, spec: &str) -> Result<&KeyFile, KeyLoadError> {
        let fetched = self
            .fetcher
            .fetch_package_bounded(&self.locate(spec), MAX_KEY_SIZE)?;
        let pem = fs_err::read(fetched.path())?;
        let name = key_file_name(spec);
        self.keyring.add_pem(&name, &pem)?;
        self.keys.push(KeyFile { name, pem });
        Ok(self.keys.last().expect("just pushed"))
    }

    /// The verified index of `repo` for `arch`. `Ok(None)`: a local repository has no index
    /// for this architecture (a warning is given; remote ones must have one).
    pub fn index(&self, repo: &RepositoryUrl, arch: &str) -> Result<Option<ApkIndex>, IndexError> {
        let url = self.locate_repository(repo).index_url(arch);
        let retry = self.can_refetch(&url);
        for attempt in 0..2 {
            // The compressed index is smaller than the decompressed limit.
            let file = match self
                .fetcher
                .fetch_index_bounded(&url, self.limits.max_index_size)
            {
                Ok(f) => f,
                Err(FetchError::NotFound { .. }) if !repo.is_remote() => {
                    (self.warn)(&format!(
                        "repository `{}` has no index for {arch}; skipping it",
                        repo.url
                    ));
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            };
            let f = fs_err::File::open(file.path()).map_err(|source| IndexError::Io {
                path: file.path().to_owned(),
                source,
            })?;
            match read_index(
                std::io::BufReader::new(f),
                &redact(&url),
                &self.keyring,
                self.trust,
                &self.limits,
            ) {
                Ok((index, _)) => return Ok(Some(index)),
                Err(e) if attempt == 0 && retry => {
                    (self.warn)(&format!(
                        "{}: cached index failed ({e}); fetching it again",
                        redact(&url)
                    ));
                    self.fetcher.invalidate(&url);
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// [`Repositories::package`] through the expanded-package cache when there is one
    /// ([`Repositories::with_expanded_cache`]) and the package's identity is known: a package
    /// found there is neither fetched nor decompressed (its data is checked by
    /// [`CachedData::verify`] before use: see [`ExpandedFile::unverified`]); one that is not is
    /// fetched, verified and expanded into the cache. The data is hard-linked to `scratch`
    /// (in the build's work directory) and used there, so that no other build sharing the
    /// cache can remove or replace it under this one; where no link can be made (the cache on
    /// another filesystem), the cache's file is used. Without a cache, the data goes to
    /// `scratch`. A cache that cannot be written is a warning, and the package is not cached.
    pub fn package_cached(
        &self,
        req: PackageRequest<'_>,
        scratch: &Path,
    ) -> Result<ExpandedFile, PackageFetchError> {
        let Some(cache) = &self.expanded else {
            return self.uncached(req, scratch);
        };
        if let Some(hit) = cache.get(req.info) {
            if req
                .data_sha256
                .is_some_and(|want| want != hit.package.digests.data_sha256)
            {
                return Err(PackageFetchError::DataPin);
            }
            let data = match crate::package::link_replacing(&hit.data.path, scratch) {
                Ok(()) => Some(CachedData {
                    path: scratch.to_owned(),
                    size: hit.data.size,
                }),
                // Removed by another build since: a miss.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(_) => Some(hit.data),
            };
            if let Some(data) = data {
                return Ok(ExpandedFile {
                    package: hit.package,
                    data: data.path.clone(),
                    fetch_time: Duration::ZERO,
                    unverified: Some(data),
                });
            }
        }
        self.fill_cache(cache, req, scratch)
    }

    /// The package expanded to `scratch`, not cached.
    fn uncached(
        &self,
        req: PackageRequest<'_>,
        scratch: &Path,
    ) -> Result<ExpandedFile, PackageFetchError> {
        self.package(req, scratch).map(|v| ExpandedFile {
            package: v.package,
            data: scratch.to_owned(),
            fetch_time: v.fetch_time,
            unverified: None,
        })
    }

    /// Fetches and expands the package into `cache` (see [`Repositories::package_cached`]).
    fn fill_cache(
        &self,
        cache: &ExpandedCache,
        req: PackageRequest<'_>,
        scratch: &Path,
    ) -> Result<ExpandedFile, PackageFetchError> {
        let not_cached = |e: &std::io::Error| {
            (self.warn)(&format!(
                "{}: cannot write to the package cache {}: {e}; not cached",
                req.info.name_version(),
                cache.root().display()
            ));
        };
        let pending = match cache.begin(req.info) {
            Ok(Some(p)) => p,
            Ok(None) => return self.uncached(req, scratch),
            Err(e) => {
                not_cached(&e);
                return self.uncached(req, scratch);
            }
        };
        let tmp = pending.data_path();
        let v = self.package(req, &tmp)?;
        // Only files with SHA-1 checksums can be checked on use (legacy MD5 ones cannot):
        // such a package is not cached.
        let checkable = v.package.entries.iter().all(|e| {
            e.kind != crate::package::DataKind::File
                || matches!(e.checksum, Some(Checksum::Sha1(_)))
        });
        let data = if checkable {
            let size = fs_err::metadata(&tmp)
                .map_err(|source| PackageFetchError::Io {
                    path: tmp.clone(),
                    source,
                })?
                .len();
            // Linked before it is published: what this build uses is what it expanded.
            let linked = crate::package::link_replacing(&tmp, scratch).is_ok();
            match cache.commit(pending, &v.package, size) {
                Ok(data) if !linked => data.path,
                Ok(_) => scratch.to_owned(),
                Err(e) if linked => {
                    not_cached(&e);
                    scratch.to_owned()
                }
                Err(e) => {
                    not_cached(&e);
                    return self.uncached(req, scratch);
                }
            }
        } else {
            crate::package::move_replacing(&tmp, scratch).map_err(|source| {
                PackageFetchError::Io {
                    path: scratch.to_owned(),
                    source,
                }
            })?;
            scratch.to_owned()
        };
        Ok(ExpandedFile {
            package: v.package,
            data,
            fetch_time: v.fetch_time,
            unverified: None,
        })
    }

    /// Drops the cached expansion `req` found (its data, at `used`, failed
    /// [`CachedData::verify`]; another build may have replaced the entry since, which is then
    /// kept) and makes it again from the package, into the cache and `scratch` as
    /// [`Repositories::package_cached`] does.
    pub fn repair_cached(
        &self,
        req: PackageRequest<'_>,
        used: &Path,
        scratch: &Path,
    ) -> Result<ExpandedFile, PackageFetchError> {
        let Some(cache) = &self.expanded else {
            return self.uncached(req, scratch);
        };
        (self.warn)(&format!(
            "{}: cached expansion is corrupt; expanding the package again",
            req.info.name_version()
        ));
        cache.remove_if_same(req.info, used);
        self.fill_cache(cache, req, scratch)
    }

    /// Fetches, verifies and expands the package `req` describes, writing its decompressed
    /// data segment to `data_path` (entries point into it by offset).
    ///
    /// Checked, in order: the file size against `S:` (before decompressing anything), the
    /// signatures and the identity `C:` (while streaming, with the decompressed data bounded
    /// by `I:`), the `.PKGINFO` name and version against the record, and the data segment
    /// against a lockfile's pin.
    pub fn package(
        &self,
        req: PackageRequest<'_>,
        data_path: &Path,
    ) -> Result<VerifiedPackage, PackageFetchError> {
        let info = req.info;
        let pkg = info.name_version();
        let expected = info.checksum;
        let retry = self.can_refetch(req.url);
        let mut fetch_time = Duration::ZERO;
        // A download is stopped just past the size the signed index gives (the size check
        // below then names both sizes), not read to its end.
        let limit = if expected.is_some() && info.size > 0 {
            info.size.saturating_add(SIZE_MARGIN)
        } else {
            u64::MAX
        };
        for attempt in 0..2 {
            let started = Instant::now();
            let fetched = match self.fetcher.fetch_package_bounded(req.url, limit) {
                Err(FetchError::TooLarge { .. }) if limit != u64::MAX => {
                    return Err(PackageFetchError::Oversized {
                        expected: info.size,
                        stopped_at: limit,
                    });
                }
                other => other?,
            };
            fetch_time += started.elapsed();
            let io = |path: &Path| {
                let path = path.to_owned();
                move |source| PackageFetchError::Io { path, source }
            };
            let f = fs_err::File::open(fetched.path()).map_err(io(fetched.path()))?;
            let out = fs_err::File::create(data_path).map_err(io(data_path))?;
            // The signed index gives the file size: anything else is not the package it
            // describes, so do not even start decompressing it.
            let file_len = f.metadata().map_or(0, |m| m.len());
            if expected.is_some() && info.size > 0 && file_len != info.size {
                if attempt == 0 && retry {
                    (self.warn)(&format!(
                        "{pkg}: cached copy has the wrong size; fetching it again"
                    ));
                    self.fetcher.invalidate(req.url);
                    continue;
                }
                return Err(PackageFetchError::Size {
                    actual: file_len,
                    expected: info.size,
                });
            }
            match expand(
                std::io::BufReader::with_capacity(256 * 1024, f),
                &pkg,
                &self.package_limits(info, expected.as_ref()),
                expected.as_ref(),
                std::io::BufWriter::with_capacity(1 << 20, out),
            ) {
                Ok((package, mut w)) => {
                    w.flush().map_err(io(data_path))?;
                    let own = &package.control.info;
                    if own.name != info.name || own.version != info.version {
                        return Err(PackageFetchError::NotThePackage {
                            found: own.name_version(),
                        });
                    }
                    if req
                        .data_sha256
                        .is_some_and(|want| want != package.digests.data_sha256)
                    {
                        return Err(PackageFetchError::DataPin);
                    }
                    return Ok(VerifiedPackage {
                        package,
                        fetch_time,
                    });
                }
                Err(e) if attempt == 0 && retry => {
                    (self.warn)(&format!(
                        "{pkg}: cached copy failed verification ({e}); fetching it again"
                    ));
                    self.fetcher.invalidate(req.url);
                }
                Err(e) => return Err(e.into()),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// Only a cached copy of a remote file can be wrong in a way a second fetch fixes.
    fn can_refetch(&self, url: &str) -> bool {
        is_remote(url) && self.fetcher.cache().is_some()
    }

    /// The limits for one package: the decompressed data is bounded by the installed size
    /// the signed index declares (tar headers and padding included): a swapped data segment
    /// is caught by its hash only at the end, so it must not be allowed to grow to the
    /// global limit.
    fn package_limits(&self, info: &PackageInfo, expected: Option<&Checksum>) -> Limits {
        let mut limits = self.limits;
        if expected.is_some() && info.installed_size > 0 {
            limits.max_data_size = limits.max_data_size.min(
                info.installed_size
                    .saturating_mul(2)
                    .saturating_add(256 << 20),
            );
        }
        limits
    }
}

/// The file name of a key: the last component of its path or URL, URL-escapes (`%40` for
/// `@`) decoded, as apko does.
pub fn key_file_name(s: &str) -> String {
    let last = s.trim_end_matches('/').rsplit('/').next().unwrap_or(s);
    let mut out = Vec::new();
    let b = last.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&last[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_unescaped_basenames() {
        assert_eq!(key_file_name("keys/a.rsa.pub"), "a.rsa.pub");
        assert_eq!(
            key_file_name("https://x.example/k/alpine-devel%40lists.alpinelinux.org-1.rsa.pub"),
            "alpine-devel@lists.alpinelinux.org-1.rsa.pub"
        );
        assert_eq!(key_file_name("bad%zz/"), "bad%zz");
    }

    #[test]
    fn relative_paths_fall_back_to_the_config_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(dir.path().join("conf/keys")).unwrap();
        fs_err::write(dir.path().join("conf/keys/k.pub"), b"x").unwrap();
        let repos = Repositories::new(
            Fetcher::local(),
            IndexTrust::AllowUntrusted,
            Limits::default(),
            dir.path().to_owned(),
        )
        .with_fallback_dir(Some("conf".into()));
        assert_eq!(
            repos.locate("keys/k.pub"),
            dir.path().join("conf/keys/k.pub").display().to_string()
        );
        assert_eq!(
            repos.locate("missing"),
            dir.path().join("missing").display().to_string()
        );
        assert_eq!(repos.locate("file:///abs/x"), "/abs/x");
        assert_eq!(repos.locate("https://h/x"), "https://h/x");
    }
}
