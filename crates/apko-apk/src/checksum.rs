//! apk checksums: `Q1` + base64 SHA-1, its hex form `X1…`, and legacy MD5.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use std::fmt;
use std::str::FromStr;

/// A package identity or file checksum as apk writes it in text files.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Checksum {
    /// SHA-1, written `Q1` + base64 (the normal form).
    Sha1([u8; 20]),
    /// Legacy MD5, written as 32 hex digits.
    Md5([u8; 16]),
}

/// apk decodes base64 without insisting that the unused bits of the last character are zero.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// A checksum that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid checksum `{text}`: expected Q1 + 28 base64 characters, X1 + 40 hex digits or 32 hex digits (MD5)"
)]
pub struct ParseChecksumError {
    /// The rejected text.
    pub text: String,
}

impl Checksum {
    /// The SHA-1 digest, if this is a SHA-1 checksum.
    pub fn sha1(&self) -> Option<&[u8; 20]> {
        match self {
            Checksum::Sha1(d) => Some(d),
            Checksum::Md5(_) => None,
        }
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Checksum::Sha1(d) => d,
            Checksum::Md5(d) => d,
        }
    }
}

impl FromStr for Checksum {
    type Err = ParseChecksumError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseChecksumError { text: s.to_owned() };
        if let Some(b64) = s.strip_prefix("Q1") {
            let raw = LENIENT.decode(b64).map_err(|_| err())?;
            return raw.try_into().map(Checksum::Sha1).map_err(|_| err());
        }
        if let Some(hx) = s.strip_prefix("X1") {
            let raw = hex::decode(hx).map_err(|_| err())?;
            return raw.try_into().map(Checksum::Sha1).map_err(|_| err());
        }
        if s.len() == 32 {
            let raw = hex::decode(s).map_err(|_| err())?;
            return raw.try_into().map(Checksum::Md5).map_err(|_| err());
        }
        Err(err())
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Checksum::Sha1(d) => write!(f, "Q1{}", STANDARD.encode(d)),
            Checksum::Md5(d) => f.write_str(&hex::encode(d)),
        }
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let q = "Q1wJxYBoMXOvOSaYqLPzc5O0LQzOE=";
        let c: Checksum = q.parse().unwrap();
        assert_eq!(c.to_string(), q);
        let x: Checksum = format!("X1{}", hex::encode(c.as_bytes())).parse().unwrap();
        assert_eq!(x, c);
        let md5: Checksum = "0123456789abcdef0123456789abcdef".parse().unwrap();
        assert_eq!(md5.to_string(), "0123456789abcdef0123456789abcdef");
        assert!("Q1short=".parse::<Checksum>().is_err());
        assert!("zz".parse::<Checksum>().is_err());
    }
}
