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
    /// Whether the member about to start is expected to be the last one (a package's data
    /// segment): it is then decompressed in one piece when it is small enough
    /// ([`WHOLE_MEMBER_INPUT`]), which is about 1.6 times faster than streaming.
    fn last_member_expected(&self) -> bool {
        false
    }
}

/// The largest rest of a stream (compressed) read into memory to decompress its last
/// member in one piece; larger ones are streamed.
pub(crate) const WHOLE_MEMBER_INPUT: usize = 4 << 20;

/// The largest member (decompressed) decompressed in one piece.
pub(crate) const WHOLE_MEMBER_OUTPUT: usize = 16 << 20;

/// The size of the read buffer while streaming.
const STREAM_BUFFER: usize = 64 * 1024;

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

    /// Everything left to read, unobserved, if it is at most `max` bytes; otherwise the
    /// bytes read so far stay buffered (the stream goes on from them) and `None`.
    fn rest(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        let mut all = self.buf[self.pos..self.cap].to_vec();
        let room = (max + 1).saturating_sub(all.len()) as u64;
        (&mut self.inner).take(room).read_to_end(&mut all)?;
        if all.len() <= max {
            self.pos = 0;
            self.cap = 0;
            return Ok(Some(all));
        }
        self.unread(all);
        Ok(None)
    }

    /// Puts back bytes taken from the stream (not observed yet): reading goes on from them.
    fn unread(&mut self, all: Vec<u8>) {
        self.pos = 0;
        self.cap = all.len();
        self.buf = all.into_boxed_slice();
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
            if self.buf.len() != STREAM_BUFFER {
                // After bytes put back by `unread`: back to the streaming buffer.
                self.buf = vec![0u8; STREAM_BUFFER].into_boxed_slice();
            }
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

/// Where a [`MemberStream`] is.
enum State<R, O> {
    /// Before a member: the next read starts it.
    Between(Tap<R, O>),
    /// Inside a member, decompressing as it is read.
    Streaming(Box<GzDecoder<Tap<R, O>>>),
    /// The last member, decompressed in one piece: `out[pos..]` is still to be read.
    Whole {
        tap: Tap<R, O>,
        out: Vec<u8>,
        pos: usize,
        compressed_len: u64,
    },
    /// Only while changing state.
    Empty,
}

/// Decompresses concatenated gzip members as one continuous stream.
pub(crate) struct MemberStream<R, O> {
    state: State<R, O>,
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
            buf: vec![0u8; STREAM_BUFFER].into_boxed_slice(),
            pos: 0,
            cap: 0,
            member_len: 0,
        };
        if tap.at_eof()? {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "empty file"));
        }
        Ok(MemberStream {
            state: State::Between(tap),
            finished: false,
            members: 1,
            total_out: 0,
            limit,
        })
    }

    fn tap(&self) -> &Tap<R, O> {
        match &self.state {
            State::Between(tap) | State::Whole { tap, .. } => tap,
            State::Streaming(d) => d.get_ref(),
            State::Empty => unreachable!("a state is always restored"),
        }
    }

    /// The observer.
    pub(crate) fn observer(&self) -> &O {
        &self.tap().observer
    }

    /// The observer, mutably.
    pub(crate) fn observer_mut(&mut self) -> &mut O {
        match &mut self.state {
            State::Between(tap) | State::Whole { tap, .. } => &mut tap.observer,
            State::Streaming(d) => &mut d.get_mut().observer,
            State::Empty => unreachable!("a state is always restored"),
        }
    }

    /// Consumes the stream, returning the observer.
    pub(crate) fn into_observer(self) -> O {
        match self.state {
            State::Between(tap) | State::Whole { tap, .. } => tap.observer,
            State::Streaming(d) => (*d).into_inner().observer,
            State::Empty => unreachable!("a state is always restored"),
        }
    }

    /// Starts the member `tap` is at: in one piece when its observer expects the last
    /// member and the rest of the stream is one small enough gzip member (the trailer at
    /// the end of the stream gives the size); streaming otherwise, including whenever the
    /// one-piece decompression fails, so that every error is the streaming decoder's.
    fn start_member(&self, mut tap: Tap<R, O>) -> io::Result<State<R, O>> {
        let streaming = |tap| State::Streaming(Box::new(GzDecoder::new(tap)));
        if !tap.observer.last_member_expected() {
            return Ok(streaming(tap));
        }
        let Some(all) = tap.rest(WHOLE_MEMBER_INPUT)? else {
            return Ok(streaming(tap));
        };
        match whole_member(&all, self.limit.saturating_sub(self.total_out)) {
            Some(out) => {
                tap.observer.consumed(&all);
                Ok(State::Whole {
                    tap,
                    out,
                    pos: 0,
                    compressed_len: all.len() as u64,
                })
            }
            None => {
                tap.unread(all);
                Ok(streaming(tap))
            }
        }
    }

    fn produced(&mut self, n: usize) -> io::Result<usize> {
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
        Ok(n)
    }
}

/// `all` decompressed, if it is exactly one gzip member of at most `limit` (and
/// [`WHOLE_MEMBER_OUTPUT`]) bytes. libdeflate checks the CRC and size after the deflate
/// data; the same CRC and size must also end `all`, so that a stream with anything after
/// its member (another member, garbage) is left to the streaming decoder.
fn whole_member(all: &[u8], limit: u64) -> Option<Vec<u8>> {
    let trailer = all.len().checked_sub(8).map(|at| &all[at..])?;
    let crc = u32::from_le_bytes(trailer[..4].try_into().ok()?);
    let size = u32::from_le_bytes(trailer[4..].try_into().ok()?) as usize;
    if size > WHOLE_MEMBER_OUTPUT || size as u64 > limit {
        return None;
    }
    let mut out = vec![0u8; size];
    let n = libdeflater::Decompressor::new()
        .gzip_decompress(all, &mut out)
        .ok()?;
    (n == size && libdeflater::crc32(&out) == crc).then_some(out)
}

impl<R: Read, O: MemberObserver> Read for MemberStream<R, O> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.finished {
            return Ok(0);
        }
        loop {
            match &mut self.state {
                State::Between(_) => {
                    let State::Between(tap) = std::mem::replace(&mut self.state, State::Empty)
                    else {
                        unreachable!("matched above")
                    };
                    self.state = self.start_member(tap)?;
                }
                State::Streaming(decoder) => {
                    let n = decoder.read(buf).map_err(|e| {
                        io::Error::new(e.kind(), format!("gzip member {}: {e}", self.members))
                    })?;
                    if n > 0 {
                        return self.produced(n);
                    }
                    // End of this member.
                    let State::Streaming(decoder) =
                        std::mem::replace(&mut self.state, State::Empty)
                    else {
                        unreachable!("matched above")
                    };
                    let mut tap = (*decoder).into_inner();
                    let len = std::mem::take(&mut tap.member_len);
                    tap.observer.member_end(len, self.total_out);
                    let eof = tap.at_eof()?;
                    self.state = State::Between(tap);
                    self.members += 1;
                    if eof {
                        self.finished = true;
                        return Ok(0);
                    }
                }
                State::Whole {
                    tap,
                    out,
                    pos,
                    compressed_len,
                } => {
                    if *pos < out.len() {
                        let n = (out.len() - *pos).min(buf.len());
                        buf[..n].copy_from_slice(&out[*pos..*pos + n]);
                        *pos += n;
                        return self.produced(n);
                    }
                    tap.observer.member_end(*compressed_len, self.total_out);
                    // Nothing is left after it (the trailer ended the stream).
                    self.finished = true;
                    return Ok(0);
                }
                State::Empty => unreachable!("a state is always restored"),
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
        /// The sizes `consumed` was called with.
        calls: Vec<usize>,
        /// Expect the last member after this many members (`None`: never).
        last_after: Option<usize>,
    }
    impl MemberObserver for Record {
        fn consumed(&mut self, b: &[u8]) {
            self.bytes += b.len() as u64;
            self.calls.push(b.len());
        }
        fn member_end(&mut self, len: u64, _total: u64) {
            self.ends.push(len);
        }
        fn last_member_expected(&self) -> bool {
            self.last_after.is_some_and(|n| self.ends.len() >= n)
        }
    }

    fn expecting_last_after(n: usize) -> Record {
        Record {
            last_after: Some(n),
            ..Record::default()
        }
    }

    fn read_all(all: &[u8], rec: Record, limit: u64) -> (io::Result<Vec<u8>>, Record) {
        let mut s = MemberStream::new(all, rec, limit).unwrap();
        let mut out = Vec::new();
        let r = s.read_to_end(&mut out).map(|_| out);
        (r, s.into_observer())
    }

    /// Bytes that do not compress to nothing (several deflate blocks).
    fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x2545_f491_u32;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if i % 3 == 0 {
                    (x >> 24) as u8
                } else {
                    b'a' + (i % 7) as u8
                }
            })
            .collect()
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

    #[test]
    fn the_last_member_in_one_piece_is_the_same_stream() {
        let (a, b) = (gz(b"control "), gz(&noise(300_000)));
        let all = [a.clone(), b.clone()].concat();
        let (streamed, plain) = read_all(&all, Record::default(), 1 << 20);
        let (whole, rec) = read_all(&all, expecting_last_after(1), 1 << 20);
        assert_eq!(whole.unwrap(), streamed.unwrap());
        assert_eq!(rec.ends, plain.ends);
        assert_eq!(rec.bytes, plain.bytes);
        // Decompressed in one piece: the whole member observed at once.
        assert_eq!(rec.calls.last(), Some(&b.len()));
        assert!(!plain.calls.contains(&b.len()));
    }

    #[test]
    fn anything_after_the_last_member_is_streamed() {
        let (a, b, c) = (gz(b"one "), gz(&noise(50_000)), gz(b" three"));
        // Another member after the expected last one: read as before.
        let all = [a.clone(), b.clone(), c.clone()].concat();
        let (r, rec) = read_all(&all, expecting_last_after(1), 1 << 20);
        let (want, _) = read_all(&all, Record::default(), 1 << 20);
        assert_eq!(r.unwrap(), want.unwrap());
        assert_eq!(rec.ends, [a.len() as u64, b.len() as u64, c.len() as u64]);
        // Garbage after it: the streaming decoder's error.
        let mut bad = [a.clone(), b.clone()].concat();
        bad.extend_from_slice(b"garbage!");
        let (r, _) = read_all(&bad, expecting_last_after(1), 1 << 20);
        assert!(r.is_err());
        // A damaged CRC: refused either way.
        let mut crc = [a.clone(), b.clone()].concat();
        let at = crc.len() - 8;
        crc[at] ^= 1;
        assert!(read_all(&crc, expecting_last_after(1), 1 << 20).0.is_err());
        assert!(read_all(&crc, Record::default(), 1 << 20).0.is_err());
    }

    #[test]
    fn large_and_oversized_last_members_are_streamed() {
        // Over the one-piece size: streamed, same bytes.
        let big = vec![7u8; WHOLE_MEMBER_OUTPUT + 1];
        let all = [gz(b"c"), gz(&big)].concat();
        let (r, rec) = read_all(&all, expecting_last_after(1), u64::MAX);
        assert_eq!(r.unwrap().len(), big.len() + 1);
        assert_eq!(rec.ends.len(), 2);
        // Over the limit: the bomb guard's error, not an allocation of the claimed size.
        let (r, _) = read_all(
            &[gz(b"c"), gz(&vec![0u8; 100_000])].concat(),
            expecting_last_after(1),
            1000,
        );
        assert!(r.unwrap_err().to_string().contains("limit"));
        // A trailer that lies about the size (mod 2^32 in gzip): streamed, and refused.
        let mut lie = [gz(b"c"), gz(&noise(10_000))].concat();
        let n = lie.len();
        lie[n - 4..].copy_from_slice(&5u32.to_le_bytes());
        assert!(read_all(&lie, expecting_last_after(1), 1 << 20).0.is_err());
    }
}
