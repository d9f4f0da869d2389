//! `accounts`: users, groups, `/etc/shadow`, home directories and `run-as`.

use super::{Ids, Rootfs, RootfsError, append_lines};
use apko_config::ImageConfig;
use apko_fs::{FsTree, Meta};

/// The rootfs step: users, groups, home directories and `/etc/shadow`; then `run-as`, a user
/// name replaced by its uid.
pub(crate) fn apply(r: &mut Rootfs, c: &ImageConfig) -> Result<(), RootfsError> {
    // On a base image, accounts are the base's (its /etc/passwd is in its layers; writing
    // one here would hide it), as in apko.
    if r.base.is_some() {
        return Ok(());
    }
    r.run_as = accounts(&mut r.tree, c)?;
    Ok(())
}

fn accounts(fs: &mut FsTree, c: &ImageConfig) -> Result<Option<String>, RootfsError> {
    let a = &c.accounts;
    if !a.groups.is_empty() {
        let lines: Vec<String> = a
            .groups
            .iter()
            .map(|g| format!("{}:x:{}:{}", g.groupname, g.gid, g.members.join(",")))
            .collect();
        append_lines(fs, "etc/group", &lines, 0o644)?;
    }
    // /etc/passwd always exists.
    let users: Vec<String> = a
        .users
        .iter()
        .map(|u| {
            format!(
                "{}:x:{}:{}:Account created by apko:{}:{}",
                u.username,
                u.uid,
                u.gid.unwrap_or(u.uid),
                u.homedir.as_deref().unwrap_or(""),
                u.shell.as_deref().unwrap_or("/bin/sh")
            )
        })
        .collect();
    append_lines(fs, "etc/passwd", &users, 0o644)?;
    if !a.users.is_empty() {
        let shadow: Vec<String> = a
            .users
            .iter()
            .map(|u| format!("{}:!:::::::", u.username))
            .collect();
        let exists = fs.exists("etc/shadow");
        append_lines(fs, "etc/shadow", &shadow, 0o640)?;
        if !exists && let Some(id) = fs.get("etc/shadow") {
            fs.node_mut(id).meta.mode = 0o640;
        }
    }
    // Home directories of every account, as apko.
    let ids = Ids::read(fs);
    for h in &ids.homes {
        let (uid, gid, home) = (h.uid, h.gid, h.path.as_str());
        if home.is_empty() || home == "/dev/null" || fs.exists(home) {
            continue;
        }
        let parent = home
            .trim_end_matches('/')
            .rsplit_once('/')
            .map_or("", |(p, _)| p);
        fs.mkdir_all(parent, &Meta::root(0o755))
            .map_err(RootfsError::fs(format!("creating home directory {home}")))?;
        let id = fs
            .mkdir_all(home, &Meta::root(0o700))
            .map_err(RootfsError::fs(format!("creating home directory {home}")))?;
        let m = &mut fs.node_mut(id).meta;
        (m.uid, m.gid) = (uid, gid);
    }
    // `run-as` (`user`, `uid`, `user:group`, `uid:gid`): every name must be an account of the
    // image, or the container runtime fails only when the image is started. A user name
    // alone becomes its uid.
    let Some(r) = &a.run_as else { return Ok(None) };
    let (user, group) = match r.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (r.as_str(), None),
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !numeric(user) && !ids.users.contains_key(user) {
        return Err(RootfsError::RunAs {
            run_as: r.clone(),
            unknown: format!("user `{user}`"),
        });
    }
    if let Some(g) = group
        && !numeric(g)
        && !ids.groups.contains_key(g)
    {
        return Err(RootfsError::RunAs {
            run_as: r.clone(),
            unknown: format!("group `{g}`"),
        });
    }
    Ok(Some(
        ids.users.get(r).map_or_else(|| r.clone(), u32::to_string),
    ))
}
