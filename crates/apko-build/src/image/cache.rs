//! The layer cache: compressed layers by the key of everything that determines their bytes
//! ([`apko_fs::layer_key`]), so that an unchanged layer is not compressed again.
//!
//! In `<cache dir>/apko-rs/layers/`: `<key>.json` (a `sha256:<hex>` line over the rest, then
//! `{"format", "digest", "diff_id", "size", "uncompressed_size", "blake3"}`) and the blob `blobs/<digest hex>`. A blob is written to a temporary
//! file in the cache and renamed into place before its entry, so concurrent builds sharing the
//! cache each see a complete entry or none; two builds writing the same key write the same
//! bytes. On use, the blob's size and BLAKE3 hash (recorded when it was written; a fast
//! cryptographic hash, about 40 ms per 200 MB) are checked against the entry: a damaged blob
//! is dropped with a warning and the layer is written again.

use apko_fs::{Digests, LayerBlob};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};

const FORMAT: &str = "apko-rs layer v3";

/// A directory of cached layers.
#[derive(Debug, Clone)]
pub(crate) struct LayerCache {
    root: PathBuf,
    swept: std::sync::Arc<std::sync::Once>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    format: String,
    digest: String,
    diff_id: String,
    size: u64,
    uncompressed_size: u64,
    /// BLAKE3 of the blob, to check it on use.
    blake3: String,
}

/// A layer being written into the cache.
pub(crate) struct PendingLayer {
    dir: tempfile::TempDir,
    path: PathBuf,
}

impl PendingLayer {
    /// Where to write the compressed layer.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

fn sha256(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(s.strip_prefix("sha256:")?, &mut out).ok()?;
    Some(out)
}

impl LayerCache {
    pub(crate) fn new(root: PathBuf) -> Self {
        LayerCache {
            root,
            swept: std::sync::Arc::new(std::sync::Once::new()),
        }
    }

    /// Its directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn entry_path(&self, key: &[u8; 32]) -> PathBuf {
        self.root.join(format!("{}.json", hex::encode(key)))
    }

    fn blob_path(&self, digest: &[u8; 32]) -> PathBuf {
        self.root.join("blobs").join(hex::encode(digest))
    }

    /// The cached layer of `key`, hard-linked to `own` (in the work directory) and checked
    /// there, so that no other build can remove or replace what was checked before it is
    /// used; where no link can be made (the cache on another filesystem), the cache's file is
    /// checked and used. `warn` hears about a damaged blob, which is removed unless another
    /// build has replaced it meanwhile. Returns the layer and the path of its blob.
    pub(crate) fn get(
        &self,
        key: &[u8; 32],
        own: &Path,
        warn: &dyn Fn(&str),
    ) -> Option<(LayerBlob, PathBuf)> {
        let mut text = Vec::new();
        fs_err::File::open(self.entry_path(key))
            .ok()?
            .take(64 << 10)
            .read_to_end(&mut text)
            .ok()?;
        let e: Entry = serde_json::from_slice(checked(&text)?).ok()?;
        if e.format != FORMAT {
            return None;
        }
        let digests = Digests {
            compressed_sha256: sha256(&e.digest)?,
            compressed_size: e.size,
            uncompressed_sha256: sha256(&e.diff_id)?,
            uncompressed_size: e.uncompressed_size,
        };
        let blob = self.blob_path(&digests.compressed_sha256);
        let mut want = [0u8; 32];
        hex::decode_to_slice(&e.blake3, &mut want).ok()?;
        let used = match apko_apk::package::link_replacing(&blob, own) {
            Ok(()) => own.to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(_) => blob.clone(),
        };
        match verify(&used, e.size, &want) {
            Ok(true) => Some((LayerBlob { digests }, used)),
            Ok(false) => {
                warn(&format!(
                    "cached layer {} is damaged; writing it again",
                    blob.display()
                ));
                if apko_apk::package::same_file(&used, &blob) {
                    let _ = fs_err::remove_file(&blob);
                    let _ = fs_err::remove_file(self.entry_path(key));
                }
                if used != blob {
                    let _ = fs_err::remove_file(&used);
                }
                None
            }
            Err(_) => None,
        }
    }

    /// A temporary file in the cache to write a layer to.
    pub(crate) fn begin(&self) -> std::io::Result<PendingLayer> {
        fs_err::create_dir_all(self.root.join("blobs"))?;
        let dir = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(&self.root)?;
        self.swept.call_once(|| {
            apko_apk::package::sweep_stale_temporaries(
                &self.root,
                dir.path(),
                apko_apk::package::STALE_TEMPORARY,
            );
        });
        let path = dir.path().join("layer");
        Ok(PendingLayer { dir, path })
    }

    /// Moves a written layer into place under `key` and links it to `own`; returns the path
    /// of its blob to use (`own`, or the cache's file where no link can be made). On an error
    /// the written layer is still at [`PendingLayer::path`].
    pub(crate) fn commit(
        &self,
        key: &[u8; 32],
        pending: &PendingLayer,
        blob: &LayerBlob,
        own: &Path,
    ) -> std::io::Result<PathBuf> {
        let d = &blob.digests;
        let final_blob = self.blob_path(&d.compressed_sha256);
        // Hashed in the private temporary directory, before any other build can see it.
        let blake3 = blake3_of(pending.path())?;
        let entry = Entry {
            format: FORMAT.to_owned(),
            digest: blob.digest(),
            diff_id: blob.diff_id(),
            size: d.compressed_size,
            uncompressed_size: d.uncompressed_size,
            blake3: hex::encode(blake3),
        };
        let json = serde_json::to_vec(&entry).unwrap_or_default();
        let tmp = pending.dir.path().join("entry");
        let mut text = format!("sha256:{}\n", hex::encode(sha2_of(&json))).into_bytes();
        text.extend_from_slice(&json);
        fs_err::write(&tmp, &text)?;
        // Linked to `own` first: what this build uses is what it wrote, whatever another
        // build does to the cache afterwards.
        let used = match apko_apk::package::link_replacing(pending.path(), own) {
            Ok(()) => own.to_owned(),
            Err(_) => final_blob.clone(),
        };
        // No fsync: a blob a crash left torn fails its check on use.
        fs_err::rename(pending.path(), &final_blob)?;
        fs_err::rename(&tmp, self.entry_path(key))?;
        Ok(used)
    }
}

fn sha2_of(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}

/// The JSON of an entry file (`sha256:<hex of the JSON>` line, then the JSON), if its
/// checksum holds: a changed character in a digest is a miss, not a wrong image config.
fn checked(text: &[u8]) -> Option<&[u8]> {
    let nl = text.iter().position(|&b| b == b'\n')?;
    let want = text[..nl].strip_prefix(b"sha256:")?;
    let json = &text[nl + 1..];
    (want == hex::encode(sha2_of(json)).as_bytes()).then_some(json)
}

/// Whether `path` has `size` bytes hashing (BLAKE3) to `hash`.
fn verify(path: &Path, size: u64, hash: &[u8; 32]) -> std::io::Result<bool> {
    if fs_err::metadata(path)?.len() != size {
        return Ok(false);
    }
    Ok(blake3_of(path)? == *hash)
}

fn blake3_of(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut f = fs_err::File::open(path)?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(*h.finalize().as_bytes())
}
