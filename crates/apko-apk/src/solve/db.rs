//! The solver's view of the package database: names with their providers, packages with their
//! parsed dependencies and repository bits, in the order apk-tools builds them.

use super::Request;
use super::murmur::bucket;
use crate::checksum::Checksum;
use crate::dependency::Dependency;
use crate::info::PackageInfo;
use crate::version::Version;
use std::collections::HashMap;

pub(crate) type NameId = usize;
pub(crate) type PkgId = usize;

/// Solver flags (apk's `APK_SOLVERF_*`).
pub(crate) const UPGRADE: u8 = 1;
pub(crate) const AVAILABLE: u8 = 2;
pub(crate) const REINSTALL: u8 = 4;
pub(crate) const LATEST: u8 = 8;
pub(crate) const IGNORE_CONFLICT: u8 = 0x10;
pub(crate) const IGNORE_UPGRADE: u8 = 0x20;

/// Bit of the default (untagged) repository tag.
pub(crate) const DEFAULT_TAG_MASK: u32 = 1;

#[derive(Debug, Clone)]
pub(crate) struct Provider {
    pub(crate) pkg: PkgId,
    /// `None` for an unversioned ("virtual") provides.
    pub(crate) version: Option<Version>,
}

#[derive(Debug, Clone)]
pub(crate) struct Dep {
    pub(crate) name: NameId,
    pub(crate) dep: Dependency,
    pub(crate) tag: usize,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct NameState {
    pub(crate) seen: bool,
    pub(crate) locked: bool,
    pub(crate) chosen_pkg: Option<PkgId>,
    pub(crate) chosen_version: Option<Version>,
    pub(crate) requirers: i32,
    pub(crate) merge_depends: usize,
    pub(crate) merge_provides: usize,
    pub(crate) max_dep_chain: u32,
    pub(crate) reevaluate_deps: bool,
    pub(crate) reevaluate_iif: bool,
    pub(crate) has_iif: bool,
    pub(crate) no_iif: bool,
    pub(crate) has_options: bool,
    pub(crate) reverse_deps_done: bool,
    pub(crate) has_virtual_provides: bool,
    pub(crate) in_changeset: bool,
    pub(crate) installed_pkg: Option<PkgId>,
    pub(crate) installed_name: Option<NameId>,
}

#[derive(Debug, Clone)]
pub(crate) struct Name {
    pub(crate) text: String,
    pub(crate) providers: Vec<Provider>,
    pub(crate) rdepends: Vec<NameId>,
    pub(crate) rinstall_if: Vec<NameId>,
    pub(crate) priority: u8,
    pub(crate) solver_flags_set: bool,
    pub(crate) s: NameState,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct PkgState {
    pub(crate) seen: bool,
    pub(crate) pinning_allowed: u32,
    pub(crate) pinning_preferred: u32,
    pub(crate) available: bool,
    pub(crate) selectable: bool,
    pub(crate) iif_failed: bool,
    pub(crate) iif_triggered: bool,
    pub(crate) tag_preferred: bool,
    pub(crate) tag_ok: bool,
    pub(crate) conflicts: u32,
    pub(crate) max_dep_chain: u32,
    pub(crate) flags: u8,
    pub(crate) flags_inheritable: u8,
    pub(crate) dependencies_merged: bool,
    pub(crate) dependencies_used: bool,
    pub(crate) error: bool,
    pub(crate) in_changeset: bool,
    pub(crate) marked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Pkg<'a> {
    pub(crate) info: &'a PackageInfo,
    pub(crate) name: NameId,
    pub(crate) depends: Vec<Dep>,
    pub(crate) provides: Vec<(NameId, Option<Version>)>,
    pub(crate) install_if: Vec<Dep>,
    /// Bit 0 is apk's cache pseudo-repository; repository `i` of the request is bit `i + 1`.
    pub(crate) repos: u64,
    pub(crate) installed: bool,
    pub(crate) installed_tag: usize,
    /// Excluded by the caller (for example: not present on every architecture).
    pub(crate) excluded: bool,
    pub(crate) s: PkgState,
}

#[derive(Debug, Clone)]
pub(crate) struct Tag {
    pub(crate) name: String,
    pub(crate) allowed_repos: u64,
}

/// The database of one solver run.
#[derive(Debug)]
pub(crate) struct Db<'a> {
    pub(crate) names: Vec<Name>,
    pub(crate) pkgs: Vec<Pkg<'a>>,
    by_name: HashMap<String, NameId>,
    by_checksum: HashMap<Checksum, PkgId>,
    pub(crate) tags: Vec<Tag>,
    pub(crate) available_repos: u64,
    /// Installed packages, in installed-database order.
    pub(crate) installed: Vec<PkgId>,
}

impl<'a> Db<'a> {
    pub(crate) fn build(req: &Request<'a>) -> Result<Self, String> {
        if req.repositories.len() > 62 {
            return Err(format!(
                "too many repositories ({}; at most 62)",
                req.repositories.len()
            ));
        }
        let mut db = Db {
            names: Vec::new(),
            pkgs: Vec::new(),
            by_name: HashMap::new(),
            by_checksum: HashMap::new(),
            tags: vec![Tag {
                name: String::new(),
                allowed_repos: 1,
            }],
            available_repos: 1,
            installed: Vec::new(),
        };
        for (i, repo) in req.repositories.iter().enumerate() {
            let bit = 1u64 << (i + 1);
            let tag = db.tag(repo.tag.as_deref().unwrap_or(""));
            db.tags[tag].allowed_repos |= bit;
            db.available_repos |= bit;
        }
        for d in &req.world {
            db.name(d.name.as_str());
            if let Some(t) = &d.tag {
                db.tag(t);
            }
        }
        for inst in &req.installed {
            let id = db.add_package(inst.info, 0);
            db.pkgs[id].installed = true;
            db.pkgs[id].installed_tag = db.tag(inst.tag.as_deref().unwrap_or(""));
            db.installed.push(id);
        }
        for (i, repo) in req.repositories.iter().enumerate() {
            let bit = 1u64 << (i + 1);
            for info in repo.packages {
                if info.uninstallable {
                    continue;
                }
                db.add_package(info, bit);
            }
        }
        for name in &req.name_flags {
            db.name(name.0.as_str());
        }
        for p in &mut db.pkgs {
            if p.info.installed_size == 0 {
                p.repos |= 1;
            }
            p.excluded = req.exclude.as_ref().is_some_and(|f| f(p.info));
        }
        db.build_reverse();
        Ok(db)
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<NameId> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn name(&mut self, text: &str) -> NameId {
        if let Some(&id) = self.by_name.get(text) {
            return id;
        }
        let id = self.names.len();
        self.names.push(Name {
            text: text.to_owned(),
            providers: Vec::new(),
            rdepends: Vec::new(),
            rinstall_if: Vec::new(),
            priority: 0,
            solver_flags_set: false,
            s: NameState::default(),
        });
        self.by_name.insert(text.to_owned(), id);
        id
    }

    pub(crate) fn tag(&mut self, name: &str) -> usize {
        if let Some(i) = self.tags.iter().position(|t| t.name == name) {
            return i;
        }
        self.tags.push(Tag {
            name: name.to_owned(),
            allowed_repos: 0,
        });
        self.tags.len() - 1
    }

    fn deps(&mut self, list: &[Dependency]) -> Vec<Dep> {
        list.iter()
            .map(|d| {
                let tag = d.tag.as_deref().map_or(0, |t| self.tag(t));
                Dep {
                    name: self.name(d.name.as_str()),
                    dep: d.clone(),
                    tag,
                }
            })
            .collect()
    }

    fn add_package(&mut self, info: &'a PackageInfo, repo_bit: u64) -> PkgId {
        if let Some(sum) = info.checksum
            && let Some(&existing) = self.by_checksum.get(&sum)
        {
            self.pkgs[existing].repos |= repo_bit;
            return existing;
        }
        let name = self.name(info.name.as_str());
        let depends = self.deps(&info.depends);
        let provides: Vec<(NameId, Option<Version>)> = info
            .provides
            .iter()
            .map(|p| (self.name(p.name.as_str()), p.version.clone()))
            .collect();
        let install_if = self.deps(&info.install_if);
        let id = self.pkgs.len();
        self.names[name].providers.push(Provider {
            pkg: id,
            version: Some(info.version.clone()),
        });
        for (n, v) in &provides {
            self.names[*n].providers.push(Provider {
                pkg: id,
                version: v.clone(),
            });
        }
        self.pkgs.push(Pkg {
            info,
            name,
            depends,
            provides,
            install_if,
            repos: repo_bit,
            installed: false,
            installed_tag: 0,
            excluded: false,
            s: PkgState::default(),
        });
        if let Some(sum) = info.checksum {
            self.by_checksum.insert(sum, id);
        }
        id
    }

    /// Builds `rdepends`/`rinstall_if` in apk's hash-table order and the name priorities.
    fn build_reverse(&mut self) {
        let mut order: Vec<NameId> = (0..self.names.len()).collect();
        // Buckets in increasing order; inside a bucket the most recently created name first.
        order.sort_by_key(|&n| (bucket(&self.names[n].text), std::cmp::Reverse(n)));
        for &n in &order {
            let mut any_virtual = false;
            let mut all_virtual = true;
            for pi in 0..self.names[n].providers.len() {
                let pkg = self.names[n].providers[pi].pkg;
                if self.pkgs[pkg].name == n {
                    all_virtual = false;
                } else {
                    any_virtual = true;
                }
                for di in 0..self.pkgs[pkg].depends.len() {
                    let target = self.pkgs[pkg].depends[di].name;
                    if !self.names[target].rdepends.contains(&n) {
                        self.names[target].rdepends.push(n);
                    }
                }
                for di in 0..self.pkgs[pkg].install_if.len() {
                    let target = self.pkgs[pkg].install_if[di].name;
                    if !self.names[target].rinstall_if.contains(&n) {
                        self.names[target].rinstall_if.push(n);
                    }
                }
            }
            let has_providers = !self.names[n].providers.is_empty();
            self.names[n].priority = match (any_virtual, all_virtual && has_providers) {
                (_, true) => 2,
                (true, false) => 1,
                (false, false) => 0,
            };
        }
    }

    /// The repositories a package can come from, including those of its installed tag.
    pub(crate) fn pkg_repos(&self, p: PkgId) -> u64 {
        let pkg = &self.pkgs[p];
        let mut repos = pkg.repos;
        if pkg.installed {
            repos |= self.tags[pkg.installed_tag].allowed_repos;
        }
        repos
    }

    /// The repositories allowed by a tag bit mask.
    pub(crate) fn mask_repos(&self, mask: u32) -> u64 {
        self.tags
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < 32 && mask & (1 << i) != 0)
            .fold(0, |acc, (_, t)| acc | t.allowed_repos)
    }
}
