//! `apko verify-attestation IMAGE --key PUB`: the signed attestations of a local image (an
//! OCI layout or an image tarball) checked: signature, payload type, statement, and that the
//! statement is about the image.

use super::{AttestationKind, MEDIA_TYPE_DSSE};
use crate::error::BuildError;
use apko_oci::Digest;
use apko_sbom::dsse::{DsseError, Envelope, KeyError, PAYLOAD_TYPE_IN_TOTO, VerifyingKey};
use apko_sbom::statement::{STATEMENT_TYPE, Statement};
use std::path::{Path, PathBuf};

/// The largest manifest, index or envelope read.
const MAX_DOCUMENT: u64 = 256 << 20;

/// An attestation that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Where it was found: a file, or `<layout> (referrer sha256:…)`.
    pub source: String,
    /// Its `predicateType`.
    pub predicate_type: String,
    /// Its kind, when apko-rs knows the predicate type.
    pub kind: Option<AttestationKind>,
    /// The image manifests among its subjects.
    pub images: Vec<Digest>,
    /// The id of the key that verified it.
    pub keyid: String,
}

/// Why attestations do not verify. Each names the file (or layout referrer) and the check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// The key file cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Neither a layout directory nor a tarball.
    #[error("`{image}`: no such image (an OCI layout directory or an image tarball)")]
    NoImage {
        /// IMAGE.
        image: String,
    },
    /// The layout cannot be read.
    #[error("`{path}`: {problem}")]
    Layout {
        /// The layout or the file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// Not the JSON of a DSSE envelope.
    #[error("`{file}` is not a DSSE envelope")]
    Envelope {
        /// Where.
        file: String,
        /// The cause.
        #[source]
        source: DsseError,
    },
    /// Another payload type than in-toto's.
    #[error("`{file}`: payloadType is `{found}`, expected `{PAYLOAD_TYPE_IN_TOTO}`")]
    PayloadType {
        /// Where.
        file: String,
        /// Its payload type.
        found: String,
    },
    /// The signature does not verify with the key.
    #[error("`{file}`: the signature does not verify")]
    Signature {
        /// Where.
        file: String,
        /// The cause.
        #[source]
        source: DsseError,
    },
    /// The payload is not an in-toto statement v1.
    #[error("`{file}`: the payload is not an in-toto Statement v1 ({reason})")]
    Statement {
        /// Where.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The statement is about other artifacts.
    #[error(
        "`{file}`: no subject of the statement is an image of `{image}` (subjects: {subjects}; images: {images})"
    )]
    Subject {
        /// Where.
        file: String,
        /// IMAGE.
        image: String,
        /// The statement's subject digests.
        subjects: String,
        /// The image's manifest digests.
        images: String,
    },
    /// A referrer attached to an image its statement is not about.
    #[error("`{file}`: attached to {referrer}, which is not a subject of its statement")]
    Referrer {
        /// Where.
        file: String,
        /// The referrer's subject.
        referrer: Digest,
    },
    /// Nothing to verify.
    #[error("`{image}`: no signed attestations{of_kind} (looked in {looked_in})")]
    Nothing {
        /// IMAGE.
        image: String,
        /// ` of type …`, or empty.
        of_kind: String,
        /// Where they were looked for.
        looked_in: String,
    },
    /// An image of IMAGE that no verified attestation is about.
    #[error("`{image}`: no verified attestation{of_kind} is about its image {digest}")]
    Uncovered {
        /// IMAGE.
        image: String,
        /// ` of type …`, or empty.
        of_kind: String,
        /// The image manifest's digest.
        digest: Digest,
    },
}

impl AttestationError {
    /// A suggestion for the user.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            AttestationError::Key(KeyError::Encrypted { .. }) => {
                Some("decrypt it first: `openssl pkcs8 -in KEY -out key.pem` (keep it private)")
            }
            AttestationError::Key(_) => Some(
                "make a key with `openssl genpkey -algorithm ed25519 -out key.pem` (or `-algorithm EC -pkeyopt ec_paramgen_curve:P-256`) and its public key with `openssl pkey -in key.pem -pubout -out key.pub`",
            ),
            AttestationError::Signature { .. } => {
                Some("the attestation was signed with another key, or changed after it was signed")
            }
            AttestationError::Nothing { .. } => Some(
                "build with `--sign-key KEY` (the .dsse.json files are written next to the SBOMs), or name their directory with --attestations",
            ),
            AttestationError::Subject { .. } | AttestationError::Referrer { .. } => Some(
                "the attestation belongs to another image; remove it or name another --attestations directory",
            ),
            AttestationError::NoImage { .. } => Some(
                "give an OCI layout directory, a tarball, or a registry reference that names its registry (`host/repo:tag`)",
            ),
            _ => None,
        }
    }
}

/// One envelope to check: where it is, its bytes, and the image it is attached to (layout
/// referrers).
struct Candidate {
    source: String,
    bytes: Vec<u8>,
    attached_to: Option<Digest>,
}

/// Checks the signed attestations of `image` (an OCI layout directory, or a tarball, which is
/// unpacked into `work`) with `key`: those the layout holds as referrers, and every
/// `*.dsse.json` file in `dir` (default: the layout directory, or the tarball's directory).
/// With `kind`, only attestations of that kind count. Fails on the first envelope that does
/// not verify, is not an in-toto statement or is about another image, when there is none, and
/// when an image of `image` has none.
pub fn verify_attestations(
    image: &Path,
    key: &VerifyingKey,
    dir: Option<&Path>,
    kind: Option<AttestationKind>,
    work: &Path,
) -> Result<Vec<Verified>, BuildError> {
    let shown = image.display().to_string();
    let (layout, default_dir) = if image.is_dir() {
        (image.to_owned(), image.to_owned())
    } else if image.is_file() {
        let parent = image
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        (crate::base::unpack_tarball(image, work)?, parent)
    } else {
        return Err(AttestationError::NoImage { image: shown }.into());
    };
    let dir = dir.map_or(default_dir, Path::to_owned);
    let (images, mut candidates) = read_layout(&layout, &shown)?;
    candidates.extend(envelope_files(&dir)?);
    // The same envelope as a referrer (of each image) and as a file is checked once per image
    // it is attached to; a file that is the same as a referrer is not checked again.
    let mut bytes_seen = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
    candidates.retain(|c| {
        let d = Digest::of(&c.bytes);
        match c.attached_to {
            Some(subject) => {
                bytes_seen.insert(d);
                seen.insert((d, subject))
            }
            None => bytes_seen.insert(d),
        }
    });
    let of_kind = kind.map_or(String::new(), |k| format!(" of type {}", k.name()));
    let mut verified = Vec::new();
    for c in &candidates {
        if let Some(v) = check(c, key, &images, &shown)?
            && kind.is_none_or(|k| v.kind == Some(k))
        {
            verified.push(v);
        }
    }
    if verified.is_empty() {
        return Err(AttestationError::Nothing {
            image: shown,
            of_kind,
            looked_in: format!("the layout's referrers and {}", dir.display()),
        }
        .into());
    }
    for d in &images {
        if !verified.iter().any(|v| v.images.contains(d)) {
            return Err(AttestationError::Uncovered {
                image: shown,
                of_kind,
                digest: *d,
            }
            .into());
        }
    }
    Ok(verified)
}

/// Checks one envelope: JSON, payload type, signature, statement, subject.
fn check(
    c: &Candidate,
    key: &VerifyingKey,
    images: &[Digest],
    image: &str,
) -> Result<Option<Verified>, AttestationError> {
    let file = || c.source.clone();
    let env = Envelope::from_json(&c.bytes).map_err(|source| AttestationError::Envelope {
        file: file(),
        source,
    })?;
    if env.payload_type != PAYLOAD_TYPE_IN_TOTO {
        return Err(AttestationError::PayloadType {
            file: file(),
            found: env.payload_type,
        });
    }
    let payload = env
        .verify(key)
        .map_err(|source| AttestationError::Signature {
            file: file(),
            source,
        })?;
    let statement: Statement =
        serde_json::from_slice(&payload).map_err(|e| AttestationError::Statement {
            file: file(),
            reason: e.to_string(),
        })?;
    if statement.statement_type != STATEMENT_TYPE {
        return Err(AttestationError::Statement {
            file: file(),
            reason: format!("`_type` is `{}`", statement.statement_type),
        });
    }
    let matched: Vec<Digest> = images
        .iter()
        .filter(|d| statement.has_subject(&d.to_string()))
        .copied()
        .collect();
    if matched.is_empty() {
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        return Err(AttestationError::Subject {
            file: file(),
            image: image.to_owned(),
            subjects: list(
                statement
                    .subject
                    .iter()
                    .map(|s| {
                        s.digest
                            .get("sha256")
                            .map_or_else(|| "(no sha256)".to_owned(), |h| format!("sha256:{h}"))
                    })
                    .collect(),
            ),
            images: list(images.iter().map(ToString::to_string).collect()),
        });
    }
    if let Some(d) = c.attached_to
        && !statement.has_subject(&d.to_string())
    {
        return Err(AttestationError::Referrer {
            file: file(),
            referrer: d,
        });
    }
    Ok(Some(Verified {
        source: c.source.clone(),
        kind: AttestationKind::of_predicate_type(&statement.predicate_type),
        predicate_type: statement.predicate_type,
        images: matched,
        keyid: key.keyid(),
    }))
}

fn read_bounded(path: &Path, shown: &str) -> Result<Vec<u8>, AttestationError> {
    let bad = |problem: String| AttestationError::Layout {
        path: shown.to_owned(),
        problem,
    };
    let meta = fs_err::metadata(path).map_err(|e| bad(e.to_string()))?;
    if meta.len() > MAX_DOCUMENT {
        return Err(bad(format!(
            "`{}` is larger than {MAX_DOCUMENT} bytes",
            path.display()
        )));
    }
    fs_err::read(path).map_err(|e| bad(e.to_string()))
}

/// The image manifests of the layout at `layout` (following nested indexes), and the
/// DSSE envelopes it holds as referrers.
fn read_layout(
    layout: &Path,
    shown: &str,
) -> Result<(Vec<Digest>, Vec<Candidate>), AttestationError> {
    let bad = |problem: String| AttestationError::Layout {
        path: shown.to_owned(),
        problem,
    };
    let json = |bytes: &[u8], what: &str| -> Result<serde_json::Value, AttestationError> {
        serde_json::from_slice(bytes).map_err(|e| bad(format!("{what} is not JSON: {e}")))
    };
    let blob = |d: &Digest| read_bounded(&layout.join("blobs/sha256").join(d.hex()), shown);
    let digest_of = |v: &serde_json::Value| -> Result<Digest, AttestationError> {
        v["digest"]
            .as_str()
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| bad("a descriptor without a valid sha256 digest".to_owned()))
    };
    let index_path = layout.join("index.json");
    if !index_path.is_file() {
        return Err(bad("not an OCI image layout (no index.json)".to_owned()));
    }
    let mut pending = vec![json(&read_bounded(&index_path, shown)?, "index.json")?];
    let mut images = Vec::new();
    let mut candidates = Vec::new();
    let mut indexes = 0;
    while let Some(index) = pending.pop() {
        for d in index["manifests"].as_array().into_iter().flatten() {
            let digest = digest_of(d)?;
            let bytes = blob(&digest)?;
            let doc = json(&bytes, &format!("manifest {digest}"))?;
            if d["mediaType"].as_str() == Some(apko_oci::MEDIA_TYPE_INDEX)
                || doc["manifests"].is_array()
            {
                indexes += 1;
                if indexes > 16 {
                    return Err(bad("more than 16 nested indexes".to_owned()));
                }
                pending.push(doc);
                continue;
            }
            let Some(subject) = doc.get("subject") else {
                if !images.contains(&digest) {
                    images.push(digest);
                }
                continue;
            };
            let subject = digest_of(subject)?;
            for layer in doc["layers"].as_array().into_iter().flatten() {
                if layer["mediaType"].as_str() != Some(MEDIA_TYPE_DSSE) {
                    continue;
                }
                let title = layer["annotations"]["org.opencontainers.image.title"]
                    .as_str()
                    .map_or(String::new(), |t| format!(", {t}"));
                candidates.push(Candidate {
                    source: format!("{shown} (referrer {digest}{title})"),
                    bytes: blob(&digest_of(layer)?)?,
                    attached_to: Some(subject),
                });
            }
        }
    }
    if images.is_empty() {
        return Err(bad("no image manifests".to_owned()));
    }
    Ok((images, candidates))
}

/// Every `*.dsse.json` file in `dir`, sorted by name.
fn envelope_files(dir: &Path) -> Result<Vec<Candidate>, AttestationError> {
    let bad = |problem: String| AttestationError::Layout {
        path: dir.display().to_string(),
        problem,
    };
    let mut paths: Vec<PathBuf> = fs_err::read_dir(dir)
        .map_err(|e| bad(e.to_string()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".dsse.json"))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let shown = p.display().to_string();
            Ok(Candidate {
                bytes: read_bounded(&p, &shown)?,
                source: shown,
                attached_to: None,
            })
        })
        .collect()
}
