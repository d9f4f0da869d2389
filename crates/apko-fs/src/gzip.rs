//! Deterministic parallel gzip: the input is cut into fixed-size blocks, each block is
//! deflated on its own (with the previous block's last 32 KiB as preset dictionary) and ends
//! with a sync flush; the blocks are concatenated in order, followed by an empty final block
//! and the gzip trailer. The output depends only on the input, the level and the block size:
//! never on the number of threads.

use crate::error::FsError;
use flate2::{Compress, Compression, FlushCompress, Status};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// gzip header: no name, mtime 0, XFL 0, OS 255 (unknown).
const HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff];
const WINDOW: usize = 32 * 1024;

/// Sizes and SHA-256 digests of a compressed stream and of its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    /// SHA-256 of the compressed bytes.
    pub compressed_sha256: [u8; 32],
    /// Compressed size.
    pub compressed_size: u64,
    /// SHA-256 of the uncompressed bytes (an OCI diffID).
    pub uncompressed_sha256: [u8; 32],
    /// Uncompressed size.
    pub uncompressed_size: u64,
}

fn deflate(level: u32, dict: Option<&[u8]>, data: &[u8]) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(Compression::new(level), false);
    if let Some(d) = dict {
        c.set_dictionary(&d[d.len().saturating_sub(WINDOW)..])
            .map_err(io::Error::other)?;
    }
    let mut out = Vec::with_capacity(data.len() / 2 + 1024);
    loop {
        let consumed = c.total_in() as usize;
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let status = c
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Sync)
            .map_err(io::Error::other)?;
        let done = c.total_in() as usize == data.len() && out.len() < out.capacity();
        if done || status == Status::StreamEnd {
            break;
        }
    }
    Ok(out)
}

struct Job {
    index: usize,
    data: Arc<Vec<u8>>,
    dict: Option<Arc<Vec<u8>>>,
}

struct Done {
    index: usize,
    compressed: Vec<u8>,
    crc: crc32fast::Hasher,
    len: u64,
}

/// Splits what is written into blocks, hashes it and hands blocks to the workers.
struct Chunker {
    tx: Option<SyncSender<Job>>,
    buf: Vec<u8>,
    block: usize,
    index: usize,
    prev: Option<Arc<Vec<u8>>>,
    sha: Sha256,
    total: u64,
}

impl Chunker {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = Arc::new(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(self.block),
        ));
        let job = Job {
            index: self.index,
            data: data.clone(),
            dict: self.prev.take(),
        };
        self.index += 1;
        self.prev = Some(data);
        self.tx
            .as_ref()
            .expect("sender present until finish")
            .send(job)
            .map_err(|_| io::Error::other("compression worker stopped"))
    }
}

impl Write for Chunker {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let n = data.len();
        self.sha.update(data);
        self.total += n as u64;
        while !data.is_empty() {
            let room = self.block - self.buf.len();
            let take = room.min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == self.block {
                self.send()?;
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Compresses whatever `produce` writes, into `out`, with `threads` workers.
pub fn compress<W, F>(
    out: W,
    level: u32,
    block: usize,
    threads: usize,
    produce: F,
) -> Result<(W, Digests), FsError>
where
    W: Write + Send,
    F: FnOnce(&mut dyn Write) -> Result<(), FsError>,
{
    let threads = threads.max(1);
    let block = block.max(WINDOW);
    let (job_tx, job_rx) = sync_channel::<Job>(threads * 2);
    let (done_tx, done_rx) = sync_channel::<Done>(threads * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    std::thread::scope(|s| {
        for _ in 0..threads {
            let rx = job_rx.clone();
            let tx = done_tx.clone();
            s.spawn(move || worker(&rx, &tx, level));
        }
        drop(done_tx);
        let writer = s.spawn(move || write_ordered(out, &done_rx));
        let mut chunker = Chunker {
            tx: Some(job_tx),
            buf: Vec::with_capacity(block),
            block,
            index: 0,
            prev: None,
            sha: Sha256::new(),
            total: 0,
        };
        let produced = produce(&mut chunker).and_then(|()| chunker.send().map_err(FsError::Write));
        // Closing the job channel stops the workers, which closes the results channel.
        chunker.tx = None;
        let written = writer
            .join()
            .expect("the gzip writer thread does not panic");
        produced?;
        let (out, compressed_sha256, compressed_size, blocks_total) =
            written.map_err(FsError::Write)?;
        // A worker that failed on the last blocks leaves nothing pending: count the bytes.
        if blocks_total != chunker.total {
            return Err(FsError::Write(io::Error::other(
                "a compression block is missing",
            )));
        }
        Ok((
            out,
            Digests {
                compressed_sha256,
                compressed_size,
                uncompressed_sha256: chunker.sha.finalize().into(),
                uncompressed_size: chunker.total,
            },
        ))
    })
}

fn worker(rx: &Mutex<Receiver<Job>>, tx: &SyncSender<Done>, level: u32) {
    loop {
        let Ok(job) = rx.lock().expect("job queue lock").recv() else {
            return;
        };
        // On failure the writer notices the missing block.
        let Ok(compressed) = deflate(level, job.dict.as_deref().map(Vec::as_slice), &job.data)
        else {
            return;
        };
        let mut crc = crc32fast::Hasher::new();
        crc.update(&job.data);
        if tx
            .send(Done {
                index: job.index,
                compressed,
                crc,
                len: job.data.len() as u64,
            })
            .is_err()
        {
            return;
        }
    }
}

struct HashOut<W> {
    inner: W,
    sha: Sha256,
    len: u64,
}

impl<W: Write> HashOut<W> {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.inner.write_all(b)?;
        self.sha.update(b);
        self.len += b.len() as u64;
        Ok(())
    }
}

fn write_ordered<W: Write>(out: W, rx: &Receiver<Done>) -> io::Result<(W, [u8; 32], u64, u64)> {
    let mut o = HashOut {
        inner: out,
        sha: Sha256::new(),
        len: 0,
    };
    o.put(&HEADER)?;
    let mut pending: BTreeMap<usize, Done> = BTreeMap::new();
    let mut next = 0usize;
    let mut crc = crc32fast::Hasher::new();
    let mut total: u64 = 0;
    while let Ok(done) = rx.recv() {
        pending.insert(done.index, done);
        while let Some(d) = pending.remove(&next) {
            o.put(&d.compressed)?;
            crc.combine(&d.crc);
            total += d.len;
            next += 1;
        }
    }
    if !pending.is_empty() {
        return Err(io::Error::other("a compression block is missing"));
    }
    let isize = total as u32; // ISIZE is the length modulo 2^32
    // An empty final block, then CRC-32 and ISIZE.
    o.put(&[0x03, 0x00])?;
    o.put(&crc.finalize().to_le_bytes())?;
    o.put(&isize.to_le_bytes())?;
    o.inner.flush()?;
    Ok((o.inner, o.sha.finalize().into(), o.len, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn run(data: &[u8], block: usize, threads: usize) -> (Vec<u8>, Digests) {
        compress(Vec::new(), 6, block, threads, |w| {
            w.write_all(data).map_err(FsError::Write)
        })
        .unwrap()
    }

    fn sample(n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n);
        let mut x: u32 = 12345;
        while v.len() < n {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            // Compressible but not trivial.
            v.extend_from_slice(format!("line {} value {}\n", x % 1000, x >> 20).as_bytes());
        }
        v.truncate(n);
        v
    }

    #[test]
    fn round_trips_and_is_independent_of_threads() {
        for n in [0usize, 1, 1000, 70_000, 300_001] {
            let data = sample(n);
            let (a, da) = run(&data, 64 * 1024, 1);
            let (b, db) = run(&data, 64 * 1024, 4);
            assert_eq!(a, b, "same bytes for 1 and 4 threads (n={n})");
            assert_eq!(da, db);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(a.as_slice())
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data);
            assert_eq!(da.uncompressed_size, n as u64);
            assert_eq!(da.compressed_size, a.len() as u64);
            let sha: [u8; 32] = Sha256::digest(&data).into();
            assert_eq!(da.uncompressed_sha256, sha);
        }
    }

    /// The compressed bytes are part of every image digest: a change of the deflate backend,
    /// its version or our framing must be a deliberate decision. If this fails after a
    /// dependency update, the update changes every layer digest users get; say so in its
    /// commit and update the value.
    #[test]
    fn compressed_bytes_are_pinned() {
        let data = sample(3 << 20);
        let (out, d) = run(&data, 1 << 20, 2);
        let hex: String = d
            .compressed_sha256
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(out.len() as u64, d.compressed_size);
        assert_eq!(
            hex,
            "86fa6f940a8e96aef8a4134f3e4e997c70ba025b3039ac4c4d5cab96c7609a56"
        );
    }

    #[test]
    fn block_size_changes_output_threads_do_not() {
        let data = sample(200_000);
        assert_ne!(run(&data, 32 * 1024, 2).0, run(&data, 64 * 1024, 2).0);
        assert_eq!(run(&data, 32 * 1024, 2).0, run(&data, 32 * 1024, 3).0);
    }

    #[test]
    fn producer_errors_propagate() {
        let r = compress(Vec::new(), 6, 65536, 2, |w| {
            w.write_all(b"abc").map_err(FsError::Write)?;
            Err(FsError::NotFound { path: "x".into() })
        });
        assert!(matches!(r, Err(FsError::NotFound { .. })));
    }
}
