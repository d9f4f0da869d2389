//! Minimal tar reading and writing for APK archives.
//!
//! The reader pulls exactly the bytes it needs from its source (no read-ahead), which lets the
//! package reader attribute every tar entry to the gzip member it came from.

mod read;
mod write;

pub use read::{EntryKind, TarError, TarHeader, TarReader};
pub use write::{TarBuilder, TarEntryBuilder};

/// The tar block size.
pub const BLOCK: usize = 512;

/// Zero bytes that follow `size` bytes of entry data up to the next block.
fn pad(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}
