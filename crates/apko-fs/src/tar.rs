//! Tar headers byte-for-byte as Go's `archive/tar` writes them (apko's layers are written
//! with it): USTAR when everything fits, PAX otherwise.

use std::collections::BTreeMap;

pub(crate) const BLOCK: usize = 512;
const NAME: usize = 100;
const PREFIX: usize = 155;

/// One header to write.
#[derive(Debug, Clone, Default)]
pub(crate) struct Header {
    pub(crate) name: String,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) size: u64,
    pub(crate) mtime: i64,
    pub(crate) typeflag: u8,
    pub(crate) linkname: String,
    pub(crate) uname: String,
    pub(crate) gname: String,
    pub(crate) devmajor: u32,
    pub(crate) devminor: u32,
    /// Extra PAX records (xattrs); forces the PAX format.
    pub(crate) pax: BTreeMap<String, Vec<u8>>,
}

fn fits_octal(digits: usize, v: i64) -> bool {
    v >= 0 && (digits >= 21 || v < 1i64 << (3 * digits))
}

/// Go's `splitUSTARPath`.
fn split_ustar(name: &str) -> Option<(&str, &str)> {
    let mut len = name.len();
    if len <= NAME || !name.is_ascii() {
        return None;
    }
    if len > PREFIX + 1 {
        len = PREFIX + 1;
    } else if name.as_bytes()[len - 1] == b'/' {
        len -= 1;
    }
    let i = name[..len].rfind('/')?;
    let nlen = name.len() - i - 1;
    if i == 0 || nlen > NAME || nlen == 0 || i > PREFIX {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

fn put_str(field: &mut [u8], s: &[u8]) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s[..n]);
    if n < field.len() {
        field[n] = 0;
    }
}

/// Go's `formatOctal`: zero-padded to the field width minus one, NUL-terminated.
fn put_octal(field: &mut [u8], v: i64) {
    let v = v.max(0);
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    put_str(field, s.as_bytes());
}

/// Go's `toASCII`: drops non-ASCII characters.
fn ascii(s: &str) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii).collect()
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let base = key.len() + value.len() + 3;
    let mut size = base + base.to_string().len();
    let mut rec = format!("{size} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    if rec.len() != size {
        size = rec.len();
        rec = format!("{size} {key}=").into_bytes();
        rec.extend_from_slice(value);
        rec.push(b'\n');
    }
    rec
}

fn checksum(block: &mut [u8; BLOCK]) {
    block[148..156].fill(b' ');
    let sum: i64 = block.iter().map(|&b| i64::from(b)).sum();
    put_octal(&mut block[148..155], sum);
    block[155] = b' ';
}

fn set_ustar_magic(block: &mut [u8; BLOCK]) {
    block[257..263].copy_from_slice(b"ustar\0");
    block[263..265].copy_from_slice(b"00");
}

/// The v7 + USTAR fields common to the USTAR and PAX main headers.
fn template(h: &Header, name: &[u8], linkname: &[u8], uname: &[u8], gname: &[u8]) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    put_str(&mut b[0..100], name);
    put_octal(&mut b[100..108], i64::from(h.mode));
    put_octal(&mut b[108..116], i64::from(h.uid));
    put_octal(&mut b[116..124], i64::from(h.gid));
    put_octal(&mut b[124..136], h.size as i64);
    put_octal(&mut b[136..148], h.mtime);
    b[156] = h.typeflag;
    put_str(&mut b[157..257], linkname);
    put_str(&mut b[265..297], uname);
    put_str(&mut b[297..329], gname);
    put_octal(&mut b[329..337], i64::from(h.devmajor));
    put_octal(&mut b[337..345], i64::from(h.devminor));
    b
}

/// The header blocks (and PAX data) for `h`, without the entry's data.
pub(crate) fn encode(h: &Header) -> Vec<u8> {
    let mut pax: BTreeMap<String, Vec<u8>> = h.pax.clone();
    let mut ustar_ok = pax.is_empty();
    let mut split = None;
    // Path: USTAR if it fits, or fits split into prefix/name.
    if !h.name.is_ascii() || h.name.len() > NAME {
        match split_ustar(&h.name) {
            Some(s) => split = Some(s),
            None => {
                ustar_ok = false;
                pax.insert("path".into(), h.name.as_bytes().to_vec());
            }
        }
    }
    for (key, value, size) in [
        ("linkpath", &h.linkname, NAME),
        ("uname", &h.uname, 32),
        ("gname", &h.gname, 32),
    ] {
        if !value.is_ascii() || value.len() > size {
            ustar_ok = false;
            pax.insert(key.into(), value.as_bytes().to_vec());
        }
    }
    for (key, value, digits) in [
        ("uid", i64::from(h.uid), 7),
        ("gid", i64::from(h.gid), 7),
        ("size", h.size as i64, 11),
        ("mtime", h.mtime, 11),
    ] {
        if !fits_octal(digits, value) {
            ustar_ok = false;
            pax.insert(key.into(), value.to_string().into_bytes());
        }
    }
    let mut out = Vec::with_capacity(BLOCK * 2);
    if ustar_ok {
        let (prefix, name) = split.unwrap_or(("", h.name.as_str()));
        let mut b = template(
            h,
            name.as_bytes(),
            h.linkname.as_bytes(),
            h.uname.as_bytes(),
            h.gname.as_bytes(),
        );
        put_str(&mut b[345..500], prefix.as_bytes());
        set_ustar_magic(&mut b);
        checksum(&mut b);
        out.extend_from_slice(&b);
        return out;
    }
    // PAX: an extended header named `<dir>/PaxHeaders.0/<base>`, records sorted by key.
    let mut data = Vec::new();
    for (k, v) in &pax {
        data.extend(pax_record(k, v));
    }
    let (dir, file) = match h.name.rfind('/') {
        Some(i) => (&h.name[..=i], &h.name[i + 1..]),
        None => ("", h.name.as_str()),
    };
    let mut pax_name = ascii(&format!("{dir}PaxHeaders.0/{file}"));
    pax_name.truncate(NAME);
    while pax_name.last() == Some(&b'/') {
        pax_name.pop();
    }
    let mut x = [0u8; BLOCK];
    put_str(&mut x[0..100], &pax_name);
    put_octal(&mut x[100..108], 0);
    put_octal(&mut x[108..116], 0);
    put_octal(&mut x[116..124], 0);
    put_octal(&mut x[124..136], data.len() as i64);
    put_octal(&mut x[136..148], 0);
    x[156] = b'x';
    set_ustar_magic(&mut x);
    checksum(&mut x);
    out.extend_from_slice(&x);
    out.extend_from_slice(&data);
    out.resize(out.len() + (BLOCK - data.len() % BLOCK) % BLOCK, 0);
    let (name, link, uname, gname) = (
        ascii(&h.name),
        ascii(&h.linkname),
        ascii(&h.uname),
        ascii(&h.gname),
    );
    let mut b = template(h, &name, &link, &uname, &gname);
    set_ustar_magic(&mut b);
    checksum(&mut b);
    out.extend_from_slice(&b);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(name: &str) -> Header {
        Header {
            name: name.into(),
            mode: 0o644,
            typeflag: b'0',
            ..Header::default()
        }
    }

    #[test]
    fn ustar_fields_as_go_writes_them() {
        let mut h = hdr("etc/os-release");
        h.size = 20;
        h.mtime = 1_700_000_000;
        let b = encode(&h);
        assert_eq!(b.len(), 512);
        assert_eq!(&b[100..108], b"0000644\0");
        assert_eq!(&b[124..136], b"00000000024\0");
        assert_eq!(&b[136..148], b"14524770400\0");
        assert_eq!(&b[257..265], b"ustar\x0000");
        assert_eq!(&b[329..345], b"0000000\x000000000\x00");
        assert_eq!(b[154], 0);
        assert_eq!(b[155], b' ');
    }

    #[test]
    fn long_names_split_or_go_pax() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let b = encode(&hdr(&long));
        assert_eq!(b.len(), 512, "splits into prefix/name");
        assert_eq!(&b[345..465], "d".repeat(120).as_bytes());
        let longer = "x".repeat(200);
        let b = encode(&hdr(&longer));
        assert!(b.len() > 512);
        assert_eq!(&b[0..18], b"PaxHeaders.0/xxxxx");
        assert_eq!(b[156], b'x');
        let data = std::str::from_utf8(&b[512..512 + 210]).unwrap();
        assert!(data.starts_with("210 path=xxx"), "{data}");
    }

    #[test]
    fn xattrs_force_pax_with_sorted_records() {
        let mut h = hdr("usr/bin/ping");
        h.pax
            .insert("SCHILY.xattr.security.capability".into(), vec![1, 2]);
        h.pax.insert("SCHILY.xattr.a".into(), b"v".to_vec());
        let b = encode(&h);
        assert_eq!(&b[0..24], b"usr/bin/PaxHeaders.0/pin");
        let data = &b[512..1024];
        let text = String::from_utf8_lossy(data);
        let a = text.find("SCHILY.xattr.a").unwrap();
        let s = text.find("SCHILY.xattr.security").unwrap();
        assert!(a < s);
        assert_eq!(pax_record("path", b"a"), b"9 path=a\n");
    }
}
