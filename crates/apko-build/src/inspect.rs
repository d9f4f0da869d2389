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
