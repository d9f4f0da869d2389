use super::{BLOCK, pad};
use std::io::{self, Read};

/// The type of a tar entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (`0`, `7` or NUL).
    Regular,
    /// A hard link to an earlier entry (`1`).
    HardLink,
    /// A symbolic link (`2`).
    Symlink,
    /// A character device (`3`).
    CharDevice,
    /// A block device (`4`).
    BlockDevice,
    /// A directory (`5`).
    Directory,
    /// A named pipe (`6`).
    Fifo,
    /// Any other type flag; its content is skipped.
    Other(u8),
}

/// One tar entry's metadata, with pax and GNU long-name records already applied.
#[derive(Debug, Clone)]
pub struct TarHeader {
    /// The path as stored (prefix joined; pax `path` and GNU long names applied).
    pub path: String,
    /// Entry type.
    pub kind: EntryKind,
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    /// Numeric owner.
    pub uid: u32,
    /// Numeric group.
    pub gid: u32,
    /// Owner name, if any.
    pub uname: String,
    /// Group name, if any.
    pub gname: String,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Size of the entry's data.
    pub size: u64,
    /// Link target for symlinks and hard links (pax `linkpath` and GNU long links applied).
    pub link_target: String,
    /// Device major number.
    pub dev_major: u32,
    /// Device minor number.
    pub dev_minor: u32,
    /// Per-entry pax records other than `path`/`linkpath`, in file order.
    pub pax: Vec<(String, Vec<u8>)>,
    /// Offset of the entry's data in the (uncompressed) stream.
    pub data_offset: u64,
}

impl TarHeader {
    /// The value of a pax record.
    pub fn pax(&self, key: &str) -> Option<&[u8]> {
        self.pax
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }
}

/// A malformed tar stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TarError {
    /// The underlying stream failed (this includes decompression errors).
    #[error("read error")]
    Io(#[from] io::Error),
    /// The stream ended in the middle of an entry.
    #[error("unexpected end of archive at offset {offset}")]
    Truncated {
        /// Stream offset.
        offset: u64,
    },
    /// A header's checksum does not match its contents.
    #[error("corrupt tar header at offset {offset} (checksum mismatch)")]
    Checksum {
        /// Stream offset of the header.
        offset: u64,
    },
    /// A numeric header field is not octal.
    #[error("corrupt tar header at offset {offset}: field `{field}` is not a number")]
    Number {
        /// Stream offset of the header.
        offset: u64,
        /// The field.
        field: &'static str,
    },
    /// A pax record is malformed.
    #[error("corrupt pax header at offset {offset}")]
    Pax {
        /// Stream offset of the header.
        offset: u64,
    },
    /// A name is not UTF-8.
    #[error("entry name at offset {offset} is not UTF-8")]
    NotUtf8 {
        /// Stream offset of the header.
        offset: u64,
    },
    /// A metadata record (pax, long name) is larger than allowed.
    #[error("metadata record of {size} bytes at offset {offset} is too large")]
    TooLarge {
        /// Stream offset of the header.
        offset: u64,
        /// Declared size.
        size: u64,
    },
}

/// The largest pax or GNU long-name record accepted.
const MAX_META: u64 = 1 << 20;

/// A streaming tar reader.
#[derive(Debug)]
pub struct TarReader<R> {
    inner: R,
    pos: u64,
    /// Data bytes left in the current entry.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    done: bool,
}

impl<R: Read> TarReader<R> {
    /// Wraps a stream positioned at a tar header.
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            pos: 0,
            remaining: 0,
            padding: 0,
            done: false,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Bytes read from the stream so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    fn read_exact_counted(&mut self, buf: &mut [u8]) -> Result<bool, TarError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) => {
                    if filled == 0 {
                        return Ok(false);
                    }
                    return Err(TarError::Truncated { offset: self.pos });
                }
                Ok(n) => {
                    filled += n;
                    self.pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    fn skip(&mut self, mut n: u64) -> Result<(), TarError> {
        let mut buf = [0u8; 8192];
        while n > 0 {
            let want = n.min(buf.len() as u64) as usize;
            if !self.read_exact_counted(&mut buf[..want])? {
                return Err(TarError::Truncated { offset: self.pos });
            }
            n -= want as u64;
        }
        Ok(())
    }

    fn read_block(&mut self) -> Result<Option<[u8; BLOCK]>, TarError> {
        let mut block = [0u8; BLOCK];
        if self.read_exact_counted(&mut block)? {
            Ok(Some(block))
        } else {
            Ok(None)
        }
    }

    fn read_meta(&mut self, size: u64, offset: u64) -> Result<Vec<u8>, TarError> {
        if size > MAX_META {
            return Err(TarError::TooLarge { offset, size });
        }
        let mut buf = vec![0u8; size as usize];
        if !self.read_exact_counted(&mut buf)? {
            return Err(TarError::Truncated { offset: self.pos });
        }
        self.skip(pad(size))?;
        Ok(buf)
    }

    /// Reads the next header, skipping whatever is left of the previous entry's data.
    /// Returns `None` at the end-of-archive marker or the end of the stream.
    pub fn next_header(&mut self) -> Result<Option<TarHeader>, TarError> {
        if self.done {
            return Ok(None);
        }
        let leftover = self
            .remaining
            .checked_add(self.padding)
            .ok_or(TarError::TooLarge {
                offset: self.pos,
                size: self.remaining,
            })?;
        self.skip(leftover)?;
        self.remaining = 0;
        self.padding = 0;

        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        // Metadata headers (pax, long names) before one entry: bounded in total, not only
        // one by one, so that a chain of them cannot pile up memory.
        let mut meta_total: u64 = 0;
        loop {
            let offset = self.pos;
            let Some(block) = self.read_block()? else {
                self.done = true;
                return Ok(None);
            };
            if block.iter().all(|&b| b == 0) {
                self.done = true;
                return Ok(None);
            }
            verify_checksum(&block, offset)?;
            let size = number(&block[124..136], offset, "size")?;
            let flag = block[156];
            if matches!(flag, b'x' | b'g' | b'L' | b'K') {
                meta_total = meta_total.saturating_add(size);
                if meta_total > MAX_META {
                    return Err(TarError::TooLarge {
                        offset,
                        size: meta_total,
                    });
                }
            }
            match flag {
                b'x' => {
                    let data = self.read_meta(size, offset)?;
                    pax.extend(parse_pax(&data, offset)?);
                    continue;
                }
                b'g' => {
                    // Global pax headers carry nothing apk uses.
                    self.read_meta(size, offset)?;
                    continue;
                }
                b'L' => {
                    long_name = Some(trim_nul(self.read_meta(size, offset)?));
                    continue;
                }
                b'K' => {
                    long_link = Some(trim_nul(self.read_meta(size, offset)?));
                    continue;
                }
                _ => {}
            }
            let kind = match flag {
                b'0' | b'7' | 0 => EntryKind::Regular,
                b'1' => EntryKind::HardLink,
                b'2' => EntryKind::Symlink,
                b'3' => EntryKind::CharDevice,
                b'4' => EntryKind::BlockDevice,
                b'5' => EntryKind::Directory,
                b'6' => EntryKind::Fifo,
                other => EntryKind::Other(other),
            };
            let posix = &block[257..263] == b"ustar\0";
            let mut path_bytes = match long_name.take() {
                Some(n) => n,
                None => {
                    let name = cstr(&block[0..100]);
                    let prefix = if posix { cstr(&block[345..500]) } else { &[] };
                    if prefix.is_empty() {
                        name.to_vec()
                    } else {
                        [prefix, b"/", name].concat()
                    }
                }
            };
            // The link name of regular files may hold abuild's legacy binary checksum.
            let mut link_bytes = if matches!(kind, EntryKind::HardLink | EntryKind::Symlink) {
                long_link
                    .take()
                    .unwrap_or_else(|| cstr(&block[157..257]).to_vec())
            } else {
                Vec::new()
            };
            let mut rest = Vec::with_capacity(pax.len());
            for (k, v) in pax.drain(..) {
                match k.as_str() {
                    "path" => path_bytes = v,
                    "linkpath" => link_bytes = v,
                    _ => rest.push((k, v)),
                }
            }
            let text = |b: Vec<u8>| String::from_utf8(b).map_err(|_| TarError::NotUtf8 { offset });
            let mut size = size;
            let mut mtime = number(&block[136..148], offset, "mtime")? as i64;
            let mut uid = number(&block[108..116], offset, "uid")? as u32;
            let mut gid = number(&block[116..124], offset, "gid")? as u32;
            for (k, v) in &rest {
                let parsed = || std::str::from_utf8(v).ok().map(str::trim);
                match k.as_str() {
                    "size" => {
                        size = parsed()
                            .and_then(|s| s.parse().ok())
                            .ok_or(TarError::Pax { offset })?;
                    }
                    "mtime" => {
                        let s = parsed().ok_or(TarError::Pax { offset })?;
                        let whole = s.split('.').next().unwrap_or("0");
                        mtime = whole.parse().map_err(|_| TarError::Pax { offset })?;
                    }
                    "uid" => {
                        uid = parsed()
                            .and_then(|s| s.parse().ok())
                            .ok_or(TarError::Pax { offset })?;
                    }
                    "gid" => {
                        gid = parsed()
                            .and_then(|s| s.parse().ok())
                            .ok_or(TarError::Pax { offset })?;
                    }
                    _ => {}
                }
            }
            let header = TarHeader {
                path: text(path_bytes)?,
                kind,
                mode: (number(&block[100..108], offset, "mode")? & 0o7777) as u32,
                uid,
                gid,
                uname: text(cstr(&block[265..297]).to_vec())?,
                gname: text(cstr(&block[297..329]).to_vec())?,
                mtime,
                size,
                link_target: text(link_bytes)?,
                dev_major: number(&block[329..337], offset, "devmajor").unwrap_or(0) as u32,
                dev_minor: number(&block[337..345], offset, "devminor").unwrap_or(0) as u32,
                pax: rest,
                data_offset: self.pos,
            };
            self.remaining = header.size;
            self.padding = pad(header.size);
            return Ok(Some(header));
        }
    }

    /// Skips the rest of the stream after the end-of-archive marker, returning how many bytes
    /// were left.
    pub fn drain(&mut self) -> Result<u64, TarError> {
        let mut buf = [0u8; 8192];
        let mut total = 0u64;
        loop {
            match self.inner.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    total += n as u64;
                    self.pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl<R: Read> Read for TarReader<R> {
    /// Reads the current entry's data.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("tar entry data truncated at offset {}", self.pos),
            ));
        }
        self.pos += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn trim_nul(mut v: Vec<u8>) -> Vec<u8> {
    if let Some(end) = v.iter().position(|&b| b == 0) {
        v.truncate(end);
    }
    v
}

/// Parses a numeric header field: octal text (leading spaces, trailing NUL or space allowed,
/// and no terminator at all as apk's writer does) or GNU base-256.
fn number(field: &[u8], offset: u64, name: &'static str) -> Result<u64, TarError> {
    let err = || TarError::Number {
        offset,
        field: name,
    };
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256).ok_or_else(err)? | u64::from(b);
        }
        return Ok(v);
    }
    let mut v: u64 = 0;
    let mut seen_digit = false;
    let mut ended = false;
    for &b in field {
        match b {
            b'0'..=b'7' if !ended => {
                v = v.checked_mul(8).ok_or_else(err)? + u64::from(b - b'0');
                seen_digit = true;
            }
            b' ' if !seen_digit => {}
            0 | b' ' => ended = true,
            _ if ended => {}
            _ => return Err(err()),
        }
    }
    Ok(v)
}

fn verify_checksum(block: &[u8; BLOCK], offset: u64) -> Result<(), TarError> {
    let stored = number(&block[148..156], offset, "chksum")?;
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if stored == unsigned || stored as i64 == signed {
        Ok(())
    } else {
        Err(TarError::Checksum { offset })
    }
}

/// Parses pax records: `"%d %s=%s\n"` where the length counts the whole record.
fn parse_pax(mut data: &[u8], offset: u64) -> Result<Vec<(String, Vec<u8>)>, TarError> {
    let err = || TarError::Pax { offset };
    let mut out = Vec::new();
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let sp = data.iter().position(|&b| b == b' ').ok_or_else(err)?;
        let len: usize = std::str::from_utf8(&data[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(err)?;
        if len <= sp + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(err());
        }
        let record = &data[sp + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(err)?;
        let key = String::from_utf8(record[..eq].to_vec()).map_err(|_| err())?;
        out.push((key, record[eq + 1..].to_vec()));
        data = &data[len..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(b"0000644\0", 0, "m").unwrap(), 0o644);
        assert_eq!(number(b"   644 \0", 0, "m").unwrap(), 0o644);
        assert_eq!(number(b"000000001234", 0, "m").unwrap(), 0o1234);
        assert_eq!(number(b"\0\0\0\0", 0, "m").unwrap(), 0);
        assert!(number(b"0009", 0, "m").is_err());
        assert_eq!(number(&[0x80, 0, 0, 1, 0], 0, "m").unwrap(), 256);
    }

    #[test]
    fn pax_records() {
        let recs = parse_pax(b"30 mtime=1432668921.098285006\n20 path=a/b/c/d/e/f\n", 0).unwrap();
        assert_eq!(recs[0].0, "mtime");
        assert_eq!(recs[1].1, b"a/b/c/d/e/f");
        assert!(parse_pax(b"99 path=x\n", 0).is_err());
        assert!(parse_pax(b"5 a\n", 0).is_err());
    }
}
