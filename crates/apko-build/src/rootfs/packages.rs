//! Installing packages into the image filesystem without running their scripts: apk's
//! ownership and conflict rules.

use super::{Ids, Rootfs, RootfsError};
use crate::fetch::Expanded;
use apko_apk::info::PackageInfo;
use apko_apk::package::DataKind;
use apko_config::ImageConfig;
use apko_fs::{
    ConflictPolicy, Content, Decision, FsError, FsTree, Installed, Kind, Meta, Node, NodeId, Owner,
};
use std::collections::BTreeMap;

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

/// The rootfs step: every package in order, then the installed database and `/lib/apk`.
pub(crate) fn install(r: &mut Rootfs, _: &ImageConfig) -> Result<(), RootfsError> {
    let owners = install_packages(&mut r.tree, &r.packages)?;
    let base = r.base.as_ref().map(|b| &b.db);
    r.db = super::apkdb::write_db(&mut r.tree, &r.packages, &owners, base)?;
    super::apkdb::link_lib_apk(&mut r.tree)
}

/// Installs the packages in order. Directories keep the mode of their first creator and take
/// the mtime of the last package listing them; files go through apk's conflict rules.
/// Returns the resolved owner (uid, gid) of every entry of every package.
fn install_packages(
    fs: &mut FsTree,
    packages: &[Expanded],
) -> Result<Vec<Vec<(u32, u32)>>, RootfsError> {
    let infos: Vec<&PackageInfo> = packages.iter().map(|p| &p.package.control.info).collect();
    let policy = PackagePolicy { packages: &infos };
    let mut out = Vec::with_capacity(packages.len());
    let mut ids_cache: Option<Ids> = None;
    for (i, pkg) in packages.iter().enumerate() {
        let owner = Owner(i as u32);
        let name = pkg.chosen.info.name_version();
        let source = fs.add_source_with_id(pkg.data.clone(), pkg.source_id);
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
                        return Err(RootfsError::fs(ctx())(FsError::NotFound {
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
        out.push(owners);
    }
    Ok(out)
}

fn conflict_or(
    err: FsError,
    fs: &FsTree,
    infos: &[&PackageInfo],
    incoming: &str,
    ctx: &str,
) -> RootfsError {
    let owner_name = |owner: Option<Owner>| {
        owner.and_then(|o| infos.get(o.0 as usize)).map_or_else(
            || "the image layout".to_owned(),
            |p| format!("`{}`", p.name_version()),
        )
    };
    match err {
        FsError::Conflict { path, existing, .. } => RootfsError::FileConflict {
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
        } => RootfsError::TypeConflict {
            existing_owner: owner_name(fs.get_nofollow(&path).and_then(|id| fs.node(id).owner)),
            path: path.trim_start_matches('/').to_owned(),
            existing,
            new,
            incoming: incoming.to_owned(),
        },
        other => RootfsError::fs(ctx.to_owned())(other),
    }
}
