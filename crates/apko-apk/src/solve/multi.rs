//! Resolving one world for several architectures so that every package name common to them
//! gets the same version everywhere.

use super::{Repository, Request, Resolution, SolveError, resolution};
use crate::dependency::Dependency;
use crate::info::PackageInfo;
use crate::name::PackageName;
use crate::version::Version;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// The repositories of one architecture.
#[derive(Debug, Clone)]
pub struct ArchRequest<'a> {
    /// The apk architecture name (`x86_64`, `aarch64`, ...).
    pub arch: String,
    /// Its repositories, in order.
    pub repositories: Vec<Repository<'a>>,
}

/// Resolves `world` for every architecture at once.
///
/// A version of a package is only a candidate when every architecture whose repositories know
/// that package name also has that exact version; and if the architectures still end up with
/// different versions of a common name, the versions that are not chosen everywhere are
/// excluded and the resolution runs again. Names that exist on only some architectures
/// (architecture-specific packages) are not constrained.
pub fn resolve_archs<'a>(
    world: &[Dependency],
    archs: &[ArchRequest<'a>],
) -> Result<Vec<Resolution<'a>>, ArchSolveError> {
    // Names and versions as typed values: versions apk considers equal (`1-r0`, `1-r00`) are
    // one version here too.
    type Key = (PackageName, Version);
    let per_arch: Vec<HashMap<&PackageName, HashSet<&Version>>> = archs
        .iter()
        .map(|a| {
            let mut m: HashMap<&PackageName, HashSet<&Version>> = HashMap::new();
            for r in &a.repositories {
                for p in r.packages {
                    m.entry(&p.name).or_default().insert(&p.version);
                }
            }
            m
        })
        .collect();
    // (name, version) pairs missing on some architecture that knows the name.
    let mut excluded: BTreeSet<Key> = BTreeSet::new();
    for (i, m) in per_arch.iter().enumerate() {
        for (name, versions) in m {
            for v in versions {
                let missing = per_arch
                    .iter()
                    .enumerate()
                    .any(|(j, o)| j != i && o.get(name).is_some_and(|vs| !vs.contains(v)));
                if missing {
                    excluded.insert(((*name).clone(), (*v).clone()));
                }
            }
        }
    }
    for _round in 0..16 {
        let mut results = Vec::with_capacity(archs.len());
        for a in archs {
            let ex = excluded.clone();
            let req = Request {
                world: world.to_vec(),
                repositories: a.repositories.clone(),
                exclude: Some(Box::new(move |p: &PackageInfo| {
                    ex.contains(&(p.name.clone(), p.version.clone()))
                })),
                ..Request::default()
            };
            results.push(resolution(&req).map_err(|error| ArchSolveError {
                arch: a.arch.clone(),
                error,
            })?);
        }
        // Versions chosen for each common name, per architecture.
        let mut chosen: BTreeMap<&PackageName, BTreeSet<&Version>> = BTreeMap::new();
        for r in &results {
            for p in &r.packages {
                chosen
                    .entry(&p.info.name)
                    .or_default()
                    .insert(&p.info.version);
            }
        }
        let mut changed = false;
        for (name, versions) in &chosen {
            if versions.len() < 2 {
                continue;
            }
            // Keep the lowest version chosen anywhere; exclude the others and try again.
            let keep = versions.first().copied();
            for &v in versions {
                if Some(v) != keep && excluded.insert(((*name).clone(), v.clone())) {
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(results);
        }
    }
    Err(ArchSolveError {
        arch: archs.first().map(|a| a.arch.clone()).unwrap_or_default(),
        error: SolveError::Unsatisfiable {
            errors: 1,
            report: "ERROR: unable to select packages:\n  the architectures keep choosing different versions\n".to_owned(),
            why: Vec::new(),
        },
    })
}

/// The architecture whose resolution failed, and why.
#[derive(Debug)]
pub struct ArchSolveError {
    /// The apk architecture.
    pub arch: String,
    /// Why its world cannot be resolved.
    pub error: SolveError,
}
