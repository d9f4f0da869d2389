//! `paths`: directories, empty files, links and permission changes.

use super::{Rootfs, RootfsError};
use apko_config::{ImageConfig, PathType};
use apko_fs::{FsError, Kind, Meta, Node};

/// `paths`: directories, empty files, links and permission changes.
pub(crate) fn apply(r: &mut Rootfs, c: &ImageConfig) -> Result<(), RootfsError> {
    let fs = &mut r.tree;
    for (i, p) in c.paths.iter().enumerate() {
        let path = p.path.trim_start_matches('/');
        let kind = match p.kind {
            PathType::Directory => "directory",
            PathType::EmptyFile => "empty-file",
            PathType::Hardlink => "hardlink",
            PathType::Symlink => "symlink",
            PathType::Permissions => "permissions",
        };
        let ctx = format!("paths[{i}] ({kind} `{}`)", p.path);
        let err = |e: FsError| RootfsError::fs(ctx.clone())(e);
        let parent = path.rsplit_once('/').map_or("", |(d, _)| d);
        match p.kind {
            PathType::Directory => {
                fs.mkdir_all(path, &Meta::root(p.permissions))
                    .map_err(err)?;
            }
            PathType::EmptyFile => {
                fs.mkdir_all(parent, &Meta::root(0o755)).map_err(err)?;
                match fs.get(path) {
                    Some(_) => {
                        fs.write_file(path, Vec::new(), &Meta::root(p.permissions))
                            .map_err(err)?;
                    }
                    None => {
                        fs.insert(
                            path,
                            Node::new(Kind::File(Vec::new().into()), Meta::root(p.permissions)),
                        )
                        .map_err(err)?;
                    }
                }
            }
            PathType::Hardlink => {
                fs.mkdir_all(parent, &Meta::root(0o755)).map_err(err)?;
                let source = p.source.as_deref().unwrap_or("");
                let target = fs.get(source).ok_or_else(|| {
                    err(FsError::NotFound {
                        path: source.to_owned(),
                    })
                })?;
                if fs.exists(path) {
                    fs.remove(path, false).map_err(err)?;
                }
                fs.link(path, target).map_err(err)?;
            }
            PathType::Symlink => {
                let dir = fs.mkdir_all(parent, &Meta::root(0o755)).map_err(err)?;
                let mtime = fs.node(dir).meta.mtime;
                if fs.exists(path) {
                    return Err(err(FsError::Exists {
                        path: path.to_owned(),
                    }));
                }
                let target = p.source.clone().unwrap_or_default();
                // New links take their directory's mtime (apko-behaviour §3.12).
                fs.insert(
                    path,
                    Node::new(Kind::Symlink(target), Meta::root(0o777).with_mtime(mtime)),
                )
                .map_err(err)?;
                continue; // chmod on a new link would change its target (apko does); skip it
            }
            PathType::Permissions => {}
        }
        let targets: Vec<usize> = if p.recursive {
            fs.walk_from(path)
                .map_err(err)?
                .into_iter()
                .map(|(_, id)| id)
                .collect()
        } else {
            vec![fs.get(path).ok_or_else(|| {
                err(FsError::NotFound {
                    path: path.to_owned(),
                })
            })?]
        };
        for id in targets {
            let n = fs.node_mut(id);
            if matches!(n.kind, Kind::Symlink(_)) {
                continue;
            }
            n.meta.mode = p.permissions & 0o7777;
            if p.uid.is_some() || p.gid.is_some() {
                n.meta.uid = p.uid.unwrap_or(0);
                n.meta.gid = p.gid.unwrap_or(0);
            }
        }
    }
    Ok(())
}
