//! The pipeline, end to end.

use crate::error::BuildError;
use crate::image::{ArchImage, ImageInputs, locked_config, make_image};
use crate::install::{Ids, ensure_devices, init_db, install_packages, link_lib_apk, write_db};
use crate::plan::{Plan, annotations, plan};
use crate::post;
use crate::report::{Phase, Reporter, Silent};
use crate::request::{BuildRequest, SourceDateEpoch};
use crate::sources::{
    ArchPackages, Expanded, KeyFile, choose, fetch_and_expand, fetcher, load_keys,
};
use apko_apk::source::Fetcher;
use apko_config::Arch;
use apko_fs::FsTree;
use apko_oci::{
    Blob, Digest, ImageBlobs, Index, MEDIA_TYPE_INDEX, Reference, rfc3339, to_go_json,
    to_go_json_pretty,
};
use apko_sbom::{ImageSbom, IndexSbom, OsRelease};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
}

/// Time spent in a phase.
#[derive(Debug, Clone)]
pub struct Timing {
    /// The apk architecture (empty for phases shared by all).
    pub arch: String,
    /// The phase.
    pub phase: Phase,
    /// Wall time.
    pub duration: Duration,
}

/// What [`BuildOutput::publish`] pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// `registry/repository@sha256:…` of the index.
    pub index: String,
    /// The same for each architecture's image, in index order.
    pub images: Vec<String>,
}

/// A finished build: one image per architecture and the index over them, ready to be
/// written as an OCI layout or a docker tarball.
#[derive(Debug)]
pub struct BuildOutput {
    /// The images, sorted by architecture.
    pub images: Vec<ArchImage>,
    /// The index JSON.
    pub index_json: Vec<u8>,
    /// The index SPDX document, serialised.
    pub index_sbom: Option<Vec<u8>>,
    /// Where the time went.
    pub timings: Vec<Timing>,
    reference: Reference,
    _work: Option<tempfile::TempDir>,
}

impl Builder {
    /// A builder for `req`.
    pub fn new(req: BuildRequest) -> Self {
        Builder {
            req,
            reporter: Arc::new(Silent),
        }
    }

    /// Reports progress to `reporter`.
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// The request.
    pub fn request(&self) -> &BuildRequest {
        &self.req
    }

    /// Resolves every architecture and downloads and verifies every package to record its
    /// segments: the lockfile `apko lock` writes.
    pub fn lock(&self) -> Result<crate::lock::Lock, BuildError> {
        use crate::lock::{
            Lock, LockConfig, LockContents, config_checksum, keyring_entry, package_entry,
            repository_entry,
        };
        let (_work, work_path) = self.work_dir()?;
        let (plan, fetcher, keys, keyring) = self.prepare()?;
        let archs =
            crate::sources::resolve(&self.req, &plan, &fetcher, &keyring, self.reporter.as_ref())?;
        let mut contents = LockContents {
            keyring: plan
                .keyring
                .iter()
                .zip(&keys)
                .map(|(spec, key)| keyring_entry(spec, &key.pem))
                .collect(),
            ..LockContents::default()
        };
        contents.keyring.sort_by(|a, b| a.name.cmp(&b.name));
        let c = &plan.config.contents;
        for a in &archs {
            let arch = a.arch.apk_name();
            let (expanded, _) =
                fetch_and_expand(&self.req, &fetcher, a, &work_path, self.reporter.as_ref())?;
            for e in &expanded {
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

    /// Resolves the packages of every architecture without building (`show-packages`).
    pub fn resolve(&self) -> Result<Vec<(Arch, Vec<ResolvedPackage>)>, BuildError> {
        let (plan, fetcher, _, keyring) = self.prepare()?;
        let archs = choose(&self.req, &plan, &fetcher, &keyring, self.reporter.as_ref())?;
        Ok(archs
            .into_iter()
            .map(|a| {
                let pkgs = a
                    .packages
                    .iter()
                    .map(|c| ResolvedPackage {
                        name: c.info.name.to_string(),
                        version: c.info.version.to_string(),
                        url: c.url.clone(),
                        repository: c.repo.url.clone(),
                    })
                    .collect();
                (a.arch, pkgs)
            })
            .collect())
    }

    /// Builds every architecture.
    pub fn build(&self) -> Result<BuildOutput, BuildError> {
        // The reference names tarball tags and SBOM purls: refuse a bad one before working.
        let reference = parse_reference(&self.req.tag)?;
        let (work, work_path) = self.work_dir()?;
        let mut timings = Vec::new();
        let t = Instant::now();
        let (plan, fetcher, keys, keyring) = self.prepare()?;
        self.reporter.start(
            "",
            Phase::Resolve,
            (plan.archs.len() * plan.build_repos.len()) as u64,
        );
        let archs = choose(&self.req, &plan, &fetcher, &keyring, self.reporter.as_ref())?;
        self.reporter.finish("", Phase::Resolve);
        timings.push(Timing {
            arch: String::new(),
            phase: Phase::Resolve,
            duration: t.elapsed(),
        });
        let mut images = Vec::new();
        for a in &archs {
            let (img, mut t) =
                self.build_arch(&plan, &keys, a, &fetcher, &work_path, &reference)?;
            timings.append(&mut t);
            images.push(img);
        }
        let t = Instant::now();
        let created = images.iter().map(|i| i.created).max().unwrap_or(0);
        let index = Index {
            schema_version: 2,
            media_type: MEDIA_TYPE_INDEX.into(),
            manifests: images.iter().map(|i| i.manifest.0.clone()).collect(),
            annotations: annotations(&plan.config, &rfc3339(created)),
        };
        let index_json = to_go_json(&index);
        timings.push(Timing {
            arch: String::new(),
            phase: Phase::Oci,
            duration: t.elapsed(),
        });
        let index_sbom = self.req.sbom.then(|| {
            let vcs = plan
                .config
                .vcs_url
                .as_ref()
                .and_then(|v| v.rsplit_once('@'))
                .map(|(u, r)| (u.to_owned(), r.to_owned()));
            to_go_json_pretty(&apko_sbom::index_sbom(&IndexSbom {
                index_digest: Digest::of(&index_json).to_string(),
                images: images
                    .iter()
                    .map(|i| {
                        (
                            i.arch.oci_name().to_owned(),
                            i.manifest.0.digest.to_string(),
                        )
                    })
                    .collect(),
                repository: repo_name(&reference),
                created: rfc3339(created),
                tool: tool(),
                vcs,
            }))
        });
        Ok(BuildOutput {
            images,
            index_json,
            index_sbom,
            timings,
            reference,
            _work: work,
        })
    }

    /// Builds one architecture's filesystem and writes it as a tar (gzip'd when `path` ends in
    /// `.gz`) — `apko build-minirootfs`.
    pub fn build_minirootfs(&self, arch: Arch, out: &Path) -> Result<(), BuildError> {
        let mut req = self.req.clone();
        req.archs = Some(vec![arch]);
        let me = Builder {
            req,
            reporter: self.reporter.clone(),
        };
        let (_work, work_path) = me.work_dir()?;
        let (plan, fetcher, keys, keyring) = me.prepare()?;
        let archs = choose(&me.req, &plan, &fetcher, &keyring, me.reporter.as_ref())?;
        let (fs, ids, _) = me.build_tree(&plan, &keys, &archs[0], &fetcher, &work_path)?;
        let opts = apko_fs::LayerOptions {
            users: ids.user_names,
            groups: ids.group_names,
            threads: me.req.jobs,
            compression_level: me.req.compression_level,
            ..apko_fs::LayerOptions::default()
        };
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".apko-rootfs-")
            .tempfile_in(dir)
            .map_err(|source| BuildError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        let w = std::io::BufWriter::new(tmp.as_file());
        if out.extension().is_some_and(|e| e == "gz") {
            apko_fs::write_layer(&fs, &opts, w).map_err(BuildError::fs("writing the rootfs"))?;
        } else {
            apko_fs::write_tar(&fs, &opts, w).map_err(BuildError::fs("writing the rootfs"))?;
        }
        apko_oci::set_readable(tmp.path())?;
        tmp.persist(out).map_err(|e| BuildError::Io {
            path: out.display().to_string(),
            source: e.error,
        })?;
        Ok(())
    }

    /// What every command starts from: the plan, a fetcher, and the keys (files and keyring).
    fn prepare(
        &self,
    ) -> Result<(Plan, Fetcher, Vec<KeyFile>, apko_apk::keys::Keyring), BuildError> {
        let plan = plan(&self.req)?;
        let fetcher = fetcher(&self.req);
        let (keys, keyring) = load_keys(&self.req, &plan, &fetcher)?;
        Ok((plan, fetcher, keys, keyring))
    }

    fn work_dir(&self) -> Result<(Option<tempfile::TempDir>, PathBuf), BuildError> {
        match &self.req.work_dir {
            Some(d) => {
                fs_err::create_dir_all(d).map_err(|source| BuildError::Io {
                    path: d.display().to_string(),
                    source,
                })?;
                Ok((None, d.clone()))
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("apko-build-")
                    .tempdir()
                    .map_err(|source| BuildError::Io {
                        path: "the temporary directory".to_owned(),
                        source,
                    })?;
                let p = t.path().to_owned();
                Ok((Some(t), p))
            }
        }
    }

    fn time<T>(
        &self,
        timings: &mut Vec<Timing>,
        arch: &str,
        phase: Phase,
        f: impl FnOnce() -> T,
    ) -> T {
        let t = Instant::now();
        let r = f();
        timings.push(Timing {
            arch: arch.to_owned(),
            phase,
            duration: t.elapsed(),
        });
        self.reporter.finish(arch, phase);
        r
    }

    /// Builds the filesystem of one architecture. Returns it with the account names (for tar
    /// headers) and timings; the installed packages and build date are in the returned tree's
    /// companion values.
    fn build_tree(
        &self,
        plan: &Plan,
        keys: &[KeyFile],
        a: &ArchPackages,
        fetcher: &Fetcher,
        work: &Path,
    ) -> Result<(FsTree, Ids, TreeInfo), BuildError> {
        let arch = a.arch.apk_name();
        let mut timings = Vec::new();
        self.reporter
            .start(arch, Phase::Fetch, a.packages.len() as u64);
        let (expanded, fetching) = self.time(&mut timings, arch, Phase::Expand, || {
            fetch_and_expand(&self.req, fetcher, a, work, self.reporter.as_ref())
        })?;
        timings.push(Timing {
            arch: arch.to_owned(),
            phase: Phase::Fetch,
            duration: fetching,
        });
        let bde = build_date(&self.req, &expanded);
        self.reporter
            .start(arch, Phase::Install, expanded.len() as u64);
        let t = Instant::now();
        let mut fs = FsTree::new();
        init_db(&mut fs, arch, keys, bde)?;
        let installed = install_packages(&mut fs, &expanded)?;
        let db = write_db(&mut fs, &installed)?;
        link_lib_apk(&mut fs)?;
        let c = &plan.config;
        let run_as = post::accounts(&mut fs, c)?;
        let mut world: Vec<String> = expanded
            .iter()
            .map(|e| {
                let i = &e.chosen.info;
                match &e.chosen.tag {
                    Some(t) => format!("{}@{t}={}", i.name, i.version),
                    None => format!("{}={}", i.name, i.version),
                }
            })
            .collect();
        world.sort();
        post::write_owned(
            &mut fs,
            "etc/apko.json",
            &String::from_utf8_lossy(&locked_config(c, a.arch, &world, run_as.as_ref())),
            0o444,
        )?;
        post::paths(&mut fs, c)?;
        let provider_files = certificate_files(&fs, &expanded, c);
        post::certificates(&mut fs, c, &provider_files, bde)?;
        post::runtime_keyring(&mut fs, c, bde)?;
        post::services(&mut fs, c)?;
        let names: Vec<(String, Vec<String>)> = expanded
            .iter()
            .map(|e| {
                let i = &e.package.control.info;
                (
                    i.name.to_string(),
                    i.provides.iter().map(|p| p.name.to_string()).collect(),
                )
            })
            .collect();
        post::busybox(&mut fs, &names)?;
        ensure_devices(&mut fs)?;
        crate::ldso::generate(&mut fs, a.arch, &mut |msg| {
            self.reporter.warn(&msg);
            tracing::warn!("{msg}");
        })?;
        let mut repos: Vec<String> = c.contents.repositories.clone();
        for r in &c.contents.runtime_repositories {
            if !repos.contains(r) {
                repos.push(r.clone());
            }
        }
        // Credentials used to build are not shipped in the image.
        let repos: Vec<String> = repos
            .iter()
            .map(|r| apko_apk::source::strip_credentials(r))
            .collect();
        let repo_text: String = repos.iter().map(|r| format!("{r}\n")).collect();
        post::write_owned(&mut fs, "etc/apk/repositories", &repo_text, 0o644)?;
        let world_text: String = world.iter().map(|w| format!("{w}\n")).collect();
        post::write_owned(&mut fs, "etc/apk/world", &world_text, 0o644)?;
        timings.push(Timing {
            arch: arch.to_owned(),
            phase: Phase::Install,
            duration: t.elapsed(),
        });
        self.reporter.finish(arch, Phase::Install);
        let ids = Ids::read(&fs);
        let packages = db.packages.iter().map(|r| r.info.clone()).collect();
        Ok((
            fs,
            ids,
            TreeInfo {
                packages,
                db,
                created: bde,
                run_as,
                timings,
            },
        ))
    }

    fn build_arch(
        &self,
        plan: &Plan,
        keys: &[KeyFile],
        a: &ArchPackages,
        fetcher: &Fetcher,
        work: &Path,
        reference: &Reference,
    ) -> Result<(ArchImage, Vec<Timing>), BuildError> {
        let arch = a.arch.apk_name();
        let (fs, ids, mut info) = self.build_tree(plan, keys, a, fetcher, work)?;
        let mut timings = std::mem::take(&mut info.timings);
        self.reporter.start(arch, Phase::Layer, 0);
        let made = self.time(&mut timings, arch, Phase::Layer, || {
            make_image(
                &fs,
                &ids,
                &ImageInputs {
                    arch: a.arch,
                    config: &plan.config,
                    run_as: info.run_as.clone(),
                    created: info.created,
                    threads: self.req.jobs.max(1),
                    level: self.req.compression_level,
                    groups: layer_groups(plan, &info),
                },
                work,
            )
        })?;
        let crate::image::MadeImage {
            layers,
            config,
            manifest,
        } = made;
        let sbom = if self.req.sbom {
            self.time(&mut timings, arch, Phase::Sbom, || {
                let os = fs
                    .read_path("etc/os-release")
                    .map(|b| OsRelease::parse(&String::from_utf8_lossy(&b)))
                    .unwrap_or_default();
                let doc = apko_sbom::image_sbom(&ImageSbom {
                    image_digest: manifest.0.digest.to_string(),
                    layer_digests: layers.iter().map(|l| l.blob.digest()).collect(),
                    repository: repo_name(reference),
                    oci_arch: a.arch.oci_name().to_owned(),
                    apk_arch: arch.to_owned(),
                    os,
                    packages: info.packages.iter().collect(),
                    created: rfc3339(info.created),
                    tool: tool(),
                });
                Some(to_go_json_pretty(&doc))
            })
        } else {
            None
        };
        Ok((
            ArchImage {
                arch: a.arch,
                packages: info.packages,
                layers,
                config,
                manifest,
                created: info.created,
                sbom,
            },
            timings,
        ))
    }
}

/// The package layers of `layering` (none without it): package indices, names, and the
/// installed-database records of each layer's packages.
fn layer_groups(plan: &Plan, info: &TreeInfo) -> Vec<(Vec<usize>, Vec<String>, Vec<u8>)> {
    let Some(l) = plan
        .config
        .layering
        .as_ref()
        .filter(|l| apko_config::Layering::is_enabled(l))
    else {
        return Vec::new();
    };
    let infos: Vec<&apko_apk::info::PackageInfo> = info.packages.iter().collect();
    crate::layering::groups(&infos, l.budget.unwrap_or(0))
        .into_iter()
        .map(|g| {
            let names = g
                .iter()
                .map(|&i| info.packages[i].name.to_string())
                .collect();
            let db = apko_apk::installed::InstalledDb {
                packages: g.iter().map(|&i| info.db.packages[i].clone()).collect(),
            };
            (g, names, db.write().into_bytes())
        })
        .collect()
}

struct TreeInfo {
    packages: Vec<apko_apk::info::PackageInfo>,
    /// The installed database, records in install order.
    db: apko_apk::installed::InstalledDb,
    created: i64,
    run_as: Option<String>,
    timings: Vec<Timing>,
}

fn tool() -> String {
    concat!("apko-rs (", env!("CARGO_PKG_VERSION"), ")").to_owned()
}

/// The last path component of the image reference, for purls.
fn repo_name(reference: &Reference) -> String {
    let r = &reference.repository;
    r.rsplit('/').next().unwrap_or(r).to_owned()
}

/// apko's build date: `SOURCE_DATE_EPOCH` when set; otherwise the newest package build date,
/// with `--build-date` as a floor. (Set but empty: `--build-date` or 0.)
fn build_date(req: &BuildRequest, expanded: &[Expanded]) -> i64 {
    let floor = req.build_date.unwrap_or(0);
    match req.source_date_epoch {
        SourceDateEpoch::Set(v) => v,
        SourceDateEpoch::Empty => floor,
        SourceDateEpoch::Unset => expanded
            .iter()
            .filter_map(|e| e.package.control.info.build_time)
            .map(|t| i64::try_from(t).unwrap_or(i64::MAX))
            .fold(floor, i64::max),
    }
}

/// Certificates of packages that provide one of `certificates.providers`.
fn certificate_files(
    fs: &FsTree,
    expanded: &[Expanded],
    c: &apko_config::ImageConfig,
) -> Vec<(String, Vec<u8>)> {
    let Some(certs) = &c.certificates else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in expanded {
        let info = &e.package.control.info;
        if !info
            .provides
            .iter()
            .any(|p| certs.providers.iter().any(|want| p.name.as_str() == want))
        {
            continue;
        }
        for entry in &e.package.entries {
            if entry.path.starts_with("usr/local/share/ca-certificates/")
                && (entry.path.ends_with(".crt") || entry.path.ends_with(".pem"))
                && let Ok(data) = fs.read_path(&entry.path)
            {
                out.push((entry.path.clone(), data));
            }
        }
    }
    out
}

fn parse_reference(tag: &str) -> Result<Reference, BuildError> {
    tag.parse().map_err(|e: apko_oci::ParseReferenceError| {
        BuildError::invalid(
            e.to_string(),
            Some("use a reference like `registry.example/repo/image:tag`"),
        )
    })
}

impl BuildOutput {
    /// The digest of the index.
    pub fn index_digest(&self) -> Digest {
        Digest::of(&self.index_json)
    }

    fn blobs(&self, tag: Option<&Reference>) -> Vec<ImageBlobs> {
        self.images
            .iter()
            .map(|i| {
                let (arch, variant) = i.arch.oci_platform();
                let suffix = match variant {
                    Some(v) => format!("{arch}-{v}"),
                    None => arch.to_owned(),
                };
                ImageBlobs {
                    manifest: i.manifest.clone(),
                    config: i.config.clone(),
                    layers: i
                        .layers
                        .iter()
                        .map(|l| (l.descriptor(), Blob::File(l.path.clone())))
                        .collect(),
                    repo_tags: tag
                        .map(|t| vec![t.with_tag(&format!("{}-{suffix}", t.tag)).to_string()])
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    /// Writes an OCI image layout into `dir` (created if needed).
    pub fn write_layout(&self, dir: &Path) -> Result<(), BuildError> {
        apko_oci::write_layout(dir, &self.index_json, &self.blobs(None))?;
        Ok(())
    }

    /// Writes a `docker load`-able tarball at `path`, tagging each image `<tag>-<arch>`.
    pub fn write_tarball(&self, path: &Path) -> Result<(), BuildError> {
        apko_oci::write_docker_tarball(path, &self.index_json, &self.blobs(Some(&self.reference)))?;
        Ok(())
    }

    #[cfg(feature = "http")]
    /// Pushes the images and the index to a registry, as `apko publish` does: every image
    /// (blobs, then its manifest by digest) to each repository named in `tags`, then the index
    /// to every tag. Returns the index reference (`registry/repo@sha256:…`, for the first tag)
    /// and the image references.
    pub fn publish(
        &self,
        registry: &dyn apko_oci::registry::Registry,
        tags: &[String],
        jobs: usize,
    ) -> Result<Published, BuildError> {
        use apko_oci::registry::Repository;
        let refs: Vec<Reference> = tags
            .iter()
            .map(|t| parse_reference(t))
            .collect::<Result<_, _>>()?;
        let Some(first) = refs.first() else {
            return Err(BuildError::invalid("no tag to publish to", None));
        };
        let mut repos: Vec<Repository> = refs
            .iter()
            .map(|r| Repository {
                registry: r.registry.clone(),
                name: r.repository.clone(),
            })
            .collect();
        repos.sort();
        repos.dedup();
        let blobs = self.blobs(None);
        let err = |target: String| move |source| BuildError::Publish { target, source };
        for repo in &repos {
            // Images in parallel; each pushes its layers, config and manifest.
            let results: Vec<Result<Digest, BuildError>> = std::thread::scope(|s| {
                let chunks = blobs.chunks(blobs.len().div_ceil(jobs.max(1)).max(1));
                let handles: Vec<_> = chunks
                    .map(|chunk| {
                        s.spawn(move || {
                            chunk
                                .iter()
                                .map(|img| {
                                    registry
                                        .push_image(repo, img)
                                        .map_err(err(repo.to_string()))
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("publishing threads do not panic"))
                    .collect()
            });
            for r in results {
                r?;
            }
        }
        for r in &refs {
            let repo = Repository {
                registry: r.registry.clone(),
                name: r.repository.clone(),
            };
            registry
                .push_manifest(&repo, &r.tag, MEDIA_TYPE_INDEX, &self.index_json)
                .map_err(err(r.to_string()))?;
        }
        let at = |digest: &Digest| format!("{}/{}@{digest}", first.registry, first.repository);
        Ok(Published {
            index: at(&self.index_digest()),
            images: self
                .images
                .iter()
                .map(|i| at(&i.manifest.0.digest))
                .collect(),
        })
    }

    /// Writes `sbom-<arch>.spdx.json` for every image and `sbom-index.spdx.json` into `dir`;
    /// returns the files written.
    pub fn write_sboms(&self, dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
        let mut written = Vec::new();
        let io = |path: &Path| {
            let path = path.display().to_string();
            move |source| BuildError::Io { path, source }
        };
        fs_err::create_dir_all(dir).map_err(io(dir))?;
        let mut put = |name: String, data: &[u8]| -> Result<(), BuildError> {
            let p = dir.join(name);
            let tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(dir))?;
            fs_err::write(tmp.path(), data).map_err(io(&p))?;
            apko_oci::set_readable(tmp.path())?;
            tmp.persist(&p).map_err(|e| BuildError::Io {
                path: p.display().to_string(),
                source: e.error,
            })?;
            written.push(p);
            Ok(())
        };
        for i in &self.images {
            if let Some(s) = &i.sbom {
                put(format!("sbom-{}.spdx.json", i.arch.apk_name()), s)?;
            }
        }
        if let Some(s) = &self.index_sbom {
            put("sbom-index.spdx.json".to_owned(), s)?;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        let name = |t: &str| repo_name(&t.parse().unwrap());
        assert_eq!(name("repo/img:tag"), "img");
        assert_eq!(name("localhost:5000/a/b"), "b");
        assert_eq!(name("golden"), "golden");
    }
}
