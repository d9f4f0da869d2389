//! Java KeyStore (JKS) trust stores, as `keytool` and Go's keystore-go read and write them:
//! enough to add trusted certificates to `/etc/ssl/certs/java/cacerts` the way apko does.
//!
//! Format (big endian): magic `FEEDFEED`, version 2, entry count, entries, then
//! SHA-1(password as UTF-16BE ‖ "Mighty Aphrodite" ‖ everything before). An entry is a tag
//! (1 private key, 2 trusted certificate), an alias (u16 length + modified UTF-8), a creation
//! time in milliseconds, then for a certificate its type ("X.509") and DER bytes, for a key
//! the protected key and its chain. Entries are written sorted by alias (keystore-go's
//! ordered aliases, which apko uses), aliases lower-cased as Java does.

use sha1::{Digest, Sha1};

const MAGIC: u32 = 0xfeed_feed;
const TAG_PRIVATE_KEY: u32 = 1;
const TAG_TRUSTED_CERT: u32 = 2;
const WHITENER: &[u8] = b"Mighty Aphrodite";

/// One entry; its body (everything after the creation time) is kept as read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    tag: u32,
    alias: String,
    time_ms: u64,
    body: Vec<u8>,
}

/// A loaded trust store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyStore {
    entries: Vec<Entry>,
}

/// Why a key store cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JksError {
    #[error("not a JKS key store (a PKCS#12 or JCEKS store is not supported)")]
    NotJks,
    #[error("truncated or malformed key store")]
    Malformed,
    #[error("a JKS version 1 key store (from JDK 1.1) is not supported")]
    Version1,
    #[error("the integrity check failed (wrong password or a corrupted file)")]
    Integrity,
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], JksError> {
        let end = self.pos.checked_add(n).ok_or(JksError::Malformed)?;
        let s = self.data.get(self.pos..end).ok_or(JksError::Malformed)?;
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, JksError> {
        Ok(u16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn u32(&mut self) -> Result<u32, JksError> {
        Ok(u32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, JksError> {
        Ok(u64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn utf(&mut self) -> Result<String, JksError> {
        let n = usize::from(self.u16()?);
        decode_modified_utf8(self.take(n)?).ok_or(JksError::Malformed)
    }
    /// A certificate: type string, u32 length, bytes.
    fn skip_cert(&mut self) -> Result<(), JksError> {
        self.utf()?;
        let n = self.u32()? as usize;
        self.take(n)?;
        Ok(())
    }
}

fn integrity(password: &str, data: &[u8]) -> [u8; 20] {
    let mut h = Sha1::new();
    for unit in password.encode_utf16() {
        h.update(unit.to_be_bytes());
    }
    h.update(WHITENER);
    h.update(data);
    h.finalize().into()
}

/// Java's "modified UTF-8" (`DataOutput.writeUTF`): UTF-16 code units, NUL as two bytes,
/// supplementary characters as two three-byte surrogates.
fn encode_modified_utf8(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for u in s.encode_utf16() {
        match u {
            0x0001..=0x007f => out.push(u as u8),
            0x0000 | 0x0080..=0x07ff => {
                out.push(0xc0 | (u >> 6) as u8);
                out.push(0x80 | (u & 0x3f) as u8);
            }
            _ => {
                out.push(0xe0 | (u >> 12) as u8);
                out.push(0x80 | ((u >> 6) & 0x3f) as u8);
                out.push(0x80 | (u & 0x3f) as u8);
            }
        }
    }
    out
}

fn decode_modified_utf8(b: &[u8]) -> Option<String> {
    let mut units = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let cont = |k: usize| {
            b.get(i + k)
                .filter(|&&x| x & 0xc0 == 0x80)
                .map(|&x| u16::from(x & 0x3f))
        };
        if c < 0x80 {
            units.push(u16::from(c));
            i += 1;
        } else if c & 0xe0 == 0xc0 {
            units.push((u16::from(c & 0x1f) << 6) | cont(1)?);
            i += 2;
        } else if c & 0xf0 == 0xe0 {
            units.push((u16::from(c & 0x0f) << 12) | (cont(1)? << 6) | cont(2)?);
            i += 3;
        } else {
            return None;
        }
    }
    String::from_utf16(&units).ok()
}

fn put_utf(out: &mut Vec<u8>, s: &str) {
    let mut bytes = encode_modified_utf8(s);
    bytes.truncate(usize::from(u16::MAX));
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes);
}

impl KeyStore {
    /// Reads a JKS store and checks its integrity with `password`.
    pub(crate) fn load(data: &[u8], password: &str) -> Result<KeyStore, JksError> {
        if data.len() < 12 + 20 {
            return Err(JksError::Malformed);
        }
        let (body, digest) = data.split_at(data.len() - 20);
        let mut r = Reader { data: body, pos: 0 };
        if r.u32()? != MAGIC {
            return Err(JksError::NotJks);
        }
        match r.u32()? {
            2 => {}
            1 => return Err(JksError::Version1),
            _ => return Err(JksError::Malformed),
        }
        if integrity(password, body) != digest {
            return Err(JksError::Integrity);
        }
        let count = r.u32()?;
        let mut entries = Vec::new();
        for _ in 0..count {
            let tag = r.u32()?;
            let alias = r.utf()?;
            let time_ms = r.u64()?;
            let start = r.pos;
            match tag {
                TAG_TRUSTED_CERT => r.skip_cert()?,
                TAG_PRIVATE_KEY => {
                    let n = r.u32()? as usize;
                    r.take(n)?;
                    for _ in 0..r.u32()? {
                        r.skip_cert()?;
                    }
                }
                _ => return Err(JksError::Malformed),
            }
            entries.push(Entry {
                tag,
                alias,
                time_ms,
                body: body[start..r.pos].to_vec(),
            });
        }
        if r.pos != body.len() {
            return Err(JksError::Malformed);
        }
        Ok(KeyStore { entries })
    }

    /// An empty store.
    #[cfg(test)]
    pub(crate) fn new() -> KeyStore {
        KeyStore {
            entries: Vec::new(),
        }
    }

    /// Adds (or replaces) a trusted X.509 certificate under `alias` (lower-cased).
    pub(crate) fn set_trusted_certificate(&mut self, alias: &str, der: &[u8], time_ms: u64) {
        let alias = alias.to_lowercase();
        let mut body = Vec::with_capacity(der.len() + 11);
        put_utf(&mut body, "X.509");
        body.extend_from_slice(&u32::try_from(der.len()).unwrap_or(u32::MAX).to_be_bytes());
        body.extend_from_slice(der);
        self.entries.retain(|e| e.alias != alias);
        self.entries.push(Entry {
            tag: TAG_TRUSTED_CERT,
            alias,
            time_ms,
            body,
        });
    }

    /// The aliases, in stored order.
    #[cfg(test)]
    pub(crate) fn aliases(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.alias.as_str()).collect()
    }

    /// Serialises the store, entries sorted by alias, protected by `password`.
    pub(crate) fn store(&self, password: &str) -> Vec<u8> {
        let mut entries: Vec<&Entry> = self.entries.iter().collect();
        entries.sort_by(|a, b| a.alias.cmp(&b.alias));
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_be_bytes());
        out.extend_from_slice(&2u32.to_be_bytes());
        out.extend_from_slice(
            &u32::try_from(entries.len())
                .unwrap_or(u32::MAX)
                .to_be_bytes(),
        );
        for e in entries {
            out.extend_from_slice(&e.tag.to_be_bytes());
            put_utf(&mut out, &e.alias);
            out.extend_from_slice(&e.time_ms.to_be_bytes());
            out.extend_from_slice(&e.body);
        }
        let digest = integrity(password, &out);
        out.extend_from_slice(&digest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_modified_utf8() {
        for alias in ["plain-1", "naïve", "emoji-\u{1f512}", "nul\0inside"] {
            let enc = encode_modified_utf8(alias);
            assert!(!enc.contains(&0), "no NUL bytes in modified UTF-8");
            assert_eq!(decode_modified_utf8(&enc).as_deref(), Some(alias));
        }
        // A supplementary character is two 3-byte surrogates, not a 4-byte sequence.
        assert_eq!(encode_modified_utf8("\u{1f512}").len(), 6);
        let mut ks = KeyStore::new();
        ks.set_trusted_certificate("corp-\u{1f512}", b"\x30\x00", 0);
        let back = KeyStore::load(&ks.store("changeit"), "changeit").unwrap();
        assert_eq!(back.aliases(), ["corp-\u{1f512}"]);
    }

    #[test]
    fn round_trip_sorted_and_checked() {
        let mut ks = KeyStore::new();
        ks.set_trusted_certificate("Zeta-1", b"\x30\x03\x02\x01\x01", 1000);
        ks.set_trusted_certificate("alpha", b"\x30\x00", 2000);
        let bytes = ks.store("changeit");
        assert_eq!(&bytes[..8], b"\xfe\xed\xfe\xed\x00\x00\x00\x02");
        let back = KeyStore::load(&bytes, "changeit").unwrap();
        assert_eq!(back.aliases(), ["alpha", "zeta-1"], "sorted, lower-cased");
        assert_eq!(back.store("changeit"), bytes, "stable");
        // Replacing an alias keeps one entry.
        let mut again = back.clone();
        again.set_trusted_certificate("ALPHA", b"\x30\x01\x00", 3000);
        assert_eq!(again.aliases().len(), 2);
        assert_eq!(
            KeyStore::load(&bytes, "wrong").unwrap_err(),
            JksError::Integrity
        );
        let mut corrupt = bytes.clone();
        corrupt[20] ^= 1;
        assert_eq!(
            KeyStore::load(&corrupt, "changeit").unwrap_err(),
            JksError::Integrity
        );
        assert_eq!(
            KeyStore::load(
                b"0\x82\x01\x00 PKCS#12 store, not JKS padding..",
                "changeit"
            )
            .unwrap_err(),
            JksError::NotJks
        );
        assert_eq!(
            KeyStore::load(&bytes[..30], "changeit").unwrap_err(),
            JksError::Malformed
        );
    }
}
