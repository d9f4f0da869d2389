//! `apko verify CONFIG --lockfile L IMAGE`: an image rebuilt from its lockfile compared with
//! a given one (an OCI layout, an OCI archive or a docker tarball); on a mismatch, the first
//! difference that explains it: the file and field of a layer, or the field of a config,
//! manifest or index.
//!
//! The comparison goes from causes to consequences: per architecture (in the rebuilt index's
//! order), the layers first (same diff_id but another digest: only the compression differs;
//! otherwise the tar streams entry by entry, header field by field, then contents), then the
//! config (JSON field by field), then the manifest, and last the index.

use crate::base;
use crate::error::BuildError;
use crate::output::BuildOutput;
use apko_apk::tar::{EntryKind, TarHeader, TarReader};
use apko_oci::Digest;
use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// What was compared, and the first difference found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The digest of the rebuilt image index.
    pub rebuilt: Digest,
    /// The digest of the given image's index, when it has one (a docker tarball has none).
    pub image: Option<Digest>,
    /// `None`: the same image.
    pub difference: Option<Difference>,
}

/// One difference between the rebuilt image and the given one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Where: `x86_64 layer 1 (sha256:…), /usr/bin/foo`, `x86_64 config`, `index`.
    pub place: String,
    /// The field: `mode`, `content`, `config.Env[1]`, `manifests`.
    pub field: String,
    /// Its value in the rebuilt image.
    pub rebuilt: String,
    /// Its value in the given image.
    pub image: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}: rebuilt {}, image {}",
            self.place, self.field, self.rebuilt, self.image
        )
    }
}

fn diff(place: impl Into<String>, field: impl Into<String>, a: String, b: String) -> Difference {
    Difference {
        place: place.into(),
        field: field.into(),
        rebuilt: a,
        image: b,
    }
}

/// Compares `rebuilt` with the image at `image` (a layout directory, or an OCI archive or
/// docker tarball, unpacked into `work`).
pub fn compare(
    rebuilt: &BuildOutput,
    image: &Path,
    work: &Path,
) -> Result<Verification, BuildError> {
    let layout = if image.is_file() {
        base::unpack_tarball(image, work)?
    } else {
        image.to_owned()
    };
    let (index, index_digest) = base::image_index_with_digest(&layout)?;
    let mut v = Verification {
        rebuilt: rebuilt.index_digest(),
        image: index_digest,
        difference: None,
    };
    if index_digest.as_ref() == Some(&v.rebuilt) {
        return Ok(v);
    }
    let ours: Value = serde_json::from_slice(&rebuilt.index_json).unwrap_or(Value::Null);
    let theirs_manifests: Vec<&Value> = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    for img in &rebuilt.images {
        let arch = img.arch.apk_name();
        let (os, variant) = img.arch.oci_platform();
        let platform = |d: &Value| {
            d["platform"]["architecture"].as_str() == Some(os)
                && d["platform"]["variant"].as_str() == variant
        };
        let Some(desc) = theirs_manifests.iter().find(|d| platform(d)) else {
            // A single-manifest image (a docker tarball) has no platforms: take its only one.
            if theirs_manifests.len() == 1 && theirs_manifests[0]["platform"].is_null() {
                if let Some(d) = compare_image(img, &layout, theirs_manifests[0], arch)? {
                    v.difference = Some(d);
                    return Ok(v);
                }
                continue;
            }
            v.difference = Some(diff(
                "index",
                "manifests",
                format!("an image for {arch}"),
                "none".to_owned(),
            ));
            return Ok(v);
        };
        if let Some(d) = compare_image(img, &layout, desc, arch)? {
            v.difference = Some(d);
            return Ok(v);
        }
    }
    if theirs_manifests.len() > rebuilt.images.len() {
        v.difference = Some(diff(
            "index",
            "manifests",
            format!("{} images", rebuilt.images.len()),
            format!("{} images", theirs_manifests.len()),
        ));
        return Ok(v);
    }
    if index_digest.is_some() {
        v.difference = first_json_difference(&ours, &index, "")
            .map(|(field, a, b)| diff("index", field, a, b));
        if v.difference.is_none() {
            v.difference = Some(diff(
                "index",
                "bytes (same JSON, other encoding)",
                v.rebuilt.to_string(),
                index_digest.map(|d| d.to_string()).unwrap_or_default(),
            ));
        }
    }
    Ok(v)
}

/// The first difference between one rebuilt image and the image `desc` points at.
fn compare_image(
    img: &crate::image::ArchImage,
    layout: &Path,
    desc: &Value,
    arch: &str,
) -> Result<Option<Difference>, BuildError> {
    let digest = base::digest_of(desc, layout)?;
    if digest == img.manifest.descriptor.digest {
        return Ok(None);
    }
    let manifest = base::json(
        &base::blob(layout, &digest, base::MAX_DOCUMENT)?,
        layout,
        "a manifest",
    )?;
    let config_digest = base::digest_of(&manifest["config"], layout)?;
    let config = base::json(
        &base::blob(layout, &config_digest, base::MAX_DOCUMENT)?,
        layout,
        "a config",
    )?;
    let their_layers: Vec<&Value> = manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (i, ours) in img.layers.iter().enumerate() {
        let place = format!("{arch} layer {i}");
        let Some(theirs) = their_layers.get(i) else {
            return Ok(Some(diff(
                place,
                "layers",
                format!("{} layers", img.layers.len()),
                format!("{} layers", their_layers.len()),
            )));
        };
        let their_digest = base::digest_of(theirs, layout)?;
        let our_diff_id = ours.diff_id().to_string();
        let their_diff_id = diff_ids.get(i).copied().unwrap_or("");
        if their_digest == ours.descriptor().digest {
            continue;
        }
        if our_diff_id == their_diff_id {
            return Ok(Some(diff(
                format!("{place} ({their_digest})"),
                "compression (the same tar)",
                format!(
                    "{} {}",
                    ours.descriptor().media_type,
                    ours.descriptor().digest
                ),
                format!(
                    "{} {their_digest}",
                    theirs["mediaType"].as_str().unwrap_or("?")
                ),
            )));
        }
        let path = base::blob_path(layout, &their_digest)?;
        let media = theirs["mediaType"].as_str().unwrap_or("");
        let d = compare_tars(ours.path(), &ours.descriptor().media_type, &path, media)
            .map_err(|e| BuildError::io(path.display())(e))?;
        let (entry, field, a, b) = d.unwrap_or_else(|| {
            (
                String::new(),
                "diff_id (same entries, other tar encoding)".to_owned(),
                our_diff_id.clone(),
                their_diff_id.to_owned(),
            )
        });
        let place = if entry.is_empty() {
            format!("{place} ({their_digest})")
        } else {
            format!("{place} ({their_digest}), /{entry}")
        };
        return Ok(Some(diff(place, field, a, b)));
    }
    if their_layers.len() > img.layers.len() {
        return Ok(Some(diff(
            format!("{arch} manifest"),
            "layers",
            format!("{} layers", img.layers.len()),
            format!("{} layers", their_layers.len()),
        )));
    }
    let our_config: Value = serde_json::from_slice(&img.config.bytes).unwrap_or(Value::Null);
    if let Some((field, a, b)) = first_json_difference(&our_config, &config, "") {
        return Ok(Some(diff(format!("{arch} config"), field, a, b)));
    }
    let our_manifest: Value = serde_json::from_slice(&img.manifest.bytes).unwrap_or(Value::Null);
    if let Some((field, a, b)) = first_json_difference(&our_manifest, &manifest, "") {
        return Ok(Some(diff(format!("{arch} manifest"), field, a, b)));
    }
    Ok(Some(diff(
        format!("{arch} manifest"),
        "bytes (same JSON, other encoding)",
        img.manifest.descriptor.digest.to_string(),
        digest.to_string(),
    )))
}

/// The first field that differs between two JSON values (objects by key in byte order,
/// arrays by index), as (path, ours, theirs).
pub(crate) fn first_json_difference(
    a: &Value,
    b: &Value,
    path: &str,
) -> Option<(String, String, String)> {
    let show = |v: Option<&Value>| v.map_or_else(|| "absent".to_owned(), Value::to_string);
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(w)) => {
                        if let Some(d) = first_json_difference(u, w, &p) {
                            return Some(d);
                        }
                    }
                    (u, w) => return Some((p, show(u), show(w))),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            for i in 0..x.len().max(y.len()) {
                let p = format!("{path}[{i}]");
                match (x.get(i), y.get(i)) {
                    (Some(u), Some(w)) => {
                        if let Some(d) = first_json_difference(u, w, &p) {
                            return Some(d);
                        }
                    }
                    (u, w) => return Some((p, show(u), show(w))),
                }
            }
            None
        }
        _ if a == b => None,
        _ => Some((path.to_owned(), a.to_string(), b.to_string())),
    }
}

/// One tar entry: its header and the SHA-256 of its content.
struct Entry {
    h: TarHeader,
    sha256: [u8; 32],
}

fn next_entry(t: &mut TarReader<Box<dyn Read>>) -> std::io::Result<Option<Entry>> {
    use sha2::Digest as _;
    let Some(h) = t.next_header().map_err(std::io::Error::other)? else {
        return Ok(None);
    };
    let mut sha = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut left = h.size;
    while left > 0 {
        let n = t.read(&mut buf[..usize::try_from(left.min(1 << 16)).unwrap_or(1 << 16)])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        sha.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(Some(Entry {
        h,
        sha256: sha.finalize().into(),
    }))
}

fn kind(k: EntryKind) -> String {
    match k {
        EntryKind::Regular => "file".into(),
        EntryKind::HardLink => "hard link".into(),
        EntryKind::Symlink => "symlink".into(),
        EntryKind::CharDevice => "character device".into(),
        EntryKind::BlockDevice => "block device".into(),
        EntryKind::Directory => "directory".into(),
        EntryKind::Fifo => "fifo".into(),
        EntryKind::Other(b) => format!("type {}", char::from(b)),
    }
}

/// The first differing entry and field of two layers: (path, field, ours, theirs).
fn compare_tars(
    ours: &Path,
    our_type: &str,
    theirs: &Path,
    their_type: &str,
) -> std::io::Result<Option<(String, String, String, String)>> {
    let mut a = TarReader::new(base::open_layer(ours, our_type)?);
    let mut b = TarReader::new(base::open_layer(theirs, their_type)?);
    loop {
        let (x, y) = match (next_entry(&mut a)?, next_entry(&mut b)?) {
            (None, None) => return Ok(None),
            (Some(x), None) => {
                return Ok(Some((
                    x.h.path.clone(),
                    "entry".into(),
                    "present".into(),
                    "absent (the image's layer ends before it)".into(),
                )));
            }
            (None, Some(y)) => {
                return Ok(Some((
                    y.h.path.clone(),
                    "entry".into(),
                    "absent (the rebuilt layer ends before it)".into(),
                    "present".into(),
                )));
            }
            (Some(x), Some(y)) => (x, y),
        };
        let p = x.h.path.clone();
        let d = |f: &str, u: String, w: String| Some((p.clone(), f.to_owned(), u, w));
        let found = if x.h.path != y.h.path {
            Some((
                p.clone(),
                "entry (path)".to_owned(),
                format!("/{}", x.h.path),
                format!("/{}", y.h.path),
            ))
        } else if x.h.kind != y.h.kind {
            d("type", kind(x.h.kind), kind(y.h.kind))
        } else if x.h.mode != y.h.mode {
            d(
                "mode",
                format!("{:04o}", x.h.mode),
                format!("{:04o}", y.h.mode),
            )
        } else if (x.h.uid, x.h.gid) != (y.h.uid, y.h.gid) {
            d(
                "owner (uid:gid)",
                format!("{}:{}", x.h.uid, x.h.gid),
                format!("{}:{}", y.h.uid, y.h.gid),
            )
        } else if (&x.h.uname, &x.h.gname) != (&y.h.uname, &y.h.gname) {
            d(
                "owner names",
                format!("{}:{}", x.h.uname, x.h.gname),
                format!("{}:{}", y.h.uname, y.h.gname),
            )
        } else if x.h.mtime != y.h.mtime {
            d("mtime", x.h.mtime.to_string(), y.h.mtime.to_string())
        } else if x.h.link_target != y.h.link_target {
            d(
                "link target",
                x.h.link_target.clone(),
                y.h.link_target.clone(),
            )
        } else if (x.h.dev_major, x.h.dev_minor) != (y.h.dev_major, y.h.dev_minor) {
            d(
                "device",
                format!("{},{}", x.h.dev_major, x.h.dev_minor),
                format!("{},{}", y.h.dev_major, y.h.dev_minor),
            )
        } else if x.h.size != y.h.size {
            d("size", x.h.size.to_string(), y.h.size.to_string())
        } else if x.sha256 != y.sha256 {
            d(
                "content (sha256)",
                hex::encode(x.sha256),
                hex::encode(y.sha256),
            )
        } else if x.h.pax != y.h.pax {
            let show = |v: &[(String, Vec<u8>)]| {
                v.iter()
                    .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            d("PAX records (xattrs)", show(&x.h.pax), show(&y.h.pax))
        } else {
            None
        };
        if found.is_some() {
            return Ok(found);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::first_json_difference;
    use serde_json::json;

    #[test]
    fn json_differences_are_located() {
        let a = json!({"config": {"Env": ["A=1", "B=2"], "User": "0"}, "created": "x"});
        let b = json!({"config": {"Env": ["A=1", "B=3"], "User": "0"}, "created": "x"});
        assert_eq!(
            first_json_difference(&a, &b, ""),
            Some((
                "config.Env[1]".to_owned(),
                "\"B=2\"".to_owned(),
                "\"B=3\"".to_owned()
            ))
        );
        let c = json!({"config": {"Env": ["A=1"], "User": "0"}, "created": "x"});
        assert_eq!(
            first_json_difference(&a, &c, "").map(|d| (d.0, d.2)),
            Some(("config.Env[1]".to_owned(), "absent".to_owned()))
        );
        let d = json!({"config": {"Env": ["A=1", "B=2"]}, "created": "x"});
        assert_eq!(
            first_json_difference(&a, &d, "").map(|d| d.0),
            Some("config.User".to_owned())
        );
        assert_eq!(first_json_difference(&a, &a, ""), None);
    }
}
