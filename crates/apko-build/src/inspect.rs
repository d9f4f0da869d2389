//! `apko sbom IMAGE`: the SBOMs of an image that exists already (an OCI layout, an OCI archive
//! or a docker tarball), made from the installed database inside its layers (apko#1284), in
//! the same formats and with the same contents as the SBOMs of a build.

use crate::base;
use crate::error::BuildError;
use crate::request::SbomFormat;
use apko_oci::{Reference, to_go_json_pretty};
use apko_sbom::{ImageSbom, OsRelease};
use std::collections::BTreeSet;
use std::path::Path;

/// The SBOM files of every architecture of `image`, as `(file name, bytes)`:
/// `sbom-<apk arch>.<spdx.json|cdx.json>`. `reference` names the image in purls; a tarball is
/// unpacked into `work`.
pub fn image_sboms(
    image: &Path,
    reference: &Reference,
    formats: &BTreeSet<SbomFormat>,
    work: &Path,
) -> Result<Vec<(String, Vec<u8>)>, BuildError> {
    let layout = if image.is_file() {
        base::unpack_tarball(image, work)?
    } else {
        image.to_owned()
    };
    let mut out = Vec::new();
    for arch in base::archs(&layout)? {
        let b = base::load(&layout, None, arch)?;
        let os = base::file_from_layers(
            &layout,
            &b.layers,
            &["etc/os-release", "usr/lib/os-release"],
        )?
        .map(|t| OsRelease::parse(&String::from_utf8_lossy(&t)))
        .unwrap_or_default();
        let input = ImageSbom {
            image_digest: b.manifest_digest.to_string(),
            layer_digests: b
                .layers
                .iter()
                .map(|l| l.descriptor.digest.to_string())
                .collect(),
            repository: crate::sbom::repo_name(reference),
            oci_arch: arch.oci_name().to_owned(),
            apk_arch: arch.apk_name().to_owned(),
            os,
            packages: b.packages().collect(),
            created: b.created.clone(),
            tool: crate::sbom::tool(),
        };
        // The packages' own SPDX documents, merged as a build merges them.
        let shipped = base::files_from_layers(
            &layout,
            &b.layers,
            &|p| p.starts_with(crate::sbom::PACKAGE_SBOM_PREFIX) && p.ends_with(".spdx.json"),
            apko_sbom::MAX_DOCUMENT_BYTES as u64,
        )?;
        let packages: Vec<apko_apk::info::PackageInfo> =
            input.packages.iter().map(|p| (*p).clone()).collect();
        let documents = crate::sbom::package_documents_with(&packages, &|p| {
            shipped.get(p).map(|b| Ok(b.clone()))
        });
        for f in formats {
            let bytes = match f {
                SbomFormat::Spdx => {
                    to_go_json_pretty(&apko_sbom::image_sbom_with(&input, &documents))
                }
                SbomFormat::CycloneDx => to_go_json_pretty(&apko_sbom::image_bom(&input)),
            };
            out.push((format!("sbom-{}.{}", arch.apk_name(), f.extension()), bytes));
        }
    }
    Ok(out)
}

/// An image named by `image`: the local path when it exists (an OCI layout, an OCI archive or
/// a docker tarball), else a registry reference that names its registry (`host/repo:tag`,
/// `host/repo@sha256:…`; `alpine` alone is a missing file, not Docker Hub)
/// pulled with `client` into an OCI layout under `work` (with the referrers of the index and
/// its images when `referrers`). Returns the path to read. Needs the `http` feature.
#[cfg(feature = "http")]
pub fn local_or_pulled(
    image: &str,
    client: &apko_oci::registry::RegistryClient,
    work: &Path,
    referrers: bool,
) -> Result<std::path::PathBuf, BuildError> {
    use apko_oci::registry::pull::{ImageRef, pull_image};
    let path = Path::new(image);
    if path.exists() {
        return Ok(path.to_owned());
    }
    // A name without a registry host is taken for a mistyped path, not for Docker Hub.
    let explicit_host = image
        .split_once('/')
        .is_some_and(|(first, _)| first.contains(['.', ':']) || first == "localhost");
    if !explicit_host {
        return Err(BuildError::NoImage {
            image: image.to_owned(),
            reason: "a registry reference names its registry, as in `docker.io/library/alpine:3`"
                .to_owned(),
        });
    }
    let r = image.parse::<ImageRef>().map_err(|e| BuildError::NoImage {
        image: image.to_owned(),
        reason: e.to_string(),
    })?;
    let dir = work.join("pulled");
    let _ = fs_err::remove_dir_all(&dir);
    pull_image(client, &r, &dir, referrers).map_err(|source| BuildError::Pull {
        reference: r.to_string(),
        source,
    })?;
    Ok(dir)
}
