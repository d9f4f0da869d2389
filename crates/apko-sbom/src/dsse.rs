//! DSSE envelopes (<https://github.com/secure-systems-lab/dsse/blob/master/envelope.md>), the
//! signed form of an in-toto statement that cosign attestations use: the signature is over
//! the pre-authentication encoding ([`pae`]) of the payload type and the payload.
//!
//! Keys are ECDSA P-256 (SHA-256; signatures DER-encoded, as cosign and securesystemslib write
//! them; nonces per RFC 6979, so a signature is reproducible) or Ed25519, read from PEM:
//! PKCS#8 (`PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`) private keys, SPKI (`PUBLIC KEY`)
//! public keys. Each signature's `keyid` is the hex SHA-256 of the public key's SPKI DER
//! ([`VerifyingKey::keyid`]); verification does not depend on it.
//!
//! ```
//! use apko_sbom::dsse::{Envelope, SigningKey, PAYLOAD_TYPE_IN_TOTO};
//! let key = SigningKey::ed25519_from_bytes(&[7; 32]);
//! let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"{}", &key);
//! assert_eq!(env.verify(&key.verifying_key()).unwrap(), b"{}");
//! ```

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The payload type of an in-toto statement.
pub const PAYLOAD_TYPE_IN_TOTO: &str = "application/vnd.in-toto+json";

/// DSSE's pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope, in the DSSE specification's field order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The payload, base64 (standard alphabet, padded).
    pub payload: String,
    /// What the payload is ([`PAYLOAD_TYPE_IN_TOTO`]).
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures over [`pae`] of the payload type and payload.
    pub signatures: Vec<Signature>,
}

/// One signature of an [`Envelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// A hint of the key ([`VerifyingKey::keyid`]; cosign leaves it empty).
    #[serde(default)]
    pub keyid: String,
    /// The signature, base64.
    pub sig: String,
}

/// An envelope that cannot be read, or whose signature does not verify.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DsseError {
    /// Not the JSON of an envelope.
    #[error("not a DSSE envelope")]
    Json(#[source] serde_json::Error),
    /// A base64 field that is not base64.
    #[error("its {field} is not base64")]
    Base64 {
        /// `payload` or `signatures[i].sig`.
        field: String,
    },
    /// No signature at all.
    #[error("it has no signatures")]
    Unsigned,
    /// No signature verifies with the key.
    #[error("no signature verifies with the {algorithm} key {keyid} ({count} checked)")]
    BadSignature {
        /// The key's algorithm.
        algorithm: &'static str,
        /// The key's id.
        keyid: String,
        /// How many signatures were checked.
        count: usize,
    },
}

fn decode_b64(text: &str, field: impl Fn() -> String) -> Result<Vec<u8>, DsseError> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    // DSSE allows either alphabet.
    STANDARD
        .decode(text)
        .or_else(|_| URL_SAFE.decode(text))
        .map_err(|_| DsseError::Base64 { field: field() })
}

impl Envelope {
    /// `payload` of `payload_type`, signed with `key`.
    pub fn sign(payload_type: &str, payload: &[u8], key: &SigningKey) -> Envelope {
        let b64 = base64::engine::general_purpose::STANDARD;
        Envelope {
            payload: b64.encode(payload),
            payload_type: payload_type.to_owned(),
            signatures: vec![Signature {
                keyid: key.verifying_key().keyid(),
                sig: b64.encode(key.sign(&pae(payload_type, payload))),
            }],
        }
    }

    /// Reads an envelope from its JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Envelope, DsseError> {
        serde_json::from_slice(bytes).map_err(DsseError::Json)
    }

    /// The envelope as compact JSON (the same envelope always gives the same bytes).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("envelopes serialise")
    }

    /// The decoded payload (not verified).
    pub fn payload_bytes(&self) -> Result<Vec<u8>, DsseError> {
        decode_b64(&self.payload, || "payload".to_owned())
    }

    /// Checks that a signature verifies with `key`; returns the payload. The payload type is
    /// signed too, but which one the caller accepts is for the caller to check.
    pub fn verify(&self, key: &VerifyingKey) -> Result<Vec<u8>, DsseError> {
        let payload = self.payload_bytes()?;
        if self.signatures.is_empty() {
            return Err(DsseError::Unsigned);
        }
        let message = pae(&self.payload_type, &payload);
        for (i, s) in self.signatures.iter().enumerate() {
            let sig = decode_b64(&s.sig, || format!("signatures[{i}].sig"))?;
            if key.verify(&message, &sig) {
                return Ok(payload);
            }
        }
        Err(DsseError::BadSignature {
            algorithm: key.algorithm().name(),
            keyid: key.keyid(),
            count: self.signatures.len(),
        })
    }
}

/// The algorithm of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// ECDSA over NIST P-256 with SHA-256.
    EcdsaP256,
    /// Ed25519.
    Ed25519,
}

impl KeyAlgorithm {
    /// securesystemslib's scheme name: `ecdsa-sha2-nistp256`, `ed25519`.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-sha2-nistp256",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }
}

/// A key file that cannot be used, with the file's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not PEM at all.
    #[error("`{path}` is not a PEM file ({reason})")]
    NotPem {
        /// The key file.
        path: String,
        /// What the PEM decoder said.
        reason: String,
    },
    /// A PEM block of another kind.
    #[error("`{path}` holds a `{label}` PEM block; expected {expected}")]
    Label {
        /// The key file.
        path: String,
        /// Its label.
        label: String,
        /// What was expected.
        expected: &'static str,
    },
    /// An encrypted private key.
    #[error("`{path}` is an encrypted private key; apko-rs reads unencrypted keys only")]
    Encrypted {
        /// The key file.
        path: String,
    },
    /// A key that is not P-256 or Ed25519, or is malformed.
    #[error("`{path}` is not an ECDSA P-256 or Ed25519 {kind} ({reason})")]
    Unsupported {
        /// The key file.
        path: String,
        /// `private key` or `public key`.
        kind: &'static str,
        /// What the decoders said.
        reason: String,
    },
}

const PRIVATE_LABELS: &str = "`PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1)";

/// A private key to sign with.
#[derive(Clone)]
pub struct SigningKey(SigningInner);

#[derive(Clone)]
enum SigningInner {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .field("keyid", &self.verifying_key().keyid())
            .finish_non_exhaustive()
    }
}

fn pem_label<'a>(pem: &'a str, path: &str) -> Result<&'a str, KeyError> {
    p256::pkcs8::der::pem::decode_label(pem.trim_start().as_bytes()).map_err(|e| KeyError::NotPem {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

impl SigningKey {
    /// Reads a private key from PEM text; `path` names the file in errors.
    pub fn from_pem(pem: &str, path: &str) -> Result<SigningKey, KeyError> {
        use p256::pkcs8::DecodePrivateKey as _;
        let pem = pem.trim_start();
        let unsupported = |reason: String| KeyError::Unsupported {
            path: path.to_owned(),
            kind: "private key",
            reason,
        };
        match pem_label(pem, path)? {
            "PRIVATE KEY" => match p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
                Ok(k) => Ok(SigningKey(SigningInner::P256(k))),
                Err(p) => match ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
                    Ok(k) => Ok(SigningKey(SigningInner::Ed25519(k))),
                    Err(e) => Err(unsupported(format!("as P-256: {p}; as Ed25519: {e}"))),
                },
            },
            "EC PRIVATE KEY" => p256::SecretKey::from_sec1_pem(pem)
                .map(|k| SigningKey(SigningInner::P256(k.into())))
                .map_err(|e| unsupported(format!("as a P-256 SEC1 key: {e}"))),
            "ENCRYPTED PRIVATE KEY"
            | "ENCRYPTED SIGSTORE PRIVATE KEY"
            | "ENCRYPTED COSIGN PRIVATE KEY" => Err(KeyError::Encrypted {
                path: path.to_owned(),
            }),
            label => Err(KeyError::Label {
                path: path.to_owned(),
                label: label.to_owned(),
                expected: PRIVATE_LABELS,
            }),
        }
    }

    /// The P-256 key with the scalar `bytes` (big-endian); fails for zero or a value not
    /// below the group order.
    pub fn p256_from_bytes(bytes: &[u8; 32]) -> Option<SigningKey> {
        p256::ecdsa::SigningKey::from_slice(bytes)
            .ok()
            .map(|k| SigningKey(SigningInner::P256(k)))
    }

    /// The Ed25519 key with the seed `bytes`.
    pub fn ed25519_from_bytes(bytes: &[u8; 32]) -> SigningKey {
        SigningKey(SigningInner::Ed25519(
            ed25519_dalek::SigningKey::from_bytes(bytes),
        ))
    }

    /// The key as PKCS#8 PEM (`PRIVATE KEY`).
    pub fn to_pkcs8_pem(&self) -> String {
        use p256::pkcs8::EncodePrivateKey as _;
        let lf = p256::pkcs8::LineEnding::LF;
        match &self.0 {
            SigningInner::P256(k) => k.to_pkcs8_pem(lf),
            SigningInner::Ed25519(k) => k.to_pkcs8_pem(lf),
        }
        .expect("keys encode")
        .to_string()
    }

    /// Its algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match &self.0 {
            SigningInner::P256(_) => KeyAlgorithm::EcdsaP256,
            SigningInner::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(match &self.0 {
            SigningInner::P256(k) => VerifyingInner::P256(*k.verifying_key()),
            SigningInner::Ed25519(k) => VerifyingInner::Ed25519(k.verifying_key()),
        })
    }

    /// Signs `message`: an ECDSA signature (SHA-256, RFC 6979 nonce) in DER, or a 64-byte
    /// Ed25519 signature. The same key and message give the same bytes.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer as _;
        match &self.0 {
            SigningInner::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(message);
                s.to_der().as_bytes().to_vec()
            }
            SigningInner::Ed25519(k) => ed25519_dalek::Signer::sign(k, message).to_bytes().to_vec(),
        }
    }
}

/// A public key to verify with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey(VerifyingInner);

#[derive(Debug, Clone, PartialEq, Eq)]
enum VerifyingInner {
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl VerifyingKey {
    /// Reads a public key (SPKI, `PUBLIC KEY`) from PEM text; a private key is accepted too
    /// (its public half is used). `path` names the file in errors.
    pub fn from_pem(pem: &str, path: &str) -> Result<VerifyingKey, KeyError> {
        use p256::pkcs8::DecodePublicKey as _;
        let pem = pem.trim_start();
        match pem_label(pem, path)? {
            "PUBLIC KEY" => match p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
                Ok(k) => Ok(VerifyingKey(VerifyingInner::P256(k))),
                Err(p) => match ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
                    Ok(k) => Ok(VerifyingKey(VerifyingInner::Ed25519(k))),
                    Err(e) => Err(KeyError::Unsupported {
                        path: path.to_owned(),
                        kind: "public key",
                        reason: format!("as P-256: {p}; as Ed25519: {e}"),
                    }),
                },
            },
            _ => SigningKey::from_pem(pem, path)
                .map(|k| k.verifying_key())
                .map_err(|e| match e {
                    KeyError::Label { path, label, .. } => KeyError::Label {
                        path,
                        label,
                        expected: "`PUBLIC KEY` (SPKI)",
                    },
                    e => e,
                }),
        }
    }

    /// Its algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match &self.0 {
            VerifyingInner::P256(_) => KeyAlgorithm::EcdsaP256,
            VerifyingInner::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The key as SPKI DER.
    pub fn to_spki_der(&self) -> Vec<u8> {
        use p256::pkcs8::EncodePublicKey as _;
        match &self.0 {
            VerifyingInner::P256(k) => k.to_public_key_der(),
            VerifyingInner::Ed25519(k) => k.to_public_key_der(),
        }
        .expect("keys encode")
        .into_vec()
    }

    /// The key as SPKI PEM (`PUBLIC KEY`).
    pub fn to_pem(&self) -> String {
        use p256::pkcs8::EncodePublicKey as _;
        let lf = p256::pkcs8::LineEnding::LF;
        match &self.0 {
            VerifyingInner::P256(k) => k.to_public_key_pem(lf),
            VerifyingInner::Ed25519(k) => k.to_public_key_pem(lf),
        }
        .expect("keys encode")
    }

    /// The key's id: the hex SHA-256 of its SPKI DER.
    pub fn keyid(&self) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(self.to_spki_der()))
    }

    /// Whether `signature` is a signature of `message` by this key (ECDSA: DER, or the
    /// 64-byte fixed form).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.0 {
            VerifyingInner::P256(k) => {
                use p256::ecdsa::signature::Verifier as _;
                let sig = p256::ecdsa::Signature::from_der(signature)
                    .or_else(|_| p256::ecdsa::Signature::from_slice(signature));
                sig.is_ok_and(|s| k.verify(message, &s).is_ok())
            }
            VerifyingInner::Ed25519(k) => ed25519_dalek::Signature::from_slice(signature)
                .is_ok_and(|s| k.verify_strict(message, &s).is_ok()),
        }
    }
}

#[cfg(test)]
mod tests;
