//! Dependency resolution with apk-tools 2.14 semantics.
//!
//! The solver is pure: it works on index records in memory and never downloads. It reproduces
//! apk's choices (providers, `provider_priority`, `install_if`, conflicts, repository tags,
//! preference for installed packages) and its install order, and reports failures the way apk
//! does, plus the chain of requirements that led to each problem.
//!
//! ```
//! use apko_apk::info::PackageInfo;
//! use apko_apk::solve::{Repository, resolve};
//!
//! let pkg = |n: &str, v: &str, deps: &str| {
//!     let mut p = PackageInfo::new(n.parse().unwrap(), v.parse().unwrap());
//!     p.depends = apko_apk::Dependency::parse_list(deps).unwrap();
//!     p.installed_size = 1;
//!     p
//! };
//! let index = vec![pkg("app", "1.0-r0", "libfoo>=2"), pkg("libfoo", "1.0-r0", ""), pkg("libfoo", "2.1-r0", "")];
//! let repos = [Repository::new("main", &index)];
//! let res = resolve(&["app".parse().unwrap()], &repos).unwrap();
//! let order: Vec<String> = res.packages.iter().map(|p| p.info.name_version()).collect();
//! assert_eq!(order, ["libfoo-2.1-r0", "app-1.0-r0"]);
//! ```

mod changeset;
mod db;
mod multi;
mod murmur;
mod queue;
mod report;
mod select;
mod solver;

pub use multi::{ArchRequest, ArchSolveError, resolve_archs};

use crate::dependency::Dependency;
use crate::info::PackageInfo;
use crate::name::PackageName;
use db::{Db, Dep};
use solver::Solver;
use std::fmt;
use std::ops::BitOr;

/// One repository given to the solver, in priority order (earlier wins ties).
#[derive(Debug, Clone)]
pub struct Repository<'a> {
    /// How the repository is named in messages (its URL or path).
    pub name: String,
    /// The `@tag` it was configured with, if any.
    pub tag: Option<String>,
    /// Its index records.
    pub packages: &'a [PackageInfo],
}

impl<'a> Repository<'a> {
    /// An untagged repository.
    pub fn new(name: &str, packages: &'a [PackageInfo]) -> Self {
        Repository {
            name: name.to_owned(),
            tag: None,
            packages,
        }
    }

    /// A repository pinned to `@tag`.
    pub fn tagged(name: &str, tag: &str, packages: &'a [PackageInfo]) -> Self {
        Repository {
            name: name.to_owned(),
            tag: Some(tag.to_owned()),
            packages,
        }
    }
}

/// An installed package (from the installed database) with the tag it was installed from.
#[derive(Debug, Clone)]
pub struct Installed<'a> {
    /// Its record.
    pub info: &'a PackageInfo,
    /// Its `s:` repository tag.
    pub tag: Option<String>,
}

/// apk's solver flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SolverFlags(u8);

impl SolverFlags {
    /// No flags.
    pub const NONE: SolverFlags = SolverFlags(0);
    /// Prefer newer versions over installed ones (`upgrade`, `add -u`).
    pub const UPGRADE: SolverFlags = SolverFlags(db::UPGRADE);
    /// Prefer packages available from a repository (`upgrade -a`).
    pub const AVAILABLE: SolverFlags = SolverFlags(db::AVAILABLE);
    /// Reinstall.
    pub const REINSTALL: SolverFlags = SolverFlags(db::REINSTALL);
    /// Prefer the latest version (`--latest`).
    pub const LATEST: SolverFlags = SolverFlags(db::LATEST);
    /// Ignore conflicts.
    pub const IGNORE_CONFLICT: SolverFlags = SolverFlags(db::IGNORE_CONFLICT);
    /// Keep installed versions (`upgrade --ignore`).
    pub const IGNORE_UPGRADE: SolverFlags = SolverFlags(db::IGNORE_UPGRADE);
}

impl BitOr for SolverFlags {
    type Output = SolverFlags;
    fn bitor(self, rhs: Self) -> Self {
        SolverFlags(self.0 | rhs.0)
    }
}

/// Everything the solver needs.
#[derive(Default)]
pub struct Request<'a> {
    /// The world: what must be installed (or, with `!`, must not).
    pub world: Vec<Dependency>,
    /// Repositories, in order.
    pub repositories: Vec<Repository<'a>>,
    /// The installed database, in file order.
    pub installed: Vec<Installed<'a>>,
    /// Global flags.
    pub flags: SolverFlags,
    /// Names given on apk's command line, with flags for their providers (and inheritable
    /// flags); such names are decided first.
    pub name_flags: Vec<(PackageName, SolverFlags, SolverFlags)>,
    /// Packages to treat as unavailable (for example: not present on every architecture).
    #[allow(clippy::type_complexity)]
    pub exclude: Option<Box<dyn Fn(&PackageInfo) -> bool + Send + Sync + 'a>>,
    /// On errors, drop the world entries that cannot be satisfied and solve again (apk's
    /// `--force-broken-world`).
    pub force_broken_world: bool,
    /// apk's self-upgrade pass: installed packages are preferred unless flagged `UPGRADE`.
    pub self_upgrade: bool,
}

impl fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("world", &self.world)
            .field("repositories", &self.repositories.len())
            .field("installed", &self.installed.len())
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

/// One change of the transaction.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// The installed package being replaced or removed.
    pub old: Option<&'a PackageInfo>,
    /// The package being installed (or kept).
    pub new: Option<&'a PackageInfo>,
    /// The repository tag the new package is installed from.
    pub new_tag: Option<String>,
    /// Index of the first repository of the request that has `new` (`None`: installed only).
    pub repository: Option<usize>,
    /// Whether the package is reinstalled.
    pub reinstall: bool,
}

impl Change<'_> {
    /// Whether this record changes anything.
    pub fn is_change(&self) -> bool {
        !matches!((self.old, self.new), (Some(a), Some(b)) if std::ptr::eq(a, b)) || self.reinstall
    }
}

/// What the solver decided.
#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    /// Every chosen package in install order, including unchanged installed ones, and the
    /// removals.
    pub changes: Vec<Change<'a>>,
    /// Number of errors (apk's exit status); 0 on success.
    pub errors: u32,
    /// apk's change lines (`(1/2) Installing b (2)`).
    pub lines: Vec<String>,
    /// apk's `ERROR: unable to select packages:` report, when `errors > 0`.
    pub report: Option<String>,
    /// For every problem, the chain of requirements from the world that leads to it.
    pub why: Vec<String>,
}

/// A request the solver cannot even start on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A world entry names a repository tag no repository has.
    #[error(
        "the repository tag of `{dependency}` does not exist (no repository is configured as `@{tag} URL`)"
    )]
    MissingTag {
        /// The world entry.
        dependency: String,
        /// The tag.
        tag: String,
    },
    /// Too many repositories.
    #[error("{0}")]
    Limits(String),
}

/// apk's world order: case-insensitive by name first, then byte order.
fn sort_world(world: &mut [Dep], db: &Db<'_>) {
    world.sort_by(|a, b| {
        crate::PackageName::apk_cmp(&db.names[a.name].text, &db.names[b.name].text)
    });
}

/// Stack for the solver's recursive walks (dependency discovery and the changeset follow
/// dependency chains, as apk-tools' do): deep chains in a hostile or odd index must not
/// overflow the caller's stack.
const SOLVER_STACK: usize = 256 << 20;

/// Runs the solver (on a thread of its own with a large stack).
pub fn solve<'a>(req: &Request<'a>) -> Result<Outcome<'a>, RequestError> {
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("apk-solver".into())
            .stack_size(SOLVER_STACK)
            .spawn_scoped(s, || solve_here(req))
        {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread to be had: solve on this one.
            Err(_) => solve_here(req),
        }
    })
}

fn solve_here<'a>(req: &Request<'a>) -> Result<Outcome<'a>, RequestError> {
    let mut db = Db::build(req).map_err(RequestError::Limits)?;
    for d in &req.world {
        if let Some(tag) = &d.tag {
            let t = db.tag(tag);
            if db.tags[t].allowed_repos == 0 {
                return Err(RequestError::MissingTag {
                    dependency: d.to_string(),
                    tag: tag.clone(),
                });
            }
        }
    }
    let mut world: Vec<Dep> = req
        .world
        .iter()
        .map(|d| {
            let tag = d.tag.as_deref().map_or(0, |t| db.tag(t));
            Dep {
                name: db.name(d.name.as_str()),
                dep: d.clone(),
                tag,
            }
        })
        .collect();
    sort_world(&mut world, &db);
    let name_flags: Vec<(usize, u8, u8)> = req
        .name_flags
        .iter()
        .map(|(n, f, fi)| {
            (
                db.lookup(n.as_str()).expect("created by Db::build"),
                f.0,
                fi.0,
            )
        })
        .collect();
    let mut s = Solver::new(db, req.flags.0, req.self_upgrade);
    s.solve(&world, &name_flags);
    let mut recs = s.generate_changeset(&world);
    if s.errors > 0 && req.force_broken_world {
        // Drop the world entries whose choice failed and solve again from scratch.
        world.retain(|d| {
            d.dep.conflict
                || s.db.names[d.name]
                    .s
                    .chosen_pkg
                    .is_some_and(|p| !s.db.pkgs[p].s.error)
        });
        let db = Db::build(req).map_err(RequestError::Limits)?;
        s = Solver::new(db, req.flags.0, req.self_upgrade);
        s.solve(&world, &name_flags);
        recs = s.generate_changeset(&world);
    }
    let lines = s.change_lines(&recs);
    let errors = s.errors;
    let (report, why) = if errors > 0 {
        (
            Some(s.error_report(&recs, &world)),
            s.explain(&recs, &world),
        )
    } else {
        (None, Vec::new())
    };
    let changes = recs
        .iter()
        .map(|c| Change {
            old: c.old.map(|p| s.db.pkgs[p].info),
            new: c.new.map(|p| s.db.pkgs[p].info),
            new_tag: (c.new_tag != 0).then(|| s.db.tags[c.new_tag].name.clone()),
            repository: c.new.and_then(|p| {
                let bits = s.db.pkgs[p].repos >> 1;
                (bits != 0).then(|| bits.trailing_zeros() as usize)
            }),
            reinstall: c.reinstall,
        })
        .collect();
    Ok(Outcome {
        changes,
        errors,
        lines,
        report,
        why,
    })
}

/// A package chosen for a fresh installation.
#[derive(Debug, Clone)]
pub struct Resolved<'a> {
    /// Its record.
    pub info: &'a PackageInfo,
    /// Index of the repository (in the order given) it comes from.
    pub repository: usize,
    /// The repository tag it is installed from.
    pub tag: Option<String>,
}

/// The packages to install, in install order (dependencies first).
#[derive(Debug, Clone)]
pub struct Resolution<'a> {
    /// In install order.
    pub packages: Vec<Resolved<'a>>,
}

/// Why a world could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SolveError {
    /// The request itself is invalid.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// No installable set satisfies the world.
    #[error("unable to select packages ({errors} problem{}):\n{}", if *errors == 1 { "" } else { "s" }, format_problems(report, why))]
    Unsatisfiable {
        /// apk's error count.
        errors: u32,
        /// apk's report.
        report: String,
        /// Requirement chains leading to the problems.
        why: Vec<String>,
    },
}

fn format_problems(report: &str, why: &[String]) -> String {
    let mut s = String::new();
    for l in report.lines().skip(1) {
        s.push_str(l);
        s.push('\n');
    }
    if !why.is_empty() {
        s.push_str("  why:\n");
        for w in why {
            let _ = std::fmt::Write::write_fmt(&mut s, format_args!("    {w}\n"));
        }
    }
    s.trim_end().to_owned()
}

/// Resolves a world into the packages to install on an empty root.
pub fn resolve<'a>(
    world: &[Dependency],
    repositories: &[Repository<'a>],
) -> Result<Resolution<'a>, SolveError> {
    let req = Request {
        world: world.to_vec(),
        repositories: repositories.to_vec(),
        ..Request::default()
    };
    resolution(&req)
}

pub(crate) fn resolution<'a>(req: &Request<'a>) -> Result<Resolution<'a>, SolveError> {
    let out = solve(req)?;
    if out.errors > 0 {
        return Err(SolveError::Unsatisfiable {
            errors: out.errors,
            report: out.report.unwrap_or_default(),
            why: out.why,
        });
    }
    let packages = out
        .changes
        .into_iter()
        .filter_map(|c| {
            Some(Resolved {
                info: c.new?,
                repository: c.repository?,
                tag: c.new_tag,
            })
        })
        .collect();
    Ok(Resolution { packages })
}

#[cfg(test)]
mod tests;
