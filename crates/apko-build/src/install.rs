//! Installing packages into the image filesystem without running their scripts, and the apk
//! database that describes the result.

use crate::error::BuildError;
use crate::sources::{Expanded, KeyFile};
use apko_apk::index::ApkIndex;
use apko_apk::info::PackageInfo;
use apko_apk::installed::{InstalledDb, InstalledPackage, write_scripts_tar, write_triggers};
use apko_apk::package::DataKind;
use apko_fs::{
    ConflictPolicy, Content, Decision, FsError, FsTree, Installed, Kind, Meta, Node, NodeId, Owner,
};
use std::collections::BTreeMap;

/// The directories and files apk's `--initdb` (and apko) create before any package.
pub(crate) fn init_db(
    fs: &mut FsTree,
    apk_arch: &str,
    keys: &[KeyFile],
    key_mtime: i64,
) -> Result<(), BuildError> {
    let err = |what: &str| BuildError::fs(format!("creating the base layout: {what}"));
    for (dir, mode) in [
        ("tmp", 0o1777),
        ("dev", 0o755),
        ("etc", 0o755),
        ("opt", 0o755),
        ("var", 0o755),
        ("usr", 0o755),
        ("proc", 0o555),
        ("etc/apk", 0o755),
        ("etc/apk/keys", 0o755),
        ("usr/lib", 0o755),
        ("usr/lib/apk", 0o755),
        ("usr/lib/apk/db", 0o755),
        ("usr/lib/apk/exec", 0o755),
        ("var/cache", 0o755),
        ("var/cache/apk", 0o755),
        ("var/cache/misc", 0o755),
    ] {
        fs.mkdir_all(dir, &Meta::root(mode)).map_err(err(dir))?;
    }
    for (path, data, mode) in [
        ("etc/apk/world", b"\n".to_vec(), 0o644),
        ("etc/apk/repositories", b"\n".to_vec(), 0o644),
        ("usr/lib/apk/db/lock", Vec::new(), 0o600),
        ("usr/lib/apk/db/triggers", Vec::new(), 0o644),
        ("usr/lib/apk/db/installed", Vec::new(), 0o644),
        ("usr/lib/apk/db/scripts.tar", vec![0u8; 1024], 0o644),
        ("etc/apk/arch", format!("{apk_arch}\n").into_bytes(), 0o644),
    ] {
        fs.write_file(path, data, &Meta::root(mode))
            .map_err(err(path))?;
    }
    ensure_devices(fs)?;
    for k in keys {
        let path = format!("etc/apk/keys/{}", k.name);
        fs.write_file(
            &path,
            k.pem.clone(),
            &Meta::root(0o644).with_mtime(key_mtime),
        )
        .map_err(err(&path))?;
    }
    Ok(())
}

/// `/dev` character devices every image gets.
pub(crate) fn ensure_devices(fs: &mut FsTree) -> Result<(), BuildError> {
    fs.mkdir_all("dev", &Meta::root(0o755))
        .map_err(BuildError::fs("creating /dev"))?;
    for (name, major, minor, mode) in [
        ("zero", 1, 5, 0o666),
        ("urandom", 1, 9, 0o666),
        ("null", 1, 3, 0o666),
        ("random", 1, 8, 0o666),
        ("console", 5, 1, 0o620),
    ] {
        let path = format!("dev/{name}");
        if !fs.exists(&path) {
            fs.insert(
                &path,
                Node::new(Kind::CharDevice(major, minor), Meta::root(mode)),
            )
            .map_err(BuildError::fs(format!("creating /{path}")))?;
        }
    }
    Ok(())
}

/// Which package wins a path (apk's rules).
struct PackagePolicy<'a> {
    packages: &'a [&'a PackageInfo],
}

impl ConflictPolicy for PackagePolicy<'_> {
    fn decide(&self, _path: &str, existing: &Node, incoming: &Node) -> Decision {
        let same = match (&existing.kind, &incoming.kind) {
            (Kind::Symlink(a), Kind::Symlink(b)) => a == b,
            _ => existing.checksum.is_some() && existing.checksum == incoming.checksum,
        };
        if same {
            return Decision::Keep;
        }
        let (Some(old), Some(new)) = (existing.owner, incoming.owner) else {
            // Something the builder wrote (a key, say) gives way to the package's file.
            return Decision::Replace;
        };
        let (old, new) = (self.packages[old.0 as usize], self.packages[new.0 as usize]);
        if old.name == new.name || (old.origin.is_some() && old.origin == new.origin) {
            return Decision::Replace;
        }
        let old_prio = if old.replaces_package(new) {
            i64::from(old.replaces_priority.unwrap_or(0))
        } else {
            -1
        };
        let new_prio = if new.replaces_package(old) {
            i64::from(new.replaces_priority.unwrap_or(0))
        } else {
            -1
        };
        if old_prio > new_prio {
            Decision::Keep
        } else if new_prio >= 0 {
            Decision::Replace
        } else {
            Decision::Conflict
        }
    }
}

/// User and group ids from the image's `/etc/passwd` and `/etc/group` (first entry wins).
#[derive(Debug, Default, Clone)]
pub(crate) struct Ids {
    pub(crate) users: BTreeMap<String, u32>,
    pub(crate) groups: BTreeMap<String, u32>,
    pub(crate) user_names: BTreeMap<u32, String>,
    pub(crate) group_names: BTreeMap<u32, String>,
}

impl Ids {
    pub(crate) fn read(fs: &FsTree) -> Ids {
        let parse = |path: &str| -> (BTreeMap<String, u32>, BTreeMap<u32, String>) {
            let mut by_name = BTreeMap::new();
            let mut by_id = BTreeMap::new();
            if let Ok(text) = fs.read_path(path) {
                for l in String::from_utf8_lossy(&text).lines() {
                    let mut f = l.split(':');
                    let (Some(name), Some(id)) =
                        (f.next(), f.nth(1).and_then(|x| x.parse::<u32>().ok()))
                    else {
                        continue;
                    };
                    by_name.entry(name.to_owned()).or_insert(id);
                    by_id.entry(id).or_insert_with(|| name.to_owned());
                }
            }
            (by_name, by_id)
        };
        let (users, user_names) = parse("etc/passwd");
        let (groups, group_names) = parse("etc/group");
        Ids {
            users,
            groups,
            user_names,
            group_names,
        }
    }

    /// apk's rule: the name if the target system knows it, else the number.
    pub(crate) fn owner(&self, uname: &str, uid: u32, gname: &str, gid: u32) -> (u32, u32) {
        (
            self.users.get(uname).copied().unwrap_or(uid),
            self.groups.get(gname).copied().unwrap_or(gid),
        )
    }
}

/// One installed package: its metadata and the resolved owner of every entry.
pub(crate) struct InstalledPkg<'a> {
    pub(crate) expanded: &'a Expanded,
    pub(crate) owners: Vec<(u32, u32)>,
}

/// Installs the packages in order. Directories keep the mode of their first creator and take
/// the mtime of the last package listing them; files go through apk's conflict rules.
pub(crate) fn install_packages<'a>(
    fs: &mut FsTree,
    packages: &'a [Expanded],
) -> Result<Vec<InstalledPkg<'a>>, BuildError> {
    let infos: Vec<&PackageInfo> = packages.iter().map(|p| &p.package.control.info).collect();
    let policy = PackagePolicy { packages: &infos };
    let mut out = Vec::with_capacity(packages.len());
    let mut ids_cache: Option<Ids> = None;
    for (i, pkg) in packages.iter().enumerate() {
        let owner = Owner(i as u32);
        let name = pkg.chosen.info.name_version();
        let source = fs.add_source(pkg.data.clone());
        let needs_ids = pkg.package.entries.iter().any(|e| {
            !(e.uname.is_empty() || e.uname == "root") || !(e.gname.is_empty() || e.gname == "root")
        });
        // Names are looked up in the image's own passwd/group, parsed again only after a
        // package has installed one of them.
        let none = Ids::default();
        let ids = if needs_ids {
            &*ids_cache.get_or_insert_with(|| Ids::read(fs))
        } else {
            &none
        };
        let mut owners = Vec::with_capacity(pkg.package.entries.len());
        // Regular files this package installed (or kept), by entry path: hard link targets.
        let mut files: BTreeMap<&str, NodeId> = BTreeMap::new();
        for e in &pkg.package.entries {
            let (uid, gid) = ids.owner(&e.uname, e.uid, &e.gname, e.gid);
            owners.push((uid, gid));
            let ctx = || format!("installing `{name}`: /{}", e.path);
            let meta = Meta {
                mode: e.mode & 0o7777,
                uid,
                gid,
                mtime: e.mtime,
                xattrs: e.xattrs.clone(),
            };
            if e.is_keep_placeholder() {
                continue;
            }
            let sum = e.checksum.and_then(|c| c.sha1().copied());
            let node = match &e.kind {
                DataKind::Directory => {
                    fs.ensure_dir(&e.path, &meta, Some(owner))
                        .map_err(|err| conflict_or(err, fs, &infos, &name, &ctx()))?;
                    continue;
                }
                DataKind::File => Node::new(
                    Kind::File(Content::Source {
                        source,
                        offset: e.data_offset,
                        size: e.size,
                    }),
                    meta,
                ),
                DataKind::Symlink(target) => Node::new(Kind::Symlink(target.clone()), meta),
                DataKind::HardLink(target) => {
                    // The target is an earlier regular file of this package (the reader checks
                    // the order); use the node it became, never a path looked up again, which
                    // a symlink of the same package could have redirected.
                    let Some(&id) = files.get(target.as_str()) else {
                        return Err(BuildError::fs(ctx())(FsError::NotFound {
                            path: format!("{target} (hard link target in the same package)"),
                        }));
                    };
                    match fs.install_link(&e.path, id, Some(owner), &policy) {
                        Ok(_) => {
                            files.insert(&e.path, id);
                        }
                        Err(err) => return Err(conflict_or(err, fs, &infos, &name, &ctx())),
                    }
                    continue;
                }
                DataKind::CharDevice(ma, mi) => Node::new(Kind::CharDevice(*ma, *mi), meta),
                DataKind::BlockDevice(ma, mi) => Node::new(Kind::BlockDevice(*ma, *mi), meta),
                DataKind::Fifo => Node::new(Kind::Fifo, meta),
            };
            let node = node.owned_by(owner).with_checksum(sum);
            let is_file = matches!(node.kind, Kind::File(_));
            match fs.install(&e.path, node, &policy) {
                Ok(Installed::Created(id) | Installed::Replaced { id, .. }) => {
                    if is_file {
                        files.insert(&e.path, id);
                    }
                }
                Ok(Installed::Kept { .. }) => {
                    // An identical file of another package stays; links may point at it.
                    if let Some(id) = fs.get_nofollow(&e.path)
                        && matches!(fs.node(id).kind, Kind::File(_))
                    {
                        files.insert(&e.path, id);
                    }
                }
                Err(err) => return Err(conflict_or(err, fs, &infos, &name, &ctx())),
            }
        }
        if pkg
            .package
            .entries
            .iter()
            .any(|e| matches!(e.path.as_str(), "etc/passwd" | "etc/group"))
        {
            ids_cache = None;
        }
        out.push(InstalledPkg {
            expanded: pkg,
            owners,
        });
    }
    Ok(out)
}

fn conflict_or(
    err: FsError,
    fs: &FsTree,
    infos: &[&PackageInfo],
    incoming: &str,
    ctx: &str,
) -> BuildError {
    let owner_name = |owner: Option<Owner>| {
        owner.and_then(|o| infos.get(o.0 as usize)).map_or_else(
            || "the image layout".to_owned(),
            |p| format!("`{}`", p.name_version()),
        )
    };
    match err {
        FsError::Conflict { path, existing, .. } => BuildError::FileConflict {
            path,
            existing: infos
                .get(existing.0 as usize)
                .map_or_else(|| "the base layout".to_owned(), |p| p.name_version()),
            incoming: incoming.to_owned(),
        },
        FsError::TypeConflict {
            path,
            existing,
            new,
        } => BuildError::TypeConflict {
            existing_owner: owner_name(fs.get_nofollow(&path).and_then(|id| fs.node(id).owner)),
            path: path.trim_start_matches('/').to_owned(),
            existing,
            new,
            incoming: incoming.to_owned(),
        },
        other => BuildError::fs(ctx.to_owned())(other),
    }
}

/// Writes `usr/lib/apk/db/{installed,scripts.tar,triggers}` for the installed packages. A file
/// is listed by the package that owns it in the final tree.
pub(crate) fn write_db(
    fs: &mut FsTree,
    installed: &[InstalledPkg<'_>],
) -> Result<InstalledDb, BuildError> {
    let mut db = InstalledDb::default();
    for (i, p) in installed.iter().enumerate() {
        let exp = &p.expanded.package;
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
            .zip(&p.owners)
            .zip(&owned)
            .filter(|(_, keep)| **keep)
            .filter(move |((e, _), _)| seen.insert(e.path.as_str()))
            .map(|((e, o), _)| (e, *o));
        let mut record = InstalledPackage::new(info).with_entries(entries);
        record.repository_tag.clone_from(&p.expanded.chosen.tag);
        db.packages.push(record);
    }
    let text = db.write();
    let scripts = write_scripts_tar(
        db.packages
            .iter()
            .zip(installed)
            .map(|(r, p)| (&r.info, p.expanded.package.control.files.as_slice())),
    );
    let triggers = write_triggers(db.packages.iter().map(|r| &r.info));
    for (path, data) in [
        ("usr/lib/apk/db/installed", text.into_bytes()),
        ("usr/lib/apk/db/scripts.tar", scripts),
        ("usr/lib/apk/db/triggers", triggers.into_bytes()),
    ] {
        fs.write_file_nofollow(path, data, &Meta::root(0o644))
            .map_err(BuildError::fs(format!("writing /{path}")))?;
    }
    Ok(db)
}

/// `/lib/apk` → `../usr/lib/apk`, unless `/lib` or `/lib/apk` already lead there (apko's
/// layout: the database lives in `/usr/lib/apk/db`, where apk finds it through the link).
pub(crate) fn link_lib_apk(fs: &mut FsTree) -> Result<(), BuildError> {
    let err = || BuildError::fs("linking /lib/apk to /usr/lib/apk");
    if let (Some(a), Some(b)) = (fs.get("lib/apk"), fs.get("usr/lib/apk"))
        && a == b
    {
        return Ok(());
    }
    if fs.exists("lib/apk") {
        // Only empty directories may be replaced.
        let walk = fs.walk_from("lib/apk").map_err(err())?;
        if walk.iter().any(|(_, n)| !fs.node(*n).is_dir()) {
            return Err(BuildError::invalid(
                "/lib/apk holds files, so it cannot become a link to /usr/lib/apk",
                None,
            ));
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
