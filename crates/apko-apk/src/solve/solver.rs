//! The solver proper: apk-tools 2.14's propagating, non-backtracking selection
//! (see docs/solver.md for the algorithm and its sources). This file holds the state and the
//! propagation (discovery, constraints, reconsidering names); `select.rs` decides names.

use super::db::{
    AVAILABLE, DEFAULT_TAG_MASK, Db, Dep, IGNORE_CONFLICT, NameId, NameState, PkgId, PkgState,
};
use super::queue::{Dirty, Unresolved};
use crate::dependency::{Constraint, Dependency};
use crate::version::Version;

pub(crate) struct Solver<'a> {
    pub(crate) db: Db<'a>,
    pub(super) dirty: Dirty,
    /// apk's list of names to decide (new names at the front), indexed (see `queue.rs`).
    pub(super) unresolved: Unresolved,
    pub(crate) errors: u32,
    pub(crate) ignore_conflict: bool,
    flags_inherit: u8,
    pinning_inherit: u32,
    global_flags: u8,
    pub(super) self_upgrade: bool,
}

/// apk's `apk_dep_is_provided`: does the provider `(pkg, version)` satisfy `dep`?
pub(crate) fn is_provided(
    db: &Db<'_>,
    dep: &Dependency,
    pkg: Option<PkgId>,
    version: Option<&Version>,
) -> bool {
    let Some(pkg) = pkg else {
        return dep.conflict;
    };
    match &dep.constraint {
        Constraint::Checksum(c) => db.pkgs[pkg].info.checksum.as_ref() == Some(c),
        Constraint::Any => !dep.conflict,
        Constraint::Version { .. } => match version {
            None => dep.conflict,
            Some(v) => dep.constraint.matches_version(Some(v)) ^ dep.conflict,
        },
    }
}

impl<'a> Solver<'a> {
    pub(crate) fn new(db: Db<'a>, global_flags: u8, self_upgrade: bool) -> Self {
        let names = db.names.len();
        Solver {
            db,
            dirty: Dirty::new(names),
            unresolved: Unresolved::new(names),
            errors: 0,
            ignore_conflict: global_flags & IGNORE_CONFLICT != 0,
            flags_inherit: 0,
            pinning_inherit: 0,
            global_flags,
            self_upgrade,
        }
    }

    fn chosen(&self, n: NameId) -> (Option<PkgId>, Option<&Version>) {
        let s = &self.db.names[n].s;
        (s.chosen_pkg, s.chosen_version.as_ref())
    }

    fn provided_by_choice(&self, d: &Dep) -> bool {
        let (p, v) = self.chosen(d.name);
        is_provided(&self.db, &d.dep, p, v)
    }

    pub(crate) fn mark_error(&mut self, pkg: Option<PkgId>) {
        if let Some(p) = pkg
            && !self.db.pkgs[p].s.error
        {
            self.db.pkgs[p].s.error = true;
            self.errors += 1;
        }
    }

    /// Runs the solver over `world` (already sorted) with per-name flags applied.
    pub(crate) fn solve(&mut self, world: &[Dep], name_flags: &[(NameId, u8, u8)]) {
        for n in &mut self.db.names {
            n.s = NameState::default();
        }
        for p in &mut self.db.pkgs {
            p.s = PkgState::default();
        }
        self.dirty = Dirty::new(self.db.names.len());
        self.unresolved = Unresolved::new(self.db.names.len());
        for &(n, f, fi) in name_flags {
            self.db.names[n].solver_flags_set = true;
            for i in 0..self.db.names[n].providers.len() {
                let p = self.db.names[n].providers[i].pkg;
                self.db.pkgs[p].s.flags |= f;
                self.db.pkgs[p].s.flags_inheritable |= fi;
            }
        }
        self.flags_inherit = self.global_flags;
        for d in world {
            self.discover(d.name);
        }
        for d in world {
            self.pinning_inherit = 1 << d.tag.min(31);
            self.apply_constraint(None, d);
        }
        self.flags_inherit = 0;
        self.pinning_inherit = 0;
        loop {
            while let Some(n) = self.dirty.pop_front() {
                self.reconsider(n);
            }
            let Some(n) = self.pick_next() else { break };
            self.select_package(n);
        }
    }

    fn discover(&mut self, name: NameId) {
        if self.db.names[name].s.seen {
            return;
        }
        self.db.names[name].s.seen = true;
        self.db.names[name].s.no_iif = true;
        let default_repos = self.db.mask_repos(DEFAULT_TAG_MASK);
        for pi in 0..self.db.names[name].providers.len() {
            let p = self.db.names[name].providers[pi].pkg;
            if !self.db.pkgs[p].s.seen {
                let repos = self.db.pkg_repos(p);
                let available_repos = self.db.available_repos;
                let pkg = &mut self.db.pkgs[p];
                pkg.s.seen = true;
                pkg.s.pinning_allowed = DEFAULT_TAG_MASK;
                pkg.s.pinning_preferred = DEFAULT_TAG_MASK;
                pkg.s.available = pkg.repos & available_repos & !1 != 0;
                pkg.s.selectable =
                    !pkg.excluded && (pkg.repos & available_repos != 0 || pkg.installed);
                pkg.s.iif_failed = pkg.install_if.is_empty()
                    || (self.flags_inherit & AVAILABLE != 0 && !pkg.s.available);
                pkg.s.tag_preferred = pkg.info.installed_size == 0 || repos & default_repos != 0;
                pkg.s.tag_ok = pkg.s.tag_preferred || pkg.installed;
                for di in 0..self.db.pkgs[p].depends.len() {
                    let dn = self.db.pkgs[p].depends[di].name;
                    self.discover(dn);
                    let chain = self.db.names[dn].s.max_dep_chain + 1;
                    let pkg = &mut self.db.pkgs[p];
                    pkg.s.max_dep_chain = pkg.s.max_dep_chain.max(chain);
                }
            }
            let (iif_failed, chain) = (
                self.db.pkgs[p].s.iif_failed,
                self.db.pkgs[p].s.max_dep_chain,
            );
            let ns = &mut self.db.names[name].s;
            ns.no_iif &= iif_failed;
            ns.max_dep_chain = ns.max_dep_chain.max(chain);
        }
        for pi in 0..self.db.names[name].providers.len() {
            let p = self.db.names[name].providers[pi].pkg;
            let own = self.db.pkgs[p].name;
            for ri in 0..self.db.names[own].rinstall_if.len() {
                let m = self.db.names[own].rinstall_if[ri];
                self.discover(m);
            }
            for qi in 0..self.db.pkgs[p].provides.len() {
                let pn = self.db.pkgs[p].provides[qi].0;
                if !self.db.names[pn].s.seen {
                    for ri in 0..self.db.names[pn].rinstall_if.len() {
                        let m = self.db.names[pn].rinstall_if[ri];
                        self.discover(m);
                    }
                }
            }
        }
    }

    fn queue_dirty(&mut self, n: NameId) {
        let s = &self.db.names[n].s;
        if s.locked || (s.requirers == 0 && !s.reevaluate_iif) {
            return;
        }
        self.dirty.push_back(n);
    }

    fn queue_unresolved(&mut self, n: NameId) {
        let s = &self.db.names[n].s;
        if s.locked {
            return;
        }
        let want = s.requirers > 0 || s.has_iif;
        let (ready, key) = self.decision_fields(n);
        match (want, self.unresolved.contains(n)) {
            (true, false) => self.unresolved.push_front(n, ready, key),
            (true, true) => self.unresolved.update(n, ready, key),
            (false, true) => self.unresolved.remove(n),
            (false, false) => {}
        }
    }

    /// Re-indexes an unresolved name after fields its decision reads have changed.
    fn reindex_unresolved(&mut self, n: NameId) {
        let (ready, key) = self.decision_fields(n);
        self.unresolved.update(n, ready, key);
    }

    pub(super) fn reeval_rdeps(&mut self, n: NameId) {
        for i in 0..self.db.names[n].rdepends.len() {
            let m = self.db.names[n].rdepends[i];
            if self.db.names[m].s.seen {
                self.db.names[m].s.reevaluate_deps = true;
                self.queue_dirty(m);
            }
        }
    }

    pub(super) fn reeval_riif(&mut self, n: NameId) {
        for i in 0..self.db.names[n].rinstall_if.len() {
            let m = self.db.names[n].rinstall_if[i];
            if self.db.names[m].s.seen && !self.db.names[m].s.no_iif {
                self.db.names[m].s.reevaluate_iif = true;
                self.queue_dirty(m);
            }
        }
    }

    pub(super) fn reeval_riif_pkg(&mut self, p: PkgId) {
        self.reeval_riif(self.db.pkgs[p].name);
        for i in 0..self.db.pkgs[p].provides.len() {
            let n = self.db.pkgs[p].provides[i].0;
            self.reeval_riif(n);
        }
    }

    pub(super) fn disqualify(&mut self, p: PkgId) {
        self.db.pkgs[p].s.selectable = false;
        self.reeval_rdeps(self.db.pkgs[p].name);
        for i in 0..self.db.pkgs[p].provides.len() {
            let n = self.db.pkgs[p].provides[i].0;
            self.reeval_rdeps(n);
        }
        self.reeval_riif_pkg(p);
    }

    fn requirers_changed(&mut self, n: NameId) {
        self.queue_unresolved(n);
        self.reeval_riif(n);
        self.queue_dirty(n);
    }

    fn inherit(&mut self, p: PkgId, parent: Option<PkgId>) {
        let repos = self.db.pkg_repos(p);
        match parent {
            Some(pp) => {
                let (fi, pa) = (
                    self.db.pkgs[pp].s.flags_inheritable,
                    self.db.pkgs[pp].s.pinning_allowed,
                );
                let s = &mut self.db.pkgs[p].s;
                s.flags |= fi;
                s.flags_inheritable |= fi;
                s.pinning_allowed |= pa;
            }
            None => {
                let preferred = self.db.mask_repos(self.pinning_inherit);
                let s = &mut self.db.pkgs[p].s;
                s.flags |= self.flags_inherit;
                s.flags_inheritable |= self.flags_inherit;
                s.pinning_allowed |= self.pinning_inherit;
                s.pinning_preferred = self.pinning_inherit;
                s.tag_preferred = repos & preferred != 0;
            }
        }
        let allowed = self.db.mask_repos(self.db.pkgs[p].s.pinning_allowed);
        self.db.pkgs[p].s.tag_ok |= repos & allowed != 0;
    }

    pub(super) fn apply_constraint(&mut self, parent: Option<PkgId>, d: &Dep) {
        if d.dep.conflict && self.ignore_conflict {
            return;
        }
        let n = d.name;
        if !d.dep.conflict {
            self.db.names[n].s.requirers += 1;
            if self.db.names[n].s.requirers == 1 {
                self.requirers_changed(n);
            }
        }
        for i in 0..self.db.names[n].providers.len() {
            let (p, ok) = {
                let prov = &self.db.names[n].providers[i];
                (
                    prov.pkg,
                    is_provided(&self.db, &d.dep, Some(prov.pkg), prov.version.as_ref()),
                )
            };
            if !ok {
                self.db.pkgs[p].s.conflicts += 1;
            }
            if self.db.pkgs[p].s.selectable && self.db.pkgs[p].s.conflicts > 0 {
                self.disqualify(p);
            }
            if ok {
                self.inherit(p, parent);
            }
        }
    }

    fn satisfiable(&self, d: &Dep) -> bool {
        if d.dep.conflict && self.ignore_conflict {
            return true;
        }
        let ns = &self.db.names[d.name].s;
        if ns.locked {
            return self.provided_by_choice(d);
        }
        if ns.requirers == 0 && is_provided(&self.db, &d.dep, None, None) {
            return true;
        }
        self.db.names[d.name].providers.iter().any(|p| {
            self.db.pkgs[p.pkg].s.selectable
                && is_provided(&self.db, &d.dep, Some(p.pkg), p.version.as_ref())
        })
    }

    fn reconsider(&mut self, name: NameId) {
        let rd = std::mem::take(&mut self.db.names[name].s.reevaluate_deps);
        let ri = std::mem::take(&mut self.db.names[name].s.reevaluate_iif);
        let mut first: Option<PkgId> = None;
        let mut k = 0usize;
        let mut not_ok = 0;
        let mut has_iif = false;
        let mut no_iif = true;
        let nprov = self.db.names[name].providers.len();
        for pi in 0..nprov {
            let (p, ver_is_none) = {
                let prov = &self.db.names[name].providers[pi];
                (prov.pkg, prov.version.is_none())
            };
            self.db.pkgs[p].s.dependencies_merged = false;
            if rd {
                if !self.db.pkgs[p].s.selectable {
                    continue;
                }
                let bad = self.db.pkgs[p].depends.iter().any(|d| !self.satisfiable(d));
                if bad {
                    self.disqualify(p);
                }
            }
            if !self.db.pkgs[p].s.selectable {
                continue;
            }
            if ri && !self.db.pkgs[p].s.iif_triggered && !self.db.pkgs[p].s.iif_failed {
                let mut triggered = true;
                let mut failed = false;
                for d in &self.db.pkgs[p].install_if {
                    if !self.db.names[d.name].s.locked {
                        triggered = false;
                        break;
                    }
                    if !self.provided_by_choice(d) {
                        triggered = false;
                        failed = true;
                        break;
                    }
                }
                self.db.pkgs[p].s.iif_triggered = triggered;
                self.db.pkgs[p].s.iif_failed = failed;
            }
            if ri && self.db.pkgs[p].s.iif_triggered {
                for di in 0..self.db.pkgs[p].install_if.len() {
                    let dn = self.db.pkgs[p].install_if[di].name;
                    let parent = self.db.names[dn].s.chosen_pkg;
                    self.inherit(p, parent);
                }
            }
            has_iif |= self.db.pkgs[p].s.iif_triggered;
            no_iif &= self.db.pkgs[p].s.iif_failed;
            if self.db.names[name].s.requirers == 0 {
                continue;
            }
            self.db.pkgs[p].s.dependencies_merged = true;
            if first.is_none() {
                first = Some(p);
            }
            for di in 0..self.db.pkgs[p].depends.len() {
                let d = &self.db.pkgs[p].depends[di];
                if !d.dep.conflict {
                    let dn = d.name;
                    merge_step(&mut self.db.names[dn].s.merge_depends, k);
                }
            }
            let own = self.db.pkgs[p].name;
            if merge_step(&mut self.db.names[own].s.merge_provides, k) {
                self.db.names[own].s.has_virtual_provides |= ver_is_none;
            }
            for qi in 0..self.db.pkgs[p].provides.len() {
                let (pn, pv_none) = (
                    self.db.pkgs[p].provides[qi].0,
                    self.db.pkgs[p].provides[qi].1.is_none(),
                );
                if merge_step(&mut self.db.names[pn].s.merge_provides, k) {
                    self.db.names[pn].s.has_virtual_provides |= pv_none;
                }
            }
            if !self.db.pkgs[p].s.tag_ok {
                not_ok += 1;
            }
            k += 1;
        }
        {
            let s = &mut self.db.names[name].s;
            s.has_options = k > 1 || not_ok > 0;
            s.has_iif = has_iif;
            s.no_iif = no_iif;
        }
        self.queue_unresolved(name);
        if let Some(first) = first {
            for pi in 0..nprov {
                let p = self.db.names[name].providers[pi].pkg;
                self.db.pkgs[p].s.dependencies_used = self.db.pkgs[p].s.dependencies_merged;
            }
            let deps = self.db.pkgs[first].depends.clone();
            if k == 1 {
                for d in &deps {
                    if merge_done(&mut self.db.names[d.name].s.merge_depends, 1) {
                        self.apply_constraint(Some(first), d);
                    }
                }
            } else {
                for d in &deps {
                    let n0 = d.name;
                    if merge_done(&mut self.db.names[n0].s.merge_depends, k)
                        && self.db.names[n0].s.requirers == 0
                    {
                        self.db.names[n0].s.requirers = 1;
                        self.requirers_changed(n0);
                        for qi in 0..self.db.names[n0].providers.len() {
                            let q = self.db.names[n0].providers[qi].pkg;
                            self.inherit(q, Some(first));
                        }
                    }
                }
            }
            let own = self.db.pkgs[first].name;
            if merge_done(&mut self.db.names[own].s.merge_provides, k) {
                let skip = self.db.names[own].s.has_virtual_provides;
                self.exclude_non_providers(own, name, skip);
            }
            for qi in 0..self.db.pkgs[first].provides.len() {
                let pn = self.db.pkgs[first].provides[qi].0;
                if merge_done(&mut self.db.names[pn].s.merge_provides, k) {
                    let skip = self.db.names[pn].s.has_virtual_provides;
                    self.exclude_non_providers(pn, name, skip);
                }
            }
            self.db.names[own].s.has_virtual_provides = false;
            for qi in 0..self.db.pkgs[first].provides.len() {
                let pn = self.db.pkgs[first].provides[qi].0;
                self.db.names[pn].s.has_virtual_provides = false;
            }
        }
        let done = !self.db.names[name]
            .rdepends
            .iter()
            .any(|&m| self.db.names[m].s.seen && !self.db.names[m].s.locked);
        self.db.names[name].s.reverse_deps_done = done;
        self.reindex_unresolved(name);
    }

    fn exclude_non_providers(&mut self, n: NameId, must: NameId, skip_virtual: bool) {
        if n == must || self.ignore_conflict {
            return;
        }
        for i in 0..self.db.names[n].providers.len() {
            let (p, vnone) = (
                self.db.names[n].providers[i].pkg,
                self.db.names[n].providers[i].version.is_none(),
            );
            if self.db.pkgs[p].name == must || !self.db.pkgs[p].s.selectable {
                continue;
            }
            if skip_virtual && vnone {
                continue;
            }
            if self.db.pkgs[p]
                .provides
                .iter()
                .any(|(pn, pv)| *pn == must || (skip_virtual && pv.is_none()))
            {
                continue;
            }
            self.disqualify(p);
        }
    }
}

fn merge_step(c: &mut usize, k: usize) -> bool {
    if *c == k {
        *c = k + 1;
        true
    } else {
        false
    }
}

fn merge_done(c: &mut usize, k: usize) -> bool {
    let r = *c == k;
    *c = 0;
    r
}
