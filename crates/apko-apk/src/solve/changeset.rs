//! Turning the solver's choices into an ordered changeset (install order), as apk 2.14 does.

use super::db::{Dep, NameId, PkgId, REINSTALL};
use super::solver::{Solver, is_provided};
use crate::dependency::{Constraint, Dependency};

/// One record of the changeset; unchanged packages are included (`old == new`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChangeRec {
    pub(crate) old: Option<PkgId>,
    pub(crate) new: Option<PkgId>,
    pub(crate) old_tag: usize,
    pub(crate) new_tag: usize,
    pub(crate) reinstall: bool,
}

/// How a dependency relates to a package.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Analysis {
    Irrelevant,
    Satisfies,
    Conflicts,
}

impl Solver<'_> {
    /// apk's `apk_dep_analyze`.
    pub(crate) fn analyze(&self, d: &Dependency, dname: NameId, pkg: PkgId) -> Analysis {
        let p = &self.db.pkgs[pkg];
        let version = if dname == p.name {
            Some(Some(&p.info.version))
        } else {
            p.provides
                .iter()
                .find(|(n, _)| *n == dname)
                .map(|(_, v)| v.as_ref())
        };
        let Some(version) = version else {
            return Analysis::Irrelevant;
        };
        let ok = if dname == p.name {
            match &d.constraint {
                Constraint::Any => !d.conflict,
                Constraint::Checksum(c) => p.info.checksum.as_ref() == Some(c),
                Constraint::Version { .. } => d.constraint.matches_version(version) ^ d.conflict,
            }
        } else {
            is_provided(&self.db, d, Some(pkg), version)
        };
        if ok {
            Analysis::Satisfies
        } else {
            Analysis::Conflicts
        }
    }

    /// The dependencies of other packages that have analysis `want` against `pkg`, walking
    /// reverse dependencies in apk's order (`apk_pkg_foreach_reverse_dependency`). With
    /// `once`, each package contributes at most its first matching dependency and is skipped
    /// if already in `visited`.
    pub(crate) fn reverse_dependencies(
        &self,
        pkg: PkgId,
        installed_only: bool,
        marked_only: bool,
        want: Analysis,
        mut visited: Option<&mut Vec<bool>>,
    ) -> Vec<(PkgId, usize)> {
        let p = &self.db.pkgs[pkg];
        let mut names: Vec<NameId> = vec![p.name];
        names.extend(p.provides.iter().map(|(n, _)| *n));
        let mut out = Vec::new();
        for n in names {
            for &rn in &self.db.names[n].rdepends {
                for prov in &self.db.names[rn].providers {
                    let p0 = &self.db.pkgs[prov.pkg];
                    if (installed_only && !p0.installed) || (marked_only && !p0.s.marked) {
                        continue;
                    }
                    if let Some(v) = visited.as_deref()
                        && v[prov.pkg]
                    {
                        continue;
                    }
                    for (i, d) in p0.depends.iter().enumerate() {
                        if self.analyze(&d.dep, d.name, pkg) == want {
                            out.push((prov.pkg, i));
                            if let Some(v) = visited.as_deref_mut() {
                                v[prov.pkg] = true;
                                break;
                            }
                        }
                    }
                }
            }
        }
        out
    }

    pub(crate) fn generate_changeset(&mut self, world: &[Dep]) -> Vec<ChangeRec> {
        for n in &mut self.db.names {
            n.s.installed_pkg = None;
            n.s.installed_name = None;
            n.s.requirers = 0;
        }
        let installed = self.db.installed.clone();
        for &p in &installed {
            let own = self.db.pkgs[p].name;
            self.db.names[own].s.installed_pkg = Some(p);
            self.db.names[own].s.installed_name = Some(own);
            for i in 0..self.db.pkgs[p].provides.len() {
                let (pn, ref pv) = self.db.pkgs[p].provides[i];
                if pv.is_some() {
                    self.db.names[pn].s.installed_name = Some(own);
                }
            }
        }
        let mut out = Vec::new();
        for &p in &installed {
            self.track_added(p);
        }
        for &p in &installed {
            self.check_removal_by_deps(p, &mut out);
        }
        for d in world {
            self.gen_dep(None, d, &mut out);
        }
        for &p in &installed {
            let own = self.db.pkgs[p].name;
            self.gen_change(own, &mut out);
        }
        out
    }

    fn track_added(&mut self, p: PkgId) {
        for i in 0..self.db.pkgs[p].depends.len() {
            let d = &self.db.pkgs[p].depends[i];
            if d.dep.conflict {
                continue;
            }
            if let Some(inm) = self.db.names[d.name].s.installed_name {
                self.db.names[inm].s.requirers += 1;
            }
        }
    }

    fn track_removed(&mut self, p: PkgId, out: &mut Vec<ChangeRec>) {
        for i in 0..self.db.pkgs[p].depends.len() {
            let (conflict, dn) = (
                self.db.pkgs[p].depends[i].dep.conflict,
                self.db.pkgs[p].depends[i].name,
            );
            if conflict {
                continue;
            }
            if let Some(inm) = self.db.names[dn].s.installed_name {
                self.db.names[inm].s.requirers -= 1;
                if self.db.names[inm].s.requirers == 0
                    && let Some(ip) = self.db.names[dn].s.installed_pkg
                {
                    self.gen_remove(ip, out);
                }
            }
        }
    }

    fn check_removal_by_deps(&mut self, p: PkgId, out: &mut Vec<ChangeRec>) {
        let own = self.db.pkgs[p].name;
        if self.db.names[own].s.requirers == 0 && self.db.names[own].s.chosen_pkg.is_none() {
            self.gen_remove(p, out);
        }
    }

    fn gen_dep(&mut self, parent: Option<PkgId>, d: &Dep, out: &mut Vec<ChangeRec>) {
        if d.dep.conflict && self.ignore_conflict {
            return;
        }
        let c = self.db.names[d.name].s.chosen_pkg;
        let ok = {
            let s = &self.db.names[d.name].s;
            is_provided(&self.db, &d.dep, s.chosen_pkg, s.chosen_version.as_ref())
        };
        if !ok {
            self.mark_error(parent);
        }
        self.gen_change(d.name, out);
        if let Some(c) = c
            && self.db.pkgs[c].s.error
        {
            self.mark_error(parent);
        }
    }

    fn preprocess(&mut self, n: NameId, out: &mut Vec<ChangeRec>) {
        if self.db.names[n].s.in_changeset {
            return;
        }
        self.db.names[n].s.in_changeset = true;
        if let Some(ip) = self.db.names[n].s.installed_pkg {
            let chosen = self.db.names[n].s.chosen_pkg;
            if chosen.is_none_or(|c| self.db.pkgs[c].name != n) {
                self.gen_remove(ip, out);
            }
        }
        for i in 0..self.db.names[n].providers.len() {
            let q = self.db.names[n].providers[i].pkg;
            let qn = self.db.pkgs[q].name;
            if self.db.names[qn].s.installed_pkg == Some(q)
                && self.db.names[qn].s.chosen_pkg.is_none()
            {
                self.gen_remove(q, out);
            }
        }
    }

    fn reverse_iif_names(&self, p: PkgId) -> Vec<NameId> {
        let pkg = &self.db.pkgs[p];
        let mut v = self.db.names[pkg.name].rinstall_if.clone();
        for (n, _) in &pkg.provides {
            v.extend(self.db.names[*n].rinstall_if.iter().copied());
        }
        v
    }

    pub(crate) fn gen_change(&mut self, n: NameId, out: &mut Vec<ChangeRec>) {
        if self.db.names[n].s.in_changeset {
            return;
        }
        self.preprocess(n, out);
        let Some(p) = self.db.names[n].s.chosen_pkg else {
            return;
        };
        if self.db.pkgs[p].s.in_changeset {
            return;
        }
        self.db.pkgs[p].s.in_changeset = true;
        let own = self.db.pkgs[p].name;
        self.preprocess(own, out);
        for i in 0..self.db.pkgs[p].provides.len() {
            let pn = self.db.pkgs[p].provides[i].0;
            self.preprocess(pn, out);
        }
        let old = self.db.names[own].s.installed_pkg;
        if let Some(old) = old {
            for m in self.reverse_iif_names(old) {
                self.check_removal_by_iif(m, out);
            }
        }
        let deps = self.db.pkgs[p].depends.clone();
        for d in &deps {
            self.gen_dep(Some(p), d, out);
        }
        self.record(old, Some(p), out);
        for m in self.reverse_iif_names(p) {
            self.check_install_by_iif(m, out);
        }
        self.track_added(p);
        if let Some(old) = old {
            self.track_removed(old, out);
        }
    }

    fn gen_remove(&mut self, p: PkgId, out: &mut Vec<ChangeRec>) {
        let n = self.db.pkgs[p].name;
        if self.db.pkgs[p].s.in_changeset {
            return;
        }
        if let Some(c) = self.db.names[n].s.chosen_pkg
            && self.db.pkgs[c].name == n
        {
            return;
        }
        self.db.names[n].s.in_changeset = true;
        self.db.pkgs[p].s.in_changeset = true;
        for (p0, _) in self.reverse_dependencies(p, true, false, Analysis::Satisfies, None) {
            self.gen_remove(p0, out);
        }
        for m in self.reverse_iif_names(p) {
            self.check_removal_by_iif(m, out);
        }
        self.record(Some(p), None, out);
        self.track_removed(p, out);
    }

    fn check_install_by_iif(&mut self, m: NameId, out: &mut Vec<ChangeRec>) {
        let Some(p) = self.db.names[m].s.chosen_pkg else {
            return;
        };
        if !self.db.names[m].s.seen || self.db.names[m].s.in_changeset {
            return;
        }
        for d in &self.db.pkgs[p].install_if {
            let s = &self.db.names[d.name].s;
            if !s.in_changeset
                || !is_provided(&self.db, &d.dep, s.chosen_pkg, s.chosen_version.as_ref())
            {
                return;
            }
        }
        self.gen_change(m, out);
    }

    fn check_removal_by_iif(&mut self, m: NameId, out: &mut Vec<ChangeRec>) {
        let Some(p) = self.db.names[m].s.installed_pkg else {
            return;
        };
        if self.db.names[m].s.in_changeset || self.db.names[m].s.chosen_pkg.is_some() {
            return;
        }
        for i in 0..self.db.pkgs[p].install_if.len() {
            let dn = self.db.pkgs[p].install_if[i].name;
            if self.db.names[dn].s.in_changeset && self.db.names[dn].s.chosen_pkg.is_none() {
                self.check_removal_by_deps(p, out);
                return;
            }
        }
    }

    fn record(&mut self, old: Option<PkgId>, new: Option<PkgId>, out: &mut Vec<ChangeRec>) {
        let new_tag = new.map_or(0, |p| {
            let repos = self.db.pkg_repos(p);
            let allowed = self.db.pkgs[p].s.pinning_allowed;
            (0..self.db.tags.len().min(32))
                .find(|&i| allowed & (1 << i) != 0 && self.db.tags[i].allowed_repos & repos != 0)
                .unwrap_or(0)
        });
        out.push(ChangeRec {
            old,
            new,
            old_tag: old.map_or(0, |p| self.db.pkgs[p].installed_tag),
            new_tag,
            reinstall: new.is_some_and(|p| self.db.pkgs[p].s.flags & REINSTALL != 0),
        });
    }
}
