//! Busybox applet links, as busybox's trigger would create them.

use super::{Rootfs, RootfsError, read_text};
use apko_config::ImageConfig;
use apko_fs::{Kind, Meta, Node};
use std::collections::BTreeSet;

/// The applet table: `(version, links)` per busybox release, oldest first.
fn applet_table() -> &'static [(&'static str, Vec<&'static str>)] {
    static TABLE: std::sync::OnceLock<Vec<(&'static str, Vec<&'static str>)>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
        for line in include_str!("busybox_applets.txt").lines() {
            if let Some(v) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                out.push((v, Vec::new()));
            } else if line.starts_with('/')
                && let Some((_, links)) = out.last_mut()
            {
                links.push(line);
            }
        }
        out
    })
}

/// Which table entry serves busybox `version` (apk version), and whether it is that release:
/// its `X.Y.Z` when listed, else the newest, as apko picks it (`busyboxLinks["default"]`).
fn applets_for(version: &str) -> (&'static str, bool) {
    let table = applet_table();
    let newest = table.last().map_or("", |(v, _)| *v);
    let v = version.trim_start_matches('v');
    let semver = v.split_once('-').map_or(v, |(s, _)| s);
    let plain = semver.split('.').count() == 3
        && semver
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    match table.iter().find(|(t, _)| plain && *t == semver) {
        Some((t, _)) => (t, true),
        None => (newest, false),
    }
}

/// Busybox applet links, from `/etc/busybox-paths.d/<package>` (what busybox's trigger would
/// create), else from the applet table of that busybox version. Existing files and links are
/// left alone.
pub(crate) fn apply(r: &mut Rootfs, _: &ImageConfig) -> Result<(), RootfsError> {
    let installed: Vec<(String, String, Vec<String>)> = r
        .packages
        .iter()
        .map(|e| {
            let i = &e.package.control.info;
            (
                i.name.to_string(),
                i.version.to_string(),
                i.provides.iter().map(|p| p.name.to_string()).collect(),
            )
        })
        .collect();
    let fs = &mut r.tree;
    let warnings = &mut r.warnings;
    let Some(bb) = fs.get("bin/busybox") else {
        return Ok(());
    };
    let mtime = fs.node(bb).meta.mtime;
    let pkg = installed
        .iter()
        .find(|(n, _, _)| n == "busybox")
        .or_else(|| {
            installed
                .iter()
                .find(|(_, _, provides)| provides.iter().any(|p| p.contains("busybox")))
        });
    let Some((pkg, version, _)) = pkg else {
        return Ok(());
    };
    let list_path = format!("etc/busybox-paths.d/{pkg}");
    let listed = read_text(fs, &list_path);
    let links: BTreeSet<&str> = match &listed {
        Some(list) => list
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect(),
        None => {
            let (table, exact) = applets_for(version);
            if !exact {
                warnings.push(format!(
                    "busybox {version} ships no /{list_path} and is not in the applet table; \
                     using the links of busybox {table}"
                ));
            }
            applet_table()
                .iter()
                .find(|(v, _)| *v == table)
                .map(|(_, l)| l.iter().copied().collect())
                .unwrap_or_default()
        }
    };
    for link in links {
        let link = link.trim_start_matches('/');
        if link.split('/').any(|c| c == ".." || c == ".") {
            warnings.push(format!(
                "/{list_path}: `{link}` is not a plain path; skipped"
            ));
            continue;
        }
        if fs.exists(link) {
            continue;
        }
        let parent = link.rsplit_once('/').map_or("", |(d, _)| d);
        let dir = fs
            .mkdir_all(parent, &Meta::root(0o755))
            .map_err(RootfsError::fs(format!("creating /{parent} for busybox")))?;
        fs.node_mut(dir).meta.mtime = mtime;
        fs.insert(
            link,
            Node::new(
                Kind::Symlink("/bin/busybox".into()),
                Meta::root(0o777).with_mtime(mtime),
            ),
        )
        .map_err(RootfsError::fs(format!("linking /{link} to busybox")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_pick_their_table_or_the_newest() {
        let versions: Vec<&str> = applet_table().iter().map(|(v, _)| *v).collect();
        assert_eq!(
            versions,
            [
                "1.32.1", "1.33.0", "1.33.1", "1.33.2", "1.34.0", "1.34.1", "1.35.0", "1.36.0"
            ]
        );
        assert!(applet_table().iter().all(|(_, l)| l.len() > 300));
        assert_eq!(applets_for("1.34.1-r7"), ("1.34.1", true));
        assert_eq!(applets_for("v1.33.0"), ("1.33.0", true));
        assert_eq!(applets_for("1.36.1-r29"), ("1.36.0", false));
        assert_eq!(applets_for("1.36.1_git20230101-r0"), ("1.36.0", false));
    }
}
