//! Concatenated gzip members read as one stream, with the compressed bytes of every member
//! reported to an observer (apk hashes compressed bytes, member by member).

use flate2::bufread::GzDecoder;
use std::io::{self, BufRead, Read};

/// Receives the compressed bytes as they are consumed, and member boundaries.
pub(crate) trait MemberObserver {
    /// Compressed bytes of the current member, in order.
    fn consumed(&mut self, bytes: &[u8]);
    /// The current member ended after `compressed_len` bytes; `decompressed_total` bytes
    /// have been produced by all members so far.
    fn member_end(&mut self, compressed_len: u64, decompressed_total: u64);
}

/// A buffered reader that tells its observer about every byte consumed.
struct Tap<R, O> {
    inner: R,
    observer: O,
    buf: Box<[u8]>,
    pos: usize,
    cap: usize,
    member_len: u64,
}

impl<R: Read, O: MemberObserver> Tap<R, O> {
    fn at_eof(&mut self) -> io::Result<bool> {
        Ok(self.fill_buf()?.is_empty())
    }
}

impl<R: Read, O: MemberObserver> Read for Tap<R, O> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read, O: MemberObserver> BufRead for Tap<R, O> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.cap {
            self.cap = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            self.pos = 0;
        }
        Ok(&self.buf[self.pos..self.cap])
    }

    fn consume(&mut self, amt: usize) {
        let amt = amt.min(self.cap - self.pos);
        self.observer.consumed(&self.buf[self.pos..self.pos + amt]);
        self.member_len += amt as u64;
        self.pos += amt;
    }
}

/// Decompresses concatenated gzip members as one continuous stream.
pub(crate) struct MemberStream<R, O> {
    decoder: Option<GzDecoder<Tap<R, O>>>,
    finished: bool,
    members: usize,
    total_out: u64,
    limit: u64,
}

impl<R: Read, O: MemberObserver> MemberStream<R, O> {
    /// Starts reading `inner`; fails if it is empty. Decompressing more than `limit` bytes
    /// in total is an error (a decompression bomb guard).
    pub(crate) fn new(inner: R, observer: O, limit: u64) -> io::Result<Self> {
        let mut tap = Tap {
            inner,
            observer,
            buf: vec![0u8; 64 * 1024].into_boxed_slice(),
            pos: 0,
            cap: 0,
            member_len: 0,
        };
        if tap.at_eof()? {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "empty file"));
        }
        Ok(MemberStream {
            decoder: Some(GzDecoder::new(tap)),
            finished: false,
            members: 1,
            total_out: 0,
            limit,
        })
    }

    /// The observer.
    pub(crate) fn observer(&self) -> &O {
        &self
            .decoder
            .as_ref()
            .expect("decoder present")
            .get_ref()
            .observer
    }

    /// The observer, mutably.
    pub(crate) fn observer_mut(&mut self) -> &mut O {
        &mut self
            .decoder
            .as_mut()
            .expect("decoder present")
            .get_mut()
            .observer
    }

    /// Consumes the stream, returning the observer.
    pub(crate) fn into_observer(self) -> O {
        self.decoder.expect("decoder present").into_inner().observer
    }
}

impl<R: Read, O: MemberObserver> Read for MemberStream<R, O> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.finished {
            return Ok(0);
        }
        loop {
            let decoder = self.decoder.as_mut().expect("decoder present");
            let n = decoder.read(buf).map_err(|e| {
                io::Error::new(e.kind(), format!("gzip member {}: {e}", self.members))
            })?;
            if n > 0 {
                self.total_out += n as u64;
                if self.total_out > self.limit {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "decompressed data exceeds the limit of {} bytes (decompression bomb?)",
                            self.limit
                        ),
                    ));
                }
                return Ok(n);
            }
            // End of this member.
            let mut tap = self.decoder.take().expect("decoder present").into_inner();
            let len = std::mem::take(&mut tap.member_len);
            tap.observer.member_end(len, self.total_out);
            let eof = tap.at_eof()?;
            self.decoder = Some(GzDecoder::new(tap));
            if eof {
                self.finished = true;
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    #[derive(Default)]
    struct Record {
        bytes: u64,
        ends: Vec<u64>,
    }
    impl MemberObserver for Record {
        fn consumed(&mut self, b: &[u8]) {
            self.bytes += b.len() as u64;
        }
        fn member_end(&mut self, len: u64, _total: u64) {
            self.ends.push(len);
        }
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn members_are_one_stream() {
        let (a, b) = (gz(b"hello "), gz(b"world"));
        let all = [a.clone(), b.clone()].concat();
        let mut s = MemberStream::new(all.as_slice(), Record::default(), 1 << 20).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");
        let rec = s.into_observer();
        assert_eq!(rec.ends, [a.len() as u64, b.len() as u64]);
        assert_eq!(rec.bytes, all.len() as u64);
    }

    #[test]
    fn limit_and_garbage() {
        let big = gz(&vec![0u8; 100_000]);
        let mut s = MemberStream::new(big.as_slice(), Record::default(), 1000).unwrap();
        assert!(io::copy(&mut s, &mut io::sink()).is_err());
        let mut bad = gz(b"x");
        bad.extend_from_slice(b"garbage");
        let mut s = MemberStream::new(bad.as_slice(), Record::default(), 1000).unwrap();
        assert!(io::copy(&mut s, &mut io::sink()).is_err());
        assert!(MemberStream::new(&b""[..], Record::default(), 10).is_err());
    }
}
