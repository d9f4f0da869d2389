//! Shared pieces of the fuzz targets (`fuzz_targets/`) and of the seed generator
//! (`make_seeds.rs`).
//!
//! Compressed formats (`.apk`, `APKINDEX.tar.gz`) are fuzzed two ways, chosen by the first
//! input byte: the raw file, or [`Segments`]: tar streams that the target compresses into one
//! gzip member each, so that mutations reach the tar and control parsers instead of dying in
//! the gzip decoder.

use apko_apk::keys::Keyring;
use apko_apk::package::Limits;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::sync::OnceLock;

/// The name of the key that signs the seeds (its public half is committed, the private half
/// was thrown away after `make_seeds` ran).
pub const SEED_KEY_NAME: &str = "fuzz-seed.rsa.pub";

/// Where `make_seeds` writes the seed key's public half.
pub const SEED_KEY_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/seeds/fuzz-seed.rsa.pub");

/// The first byte of an input: the rest is the file as it is.
pub const MODE_RAW: u8 = 0;
/// The first byte of an input: the rest is [`Segments`].
pub const MODE_SEGMENTS: u8 = 1;

/// A keyring holding the seed key (when the seeds have been made), so that signed seeds
/// reach signature verification. Read once.
pub fn keyring() -> &'static Keyring {
    static KEYRING: OnceLock<Keyring> = OnceLock::new();
    KEYRING.get_or_init(|| {
        let mut k = Keyring::new();
        if let Ok(pem) = fs_err::read(SEED_KEY_PATH) {
            k.add_pem(SEED_KEY_NAME, &pem)
                .expect("the committed seed key parses");
        }
        k
    })
}

/// Small limits: a fuzz input must not make the target allocate or read much.
pub fn limits() -> Limits {
    Limits {
        max_control_size: 64 << 10,
        max_data_size: 1 << 20,
        max_index_size: 1 << 20,
    }
}

/// Uncompressed segments: `[u16 little-endian length][bytes]` repeated; a length past the end
/// takes what is left.
#[derive(Debug)]
pub struct Segments;

impl Segments {
    /// Splits an input into segments.
    pub fn split(mut data: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        while data.len() >= 2 && out.len() < 8 {
            let len = usize::from(u16::from_le_bytes([data[0], data[1]]));
            data = &data[2..];
            let (seg, rest) = data.split_at(len.min(data.len()));
            out.push(seg);
            data = rest;
        }
        out
    }

    /// Joins segments into an input (the inverse of [`Segments::split`]).
    pub fn join(segments: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in segments {
            let len = u16::try_from(s.len()).expect("a seed segment is under 64 KiB");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(s);
        }
        out
    }

    /// Compresses every segment into its own gzip member, as apk lays packages out.
    pub fn gzip(segments: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in segments {
            let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
            gz.write_all(s).expect("in memory");
            out.extend(gz.finish().expect("in memory"));
        }
        out
    }
}

/// The file a fuzz input stands for: raw, or its segments compressed.
pub fn container(data: &[u8]) -> Option<Vec<u8>> {
    let (&mode, rest) = data.split_first()?;
    match mode {
        MODE_RAW => Some(rest.to_vec()),
        MODE_SEGMENTS => Some(Segments::gzip(&Segments::split(rest))),
        _ => None,
    }
}
