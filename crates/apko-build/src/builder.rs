//! [`Builder`]: each command a short composition of the stages.
//!
//! ```text
//! Session::open ─ resolve ─┬─ fetch ─ Rootfs::build ─ write_layers ─ assemble ─ sbom ─┬─ BuildOutput
//!   (plan, keys)           └────────────── once per architecture ─────────────────────┘   (index)
//! ```

use crate::error::BuildError;
use crate::fetch::{FetchedArch, fetch};
use crate::image::{ArchImage, LayerSettings, assemble, write_layers};
use crate::lock::{Lock, LockConfig, LockContents, config_checksum};
use crate::output::BuildOutput;
use crate::report::{Phase, Reporter, Silent};
use crate::request::{BuildRequest, SourceDateEpoch};
use crate::resolve::{ArchPackages, resolve};
use crate::rootfs::Rootfs;
use crate::session::Session;
use apko_config::Arch;
use std::path::Path;
use std::sync::Arc;

/// Runs builds. Cheap to create; holds the request and where progress goes.
#[derive(Clone)]
pub struct Builder {
    req: BuildRequest,
    reporter: Arc<dyn Reporter>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("req", &self.req)
            .finish_non_exhaustive()
    }
}

/// A package chosen for an architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPackage {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Where it is fetched from.
    pub url: String,
    /// The repository (as configured).
    pub repository: String,
    /// The description (`T:`).
    pub description: String,
    /// The dependencies (`D:`), as the index writes them (`so:libc.so.6`, `busybox>=1.36`).
    pub dependencies: Vec<String>,
    /// What it provides (`p:`), as the index writes it (`cmd:sh=1.36.1-r0`).
    pub provides: Vec<String>,
}

/// The packages of one architecture, as [`Builder::resolve`] finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchResolution {
    /// The architecture.
    pub arch: Arch,
    /// Its packages in install order.
    pub packages: Vec<ResolvedPackage>,
}

impl Builder {
    /// A builder for `req`.
    pub fn new(req: BuildRequest) -> Self {
        Builder {
            req,
            reporter: Arc::new(Silent),
        }
    }

    /// Reports progress and warnings to `reporter`.
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// The request.
    pub fn request(&self) -> &BuildRequest {
        &self.req
    }

    fn session(&self, req: BuildRequest) -> Result<Session, BuildError> {
        Session::open(req, self.reporter.clone())
    }

    /// Builds every architecture.
    pub fn build(&self) -> Result<BuildOutput, BuildError> {
        let s = self.session(self.req.clone())?;
        let archs = resolve_stage(&s)?;
        let mut images = Vec::with_capacity(archs.len());
        for a in &archs {
            let rootfs = rootfs_stage(&s, a)?;
            images.push(image_stage(&s, &rootfs)?);
        }
        let out = s.stage(None, Phase::Oci, 0, || {
            Ok(
                BuildOutput::new(images, &s.plan.config, s.req.tag.clone(), &s.req.sboms())
                    .with_attestations(&s.req),
            )
        })?;
        Ok(out.with_timings(s.timings()))
    }

    /// Resolves every architecture and downloads and verifies every package to record its
    /// segments: the lockfile `apko lock` writes.
    pub fn lock(&self) -> Result<Lock, BuildError> {
        use crate::lock::{keyring_entry, package_entry, repository_entry};
        let s = self.session(self.req.clone())?;
        let archs = resolve_stage(&s)?;
        let mut contents = LockContents {
            keyring: s
                .plan
                .keyring
                .iter()
                .zip(s.repos.keys())
                .map(|(spec, key)| keyring_entry(spec, &key.pem))
                .chain(s.discovered.iter().map(|k| keyring_entry(&k.url, &k.pem)))
                .collect(),
            ..LockContents::default()
        };
        contents.keyring.sort_by(|a, b| a.name.cmp(&b.name));
        let c = &s.plan.config.contents;
        for a in &archs {
            let arch = a.arch.apk_name();
            for e in fetch_stage(&s, a)?.packages {
                contents.packages.push(package_entry(
                    &e.chosen.repo,
                    arch,
                    &e.chosen.info,
                    &e.package.digests,
                ));
            }
            for (list, lock) in [
                (&c.build_repositories, &mut contents.build_repositories),
                (&c.runtime_repositories, &mut contents.runtime_repositories),
                (&c.repositories, &mut contents.repositories),
            ] {
                lock.extend(list.iter().map(|r| repository_entry(r, arch)));
            }
        }
        Ok(Lock {
            version: "v1".to_owned(),
            config: Some(LockConfig {
                name: self.req.config.name().to_owned(),
                checksum: config_checksum(&self.req.config),
            }),
            contents,
        })
    }

    /// Resolves the packages of every architecture without building (`show-packages`,
    /// `dot`).
    pub fn resolve(&self) -> Result<Vec<ArchResolution>, BuildError> {
        let s = self.session(self.req.clone())?;
        Ok(resolve_stage(&s)?
            .into_iter()
            .map(|a| ArchResolution {
                arch: a.arch,
                packages: a
                    .packages
                    .into_iter()
                    .map(|c| ResolvedPackage {
                        name: c.info.name.to_string(),
                        version: c.info.version.to_string(),
                        url: c.url,
                        repository: c.repo.url,
                        dependencies: c.info.depends.iter().map(ToString::to_string).collect(),
                        provides: c.info.provides.iter().map(ToString::to_string).collect(),
                        description: c.info.description,
                    })
                    .collect(),
            })
            .collect())
    }

    /// Builds one architecture's filesystem and writes it as a tar (gzip'd when `out` ends in
    /// `.gz`) — `apko build-minirootfs`.
    pub fn build_minirootfs(&self, arch: Arch, out: &Path) -> Result<(), BuildError> {
        self.build_rootfs_archive(arch, out, false)
    }

    /// Builds one architecture's filesystem as a `newc` cpio archive (an initramfs; gzip'd
    /// when `out` ends in `.gz`) — `apko build-cpio`.
    pub fn build_cpio(&self, arch: Arch, out: &Path) -> Result<(), BuildError> {
        self.build_rootfs_archive(arch, out, true)
    }

    fn build_rootfs_archive(&self, arch: Arch, out: &Path, cpio: bool) -> Result<(), BuildError> {
        let mut req = self.req.clone();
        req.archs = Some(vec![arch]);
        let s = self.session(req)?;
        let archs = resolve_stage(&s)?;
        let rootfs = rootfs_stage(&s, &archs[0])?;
        let opts = apko_fs::LayerOptions {
            users: rootfs.ids.user_names.clone(),
            groups: rootfs.ids.group_names.clone(),
            threads: s.req.jobs,
            compression_level: s.req.compression_level.unwrap_or(6),
            ..apko_fs::LayerOptions::default()
        };
        let gzip = out.extension().is_some_and(|e| e == "gz");
        s.stage(Some(arch), Phase::Layer, 0, || {
            apko_oci::write_atomically(out, |file| {
                use std::io::Write as _;
                let w = std::io::BufWriter::new(file);
                let flush =
                    |mut w: std::io::BufWriter<_>| w.flush().map_err(apko_fs::FsError::Write);
                let written = match (cpio, gzip) {
                    (false, true) => {
                        apko_fs::write_layer(&rootfs.tree, &opts, w).and_then(|(_, w)| flush(w))
                    }
                    (false, false) => apko_fs::write_tar(&rootfs.tree, &opts, w).map(|_| ()),
                    (true, true) => apko_fs::compress(
                        w,
                        opts.compression_level,
                        opts.block_size,
                        opts.threads,
                        |g| {
                            let mut bw = std::io::BufWriter::with_capacity(1 << 20, g);
                            apko_fs::write_cpio(&rootfs.tree, &mut bw)?;
                            bw.flush().map_err(apko_fs::FsError::Write)
                        },
                    )
                    .and_then(|(w, _)| flush(w)),
                    (true, false) => {
                        let mut w = w;
                        apko_fs::write_cpio(&rootfs.tree, &mut w).and_then(|()| flush(w))
                    }
                };
                written.map_err(|source| {
                    crate::rootfs::RootfsError::Fs {
                        context: "writing the rootfs".to_owned(),
                        source,
                    }
                    .into()
                })
            })
        })
    }
}

/// Stage 1 with its progress: one step per (architecture, repository) index.
fn resolve_stage(s: &Session) -> Result<Vec<ArchPackages>, BuildError> {
    let total = (s.plan.archs.len() * s.plan.build_repos.len()) as u64;
    s.stage(None, Phase::Resolve, total, || resolve(s))
}

/// Stage 2 with its progress: one step per package.
fn fetch_stage(s: &Session, a: &ArchPackages) -> Result<FetchedArch, BuildError> {
    let fetched = s.stage(Some(a.arch), Phase::Expand, a.packages.len() as u64, || {
        fetch(s, a)
    })?;
    s.record(a.arch.apk_name(), Phase::Fetch, fetched.fetch_time);
    Ok(fetched)
}

/// Stages 2 and 3: the packages fetched and installed, and every rootfs step run.
fn rootfs_stage(s: &Session, a: &ArchPackages) -> Result<Rootfs, BuildError> {
    let fetched = fetch_stage(s, a)?;
    let build_date = build_date(&s.req, &fetched)?;
    let rootfs = s.stage(Some(a.arch), Phase::Install, 0, || {
        Ok(Rootfs::build(
            a.arch,
            &s.plan.config,
            s.repos.keys().to_vec(),
            build_date,
            fetched.packages,
            a.base.clone(),
        )?)
    })?;
    for w in &rootfs.warnings {
        s.warn(w);
    }
    Ok(rootfs)
}

/// The layers' compression and level: the request's, else the configuration's, else gzip 6
/// (zstd: 3).
pub(crate) fn layer_compression(
    req: &BuildRequest,
    config: &apko_config::ImageConfig,
) -> (apko_fs::Compression, u32) {
    match req.compression.or(config.compression).unwrap_or_default() {
        apko_config::LayerCompression::Gzip => (
            apko_fs::Compression::Gzip,
            req.compression_level.unwrap_or(6),
        ),
        apko_config::LayerCompression::Zstd => (
            apko_fs::Compression::Zstd,
            req.compression_level.unwrap_or(3),
        ),
    }
}

/// Stages 4 and 5: layers written, config and manifest assembled, SBOM.
fn image_stage(s: &Session, rootfs: &Rootfs) -> Result<ArchImage, BuildError> {
    let (compression, level) = layer_compression(&s.req, &s.plan.config);
    let settings = LayerSettings {
        threads: s.req.jobs.max(1),
        level,
        compression,
    };
    let cache = s
        .req
        .build_cache_dir()
        .map(|d| crate::image::LayerCache::new(d.join("layers")));
    let verified = std::sync::Mutex::new(std::collections::HashSet::new());
    let sources = crate::image::Sources {
        cache: cache.as_ref(),
        warn: &|m| s.warn(m),
        prepare: &|src| crate::fetch::prepare_sources(s, rootfs, src, &verified),
    };
    let mut image = s.stage(Some(rootfs.arch), Phase::Layer, 0, || {
        let layers = write_layers(rootfs, &s.plan.config, settings, &s.work, &sources)?;
        assemble(rootfs, layers, &s.plan.config)
    })?;
    let formats = s.req.sboms();
    if !formats.is_empty() {
        let sboms = s.stage(Some(rootfs.arch), Phase::Sbom, 0, || {
            Ok(crate::sbom::image(rootfs, &image, &s.req.tag, &formats))
        })?;
        image.sbom = sboms.spdx;
        image.cyclonedx = sboms.cyclonedx;
    }
    Ok(image)
}

/// apko's build date: `SOURCE_DATE_EPOCH` when set; otherwise the newest package build date,
/// with `--build-date` as a floor. (Set but empty: `--build-date` or 0.) A date RFC 3339
/// cannot write (outside years 0000–9999) is refused, naming where it came from.
fn build_date(req: &BuildRequest, fetched: &FetchedArch) -> Result<i64, BuildError> {
    let check = |value: i64, origin: String| {
        if apko_oci::rfc3339_representable(value) {
            Ok(value)
        } else {
            Err(BuildError::BuildDate { value, origin })
        }
    };
    let floor = match req.build_date {
        Some(d) => check(d, "--build-date".to_owned())?,
        None => 0,
    };
    match req.source_date_epoch {
        SourceDateEpoch::Set(v) => check(v, "SOURCE_DATE_EPOCH".to_owned()),
        SourceDateEpoch::Empty => Ok(floor),
        SourceDateEpoch::Unset => {
            let mut date = floor;
            for e in &fetched.packages {
                if let Some(t) = e.package.control.info.build_time {
                    let t = check(
                        i64::try_from(t).unwrap_or(i64::MAX),
                        format!(
                            "the builddate of package `{}`",
                            e.chosen.info.name_version()
                        ),
                    )?;
                    date = date.max(t);
                }
            }
            Ok(date)
        }
    }
}
