//! `apko verify-attestation IMAGE --key PUB`: the signed attestations of a local image checked.

use crate::cleanup;
use crate::commands::finish_work_dir;
use crate::render::CliError;
use apko_build::AttestationKind;
use std::path::Path;

/// Verifies the attestations of `image` with the public key at `key`; prints one line per
/// verified attestation: where it is, its predicate type, the image digests it is about.
pub(crate) fn verify_attestation(
    image: &Path,
    key: &Path,
    dir: Option<&Path>,
    kind: Option<&str>,
) -> Result<(), CliError> {
    let kind = kind
        .map(str::parse::<AttestationKind>)
        .transpose()
        .map_err(|e| CliError::usage(format!("--type: {e}"), None))?;
    let key = apko_build::read_verifying_key(key)?;
    let work = tempfile::Builder::new()
        .prefix("apko-verify-attestation-")
        .tempdir()
        .map_err(|e| CliError::usage(format!("cannot create a temporary directory: {e}"), None))?;
    cleanup::dir(work.path());
    // A registry reference is pulled with the referrers of the index and its images.
    let local = apko_build::local_or_pulled(
        &image.to_string_lossy(),
        &crate::commands::registry_client(),
        work.path(),
        true,
    )?;
    let verified = apko_build::verify_attestations(&local, &key, dir, kind, work.path())?;
    for v in &verified {
        let images: Vec<String> = v.images.iter().map(ToString::to_string).collect();
        println!(
            "verified {}: {} about {} (key {})",
            v.source,
            v.predicate_type,
            images.join(", "),
            v.keyid
        );
    }
    finish_work_dir(work);
    Ok(())
}
