//! A brute-force oracle for the solver's property tests: every way of choosing at most one
//! package per name from a small index, checked against the rules the solver enforces.

use crate::dependency::Dependency;
use crate::info::PackageInfo;
use std::collections::BTreeSet;

/// Whether `chosen` satisfies `dep` the way [`super::super::solver`] checks a dependency
/// against a decided name: some chosen package provides a matching version (for `!name`: none
/// does).
pub(super) fn satisfied(dep: &Dependency, chosen: &[&PackageInfo]) -> bool {
    let matching = chosen.iter().any(|p| {
        p.provided_version(dep.name.as_str())
            .is_some_and(|v| dep.matches(v, p.checksum.as_ref()))
    });
    matching != dep.conflict
}

/// Whether a positive `dep` is satisfied by a package the solver would choose for it: its own
/// name, a versioned provides, or an unversioned provides of a package with
/// `provider_priority` or whose own name is required (`required`).
fn selectable_for(dep: &Dependency, chosen: &[&PackageInfo], required: &BTreeSet<&str>) -> bool {
    chosen.iter().any(|p| {
        p.provided_version(dep.name.as_str()).is_some_and(|v| {
            dep.matches(v, p.checksum.as_ref())
                && (v.is_some()
                    || p.provider_priority.unwrap_or(0) > 0
                    || required.contains(p.name.as_str()))
        })
    })
}

/// Whether `chosen` is an installation the solver may produce for `world` from `index`:
///
/// * at most one package per name, and a name provided by several chosen packages only if
///   they all provide it unversioned;
/// * every world entry and every dependency of a chosen package is satisfied, a positive one
///   by a package the solver may choose for it (see [`selectable_for`]);
/// * an `install_if` package is chosen exactly when all its conditions hold.
pub(super) fn is_solution(
    chosen: &[&PackageInfo],
    world: &[Dependency],
    index: &[PackageInfo],
) -> bool {
    for (i, p) in chosen.iter().enumerate() {
        if chosen[..i].iter().any(|q| q.name == p.name) {
            return false;
        }
    }
    let mut provided: Vec<(&str, bool)> = Vec::new();
    for p in chosen {
        provided.push((p.name.as_str(), true));
        provided.extend(
            p.provides
                .iter()
                .map(|q| (q.name.as_str(), q.version.is_some())),
        );
    }
    for &(n, versioned) in &provided {
        let count = provided.iter().filter(|(m, _)| *m == n).count();
        if count > 1 && (versioned || provided.iter().any(|&(m, v)| m == n && v)) {
            return false;
        }
    }
    let deps = || {
        world
            .iter()
            .chain(chosen.iter().flat_map(|p| p.depends.iter()))
    };
    let required: BTreeSet<&str> = deps()
        .filter(|d| !d.conflict)
        .map(|d| d.name.as_str())
        .collect();
    for d in deps() {
        let ok = if d.conflict {
            satisfied(d, chosen)
        } else {
            selectable_for(d, chosen, &required)
        };
        if !ok {
            return false;
        }
    }
    index.iter().filter(|p| !p.install_if.is_empty()).all(|p| {
        let triggered = p.install_if.iter().all(|d| satisfied(d, chosen));
        triggered == chosen.iter().any(|q| std::ptr::eq(*q, p))
    })
}

/// Adds the `install_if` packages whose conditions hold, until none is left to add.
fn with_triggered<'a>(
    mut chosen: Vec<&'a PackageInfo>,
    index: &'a [PackageInfo],
) -> Vec<&'a PackageInfo> {
    loop {
        let before = chosen.len();
        for p in index.iter().filter(|p| !p.install_if.is_empty()) {
            if !chosen.iter().any(|q| std::ptr::eq(*q, p))
                && p.install_if.iter().all(|d| satisfied(d, &chosen))
            {
                chosen.push(p);
            }
        }
        if chosen.len() == before {
            return chosen;
        }
    }
}

/// An installation of `world` from `index` that [`is_solution`] accepts, found by trying
/// every choice of at most one package per name (`install_if` packages follow from the
/// choice); `None` if there is none. Meant for indexes of a dozen packages.
pub(super) fn find_solution<'a>(
    index: &'a [PackageInfo],
    world: &[Dependency],
) -> Option<Vec<&'a PackageInfo>> {
    let mut groups: Vec<Vec<&PackageInfo>> = Vec::new();
    for p in index.iter().filter(|p| p.install_if.is_empty()) {
        match groups.iter_mut().find(|g| g[0].name == p.name) {
            Some(g) => g.push(p),
            None => groups.push(vec![p]),
        }
    }
    // One digit per name: 0 = none of its packages, k = its k-th package.
    let mut digits = vec![0usize; groups.len()];
    loop {
        let base: Vec<&PackageInfo> = groups
            .iter()
            .zip(&digits)
            .filter(|&(_, &d)| d > 0)
            .map(|(g, &d)| g[d - 1])
            .collect();
        let chosen = with_triggered(base, index);
        if is_solution(&chosen, world, index) {
            return Some(chosen);
        }
        let mut i = 0;
        loop {
            if i == digits.len() {
                return None;
            }
            digits[i] += 1;
            if digits[i] <= groups[i].len() {
                break;
            }
            digits[i] = 0;
            i += 1;
        }
    }
}
