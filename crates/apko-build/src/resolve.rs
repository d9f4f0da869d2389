//! Stage 1, resolve: the packages of every architecture, from the lockfile when the request
//! has one, otherwise solved against the verified repository indexes.

use crate::base::BaseImage;
use crate::error::BuildError;
use crate::lock::{Lock, LockError, package_url, parse_checksum, range_end};
use crate::report::Phase;
use crate::session::Session;
use apko_apk::info::PackageInfo;
use apko_apk::repositories::IndexError;
use apko_apk::solve::{ArchRequest, Repository, resolve_archs};
use apko_apk::source::RepositoryUrl;
use apko_config::Arch;
use std::sync::Arc;

/// The packages chosen for one architecture, in install order, with where to get them.
#[derive(Debug, Clone)]
pub(crate) struct ArchPackages {
    pub(crate) arch: Arch,
    /// The packages to fetch and install (not those the base image already has).
    pub(crate) packages: Vec<Chosen>,
    /// The base image (`contents.baseimage`), whose packages are kept as they are.
    pub(crate) base: Option<Arc<BaseImage>>,
}

/// One chosen package.
#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    /// Its record (from the index, or rebuilt from the lockfile).
    pub(crate) info: PackageInfo,
    /// The repository (as configured).
    pub(crate) repo: RepositoryUrl,
    /// Where to fetch it from (local paths resolved).
    pub(crate) url: String,
    /// The repository tag it was chosen with.
    pub(crate) tag: Option<String>,
    /// The data segment's SHA-256 a lockfile pins.
    pub(crate) data_sha256: Option<[u8; 32]>,
}

/// The stage.
pub(crate) fn resolve(s: &Session) -> Result<Vec<ArchPackages>, BuildError> {
    let bases = base_images(s)?;
    let mut out = match &s.req.lock {
        Some(lock) => locked(s, lock)?,
        None => solve(s, &bases)?,
    };
    for (a, b) in out.iter_mut().zip(bases) {
        a.base = b;
    }
    Ok(out)
}

/// The base image of every architecture of the plan (`None` each without `contents.baseimage`).
fn base_images(s: &Session) -> Result<Vec<Option<Arc<BaseImage>>>, BuildError> {
    let Some(b) = &s.plan.config.contents.baseimage else {
        return Ok(vec![None; s.plan.archs.len()]);
    };
    let config_dir = s
        .req
        .config
        .sources
        .first()
        .and_then(|src| src.path.parent());
    let at = |spec: &str| crate::base::locate(spec, &s.req.base_dir, config_dir, &[]);
    let mut layout = at(&b.image);
    if layout.is_file() {
        layout = crate::base::unpack_tarball(&layout, s.work.path())?;
    }
    let apkindex = (!b.apkindex.is_empty()).then(|| at(&b.apkindex));
    s.plan
        .archs
        .iter()
        .map(|a| crate::base::load(&layout, apkindex.as_deref(), *a).map(|b| Some(Arc::new(b))))
        .collect()
}

/// The world of one architecture on top of `base`: the plan's, plus every base package at its
/// version (apko's pins, so that the solver keeps them).
fn world_with_base(
    world: &[apko_apk::Dependency],
    base: &BaseImage,
) -> Result<Vec<apko_apk::Dependency>, BuildError> {
    let mut w = world.to_vec();
    for p in base.packages() {
        let pin = format!("{}={}", p.name, p.version);
        w.push(pin.parse().map_err(|_| BuildError::BaseImage {
            path: base.source.display().to_string(),
            problem: format!("its installed package `{pin}` is not a valid dependency"),
        })?);
    }
    Ok(w)
}

/// Fetches and verifies every index and solves the world for every architecture (each on its
/// own on top of a base image, whose packages come first, as a repository of their own).
fn solve(s: &Session, bases: &[Option<Arc<BaseImage>>]) -> Result<Vec<ArchPackages>, BuildError> {
    let plan = &s.plan;
    // Every (arch, repository) index, fetched in parallel.
    let jobs: Vec<(Arch, &RepositoryUrl)> = plan
        .archs
        .iter()
        .flat_map(|a| plan.build_repos.iter().map(move |r| (*a, r)))
        .collect();
    let indexes = s.pool.map(&jobs, |(arch, repo)| {
        let index = s.repos.index(repo, arch.apk_name()).map_err(|e| {
            let (repo, arch) = (repo.redacted(), arch.apk_name().to_owned());
            match e {
                IndexError::Fetch(source) => BuildError::FetchIndex { repo, arch, source },
                IndexError::Verify(source) => BuildError::Index { repo, arch, source },
                IndexError::Io { path, source } => BuildError::io(path.display())(source),
            }
        })?;
        s.step(*arch, Phase::Resolve, &repo.url);
        Ok::<_, BuildError>(index.map(|i| i.packages))
    });
    let mut per_arch: Vec<Vec<(&RepositoryUrl, Vec<PackageInfo>)>> =
        vec![Vec::new(); plan.archs.len()];
    for ((arch, repo), idx) in jobs.iter().zip(indexes) {
        if let Some(pkgs) = idx? {
            let i = plan
                .archs
                .iter()
                .position(|a| a == arch)
                .expect("arch of the plan");
            per_arch[i].push((repo, pkgs));
        }
    }
    let base_infos: Vec<Vec<PackageInfo>> = bases
        .iter()
        .map(|b| {
            b.as_ref()
                .map(|b| b.packages().cloned().collect())
                .unwrap_or_default()
        })
        .collect();
    let requests: Vec<ArchRequest<'_>> = plan
        .archs
        .iter()
        .zip(&per_arch)
        .zip(&base_infos)
        .zip(bases)
        .map(|(((arch, repos), base_infos), base)| ArchRequest {
            arch: arch.apk_name().to_owned(),
            repositories: base
                .iter()
                .map(|b| Repository {
                    name: format!("base image {}", b.source.display()),
                    tag: None,
                    packages: base_infos,
                })
                .chain(repos.iter().map(|(r, pkgs)| Repository {
                    name: r.redacted(),
                    tag: r.tag.clone(),
                    packages: pkgs,
                }))
                .collect(),
        })
        .collect();
    let solve_err = |e: apko_apk::solve::ArchSolveError| BuildError::Solve {
        arch: e.arch,
        source: e.error,
    };
    let resolutions = if bases.iter().any(Option::is_some) {
        let mut all = Vec::new();
        for (req, base) in requests.iter().zip(bases) {
            let world = match base {
                Some(b) => world_with_base(&plan.world, b)?,
                None => plan.world.clone(),
            };
            all.extend(resolve_archs(&world, std::slice::from_ref(req)).map_err(solve_err)?);
        }
        all
    } else {
        resolve_archs(&plan.world, &requests).map_err(solve_err)?
    };
    let mut out = Vec::with_capacity(plan.archs.len());
    for ((arch, res), repos) in plan.archs.iter().zip(&resolutions).zip(&per_arch) {
        // Each repository located once (a local path is looked up on disk).
        let located: Vec<RepositoryUrl> = repos
            .iter()
            .map(|(r, _)| s.repos.locate_repository(r))
            .collect();
        let mut packages = Vec::with_capacity(res.packages.len());
        let offset = usize::from(bases[out.len()].is_some());
        for p in &res.packages {
            // Packages of the base image are already there.
            if p.repository < offset {
                continue;
            }
            let repository = p.repository - offset;
            let repo = repos[repository].0;
            // What the chosen packages must have before anything is fetched. The chain of
            // trust runs from the signed index through `C:` (the SHA-1 of the package's
            // control segment): without it a package would go unverified.
            if !s.req.ignore_signatures && p.info.checksum.and_then(|c| c.sha1().copied()).is_none()
            {
                return Err(BuildError::Unverifiable {
                    repo: repo.redacted(),
                    arch: arch.apk_name().to_owned(),
                    package: p.info.name_version(),
                });
            }
            if !usable_as_file_name(p.info.name.as_str()) {
                return Err(BuildError::PackageName {
                    repo: repo.redacted(),
                    arch: arch.apk_name().to_owned(),
                    name: p.info.name.to_string(),
                });
            }
            packages.push(Chosen {
                info: p.info.clone(),
                url: located[repository].package_url(arch.apk_name(), p.info),
                repo: repo.clone(),
                tag: p.tag.clone(),
                data_sha256: None,
            });
        }
        out.push(ArchPackages {
            arch: *arch,
            packages,
            base: None,
        });
    }
    Ok(out)
}

/// Package names become file names (`<name>-<version>.apk`, work files): a `/` would reach
/// other directories.
fn usable_as_file_name(name: &str) -> bool {
    !name.contains('/') && !name.starts_with('.')
}

/// The packages a lockfile pins, per architecture of the plan, in install order.
fn locked(s: &Session, lock: &Lock) -> Result<Vec<ArchPackages>, BuildError> {
    let plan = &s.plan;
    // Each repository located once (a local path is looked up on disk).
    let located: Vec<RepositoryUrl> = plan
        .build_repos
        .iter()
        .map(|r| s.repos.locate_repository(r))
        .collect();
    let mut out = Vec::new();
    for arch in &plan.archs {
        let pkgs = lock.packages_for(*arch);
        if pkgs.is_empty() {
            return Err(LockError::NoPackages {
                arch: arch.apk_name().to_owned(),
            }
            .into());
        }
        let mut packages = Vec::with_capacity(pkgs.len());
        for p in pkgs {
            let bad = |what: &str| LockError::Package {
                package: format!("{}-{}", p.name, p.version),
                arch: p.architecture.clone(),
                problem: what.to_owned(),
            };
            if !usable_as_file_name(&p.name) {
                return Err(bad("the name cannot be a file name").into());
            }
            let mut info = PackageInfo::new(
                p.name.parse().map_err(|_| bad("invalid name"))?,
                p.version.parse().map_err(|_| bad("invalid version"))?,
            );
            info.arch = Some(p.architecture.clone());
            info.checksum = Some(p.checksum.parse().map_err(|_| bad("invalid checksum"))?);
            info.size = match range_end(&p.data.range) {
                Some(e) => e.checked_add(1).ok_or_else(|| bad("invalid data range"))?,
                None => 0,
            };
            let data_sha256 = if p.data.checksum.is_empty() {
                None
            } else {
                Some(
                    parse_checksum::<32>(&p.data.checksum, "sha256")
                        .ok_or_else(|| bad("invalid data checksum"))?,
                )
            };
            // The package must come from one of the configured repositories (which also
            // gives its tag and the credentials the lock does not record).
            let lock_url = apko_apk::source::strip_credentials(&p.url);
            let r = plan
                .build_repos
                .iter()
                .position(|r| lock_url == package_url(r, arch.apk_name(), &info))
                .ok_or_else(|| {
                    bad(&format!(
                        "its URL `{lock_url}` is not in any repository of the configuration"
                    ))
                })?;
            let repo = &plan.build_repos[r];
            packages.push(Chosen {
                url: located[r].package_url(arch.apk_name(), &info),
                info,
                repo: repo.clone(),
                tag: repo.tag.clone(),
                data_sha256,
            });
        }
        out.push(ArchPackages {
            arch: *arch,
            packages,
            base: None,
        });
    }
    Ok(out)
}
