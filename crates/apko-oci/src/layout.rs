//! Writing images: OCI image layouts and docker-loadable tarballs, atomically.

use crate::digest::Digest;
use crate::json::to_go_json;
use crate::types::{Descriptor, Document, MEDIA_TYPE_LAYER_GZIP};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An output that cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// A file operation failed.
    #[error("cannot write `{}`", path.display())]
    Io {
        /// Where.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Temporary files are created private (0600); outputs are world-readable like any file.
pub fn set_readable(path: &Path) -> Result<(), OutputError> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o644)).map_err(io_err(path))
}

/// A blob to put in an image: bytes in memory or a file on disk (layers).
#[derive(Debug, Clone)]
pub enum Blob {
    /// In memory.
    Bytes(Vec<u8>),
    /// A file holding exactly the blob.
    File(PathBuf),
}

/// A layer of an image: its descriptor and where its bytes are.
#[derive(Debug, Clone)]
pub struct LayerRef {
    /// Its descriptor in the manifest.
    pub descriptor: Descriptor,
    /// Its content.
    pub blob: Blob,
}

/// One architecture's image, ready to be written.
#[derive(Debug, Clone)]
pub struct ImageBlobs {
    /// The manifest JSON and its descriptor (with platform, for the index).
    pub manifest: Document,
    /// The config JSON and its descriptor.
    pub config: Document,
    /// The layers, bottom first.
    pub layers: Vec<LayerRef>,
    /// Tags for the docker tarball's `RepoTags`.
    pub repo_tags: Vec<String>,
}

fn copy_blob(blob: &Blob, out: &mut dyn Write, path: &Path) -> Result<(), OutputError> {
    match blob {
        Blob::Bytes(b) => out.write_all(b).map_err(io_err(path)),
        Blob::File(p) => {
            let mut f = fs_err::File::open(p).map_err(io_err(p))?;
            io::copy(&mut f, out).map(|_| ()).map_err(io_err(path))
        }
    }
}

/// Writes an OCI image layout at `dir`: `oci-layout`, `index.json` (the image index itself,
/// as apko writes it) and `blobs/sha256/`. Files are staged in a temporary directory inside
/// `dir` (so that moving them in is a rename even when `dir` is a mount point), blobs are
/// moved in first and `index.json` last; on failure the blobs moved so far are removed again,
/// so `dir` is left as it was. Files are 0644 and directories 0755 whatever the umask.
pub fn write_layout(
    dir: &Path,
    index_json: &[u8],
    images: &[ImageBlobs],
) -> Result<(), OutputError> {
    if !dir.is_dir() {
        fs_err::create_dir_all(dir).map_err(io_err(dir))?;
        set_mode(dir, 0o755)?;
    }
    let stage = tempfile::Builder::new()
        .prefix(".apko-layout-")
        .tempdir_in(dir)
        .map_err(io_err(dir))?;
    let staged = stage.path().join("blobs");
    fs_err::create_dir_all(&staged).map_err(io_err(&staged))?;
    let mut blobs: Vec<(String, PathBuf)> = Vec::new();
    let mut put = |digest: &Digest, blob: &Blob| -> Result<(), OutputError> {
        let name = digest.hex();
        if blobs.iter().any(|(n, _)| *n == name) {
            return Ok(());
        }
        let p = staged.join(&name);
        stage_blob(blob, &p)?;
        blobs.push((name, p));
        Ok(())
    };
    for img in images {
        put(
            &img.manifest.descriptor.digest,
            &Blob::Bytes(img.manifest.bytes.clone()),
        )?;
        put(
            &img.config.descriptor.digest,
            &Blob::Bytes(img.config.bytes.clone()),
        )?;
        for l in &img.layers {
            put(&l.descriptor.digest, &l.blob)?;
        }
    }
    let write = |name: &str, data: &[u8]| -> Result<PathBuf, OutputError> {
        let p = stage.path().join(name);
        fs_err::write(&p, data).map_err(io_err(&p))?;
        set_mode(&p, 0o644)?;
        Ok(p)
    };
    let layout_file = write("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index_file = write("index.json", index_json)?;

    // Move in: blobs first, index.json last; undo on failure.
    let mut created: Vec<PathBuf> = Vec::new();
    let result = (|| -> Result<(), OutputError> {
        for sub in ["blobs", "blobs/sha256"] {
            let d = dir.join(sub);
            if !d.is_dir() {
                fs_err::create_dir(&d).map_err(io_err(&d))?;
                set_mode(&d, 0o755)?;
                created.push(d);
            }
        }
        for (name, staged) in &blobs {
            let to = dir.join("blobs/sha256").join(name);
            // Content-addressed: a blob already there is kept only if it is what its name
            // says (a truncated or altered one would make the new index point at garbage).
            match blob_matches(&to, name) {
                Some(true) => {}
                Some(false) => {
                    // Replaced, not created: a failure later leaves the good copy in place.
                    fs_err::rename(staged, &to).map_err(io_err(&to))?;
                }
                None => {
                    fs_err::rename(staged, &to).map_err(io_err(&to))?;
                    created.push(to);
                }
            }
        }
        fs_err::rename(&layout_file, dir.join("oci-layout"))
            .map_err(io_err(&dir.join("oci-layout")))?;
        fs_err::rename(&index_file, dir.join("index.json")).map_err(io_err(&dir.join("index.json")))
    })();
    if result.is_err() {
        for p in created.iter().rev() {
            let _ = if p.is_dir() {
                fs_err::remove_dir(p)
            } else {
                fs_err::remove_file(p)
            };
        }
    }
    result
}

/// Whether the file at `path` has the SHA-256 `hex` (`None`: there is no such file; a
/// symbolic link, unreadable or other file counts as not matching).
fn blob_matches(path: &Path, hex: &str) -> Option<bool> {
    use sha2::Digest as _;
    let meta = fs_err::symlink_metadata(path).ok()?;
    if !meta.is_file() {
        return Some(false);
    }
    let Ok(mut f) = fs_err::File::open(path) else {
        return Some(false);
    };
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match io::Read::read(&mut f, &mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(_) => return Some(false),
        }
    }
    Some(crate::digest::Digest::from_sha256(h.finalize().into()).hex() == hex)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), OutputError> {
    use std::os::unix::fs::PermissionsExt;
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err(path))
}

/// Puts a blob at `path` (0644): a hard link to a file blob when possible (layers can be
/// hundreds of megabytes), otherwise a copy.
fn stage_blob(blob: &Blob, path: &Path) -> Result<(), OutputError> {
    match blob {
        Blob::File(src) if fs_err::hard_link(src, path).is_ok() => {}
        _ => {
            let mut f = fs_err::File::create(path).map_err(io_err(path))?;
            copy_blob(blob, &mut f, path)?;
        }
    }
    set_mode(path, 0o644)
}

/// One entry of a docker tarball's `manifest.json`, in go-containerregistry's field order.
#[derive(serde::Serialize)]
struct TarballManifest {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Vec<String>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// Writes a tarball that `docker load` (and `skopeo … docker-archive:`) accept: per image its
/// config (`sha256:<hex>`) and layers (`<hex>.tar.gz`), `manifest.json`, then every image
/// manifest (`sha256:<hex>`) and `index.json`, as apko writes it. Entries are ordered and
/// their headers normalised, so the file is reproducible. Written to a temporary file and
/// renamed into place.
pub fn write_docker_tarball(
    path: &Path,
    index_json: &[u8],
    images: &[ImageBlobs],
) -> Result<(), OutputError> {
    write_atomically(path, |file| {
        let mut tar = tar::Builder::new(io::BufWriter::new(file));
        tar.mode(tar::HeaderMode::Deterministic);
        // `data` is read once, straight from the caller's bytes or file.
        let mut add = |name: &str, size: u64, data: &mut dyn io::Read| -> Result<(), OutputError> {
            let mut h = tar::Header::new_ustar();
            h.set_path(name).map_err(io_err(path))?;
            h.set_size(size);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            tar.append(&h, data).map_err(io_err(path))
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut manifest = Vec::new();
        let mut sorted: Vec<&ImageBlobs> = images.iter().collect();
        sorted.sort_by_key(|img| img.repo_tags.join(","));
        for img in &sorted {
            let cfg_name = img.config.descriptor.digest.to_string();
            if seen.insert(cfg_name.clone()) {
                add(
                    &cfg_name,
                    img.config.bytes.len() as u64,
                    &mut img.config.bytes.as_slice(),
                )?;
            }
            let mut layers = Vec::new();
            for LayerRef {
                descriptor: d,
                blob: b,
            } in &img.layers
            {
                let name = if d.media_type == MEDIA_TYPE_LAYER_GZIP {
                    format!("{}.tar.gz", d.digest.hex())
                } else {
                    d.digest.hex()
                };
                if seen.insert(name.clone()) {
                    match b {
                        Blob::Bytes(bytes) => add(&name, d.size, &mut bytes.as_slice())?,
                        Blob::File(p) => {
                            add(
                                &name,
                                d.size,
                                &mut fs_err::File::open(p).map_err(io_err(p))?,
                            )?;
                        }
                    }
                }
                layers.push(name);
            }
            manifest.push(TarballManifest {
                config: cfg_name,
                repo_tags: img.repo_tags.clone(),
                layers,
            });
        }
        let manifest_json = to_go_json(&manifest);
        add(
            "manifest.json",
            manifest_json.len() as u64,
            &mut manifest_json.as_slice(),
        )?;
        for img in &sorted {
            let name = img.manifest.descriptor.digest.to_string();
            if seen.insert(name.clone()) {
                add(
                    &name,
                    img.manifest.bytes.len() as u64,
                    &mut img.manifest.bytes.as_slice(),
                )?;
            }
        }
        add("index.json", index_json.len() as u64, &mut &index_json[..])?;
        let mut w = tar.into_inner().map_err(io_err(path))?;
        w.flush().map_err(io_err(path))?;
        Ok(())
    })
}

/// Writes `path` atomically: `write` fills a temporary file next to it (same directory, so
/// the rename cannot cross file systems), which is synced, made world-readable (0644) and
/// renamed into place. On any error the temporary file is removed and `path` is untouched.
pub fn write_atomically<E: From<OutputError>>(
    path: &Path,
    write: impl FnOnce(&std::fs::File) -> Result<(), E>,
) -> Result<(), E> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(dir)
        .map_err(io_err(dir))?;
    write(tmp.as_file())?;
    tmp.as_file().sync_all().map_err(io_err(path))?;
    set_readable(tmp.path())?;
    tmp.persist(path).map_err(|e| OutputError::Io {
        path: path.to_owned(),
        source: e.error,
    })?;
    Ok(())
}
