//! Building the documents.

use crate::merge::{self, PackageSpdx};
use crate::spdx::{
    Checksum, CreationInfo, Document, ExternalRef, ExtractedLicense, Package, Relationship,
};
use crate::{graph, purl};
use apko_apk::info::PackageInfo;
use std::collections::BTreeMap;

/// What `/etc/os-release` says (defaults when the image has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsRelease {
    /// `ID`.
    pub id: String,
    /// `VERSION_ID`.
    pub version_id: String,
    /// `NAME`.
    pub name: String,
}

impl Default for OsRelease {
    fn default() -> Self {
        OsRelease {
            id: "unknown".into(),
            version_id: "unknown".into(),
            name: "apko-generated image".into(),
        }
    }
}

impl OsRelease {
    /// Parses `/etc/os-release` text.
    pub fn parse(text: &str) -> Self {
        let mut r = OsRelease::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"').to_owned();
            match k.trim() {
                "ID" => r.id = v,
                "VERSION_ID" => r.version_id = v,
                "NAME" => r.name = v,
                _ => {}
            }
        }
        r
    }
}

/// Inputs of one image's SBOM.
#[derive(Debug, Clone)]
pub struct ImageSbom<'a> {
    /// `sha256:…` of the image manifest.
    pub image_digest: String,
    /// `sha256:…` of each layer.
    pub layer_digests: Vec<String>,
    /// Repository name for purls (the last component of the image reference).
    pub repository: String,
    /// OCI architecture.
    pub oci_arch: String,
    /// apk architecture.
    pub apk_arch: String,
    /// The operating system.
    pub os: OsRelease,
    /// Installed packages, in install order.
    pub packages: Vec<&'a PackageInfo>,
    /// RFC 3339 build time.
    pub created: String,
    /// `name version` of the tool.
    pub tool: String,
}

/// Inputs of the index SBOM.
#[derive(Debug, Clone)]
pub struct IndexSbom {
    /// `sha256:…` of the index.
    pub index_digest: String,
    /// The images of the index.
    pub images: Vec<IndexImage>,
    /// Repository name for purls.
    pub repository: String,
    /// RFC 3339 build time.
    pub created: String,
    /// `name version` of the tool.
    pub tool: String,
    /// The source the images were built from, when known.
    pub vcs: Option<Vcs>,
}

/// One image of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexImage {
    /// The OCI architecture (`amd64`, `arm64`, ...).
    pub oci_arch: String,
    /// `sha256:…` of its manifest.
    pub manifest_digest: String,
}

/// A source repository and revision (`vcs-url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vcs {
    /// The repository URL.
    pub url: String,
    /// The commit.
    pub revision: String,
}

/// SPDX identifiers allow `[A-Za-z0-9.-]`: `:` becomes `-`, any other byte `C<decimal>`
/// (apko's rule).
pub fn sanitize_id(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b':' => out.push('-'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' => out.push(b as char),
            other => out.push_str(&format!("C{other}")),
        }
    }
    out
}

fn creation(created: &str, tool: &str) -> CreationInfo {
    CreationInfo {
        created: created.to_owned(),
        creators: vec![format!("Tool: {tool}"), "Organization: apko-rs".to_owned()],
        license_list_version: "3.27".to_owned(),
    }
}

pub(crate) fn rel(a: &str, kind: &str, b: &str) -> Relationship {
    Relationship {
        spdx_element_id: a.to_owned(),
        relationship_type: kind.to_owned(),
        related_spdx_element: b.to_owned(),
        comment: None,
    }
}

/// A declared licence as a valid SPDX expression, or a `LicenseRef-` with its text recorded.
pub(crate) fn license(text: &str, extracted: &mut BTreeMap<String, ExtractedLicense>) -> String {
    let t = text.trim();
    if t.is_empty() {
        return "NOASSERTION".to_owned();
    }
    if spdx::Expression::parse(t).is_ok() {
        return t.to_owned();
    }
    intern_license(
        extracted,
        ExtractedLicense {
            license_id: format!("LicenseRef-{}", sanitize_id(t)),
            extracted_text: t.to_owned(),
            name: t.to_owned(),
            comment: None,
            see_also: Vec::new(),
        },
    )
}

/// Records `l` and returns its id: the id it has when no other text holds it (or the same
/// text does), else the first free `<id>-<n>`.
pub(crate) fn intern_license(
    extracted: &mut BTreeMap<String, ExtractedLicense>,
    mut l: ExtractedLicense,
) -> String {
    let base = l.license_id.clone();
    let mut n = 1;
    loop {
        match extracted.get(&l.license_id) {
            None => {
                let id = l.license_id.clone();
                extracted.insert(id.clone(), l);
                return id;
            }
            Some(e) if e.extracted_text == l.extracted_text => return l.license_id,
            Some(_) => {
                n += 1;
                l.license_id = format!("{base}-{n}");
            }
        }
    }
}

pub(crate) fn supplier(os: &OsRelease) -> String {
    format!("Organization: {}", os.name)
}

/// An OCI artifact (index, image or layer) as an SPDX package: named and checksummed by its
/// digest, with a `pkg:oci` purl.
struct OciArtifact<'a> {
    spdx_id: &'a str,
    digest: &'a str,
    version: String,
    description: Option<&'a str>,
    supplier: String,
    source_info: Option<&'a str>,
    repository: &'a str,
    arch: Option<&'a str>,
    media_type: &'a str,
}

impl OciArtifact<'_> {
    fn package(&self) -> Package {
        Package {
            spdx_id: self.spdx_id.to_owned(),
            name: self.digest.to_owned(),
            version_info: self.version.clone(),
            files_analyzed: false,
            license_concluded: None,
            license_declared: None,
            description: self.description.map(str::to_owned),
            download_location: "NOASSERTION".into(),
            originator: None,
            supplier: Some(self.supplier.clone()),
            copyright_text: None,
            source_info: self.source_info.map(str::to_owned),
            primary_package_purpose: Some("CONTAINER".into()),
            checksums: vec![Checksum {
                algorithm: "SHA256".into(),
                checksum_value: self.digest.trim_start_matches("sha256:").to_owned(),
            }],
            external_refs: vec![ExternalRef {
                reference_category: "PACKAGE-MANAGER".into(),
                reference_locator: purl::oci(
                    self.repository,
                    self.digest,
                    self.arch,
                    self.media_type,
                ),
                reference_type: "purl".into(),
                comment: None,
            }],
            ..Package::default()
        }
    }
}

/// The SBOM of one image: the image, its layers, the operating system and every package.
pub fn image_sbom(input: &ImageSbom<'_>) -> Document {
    image_sbom_with(input, &[])
}

/// [`image_sbom`], with the SPDX documents the packages ship themselves
/// (`/var/lib/db/sbom/*.spdx.json`) merged in: their packages, files, snippets,
/// relationships, licences and external document references, re-identified; the element
/// that describes the APK itself is merged into the package element apko-rs writes for it.
/// A document that cannot be used is skipped and recorded as an annotation on its package
/// (see [`PackageSpdx`]).
pub fn image_sbom_with(input: &ImageSbom<'_>, documents: &[PackageSpdx]) -> Document {
    let image_id = format!("SPDXRef-Package-Image-{}", sanitize_id(&input.image_digest));
    let digest_hex = input.image_digest.trim_start_matches("sha256:");
    let supplier = supplier(&input.os);
    let mut packages = vec![
        OciArtifact {
            spdx_id: &image_id,
            digest: &input.image_digest,
            version: input.image_digest.clone(),
            description: Some("apko container image"),
            supplier: supplier.clone(),
            source_info: None,
            repository: &input.repository,
            arch: Some(&input.oci_arch),
            media_type: purl::MANIFEST,
        }
        .package(),
    ];
    let mut relationships = vec![rel("SPDXRef-DOCUMENT", "DESCRIBES", &image_id)];
    for layer in &input.layer_digests {
        let id = format!("SPDXRef-Package-ImageLayer-{}", sanitize_id(layer));
        packages.push(
            OciArtifact {
                spdx_id: &id,
                digest: layer,
                version: input.os.version_id.clone(),
                description: Some("apko operating system layer"),
                supplier: supplier.clone(),
                source_info: None,
                repository: &input.repository,
                arch: Some(&input.oci_arch),
                media_type: purl::LAYER,
            }
            .package(),
        );
        relationships.push(rel(&image_id, "CONTAINS", &id));
    }
    let os_id = format!("SPDXRef-OperatingSystem-{}", sanitize_id(&input.os.id));
    packages.push(Package {
        spdx_id: os_id.clone(),
        name: input.os.id.clone(),
        version_info: input.os.version_id.clone(),
        files_analyzed: false,
        license_concluded: None,
        license_declared: None,
        description: Some("Operating System".into()),
        download_location: "NOASSERTION".into(),
        originator: None,
        supplier: Some(supplier.clone()),
        copyright_text: None,
        source_info: None,
        primary_package_purpose: Some("OPERATING_SYSTEM".into()),
        checksums: vec![],
        external_refs: vec![],
        ..Package::default()
    });
    relationships.push(rel(&image_id, "CONTAINS", &os_id));
    let mut extracted = BTreeMap::new();
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    for p in &input.packages {
        let id = format!("SPDXRef-Package-apk-{}", sanitize_id(&p.name_version()));
        ids.insert(p.name.as_str(), id.clone());
        let mut checksums = Vec::new();
        if let Some(sum) = p.checksum.as_ref().and_then(|c| c.sha1()) {
            checksums.push(Checksum {
                algorithm: "SHA1".into(),
                checksum_value: hex::encode(sum),
            });
        }
        packages.push(Package {
            spdx_id: id.clone(),
            name: p.name.to_string(),
            version_info: p.version.to_string(),
            files_analyzed: false,
            license_concluded: Some("NOASSERTION".into()),
            license_declared: Some(license(&p.license, &mut extracted)),
            description: (!p.description.is_empty()).then(|| p.description.clone()),
            download_location: if p.url.is_empty() {
                "NOASSERTION".into()
            } else {
                p.url.clone()
            },
            originator: Some(supplier.clone()),
            supplier: Some(supplier.clone()),
            copyright_text: Some("NOASSERTION".into()),
            source_info: p.origin.as_ref().map(|o| format!("built from origin {o}")),
            primary_package_purpose: Some("APPLICATION".into()),
            checksums,
            external_refs: vec![ExternalRef {
                reference_category: "PACKAGE-MANAGER".into(),
                reference_locator: purl::apk(&input.os.id, p, &input.apk_arch),
                reference_type: "purl".into(),
                comment: None,
            }],
            ..Package::default()
        });
        relationships.push(rel(&os_id, "CONTAINS", &id));
    }
    for (p, deps) in input
        .packages
        .iter()
        .zip(graph::dependencies(&input.packages))
    {
        for d in deps {
            relationships.push(rel(&ids[p.name.as_str()], "DEPENDS_ON", &ids[d]));
        }
    }
    let mut doc = Document {
        spdx_id: "SPDXRef-DOCUMENT".into(),
        name: format!(
            "sbom-{}",
            input.layer_digests.first().unwrap_or(&input.image_digest)
        ),
        spdx_version: "SPDX-2.3".into(),
        creation_info: creation(&input.created, &input.tool),
        data_license: "CC0-1.0".into(),
        document_namespace: format!(
            "https://spdx.org/spdxdocs/apko-rs/{}-{digest_hex}",
            input.apk_arch
        ),
        document_describes: vec![image_id],
        external_document_refs: Vec::new(),
        packages,
        files: Vec::new(),
        snippets: Vec::new(),
        relationships,
        extracted_licensing_infos: Vec::new(),
    };
    merge::merge(
        &mut doc,
        &mut extracted,
        &merge::Target {
            packages: &input.packages,
            ids: &ids,
            os_id: &os_id,
            os: &input.os,
            created: &input.created,
            tool: &input.tool,
        },
        documents,
    );
    doc.extracted_licensing_infos = extracted.into_values().collect();
    doc
}

/// The SBOM of the multi-architecture index.
pub fn index_sbom(input: &IndexSbom) -> Document {
    let id = format!("SPDXRef-Package-{}", sanitize_id(&input.index_digest));
    let digest_hex = input.index_digest.trim_start_matches("sha256:");
    let mut packages = vec![
        OciArtifact {
            spdx_id: &id,
            digest: &input.index_digest,
            version: input.index_digest.clone(),
            description: Some("Multi-arch image index"),
            supplier: "Organization: apko-rs".into(),
            source_info: Some("Generated at image build time by apko-rs"),
            repository: &input.repository,
            arch: None,
            media_type: purl::INDEX,
        }
        .package(),
    ];
    let mut relationships = vec![rel("SPDXRef-DOCUMENT", "DESCRIBES", &id)];
    for IndexImage {
        oci_arch: arch,
        manifest_digest: digest,
    } in &input.images
    {
        let img = format!("SPDXRef-Package-{}", sanitize_id(digest));
        packages.push(
            OciArtifact {
                spdx_id: &img,
                digest,
                version: digest.clone(),
                description: None,
                supplier: "Organization: apko-rs".into(),
                source_info: None,
                repository: &input.repository,
                arch: Some(arch),
                media_type: purl::MANIFEST,
            }
            .package(),
        );
        // Each image is a variant of the index, and the index lists (contains) it: the second
        // relationship connects the images to the described element, so that NTIA checkers
        // do not report them as floating.
        relationships.push(rel(&img, "VARIANT_OF", &id));
        relationships.push(rel(&id, "CONTAINS", &img));
    }
    if let Some(Vcs { url, revision: rev }) = &input.vcs {
        let src = format!("SPDXRef-Package-{}", sanitize_id(&format!("{url}@{rev}")));
        packages.push(Package {
            spdx_id: src.clone(),
            name: url.clone(),
            version_info: rev.clone(),
            files_analyzed: false,
            license_concluded: None,
            license_declared: None,
            description: None,
            download_location: url.clone(),
            originator: None,
            supplier: Some("Organization: apko-rs".into()),
            copyright_text: None,
            source_info: None,
            primary_package_purpose: Some("SOURCE".into()),
            checksums: vec![],
            external_refs: vec![],
            ..Package::default()
        });
        relationships.push(rel(&id, "GENERATED_FROM", &src));
    }
    Document {
        spdx_id: "SPDXRef-DOCUMENT".into(),
        name: format!("sbom-{}", input.index_digest),
        spdx_version: "SPDX-2.3".into(),
        creation_info: creation(&input.created, &input.tool),
        data_license: "CC0-1.0".into(),
        document_namespace: format!("https://spdx.org/spdxdocs/apko-rs/index-{digest_hex}"),
        document_describes: vec![id],
        external_document_refs: Vec::new(),
        packages,
        files: Vec::new(),
        snippets: Vec::new(),
        relationships,
        extracted_licensing_infos: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_licenses() {
        assert_eq!(sanitize_id("sha256:ab"), "sha256-ab");
        assert_eq!(sanitize_id("a_b+c"), "aC95bC43c");
        let mut x = BTreeMap::new();
        assert_eq!(
            license("MIT AND BSD-2-Clause", &mut x),
            "MIT AND BSD-2-Clause"
        );
        assert_eq!(license("", &mut x), "NOASSERTION");
        assert_eq!(license("custom thing", &mut x), "LicenseRef-customC32thing");
        assert_eq!(x.len(), 1);
    }

    #[test]
    fn os_release() {
        let r = OsRelease::parse("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n");
        assert_eq!(
            (r.id.as_str(), r.version_id.as_str(), r.name.as_str()),
            ("alpine", "3.20.3", "Alpine Linux")
        );
    }
}
