//! The SPDX documents of a build: what [`apko_sbom`] needs, gathered from the rootfs, the
//! image and the index (pure).

use crate::image::ArchImage;
use crate::rootfs::Rootfs;
use apko_oci::{Digest, Reference, rfc3339, to_go_json_pretty};
use apko_sbom::{ImageSbom, IndexImage, IndexSbom, OsRelease, Vcs};

/// The name of the tool in SBOMs.
fn tool() -> String {
    concat!("apko-rs (", env!("CARGO_PKG_VERSION"), ")").to_owned()
}

/// The last path component of the image reference, for purls.
pub(crate) fn repo_name(reference: &Reference) -> String {
    let r = &reference.repository;
    r.rsplit('/').next().unwrap_or(r).to_owned()
}

/// The SPDX document of one image.
pub(crate) fn image(rootfs: &Rootfs, image: &ArchImage, reference: &Reference) -> Vec<u8> {
    let os = rootfs
        .tree
        .read_path("etc/os-release")
        .map(|b| OsRelease::parse(&String::from_utf8_lossy(&b)))
        .unwrap_or_default();
    let doc = apko_sbom::image_sbom(&ImageSbom {
        image_digest: image.manifest.descriptor.digest.to_string(),
        layer_digests: image.layers.iter().map(|l| l.blob.digest()).collect(),
        repository: repo_name(reference),
        oci_arch: image.arch.oci_name().to_owned(),
        apk_arch: image.arch.apk_name().to_owned(),
        os,
        packages: image.packages.iter().collect(),
        created: rfc3339(image.created),
        tool: tool(),
    });
    to_go_json_pretty(&doc)
}

/// The SPDX document of the index over `images`.
pub(crate) fn index(
    index_json: &[u8],
    images: &[ArchImage],
    created: i64,
    vcs_url: Option<&str>,
    reference: &Reference,
) -> Vec<u8> {
    let vcs = vcs_url.and_then(|v| v.rsplit_once('@')).map(|(u, r)| Vcs {
        url: u.to_owned(),
        revision: r.to_owned(),
    });
    to_go_json_pretty(&apko_sbom::index_sbom(&IndexSbom {
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
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        let name = |t: &str| repo_name(&t.parse().unwrap());
        assert_eq!(name("repo/img:tag"), "img");
        assert_eq!(name("localhost:5000/a/b"), "b");
        assert_eq!(name("golden"), "golden");
    }
}
