//! The image's root filesystem: packages installed without running their scripts, then what
//! those scripts (and apko) would have done, one step per module.
//!
//! A [`Rootfs`] is built once per architecture by [`Rootfs::build`]: the base layout and
//! keys, the packages with their installed database, then every step of [`STEPS`] in order.
//! Each step has the form `fn(&mut Rootfs, &ImageConfig) -> Result<(), RootfsError>`, so a
//! new emulated behaviour is one new module and one line in the list. The ids of the final
//! `/etc/passwd` and `/etc/group` are read once at the end.

mod accounts;
mod apkdb;
mod apko_json;
mod busybox;
mod certificates;
mod error;
mod ids;
mod jks;
mod keyring;
mod layout;
mod ldso;
mod packages;
mod paths;
mod services;

pub use error::RootfsError;
pub(crate) use ids::Ids;

use crate::fetch::Expanded;
use apko_apk::installed::InstalledDb;
use apko_apk::repositories::KeyFile;
use apko_config::{Arch, ImageConfig};
use apko_fs::{FsTree, Meta};

/// One architecture's filesystem and what is known about it.
#[derive(Debug)]
pub(crate) struct Rootfs {
    /// The architecture.
    pub(crate) arch: Arch,
    /// The tree.
    pub(crate) tree: FsTree,
    /// The packages, in install order (their entries point into their data files).
    pub(crate) packages: Vec<Expanded>,
    /// The keys of the build keyring, written to `/etc/apk/keys`.
    pub(crate) keys: Vec<KeyFile>,
    /// The installed database, records in install order.
    pub(crate) db: InstalledDb,
    /// The world, locked: `name=version` (`name@tag=version`), sorted.
    pub(crate) world: Vec<String>,
    /// The build date (seconds since the epoch).
    pub(crate) build_date: i64,
    /// `accounts.run-as` with a user name replaced by its uid.
    pub(crate) run_as: Option<String>,
    /// Users and groups of the final `/etc/passwd` and `/etc/group`.
    pub(crate) ids: Ids,
    /// What the user should know (reported by the session).
    pub(crate) warnings: Vec<String>,
    /// The base image the tree goes on top of (`contents.baseimage`): its packages lead the
    /// installed database and the world; its files are in its own layers, not in `tree`.
    pub(crate) base: Option<std::sync::Arc<crate::base::BaseImage>>,
}

/// A step of the build after installation.
pub(crate) type Step = fn(&mut Rootfs, &ImageConfig) -> Result<(), RootfsError>;

/// Every step, in the order they run (the order is part of the output: later steps see what
/// earlier ones wrote).
pub(crate) const STEPS: &[(&str, Step)] = &[
    ("base layout", layout::base),
    ("packages", packages::install),
    ("accounts", accounts::apply),
    ("/etc/apko.json", apko_json::apply),
    ("paths", paths::apply),
    ("certificates", certificates::apply),
    ("runtime keyring", keyring::apply),
    ("s6 services", services::apply),
    ("busybox links", busybox::apply),
    ("devices", layout::devices),
    ("ld.so.cache", ldso::apply),
    ("apk repositories and world", apkdb::repositories_and_world),
];

impl Rootfs {
    /// Installs `packages` (in order) for `arch` and runs every step.
    pub(crate) fn build(
        arch: Arch,
        config: &ImageConfig,
        keys: Vec<KeyFile>,
        build_date: i64,
        packages: Vec<Expanded>,
        base: Option<std::sync::Arc<crate::base::BaseImage>>,
    ) -> Result<Rootfs, RootfsError> {
        let mut world: Vec<String> = packages
            .iter()
            .map(|e| {
                let i = &e.chosen.info;
                match &e.chosen.tag {
                    Some(t) => format!("{}@{t}={}", i.name, i.version),
                    None => format!("{}={}", i.name, i.version),
                }
            })
            .collect();
        if let Some(b) = &base {
            world.extend(b.packages().map(|i| format!("{}={}", i.name, i.version)));
        }
        world.sort();
        world.dedup();
        let mut r = Rootfs {
            arch,
            tree: FsTree::new(),
            packages,
            keys,
            db: InstalledDb::default(),
            world,
            build_date,
            run_as: None,
            ids: Ids::default(),
            warnings: Vec::new(),
            base,
        };
        for (_, step) in STEPS {
            step(&mut r, config)?;
        }
        r.ids = Ids::read(&r.tree);
        Ok(r)
    }

    /// The installed packages' records, in install order.
    pub(crate) fn package_infos(&self) -> impl Iterator<Item = &apko_apk::info::PackageInfo> {
        self.db.packages.iter().map(|r| &r.info)
    }
}

pub(crate) fn read_text(fs: &FsTree, path: &str) -> Option<String> {
    fs.read_path(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

pub(crate) fn append_lines(
    fs: &mut FsTree,
    path: &str,
    lines: &[String],
    mode: u32,
) -> Result<(), RootfsError> {
    let mut text = read_text(fs, path).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    fs.write_file(path, text.into_bytes(), &Meta::root(mode))
        .map_err(RootfsError::fs(format!("writing /{path}")))?;
    Ok(())
}

/// Writes a text file the builder owns (keeping the mtime of a package's copy; replacing, not
/// following, a symbolic link a package put there).
pub(crate) fn write_owned(
    fs: &mut FsTree,
    path: &str,
    text: &str,
    mode: u32,
) -> Result<(), RootfsError> {
    let id = fs
        .write_file_nofollow(path, text.as_bytes().to_vec(), &Meta::root(mode))
        .map_err(RootfsError::fs(format!("writing /{path}")))?;
    fs.node_mut(id).meta.mode = mode;
    Ok(())
}
