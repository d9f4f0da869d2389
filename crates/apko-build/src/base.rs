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
pub(crate) const MAX_DOCUMENT: u64 = 16 << 20;
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
    /// The digest of its manifest.
    pub(crate) manifest_digest: Digest,
    /// Its config's `created`.
    pub(crate) created: String,
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
pub(crate) fn blob(layout: &Path, d: &Digest, limit: u64) -> Result<Vec<u8>, BuildError> {
    let path = blob_path(layout, d)?;
    let bytes = read_bounded(&path, limit, layout)?;
    if Digest::of(&bytes) != *d {
        return Err(bad(layout, format!("blob {d} does not match its digest")));
    }
    Ok(bytes)
}

pub(crate) fn blob_path(layout: &Path, d: &Digest) -> Result<PathBuf, BuildError> {
    let text = d.to_string();
    let hex = text
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad(layout, format!("unsupported digest {text}")))?;
    Ok(layout.join("blobs/sha256").join(hex))
}

pub(crate) fn json(
    bytes: &[u8],
    layout: &Path,
    what: &str,
) -> Result<serde_json::Value, BuildError> {
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

pub(crate) fn digest_of(v: &serde_json::Value, layout: &Path) -> Result<Digest, BuildError> {
    v.get("digest")
        .and_then(|d| d.as_str())
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| bad(layout, "a descriptor without a valid digest"))
}

/// The image index of the layout at `layout`: its `index.json`, or the index it points at
/// (nested once or more).
fn image_index(layout: &Path) -> Result<serde_json::Value, BuildError> {
    image_index_with_digest(layout).map(|(v, _)| v)
}

/// The image index of a layout (`index.json`, or the index it points at) and, when it is
/// a blob, its digest.
pub(crate) fn image_index_with_digest(
    layout: &Path,
) -> Result<(serde_json::Value, Option<Digest>), BuildError> {
    let mut digest = None;
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
                let dg = digest_of(&d, layout)?;
                index = json(&blob(layout, &dg, MAX_DOCUMENT)?, layout, "the image index")?;
                digest = Some(dg);
            }
            None => break,
        }
    }
    if digest.is_none() {
        // index.json is the image index itself (apko's layouts): its digest is its file's.
        digest = Some(Digest::of(&read_bounded(
            &layout.join("index.json"),
            MAX_DOCUMENT,
            layout,
        )?));
    }
    Ok((index, digest))
}

/// Reads the image of `arch` from the OCI layout `layout`, and its installed database from
/// `apkindex/<apk arch>/APKINDEX` (or, when `apkindex` is `None`, from the image's own
/// `usr/lib/apk/db/installed` or `lib/apk/db/installed`).
pub(crate) fn load(
    layout: &Path,
    apkindex: Option<&Path>,
    arch: Arch,
) -> Result<BaseImage, BuildError> {
    let index = image_index(layout)?;
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
            found = Some((digest_of(d, layout)?, manifest, config));
            break;
        }
    }
    let (manifest_digest, manifest, config) = found.ok_or_else(|| {
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
            && media_type != apko_oci::MEDIA_TYPE_LAYER_ZSTD
            && media_type != "application/vnd.docker.image.rootfs.diff.tar.gzip"
        {
            return Err(bad(
                layout,
                format!(
                    "layer {digest} is `{media_type}`; only gzip or zstd tar layers are supported"
                ),
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
                // Docker's gzip layers become OCI's: the bytes are the same.
                media_type: if media_type == apko_oci::MEDIA_TYPE_LAYER_ZSTD {
                    media_type.clone()
                } else {
                    MEDIA_TYPE_LAYER_GZIP.into()
                },
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
        created: config["created"].as_str().unwrap_or_default().to_owned(),
        manifest_digest,
        layers,
        history,
        run,
        db,
    })
}

/// The installed database of the topmost layer that has one.
fn installed_from_layers(layout: &Path, layers: &[BaseLayer]) -> Result<Vec<u8>, BuildError> {
    file_from_layers(
        layout,
        layers,
        &["usr/lib/apk/db/installed", "lib/apk/db/installed"],
    )?
    .ok_or_else(|| {
        bad(
            layout,
            "the base image has no installed database; name it with `baseimage.apkindex`",
        )
    })
}

/// The content of the first of `paths` that the layers hold (the topmost layer's copy).
pub(crate) fn file_from_layers(
    layout: &Path,
    layers: &[BaseLayer],
    paths: &[&str],
) -> Result<Option<Vec<u8>>, BuildError> {
    let mut found = files_from_layers(layout, layers, &|p| paths.contains(&p), MAX_DB)?;
    Ok(paths.iter().find_map(|p| found.remove(*p)))
}

/// The regular files the layers hold whose path (without `./` or `/`) `select` takes, the
/// topmost layer's copy of each; a file larger than `limit` is cut at `limit + 1` bytes (so
/// that a caller can tell). gzip, zstd and uncompressed layers.
pub(crate) fn files_from_layers(
    layout: &Path,
    layers: &[BaseLayer],
    select: &dyn Fn(&str) -> bool,
    limit: u64,
) -> Result<std::collections::BTreeMap<String, Vec<u8>>, BuildError> {
    use apko_apk::tar::{EntryKind, TarReader};
    let mut found = std::collections::BTreeMap::new();
    for l in layers {
        let r = open_layer(&l.path, &l.descriptor.media_type)
            .map_err(|e| bad(layout, e.to_string()))?;
        let mut tar = TarReader::new(r);
        while let Some(h) = tar
            .next_header()
            .map_err(|e| bad(layout, format!("layer {}: {e}", l.descriptor.digest)))?
        {
            let p = h.path.trim_start_matches("./").trim_start_matches('/');
            let p = p.trim_end_matches('/');
            if h.kind == EntryKind::Regular && select(p) {
                let mut data = Vec::with_capacity(usize::try_from(h.size.min(limit)).unwrap_or(0));
                (&mut tar)
                    .take(limit.saturating_add(1))
                    .read_to_end(&mut data)
                    .map_err(|e| bad(layout, e.to_string()))?;
                found.insert(p.to_owned(), data);
            }
        }
    }
    Ok(found)
}

/// A layer blob, decompressed as its media type says (`+zstd`, gzip, or plain tar).
pub(crate) fn open_layer(path: &Path, media_type: &str) -> std::io::Result<Box<dyn Read>> {
    let f = std::io::BufReader::with_capacity(1 << 20, fs_err::File::open(path)?);
    Ok(
        if media_type.ends_with("+zstd") || media_type.ends_with(".zstd") {
            Box::new(zstd::stream::read::Decoder::with_buffer(f)?)
        } else if media_type.ends_with("gzip") {
            Box::new(flate2::read::MultiGzDecoder::new(f))
        } else {
            Box::new(f)
        },
    )
}

/// The SHA-256 digest of a file, streamed.
fn digest_file(p: &Path) -> std::io::Result<Digest> {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let mut f = fs_err::File::open(p)?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(Digest::from_sha256(h.finalize().into()))
}

/// The architectures of the images of the layout at `layout`.
pub(crate) fn archs(layout: &Path) -> Result<Vec<Arch>, BuildError> {
    let index = image_index(layout)?;
    let mut out = Vec::new();
    for d in index["manifests"].as_array().into_iter().flatten() {
        let manifest = json(
            &blob(layout, &digest_of(d, layout)?, MAX_DOCUMENT)?,
            layout,
            "a manifest",
        )?;
        let config = json(
            &blob(
                layout,
                &digest_of(&manifest["config"], layout)?,
                MAX_DOCUMENT,
            )?,
            layout,
            "an image config",
        )?;
        let name = match (config["architecture"].as_str(), config["variant"].as_str()) {
            (Some("arm"), Some(v)) => format!("arm/{v}"),
            (Some(a), _) => a.to_owned(),
            (None, _) => continue,
        };
        if let Ok(a) = name.parse::<Arch>()
            && !out.contains(&a)
        {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err(bad(layout, "no image of an architecture apko knows"));
    }
    Ok(out)
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

/// The largest member of an image tarball (a layer) that is unpacked.
const MAX_MEMBER: u64 = 16 << 30;

/// A base image given as a tarball: an OCI image layout in a tar (`oci-archive`, docker ≥ 25's
/// `docker save`), or a `docker save` / `apko build` tarball (`manifest.json`), unpacked into
/// `work` as an OCI layout. Returns the layout's directory.
pub(crate) fn unpack_tarball(tarball: &Path, work: &Path) -> Result<PathBuf, BuildError> {
    use apko_apk::tar::{EntryKind, TarReader};
    let members = work.join("base-image-members");
    let _ = fs_err::remove_dir_all(&members);
    fs_err::create_dir_all(&members).map_err(|e| bad(tarball, e.to_string()))?;
    let f = fs_err::File::open(tarball).map_err(|e| bad(tarball, e.to_string()))?;
    let mut tar = TarReader::new(std::io::BufReader::new(f));
    let mut names = std::collections::BTreeMap::new();
    while let Some(h) = tar
        .next_header()
        .map_err(|e| bad(tarball, format!("not a tarball: {e}")))?
    {
        if h.kind != EntryKind::Regular {
            continue;
        }
        let name = h.path.trim_start_matches("./").to_owned();
        let plain = !name.is_empty()
            && !name.starts_with('/')
            && name
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..");
        if !plain || h.size > MAX_MEMBER {
            return Err(bad(
                tarball,
                format!("member `{name}` is not a plain relative path or is too large"),
            ));
        }
        // Stored under a name of our own: member names are untrusted.
        let stored = members.join(format!("m{}", names.len()));
        let mut out = fs_err::File::create(&stored).map_err(|e| bad(tarball, e.to_string()))?;
        std::io::copy(&mut (&mut tar).take(h.size), &mut out)
            .map_err(|e| bad(tarball, e.to_string()))?;
        names.insert(name, stored);
    }
    let layout = work.join("base-image-layout");
    let _ = fs_err::remove_dir_all(&layout);
    let blobs = layout.join("blobs/sha256");
    fs_err::create_dir_all(&blobs).map_err(|e| bad(tarball, e.to_string()))?;
    let member = |n: &str| {
        names
            .get(n.trim_start_matches("./"))
            .ok_or_else(|| bad(tarball, format!("the tarball has no `{n}`")))
    };
    if names.contains_key("index.json") && names.keys().any(|k| k.starts_with("blobs/")) {
        // A layout in a tar.
        for (n, p) in &names {
            let dest = layout.join(n);
            if let Some(d) = dest.parent() {
                fs_err::create_dir_all(d).map_err(|e| bad(tarball, e.to_string()))?;
            }
            fs_err::rename(p, &dest).map_err(|e| bad(tarball, e.to_string()))?;
        }
        return Ok(layout);
    }
    // apko's (and our) docker tarball also holds the manifests (`sha256:<hex>`) and the index
    // (`index.json`): when every blob the index names is there, it is the image as built.
    let mut have = std::collections::BTreeSet::new();
    for (n, p) in &names {
        let hex = n
            .strip_prefix("sha256:")
            .or_else(|| n.strip_suffix(".tar.gz"))
            .unwrap_or(n);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let Ok(d) = format!("sha256:{hex}").parse::<Digest>() else {
            continue;
        };
        if digest_file(p).is_ok_and(|got| got == d) {
            // A link, not a copy: the member was unpacked into `work` already.
            let dest = blob_path(&layout, &d)?;
            fs_err::hard_link(p, &dest)
                .or_else(|_| fs_err::copy(p, &dest).map(|_| ()))
                .map_err(|e| bad(tarball, e.to_string()))?;
            have.insert(d);
        }
    }
    if let Some(index_path) = names.get("index.json") {
        let index = json(
            &read_bounded(index_path, MAX_DOCUMENT, tarball)?,
            tarball,
            "index.json",
        )?;
        let complete = index["manifests"].as_array().is_some_and(|ms| {
            !ms.is_empty()
                && ms.iter().all(|m| {
                    m["digest"]
                        .as_str()
                        .and_then(|d| d.parse::<Digest>().ok())
                        .is_some_and(|d| have.contains(&d))
                })
        });
        if complete {
            fs_err::copy(index_path, layout.join("index.json"))
                .map_err(|e| bad(tarball, e.to_string()))?;
            return Ok(layout);
        }
    }
    // `manifest.json`: [{Config, RepoTags, Layers}].
    let manifest = json(
        &read_bounded(member("manifest.json")?, MAX_DOCUMENT, tarball)?,
        tarball,
        "manifest.json",
    )?;
    let put = |bytes_path: &Path| -> Result<(Digest, u64), BuildError> {
        let bytes = fs_err::read(bytes_path).map_err(|e| bad(tarball, e.to_string()))?;
        let d = Digest::of(&bytes);
        fs_err::write(blob_path(&layout, &d)?, &bytes).map_err(|e| bad(tarball, e.to_string()))?;
        Ok((d, bytes.len() as u64))
    };
    let mut manifests = Vec::new();
    for item in manifest.as_array().into_iter().flatten() {
        let config_name = item["Config"]
            .as_str()
            .ok_or_else(|| bad(tarball, "manifest.json: an image without `Config`"))?;
        let (config_digest, config_size) = put(member(config_name)?)?;
        let config = json(
            &fs_err::read(member(config_name)?).map_err(|e| bad(tarball, e.to_string()))?,
            tarball,
            "an image config",
        )?;
        let mut layers = Vec::new();
        for l in item["Layers"].as_array().into_iter().flatten() {
            let name = l
                .as_str()
                .ok_or_else(|| bad(tarball, "manifest.json: a layer that is not a name"))?;
            let path = member(name)?;
            let mut magic = [0u8; 2];
            let gz = fs_err::File::open(path)
                .and_then(|mut f| f.read_exact(&mut magic))
                .is_ok()
                && magic == [0x1f, 0x8b];
            let (d, size) = if gz {
                put(path)?
            } else {
                // An uncompressed layer (`docker save`): compressed here; its diff_id stays.
                let gz_path = members.join("layer.tar.gz");
                {
                    let mut enc = flate2::write::GzEncoder::new(
                        fs_err::File::create(&gz_path).map_err(|e| bad(tarball, e.to_string()))?,
                        flate2::Compression::new(6),
                    );
                    std::io::copy(
                        &mut fs_err::File::open(path).map_err(|e| bad(tarball, e.to_string()))?,
                        &mut enc,
                    )
                    .map_err(|e| bad(tarball, e.to_string()))?;
                    enc.finish().map_err(|e| bad(tarball, e.to_string()))?;
                }
                put(&gz_path)?
            };
            layers.push(serde_json::json!({"mediaType": MEDIA_TYPE_LAYER_GZIP, "size": size, "digest": d.to_string()}));
        }
        let m = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": apko_oci::MEDIA_TYPE_MANIFEST,
            "config": {"mediaType": apko_oci::MEDIA_TYPE_CONFIG, "size": config_size, "digest": config_digest.to_string()},
            "layers": layers,
        });
        let bytes = serde_json::to_vec(&m).map_err(|e| bad(tarball, e.to_string()))?;
        let d = Digest::of(&bytes);
        fs_err::write(blob_path(&layout, &d)?, &bytes).map_err(|e| bad(tarball, e.to_string()))?;
        manifests.push(serde_json::json!({
            "mediaType": apko_oci::MEDIA_TYPE_MANIFEST, "size": bytes.len(), "digest": d.to_string(),
            "platform": {"architecture": config["architecture"], "os": config["os"]},
        }));
    }
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": apko_oci::MEDIA_TYPE_INDEX, "manifests": manifests});
    fs_err::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).map_err(|e| bad(tarball, e.to_string()))?,
    )
    .map_err(|e| bad(tarball, e.to_string()))?;
    Ok(layout)
}
