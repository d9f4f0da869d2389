//! The SBOMs of a build (SPDX and CycloneDX): what [`apko_sbom`] needs, gathered from the
//! rootfs, the image and the index, and serialised (pure).

use crate::image::ArchImage;
use crate::request::SbomFormat;
use crate::rootfs::Rootfs;
use apko_oci::{Digest, Reference, rfc3339, to_go_json_pretty};
use apko_sbom::{ImageSbom, IndexImage, IndexSbom, OsRelease, Vcs};
use std::collections::BTreeSet;

/// The name of the tool in SBOMs.
fn tool() -> String {
    concat!("apko-rs (", env!("CARGO_PKG_VERSION"), ")").to_owned()
}

/// The last path component of the image reference, for purls.
pub(crate) fn repo_name(reference: &Reference) -> String {
    let r = &reference.repository;
    r.rsplit('/').next().unwrap_or(r).to_owned()
}

/// The serialised documents of one image or of the index, one per requested format.
#[derive(Debug, Default)]
pub(crate) struct Sboms {
    /// SPDX 2.3 JSON.
    pub(crate) spdx: Option<Vec<u8>>,
    /// CycloneDX 1.6 JSON.
    pub(crate) cyclonedx: Option<Vec<u8>>,
}

impl Sboms {
    /// `spdx` and `cyclonedx` of `input` for the formats in `formats`.
    fn of<T>(
        input: &T,
        formats: &BTreeSet<SbomFormat>,
        spdx: impl FnOnce(&T) -> apko_sbom::spdx::Document,
        cyclonedx: impl FnOnce(&T) -> apko_sbom::cyclonedx::Bom,
    ) -> Sboms {
        Sboms {
            spdx: formats
                .contains(&SbomFormat::Spdx)
                .then(|| to_go_json_pretty(&spdx(input))),
            cyclonedx: formats
                .contains(&SbomFormat::CycloneDx)
                .then(|| to_go_json_pretty(&cyclonedx(input))),
        }
    }
}

/// The documents of one image.
pub(crate) fn image(
    rootfs: &Rootfs,
    image: &ArchImage,
    reference: &Reference,
    formats: &BTreeSet<SbomFormat>,
) -> Sboms {
    let os = rootfs
        .tree
        .read_path("etc/os-release")
        .map(|b| OsRelease::parse(&String::from_utf8_lossy(&b)))
        .unwrap_or_default();
    let input = ImageSbom {
        image_digest: image.manifest.descriptor.digest.to_string(),
        layer_digests: image.layers.iter().map(|l| l.blob.digest()).collect(),
        repository: repo_name(reference),
        oci_arch: image.arch.oci_name().to_owned(),
        apk_arch: image.arch.apk_name().to_owned(),
        os,
        packages: image.packages.iter().collect(),
        created: rfc3339(image.created),
        tool: tool(),
    };
    Sboms::of(&input, formats, apko_sbom::image_sbom, apko_sbom::image_bom)
}

/// The documents of the index over `images`.
pub(crate) fn index(
    index_json: &[u8],
    images: &[ArchImage],
    created: i64,
    vcs_url: Option<&str>,
    reference: &Reference,
    formats: &BTreeSet<SbomFormat>,
) -> Sboms {
    let vcs = vcs_url.and_then(|v| v.rsplit_once('@')).map(|(u, r)| Vcs {
        url: u.to_owned(),
        revision: r.to_owned(),
    });
    let input = IndexSbom {
        index_digest: Digest::of(index_json).to_string(),
        images: images
            .iter()
            .map(|i| IndexImage {
                oci_arch: i.arch.oci_name().to_owned(),
                manifest_digest: i.manifest.descriptor.digest.to_string(),
            })
            .collect(),
        repository: repo_name(reference),
        created: rfc3339(created),
        tool: tool(),
        vcs,
    };
    Sboms::of(&input, formats, apko_sbom::index_sbom, apko_sbom::index_bom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_requested_formats() {
        let input = IndexSbom {
            index_digest: "sha256:00".into(),
            images: Vec::new(),
            repository: "r".into(),
            created: rfc3339(0),
            tool: tool(),
            vcs: None,
        };
        let make = |formats: &[SbomFormat]| {
            let s = Sboms::of(
                &input,
                &formats.iter().copied().collect(),
                apko_sbom::index_sbom,
                apko_sbom::index_bom,
            );
            (s.spdx.is_some(), s.cyclonedx.is_some())
        };
        assert_eq!(make(&[]), (false, false));
        assert_eq!(make(&[SbomFormat::Spdx]), (true, false));
        assert_eq!(make(&[SbomFormat::CycloneDx]), (false, true));
        assert_eq!(make(&SbomFormat::ALL), (true, true));
        let s = Sboms::of(
            &input,
            &BTreeSet::from([SbomFormat::CycloneDx]),
            apko_sbom::index_sbom,
            apko_sbom::index_bom,
        );
        let bom: serde_json::Value = serde_json::from_slice(&s.cyclonedx.unwrap()).unwrap();
        assert_eq!(bom["metadata"]["tools"]["components"][0]["name"], "apko-rs");
        assert_eq!(
            bom["metadata"]["tools"]["components"][0]["version"],
            env!("CARGO_PKG_VERSION")
        );
    }

    #[test]
    fn repo_names() {
        let name = |t: &str| repo_name(&t.parse().unwrap());
        assert_eq!(name("repo/img:tag"), "img");
        assert_eq!(name("localhost:5000/a/b"), "b");
        assert_eq!(name("golden"), "golden");
    }
}
