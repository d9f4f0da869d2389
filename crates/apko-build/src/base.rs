//! `contents.baseimage`: building on top of an existing image, as apko does. The base image's
//! layers are kept as they are (same blobs, same diff_ids, same history); its installed
//! database (`baseimage.apkindex`'s `<arch>/APKINDEX`, in installed-database format, or else the
//! one inside the image) is what the solver starts from: its packages are kept at their
//! versions, the configuration's packages are solved against them, and only the new packages
//! are installed, into new layers on top with the merged database.

use crate::error::BuildError;
use apko_apk::installed::InstalledDb;
use apko_config::Arch;
use apko_oci::{Descriptor, Digest, History, MEDIA_TYPE_LAYER_GZIP, RunConfig};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest index, manifest or config read from a base image.
const MAX_DOCUMENT: u64 = 16 << 20;
/// The largest installed database read.
const MAX_DB: u64 = 256 << 20;

/// One architecture's base image.
#[derive(Debug, Clone)]
pub(crate) struct BaseImage {
    /// Where it was read from (for messages).
    pub(crate) source: PathBuf,
    /// Its layers, bottom first: descriptor, diff_id and the blob file.
    pub(crate) layers: Vec<BaseLayer>,
    /// Its config's `history`.
    pub(crate) history: Vec<History>,
    /// Its config's run-time settings (entrypoint, environment, ...).
    pub(crate) run: RunConfig,
    /// Its installed database.
    pub(crate) db: InstalledDb,
}

/// A layer of the base image.
#[derive(Debug, Clone)]
pub(crate) struct BaseLayer {
    pub(crate) descriptor: Descriptor,
    pub(crate) diff_id: Digest,
    pub(crate) path: PathBuf,
}

fn bad(source: &Path, why: impl Into<String>) -> BuildError {
    BuildError::BaseImage {
        path: source.display().to_string(),
        problem: why.into(),
    }
}

fn read_bounded(path: &Path, limit: u64, source: &Path) -> Result<Vec<u8>, BuildError> {
    let f = fs_err::File::open(path).map_err(|e| bad(source, e.to_string()))?;
    let mut out = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| bad(source, e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(bad(
            source,
            format!("`{}` is larger than {limit} bytes", path.display()),
        ));
    }
    Ok(out)
}

/// A blob of the layout, checked against its digest.
fn blob(layout: &Path, d: &Digest, limit: u64) -> Result<Vec<u8>, BuildError> {
    let path = blob_path(layout, d)?;
    let bytes = read_bounded(&path, limit, layout)?;
    if Digest::of(&bytes) != *d {
        return Err(bad(layout, format!("blob {d} does not match its digest")));
    }
    Ok(bytes)
}

fn blob_path(layout: &Path, d: &Digest) -> Result<PathBuf, BuildError> {
    let text = d.to_string();
    let hex = text
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad(layout, format!("unsupported digest {text}")))?;
    Ok(layout.join("blobs/sha256").join(hex))
}

fn json(bytes: &[u8], layout: &Path, what: &str) -> Result<serde_json::Value, BuildError> {
    serde_json::from_slice(bytes).map_err(|e| bad(layout, format!("{what} is not JSON: {e}")))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn digest_of(v: &serde_json::Value, layout: &Path) -> Result<Digest, BuildError> {
    v.get("digest")
        .and_then(|d| d.as_str())
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| bad(layout, "a descriptor without a valid digest"))
}

/// Reads the image of `arch` from the OCI layout `layout`, and its installed database from
/// `apkindex/<apk arch>/APKINDEX` (or, when `apkindex` is `None`, from the image's own
/// `usr/lib/apk/db/installed` or `lib/apk/db/installed`).
pub(crate) fn load(
    layout: &Path,
    apkindex: Option<&Path>,
    arch: Arch,
) -> Result<BaseImage, BuildError> {
    if !layout.join("index.json").is_file() {
        return Err(bad(layout, "not an OCI image layout (no index.json)"));
    }
    let mut index = json(
        &read_bounded(&layout.join("index.json"), MAX_DOCUMENT, layout)?,
        layout,
        "index.json",
    )?;
    // index.json may point at the image index instead of being it (nested once or more).
    for _ in 0..8 {
        let nested = index["manifests"]
            .as_array()
            .and_then(|m| {
                m.iter()
                    .find(|d| d["mediaType"].as_str() == Some(apko_oci::MEDIA_TYPE_INDEX))
            })
            .cloned();
        match nested {
            Some(d) => {
                index = json(
                    &blob(layout, &digest_of(&d, layout)?, MAX_DOCUMENT)?,
                    layout,
                    "the image index",
                )?;
            }
            None => break,
        }
    }
    let (want_arch, want_variant) = arch.oci_platform();
    let mut found = None;
    for d in index["manifests"].as_array().into_iter().flatten() {
        let manifest = json(
            &blob(layout, &digest_of(d, layout)?, MAX_DOCUMENT)?,
            layout,
            "a manifest",
        )?;
        let config_digest = digest_of(&manifest["config"], layout)?;
        let config = json(
            &blob(layout, &config_digest, MAX_DOCUMENT)?,
            layout,
            "an image config",
        )?;
        let variant = config["variant"].as_str();
        if config["architecture"].as_str() == Some(want_arch)
            && (want_variant.is_none() || variant == want_variant)
        {
            found = Some((manifest, config));
            break;
        }
    }
    let (manifest, config) = found.ok_or_else(|| {
        bad(
            layout,
            format!("the base image has no {} image", arch.oci_name()),
        )
    })?;
    let diff_ids = strings(&config["rootfs"]["diff_ids"]);
    let layer_descs = manifest["layers"].as_array().cloned().unwrap_or_default();
    if diff_ids.len() != layer_descs.len() {
        return Err(bad(
            layout,
            "the config's diff_ids do not match the manifest's layers",
        ));
    }
    let mut layers = Vec::new();
    for (d, diff_id) in layer_descs.iter().zip(&diff_ids) {
        let digest = digest_of(d, layout)?;
        let media_type = d["mediaType"].as_str().unwrap_or_default().to_owned();
        if media_type != MEDIA_TYPE_LAYER_GZIP
            && media_type != "application/vnd.docker.image.rootfs.diff.tar.gzip"
        {
            return Err(bad(
                layout,
                format!("layer {digest} is `{media_type}`; only gzip tar layers are supported"),
            ));
        }
        let path = blob_path(layout, &digest)?;
        let size = d["size"]
            .as_u64()
            .ok_or_else(|| bad(layout, "a layer without a size"))?;
        let on_disk = fs_err::metadata(&path)
            .map_err(|e| bad(layout, e.to_string()))?
            .len();
        if on_disk != size {
            return Err(bad(
                layout,
                format!("layer {digest} has {on_disk} bytes, the manifest says {size}"),
            ));
        }
        layers.push(BaseLayer {
            descriptor: Descriptor {
                media_type: MEDIA_TYPE_LAYER_GZIP.into(),
                size,
                digest,
                annotations: None,
                platform: None,
                artifact_type: None,
            },
            diff_id: diff_id
                .parse()
                .map_err(|_| bad(layout, format!("invalid diff_id {diff_id}")))?,
            path,
        });
    }
    let history = config["history"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| History {
            author: h["author"].as_str().unwrap_or_default().to_owned(),
            created: h["created"].as_str().unwrap_or_default().to_owned(),
            created_by: h["created_by"].as_str().unwrap_or_default().to_owned(),
            comment: h["comment"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    let c = &config["config"];
    let run = RunConfig {
        cmd: strings(&c["Cmd"]),
        entrypoint: strings(&c["Entrypoint"]),
        env: strings(&c["Env"]),
        labels: c["Labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
        user: c["User"].as_str().unwrap_or_default().to_owned(),
        volumes: c["Volumes"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
        working_dir: c["WorkingDir"].as_str().unwrap_or_default().to_owned(),
        stop_signal: c["StopSignal"].as_str().unwrap_or_default().to_owned(),
    };
    let (db_text, db_source) = match apkindex {
        Some(dir) => {
            let p = dir.join(arch.apk_name()).join("APKINDEX");
            (read_bounded(&p, MAX_DB, &p)?, p)
        }
        None => (
            installed_from_layers(layout, &layers)?,
            layout.join("(installed database in the image)"),
        ),
    };
    let text = String::from_utf8(db_text)
        .map_err(|_| bad(&db_source, "the installed database is not UTF-8"))?;
    let db = InstalledDb::parse(&text, &db_source.display().to_string())
        .map_err(|e| bad(&db_source, e.to_string()))?;
    Ok(BaseImage {
        source: layout.to_owned(),
        layers,
        history,
        run,
        db,
    })
}

/// The installed database of the topmost layer that has one.
fn installed_from_layers(layout: &Path, layers: &[BaseLayer]) -> Result<Vec<u8>, BuildError> {
    use apko_apk::tar::TarReader;
    let mut found = None;
    for l in layers {
        let f = fs_err::File::open(&l.path).map_err(|e| bad(layout, e.to_string()))?;
        let mut tar = TarReader::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(
            f,
        )));
        while let Some(h) = tar
            .next_header()
            .map_err(|e| bad(layout, format!("layer {}: {e}", l.descriptor.digest)))?
        {
            let p = h.path.trim_start_matches("./").trim_end_matches('/');
            if matches!(p, "usr/lib/apk/db/installed" | "lib/apk/db/installed") && h.size <= MAX_DB
            {
                let mut data = Vec::with_capacity(usize::try_from(h.size).unwrap_or(0));
                (&mut tar)
                    .take(h.size)
                    .read_to_end(&mut data)
                    .map_err(|e| bad(layout, e.to_string()))?;
                found = Some(data);
            }
        }
    }
    found.ok_or_else(|| {
        bad(
            layout,
            "the base image has no installed database; name it with `baseimage.apkindex`",
        )
    })
}

impl BaseImage {
    /// The base packages' records.
    pub(crate) fn packages(&self) -> impl Iterator<Item = &apko_apk::info::PackageInfo> {
        self.db.packages.iter().map(|p| &p.info)
    }
}

/// Where a configured base path is: the current directory, the configuration's directory,
/// then the include paths (as apko resolves it).
pub(crate) fn locate(
    spec: &str,
    base_dir: &Path,
    config_dir: Option<&Path>,
    include: &[PathBuf],
) -> PathBuf {
    let p = Path::new(spec);
    if p.is_absolute() {
        return p.to_owned();
    }
    let candidates = std::iter::once(base_dir.to_owned())
        .chain(config_dir.map(Path::to_owned))
        .chain(include.iter().cloned());
    for dir in candidates {
        let c = dir.join(p);
        if c.exists() {
            return c;
        }
    }
    base_dir.join(p)
}
