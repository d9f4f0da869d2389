//! Busybox applet links, as busybox's trigger would create them.

use super::{Rootfs, RootfsError, read_text};
use apko_config::ImageConfig;
use apko_fs::{Kind, Meta, Node};
use std::collections::BTreeSet;

/// Busybox applet links, from `/etc/busybox-paths.d/<package>` (what busybox's trigger would
/// create). Existing files and links are left alone.
pub(crate) fn apply(r: &mut Rootfs, _: &ImageConfig) -> Result<(), RootfsError> {
    let installed: Vec<(String, Vec<String>)> = r
        .packages
        .iter()
        .map(|e| {
            let i = &e.package.control.info;
            (
                i.name.to_string(),
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
    let pkg = installed.iter().find(|(n, _)| n == "busybox").or_else(|| {
        installed
            .iter()
            .find(|(_, provides)| provides.iter().any(|p| p.contains("busybox")))
    });
    let Some((pkg, _)) = pkg else { return Ok(()) };
    let list_path = format!("etc/busybox-paths.d/{pkg}");
    let Some(list) = read_text(fs, &list_path) else {
        warnings.push(format!(
            "/bin/busybox is installed but /{list_path} is missing; no applet links were created"
        ));
        return Ok(());
    };
    let links: BTreeSet<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
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
