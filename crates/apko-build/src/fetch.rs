//! Stage 2, fetch: every package of an architecture fetched, verified against its record and
//! expanded, in parallel; results keep the install order.

use crate::error::{BuildError, Mismatch};
use crate::report::Phase;
use crate::resolve::{ArchPackages, Chosen};
use crate::session::Session;
use apko_apk::package::{CachedData, ExpandedPackage};
use apko_apk::repositories::{PackageFetchError, PackageRequest};
use std::path::PathBuf;
use std::time::Duration;

/// A verified, expanded package: its metadata and entries, and the file holding its
/// decompressed data segment.
#[derive(Debug)]
pub(crate) struct Expanded {
    pub(crate) chosen: Chosen,
    pub(crate) package: ExpandedPackage,
    pub(crate) data: PathBuf,
    /// What the data's whole content is: a hash of the package identity and the SHA-256 of
    /// its (compressed) data segment, both verified when the package was expanded.
    pub(crate) source_id: [u8; 32],
    /// For data found in the expanded-package cache: to be verified before its contents are
    /// read (a layer found in the layer cache never reads them).
    pub(crate) unverified: Option<CachedData>,
}

impl Expanded {
    /// The request that fetches this package again.
    pub(crate) fn request(&self) -> PackageRequest<'_> {
        PackageRequest {
            url: &self.chosen.url,
            info: &self.chosen.info,
            data_sha256: self.chosen.data_sha256,
        }
    }
}

/// What a package's expanded data is (see [`Expanded::source_id`]).
pub(crate) fn source_id(p: &ExpandedPackage) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"apko-rs expanded data segment\0");
    h.update(p.digests.identity.as_bytes());
    h.update(p.digests.data_sha256);
    h.finalize().into()
}

/// Maps a failure of [`apko_apk::repositories::Repositories::package`] to the build's error.
pub(crate) fn package_error(pkg: &str, arch: &str, e: PackageFetchError) -> BuildError {
    let not = |problem| BuildError::NotThePackage {
        package: pkg.to_owned(),
        arch: arch.to_owned(),
        problem,
    };
    match e {
        PackageFetchError::Fetch(source) => BuildError::FetchPackage {
            package: pkg.to_owned(),
            arch: arch.to_owned(),
            source,
        },
        PackageFetchError::Refused(source) => BuildError::Package {
            package: pkg.to_owned(),
            arch: arch.to_owned(),
            source,
        },
        PackageFetchError::Io { path, source } => BuildError::io(path.display())(source),
        PackageFetchError::Size { actual, expected } => not(Mismatch::Size { actual, expected }),
        PackageFetchError::Oversized {
            expected,
            stopped_at,
        } => not(Mismatch::Oversized {
            expected,
            stopped_at,
        }),
        PackageFetchError::NotThePackage { found } => not(Mismatch::Name { found }),
        PackageFetchError::DataPin => not(Mismatch::LockPin),
    }
}

/// The packages of one architecture, expanded.
#[derive(Debug)]
pub(crate) struct FetchedArch {
    /// In install order.
    pub(crate) packages: Vec<Expanded>,
    /// Time spent fetching, summed over the parallel workers.
    pub(crate) fetch_time: Duration,
}

/// The stage.
pub(crate) fn fetch(s: &Session, a: &ArchPackages) -> Result<FetchedArch, BuildError> {
    let dir = s.arch_dir(a)?;
    let arch = a.arch.apk_name();
    // Largest first, so that a big package does not end the stage on one worker while the
    // others idle; results go back to install order below.
    let mut items: Vec<(usize, &Chosen)> = a.packages.iter().enumerate().collect();
    items.sort_by_key(|(i, c)| {
        (
            std::cmp::Reverse(c.info.installed_size.max(c.info.size)),
            *i,
        )
    });
    let results = s.pool.map(&items, |(i, chosen)| {
        let pkg = chosen.info.name_version();
        let data = dir.join(format!("{i:05}-{pkg}.tar"));
        let req = PackageRequest {
            url: &chosen.url,
            info: &chosen.info,
            data_sha256: chosen.data_sha256,
        };
        let got = s
            .repos
            .package_cached(req, &data)
            .map_err(|e| package_error(&pkg, arch, e))?;
        s.step(a.arch, Phase::Expand, &pkg);
        Ok::<_, BuildError>((
            Expanded {
                chosen: (*chosen).clone(),
                source_id: source_id(&got.package),
                package: got.package,
                data: got.data,
                unverified: got.unverified,
            },
            got.fetch_time,
        ))
    });
    let mut ordered: Vec<Option<Result<(Expanded, Duration), BuildError>>> =
        (0..results.len()).map(|_| None).collect();
    for ((i, _), r) in items.iter().zip(results) {
        ordered[*i] = Some(r);
    }
    let mut packages = Vec::with_capacity(ordered.len());
    let mut fetch_time = Duration::ZERO;
    // The first failure in install order is the one reported, whatever finished first.
    for r in ordered.into_iter().flatten() {
        let (e, t) = r?;
        packages.push(e);
        fetch_time += t;
    }
    Ok(FetchedArch {
        packages,
        fetch_time,
    })
}

/// Makes sure the source files `sources` of `rootfs`'s tree hold what their identities say
/// before a layer is written from them: data found in the expanded-package cache is checked
/// (every file against its SHA-1 checksum, in parallel) and, when it does not match, expanded again from the package. `verified`
/// remembers the sources checked already.
pub(crate) fn prepare_sources(
    s: &Session,
    rootfs: &crate::rootfs::Rootfs,
    sources: &[u32],
    verified: &std::sync::Mutex<std::collections::HashSet<u32>>,
) -> Result<(), BuildError> {
    let by_path: std::collections::HashMap<&std::path::Path, &Expanded> = rootfs
        .packages
        .iter()
        .filter(|p| p.unverified.is_some())
        .map(|p| (p.data.as_path(), p))
        .collect();
    if by_path.is_empty() {
        return Ok(());
    }
    let todo: Vec<(u32, &Expanded)> = {
        let done = verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sources
            .iter()
            .filter(|src| !done.contains(src))
            .filter_map(|&src| Some((src, *by_path.get(rootfs.tree.source_path(src))?)))
            .collect()
    };
    let arch = rootfs.arch.apk_name();
    let results = s.pool.map(&todo, |(src, e)| {
        let data = e.unverified.as_ref().expect("filtered");
        if data.verify(&e.package.entries).unwrap_or(false) {
            return Ok(*src);
        }
        let pkg = e.chosen.info.name_version();
        let again = s
            .repos
            .repair_cached(e.request(), &data.path, &e.data)
            .map_err(|err| package_error(&pkg, arch, err))?;
        if again.package.entries != e.package.entries || again.data != e.data {
            return Err(BuildError::NotThePackage {
                package: pkg,
                arch: arch.to_owned(),
                problem: Mismatch::CachedExpansion {
                    cache: s
                        .repos
                        .expanded_cache()
                        .map(|c| c.root().display().to_string())
                        .unwrap_or_default(),
                },
            });
        }
        Ok(*src)
    });
    let mut done = verified
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for r in results {
        done.insert(r?);
    }
    Ok(())
}
