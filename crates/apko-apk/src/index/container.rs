use super::ApkIndex;
use super::text::{IndexError, parse_index_text, write_index_text};
use crate::gzip::MemberStream;
use crate::keys::{
    Keyring, SignatureEntry, SignatureKind, SignaturePolicy, SigningKey, Verdict, verify_signatures,
};
use crate::package::Limits;
use crate::package::segments_for_index as Segments;
use crate::tar::{TarBuilder, TarEntryBuilder, TarError, TarReader};
use flate2::{Compression, GzBuilder};
use std::io::{self, Read, Write};

/// How much trust an index needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexTrust {
    /// A signature must verify with a key of the keyring.
    Require(SignaturePolicy),
    /// Read the index whatever its signatures say (`--allow-untrusted`). The verdict is still
    /// reported.
    AllowUntrusted,
}

/// An `APKINDEX.tar.gz` that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexVerification {
    /// The archive is malformed.
    #[error("{source_name}: malformed APKINDEX.tar.gz")]
    Format {
        /// The file or URL.
        source_name: String,
        /// The cause.
        #[source]
        source: TarError,
    },
    /// The archive has no `APKINDEX` entry.
    #[error("{source_name}: no APKINDEX entry in the archive")]
    Missing {
        /// The file or URL.
        source_name: String,
    },
    /// The text is invalid.
    #[error(transparent)]
    Text(#[from] IndexError),
    /// No signature could be checked with the keyring.
    #[error("{source_name}: untrusted index: {}", describe_untrusted(.signed_by))]
    Untrusted {
        /// The file or URL.
        source_name: String,
        /// Key names of the signatures present.
        signed_by: Vec<String>,
    },
    /// A signature did not verify.
    #[error("{source_name}: BAD signature (key `{key}`)")]
    BadSignature {
        /// The file or URL.
        source_name: String,
        /// The key the signature names.
        key: String,
    },
}

fn describe_untrusted(signed_by: &[String]) -> String {
    if signed_by.is_empty() {
        "it is not signed".to_owned()
    } else {
        format!(
            "signed by {}, none of which is in the keyring",
            signed_by.join(", ")
        )
    }
}

impl IndexVerification {
    /// A hint for the user, when there is an obvious fix.
    pub fn hint(&self) -> Option<String> {
        match self {
            IndexVerification::Untrusted { signed_by, .. } if !signed_by.is_empty() => {
                Some(format!(
                    "add the public key `{}` to `contents.keyring` (or pass it with --keyring-append)",
                    signed_by[0]
                ))
            }
            IndexVerification::BadSignature { key, .. } => Some(format!(
                "the key file named `{key}` in the keyring is not the key that signed this index"
            )),
            _ => None,
        }
    }
}

/// Reads and verifies an `APKINDEX.tar.gz`.
///
/// The signature covers every compressed byte after the signature member (apk-format §2.5);
/// with [`IndexTrust::Require`] an index that is not trusted is an error.
pub fn read_index<R: Read>(
    reader: R,
    source: &str,
    keyring: &Keyring,
    trust: IndexTrust,
    limits: &Limits,
) -> Result<(ApkIndex, Verdict), IndexVerification> {
    let fmt = |e: TarError| IndexVerification::Format {
        source_name: source.to_owned(),
        source: e,
    };
    let stream = MemberStream::new(reader, Segments::new(), limits.max_index_size)
        .map_err(|e| fmt(e.into()))?;
    let mut tar = TarReader::new(stream);
    let mut signatures = Vec::new();
    let mut text = None;
    let mut description = None;
    while let Some(h) = tar.next_header().map_err(fmt)? {
        let seg = tar.get_mut().observer_mut();
        if !seg.non_sign_seen && h.path.starts_with(".SIGN.") {
            if signatures.len() >= crate::keys::MAX_SIGNATURES {
                return Err(fmt(TarError::TooLarge {
                    offset: 0,
                    size: crate::keys::MAX_SIGNATURES as u64,
                }));
            }
            if let Some((kind, key)) = SignatureEntry::parse_name(&h.path) {
                let mut sig = Vec::new();
                (&mut tar)
                    .take(64 * 1024)
                    .read_to_end(&mut sig)
                    .map_err(|e| fmt(e.into()))?;
                signatures.push(SignatureEntry {
                    kind,
                    key_name: key.to_owned(),
                    signature: sig,
                });
            }
            continue;
        }
        seg.non_sign_seen = true;
        let mut read_text = || -> Result<String, IndexVerification> {
            let mut buf = Vec::new();
            tar.read_to_end(&mut buf).map_err(|e| fmt(e.into()))?;
            String::from_utf8(buf).map_err(|_| {
                IndexVerification::Text(IndexError::NotUtf8 {
                    source_name: source.to_owned(),
                })
            })
        };
        match h.path.as_str() {
            "APKINDEX" => text = Some(read_text()?),
            "DESCRIPTION" => description = Some(read_text()?),
            _ => {}
        }
    }
    tar.drain().map_err(fmt)?;
    let (_, region, _) = tar.into_inner().into_observer().finish();
    let verdict = verify_signatures(
        &signatures,
        &region,
        keyring,
        match trust {
            IndexTrust::Require(p) => p,
            IndexTrust::AllowUntrusted => SignaturePolicy::AnyValid,
        },
    );
    if let IndexTrust::Require(_) = trust {
        match &verdict {
            Verdict::Trusted { .. } => {}
            Verdict::Untrusted => {
                return Err(IndexVerification::Untrusted {
                    source_name: source.to_owned(),
                    signed_by: signatures.iter().map(|s| s.key_name.clone()).collect(),
                });
            }
            Verdict::BadSignature { key } => {
                return Err(IndexVerification::BadSignature {
                    source_name: source.to_owned(),
                    key: key.clone(),
                });
            }
        }
    }
    let text = text.ok_or_else(|| IndexVerification::Missing {
        source_name: source.to_owned(),
    })?;
    let mut index = parse_index_text(&text, source)?;
    index.description = description;
    Ok((index, verdict))
}

/// Writes a signed `APKINDEX.tar.gz` (`DESCRIPTION` first when set, then `APKINDEX`), signed
/// by every key given. The output is byte-identical for identical input.
pub fn write_index<W: Write>(
    index: &ApkIndex,
    keys: &[(SigningKey, SignatureKind)],
    mut out: W,
) -> io::Result<()> {
    let mut tar = TarBuilder::new(Vec::new());
    if let Some(d) = &index.description {
        tar.append_data(
            &TarEntryBuilder::file("DESCRIPTION", 0o644, d.len() as u64)
                .owner(0, 0, "root", "root"),
            d.as_bytes(),
        )?;
    }
    let text = write_index_text(index);
    tar.append_data(
        &TarEntryBuilder::file("APKINDEX", 0o644, text.len() as u64).owner(0, 0, "root", "root"),
        text.as_bytes(),
    )?;
    let raw = tar.finish()?;
    let mut gz = GzBuilder::new()
        .operating_system(3)
        .write(Vec::new(), Compression::best());
    gz.write_all(&raw)?;
    let body = gz.finish()?;
    let digests = crate::keys::Digests::of(&body);
    let mut sigs = Vec::new();
    for (key, kind) in keys {
        sigs.push(key.sign_entry(*kind, &digests).map_err(io::Error::other)?);
    }
    let signature = crate::package::signature_segment(&sigs, 0, 9)?;
    out.write_all(&signature)?;
    out.write_all(&body)?;
    out.flush()
}

#[cfg(test)]
mod tests;
