//! Stage 2, fetch: every package of an architecture fetched, verified against its record and
//! expanded, in parallel; results keep the install order.

use crate::error::{BuildError, Mismatch};
use crate::report::Phase;
use crate::resolve::{ArchPackages, Chosen};
use crate::session::Session;
use apko_apk::package::ExpandedPackage;
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
    let items: Vec<(usize, &Chosen)> = a.packages.iter().enumerate().collect();
    let results = s.pool.map(&items, |(i, chosen)| {
        let pkg = chosen.info.name_version();
        let data = dir.join(format!("{i:05}-{pkg}.tar"));
        let req = PackageRequest {
            url: &chosen.url,
            info: &chosen.info,
            data_sha256: chosen.data_sha256,
        };
        let not = |problem| BuildError::NotThePackage {
            package: pkg.clone(),
            arch: arch.to_owned(),
            problem,
        };
        let verified = s.repos.package(req, &data).map_err(|e| match e {
            PackageFetchError::Fetch(source) => BuildError::FetchPackage {
                package: pkg.clone(),
                arch: arch.to_owned(),
                source,
            },
            PackageFetchError::Refused(source) => BuildError::Package {
                package: pkg.clone(),
                arch: arch.to_owned(),
                source,
            },
            PackageFetchError::Io { path, source } => BuildError::io(path.display())(source),
            PackageFetchError::Size { actual, expected } => {
                not(Mismatch::Size { actual, expected })
            }
            PackageFetchError::Oversized {
                expected,
                stopped_at,
            } => not(Mismatch::Oversized {
                expected,
                stopped_at,
            }),
            PackageFetchError::NotThePackage { found } => not(Mismatch::Name { found }),
            PackageFetchError::DataPin => not(Mismatch::LockPin),
        })?;
        s.step(a.arch, Phase::Expand, &pkg);
        Ok::<_, BuildError>((
            Expanded {
                chosen: (*chosen).clone(),
                package: verified.package,
                data,
            },
            verified.fetch_time,
        ))
    });
    let mut packages = Vec::with_capacity(results.len());
    let mut fetch_time = Duration::ZERO;
    for r in results {
        let (e, t) = r?;
        packages.push(e);
        fetch_time += t;
    }
    Ok(FetchedArch {
        packages,
        fetch_time,
    })
}
