use super::{BLOCK, pad};
use std::io::{self, Write};

/// Builds one tar entry header.
#[derive(Debug, Clone)]
pub struct TarEntryBuilder {
    path: String,
    flag: u8,
    mode: u32,
    uid: u32,
    gid: u32,
    uname: String,
    gname: String,
    mtime: u64,
    size: u64,
    link: String,
    dev: (u32, u32),
    pax: Vec<(String, Vec<u8>)>,
}

impl TarEntryBuilder {
    fn new(path: &str, flag: u8, mode: u32) -> Self {
        TarEntryBuilder {
            path: path.to_owned(),
            flag,
            mode,
            uid: 0,
            gid: 0,
            uname: String::new(),
            gname: String::new(),
            mtime: 0,
            size: 0,
            link: String::new(),
            dev: (0, 0),
            pax: Vec::new(),
        }
    }

    /// A regular file of `size` bytes.
    pub fn file(path: &str, mode: u32, size: u64) -> Self {
        let mut e = Self::new(path, b'0', mode);
        e.size = size;
        e
    }

    /// A directory.
    pub fn dir(path: &str, mode: u32) -> Self {
        Self::new(path, b'5', mode)
    }

    /// A symbolic link.
    pub fn symlink(path: &str, target: &str) -> Self {
        let mut e = Self::new(path, b'2', 0o777);
        e.link = target.to_owned();
        e
    }

    /// A hard link to an earlier entry.
    pub fn hardlink(path: &str, target: &str, mode: u32) -> Self {
        let mut e = Self::new(path, b'1', mode);
        e.link = target.to_owned();
        e
    }

    /// A character (`block = false`) or block device.
    pub fn device(path: &str, mode: u32, block: bool, major: u32, minor: u32) -> Self {
        let mut e = Self::new(path, if block { b'4' } else { b'3' }, mode);
        e.dev = (major, minor);
        e
    }

    /// A named pipe.
    pub fn fifo(path: &str, mode: u32) -> Self {
        Self::new(path, b'6', mode)
    }

    /// Sets the owner.
    pub fn owner(mut self, uid: u32, gid: u32, uname: &str, gname: &str) -> Self {
        self.uid = uid;
        self.gid = gid;
        self.uname = uname.to_owned();
        self.gname = gname.to_owned();
        self
    }

    /// Sets the modification time.
    pub fn mtime(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }

    /// Adds a pax record (written in the order added).
    pub fn pax(mut self, key: &str, value: &[u8]) -> Self {
        self.pax.push((key.to_owned(), value.to_vec()));
        self
    }
}

/// Writes a tar stream: POSIX ustar headers, with a pax header when a record is needed.
#[derive(Debug)]
pub struct TarBuilder<W> {
    out: W,
    /// Bytes still expected for the current entry.
    remaining: u64,
    padding: u64,
}

impl<W: Write> TarBuilder<W> {
    /// Starts a stream.
    pub fn new(out: W) -> Self {
        TarBuilder {
            out,
            remaining: 0,
            padding: 0,
        }
    }

    /// The wrapped writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Writes a header; for a regular file its data must follow through [`Write`].
    pub fn append(&mut self, entry: &TarEntryBuilder) -> io::Result<()> {
        self.finish_entry()?;
        let mut pax = entry.pax.clone();
        let (name, prefix) = match split_path(&entry.path) {
            Some(np) => np,
            None => {
                pax.insert(0, ("path".to_owned(), entry.path.as_bytes().to_vec()));
                (truncate(&entry.path, 100), String::new())
            }
        };
        if entry.link.len() > 100 {
            pax.push(("linkpath".to_owned(), entry.link.as_bytes().to_vec()));
        }
        if !pax.is_empty() {
            let mut data = Vec::new();
            for (k, v) in &pax {
                data.extend(pax_record(k, v));
            }
            let (dir, base) = match entry.path.trim_end_matches('/').rsplit_once('/') {
                Some((d, b)) => (format!("{d}/"), b),
                None => (String::new(), entry.path.trim_end_matches('/')),
            };
            let pax_name = truncate(&format!("{dir}PaxHeaders/{base}"), 100);
            let header = header_block(
                &pax_name,
                "",
                b'x',
                0o644,
                0,
                0,
                "",
                "",
                entry.mtime,
                data.len() as u64,
                "",
                (0, 0),
            );
            self.out.write_all(&header)?;
            self.out.write_all(&data)?;
            self.out
                .write_all(&vec![0u8; pad(data.len() as u64) as usize])?;
        }
        let header = header_block(
            &name,
            &prefix,
            entry.flag,
            entry.mode,
            entry.uid,
            entry.gid,
            &entry.uname,
            &entry.gname,
            entry.mtime,
            entry.size,
            &truncate(&entry.link, 100),
            entry.dev,
        );
        self.out.write_all(&header)?;
        self.remaining = entry.size;
        self.padding = pad(entry.size);
        Ok(())
    }

    /// Writes a whole regular file.
    pub fn append_data(&mut self, entry: &TarEntryBuilder, data: &[u8]) -> io::Result<()> {
        self.append(entry)?;
        self.write_all(data)?;
        self.finish_entry()
    }

    fn finish_entry(&mut self) -> io::Result<()> {
        if self.remaining != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("tar entry is missing {} bytes of data", self.remaining),
            ));
        }
        let padding = vec![0u8; self.padding as usize];
        self.out.write_all(&padding)?;
        self.padding = 0;
        Ok(())
    }

    /// Ends the current entry without writing the end-of-archive marker (apk's signature and
    /// control segments are written this way).
    pub fn finish_without_trailer(mut self) -> io::Result<W> {
        self.finish_entry()?;
        Ok(self.out)
    }

    /// Writes the end-of-archive marker (two zero blocks).
    pub fn finish(mut self) -> io::Result<W> {
        self.finish_entry()?;
        self.out.write_all(&[0u8; 2 * BLOCK])?;
        Ok(self.out)
    }
}

impl<W: Write> Write for TarBuilder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.remaining {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "more data than the tar header declared",
            ));
        }
        let n = self.out.write(buf)?;
        self.remaining -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Splits a path into ustar `name` (≤ 100 bytes) and `prefix` (≤ 155 bytes), if it fits.
fn split_path(path: &str) -> Option<(String, String)> {
    if path.len() <= 100 {
        return Some((path.to_owned(), String::new()));
    }
    let bytes = path.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'/' && i <= 155 && bytes.len() - i - 1 <= 100 && i > 0 {
            return Some((path[i + 1..].to_owned(), path[..i].to_owned()));
        }
    }
    None
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    // The length prefix counts itself.
    let body = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = body + 1;
    while len != body + len.to_string().len() {
        len = body + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

#[allow(clippy::too_many_arguments)]
fn header_block(
    name: &str,
    prefix: &str,
    flag: u8,
    mode: u32,
    uid: u32,
    gid: u32,
    uname: &str,
    gname: &str,
    mtime: u64,
    size: u64,
    link: &str,
    dev: (u32, u32),
) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    put(&mut b[0..100], name.as_bytes());
    octal(&mut b[100..108], u64::from(mode));
    octal(&mut b[108..116], u64::from(uid));
    octal(&mut b[116..124], u64::from(gid));
    octal(&mut b[124..136], size);
    octal(&mut b[136..148], mtime);
    b[148..156].fill(b' ');
    b[156] = flag;
    put(&mut b[157..257], link.as_bytes());
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    put(&mut b[265..297], uname.as_bytes());
    put(&mut b[297..329], gname.as_bytes());
    octal(&mut b[329..337], u64::from(dev.0));
    octal(&mut b[337..345], u64::from(dev.1));
    put(&mut b[345..500], prefix.as_bytes());
    let sum: u64 = b.iter().map(|&x| u64::from(x)).sum();
    let s = format!("{sum:06o}\0 ");
    b[148..156].copy_from_slice(s.as_bytes());
    b
}

fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Zero-padded octal with a NUL terminator; falls back to GNU base-256 when it does not fit.
fn octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    if s.len() <= digits {
        field[..digits].copy_from_slice(s.as_bytes());
        field[digits] = 0;
    } else {
        field.fill(0);
        field[0] = 0x80;
        let bytes = v.to_be_bytes();
        let n = bytes.len().min(field.len() - 1);
        let len = field.len();
        field[len - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EntryKind, TarError, TarReader};
    use super::*;
    use std::io::Read;

    #[test]
    fn round_trip_with_long_names_and_pax() {
        let long = format!("usr/share/{}/file.txt", "d".repeat(150));
        let longer = "x/".repeat(200) + "end";
        let mut t = TarBuilder::new(Vec::new());
        t.append(&TarEntryBuilder::dir("usr/", 0o755)).unwrap();
        t.append_data(
            &TarEntryBuilder::file(&long, 0o644, 5)
                .owner(501, 20, "me", "staff")
                .mtime(1_700_000_000)
                .pax("APK-TOOLS.checksum.SHA1", b"abc"),
            b"hello",
        )
        .unwrap();
        t.append_data(&TarEntryBuilder::file(&longer, 0o4755, 0), b"")
            .unwrap();
        t.append(&TarEntryBuilder::symlink("usr/link", &"t".repeat(120)))
            .unwrap();
        t.append(&TarEntryBuilder::device("dev/null", 0o666, false, 1, 3))
            .unwrap();
        let bytes = t.finish().unwrap();
        assert_eq!(bytes.len() % BLOCK, 0);

        let mut r = TarReader::new(bytes.as_slice());
        let d = r.next_header().unwrap().unwrap();
        assert_eq!((d.path.as_str(), d.kind), ("usr/", EntryKind::Directory));
        let f = r.next_header().unwrap().unwrap();
        assert_eq!(f.path, long);
        assert_eq!(
            (f.uid, f.gid, f.uname.as_str(), f.mtime),
            (501, 20, "me", 1_700_000_000)
        );
        assert_eq!(f.pax("APK-TOOLS.checksum.SHA1"), Some(&b"abc"[..]));
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello");
        let g = r.next_header().unwrap().unwrap();
        assert_eq!((g.path.as_str(), g.mode), (longer.as_str(), 0o4755));
        let l = r.next_header().unwrap().unwrap();
        assert_eq!(l.link_target, "t".repeat(120));
        let c = r.next_header().unwrap().unwrap();
        assert_eq!(
            (c.kind, c.dev_major, c.dev_minor),
            (EntryKind::CharDevice, 1, 3)
        );
        assert!(r.next_header().unwrap().is_none());
    }

    /// A raw pax header block `x` with `records`, then its data padded to a block.
    fn pax_block(records: &[u8]) -> Vec<u8> {
        let mut out = header_block(
            "PaxHeaders/x",
            "",
            b'x',
            0o644,
            0,
            0,
            "",
            "",
            0,
            records.len() as u64,
            "",
            (0, 0),
        )
        .to_vec();
        out.extend_from_slice(records);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
        out
    }

    #[test]
    fn hostile_sizes_and_metadata_are_errors_not_panics() {
        // A skipped entry (a directory) whose pax size is u64::MAX.
        let mut bytes = pax_block(&pax_record("size", b"18446744073709551615"));
        bytes.extend_from_slice(&header_block(
            "d",
            "",
            b'5',
            0o755,
            0,
            0,
            "",
            "",
            0,
            0,
            "",
            (0, 0),
        ));
        bytes.extend_from_slice(&[0u8; 1024]);
        let mut r = TarReader::new(bytes.as_slice());
        let first = r.next_header().unwrap().unwrap();
        assert_eq!(first.size, u64::MAX);
        assert!(r.next_header().is_err(), "skipping it must fail cleanly");

        // Pax headers piling up before one entry are bounded in total.
        let big = pax_record("comment", &vec![b'x'; 600 * 1024]);
        let mut bytes = pax_block(&big);
        bytes.extend(pax_block(&big));
        bytes.extend_from_slice(&header_block(
            "f",
            "",
            b'0',
            0o644,
            0,
            0,
            "",
            "",
            0,
            0,
            "",
            (0, 0),
        ));
        bytes.extend_from_slice(&[0u8; 1024]);
        let err = TarReader::new(bytes.as_slice()).next_header().unwrap_err();
        assert!(matches!(err, TarError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn corrupt_header_is_an_error() {
        let mut t = TarBuilder::new(Vec::new());
        t.append_data(&TarEntryBuilder::file("a", 0o644, 1), b"x")
            .unwrap();
        let mut bytes = t.finish().unwrap();
        bytes[10] ^= 0xff;
        assert!(TarReader::new(bytes.as_slice()).next_header().is_err());
        let mut t = TarBuilder::new(Vec::new());
        t.append_data(&TarEntryBuilder::file("a", 0o644, 600), &[7u8; 600])
            .unwrap();
        let bytes = t.finish().unwrap();
        let mut r = TarReader::new(&bytes[..700]);
        r.next_header().unwrap();
        let mut sink = Vec::new();
        assert!(
            r.read_to_end(&mut sink).is_err(),
            "truncated data must fail"
        );
    }

    #[test]
    fn pax_length_counts_itself() {
        let r = pax_record("path", b"a");
        assert_eq!(r, b"9 path=a\n");
        let r = pax_record("k", &[b'v'; 95]);
        assert_eq!(
            r.len(),
            std::str::from_utf8(&r[..3])
                .unwrap()
                .parse::<usize>()
                .unwrap()
        );
    }
}
