//! What apko does after installing packages instead of running their scripts: accounts,
//! `/etc/apko.json`, `paths`, certificates, runtime keys, s6 services, busybox links, and the
//! final `/etc/apk/{repositories,world}`.

use crate::error::BuildError;
use apko_config::{ImageConfig, PathType};
use apko_fs::{FsError, FsTree, Kind, Meta, Node, NodeId};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

fn read_text(fs: &FsTree, path: &str) -> Option<String> {
    fs.read_path(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn append_lines(
    fs: &mut FsTree,
    path: &str,
    lines: &[String],
    mode: u32,
) -> Result<(), BuildError> {
    let mut text = read_text(fs, path).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for l in lines {
        text.push_str(l);
        text.push('\n');
    }
    fs.write_file(path, text.into_bytes(), &Meta::root(mode))
        .map_err(BuildError::fs(format!("writing /{path}")))?;
    Ok(())
}

/// Users, groups, home directories and `/etc/shadow`; returns the `run-as` value with a user
/// name replaced by its uid.
pub(crate) fn accounts(fs: &mut FsTree, c: &ImageConfig) -> Result<Option<String>, BuildError> {
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
    let passwd = read_text(fs, "etc/passwd").unwrap_or_default();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 6 {
            continue;
        }
        let (uid, gid, home) = (f[2].parse::<u32>(), f[3].parse::<u32>(), f[5]);
        let (Ok(uid), Ok(gid)) = (uid, gid) else {
            continue;
        };
        if home.is_empty() || home == "/dev/null" || fs.exists(home) {
            continue;
        }
        let parent = home
            .trim_end_matches('/')
            .rsplit_once('/')
            .map_or("", |(p, _)| p);
        fs.mkdir_all(parent, &Meta::root(0o755))
            .map_err(BuildError::fs(format!("creating home directory {home}")))?;
        let id = fs
            .mkdir_all(home, &Meta::root(0o700))
            .map_err(BuildError::fs(format!("creating home directory {home}")))?;
        let m = &mut fs.node_mut(id).meta;
        (m.uid, m.gid) = (uid, gid);
    }
    // `run-as`: a user name of the final /etc/passwd becomes its uid.
    Ok(a.run_as.as_ref().map(|r| {
        crate::install::Ids::read(fs)
            .users
            .get(r)
            .map_or_else(|| r.clone(), u32::to_string)
    }))
}

/// `paths`: directories, empty files, links and permission changes.
pub(crate) fn paths(fs: &mut FsTree, c: &ImageConfig) -> Result<(), BuildError> {
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
        let err = |e: FsError| BuildError::fs(ctx.clone())(e);
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

/// Certificate bundles apko appends to and writes sidecars for.
const BUNDLES: [&str; 4] = [
    "etc/ssl/certs/ca-certificates.crt",
    "var/lib/ecs/deps/execute-command/certs/tls-ca-bundle.pem",
    "kaniko/ssl/certs/ca-certificates.crt",
    "etc/ssl/certs/java/cacerts",
];

fn pem_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("-----BEGIN CERTIFICATE-----") {
            cur = Some(String::new());
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(line.trim_end());
            c.push('\n');
        }
        if line.starts_with("-----END CERTIFICATE-----")
            && let Some(c) = cur.take()
        {
            out.push(c);
        }
    }
    out
}

fn der_of(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// `certificates`: inline certificates and those of provider packages are added to the
/// bundles; then every bundle gets its `.sha256` sidecar.
pub(crate) fn certificates(
    fs: &mut FsTree,
    c: &ImageConfig,
    provider_files: &[(String, Vec<u8>)],
    bde: i64,
) -> Result<(), BuildError> {
    // (Java trust store alias, PEM block, DER) of every certificate to add.
    let mut added: Vec<(String, String, Vec<u8>)> = Vec::new();
    if let Some(certs) = &c.certificates {
        for (i, cert) in certs.additional.iter().enumerate() {
            let blocks = pem_blocks(&cert.content);
            let [block] = blocks.as_slice() else {
                return Err(BuildError::invalid(
                    format!(
                        "certificates.additional[{i}] (`{}`) must hold exactly one PEM certificate",
                        cert.name
                    ),
                    None,
                ));
            };
            let der = der_of(block).ok_or_else(|| {
                BuildError::invalid(
                    format!(
                        "certificates.additional[{i}] (`{}`) is not valid base64 PEM",
                        cert.name
                    ),
                    None,
                )
            })?;
            let fingerprint = hex::encode(Sha256::digest(&der));
            let path = format!(
                "usr/local/share/ca-certificates/{}-{fingerprint}.crt",
                cert.name,
            );
            fs.mkdir_all("usr/local/share/ca-certificates", &Meta::root(0o755))
                .map_err(BuildError::fs("creating /usr/local/share/ca-certificates"))?;
            fs.write_file_nofollow(
                &path,
                block.clone().into_bytes(),
                &Meta::root(0o644).with_mtime(bde),
            )
            .map_err(BuildError::fs(format!("writing /{path}")))?;
            added.push((format!("{}-{fingerprint}", cert.name), block.clone(), der));
        }
        let mut files: Vec<&(String, Vec<u8>)> = provider_files.iter().collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, data) in files {
            for block in pem_blocks(&String::from_utf8_lossy(data)) {
                // Unparsable certificates of packages are skipped, as apko does.
                if let Some(der) = der_of(&block) {
                    let alias = format!("pkg-{}", hex::encode(Sha256::digest(&der)));
                    added.push((alias, block, der));
                }
            }
        }
    }
    for bundle in &BUNDLES[..3] {
        if !added.is_empty() && fs.get(bundle).is_some() {
            let mut text = read_text(fs, bundle).unwrap_or_default();
            for (_, block, _) in &added {
                text.push_str(block);
                text.push('\n');
            }
            let id = fs
                .write_file(bundle, text.into_bytes(), &Meta::root(0o644))
                .map_err(BuildError::fs(format!("writing /{bundle}")))?;
            fs.node_mut(id).meta.mtime = bde;
        }
    }
    if !added.is_empty()
        && let Some(id) = fs.get(BUNDLES[3])
    {
        java_truststore(fs, id, &added, bde)?;
    }
    for bundle in BUNDLES {
        let Some(id) = fs.get(bundle) else { continue };
        let Ok(data) = fs.read(id, bundle) else {
            continue;
        };
        let (dir, base) = bundle
            .rsplit_once('/')
            .expect("bundles live in directories");
        let sidecar = format!("{dir}/.{base}.sha256");
        let line = format!("{}  {base}\n", hex::encode(Sha256::digest(&data)));
        let sid = fs
            .write_file_nofollow(
                &sidecar,
                line.into_bytes(),
                &Meta::root(0o444).with_mtime(bde),
            )
            .map_err(BuildError::fs(format!("writing /{sidecar}")))?;
        let m = &mut fs.node_mut(sid).meta;
        (m.mode, m.mtime) = (0o444, bde);
    }
    Ok(())
}

/// `contents.runtime_keyring`: keys written after installation.
pub(crate) fn runtime_keyring(
    fs: &mut FsTree,
    c: &ImageConfig,
    bde: i64,
) -> Result<(), BuildError> {
    let mut keys: Vec<&apko_config::InlineFile> = c.contents.runtime_keyring.iter().collect();
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    for k in keys {
        let path = format!("etc/apk/keys/{}", k.name);
        if fs.exists(&path) {
            return Err(BuildError::invalid(
                format!(
                    "runtime key `{}` collides with /{path}, which the build already wrote",
                    k.name
                ),
                Some("give the runtime key another name"),
            ));
        }
        let pem = apko_apk::keys::canonical_public_key_pem(&k.name, k.content.as_bytes()).map_err(
            |e| BuildError::Key {
                key: k.name.clone(),
                source: Box::new(e),
            },
        )?;
        fs.mkdir_all("etc/apk/keys", &Meta::root(0o755))
            .map_err(BuildError::fs("creating /etc/apk/keys"))?;
        fs.insert(
            &path,
            Node::new(
                Kind::File(pem.into_bytes().into()),
                Meta::root(0o644).with_mtime(bde),
            ),
        )
        .map_err(BuildError::fs(format!("writing /{path}")))?;
    }
    Ok(())
}

/// The s6 supervision tree of a `service-bundle` entrypoint.
pub(crate) fn services(fs: &mut FsTree, c: &ImageConfig) -> Result<(), BuildError> {
    if c.entrypoint.kind.as_deref() != Some("service-bundle") {
        return Ok(());
    }
    for (name, cmd) in &c.entrypoint.services {
        let dir = format!("sv/{name}");
        fs.mkdir_all(&dir, &Meta::root(0o755))
            .map_err(BuildError::fs(format!("creating /{dir}")))?;
        let run = format!("{dir}/run");
        fs.write_file_nofollow(
            &run,
            format!("#!/bin/execlineb\n{cmd}\n").into_bytes(),
            &Meta::root(0o755),
        )
        .map_err(BuildError::fs(format!("writing /{run}")))?;
    }
    Ok(())
}

/// Adds the certificates to the Java trust store (JKS, password `changeit`), as apko does.
fn java_truststore(
    fs: &mut FsTree,
    id: NodeId,
    added: &[(String, String, Vec<u8>)],
    bde: i64,
) -> Result<(), BuildError> {
    const PATH: &str = "etc/ssl/certs/java/cacerts";
    const PASSWORD: &str = "changeit";
    let data = fs
        .read(id, PATH)
        .map_err(BuildError::fs(format!("reading /{PATH}")))?;
    let mut store = crate::jks::KeyStore::load(&data, PASSWORD).map_err(|e| {
        BuildError::invalid(
            format!("/{PATH}: {e}"),
            Some("apko-rs adds `certificates` to JKS trust stores protected by the password `changeit`; remove `certificates` or use a package that ships such a store"),
        )
    })?;
    let time_ms = u64::try_from(bde).unwrap_or(0).saturating_mul(1000);
    for (alias, _, der) in added {
        store.set_trusted_certificate(alias, der, time_ms);
    }
    let id = fs
        .write_file(PATH, store.store(PASSWORD), &Meta::root(0o644))
        .map_err(BuildError::fs(format!("writing /{PATH}")))?;
    fs.node_mut(id).meta.mtime = bde;
    Ok(())
}

/// Busybox applet links, from `/etc/busybox-paths.d/<package>` (what busybox's trigger would
/// create). Existing files and links are left alone.
pub(crate) fn busybox(
    fs: &mut FsTree,
    installed: &[(String, Vec<String>)],
) -> Result<(), BuildError> {
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
        tracing::warn!(
            "/bin/busybox is installed but /{list_path} is missing; no applet links were created"
        );
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
            tracing::warn!("/{list_path}: `{link}` is not a plain path; skipped");
            continue;
        }
        if fs.exists(link) {
            continue;
        }
        let parent = link.rsplit_once('/').map_or("", |(d, _)| d);
        let dir = fs
            .mkdir_all(parent, &Meta::root(0o755))
            .map_err(BuildError::fs(format!("creating /{parent} for busybox")))?;
        fs.node_mut(dir).meta.mtime = mtime;
        fs.insert(
            link,
            Node::new(
                Kind::Symlink("/bin/busybox".into()),
                Meta::root(0o777).with_mtime(mtime),
            ),
        )
        .map_err(BuildError::fs(format!("linking /{link} to busybox")))?;
    }
    Ok(())
}

/// Writes a text file the builder owns (keeping the mtime of a package's copy; replacing, not
/// following, a symbolic link a package put there).
pub(crate) fn write_owned(
    fs: &mut FsTree,
    path: &str,
    text: &str,
    mode: u32,
) -> Result<(), BuildError> {
    let id = fs
        .write_file_nofollow(path, text.as_bytes().to_vec(), &Meta::root(mode))
        .map_err(BuildError::fs(format!("writing /{path}")))?;
    fs.node_mut(id).meta.mode = mode;
    Ok(())
}
