//! What to build, and how.

use apko_apk::package::Limits;
use apko_config::{Arch, LoadedConfig};
use apko_oci::Reference;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr;

/// The most parallel jobs a build uses: threads are cheap but not free (each has a stack and
/// the downloads open connections), and far more than the cores gains nothing.
pub const MAX_JOBS: usize = 256;

/// `SOURCE_DATE_EPOCH` as the caller found it in the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceDateEpoch {
    /// Not set: the build date is the newest package build date (or `--build-date`).
    #[default]
    Unset,
    /// Set but empty: package build dates are ignored (apko's behaviour).
    Empty,
    /// Set: the build date.
    Set(i64),
}

impl SourceDateEpoch {
    /// Parses the variable's value (`None` when unset); anything but an integer is an error.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None => Ok(SourceDateEpoch::Unset),
            Some(v) if v.trim().is_empty() => Ok(SourceDateEpoch::Empty),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(SourceDateEpoch::Set)
                .map_err(|_| format!("SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, found `{v}`")),
        }
    }
}

/// An SBOM format (`--sbom-formats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SbomFormat {
    /// SPDX 2.3 JSON: `sbom-<arch>.spdx.json`, `sbom-index.spdx.json`.
    Spdx,
    /// CycloneDX 1.6 JSON: `sbom-<arch>.cdx.json`, `sbom-index.cdx.json`.
    CycloneDx,
}

impl SbomFormat {
    /// Every format.
    pub const ALL: [SbomFormat; 2] = [SbomFormat::Spdx, SbomFormat::CycloneDx];

    /// The name `--sbom-formats` takes (`spdx`, `cyclonedx`).
    pub fn name(self) -> &'static str {
        match self {
            SbomFormat::Spdx => "spdx",
            SbomFormat::CycloneDx => "cyclonedx",
        }
    }

    /// The file name extension of its documents (`spdx.json`, `cdx.json`).
    pub fn extension(self) -> &'static str {
        match self {
            SbomFormat::Spdx => "spdx.json",
            SbomFormat::CycloneDx => "cdx.json",
        }
    }
}

impl FromStr for SbomFormat {
    type Err = UnknownSbomFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SbomFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownSbomFormat { name: s.to_owned() })
    }
}

/// A name that is not an [`SbomFormat`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SBOM format `{name}`: expected `spdx` or `cyclonedx`")]
pub struct UnknownSbomFormat {
    /// The name given.
    pub name: String,
}

/// Everything a build needs besides the configuration file.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The loaded configuration.
    pub config: LoadedConfig,
    /// Relative repository and key paths are resolved against this directory.
    pub base_dir: PathBuf,
    /// The image reference (`repo/img:tag`), used for tarball tags and SBOM purls.
    pub tag: Reference,
    /// `--arch`: overrides the configuration's `archs`.
    pub archs: Option<Vec<Arch>>,
    /// `--build-date`: a floor for the build date (seconds since the epoch).
    pub build_date: Option<i64>,
    /// `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: SourceDateEpoch,
    /// `-k`: extra keys.
    pub extra_keyring: Vec<String>,
    /// `-r`: extra repositories.
    pub extra_repositories: Vec<String>,
    /// `-b`: extra build-only repositories.
    pub extra_build_repositories: Vec<String>,
    /// `-p`: extra packages.
    pub extra_packages: Vec<String>,
    /// `--annotations`: win over the configuration's.
    pub annotations: BTreeMap<String, String>,
    /// Download cache. With [`BuildRequest::build_cache`], it also keeps expanded packages
    /// (`apko-rs/expanded/`) and compressed layers (`apko-rs/layers/`): docs/cache.md.
    pub cache_dir: Option<PathBuf>,
    /// Keep expanded packages and layers in the cache directory, so that a rebuild neither
    /// decompresses unchanged packages nor recompresses unchanged layers (default on; the
    /// output is the same bytes either way).
    pub build_cache: bool,
    /// Remote files only from the cache.
    pub offline: bool,
    /// Do not verify index signatures (loudly).
    pub ignore_signatures: bool,
    /// Produce SBOMs.
    pub sbom: bool,
    /// `--sbom-formats`: which documents to produce when `sbom` is set (default SPDX only).
    pub sbom_formats: BTreeSet<SbomFormat>,
    /// Parallel downloads and compression threads (1 to [`MAX_JOBS`]; values outside are
    /// clamped).
    pub jobs: usize,
    /// Compression level of the layers: gzip 0–9, zstd 1–19; `None`: 6 for gzip, 3 for zstd.
    pub compression_level: Option<u32>,
    /// Layer format; `None`: the configuration's `format`, else tar (`--format`).
    pub format: Option<apko_config::ImageFormat>,
    /// Layer compression; `None`: the configuration's `compression`, else gzip.
    pub compression: Option<apko_config::LayerCompression>,
    /// Size limits for indexes and packages.
    pub limits: Limits,
    /// Largest HTTP response accepted (default 8 GiB).
    pub max_http_response_size: u64,
    /// Deadline of each whole HTTP request (default 15 minutes; `None`: none).
    pub http_timeout: Option<std::time::Duration>,
    /// Install exactly these packages instead of resolving (`--lockfile`).
    pub lock: Option<crate::lock::Lock>,
    /// `User-Agent` of HTTP requests.
    pub user_agent: String,
    /// Repository credentials by host (`HTTP_AUTH`); sent only to their host, never written
    /// into the image, the lockfile or a message.
    pub http_credentials: Vec<apko_apk::source::HostCredentials>,
    /// Alpine's `releases.json`, for discovering the keys of Alpine repositories when no key
    /// is configured (default `https://alpinelinux.org/releases.json`; a mirror may be named).
    pub alpine_releases_url: String,
    /// Where expanded packages and layers are kept during the build (a temporary directory
    /// by default).
    pub work_dir: Option<PathBuf>,
    /// `--provenance`: make the SLSA provenance v1 statement of the build (docs/sbom.md).
    pub provenance: bool,
    /// `--sign-key`: sign every image SBOM and the provenance as DSSE envelopes.
    pub signing_key: Option<apko_sbom::dsse::SigningKey>,
}

impl BuildRequest {
    /// A request with defaults for everything but the configuration.
    pub fn new(config: LoadedConfig, base_dir: PathBuf, tag: Reference) -> Self {
        BuildRequest {
            config,
            base_dir,
            tag,
            archs: None,
            build_date: None,
            source_date_epoch: SourceDateEpoch::Unset,
            extra_keyring: Vec::new(),
            extra_repositories: Vec::new(),
            extra_build_repositories: Vec::new(),
            extra_packages: Vec::new(),
            annotations: BTreeMap::new(),
            cache_dir: None,
            build_cache: true,
            offline: false,
            ignore_signatures: false,
            sbom: true,
            sbom_formats: BTreeSet::from([SbomFormat::Spdx]),
            jobs: 4,
            compression_level: None,
            compression: None,
            format: None,
            limits: Limits::default(),
            max_http_response_size: 8 << 30,
            http_timeout: Some(std::time::Duration::from_mins(15)),
            lock: None,
            user_agent: concat!("apko-rs/", env!("CARGO_PKG_VERSION")).to_owned(),
            http_credentials: Vec::new(),
            alpine_releases_url: apko_apk::discovery::ALPINE_RELEASES_URL.to_owned(),
            work_dir: None,
            provenance: false,
            signing_key: None,
        }
    }

    /// Where the build cache is (`<cache dir>/apko-rs`), if there is one.
    pub fn build_cache_dir(&self) -> Option<PathBuf> {
        self.cache_dir
            .as_ref()
            .filter(|_| self.build_cache)
            .map(|d| d.join("apko-rs"))
    }

    /// The SBOM formats this request produces: [`BuildRequest::sbom_formats`], or none when
    /// [`BuildRequest::sbom`] is off.
    pub fn sboms(&self) -> BTreeSet<SbomFormat> {
        if self.sbom {
            self.sbom_formats.clone()
        } else {
            BTreeSet::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbom_format_names() {
        for f in SbomFormat::ALL {
            assert_eq!(f.name().parse::<SbomFormat>(), Ok(f));
        }
        assert_eq!(SbomFormat::CycloneDx.extension(), "cdx.json");
        let e = "CycloneDX".parse::<SbomFormat>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown SBOM format `CycloneDX`: expected `spdx` or `cyclonedx`"
        );
    }
}
