//! apk-tools' output: the change lines of a transaction and the "unable to select packages"
//! report, formatted as apk 2.14 prints them (messages wrap at 50 columns, as apk does when
//! not writing to a terminal).

use super::changeset::{Analysis, ChangeRec};
use super::db::{Dep, NameId, PkgId};
use super::solver::Solver;
use crate::dependency::{Constraint, Dependency};
use std::cmp::Ordering;
use std::fmt::Write as _;

const WIDTH: usize = 50;

/// apk's `apk_dep_snprintf`: no tag, and `>~`/`<~` print as `?`.
pub(crate) fn dep_text(d: &Dependency) -> String {
    let mut s = String::new();
    if d.conflict {
        s.push('!');
    }
    s.push_str(d.name.as_str());
    match &d.constraint {
        Constraint::Any => {}
        Constraint::Checksum(c) => {
            let _ = write!(s, "><{c}");
        }
        Constraint::Version { op, version } => {
            let text = op.to_string();
            let op = match text.as_str() {
                "<" | "<=" | "=" | ">=" | ">" | "~" => text.as_str(),
                _ => "?",
            };
            let _ = write!(s, "{op}{version}");
        }
    }
    s
}

/// Text with apk's indented, wrapping lists.
struct Printer {
    out: String,
    x: usize,
    indent: usize,
    label: Option<String>,
    labels: usize,
}

impl Printer {
    fn label_start(&mut self, text: &str) {
        if let Some(l) = self.label.take() {
            let _ = writeln!(self.out, "  {l}:");
            self.x = 0;
            self.indent = 0;
            self.labels += 1;
        }
        if self.x == 0 {
            let s = format!("    {text}");
            self.x = s.len();
            self.indent = self.x + 1;
            self.out.push_str(&s);
        }
    }

    fn label_end(&mut self) {
        if self.x != 0 {
            self.out.push('\n');
            self.x = 0;
            self.indent = 0;
        }
    }

    fn item(&mut self, text: &str) {
        if self.x <= self.indent {
            let pad = self.indent - self.x;
            let _ = write!(self.out, "{:pad$}{text}", "");
            self.x += pad + text.len();
        } else if self.x + text.len() + 1 >= WIDTH {
            let _ = write!(self.out, "\n{:indent$}{text}", "", indent = self.indent);
            self.x = self.indent + text.len();
        } else {
            let _ = write!(self.out, " {text}");
            self.x += text.len() + 1;
        }
    }
}

const PRESENT: u32 = 0x8000_0000;
const MISSING: u32 = 0x4000_0000;
const VIRTUAL_ONLY: u32 = 0x2000_0000;
const INSTALLIF: u32 = 0x1000_0000;
const COUNT: u32 = 0xffff;

impl Solver<'_> {
    fn pkg_text(&self, p: PkgId) -> String {
        self.db.pkgs[p].info.name_version()
    }

    /// The change lines (stdout of `apk add --simulate`), without the final `OK:` line.
    pub(crate) fn change_lines(&self, changes: &[ChangeRec]) -> Vec<String> {
        let mut lines = Vec::new();
        let changed = |c: &ChangeRec| c.old != c.new || c.reinstall || c.old_tag != c.new_tag;
        let total = changes.iter().filter(|c| changed(c)).count();
        for c in changes.iter().filter(|c| changed(c)) {
            let tag = match c.new {
                Some(_) if c.new_tag != 0 => format!("@{}", self.db.tags[c.new_tag].name),
                _ => String::new(),
            };
            let (msg, name, versions) = match (c.old, c.new) {
                (None, Some(n)) => ("Installing", n, self.db.pkgs[n].info.version.to_string()),
                (Some(o), None) => ("Purging", o, self.db.pkgs[o].info.version.to_string()),
                (Some(o), Some(n)) if o == n => {
                    let msg = if c.reinstall {
                        "Reinstalling"
                    } else {
                        "Updating pinning"
                    };
                    (msg, n, self.db.pkgs[n].info.version.to_string())
                }
                (Some(o), Some(n)) => {
                    let (ov, nv) = (&self.db.pkgs[o].info.version, &self.db.pkgs[n].info.version);
                    let msg = match nv.cmp(ov) {
                        Ordering::Less => "Downgrading",
                        Ordering::Equal => "Replacing",
                        Ordering::Greater => "Upgrading",
                    };
                    (msg, n, format!("{ov} -> {nv}"))
                }
                (None, None) => continue,
            };
            let tag = if c.new.is_none() { String::new() } else { tag };
            lines.push(format!(
                "({}/{total}) {msg} {}{tag} ({versions})",
                lines.len() + 1,
                self.db.pkgs[name].info.name
            ));
        }
        lines
    }

    /// The "unable to select packages" report.
    pub(crate) fn error_report(&mut self, changes: &[ChangeRec], world: &[Dep]) -> String {
        for c in changes {
            if let Some(p) = c.new {
                self.db.pkgs[p].s.marked = true;
            }
        }
        let mut ns = vec![0u32; self.db.names.len()];
        let mut ps = vec![0u32; self.db.pkgs.len()];
        self.discover_deps(world, &mut ns, &mut ps);
        let mut pr = Printer {
            out: String::from("ERROR: unable to select packages:\n"),
            x: 0,
            indent: 0,
            label: None,
            labels: 0,
        };
        self.analyze_deps(&mut pr, world, world, &mut ns);
        for c in changes {
            let Some(p) = c.new else { continue };
            self.analyze_package(&mut pr, p, c.new_tag, world);
            let deps = self.db.pkgs[p].depends.clone();
            self.analyze_deps(&mut pr, &deps, world, &mut ns);
        }
        if pr.labels == 0 {
            pr.out
                .push_str("Huh? Error reporter did not find the broken constraints.\n");
        }
        pr.out
    }

    fn is_name_concrete(&self, p: PkgId, n: NameId) -> bool {
        let pkg = &self.db.pkgs[p];
        pkg.name == n || pkg.provides.iter().any(|(pn, pv)| *pn == n && pv.is_some())
    }

    fn discover_name(&self, n: NameId, pkg_state: u32, ns: &mut [u32], ps: &mut [u32]) {
        for prov in &self.db.names[n].providers {
            let p = prov.pkg;
            let pkg = &self.db.pkgs[p];
            if !pkg.s.marked {
                continue;
            }
            let mut state = pkg_state;
            if (state == PRESENT || state == INSTALLIF)
                && pkg.info.provider_priority.unwrap_or(0) == 0
                && !self.is_name_concrete(p, n)
            {
                state = VIRTUAL_ONLY;
            }
            if ps[p] & state != 0 {
                continue;
            }
            ps[p] |= state;
            ns[pkg.name] |= state;
            for (pn, pv) in &pkg.provides {
                let dep_state = if state == INSTALLIF && pv.is_none() {
                    VIRTUAL_ONLY
                } else {
                    state
                };
                ns[*pn] |= dep_state;
            }
            self.discover_deps(&pkg.depends, ns, ps);
            if state == PRESENT || state == INSTALLIF {
                self.discover_reverse_iif(pkg.name, ns, ps);
                for (pn, _) in &pkg.provides {
                    self.discover_reverse_iif(*pn, ns, ps);
                }
            }
        }
    }

    fn discover_deps(&self, deps: &[Dep], ns: &mut [u32], ps: &mut [u32]) {
        for d in deps {
            if !d.dep.conflict {
                self.discover_name(d.name, PRESENT, ns, ps);
            }
        }
    }

    fn discover_reverse_iif(&self, n: NameId, ns: &mut [u32], ps: &mut [u32]) {
        for &n0 in &self.db.names[n].rinstall_if {
            for prov in &self.db.names[n0].providers {
                let pkg = &self.db.pkgs[prov.pkg];
                if !pkg.s.marked || pkg.install_if.is_empty() {
                    continue;
                }
                let ok = pkg
                    .install_if
                    .iter()
                    .all(|d| d.dep.conflict != (ns[d.name] & (PRESENT | INSTALLIF) != 0));
                if ok {
                    self.discover_name(pkg.name, INSTALLIF, ns, ps);
                    for (pn, _) in &pkg.provides {
                        self.discover_name(*pn, INSTALLIF, ns, ps);
                    }
                }
            }
        }
    }

    fn analyze_deps(&self, pr: &mut Printer, deps: &[Dep], world: &[Dep], ns: &mut [u32]) {
        for d in deps {
            if d.dep.conflict || ns[d.name] & (PRESENT | MISSING) != 0 {
                continue;
            }
            ns[d.name] |= MISSING;
            self.analyze_missing_name(pr, d.name, world, ns);
        }
    }

    fn analyze_missing_name(&self, pr: &mut Printer, n: NameId, world: &[Dep], ns: &mut [u32]) {
        let name = &self.db.names[n];
        if name.providers.is_empty() {
            pr.label = Some(format!("{} (no such package)", name.text));
        } else {
            pr.label = Some(format!("{} (virtual)", name.text));
            pr.label_start("note:");
            for w in "please select one of the 'provided by' packages explicitly".split(' ') {
                pr.item(w);
            }
            pr.label_end();
            pr.label_start("provided by:");
            for prov in &name.providers {
                ns[self.db.pkgs[prov.pkg].name] += 1;
            }
            for prov in &name.providers {
                let n0 = self.db.pkgs[prov.pkg].name;
                let refs = (ns[n0] & COUNT) as usize;
                if refs == self.db.names[n0].providers.len() {
                    pr.item(&self.db.names[n0].text);
                    ns[n0] &= !COUNT;
                } else if refs > 0 {
                    pr.item(&self.pkg_text(prov.pkg));
                    ns[n0] -= 1;
                }
            }
            pr.label_end();
        }
        pr.label_start("required by:");
        for d in world {
            if d.name == n && !d.dep.conflict {
                pr.item(&format!("world[{}]", dep_text(&d.dep)));
            }
        }
        let mut visited = vec![false; self.db.pkgs.len()];
        for &n0 in &name.rdepends {
            for prov in &self.db.names[n0].providers {
                let p0 = prov.pkg;
                if !self.db.pkgs[p0].s.marked || visited[p0] {
                    continue;
                }
                visited[p0] = true;
                if let Some(d) = self.db.pkgs[p0]
                    .depends
                    .iter()
                    .find(|d| d.name == n && !d.dep.conflict)
                {
                    pr.item(&format!("{}[{}]", self.pkg_text(p0), dep_text(&d.dep)));
                }
            }
        }
        pr.label_end();
    }

    fn analyze_package(&self, pr: &mut Printer, p: PkgId, tag: usize, world: &[Dep]) {
        pr.label = Some(self.pkg_text(p));
        self.print_pinning_errors(pr, p, tag);
        self.print_conflicts(pr, p);
        self.print_deps(pr, p, Analysis::Conflicts, world);
        if pr.label.is_none() {
            self.print_deps(pr, p, Analysis::Satisfies, world);
        }
    }

    fn print_pinning_errors(&self, pr: &mut Printer, p: PkgId, tag: usize) {
        let pkg = &self.db.pkgs[p];
        if pkg.installed {
            return;
        }
        if pkg.repos & self.db.available_repos == 0 || pkg.excluded {
            pr.label_start("masked in:");
            pr.item(if pkg.excluded {
                "--arch"
            } else {
                "--no-network"
            });
        } else if pkg.repos == 1 {
            pr.label_start("masked in:");
            pr.item("cache");
        } else {
            let mask = 1u32 | (1u32 << tag.min(31));
            if pkg.repos & self.db.mask_repos(mask) != 0 {
                return;
            }
            for t in &self.db.tags {
                if pkg.repos & t.allowed_repos != 0 {
                    pr.label_start("masked in:");
                    pr.item(&format!("@{}", t.name));
                }
            }
        }
        pr.label_end();
    }

    fn print_conflicts(&self, pr: &mut Printer, p: PkgId) {
        let pkg = &self.db.pkgs[p];
        for prov in &self.db.names[pkg.name].providers {
            if prov.pkg == p || !self.db.pkgs[prov.pkg].s.marked {
                continue;
            }
            pr.label_start("conflicts:");
            pr.item(&self.pkg_text(prov.pkg));
        }
        for (qi, (pn, pv)) in pkg.provides.iter().enumerate() {
            let mut once = true;
            for prov in &self.db.names[*pn].providers {
                if !self.db.pkgs[prov.pkg].s.marked {
                    continue;
                }
                if pv.is_none() && prov.version.is_none() {
                    continue;
                }
                if once && prov.pkg == p && prov.version == *pv {
                    once = false;
                    continue;
                }
                pr.label_start("conflicts:");
                let provide = &pkg.info.provides[qi];
                let d = match &provide.version {
                    Some(v) => format!("{}={v}", provide.name),
                    None => provide.name.to_string(),
                };
                pr.item(&format!("{}[{d}]", self.pkg_text(prov.pkg)));
            }
        }
        pr.label_end();
    }

    fn print_deps(&self, pr: &mut Printer, p: PkgId, want: Analysis, world: &[Dep]) {
        let label = if want == Analysis::Satisfies {
            "satisfies:"
        } else {
            "breaks:"
        };
        if let Some(d) = world
            .iter()
            .find(|d| self.analyze(&d.dep, d.name, p) == want)
        {
            pr.label_start(label);
            pr.item(&format!("world[{}]", dep_text(&d.dep)));
        }
        let mut visited = vec![false; self.db.pkgs.len()];
        for (p0, di) in self.reverse_dependencies(p, false, true, want, Some(&mut visited)) {
            pr.label_start(label);
            let d = &self.db.pkgs[p0].depends[di].dep;
            pr.item(&format!("{}[{}]", self.pkg_text(p0), dep_text(d)));
        }
        pr.label_end();
    }
}

impl Solver<'_> {
    /// For every problem (a package selected with an error, or a required name nothing
    /// provides), the chain of requirements from the world that leads to it.
    pub(crate) fn explain(&self, changes: &[ChangeRec], world: &[Dep]) -> Vec<String> {
        use std::collections::VecDeque;
        // Breadth-first over the chosen packages, remembering how each was reached.
        let mut via: Vec<Option<String>> = vec![None; self.db.pkgs.len()];
        let mut queue = VecDeque::new();
        for d in world.iter().filter(|d| !d.dep.conflict) {
            if let Some(p) = self.db.names[d.name].s.chosen_pkg
                && via[p].is_none()
            {
                via[p] = Some(format!("world[{}] → {}", d.dep, self.pkg_text(p)));
                queue.push_back(p);
            }
        }
        while let Some(p) = queue.pop_front() {
            for d in self.db.pkgs[p].depends.iter().filter(|d| !d.dep.conflict) {
                if let Some(c) = self.db.names[d.name].s.chosen_pkg
                    && via[c].is_none()
                {
                    via[c] = Some(format!(
                        "{} [{}] → {}",
                        via[p].as_deref().unwrap_or(""),
                        d.dep,
                        self.pkg_text(c)
                    ));
                    queue.push_back(c);
                }
            }
        }
        let mut out = Vec::new();
        for c in changes {
            if let Some(p) = c.new
                && self.db.pkgs[p].s.error
            {
                let chain = via[p].clone().unwrap_or_else(|| self.pkg_text(p));
                out.push(format!("{}: {chain}", self.pkg_text(p)));
            }
        }
        // Required names with no provider chosen.
        for (n, name) in self.db.names.iter().enumerate() {
            if !name.s.locked || name.s.chosen_pkg.is_some() {
                continue;
            }
            if let Some(d) = world.iter().find(|d| d.name == n && !d.dep.conflict) {
                out.push(format!(
                    "{}: required by world[{}], but {}",
                    name.text,
                    d.dep,
                    self.unavailable(n)
                ));
                continue;
            }
            for (p, path) in via.iter().enumerate() {
                let Some(path) = path else { continue };
                if let Some(d) = self.db.pkgs[p]
                    .depends
                    .iter()
                    .find(|d| d.name == n && !d.dep.conflict)
                {
                    out.push(format!(
                        "{}: required by {path} [{}], but {}",
                        name.text,
                        d.dep,
                        self.unavailable(n)
                    ));
                    break;
                }
            }
        }
        out
    }

    fn unavailable(&self, n: NameId) -> &'static str {
        let name = &self.db.names[n];
        if name.providers.is_empty() {
            "no repository has a package of that name"
        } else if name.providers.iter().all(|p| p.version.is_none()) {
            "it is only provided virtually; add one of its providers to the world"
        } else {
            "no candidate satisfies every constraint"
        }
    }
}
