//! The apk database of the image: `usr/lib/apk/db/{installed,scripts.tar,triggers}`, the
//! `/lib/apk` link, and the final `/etc/apk/{repositories,world}`.

use super::{Rootfs, RootfsError, write_owned};
use crate::fetch::Expanded;
use apko_apk::index::ApkIndex;
use apko_apk::installed::{InstalledDb, InstalledPackage, write_scripts_tar, write_triggers};
use apko_apk::package::DataKind;
use apko_config::ImageConfig;
use apko_fs::{FsTree, Kind, Meta, Node, Owner};

/// Writes `usr/lib/apk/db/{installed,scripts.tar,triggers}` for the installed packages. A file
/// is listed by the package that owns it in the final tree.
/// With a base image, its records come first (as they are), then the new packages'.
pub(crate) fn write_db(
    fs: &mut FsTree,
    installed: &[Expanded],
    owners: &[Vec<(u32, u32)>],
    base: Option<&InstalledDb>,
) -> Result<InstalledDb, RootfsError> {
    let mut db = InstalledDb::default();
    for (i, (p, owners)) in installed.iter().zip(owners).enumerate() {
        let exp = &p.package;
        let info = ApkIndex::entry_for(&exp.control, &exp.digests);
        let owned: Vec<bool> = exp
            .entries
            .iter()
            .map(|e| {
                e.kind == DataKind::Directory
                    || fs
                        .get_nofollow(&e.path)
                        .is_some_and(|id| fs.node(id).owner == Some(Owner(i as u32)))
            })
            .collect();
        // A path the package lists twice is one file for apk: one record.
        let mut seen = std::collections::HashSet::new();
        let entries = exp
            .entries
            .iter()
            .zip(owners)
            .zip(&owned)
            .filter(|(_, keep)| **keep)
            .filter(move |((e, _), _)| seen.insert(e.path.as_str()))
            .map(|((e, o), _)| (e, *o));
        let mut record = InstalledPackage::new(info).with_entries(entries);
        record.repository_tag.clone_from(&p.chosen.tag);
        db.packages.push(record);
    }
    let scripts = write_scripts_tar(
        db.packages
            .iter()
            .zip(installed)
            .map(|(r, p)| (&r.info, p.package.control.files.as_slice())),
    );
    if let Some(base) = base {
        let ours = std::mem::take(&mut db.packages);
        db.packages = base.packages.clone();
        db.packages.extend(ours);
    }
    let text = db.write();
    let triggers = write_triggers(db.packages.iter().map(|r| &r.info));
    for (path, data) in [
        ("usr/lib/apk/db/installed", text.into_bytes()),
        ("usr/lib/apk/db/scripts.tar", scripts),
        ("usr/lib/apk/db/triggers", triggers.into_bytes()),
    ] {
        fs.write_file_nofollow(path, data, &Meta::root(0o644))
            .map_err(RootfsError::fs(format!("writing /{path}")))?;
    }
    Ok(db)
}

/// `/lib/apk` → `../usr/lib/apk`, unless `/lib` or `/lib/apk` already lead there (apko's
/// layout: the database lives in `/usr/lib/apk/db`, where apk finds it through the link).
pub(crate) fn link_lib_apk(fs: &mut FsTree) -> Result<(), RootfsError> {
    let err = || RootfsError::fs("linking /lib/apk to /usr/lib/apk");
    if let (Some(a), Some(b)) = (fs.get("lib/apk"), fs.get("usr/lib/apk"))
        && a == b
    {
        return Ok(());
    }
    if fs.exists("lib/apk") {
        // Only empty directories may be replaced.
        let walk = fs.walk_from("lib/apk").map_err(err())?;
        if walk.iter().any(|(_, n)| !fs.node(*n).is_dir()) {
            return Err(RootfsError::LibApk);
        }
        fs.remove("lib/apk", true).map_err(err())?;
    }
    let lib = fs.mkdir_all("lib", &Meta::root(0o755)).map_err(err())?;
    // Links apko makes take their directory's mtime (apko-behaviour §3.12).
    let mtime = fs.node(lib).meta.mtime;
    fs.insert(
        "lib/apk",
        Node::new(
            Kind::Symlink("../usr/lib/apk".into()),
            Meta::root(0o777).with_mtime(mtime),
        ),
    )
    .map_err(err())?;
    Ok(())
}

/// The rootfs step: `/etc/apk/repositories` (the image's repositories, then the runtime-only
/// ones, credentials stripped) and `/etc/apk/world` (the locked world).
pub(crate) fn repositories_and_world(r: &mut Rootfs, c: &ImageConfig) -> Result<(), RootfsError> {
    let mut repos: Vec<&String> = c.contents.repositories.iter().collect();
    for rt in &c.contents.runtime_repositories {
        if !repos.contains(&rt) {
            repos.push(rt);
        }
    }
    // Credentials used to build are not shipped in the image.
    let repo_text: String = repos
        .iter()
        .map(|r| format!("{}\n", apko_apk::source::strip_credentials(r)))
        .collect();
    write_owned(&mut r.tree, "etc/apk/repositories", &repo_text, 0o644)?;
    let world_text: String = r.world.iter().map(|w| format!("{w}\n")).collect();
    write_owned(&mut r.tree, "etc/apk/world", &world_text, 0o644)
}
