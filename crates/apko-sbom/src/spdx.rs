//! SPDX 2.3 JSON types, with keys in apko's order.

use serde::Serialize;

/// An SPDX document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Document {
    /// Always `SPDXRef-DOCUMENT`.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// Document name.
    pub name: String,
    /// `SPDX-2.3`.
    #[serde(rename = "spdxVersion")]
    pub spdx_version: String,
    /// Who and when.
    #[serde(rename = "creationInfo")]
    pub creation_info: CreationInfo,
    /// `CC0-1.0`.
    #[serde(rename = "dataLicense")]
    pub data_license: String,
    /// Unique URI of the document (derived from the content digest).
    #[serde(rename = "documentNamespace")]
    pub document_namespace: String,
    /// What the document describes.
    #[serde(rename = "documentDescribes")]
    pub document_describes: Vec<String>,
    /// Packages.
    pub packages: Vec<Package>,
    /// Relationships.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub relationships: Vec<Relationship>,
    /// Licences that are not on the SPDX list.
    #[serde(
        rename = "hasExtractedLicensingInfos",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub extracted_licensing_infos: Vec<ExtractedLicense>,
}

/// `creationInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreationInfo {
    /// RFC 3339 time.
    pub created: String,
    /// `Tool: …`, `Organization: …`.
    pub creators: Vec<String>,
    /// The SPDX licence list version licence ids refer to.
    #[serde(rename = "licenseListVersion")]
    pub license_list_version: String,
}

/// A package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Identifier.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// Name.
    pub name: String,
    /// Version.
    #[serde(rename = "versionInfo")]
    pub version_info: String,
    /// Always false (no per-file data).
    #[serde(rename = "filesAnalyzed")]
    pub files_analyzed: bool,
    /// Concluded licence.
    #[serde(rename = "licenseConcluded", skip_serializing_if = "Option::is_none")]
    pub license_concluded: Option<String>,
    /// Declared licence.
    #[serde(rename = "licenseDeclared", skip_serializing_if = "Option::is_none")]
    pub license_declared: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where it can be downloaded.
    #[serde(rename = "downloadLocation")]
    pub download_location: String,
    /// Originator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub originator: Option<String>,
    /// Supplier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// Copyright.
    #[serde(rename = "copyrightText", skip_serializing_if = "Option::is_none")]
    pub copyright_text: Option<String>,
    /// Source information.
    #[serde(rename = "sourceInfo", skip_serializing_if = "Option::is_none")]
    pub source_info: Option<String>,
    /// `CONTAINER`, `OPERATING_SYSTEM`, `APPLICATION`, ...
    #[serde(
        rename = "primaryPackagePurpose",
        skip_serializing_if = "Option::is_none"
    )]
    pub primary_package_purpose: Option<String>,
    /// Checksums.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checksums: Vec<Checksum>,
    /// External references (purls).
    #[serde(rename = "externalRefs", skip_serializing_if = "Vec::is_empty")]
    pub external_refs: Vec<ExternalRef>,
}

/// A checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checksum {
    /// `SHA1`, `SHA256`.
    pub algorithm: String,
    /// Lower-case hex.
    #[serde(rename = "checksumValue")]
    pub checksum_value: String,
}

/// An external reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalRef {
    /// `PACKAGE-MANAGER`.
    #[serde(rename = "referenceCategory")]
    pub reference_category: String,
    /// The purl.
    #[serde(rename = "referenceLocator")]
    pub reference_locator: String,
    /// `purl`.
    #[serde(rename = "referenceType")]
    pub reference_type: String,
}

/// A relationship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Relationship {
    /// From.
    #[serde(rename = "spdxElementId")]
    pub spdx_element_id: String,
    /// `DESCRIBES`, `CONTAINS`, `DEPENDS_ON`, `VARIANT_OF`, ...
    #[serde(rename = "relationshipType")]
    pub relationship_type: String,
    /// To.
    #[serde(rename = "relatedSpdxElement")]
    pub related_spdx_element: String,
}

/// A licence that is not on the SPDX list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExtractedLicense {
    /// `LicenseRef-…`.
    #[serde(rename = "licenseId")]
    pub license_id: String,
    /// The text as the package declares it.
    #[serde(rename = "extractedText")]
    pub extracted_text: String,
    /// A name.
    pub name: String,
}
