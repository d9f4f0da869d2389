//! `layering: {strategy: origin, budget: N}`: packages grouped into layers by origin, as apko
//! does (apko-behaviour §3.11). Layers that change together stay together, so an update of
//! one origin reuses every other layer from a registry's cache.
//!
//! Packages are grouped by `origin` (their name when they have none); groups are merged when
//! a package `replaces` a package of another group. Groups are ordered by installed size
//! (largest first; ties by their greatest package name); beyond `budget - 1` groups the rest
//! share one overflow group. The top layer holds everything else: directories, and every file
//! the builder wrote.

use apko_apk::info::PackageInfo;

/// Groups of package indices (into `packages`), bottom layer first.
pub(crate) fn groups(packages: &[&PackageInfo], budget: u32) -> Vec<Vec<usize>> {
    let n = packages.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let union = |parent: &mut Vec<usize>, a: usize, b: usize| {
        let (ra, rb) = (find(parent, a), find(parent, b));
        if ra != rb {
            parent[ra.max(rb)] = ra.min(rb);
        }
    };
    // Same origin.
    let key = |p: &PackageInfo| p.origin.clone().unwrap_or_else(|| p.name.to_string());
    for i in 0..n {
        for j in 0..i {
            if key(packages[i]) == key(packages[j]) {
                union(&mut parent, i, j);
                break;
            }
        }
    }
    // `replaces` across groups (the constraint honoured).
    for (i, p) in packages.iter().enumerate() {
        for (j, q) in packages.iter().enumerate() {
            if j != i && p.replaces_package(q) {
                union(&mut parent, i, j);
            }
        }
    }
    let mut by_root: std::collections::BTreeMap<usize, Vec<usize>> =
        std::collections::BTreeMap::new();
    for i in 0..n {
        let r = find(&mut parent, i);
        by_root.entry(r).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = by_root.into_values().collect();
    let size = |g: &[usize]| -> u64 { g.iter().map(|&i| packages[i].installed_size).sum() };
    let top_name = |g: &[usize]| -> String {
        g.iter()
            .map(|&i| packages[i].name.to_string())
            .max()
            .unwrap_or_default()
    };
    groups.sort_by(|a, b| {
        size(b)
            .cmp(&size(a))
            .then_with(|| top_name(a).cmp(&top_name(b)))
    });
    let budget = budget as usize;
    if budget > 0 && groups.len() > budget {
        let keep = budget.saturating_sub(1);
        let overflow: Vec<usize> = groups.drain(keep..).flatten().collect();
        groups.push(overflow);
    }
    for g in &mut groups {
        g.sort_unstable();
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, origin: Option<&str>, size: u64, replaces: &str) -> PackageInfo {
        let mut i = PackageInfo::new(name.parse().unwrap(), "1-r0".parse().unwrap());
        i.origin = origin.map(str::to_owned);
        i.installed_size = size;
        i.replaces = apko_apk::Dependency::parse_list(replaces).unwrap();
        i
    }

    #[test]
    fn origin_groups_by_size_with_overflow() {
        let pkgs = [
            p("musl", None, 600, ""),
            p("busybox", None, 900, ""),
            p("busybox-binsh", Some("busybox"), 10, ""),
            p("baselayout", None, 5, ""),
            p("baselayout-data", Some("baselayout"), 5, ""),
            p("ssl", None, 300, ""),
            p("crypto", Some("ssl"), 400, ""),
            p("replacer", None, 1, "baselayout"),
        ];
        let refs: Vec<&PackageInfo> = pkgs.iter().collect();
        let names = |gs: Vec<Vec<usize>>| -> Vec<Vec<&str>> {
            gs.iter()
                .map(|g| g.iter().map(|&i| pkgs[i].name.as_str()).collect())
                .collect()
        };
        assert_eq!(
            names(groups(&refs, 0)),
            [
                vec!["busybox", "busybox-binsh"],
                vec!["ssl", "crypto"],
                vec!["musl"],
                vec!["baselayout", "baselayout-data", "replacer"],
            ],
            "sizes 910, 700, 600, 11; replaces merges across origins"
        );
        assert_eq!(
            names(groups(&refs, 2)),
            [
                vec!["busybox", "busybox-binsh"],
                vec![
                    "musl",
                    "baselayout",
                    "baselayout-data",
                    "ssl",
                    "crypto",
                    "replacer"
                ],
            ],
            "budget 2: one group and the overflow"
        );
        assert_eq!(
            groups(&refs, 1).len(),
            1,
            "budget 1: everything in one group"
        );
    }
}
