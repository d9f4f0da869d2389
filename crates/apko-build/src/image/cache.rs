//! The layer cache: compressed layers by the key of everything that determines their bytes
//! ([`apko_fs::layer_key`]), so that an unchanged layer is not compressed again.
//!
//! In `<cache dir>/apko-rs/layers/`: `<key>.json` (`{"format", "digest", "diff_id", "size",
//! "uncompressed_size"}`) and the blob `blobs/<digest hex>`. A blob is written to a temporary
//! file in the cache and renamed into place before its entry, so concurrent builds sharing the
//! cache each see a complete entry or none; two builds writing the same key write the same
//! bytes. On use, the blob's size and BLAKE3 hash (recorded when it was written; a fast
//! cryptographic hash, about 40 ms per 200 MB) are checked against the entry: a damaged blob
//! is dropped with a warning and the layer is written again.

use crate::error::BuildError;
use apko_fs::{Digests, LayerBlob};
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};

const FORMAT: &str = "apko-rs layer v2";

/// A directory of cached layers.
#[derive(Debug, Clone)]
pub(crate) struct LayerCache {
    root: PathBuf,
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
        LayerCache { root }
    }

    fn entry_path(&self, key: &[u8; 32]) -> PathBuf {
        self.root.join(format!("{}.json", hex::encode(key)))
    }

    fn blob_path(&self, digest: &[u8; 32]) -> PathBuf {
        self.root.join("blobs").join(hex::encode(digest))
    }

    /// The cached layer of `key`, checked; `warn` hears about a damaged one (which is removed).
    pub(crate) fn get(&self, key: &[u8; 32], warn: &dyn Fn(&str)) -> Option<(LayerBlob, PathBuf)> {
        let mut text = Vec::new();
        fs_err::File::open(self.entry_path(key))
            .ok()?
            .take(64 << 10)
            .read_to_end(&mut text)
            .ok()?;
        let e: Entry = serde_json::from_slice(&text).ok()?;
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
        match verify(&blob, e.size, &want) {
            Ok(true) => Some((LayerBlob { digests }, blob)),
            Ok(false) => {
                warn(&format!(
                    "cached layer {} is damaged; writing it again",
                    blob.display()
                ));
                let _ = fs_err::remove_file(&blob);
                let _ = fs_err::remove_file(self.entry_path(key));
                None
            }
            Err(_) => None,
        }
    }

    /// A temporary file in the cache to write a layer to.
    pub(crate) fn begin(&self) -> Result<PendingLayer, BuildError> {
        fs_err::create_dir_all(self.root.join("blobs"))
            .map_err(BuildError::io(self.root.display()))?;
        let dir = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempdir_in(&self.root)
            .map_err(BuildError::io(self.root.display()))?;
        let path = dir.path().join("layer");
        Ok(PendingLayer { dir, path })
    }

    /// Moves a written layer into place under `key`; returns where its blob now is.
    pub(crate) fn commit(
        &self,
        key: &[u8; 32],
        pending: PendingLayer,
        blob: &LayerBlob,
    ) -> Result<PathBuf, BuildError> {
        let d = &blob.digests;
        let final_blob = self.blob_path(&d.compressed_sha256);
        // No fsync: a blob a crash left torn fails its digest check on use.
        fs_err::rename(pending.path(), &final_blob)
            .map_err(BuildError::io(final_blob.display()))?;
        let entry = Entry {
            format: FORMAT.to_owned(),
            digest: blob.digest(),
            diff_id: blob.diff_id(),
            size: d.compressed_size,
            uncompressed_size: d.uncompressed_size,
            blake3: hex::encode(
                blake3_of(&final_blob).map_err(BuildError::io(final_blob.display()))?,
            ),
        };
        let json = serde_json::to_vec(&entry).unwrap_or_default();
        let tmp = pending.dir.path().join("entry");
        let path = self.entry_path(key);
        fs_err::write(&tmp, &json).map_err(BuildError::io(tmp.display()))?;
        fs_err::rename(&tmp, &path).map_err(BuildError::io(path.display()))?;
        let _ = pending.dir.close();
        Ok(final_blob)
    }
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
