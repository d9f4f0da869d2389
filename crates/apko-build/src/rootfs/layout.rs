//! The base layout apk's `--initdb` creates, the build keys, and `/dev`.

use super::{Rootfs, RootfsError};
use apko_config::ImageConfig;
use apko_fs::{FsTree, Kind, Meta, Node};

/// The directories and files apk's `--initdb` (and apko) create before any package.
pub(crate) fn base(r: &mut Rootfs, _: &ImageConfig) -> Result<(), RootfsError> {
    let apk_arch = r.arch.apk_name();
    let key_mtime = r.build_date;
    let fs = &mut r.tree;
    let err = |what: &str| RootfsError::fs(format!("creating the base layout: {what}"));
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
    for k in &r.keys {
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

/// The rootfs step after every other change to the tree: the standard `/dev` nodes exist
/// (those a package or `paths` already put there are kept).
pub(crate) fn devices(r: &mut Rootfs, _: &ImageConfig) -> Result<(), RootfsError> {
    ensure_devices(&mut r.tree)
}

/// `/dev` character devices every image gets.
fn ensure_devices(fs: &mut FsTree) -> Result<(), RootfsError> {
    fs.mkdir_all("dev", &Meta::root(0o755))
        .map_err(RootfsError::fs("creating /dev"))?;
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
            .map_err(RootfsError::fs(format!("creating /{path}")))?;
        }
    }
    Ok(())
}
