//! Keys, repository indexes, resolution and packages: everything fetched from outside.

use crate::error::BuildError;
use crate::plan::Plan;
use crate::report::{Phase, Reporter};
use crate::request::BuildRequest;
use apko_apk::index::{IndexTrust, read_index};
use apko_apk::info::PackageInfo;
use apko_apk::keys::{Keyring, SignaturePolicy};
use apko_apk::package::{ExpandedPackage, expand};
use apko_apk::solve::{ArchRequest, Repository, resolve_archs};
use apko_apk::source::{Cache, FetchError, Fetcher, RepositoryUrl, is_remote};
use apko_config::Arch;
use std::path::{Path, PathBuf};

/// A key file: its name under `/etc/apk/keys` and its content.
#[derive(Debug, Clone)]
pub(crate) struct KeyFile {
    pub(crate) name: String,
    pub(crate) pem: Vec<u8>,
}

pub(crate) fn fetcher(req: &BuildRequest) -> Fetcher {
    #[cfg(feature = "http")]
    let f = Fetcher::new(std::sync::Arc::new(apko_apk::source::HttpTransport::new(
        &req.user_agent,
        req.max_http_response_size,
    )));
    #[cfg(not(feature = "http"))]
    let f = Fetcher::local();
    let mut f = f.with_offline(req.offline).with_jobs(req.jobs.max(1) * 2);
    if let Some(dir) = &req.cache_dir {
        f = f.with_cache(Cache::new(dir));
    }
    f
}

/// A local path or URL. Relative paths are taken from the request's base directory (the
/// current directory, as apko does) and, when nothing is there, from the directory of the
/// configuration file.
pub(crate) fn locate(req: &BuildRequest, s: &str) -> String {
    if is_remote(s) {
        return s.to_owned();
    }
    let p = s.strip_prefix("file://").unwrap_or(s);
    let path = Path::new(p);
    if path.is_absolute() {
        return p.to_owned();
    }
    let from_base = req.base_dir.join(path);
    if !from_base.exists()
        && let Some(dir) = req.config.sources.first().and_then(|src| src.path.parent())
    {
        let from_config = req.base_dir.join(dir).join(path);
        if from_config.exists() {
            return from_config.display().to_string();
        }
    }
    from_base.display().to_string()
}

fn basename(s: &str) -> String {
    let last = s.trim_end_matches('/').rsplit('/').next().unwrap_or(s);
    // URL-escaped names (`%40` for `@`) are unescaped, as apko does.
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

pub(crate) fn load_keys(
    req: &BuildRequest,
    plan: &Plan,
    fetcher: &Fetcher,
) -> Result<(Vec<KeyFile>, Keyring), BuildError> {
    let mut files = Vec::new();
    let mut ring = Keyring::new();
    for key in &plan.keyring {
        let err = |source: Box<dyn std::error::Error + Send + Sync>| BuildError::Key {
            key: apko_apk::source::redact(key),
            source,
        };
        let loc = locate(req, key);
        let fetched = fetcher.fetch_package(&loc).map_err(|e| err(Box::new(e)))?;
        let pem = fs_err::read(fetched.path()).map_err(|e| err(Box::new(e)))?;
        let name = basename(key);
        ring.add_pem(&name, &pem).map_err(|e| err(Box::new(e)))?;
        files.push(KeyFile { name, pem });
    }
    Ok((files, ring))
}

/// The packages chosen for one architecture, in install order, with where to get them.
#[derive(Debug, Clone)]
pub(crate) struct ArchPackages {
    pub(crate) arch: Arch,
    pub(crate) packages: Vec<Chosen>,
}

#[derive(Debug, Clone)]
pub(crate) struct Chosen {
    pub(crate) info: PackageInfo,
    /// The repository (as configured).
    pub(crate) repo: RepositoryUrl,
    /// Where to fetch it from (local paths resolved).
    pub(crate) url: String,
    pub(crate) tag: Option<String>,
    /// The data segment's SHA-256 a lockfile pins.
    pub(crate) data_sha256: Option<[u8; 32]>,
}

/// Fetches and verifies every index and resolves the world for every architecture.
pub(crate) fn resolve(
    req: &BuildRequest,
    plan: &Plan,
    fetcher: &Fetcher,
    keyring: &Keyring,
    reporter: &dyn Reporter,
) -> Result<Vec<ArchPackages>, BuildError> {
    if req.ignore_signatures {
        reporter.warn("--ignore-signatures: repository index signatures are NOT verified");
        tracing::warn!("--ignore-signatures: repository index signatures are NOT verified");
    }
    let trust = if req.ignore_signatures {
        IndexTrust::AllowUntrusted
    } else {
        IndexTrust::Require(SignaturePolicy::AnyValid)
    };
    // Every (arch, repository) index, fetched in parallel.
    let jobs: Vec<(Arch, RepositoryUrl)> = plan
        .archs
        .iter()
        .flat_map(|a| plan.build_repos.iter().map(move |r| (*a, r.clone())))
        .collect();
    let indexes = fetcher.parallel(
        &jobs,
        |(arch, repo)| -> Result<Option<Vec<PackageInfo>>, BuildError> {
            let located = RepositoryUrl {
                tag: repo.tag.clone(),
                url: locate(req, &repo.url),
            };
            let url = located.index_url(arch.apk_name());
            // A cached index that does not parse or verify (a corrupted file kept alive by its
            // ETag) is dropped and fetched again once.
            let mut attempt = 0;
            let index = loop {
                attempt += 1;
                let file = match fetcher.fetch_index(&url) {
                    Ok(f) => f,
                    Err(FetchError::NotFound { .. }) if !repo.is_remote() => {
                        let msg = format!(
                            "repository `{}` has no index for {}; skipping it",
                            repo.url,
                            arch.apk_name()
                        );
                        reporter.warn(&msg);
                        tracing::warn!("{msg}");
                        return Ok(None);
                    }
                    Err(source) => {
                        return Err(BuildError::FetchIndex {
                            repo: repo.redacted(),
                            arch: arch.apk_name().to_owned(),
                            source,
                        });
                    }
                };
                let f = fs_err::File::open(file.path()).map_err(|source| BuildError::Io {
                    path: file.path().display().to_string(),
                    source,
                })?;
                match read_index(
                    std::io::BufReader::new(f),
                    &apko_apk::source::redact(&url),
                    keyring,
                    trust,
                    &req.limits,
                ) {
                    Ok((index, _)) => break index,
                    Err(e) if attempt == 1 && repo.is_remote() && fetcher.cache().is_some() => {
                        tracing::warn!(
                            "{}: cached index failed ({e}); fetching it again",
                            apko_apk::source::redact(&url)
                        );
                        fetcher.invalidate(&url);
                    }
                    Err(source) => {
                        return Err(BuildError::Index {
                            repo: repo.redacted(),
                            arch: arch.apk_name().to_owned(),
                            source,
                        });
                    }
                }
            };
            reporter.step(arch.apk_name(), Phase::Resolve, &repo.url);
            Ok(Some(index.packages))
        },
    );
    let mut per_arch: Vec<Vec<(RepositoryUrl, Vec<PackageInfo>)>> =
        vec![Vec::new(); plan.archs.len()];
    for ((arch, repo), idx) in jobs.iter().zip(indexes) {
        if let Some(pkgs) = idx? {
            let i = plan
                .archs
                .iter()
                .position(|a| a == arch)
                .expect("arch of the plan");
            per_arch[i].push((repo.clone(), pkgs));
        }
    }
    let requests: Vec<ArchRequest<'_>> = plan
        .archs
        .iter()
        .zip(&per_arch)
        .map(|(arch, repos)| ArchRequest {
            arch: arch.apk_name().to_owned(),
            repositories: repos
                .iter()
                .map(|(r, pkgs)| Repository {
                    name: r.redacted(),
                    tag: r.tag.clone(),
                    packages: pkgs,
                })
                .collect(),
        })
        .collect();
    let resolutions = resolve_archs(&plan.world, &requests)
        .map_err(|(arch, source)| BuildError::Solve { arch, source })?;
    // What the chosen packages must have before anything is fetched.
    for ((arch, res), repos) in plan.archs.iter().zip(&resolutions).zip(&per_arch) {
        for p in &res.packages {
            let name = p.info.name.as_str();
            // The chain of trust runs from the signed index through `C:` (the SHA-1 of the
            // package's control segment): without it a package would go unverified.
            if !req.ignore_signatures && p.info.checksum.and_then(|c| c.sha1().copied()).is_none() {
                return Err(BuildError::invalid(
                    format!(
                        "repository {} ({}): package `{}` has no SHA-1 identity (`C:Q1…`) in the signed index, so it cannot be verified",
                        repos[p.repository].0.redacted(),
                        arch.apk_name(),
                        p.info.name_version()
                    ),
                    Some(
                        "regenerate the index with `apk index` or melange; with --ignore-signatures such packages are installed unverified",
                    ),
                ));
            }
            if !usable_as_file_name(name) {
                return Err(BuildError::invalid(
                    format!(
                        "repository {} ({}): package name `{name}` cannot be a file name",
                        repos[p.repository].0.redacted(),
                        arch.apk_name()
                    ),
                    Some(
                        "package names may not contain `/` or start with `.`; the index is broken or hostile",
                    ),
                ));
            }
        }
    }
    Ok(plan
        .archs
        .iter()
        .zip(resolutions)
        .zip(&per_arch)
        .map(|((arch, res), repos)| {
            // Each repository located once (a local path is looked up on disk).
            let located: Vec<RepositoryUrl> = repos
                .iter()
                .map(|(r, _)| RepositoryUrl {
                    tag: r.tag.clone(),
                    url: locate(req, &r.url),
                })
                .collect();
            ArchPackages {
                arch: *arch,
                packages: res
                    .packages
                    .iter()
                    .map(|p| Chosen {
                        info: p.info.clone(),
                        url: located[p.repository].package_url(arch.apk_name(), p.info),
                        repo: repos[p.repository].0.clone(),
                        tag: p.tag.clone(),
                        data_sha256: None,
                    })
                    .collect(),
            }
        })
        .collect())
}

/// Package names become file names (`<name>-<version>.apk`, work files): a `/` would reach
/// other directories.
fn usable_as_file_name(name: &str) -> bool {
    !name.contains('/') && !name.starts_with('.')
}

/// A verified, expanded package: its metadata and entries, and the file holding its
/// decompressed data segment.
#[derive(Debug)]
pub(crate) struct Expanded {
    pub(crate) chosen: Chosen,
    pub(crate) package: ExpandedPackage,
    pub(crate) data: PathBuf,
}

/// Fetches and expands every package of one architecture, in parallel; results keep the
/// install order. Also returns the time spent fetching, summed over the workers.
pub(crate) fn fetch_and_expand(
    req: &BuildRequest,
    fetcher: &Fetcher,
    arch: &ArchPackages,
    work: &Path,
    reporter: &dyn Reporter,
) -> Result<(Vec<Expanded>, std::time::Duration), BuildError> {
    let fetch_nanos = std::sync::atomic::AtomicU64::new(0);
    let dir = work.join(arch.arch.apk_name());
    fs_err::create_dir_all(&dir).map_err(|source| BuildError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let name = arch.arch.apk_name();
    let items: Vec<(usize, &Chosen)> = arch.packages.iter().enumerate().collect();
    let results = fetcher.parallel(&items, |(i, chosen)| -> Result<Expanded, BuildError> {
        let pkg = chosen.info.name_version();
        let expected = chosen.info.checksum;
        let data_path = dir.join(format!("{i:05}-{pkg}.tar"));
        // A cached copy that fails verification is fetched again once.
        for attempt in 0..2 {
            let started = std::time::Instant::now();
            let fetched =
                fetcher
                    .fetch_package(&chosen.url)
                    .map_err(|source| BuildError::FetchPackage {
                        package: pkg.clone(),
                        arch: name.to_owned(),
                        source,
                    })?;
            fetch_nanos.fetch_add(
                u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
                std::sync::atomic::Ordering::Relaxed,
            );
            reporter.step(name, Phase::Fetch, &pkg);
            let f = fs_err::File::open(fetched.path()).map_err(|source| BuildError::Io {
                path: fetched.path().display().to_string(),
                source,
            })?;
            let out = fs_err::File::create(&data_path).map_err(|source| BuildError::Io {
                path: data_path.display().to_string(),
                source,
            })?;
            // The signed index gives the file size: anything else is not the package it
            // describes, so do not even start decompressing it.
            let file_len = f.metadata().map_or(0, |m| m.len());
            if expected.is_some() && chosen.info.size > 0 && file_len != chosen.info.size {
                if attempt == 0 && chosen.repo.is_remote() && fetcher.cache().is_some() {
                    tracing::warn!("{pkg}: cached copy has the wrong size; fetching it again");
                    fetcher.invalidate(&chosen.url);
                    continue;
                }
                return Err(BuildError::invalid(
                    format!(
                        "package `{pkg}` for {name}: the file is {file_len} bytes, the signed index says {}",
                        chosen.info.size
                    ),
                    Some("the repository serves a different file than its index describes; if it is cached, remove the cache directory"),
                ));
            }
            // Bound the decompressed data by the installed size the signed index declares
            // (tar headers and padding included): a swapped data segment is caught by its
            // hash only at the end, so it must not be allowed to grow to the global limit.
            let mut limits = req.limits;
            if expected.is_some() && chosen.info.installed_size > 0 {
                limits.max_data_size = limits.max_data_size.min(
                    chosen
                        .info
                        .installed_size
                        .saturating_mul(2)
                        .saturating_add(256 << 20),
                );
            }
            match expand(
                std::io::BufReader::with_capacity(256 * 1024, f),
                &pkg,
                &limits,
                expected.as_ref(),
                std::io::BufWriter::with_capacity(1 << 20, out),
            ) {
                Ok((package, mut w)) => {
                    use std::io::Write;
                    w.flush().map_err(|source| BuildError::Io {
                        path: data_path.display().to_string(),
                        source,
                    })?;
                    let own = &package.control.info;
                    if own.name != chosen.info.name || own.version != chosen.info.version {
                        return Err(BuildError::invalid(
                            format!(
                                "package `{pkg}` for {name}: its .PKGINFO says `{}`",
                                own.name_version()
                            ),
                            Some("the index or lockfile does not describe this package; regenerate it"),
                        ));
                    }
                    if let Some(want) = chosen.data_sha256
                        && want != package.digests.data_sha256
                    {
                        return Err(BuildError::invalid(
                            format!(
                                "package `{pkg}` for {name}: its data segment is not the one the lockfile pins"
                            ),
                            Some("regenerate the lockfile with `apko lock` if the repository changed on purpose"),
                        ));
                    }
                    reporter.step(name, Phase::Expand, &pkg);
                    return Ok(Expanded {
                        chosen: (*chosen).clone(),
                        package,
                        data: data_path,
                    });
                }
                Err(e) if attempt == 0 && chosen.repo.is_remote() && fetcher.cache().is_some() => {
                    tracing::warn!(
                        "{pkg}: cached copy failed verification ({e}); fetching it again"
                    );
                    fetcher.invalidate(&chosen.url);
                }
                Err(source) => {
                    return Err(BuildError::Package {
                        package: pkg,
                        arch: name.to_owned(),
                        source,
                    });
                }
            }
        }
        unreachable!("the second attempt returns")
    });
    let expanded = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok((
        expanded,
        std::time::Duration::from_nanos(fetch_nanos.into_inner()),
    ))
}

/// The packages to install per architecture: from the lockfile when the request has one,
/// otherwise resolved from the repositories.
pub(crate) fn choose(
    req: &BuildRequest,
    plan: &Plan,
    fetcher: &Fetcher,
    keyring: &Keyring,
    reporter: &dyn Reporter,
) -> Result<Vec<ArchPackages>, BuildError> {
    match &req.lock {
        Some(lock) => locked(req, plan, lock),
        None => resolve(req, plan, fetcher, keyring, reporter),
    }
}

/// The packages a lockfile pins, per architecture of the plan, in install order.
pub(crate) fn locked(
    req: &BuildRequest,
    plan: &Plan,
    lock: &crate::lock::Lock,
) -> Result<Vec<ArchPackages>, BuildError> {
    use crate::lock::{parse_checksum, range_end};
    // Each repository located once (a local path is looked up on disk).
    let located: Vec<RepositoryUrl> = plan
        .build_repos
        .iter()
        .map(|r| RepositoryUrl {
            tag: r.tag.clone(),
            url: locate(req, &r.url),
        })
        .collect();
    let mut out = Vec::new();
    for arch in &plan.archs {
        let pkgs = lock.packages_for(*arch);
        if pkgs.is_empty() {
            return Err(BuildError::invalid(
                format!("the lockfile pins no packages for {}", arch.apk_name()),
                Some("regenerate it with `apko lock` for every architecture you build"),
            ));
        }
        let mut packages = Vec::with_capacity(pkgs.len());
        for p in pkgs {
            let bad = |what: &str| {
                BuildError::invalid(
                    format!(
                        "lockfile: package `{}-{}` ({}): {what}",
                        p.name, p.version, p.architecture
                    ),
                    Some("regenerate it with `apko lock`"),
                )
            };
            if !usable_as_file_name(&p.name) {
                return Err(bad("the name cannot be a file name"));
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
                .position(|r| lock_url == crate::lock::package_url(r, arch.apk_name(), &info))
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
        });
    }
    Ok(out)
}
