//! The SPDX documents packages ship (`/var/lib/db/sbom/*.spdx.json`, written by melange), read
//! leniently: every field optional, `null` as absent, unknown fields ignored. Whatever does not
//! fit this model, or exceeds the limits, is refused as a whole with a reason.

use serde::{Deserialize, Deserializer};

/// The largest package document merged (16 MiB); a larger one is skipped.
pub const MAX_DOCUMENT_BYTES: usize = 16 << 20;
/// At most this many packages, files and snippets in one package document.
pub const MAX_ELEMENTS: usize = 100_000;
/// At most this many relationships in one package document.
pub const MAX_RELATIONSHIPS: usize = 200_000;
/// At most this many licences, external document references and annotations (each) in one
/// package document.
pub const MAX_SMALL_LISTS: usize = 10_000;

fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A package's SPDX document.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct InDocument {
    #[serde(rename = "SPDXID", default, deserialize_with = "nullable")]
    pub(crate) spdx_id: String,
    #[serde(rename = "spdxVersion", default, deserialize_with = "nullable")]
    pub(crate) spdx_version: String,
    #[serde(rename = "documentDescribes", default, deserialize_with = "nullable")]
    pub(crate) describes: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) packages: Vec<InPackage>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) files: Vec<InFile>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) snippets: Vec<InSnippet>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) relationships: Vec<InRelationship>,
    #[serde(
        rename = "hasExtractedLicensingInfos",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) licenses: Vec<InLicense>,
    #[serde(
        rename = "externalDocumentRefs",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) document_refs: Vec<InDocumentRef>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) annotations: Vec<InAnnotation>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InPackage {
    #[serde(rename = "SPDXID", default, deserialize_with = "nullable")]
    pub(crate) spdx_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) name: String,
    #[serde(rename = "versionInfo", default)]
    pub(crate) version_info: Option<String>,
    #[serde(rename = "packageFileName", default)]
    pub(crate) package_file_name: Option<String>,
    #[serde(default)]
    pub(crate) supplier: Option<String>,
    #[serde(default)]
    pub(crate) originator: Option<String>,
    #[serde(rename = "downloadLocation", default)]
    pub(crate) download_location: Option<String>,
    #[serde(rename = "packageVerificationCode", default)]
    pub(crate) verification_code: Option<InVerificationCode>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) checksums: Vec<InChecksum>,
    #[serde(default)]
    pub(crate) homepage: Option<String>,
    #[serde(rename = "sourceInfo", default)]
    pub(crate) source_info: Option<String>,
    #[serde(rename = "licenseConcluded", default)]
    pub(crate) license_concluded: Option<String>,
    #[serde(
        rename = "licenseInfoFromFiles",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) license_info_from_files: Vec<String>,
    #[serde(rename = "licenseDeclared", default)]
    pub(crate) license_declared: Option<String>,
    #[serde(rename = "licenseComments", default)]
    pub(crate) license_comments: Option<String>,
    #[serde(rename = "copyrightText", default)]
    pub(crate) copyright_text: Option<String>,
    #[serde(default)]
    pub(crate) summary: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) comment: Option<String>,
    #[serde(rename = "externalRefs", default, deserialize_with = "nullable")]
    pub(crate) external_refs: Vec<InExternalRef>,
    #[serde(rename = "attributionTexts", default, deserialize_with = "nullable")]
    pub(crate) attribution_texts: Vec<String>,
    #[serde(rename = "primaryPackagePurpose", default)]
    pub(crate) primary_package_purpose: Option<String>,
    #[serde(rename = "releaseDate", default)]
    pub(crate) release_date: Option<String>,
    #[serde(rename = "builtDate", default)]
    pub(crate) built_date: Option<String>,
    #[serde(rename = "validUntilDate", default)]
    pub(crate) valid_until_date: Option<String>,
    #[serde(rename = "hasFiles", default, deserialize_with = "nullable")]
    pub(crate) has_files: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) annotations: Vec<InAnnotation>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InVerificationCode {
    #[serde(
        rename = "packageVerificationCodeValue",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) value: String,
    #[serde(
        rename = "packageVerificationCodeExcludedFiles",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) excluded_files: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InChecksum {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) algorithm: String,
    #[serde(rename = "checksumValue", default, deserialize_with = "nullable")]
    pub(crate) checksum_value: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InExternalRef {
    #[serde(rename = "referenceCategory", default, deserialize_with = "nullable")]
    pub(crate) category: String,
    #[serde(rename = "referenceType", default, deserialize_with = "nullable")]
    pub(crate) kind: String,
    #[serde(rename = "referenceLocator", default, deserialize_with = "nullable")]
    pub(crate) locator: String,
    #[serde(default)]
    pub(crate) comment: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InFile {
    #[serde(rename = "SPDXID", default, deserialize_with = "nullable")]
    pub(crate) spdx_id: String,
    #[serde(rename = "fileName", default, deserialize_with = "nullable")]
    pub(crate) file_name: String,
    #[serde(rename = "fileTypes", default, deserialize_with = "nullable")]
    pub(crate) file_types: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) checksums: Vec<InChecksum>,
    #[serde(rename = "licenseConcluded", default)]
    pub(crate) license_concluded: Option<String>,
    #[serde(rename = "licenseInfoInFiles", default, deserialize_with = "nullable")]
    pub(crate) license_info_in_files: Vec<String>,
    #[serde(rename = "licenseComments", default)]
    pub(crate) license_comments: Option<String>,
    #[serde(rename = "copyrightText", default)]
    pub(crate) copyright_text: Option<String>,
    #[serde(default)]
    pub(crate) comment: Option<String>,
    #[serde(rename = "noticeText", default)]
    pub(crate) notice_text: Option<String>,
    #[serde(rename = "fileContributors", default, deserialize_with = "nullable")]
    pub(crate) file_contributors: Vec<String>,
    #[serde(rename = "attributionTexts", default, deserialize_with = "nullable")]
    pub(crate) attribution_texts: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) annotations: Vec<InAnnotation>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InSnippet {
    #[serde(rename = "SPDXID", default, deserialize_with = "nullable")]
    pub(crate) spdx_id: String,
    #[serde(rename = "snippetFromFile", default, deserialize_with = "nullable")]
    pub(crate) snippet_from_file: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) ranges: Vec<InRange>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(rename = "licenseConcluded", default)]
    pub(crate) license_concluded: Option<String>,
    #[serde(
        rename = "licenseInfoInSnippets",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) license_info_in_snippets: Vec<String>,
    #[serde(rename = "licenseComments", default)]
    pub(crate) license_comments: Option<String>,
    #[serde(rename = "copyrightText", default)]
    pub(crate) copyright_text: Option<String>,
    #[serde(default)]
    pub(crate) comment: Option<String>,
    #[serde(rename = "attributionTexts", default, deserialize_with = "nullable")]
    pub(crate) attribution_texts: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) annotations: Vec<InAnnotation>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InRange {
    #[serde(rename = "startPointer", default)]
    pub(crate) start: Option<InPointer>,
    #[serde(rename = "endPointer", default)]
    pub(crate) end: Option<InPointer>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InPointer {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) reference: String,
    #[serde(default)]
    pub(crate) offset: Option<u64>,
    #[serde(rename = "lineNumber", default)]
    pub(crate) line_number: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InRelationship {
    #[serde(rename = "spdxElementId", default, deserialize_with = "nullable")]
    pub(crate) element: String,
    #[serde(rename = "relationshipType", default, deserialize_with = "nullable")]
    pub(crate) kind: String,
    #[serde(rename = "relatedSpdxElement", default, deserialize_with = "nullable")]
    pub(crate) related: String,
    #[serde(default)]
    pub(crate) comment: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InLicense {
    #[serde(rename = "licenseId", default, deserialize_with = "nullable")]
    pub(crate) license_id: String,
    #[serde(rename = "extractedText", default, deserialize_with = "nullable")]
    pub(crate) extracted_text: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) comment: Option<String>,
    #[serde(
        rename = "seeAlsos",
        alias = "seeAlso",
        default,
        deserialize_with = "nullable"
    )]
    pub(crate) see_also: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InDocumentRef {
    #[serde(rename = "externalDocumentId", default, deserialize_with = "nullable")]
    pub(crate) id: String,
    #[serde(rename = "spdxDocument", default, deserialize_with = "nullable")]
    pub(crate) spdx_document: String,
    #[serde(default)]
    pub(crate) checksum: Option<InChecksum>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct InAnnotation {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) annotator: String,
    #[serde(rename = "annotationDate", default, deserialize_with = "nullable")]
    pub(crate) annotation_date: String,
    #[serde(rename = "annotationType", default, deserialize_with = "nullable")]
    pub(crate) annotation_type: String,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) comment: String,
}

impl InDocument {
    /// Packages, files and snippets.
    pub(crate) fn elements(&self) -> usize {
        self.packages.len() + self.files.len() + self.snippets.len()
    }
}

/// Parses a package's document, or says why it is not used.
pub(crate) fn parse(json: &[u8]) -> Result<InDocument, String> {
    if json.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "larger than the limit of {} MiB",
            MAX_DOCUMENT_BYTES >> 20
        ));
    }
    let doc: InDocument =
        serde_json::from_slice(json).map_err(|e| format!("not an SPDX JSON document: {e}"))?;
    if !doc.spdx_version.starts_with("SPDX-2.") {
        return Err(format!(
            "not an SPDX 2 document (spdxVersion `{}`)",
            doc.spdx_version.escape_debug()
        ));
    }
    let too_many = |what: &str, n: usize, max: usize| {
        (n > max).then(|| format!("{n} {what}, more than the limit of {max}"))
    };
    if let Some(e) = too_many("packages, files and snippets", doc.elements(), MAX_ELEMENTS)
        .or_else(|| too_many("relationships", doc.relationships.len(), MAX_RELATIONSHIPS))
        .or_else(|| too_many("licences", doc.licenses.len(), MAX_SMALL_LISTS))
        .or_else(|| {
            too_many(
                "external document references",
                doc.document_refs.len(),
                MAX_SMALL_LISTS,
            )
        })
        .or_else(|| too_many("annotations", doc.annotations.len(), MAX_SMALL_LISTS))
    {
        return Err(e);
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals() {
        assert!(parse(b"not json").unwrap_err().contains("not an SPDX JSON"));
        assert!(parse(b"[1, 2]").unwrap_err().contains("not an SPDX JSON"));
        assert!(
            parse(br#"{"spdxVersion": "SPDX-3.0"}"#)
                .unwrap_err()
                .contains("not an SPDX 2")
        );
        assert!(parse(br"{}").unwrap_err().contains("not an SPDX 2"));
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(parse(&big).unwrap_err().contains("limit of 16 MiB"));
        let deep = "[".repeat(10_000);
        assert!(parse(deep.as_bytes()).is_err());
    }

    #[test]
    fn nulls_are_absent() {
        let d = parse(
            br#"{"spdxVersion": "SPDX-2.3", "packages": null, "files": [{"SPDXID": null, "checksums": null}]}"#,
        )
        .unwrap();
        assert!(d.packages.is_empty());
        assert_eq!(d.files.len(), 1);
    }
}
