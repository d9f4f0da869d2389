//! Keyrings, APK signatures (`.SIGN.RSA.*`, `.SIGN.RSA256.*`) and signing keys.
//!
//! apk finds the key for a signature by the file name embedded in the signature entry's name
//! (`.SIGN.RSA256.alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub`), so a [`Keyring`] maps
//! key file names to public keys.

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey, LineEnding};
use rsa::{Pkcs1v15Sign, PrivateKey, PublicKey};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The most `.SIGN.*` entries read from one package or index (real ones carry one or two;
/// more would only cost memory and verification time).
pub const MAX_SIGNATURES: usize = 16;

/// The digest a signature is made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignatureKind {
    /// `RSA`: RSA PKCS#1 v1.5 over SHA-1 (abuild's default).
    Rsa,
    /// `RSA256`: RSA PKCS#1 v1.5 over SHA-256 (melange's default).
    Rsa256,
    /// `RSA512`: RSA PKCS#1 v1.5 over SHA-512.
    Rsa512,
    /// `DSA`: legacy, not supported (such signatures are ignored).
    Dsa,
}

impl SignatureKind {
    /// The type word in `.SIGN.<TYPE>.<key>`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureKind::Rsa => "RSA",
            SignatureKind::Rsa256 => "RSA256",
            SignatureKind::Rsa512 => "RSA512",
            SignatureKind::Dsa => "DSA",
        }
    }
}

/// One `.SIGN.*` entry of a package or index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEntry {
    /// The signature type; `None` for a type apk does not know.
    pub kind: Option<SignatureKind>,
    /// The key file name the signature refers to.
    pub key_name: String,
    /// The raw signature.
    pub signature: Vec<u8>,
}

impl SignatureEntry {
    /// Parses a tar entry name `.SIGN.<TYPE>.<key name>`; `None` if it is not a signature.
    pub fn parse_name(name: &str) -> Option<(Option<SignatureKind>, &str)> {
        let rest = name.strip_prefix(".SIGN.")?;
        // apk matches the longest type first and requires a `.` after it.
        for kind in [
            SignatureKind::Rsa512,
            SignatureKind::Rsa256,
            SignatureKind::Rsa,
            SignatureKind::Dsa,
        ] {
            if let Some(key) = rest
                .strip_prefix(kind.as_str())
                .and_then(|r| r.strip_prefix('.'))
            {
                return Some((Some(kind), key));
            }
        }
        Some((None, rest.split_once('.').map_or(rest, |(_, k)| k)))
    }

    /// The tar entry name for this signature.
    pub fn entry_name(kind: SignatureKind, key_name: &str) -> String {
        format!(".SIGN.{}.{key_name}", kind.as_str())
    }
}

/// The digests of a signed region, one per algorithm a signature may use.
#[derive(Clone, PartialEq, Eq)]
pub struct Digests {
    /// SHA-1.
    pub sha1: [u8; 20],
    /// SHA-256.
    pub sha256: [u8; 32],
    /// SHA-512.
    pub sha512: [u8; 64],
}

impl Digests {
    /// Digests of `data`.
    pub fn of(data: &[u8]) -> Self {
        use sha2::Digest;
        Digests {
            sha1: Sha1::digest(data).into(),
            sha256: Sha256::digest(data).into(),
            sha512: Sha512::digest(data).into(),
        }
    }

    fn for_kind(&self, kind: SignatureKind) -> Option<(Pkcs1v15Sign, &[u8])> {
        Some(match kind {
            SignatureKind::Rsa => (Pkcs1v15Sign::new::<Sha1>(), &self.sha1[..]),
            SignatureKind::Rsa256 => (Pkcs1v15Sign::new::<Sha256>(), &self.sha256[..]),
            SignatureKind::Rsa512 => (Pkcs1v15Sign::new::<Sha512>(), &self.sha512[..]),
            SignatureKind::Dsa => return None,
        })
    }
}

impl fmt::Debug for Digests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digests(sha256={})", hex::encode(self.sha256))
    }
}

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading a key file or directory failed.
    #[error("cannot read key `{path}`")]
    Io {
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a PEM RSA public key.
    #[error("key `{name}` is not a PEM RSA public key (expected `-----BEGIN PUBLIC KEY-----`)")]
    NotPublicKey {
        /// The key name.
        name: String,
    },
    /// The file is not a PEM RSA private key.
    #[error(
        "key `{name}` is not a PEM RSA private key (expected PKCS#1 `RSA PRIVATE KEY` or PKCS#8)"
    )]
    NotPrivateKey {
        /// The key name.
        name: String,
    },
    /// Generating or using a key failed.
    #[error("RSA operation with key `{name}` failed: {message}")]
    Rsa {
        /// The key name.
        name: String,
        /// What the RSA library said.
        message: String,
    },
}

/// Trusted public keys by file name.
#[derive(Clone, Default)]
pub struct Keyring {
    keys: BTreeMap<String, PublicKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Parses a PEM public key (SubjectPublicKeyInfo, or PKCS#1 `RSA PUBLIC KEY`).
pub fn parse_public_key(name: &str, pem: &[u8]) -> Result<PublicKey, KeyError> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyError::NotPublicKey {
        name: name.to_owned(),
    })?;
    PublicKey::from_public_key_pem(text.trim())
        .or_else(|_| PublicKey::from_pkcs1_pem(text.trim()))
        .map_err(|_| KeyError::NotPublicKey {
            name: name.to_owned(),
        })
}

/// Re-encodes a PEM public key canonically (SubjectPublicKeyInfo, LF line endings).
pub fn canonical_public_key_pem(name: &str, pem: &[u8]) -> Result<String, KeyError> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyError::NotPublicKey {
        name: name.to_owned(),
    })?;
    if text.matches("-----BEGIN ").count() != 1 {
        return Err(KeyError::NotPublicKey {
            name: name.to_owned(),
        });
    }
    let key = parse_public_key(name, pem)?;
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Rsa {
            name: name.to_owned(),
            message: e.to_string(),
        })
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a PEM public key under its file name.
    pub fn add_pem(&mut self, name: &str, pem: &[u8]) -> Result<(), KeyError> {
        let key = parse_public_key(name, pem)?;
        self.keys.insert(name.to_owned(), key);
        Ok(())
    }

    /// Adds the key file at `path` under its file name.
    pub fn add_file(&mut self, path: &Path) -> Result<(), KeyError> {
        let pem = fs_err::read(path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.add_pem(&name, &pem)
    }

    /// Loads every file of a directory (like `/etc/apk/keys`); files that are not public
    /// keys are an error.
    pub fn from_dir(dir: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut ring = Keyring::new();
        let mut paths: Vec<_> = fs_err::read_dir(dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        paths.sort();
        for p in paths.into_iter().filter(|p| p.is_file()) {
            ring.add_file(&p)?;
        }
        Ok(ring)
    }

    /// The key for a signature's key name: the exact file name, or (as apko does) the name
    /// without its `.rsa.pub` suffix.
    pub fn get(&self, key_name: &str) -> Option<&PublicKey> {
        self.keys.get(key_name).or_else(|| {
            key_name
                .strip_suffix(".rsa.pub")
                .and_then(|n| self.keys.get(n))
        })
    }

    /// The key names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Whether the keyring is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// How a set of signatures is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignaturePolicy {
    /// apk-tools 2.x: only the first signature of a known type whose key is in the keyring
    /// counts; if it does not verify, the file is bad.
    FirstUsable,
    /// apko: the file is trusted if any signature verifies with a key in the keyring.
    #[default]
    AnyValid,
}

/// The result of checking signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A signature verified with this key.
    Trusted {
        /// The key name.
        key: String,
    },
    /// No signature has a known type and a key in the keyring.
    Untrusted,
    /// A signature with a known key did not verify.
    BadSignature {
        /// The key name.
        key: String,
    },
}

/// Checks `signatures` over a region with the given digests.
pub fn verify_signatures(
    signatures: &[SignatureEntry],
    digests: &Digests,
    keyring: &Keyring,
    policy: SignaturePolicy,
) -> Verdict {
    let mut bad = None;
    for sig in signatures {
        let Some(kind) = sig.kind else { continue };
        let Some((scheme, hashed)) = digests.for_kind(kind) else {
            continue;
        };
        let Some(key) = keyring.get(&sig.key_name) else {
            continue;
        };
        if key.verify(scheme, hashed, &sig.signature).is_ok() {
            return Verdict::Trusted {
                key: sig.key_name.clone(),
            };
        }
        match policy {
            SignaturePolicy::FirstUsable => {
                return Verdict::BadSignature {
                    key: sig.key_name.clone(),
                };
            }
            SignaturePolicy::AnyValid => {
                bad.get_or_insert_with(|| sig.key_name.clone());
            }
        }
    }
    match bad {
        Some(key) => Verdict::BadSignature { key },
        None => Verdict::Untrusted,
    }
}

/// An RSA private key used to sign packages and indexes.
///
/// PKCS#1 v1.5 signing is deterministic, so the same key and input always give the same
/// signature bytes. (The `rsa` crate's private-key operations are not constant-time,
/// RUSTSEC-2023-0071; sign on machines you trust.)
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    key: PrivateKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Loads a PEM private key (PKCS#1 or PKCS#8). `name` is the public key's file name, the
    /// one written into `.SIGN.*` entries (for example `melange.rsa.pub`).
    pub fn from_pem(name: &str, pem: &[u8]) -> Result<Self, KeyError> {
        let err = || KeyError::NotPrivateKey {
            name: name.to_owned(),
        };
        let text = std::str::from_utf8(pem).map_err(|_| err())?;
        let key = PrivateKey::from_pkcs1_pem(text.trim())
            .or_else(|_| PrivateKey::from_pkcs8_pem(text.trim()))
            .map_err(|_| err())?;
        Ok(SigningKey {
            name: name.to_owned(),
            key,
        })
    }

    /// Generates a new key of `bits` bits from the operating system's random source.
    /// This is the only non-deterministic function of the crate.
    pub fn generate(name: &str, bits: usize) -> Result<Self, KeyError> {
        let mut rng = getrandom::SysRng;
        let key = PrivateKey::new(&mut rng, bits).map_err(|e| KeyError::Rsa {
            name: name.to_owned(),
            message: e.to_string(),
        })?;
        Ok(SigningKey {
            name: name.to_owned(),
            key,
        })
    }

    /// The key name written into signatures.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The private key as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), as abuild writes it.
    pub fn private_key_pem(&self) -> String {
        self.key
            .to_pkcs1_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .expect("an RSA key encodes")
    }

    /// The public key as PEM SubjectPublicKeyInfo, the `.rsa.pub` file format.
    pub fn public_key_pem(&self) -> String {
        self.key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("an RSA key encodes")
    }

    /// Signs pre-computed digests with the given scheme.
    pub fn sign(&self, kind: SignatureKind, digests: &Digests) -> Result<Vec<u8>, KeyError> {
        let err = |message: String| KeyError::Rsa {
            name: self.name.clone(),
            message,
        };
        let (scheme, hashed) = digests
            .for_kind(kind)
            .ok_or_else(|| err("DSA signing is not supported".to_owned()))?;
        self.key
            .sign(scheme, hashed)
            .map_err(|e| err(e.to_string()))
    }

    /// A signature entry over `digests`.
    pub fn sign_entry(
        &self,
        kind: SignatureKind,
        digests: &Digests,
    ) -> Result<SignatureEntry, KeyError> {
        Ok(SignatureEntry {
            kind: Some(kind),
            key_name: self.name.clone(),
            signature: self.sign(kind, digests)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_keys::test_key;

    #[test]
    fn sign_names() {
        assert_eq!(
            SignatureEntry::parse_name(".SIGN.RSA256.melange.rsa.pub"),
            Some((Some(SignatureKind::Rsa256), "melange.rsa.pub"))
        );
        assert_eq!(
            SignatureEntry::parse_name(
                ".SIGN.RSA.alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"
            ),
            Some((
                Some(SignatureKind::Rsa),
                "alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub"
            ))
        );
        assert_eq!(SignatureEntry::parse_name(".SIGN.FOO.k"), Some((None, "k")));
        assert_eq!(SignatureEntry::parse_name(".PKGINFO"), None);
    }

    #[test]
    fn sign_and_verify() {
        let key = test_key();
        let mut ring = Keyring::new();
        ring.add_pem(key.name(), key.public_key_pem().as_bytes())
            .unwrap();
        let d = Digests::of(b"signed bytes");
        for kind in [
            SignatureKind::Rsa,
            SignatureKind::Rsa256,
            SignatureKind::Rsa512,
        ] {
            let sig = key.sign_entry(kind, &d).unwrap();
            assert_eq!(
                verify_signatures(
                    std::slice::from_ref(&sig),
                    &d,
                    &ring,
                    SignaturePolicy::FirstUsable
                ),
                Verdict::Trusted {
                    key: key.name().to_owned()
                }
            );
            let other = Digests::of(b"other bytes");
            assert!(matches!(
                verify_signatures(&[sig], &other, &ring, SignaturePolicy::AnyValid),
                Verdict::BadSignature { .. }
            ));
        }
        assert_eq!(
            verify_signatures(&[], &d, &ring, SignaturePolicy::AnyValid),
            Verdict::Untrusted
        );
        // Deterministic signatures.
        assert_eq!(
            key.sign(SignatureKind::Rsa256, &d).unwrap(),
            key.sign(SignatureKind::Rsa256, &d).unwrap()
        );
        // PEM round trip.
        let again = SigningKey::from_pem(key.name(), key.private_key_pem().as_bytes()).unwrap();
        assert_eq!(again.public_key_pem(), key.public_key_pem());
    }

    #[test]
    fn policies_differ_on_bad_then_good() {
        let key = test_key();
        let mut ring = Keyring::new();
        ring.add_pem(key.name(), key.public_key_pem().as_bytes())
            .unwrap();
        let d = Digests::of(b"x");
        let mut bad = key.sign_entry(SignatureKind::Rsa256, &d).unwrap();
        bad.signature[10] ^= 1;
        let good = key.sign_entry(SignatureKind::Rsa256, &d).unwrap();
        let sigs = [bad, good];
        assert!(matches!(
            verify_signatures(&sigs, &d, &ring, SignaturePolicy::FirstUsable),
            Verdict::BadSignature { .. }
        ));
        assert!(matches!(
            verify_signatures(&sigs, &d, &ring, SignaturePolicy::AnyValid),
            Verdict::Trusted { .. }
        ));
    }

    #[test]
    fn canonical_pem() {
        let pem = test_key().public_key_pem();
        assert_eq!(canonical_public_key_pem("k", pem.as_bytes()).unwrap(), pem);
        let doubled = format!("{pem}{pem}");
        assert!(canonical_public_key_pem("k", doubled.as_bytes()).is_err());
    }

    #[test]
    fn key_lookup_without_suffix() {
        let key = test_key();
        let mut ring = Keyring::new();
        ring.add_pem("melange", key.public_key_pem().as_bytes())
            .unwrap();
        assert!(ring.get("melange.rsa.pub").is_some());
        assert!(ring.get("other.rsa.pub").is_none());
        assert!(ring.add_pem("bad", b"not a key").is_err());
    }
}
