//! Deciding: which name is decided next, which of its candidates wins (apk's
//! `compare_providers`), and locking the choice in (see docs/solver.md).

use super::db::{
    AVAILABLE, DEFAULT_TAG_MASK, IGNORE_UPGRADE, LATEST, NameId, PkgId, REINSTALL, UPGRADE,
};
use super::queue::DequeueKey;
use super::solver::Solver;
use crate::version::Version;
use std::cmp::{Ordering, Reverse};

impl Solver<'_> {
    /// The next name to decide, as apk 2.14 picks it from its list: the first ready name (its
    /// reverse dependencies done, required, a single option), else the first with the greatest
    /// [`DequeueKey`]. In debug builds the index is checked against apk's scan of the list.
    pub(super) fn pick_next(&self) -> Option<NameId> {
        let next = self.unresolved.next();
        #[cfg(debug_assertions)]
        {
            let mut best: Option<NameId> = None;
            let mut scanned = None;
            for n in self.unresolved.in_list_order() {
                let (ready, key) = self.decision_fields(n);
                if ready {
                    scanned = Some(n);
                    break;
                }
                if best.is_none_or(|b| key > self.decision_fields(b).1) {
                    best = Some(n);
                }
            }
            debug_assert_eq!(
                next,
                scanned.or(best),
                "indexed choice differs from apk's scan"
            );
        }
        next
    }

    /// What the choice of the next name reads of `n`: whether it is ready, and its key.
    pub(super) fn decision_fields(&self, n: NameId) -> (bool, DequeueKey) {
        let name = &self.db.names[n];
        let s = &name.s;
        (
            s.reverse_deps_done && s.requirers > 0 && !s.has_options,
            (
                name.solver_flags_set,
                Reverse(name.priority),
                s.max_dep_chain,
                s.requirers > 0,
            ),
        )
    }

    pub(super) fn select_package(&mut self, name: NameId) {
        let mut best: Option<(PkgId, Option<Version>)> = None;
        let s = &self.db.names[name].s;
        if s.requirers > 0 || s.has_iif {
            let requirers = s.requirers;
            for pi in 0..self.db.names[name].providers.len() {
                let prov = self.db.names[name].providers[pi].clone();
                let pkg = &self.db.pkgs[prov.pkg];
                if requirers == 0 && (!pkg.s.iif_triggered || !pkg.s.tag_ok) {
                    continue;
                }
                if prov.version.is_none()
                    && self.db.names[pkg.name].s.requirers == 0
                    && pkg.info.provider_priority.unwrap_or(0) == 0
                {
                    continue;
                }
                let better = match &best {
                    None => true,
                    Some((bp, bv)) => {
                        self.compare_providers(
                            (prov.pkg, prov.version.as_ref()),
                            (*bp, bv.as_ref()),
                        ) == Ordering::Greater
                    }
                };
                if better {
                    best = Some((prov.pkg, prov.version));
                }
            }
        }
        match best {
            Some((p, _)) => {
                if !self.db.pkgs[p].s.selectable || !self.db.pkgs[p].s.tag_ok {
                    self.mark_error(Some(p));
                }
                let own = self.db.pkgs[p].name;
                let version = self.db.pkgs[p].info.version.clone();
                self.assign(own, Some(p), Some(&version));
                for qi in 0..self.db.pkgs[p].provides.len() {
                    let (pn, pv) = self.db.pkgs[p].provides[qi].clone();
                    self.assign(pn, Some(p), pv.as_ref());
                }
                let deps = self.db.pkgs[p].depends.clone();
                for d in &deps {
                    self.apply_constraint(Some(p), d);
                }
            }
            None => {
                self.assign(name, None, None);
                if self.db.names[name].s.requirers > 0 {
                    self.errors += 1;
                }
            }
        }
    }

    fn assign(&mut self, n: NameId, pkg: Option<PkgId>, version: Option<&Version>) {
        if self.db.names[n].s.locked {
            if version.is_none() && self.db.names[n].s.chosen_version.is_none() {
                return;
            }
            if self.ignore_conflict {
                return;
            }
            let other = self.db.names[n].s.chosen_pkg;
            self.mark_error(pkg);
            self.mark_error(other);
            return;
        }
        {
            let s = &mut self.db.names[n].s;
            s.locked = true;
            s.chosen_pkg = pkg;
            s.chosen_version = version.cloned();
        }
        self.unresolved.remove(n);
        self.dirty.remove(n);
        if !self.ignore_conflict {
            for i in 0..self.db.names[n].providers.len() {
                let (q, qnone) = (
                    self.db.names[n].providers[i].pkg,
                    self.db.names[n].providers[i].version.is_none(),
                );
                if Some(q) == pkg {
                    continue;
                }
                if version.is_none() && qnone {
                    continue;
                }
                self.disqualify(q);
            }
        }
        self.reeval_rdeps(n);
        match pkg {
            Some(p) => self.reeval_riif_pkg(p),
            None => self.reeval_riif(n),
        }
    }

    /// apk's `compare_providers`: `Greater` when `a` is the better candidate.
    fn compare_providers(
        &self,
        a: (PkgId, Option<&Version>),
        b: (PkgId, Option<&Version>),
    ) -> Ordering {
        let (pa, pb) = (&self.db.pkgs[a.0], &self.db.pkgs[b.0]);
        let f = pa.s.flags | pb.s.flags;
        let cmp_bool = |x: bool, y: bool| x.cmp(&y);
        let mut r;
        macro_rules! decide {
            ($e:expr) => {
                r = $e;
                if r != Ordering::Equal {
                    return r;
                }
            };
        }
        if f & LATEST != 0
            && pa.s.pinning_allowed == DEFAULT_TAG_MASK
            && pb.s.pinning_allowed == DEFAULT_TAG_MASK
        {
            decide!(cmp_bool(pa.s.tag_ok, pb.s.tag_ok));
            if f & AVAILABLE != 0 {
                decide!(cmp_bool(pa.s.available, pb.s.available));
            } else if f & REINSTALL != 0 {
                decide!(cmp_bool(pa.s.selectable, pb.s.selectable));
            }
        } else {
            decide!(cmp_bool(pa.s.selectable, pb.s.selectable));
            decide!(cmp_bool(pa.s.dependencies_used, pb.s.dependencies_used));
            decide!(pb.s.conflicts.cmp(&pa.s.conflicts));
            if (self.self_upgrade && f & UPGRADE == 0) || f & IGNORE_UPGRADE != 0 {
                decide!(cmp_bool(pa.installed, pb.installed));
            }
            decide!(cmp_bool(pa.s.tag_ok, pb.s.tag_ok));
            if f & AVAILABLE != 0 {
                decide!(cmp_bool(pa.s.available, pb.s.available));
            }
            decide!(cmp_bool(pa.s.tag_preferred, pb.s.tag_preferred));
            if f & UPGRADE == 0 {
                decide!(cmp_bool(pa.installed, pb.installed));
            }
        }
        if let (Some(va), Some(vb)) = (a.1, b.1) {
            decide!(va.cmp(vb));
        }
        if pa.name == pb.name {
            decide!(pa.info.version.cmp(&pb.info.version));
        }
        decide!(cmp_bool(pa.installed, pb.installed));
        decide!(
            pa.info
                .provider_priority
                .unwrap_or(0)
                .cmp(&pb.info.provider_priority.unwrap_or(0))
        );
        decide!(cmp_bool(pa.s.selectable, pb.s.selectable));
        // The lowest repository bit wins (ffs; a package in no repository wins outright).
        let ffs = |x: u64| if x == 0 { 0 } else { x.trailing_zeros() + 1 };
        ffs(pb.repos).cmp(&ffs(pa.repos))
    }
}
