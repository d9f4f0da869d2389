//! Lockfiles in apko's format (`apko lock`, `apko build --lockfile`): the configuration's
//! checksum, its keys (with their content) and repositories, and every package of every
//! architecture with its URL and the ranges and checksums of its three segments.
//!
//! A build from a lockfile installs exactly those packages, from those URLs, without
//! resolving: each must have the locked identity (`C:`, the control segment's SHA-1) and data
//! segment SHA-256.

use apko_apk::info::PackageInfo;
use apko_apk::package::PackageDigests;
use apko_apk::source::{RepositoryUrl, strip_credentials};
use apko_config::{Arch, LoadedConfig};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a lockfile cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// It cannot be read.
    #[error("cannot read the lockfile {file}")]
    Read {
        /// The file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// It is larger than any lockfile (`/dev/zero`, a wrong path).
    #[error("lockfile {file} is larger than {limit} bytes, too large for a lockfile")]
    TooLarge {
        /// The file.
        file: String,
        /// The limit.
        limit: u64,
    },
    /// It is not a lockfile.
    #[error("lockfile {file}: {source}")]
    Parse {
        /// The file.
        file: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A version of the format apko-rs does not know.
    #[error("lockfile {file}: unknown version `{version}`")]
    Version {
        /// The file.
        file: String,
        /// Its `version`.
        version: String,
    },
    /// Made by apko before 0.13, without package checksums.
    #[error(
        "lockfile {file}: package `{package}` ({arch}) has no checksum: the lockfile was made by apko before 0.13"
    )]
    NoChecksums {
        /// The file.
        file: String,
        /// `name-version`.
        package: String,
        /// Its architecture.
        arch: String,
    },
    /// Made from another version of the configuration.
    #[error(
        "lockfile {file} was made from another version of {config} (checksum {locked}, now {now})"
    )]
    ConfigChanged {
        /// The file.
        file: String,
        /// The configuration's name.
        config: String,
        /// The checksum in the lock.
        locked: String,
        /// The configuration's checksum.
        now: String,
    },
    /// It pins nothing for an architecture that is built.
    #[error("the lockfile pins no packages for {arch}")]
    NoPackages {
        /// The apk architecture.
        arch: String,
    },
    /// A package entry is unusable.
    #[error("lockfile: package `{package}` ({arch}): {problem}")]
    Package {
        /// `name-version`.
        package: String,
        /// Its architecture.
        arch: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl LockError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            LockError::NoChecksums { .. } => {
                "regenerate it with `apko lock` (apko >= 0.13 or apko-rs)"
            }
            LockError::NoPackages { .. } => {
                "regenerate it with `apko lock` for every architecture you build"
            }
            LockError::Read { .. } | LockError::TooLarge { .. } => {
                "pass the file `apko lock` wrote (create it with `apko lock`)"
            }
            _ => "regenerate it with `apko lock`",
        }
    }
}

/// A lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// Always `v1`.
    pub version: String,
    /// The configuration the lock was made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<LockConfig>,
    /// Keys, repositories and packages.
    pub contents: LockContents,
}

/// Which configuration a lock belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockConfig {
    /// The configuration path as given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `sha256-<base64>` over the configuration file and its includes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub checksum: String,
}

/// What a lock pins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockContents {
    /// Keys, sorted by name.
    #[serde(default)]
    pub keyring: Vec<LockKeyring>,
    /// Build-only repositories, per architecture.
    #[serde(default)]
    pub build_repositories: Vec<LockRepository>,
    /// Runtime-only repositories, per architecture.
    #[serde(default)]
    pub runtime_repositories: Vec<LockRepository>,
    /// Repositories, per architecture.
    #[serde(default)]
    pub repositories: Vec<LockRepository>,
    /// Packages of every architecture, each in install order.
    #[serde(default)]
    pub packages: Vec<LockPackage>,
}

/// A key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockKeyring {
    /// The key's URL without scheme, or its path.
    pub name: String,
    /// As configured.
    pub url: String,
    /// The PEM text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
}

/// A repository of one architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRepository {
    /// `<repository without scheme>/<arch>`.
    pub name: String,
    /// Its `APKINDEX.tar.gz`.
    pub url: String,
    /// apk architecture.
    pub architecture: String,
}

/// A pinned package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockPackage {
    /// Name.
    pub name: String,
    /// Where it was found.
    pub url: String,
    /// Version.
    pub version: String,
    /// apk architecture.
    pub architecture: String,
    /// Byte range and SHA-1 of the signature segment (empty when unsigned).
    #[serde(default)]
    pub signature: RangeChecksum,
    /// Byte range and SHA-1 of the control segment.
    #[serde(default)]
    pub control: RangeChecksum,
    /// Byte range and SHA-256 of the data segment.
    #[serde(default)]
    pub data: RangeChecksum,
    /// The apk identity (`Q1…`); locks made before apko 0.13 lack it.
    #[serde(default)]
    pub checksum: String,
}

/// `bytes=<first>-<last>` and `<algorithm>-<base64>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeChecksum {
    /// The byte range.
    pub range: String,
    /// The checksum.
    pub checksum: String,
}

/// `sha256-<base64>` over the raw bytes of the configuration file and of every file it
/// includes, in load order (apko's "deep checksum"; command-line flags are not part of it).
pub fn config_checksum(config: &LoadedConfig) -> String {
    let mut h = Sha256::new();
    for s in &config.sources {
        h.update(&s.bytes);
    }
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A URL or path without `http(s)://`.
fn strip_scheme(s: &str) -> &str {
    s.strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s)
}

/// A repository as configured, without its label and credentials (lockfiles are committed).
fn plain_repository(spec: &str) -> RepositoryUrl {
    let parsed = spec
        .parse::<RepositoryUrl>()
        .unwrap_or_else(|_| RepositoryUrl {
            tag: None,
            url: spec.trim_end_matches('/').to_owned(),
        });
    RepositoryUrl {
        tag: None,
        url: strip_credentials(&parsed.url),
    }
}

/// The lock entry of a key: `spec` as configured, `pem` its content.
pub(crate) fn keyring_entry(spec: &str, pem: &[u8]) -> LockKeyring {
    let url = strip_credentials(spec);
    LockKeyring {
        name: strip_scheme(&url).to_owned(),
        url,
        content: String::from_utf8_lossy(pem).into_owned(),
    }
}

/// The lock entry of repository `spec` (as configured) for `arch`.
pub(crate) fn repository_entry(spec: &str, arch: &str) -> LockRepository {
    let repo = plain_repository(spec);
    LockRepository {
        name: format!("{}/{arch}", strip_scheme(&repo.url)),
        url: repo.index_url(arch),
        architecture: arch.to_owned(),
    }
}

/// Where a lockfile says `info` comes from in `repo`: its package URL, without credentials.
pub(crate) fn package_url(repo: &RepositoryUrl, arch: &str, info: &PackageInfo) -> String {
    plain_repository(&repo.url).package_url(arch, info)
}

/// `bytes=<start>-<start + len - 1>`.
fn range(start: u64, len: u64) -> String {
    format!("bytes={start}-{}", (start + len).saturating_sub(1))
}

/// The lock entry of a package read from `repo` (its segments measured while expanding it).
pub(crate) fn package_entry(
    repo: &RepositoryUrl,
    arch: &str,
    info: &PackageInfo,
    d: &PackageDigests,
) -> LockPackage {
    let (s, ctl, data) = (d.signature_size, d.control_size, d.data_size);
    LockPackage {
        name: info.name.to_string(),
        url: package_url(repo, arch, info),
        version: info.version.to_string(),
        architecture: arch.to_owned(),
        signature: match d.signature_sha1 {
            Some(sum) if s > 0 => RangeChecksum {
                range: range(0, s),
                checksum: format!("sha1-{}", b64(&sum)),
            },
            _ => RangeChecksum::default(),
        },
        control: RangeChecksum {
            range: range(s, ctl),
            checksum: format!("sha1-{}", b64(&d.signed.sha1)),
        },
        data: RangeChecksum {
            range: range(s + ctl, data),
            checksum: format!("sha256-{}", b64(&d.data_sha256)),
        },
        checksum: d.identity.to_string(),
    }
}

impl Lock {
    /// The largest lockfile read (one of 10 000 packages is about 10 MiB).
    pub const MAX_SIZE: u64 = 256 << 20;

    /// Reads and parses the lockfile at `path`, at most [`Lock::MAX_SIZE`] bytes.
    pub fn read(path: &std::path::Path) -> Result<Lock, LockError> {
        use std::io::Read as _;
        let file = path.display().to_string();
        let err = |source| LockError::Read {
            file: file.clone(),
            source,
        };
        let mut bytes = Vec::new();
        fs_err::File::open(path)
            .map_err(err)?
            .take(Self::MAX_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(err)?;
        if bytes.len() as u64 > Self::MAX_SIZE {
            return Err(LockError::TooLarge {
                file,
                limit: Self::MAX_SIZE,
            });
        }
        Lock::parse(&bytes, &file)
    }

    /// Reads a lockfile; `file` names it in errors.
    pub fn parse(bytes: &[u8], file: &str) -> Result<Lock, LockError> {
        let lock: Lock = serde_json::from_slice(bytes).map_err(|source| LockError::Parse {
            file: file.to_owned(),
            source,
        })?;
        if lock.version != "v1" {
            return Err(LockError::Version {
                file: file.to_owned(),
                version: lock.version,
            });
        }
        if let Some(p) = lock
            .contents
            .packages
            .iter()
            .find(|p| p.checksum.is_empty())
        {
            return Err(LockError::NoChecksums {
                file: file.to_owned(),
                package: format!("{}-{}", p.name, p.version),
                arch: p.architecture.clone(),
            });
        }
        Ok(lock)
    }

    /// The lockfile as apko writes it: 2-space indented JSON and a newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = apko_oci::to_go_json_pretty(self);
        if out.last() != Some(&b'\n') {
            out.push(b'\n');
        }
        out
    }

    /// Checks that the lock was made from `config`. A lock without a configuration checksum
    /// is accepted, as apko does: `Ok(false)` says it could not be checked (worth a warning).
    pub fn check_config(&self, config: &LoadedConfig, file: &str) -> Result<bool, LockError> {
        match self.config.as_ref().filter(|c| !c.checksum.is_empty()) {
            None => Ok(false),
            Some(c) if c.checksum == config_checksum(config) => Ok(true),
            Some(c) => Err(LockError::ConfigChanged {
                file: file.to_owned(),
                config: config.name().to_owned(),
                locked: c.checksum.clone(),
                now: config_checksum(config),
            }),
        }
    }

    /// The locked packages of `arch`, in install order.
    pub fn packages_for(&self, arch: Arch) -> Vec<&LockPackage> {
        self.contents
            .packages
            .iter()
            .filter(|p| p.architecture == arch.apk_name())
            .collect()
    }
}

/// Parses `sha1-<b64>` / `sha256-<b64>` into bytes of the expected length.
pub(crate) fn parse_checksum<const N: usize>(s: &str, algorithm: &str) -> Option<[u8; N]> {
    let b = s.strip_prefix(algorithm)?.strip_prefix('-')?;
    base64::engine::general_purpose::STANDARD
        .decode(b)
        .ok()?
        .try_into()
        .ok()
}

/// The total size from a data range `bytes=a-b`.
pub(crate) fn range_end(r: &str) -> Option<u64> {
    r.strip_prefix("bytes=")?
        .split_once('-')?
        .1
        .parse::<u64>()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_and_checks() {
        let text = br#"{"version":"v1","contents":{"keyring":[],"packages":[{"name":"a","url":"./a.apk","version":"1-r0","architecture":"x86_64","signature":{"range":"","checksum":""},"control":{"range":"bytes=0-9","checksum":"sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA="},"data":{"range":"bytes=10-19","checksum":"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},"checksum":"Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}}"#;
        let lock = Lock::parse(text, "x.lock.json").unwrap();
        assert_eq!(lock.packages_for(Arch::Amd64).len(), 1);
        assert!(lock.packages_for(Arch::Arm64).is_empty());
        assert_eq!(range_end("bytes=10-19"), Some(19));
        assert_eq!(
            parse_checksum::<20>("sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "sha1"),
            Some([0; 20])
        );
        assert!(parse_checksum::<20>("sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "sha1").is_none());
        let old = br#"{"version":"v1","contents":{"keyring":[],"packages":[{"name":"a","url":"./a.apk","version":"1-r0","architecture":"x86_64"}]}}"#;
        let err = Lock::parse(old, "old.lock.json").unwrap_err();
        assert!(err.to_string().contains("before 0.13"), "{err}");
        assert!(Lock::parse(b"{}", "e.json").is_err());
    }
}
