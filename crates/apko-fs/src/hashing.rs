//! A writer that counts and hashes (SHA-256) what passes through: the digest and size of a
//! layer (tar, zstd, erofs) computed in the pass that writes it.

use sha2::{Digest as _, Sha256};
use std::io::{self, Write};

pub(crate) struct Hashing<W> {
    pub(crate) inner: W,
    pub(crate) sha: Sha256,
    pub(crate) len: u64,
}

impl<W> Hashing<W> {
    pub(crate) fn new(inner: W) -> Self {
        Hashing {
            inner,
            sha: Sha256::new(),
            len: 0,
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.sha.update(&b[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
