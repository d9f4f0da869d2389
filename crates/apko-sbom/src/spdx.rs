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
    /// Other SPDX documents elements of this one refer to (`DocumentRef-…`), from the
    /// packages' own documents.
    #[serde(rename = "externalDocumentRefs", skip_serializing_if = "Vec::is_empty")]
    pub external_document_refs: Vec<ExternalDocumentRef>,
    /// Packages.
    pub packages: Vec<Package>,
    /// Files, from the packages' own documents.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<File>,
    /// Snippets, from the packages' own documents.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snippets: Vec<Snippet>,
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Identifier.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// Name.
    pub name: String,
    /// Version (left out when empty: only an element merged from a package's own document
    /// can lack one).
    #[serde(rename = "versionInfo", skip_serializing_if = "String::is_empty")]
    pub version_info: String,
    /// The file name of the package, when its own document gives it.
    #[serde(rename = "packageFileName", skip_serializing_if = "Option::is_none")]
    pub package_file_name: Option<String>,
    /// Whether the document lists the package's files (`CONTAINS` relationships to them);
    /// false for every package apko-rs describes itself.
    #[serde(rename = "filesAnalyzed")]
    pub files_analyzed: bool,
    /// The verification code over the package's files (only with `filesAnalyzed`).
    #[serde(
        rename = "packageVerificationCode",
        skip_serializing_if = "Option::is_none"
    )]
    pub verification_code: Option<VerificationCode>,
    /// Concluded licence.
    #[serde(rename = "licenseConcluded", skip_serializing_if = "Option::is_none")]
    pub license_concluded: Option<String>,
    /// Declared licence.
    #[serde(rename = "licenseDeclared", skip_serializing_if = "Option::is_none")]
    pub license_declared: Option<String>,
    /// Licences found in the package's files (only with `filesAnalyzed`).
    #[serde(rename = "licenseInfoFromFiles", skip_serializing_if = "Vec::is_empty")]
    pub license_info_from_files: Vec<String>,
    /// Comments on the licences.
    #[serde(rename = "licenseComments", skip_serializing_if = "Option::is_none")]
    pub license_comments: Option<String>,
    /// Summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Home page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homepage: Option<String>,
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
    /// Attribution texts.
    #[serde(rename = "attributionTexts", skip_serializing_if = "Vec::is_empty")]
    pub attribution_texts: Vec<String>,
    /// Release date (`YYYY-MM-DDThh:mm:ssZ`).
    #[serde(rename = "releaseDate", skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    /// Build date.
    #[serde(rename = "builtDate", skip_serializing_if = "Option::is_none")]
    pub built_date: Option<String>,
    /// End of support date.
    #[serde(rename = "validUntilDate", skip_serializing_if = "Option::is_none")]
    pub valid_until_date: Option<String>,
    /// Annotations: those of the package's own document, and what apko-rs could not merge
    /// from it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

/// `packageVerificationCode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerificationCode {
    /// The SHA-1 over the sorted file checksums.
    #[serde(rename = "packageVerificationCodeValue")]
    pub value: String,
    /// Files left out of it.
    #[serde(
        rename = "packageVerificationCodeExcludedFiles",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub excluded_files: Vec<String>,
}

/// A file, from a package's own document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct File {
    /// Identifier.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// Path as the package's document gives it.
    #[serde(rename = "fileName")]
    pub file_name: String,
    /// `SOURCE`, `BINARY`, ...
    #[serde(rename = "fileTypes", skip_serializing_if = "Vec::is_empty")]
    pub file_types: Vec<String>,
    /// Checksums (a SHA-1 always among them).
    pub checksums: Vec<Checksum>,
    /// Concluded licence.
    #[serde(rename = "licenseConcluded", skip_serializing_if = "Option::is_none")]
    pub license_concluded: Option<String>,
    /// Licences found in the file.
    #[serde(rename = "licenseInfoInFiles", skip_serializing_if = "Vec::is_empty")]
    pub license_info_in_files: Vec<String>,
    /// Comments on the licences.
    #[serde(rename = "licenseComments", skip_serializing_if = "Option::is_none")]
    pub license_comments: Option<String>,
    /// Copyright.
    #[serde(rename = "copyrightText", skip_serializing_if = "Option::is_none")]
    pub copyright_text: Option<String>,
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Notice.
    #[serde(rename = "noticeText", skip_serializing_if = "Option::is_none")]
    pub notice_text: Option<String>,
    /// Contributors.
    #[serde(rename = "fileContributors", skip_serializing_if = "Vec::is_empty")]
    pub file_contributors: Vec<String>,
    /// Attribution texts.
    #[serde(rename = "attributionTexts", skip_serializing_if = "Vec::is_empty")]
    pub attribution_texts: Vec<String>,
    /// Annotations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

/// A snippet, from a package's own document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snippet {
    /// Identifier.
    #[serde(rename = "SPDXID")]
    pub spdx_id: String,
    /// The file it is part of.
    #[serde(rename = "snippetFromFile")]
    pub snippet_from_file: String,
    /// Byte and line ranges in that file.
    pub ranges: Vec<SnippetRange>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Concluded licence.
    #[serde(rename = "licenseConcluded", skip_serializing_if = "Option::is_none")]
    pub license_concluded: Option<String>,
    /// Licences found in the snippet.
    #[serde(
        rename = "licenseInfoInSnippets",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub license_info_in_snippets: Vec<String>,
    /// Comments on the licences.
    #[serde(rename = "licenseComments", skip_serializing_if = "Option::is_none")]
    pub license_comments: Option<String>,
    /// Copyright.
    #[serde(rename = "copyrightText", skip_serializing_if = "Option::is_none")]
    pub copyright_text: Option<String>,
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Attribution texts.
    #[serde(rename = "attributionTexts", skip_serializing_if = "Vec::is_empty")]
    pub attribution_texts: Vec<String>,
    /// Annotations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

/// One range of a snippet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnippetRange {
    /// Start.
    #[serde(rename = "startPointer")]
    pub start_pointer: SnippetPointer,
    /// End.
    #[serde(rename = "endPointer")]
    pub end_pointer: SnippetPointer,
}

/// A position in a file: a byte offset or a line number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnippetPointer {
    /// The file.
    pub reference: String,
    /// Byte offset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Line number.
    #[serde(rename = "lineNumber", skip_serializing_if = "Option::is_none")]
    pub line_number: Option<u64>,
}

/// A reference to another SPDX document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalDocumentRef {
    /// `DocumentRef-…`.
    #[serde(rename = "externalDocumentId")]
    pub external_document_id: String,
    /// The document's namespace URI.
    #[serde(rename = "spdxDocument")]
    pub spdx_document: String,
    /// Its SHA-1.
    pub checksum: Checksum,
}

/// An annotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    /// `Tool: …`, `Person: …` or `Organization: …`.
    pub annotator: String,
    /// `YYYY-MM-DDThh:mm:ssZ`.
    #[serde(rename = "annotationDate")]
    pub annotation_date: String,
    /// `REVIEW` or `OTHER`.
    #[serde(rename = "annotationType")]
    pub annotation_type: String,
    /// The text.
    pub comment: String,
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
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// A relationship.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
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
    /// Comment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Where the licence is published.
    #[serde(rename = "seeAlso", skip_serializing_if = "Vec::is_empty")]
    pub see_also: Vec<String>,
}
