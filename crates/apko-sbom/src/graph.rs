//! The dependency graph between installed packages, shared by both formats.

use apko_apk::info::PackageInfo;
use std::collections::BTreeMap;

/// For each of `packages`, in order, the names of the installed packages it depends on: a
/// dependency is matched by package name or by a name some package provides (the first
/// provider in install order); conflicts, unmatched names and the package itself are left
/// out. Each list is sorted and has no duplicates.
pub(crate) fn dependencies<'a>(packages: &[&'a PackageInfo]) -> Vec<Vec<&'a str>> {
    let mut providers: BTreeMap<&str, &str> = BTreeMap::new();
    for p in packages {
        providers.insert(p.name.as_str(), p.name.as_str());
        for pr in &p.provides {
            providers.entry(pr.name.as_str()).or_insert(p.name.as_str());
        }
    }
    packages
        .iter()
        .map(|p| {
            let mut deps: Vec<&str> = p
                .depends
                .iter()
                .filter(|d| !d.conflict)
                .filter_map(|d| providers.get(d.name.as_str()).copied())
                .filter(|n| *n != p.name.as_str())
                .collect();
            deps.sort_unstable();
            deps.dedup();
            deps
        })
        .collect()
}
