//! The SBOMs of a build (SPDX and CycloneDX): what [`apko_sbom`] needs, gathered from the
//! rootfs, the image and the index, and serialised (pure).

use crate::image::ArchImage;
use crate::request::SbomFormat;
use crate::rootfs::Rootfs;
use apko_oci::{Digest, Reference, rfc3339, to_go_json_pretty};
use apko_sbom::{ImageSbom, IndexImage, IndexSbom, OsRelease, PackageSpdx, Vcs};
use std::collections::BTreeSet;

/// The name of the tool in SBOMs.
pub(crate) fn tool() -> String {
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
    let documents = package_documents(rootfs, &image.packages);
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
    Sboms::of(
        &input,
        formats,
        |i| apko_sbom::image_sbom_with(i, &documents),
        apko_sbom::image_bom,
    )
}

/// Where packages keep their own SPDX documents (melange writes one per package).
const PACKAGE_SBOM_DIR: &str = "var/lib/db/sbom";

/// The SPDX document each of `packages` ships, found as apko finds it:
/// `<name>-<version>.spdx.json`, then `<name>-<version without -rN>.spdx.json`, then
/// `<name>.spdx.json` in `/var/lib/db/sbom`. At most one byte more than
/// [`apko_sbom::MAX_DOCUMENT_BYTES`] is read; something that is not a regular file, or cannot
/// be read, is passed on with the reason (the document records it; the build goes on).
fn package_documents(
    rootfs: &Rootfs,
    packages: &[apko_apk::info::PackageInfo],
) -> Vec<PackageSpdx> {
    let tree = &rootfs.tree;
    package_documents_with(packages, &|path| {
        let id = tree.get(path)?;
        Some(match &tree.node(id).kind {
            apko_fs::Kind::File(_) => tree
                .read_at(id, 0, apko_sbom::MAX_DOCUMENT_BYTES as u64 + 1, path)
                .map_err(|e| e.to_string()),
            other => Err(format!("a {}, not a file", other.describe())),
        })
    })
}

/// A path's content, why it cannot be used, or `None` when it does not exist.
pub(crate) type ReadDocument<'a> = dyn Fn(&str) -> Option<Result<Vec<u8>, String>> + 'a;

/// [`package_documents`] over any filesystem: `read` gives a path's content (at least
/// [`apko_sbom::MAX_DOCUMENT_BYTES`] + 1 bytes of it), why it cannot be used, or `None` when
/// it does not exist.
pub(crate) fn package_documents_with(
    packages: &[apko_apk::info::PackageInfo],
    read: &ReadDocument<'_>,
) -> Vec<PackageSpdx> {
    let mut out = Vec::new();
    for p in packages {
        let version = p.version.as_str();
        let release_less = match version.rsplit_once("-r") {
            Some((v, r)) if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) => v,
            _ => version,
        };
        let candidates = [
            format!("{PACKAGE_SBOM_DIR}/{}-{version}.spdx.json", p.name.as_str()),
            format!(
                "{PACKAGE_SBOM_DIR}/{}-{release_less}.spdx.json",
                p.name.as_str()
            ),
            format!("{PACKAGE_SBOM_DIR}/{}.spdx.json", p.name.as_str()),
        ];
        let Some((path, json)) = candidates
            .into_iter()
            .find_map(|c| read(&c).map(|j| (c, j)))
        else {
            continue;
        };
        out.push(PackageSpdx {
            package: p.name.clone(),
            path: format!("/{path}"),
            json,
        });
    }
    out
}

/// Where packages keep their own SPDX documents, as a path prefix in layers.
pub(crate) const PACKAGE_SBOM_PREFIX: &str = "var/lib/db/sbom/";

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
