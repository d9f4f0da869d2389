//! Writing the layers of an image: one, or with `layering` one per package group plus a top
//! layer.

use super::LayerCache;
use super::layering;
use crate::error::BuildError;
use crate::rootfs::Rootfs;
use crate::session::WorkDir;
use apko_config::ImageConfig;
use apko_fs::{LayerBlob, LayerOptions, LayerPart, NodeId, Owner, write_layer_part};
use apko_oci::{
    Descriptor, Digest, MEDIA_TYPE_LAYER_EROFS, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_ZSTD,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One layer of an image: a compressed tar in the build's work directory, kept alive as long
/// as the layer is.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Its digests and sizes.
    pub blob: LayerBlob,
    /// The packages whose files it holds (empty for the top layer, which holds directories
    /// and what the builder wrote; and for single-layer images, which hold everything).
    pub packages: Vec<String>,
    media_type: &'static str,
    path: PathBuf,
    /// The directory holding `path` (a temporary one is removed when the last layer and
    /// build output referring to it are dropped).
    _work: Arc<WorkDir>,
}

impl Layer {
    /// Its descriptor in a manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.into(),
            size: self.blob.size(),
            digest: Digest::from_sha256(self.blob.digests.compressed_sha256),
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }

    /// The digest of the uncompressed tar (the config's `diff_id`).
    pub fn diff_id(&self) -> Digest {
        Digest::from_sha256(self.blob.digests.uncompressed_sha256)
    }

    /// A layer of the base image (`contents.baseimage`), kept as it is.
    pub(crate) fn from_base(l: &crate::base::BaseLayer) -> Layer {
        // Base digests are checked to be sha256 when the base image is read.
        let sha = |d: &Digest| {
            let mut out = [0u8; 32];
            let _ = hex::decode_to_slice(d.hex(), &mut out);
            out
        };
        Layer {
            blob: LayerBlob {
                digests: apko_fs::Digests {
                    compressed_sha256: sha(&l.descriptor.digest),
                    compressed_size: l.descriptor.size,
                    uncompressed_sha256: sha(&l.diff_id),
                    uncompressed_size: 0,
                },
            },
            packages: Vec::new(),
            media_type: if l.descriptor.media_type == MEDIA_TYPE_LAYER_ZSTD {
                MEDIA_TYPE_LAYER_ZSTD
            } else {
                MEDIA_TYPE_LAYER_GZIP
            },
            path: l.path.clone(),
            _work: Arc::new(WorkDir::existing(l.path.parent().unwrap_or(&l.path))),
        }
    }

    /// The file holding the compressed layer; it exists as long as this value does.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// How layers are written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerSettings {
    /// Compression threads.
    pub(crate) threads: usize,
    /// Compression level (gzip 0–9, zstd 1–19).
    pub(crate) level: u32,
    /// gzip or zstd.
    pub(crate) compression: apko_fs::Compression,
}

/// A package layer of `layering`.
struct LayerGroup {
    /// Indices (owners) of its packages.
    packages: Vec<usize>,
    /// Their names.
    names: Vec<String>,
    /// The installed database of just these packages (it replaces the full one in the
    /// layer, so that each layer describes what it holds).
    installed_db: Vec<u8>,
}

/// The package layers of `layering` (none without it).
fn groups(c: &ImageConfig, rootfs: &Rootfs) -> Vec<LayerGroup> {
    let Some(budget) = c
        .layering
        .as_ref()
        .and_then(apko_config::Layering::origin_budget)
    else {
        return Vec::new();
    };
    let infos: Vec<&apko_apk::info::PackageInfo> = rootfs.package_infos().collect();
    layering::groups(&infos, budget)
        .into_iter()
        .map(|g| {
            let names = g.iter().map(|&i| infos[i].name.to_string()).collect();
            let db = apko_apk::installed::InstalledDb {
                packages: g.iter().map(|&i| rootfs.db.packages[i].clone()).collect(),
            };
            LayerGroup {
                packages: g,
                names,
                installed_db: db.write().into_bytes(),
            }
        })
        .collect()
}

/// apko's erofs layer: the raw EROFS image of the whole tree (media type
/// `application/vnd.erofs`; its digest is its diff_id), dated at the build date.
fn write_erofs_layer(rootfs: &Rootfs, work: &Arc<WorkDir>) -> Result<Layer, BuildError> {
    let arch = rootfs.arch.apk_name();
    let path = work.path().join(format!("layer-{arch}.erofs"));
    let file = fs_err::File::create(&path).map_err(BuildError::io(path.display()))?;
    let opts = apko_fs::erofs::ErofsOptions {
        build_time: rootfs.build_date.max(0),
        ..apko_fs::erofs::ErofsOptions::default()
    };
    let (stats, w) = apko_fs::erofs::write_erofs(
        &rootfs.tree,
        &opts,
        std::io::BufWriter::with_capacity(1 << 20, file),
    )
    .map_err(|source| {
        BuildError::Rootfs(crate::rootfs::RootfsError::Fs {
            context: format!("writing the {arch} erofs layer"),
            source,
        })
    })?;
    std::io::Write::flush(&mut { w }).map_err(BuildError::io(path.display()))?;
    Ok(Layer {
        blob: LayerBlob {
            digests: apko_fs::Digests {
                compressed_sha256: stats.sha256,
                compressed_size: stats.size,
                uncompressed_sha256: stats.sha256,
                uncompressed_size: stats.size,
            },
        },
        packages: Vec::new(),
        media_type: MEDIA_TYPE_LAYER_EROFS,
        path,
        _work: work.clone(),
    })
}

/// What the layer writer needs from the build around it.
pub(crate) struct Sources<'a> {
    /// The layer cache, if any.
    pub(crate) cache: Option<&'a LayerCache>,
    /// Where warnings go (a damaged cache entry).
    pub(crate) warn: &'a (dyn Fn(&str) + Sync),
    /// Makes sure the given source files of the tree hold what their identities say before
    /// a layer is written from them (cached expansions are verified, repaired if needed).
    pub(crate) prepare: &'a (dyn Fn(&[u32]) -> Result<(), BuildError> + Sync),
}

/// A layer whose blob `path` came from the layer cache: its own link in the work directory
/// (it lives as long as the layer whatever happens to the cache), or, where a link cannot be
/// made (the cache on another filesystem), the cache's file itself (docs/cache.md).
fn cached_layer(
    blob: LayerBlob,
    packages: Vec<String>,
    media_type: &'static str,
    path: PathBuf,
    own: &Path,
    work: &Arc<WorkDir>,
) -> Layer {
    let work = if path == own {
        work.clone()
    } else {
        Arc::new(WorkDir::existing(path.parent().unwrap_or(Path::new("."))))
    };
    Layer {
        blob,
        packages,
        media_type,
        path,
        _work: work,
    }
}

/// Writes the layers of `rootfs` into `work` (or the layer cache), bottom first; a layer
/// the cache has is taken from it.
pub(crate) fn write_layers(
    rootfs: &Rootfs,
    c: &ImageConfig,
    settings: LayerSettings,
    work: &Arc<WorkDir>,
    sources: &Sources<'_>,
) -> Result<Vec<Layer>, BuildError> {
    let fs = &rootfs.tree;
    if c.format == Some(apko_config::ImageFormat::Erofs) {
        return Ok(vec![write_erofs_layer(rootfs, work)?]);
    }
    let opts = LayerOptions {
        compression: settings.compression,
        compression_level: settings.level,
        threads: settings.threads,
        users: rootfs.ids.user_names.clone(),
        groups: rootfs.ids.group_names.clone(),
        ..LayerOptions::default()
    };
    let arch = rootfs.arch.apk_name();
    let media_type = match settings.compression {
        apko_fs::Compression::Gzip => MEDIA_TYPE_LAYER_GZIP,
        apko_fs::Compression::Zstd => MEDIA_TYPE_LAYER_ZSTD,
    };
    let fs_error = |source| {
        BuildError::Rootfs(crate::rootfs::RootfsError::Fs {
            context: format!("writing the {arch} layer"),
            source,
        })
    };
    let write = |name: &str, part: &LayerPart<'_>, packages: Vec<String>| {
        let key = match sources.cache {
            Some(_) => apko_fs::layer_key(fs, &opts, part).map_err(fs_error)?,
            None => None,
        };
        let ext = match settings.compression {
            apko_fs::Compression::Gzip => "tar.gz",
            apko_fs::Compression::Zstd => "tar.zst",
        };
        let own = work.path().join(format!("layer-{arch}-{name}.{ext}"));
        if let (Some(cache), Some(k)) = (sources.cache, &key)
            && let Some((blob, path)) = cache.get(&k.key, &own, sources.warn)
        {
            return Ok(cached_layer(blob, packages, media_type, path, &own, work));
        }
        match &key {
            Some(k) => (sources.prepare)(&k.sources)?,
            None => {
                let all: Vec<u32> = (0..fs.sources().len() as u32).collect();
                (sources.prepare)(&all)?;
            }
        }
        // A cache that cannot be written (read-only, full) is a warning, not a failure.
        let cache_warning = |e: std::io::Error| {
            let root = sources.cache.map_or(Path::new(""), LayerCache::root);
            (sources.warn)(&format!(
                "cannot write to the layer cache {}: {e}; the layer is not cached",
                root.display()
            ));
        };
        let pending = match (sources.cache, &key) {
            (Some(cache), Some(_)) => cache.begin().map_err(cache_warning).ok(),
            _ => None,
        };
        let path = match &pending {
            Some(p) => p.path().to_owned(),
            None => own.clone(),
        };
        let file = fs_err::File::create(&path).map_err(BuildError::io(path.display()))?;
        let (blob, w) = write_layer_part(
            fs,
            &opts,
            std::io::BufWriter::with_capacity(1 << 20, file),
            part,
        )
        .map_err(fs_error)?;
        std::io::Write::flush(&mut { w }).map_err(BuildError::io(path.display()))?;
        if let (Some(cache), Some(k), Some(p)) = (sources.cache, &key, &pending) {
            match cache.commit(&k.key, p, &blob, &own) {
                Ok(path) => return Ok(cached_layer(blob, packages, media_type, path, &own, work)),
                Err(e) => {
                    cache_warning(e);
                    apko_apk::package::move_replacing(p.path(), &own)
                        .map_err(BuildError::io(own.display()))?;
                }
            }
        }
        Ok::<_, BuildError>(Layer {
            blob,
            packages,
            media_type,
            path: own,
            _work: work.clone(),
        })
    };
    let groups = groups(c, rootfs);
    // The layer of each package (by owner index); `None`: the top layer.
    let mut layer_of: Vec<Option<usize>> = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        for &o in &group.packages {
            if layer_of.len() <= o {
                layer_of.resize(o + 1, None);
            }
            layer_of[o] = Some(i);
        }
    }
    let layer = |id: NodeId| {
        fs.node(id)
            .owner
            .and_then(|Owner(o)| layer_of.get(o as usize).copied().flatten())
    };
    let mut layers = Vec::with_capacity(groups.len() + 1);
    for (i, group) in groups.into_iter().enumerate() {
        let part = LayerPart {
            include: &|_: &str, id| layer(id) == Some(i),
            directories: false,
            replace: [("usr/lib/apk/db/installed".to_owned(), group.installed_db)].into(),
        };
        layers.push(write(&i.to_string(), &part, group.names)?);
    }
    // The top layer: directories and everything no package layer holds.
    let rest = |_: &str, id: NodeId| layer(id).is_none();
    let top = LayerPart {
        include: &rest,
        directories: true,
        replace: std::collections::BTreeMap::new(),
    };
    layers.push(write("top", &top, Vec::new())?);
    Ok(layers)
}
