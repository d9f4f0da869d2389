//! Merging the SPDX documents packages ship into the image's document (docs/sbom.md, "The
//! packages' own documents").
//!
//! Every element of a package's document gets a new identifier,
//! `SPDXRef-apk-<name>-<version>-<old identifier without SPDXRef->` (made unique when two
//! collide), except two: the package the document describes that is the APK itself (same name
//! and version) becomes the APK's own element, merged field by field, and an
//! `OPERATING_SYSTEM` package becomes the image's operating system element. What the document
//! `DESCRIBES` becomes a relationship from the APK (`GENERATED_FROM` a `SOURCE` package,
//! `CONTAINS` anything else). Values SPDX 2.3 does not allow are normalised or left out, and
//! relationships naming unknown elements are dropped; the APK element records, as an
//! annotation, a document it could not use and how many elements it left out of one it used.

use crate::build::{OsRelease, intern_license, license, rel, sanitize_id, supplier};
use crate::package_doc::{
    self, InAnnotation, InChecksum, InDocument, InExternalRef, InPackage, InVerificationCode,
};
use crate::spdx::{
    Annotation, Checksum, Document, ExternalDocumentRef, ExternalRef, ExtractedLicense, File,
    Package, Relationship, Snippet, SnippetPointer, SnippetRange, VerificationCode,
};
use apko_apk::PackageName;
use apko_apk::info::PackageInfo;
use std::collections::{BTreeMap, BTreeSet};

/// The text recorded for a licence a package's document names without giving its text.
const NO_TEXT: &str = "(the text of this licence is not given by the package's SPDX document)";

/// At most this many elements are merged from all the packages' documents of one image; a
/// document that would go past it is skipped.
pub const MAX_MERGED_ELEMENTS: usize = 1_000_000;

/// The SPDX document a package ships, as found in the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageSpdx {
    /// The installed package it belongs to.
    pub package: PackageName,
    /// Where it is in the image (for the record of a skipped document).
    pub path: String,
    /// Its bytes (at most [`MAX_DOCUMENT_BYTES`](crate::MAX_DOCUMENT_BYTES) are looked at; a
    /// caller may pass one byte more to say that the file is larger), or why it could not be
    /// read.
    pub json: Result<Vec<u8>, String>,
}

/// What the image document already holds.
pub(crate) struct Target<'a> {
    pub(crate) packages: &'a [&'a PackageInfo],
    /// SPDX identifier of each package's element, by package name.
    pub(crate) ids: &'a BTreeMap<&'a str, String>,
    pub(crate) os_id: &'a str,
    pub(crate) os: &'a OsRelease,
    pub(crate) created: &'a str,
    pub(crate) tool: &'a str,
}

const RELATIONSHIP_TYPES: &[&str] = &[
    "AMENDS",
    "ANCESTOR_OF",
    "BUILD_DEPENDENCY_OF",
    "BUILD_TOOL_OF",
    "CONTAINED_BY",
    "CONTAINS",
    "COPY_OF",
    "DATA_FILE_OF",
    "DEPENDENCY_MANIFEST_OF",
    "DEPENDENCY_OF",
    "DEPENDS_ON",
    "DESCENDANT_OF",
    "DESCRIBED_BY",
    "DESCRIBES",
    "DEV_DEPENDENCY_OF",
    "DEV_TOOL_OF",
    "DISTRIBUTION_ARTIFACT",
    "DOCUMENTATION_OF",
    "DYNAMIC_LINK",
    "EXAMPLE_OF",
    "EXPANDED_FROM_ARCHIVE",
    "FILE_ADDED",
    "FILE_DELETED",
    "FILE_MODIFIED",
    "GENERATED_FROM",
    "GENERATES",
    "HAS_PREREQUISITE",
    "METAFILE_OF",
    "OPTIONAL_COMPONENT_OF",
    "OPTIONAL_DEPENDENCY_OF",
    "OTHER",
    "PACKAGE_OF",
    "PATCH_APPLIED",
    "PATCH_FOR",
    "PREREQUISITE_FOR",
    "PROVIDED_DEPENDENCY_OF",
    "REQUIREMENT_DESCRIPTION_FOR",
    "RUNTIME_DEPENDENCY_OF",
    "SPECIFICATION_FOR",
    "STATIC_LINK",
    "TEST_CASE_OF",
    "TEST_DEPENDENCY_OF",
    "TEST_OF",
    "TEST_TOOL_OF",
    "VARIANT_OF",
];

const PURPOSES: &[&str] = &[
    "APPLICATION",
    "ARCHIVE",
    "CONTAINER",
    "DEVICE",
    "FILE",
    "FIRMWARE",
    "FRAMEWORK",
    "INSTALL",
    "LIBRARY",
    "OPERATING_SYSTEM",
    "OTHER",
    "SOURCE",
];

const FILE_TYPES: &[&str] = &[
    "APPLICATION",
    "ARCHIVE",
    "AUDIO",
    "BINARY",
    "DOCUMENTATION",
    "IMAGE",
    "OTHER",
    "SOURCE",
    "SPDX",
    "TEXT",
    "VIDEO",
];

/// Checksum algorithms and the number of hex digits of their values.
const ALGORITHMS: &[(&str, usize)] = &[
    ("ADLER32", 8),
    ("BLAKE2b-256", 64),
    ("BLAKE2b-384", 96),
    ("BLAKE2b-512", 128),
    ("MD2", 32),
    ("MD4", 32),
    ("MD5", 32),
    ("SHA1", 40),
    ("SHA224", 56),
    ("SHA256", 64),
    ("SHA3-256", 64),
    ("SHA3-384", 96),
    ("SHA3-512", 128),
    ("SHA384", 96),
    ("SHA512", 128),
];

/// Reference types allowed in each category other than `OTHER`.
const REFERENCE_TYPES: &[(&str, &[&str])] = &[
    (
        "SECURITY",
        &["cpe22Type", "cpe23Type", "advisory", "fix", "url", "swid"],
    ),
    (
        "PACKAGE-MANAGER",
        &["maven-central", "npm", "nuget", "bower", "purl"],
    ),
    ("PERSISTENT-ID", &["swh", "gitoid"]),
];

/// Merges `documents` into `doc` (whose licences are in `extracted` until the caller stores
/// them).
pub(crate) fn merge(
    doc: &mut Document,
    extracted: &mut BTreeMap<String, ExtractedLicense>,
    t: &Target<'_>,
    documents: &[PackageSpdx],
) {
    if documents.is_empty() {
        return;
    }
    let mut by_name: BTreeMap<&str, &PackageSpdx> = BTreeMap::new();
    for d in documents {
        by_name.entry(d.package.as_str()).or_insert(d);
    }
    let mut state = State {
        used: doc.packages.iter().map(|p| p.spdx_id.clone()).collect(),
        relationships: BTreeSet::new(),
        packages: Vec::new(),
        files: Vec::new(),
        snippets: Vec::new(),
        document_refs: BTreeMap::new(),
        budget: MAX_MERGED_ELEMENTS,
    };
    state.used.insert(doc.spdx_id.clone());
    for p in t.packages {
        let Some(d) = by_name.get(p.name.as_str()) else {
            continue;
        };
        let apk_id = &t.ids[p.name.as_str()];
        let Some(apk) = doc.packages.iter_mut().find(|e| &e.spdx_id == apk_id) else {
            continue;
        };
        let parsed = d
            .json
            .as_ref()
            .map_err(|e| format!("unreadable: {e}"))
            .and_then(|j| package_doc::parse(j));
        let input = match parsed {
            Ok(input) if input.elements() > state.budget => Err(format!(
                "the packages' documents of this image would hold more than {MAX_MERGED_ELEMENTS} elements"
            )),
            other => other,
        };
        match input {
            Err(reason) => apk
                .annotations
                .push(note(t, format!("{}: not merged: {reason}", d.path))),
            Ok(input) => {
                state.budget -= input.elements();
                let dropped = DocMerge {
                    t,
                    p,
                    apk_id,
                    state: &mut state,
                    extracted,
                    ids: BTreeMap::new(),
                    refs: BTreeMap::new(),
                    licenses: BTreeMap::new(),
                    purposes: BTreeMap::new(),
                    dropped: 0,
                }
                .run(input, apk);
                if dropped > 0 {
                    apk.annotations.push(note(
                        t,
                        format!(
                            "{}: merged without {dropped} elements, relationships or values that are not valid SPDX 2.3 or name unknown elements",
                            d.path
                        ),
                    ));
                }
            }
        }
    }
    let existing: BTreeSet<&Relationship> = doc.relationships.iter().collect();
    let new: Vec<Relationship> = state
        .relationships
        .into_iter()
        .filter(|r| !existing.contains(r))
        .collect();
    doc.relationships.extend(new);
    state.packages.sort_by(|a, b| a.spdx_id.cmp(&b.spdx_id));
    doc.packages.extend(state.packages);
    state.files.sort_by(|a, b| a.spdx_id.cmp(&b.spdx_id));
    doc.files = state.files;
    state.snippets.sort_by(|a, b| a.spdx_id.cmp(&b.spdx_id));
    doc.snippets = state.snippets;
    doc.external_document_refs = state.document_refs.into_values().collect();
    files_analyzed(doc);
}

/// A package contains files (and has `filesAnalyzed`) exactly when a relationship says so;
/// the verification code and licences from files go with it.
fn files_analyzed(doc: &mut Document) {
    let files: BTreeSet<&str> = doc.files.iter().map(|f| f.spdx_id.as_str()).collect();
    let mut with_files: BTreeSet<String> = BTreeSet::new();
    for r in &doc.relationships {
        match r.relationship_type.as_str() {
            "CONTAINS" if files.contains(r.related_spdx_element.as_str()) => {
                with_files.insert(r.spdx_element_id.clone());
            }
            "CONTAINED_BY" if files.contains(r.spdx_element_id.as_str()) => {
                with_files.insert(r.related_spdx_element.clone());
            }
            _ => {}
        }
    }
    for p in &mut doc.packages {
        p.files_analyzed = with_files.contains(&p.spdx_id);
        if !p.files_analyzed {
            p.verification_code = None;
            p.license_info_from_files.clear();
        }
    }
}

fn note(t: &Target<'_>, comment: String) -> Annotation {
    Annotation {
        annotator: format!("Tool: {}", t.tool),
        annotation_date: t.created.to_owned(),
        annotation_type: "OTHER".into(),
        comment,
    }
}

/// What all documents share.
struct State {
    /// Every SPDX identifier in the image document.
    used: BTreeSet<String>,
    relationships: BTreeSet<Relationship>,
    packages: Vec<Package>,
    files: Vec<File>,
    snippets: Vec<Snippet>,
    document_refs: BTreeMap<String, ExternalDocumentRef>,
    budget: usize,
}

impl State {
    /// `candidate`, or the first free `<candidate>-<n>`.
    fn fresh(&mut self, candidate: &str) -> String {
        let mut id = candidate.to_owned();
        let mut n = 1;
        while self.used.contains(&id) {
            n += 1;
            id = format!("{candidate}-{n}");
        }
        self.used.insert(id.clone());
        id
    }
}

/// One package's document being merged.
struct DocMerge<'a, 't> {
    t: &'a Target<'t>,
    p: &'a PackageInfo,
    apk_id: &'a str,
    state: &'a mut State,
    extracted: &'a mut BTreeMap<String, ExtractedLicense>,
    /// Old element identifier → new.
    ids: BTreeMap<String, String>,
    /// Old `DocumentRef-` → new.
    refs: BTreeMap<String, String>,
    /// Old `LicenseRef-` → new.
    licenses: BTreeMap<String, String>,
    /// New package identifier → its purpose.
    purposes: BTreeMap<String, String>,
    dropped: usize,
}

impl DocMerge<'_, '_> {
    /// Merges `input`, the APK's main element into `apk`; returns how much was left out.
    fn run(mut self, mut input: InDocument, apk: &mut Package) -> usize {
        let doc_ids: BTreeSet<String> = [input.spdx_id.clone(), "SPDXRef-DOCUMENT".to_owned()]
            .into_iter()
            .collect();
        let mut described: BTreeSet<String> = input.describes.iter().cloned().collect();
        for r in &input.relationships {
            match r.kind.as_str() {
                "DESCRIBES" if doc_ids.contains(&r.element) => {
                    described.insert(r.related.clone());
                }
                "DESCRIBED_BY" if doc_ids.contains(&r.related) => {
                    described.insert(r.element.clone());
                }
                _ => {}
            }
        }
        let is_apk = |q: &InPackage| {
            q.name == self.p.name.as_str()
                && q.version_info.as_deref() == Some(self.p.version.as_str())
        };
        let main = input
            .packages
            .iter()
            .position(|q| is_apk(q) && (described.is_empty() || described.contains(&q.spdx_id)));

        self.document_refs(&mut input);
        self.licenses(&mut input);

        // New identifiers.
        let prefix = format!("SPDXRef-apk-{}-", sanitize_id(&self.p.name_version()));
        let keep = |this: &mut Self, old: &str, new: Option<String>| -> Option<String> {
            if this.ids.contains_key(old) || doc_ids.contains(old) {
                this.dropped += 1;
                return None;
            }
            let new = new.unwrap_or_else(|| {
                let rest = old.strip_prefix("SPDXRef-").unwrap_or(old);
                this.state.fresh(&format!("{prefix}{}", sanitize_id(rest)))
            });
            this.ids.insert(old.to_owned(), new.clone());
            Some(new)
        };
        let mut packages = Vec::new();
        for (i, q) in input.packages.iter().enumerate() {
            let purpose = q.primary_package_purpose.as_deref().and_then(purpose);
            let new = if Some(i) == main {
                Some(self.apk_id.to_owned())
            } else if purpose.as_deref() == Some("OPERATING_SYSTEM") {
                Some(self.t.os_id.to_owned())
            } else {
                None
            };
            if let Some(id) = keep(&mut self, &q.spdx_id, new) {
                if let Some(purpose) = purpose {
                    self.purposes.insert(id.clone(), purpose);
                }
                packages.push((i, id));
            }
        }
        let mut files = Vec::new();
        for (i, f) in input.files.iter().enumerate() {
            if let Some(id) = keep(&mut self, &f.spdx_id, None) {
                files.push((i, id));
            }
        }
        let mut snippets = Vec::new();
        for (i, s) in input.snippets.iter().enumerate() {
            if let Some(id) = keep(&mut self, &s.spdx_id, None) {
                snippets.push((i, id));
            }
        }

        // Elements.
        let mut file_ids = BTreeSet::new();
        for (i, id) in files {
            if let Some(f) = self.file(&input.files[i], id) {
                file_ids.insert(f.spdx_id.clone());
                self.state.files.push(f);
            }
        }
        for (i, id) in snippets {
            if let Some(s) = self.snippet(&input.snippets[i], id, &file_ids) {
                self.state.snippets.push(s);
            }
        }
        for (i, id) in packages {
            let q = &input.packages[i];
            for f in &q.has_files {
                self.relationship(&q.spdx_id, "CONTAINS", f, None);
            }
            if id == self.t.os_id {
                continue;
            }
            let converted = self.package(q, id);
            if Some(i) == main {
                let expression = q
                    .license_declared
                    .as_deref()
                    .is_some_and(|l| spdx::Expression::parse(l.trim()).is_ok());
                merge_into(apk, converted, expression);
            } else {
                self.state.packages.push(converted);
            }
        }
        for a in &input.annotations {
            if let Some(a) = annotation(a) {
                apk.annotations.push(a);
            } else {
                self.dropped += 1;
            }
        }

        // Relationships.
        let apk_id = self.apk_id.to_owned();
        for old in std::mem::take(&mut described) {
            self.describes(&old);
        }
        for r in std::mem::take(&mut input.relationships) {
            let kind = r.kind.to_ascii_uppercase().replace('-', "_");
            let from_doc = doc_ids.contains(&r.element);
            let to_doc = doc_ids.contains(&r.related);
            if (kind == "DESCRIBES" && from_doc) || (kind == "DESCRIBED_BY" && to_doc) {
                continue;
            }
            let element = if from_doc { &apk_id } else { &r.element };
            let related = if to_doc { &apk_id } else { &r.related };
            self.relationship(element, &kind, related, r.comment);
        }
        self.dropped
    }

    /// A described element `old`: nothing for the APK itself, else a relationship from it.
    fn describes(&mut self, old: &str) {
        let Some(new) = self.ids.get(old).cloned() else {
            self.dropped += 1;
            return;
        };
        if new == self.apk_id || new == self.t.os_id {
            return;
        }
        let kind = if self.purposes.get(&new).map(String::as_str) == Some("SOURCE") {
            "GENERATED_FROM"
        } else {
            "CONTAINS"
        };
        self.state
            .relationships
            .insert(rel(self.apk_id, kind, &new));
    }

    /// A relationship of the package's document, rewritten; dropped when it names an unknown
    /// element or type.
    fn relationship(&mut self, element: &str, kind: &str, related: &str, comment: Option<String>) {
        let kind = kind.to_ascii_uppercase().replace('-', "_");
        let (Some(a), Some(b)) = (self.element_ref(element), self.element_ref(related)) else {
            self.dropped += 1;
            return;
        };
        if !RELATIONSHIP_TYPES.contains(&kind.as_str())
            || matches!(a.as_str(), "NONE" | "NOASSERTION")
        {
            self.dropped += 1;
            return;
        }
        if a == b {
            return;
        }
        let mut r = rel(&a, &kind, &b);
        r.comment = comment;
        self.state.relationships.insert(r);
    }

    /// An element reference rewritten: a known element, the APK for the document itself,
    /// `NONE`, `NOASSERTION`, or an element of a known external document.
    fn element_ref(&self, old: &str) -> Option<String> {
        if old == self.apk_id {
            return Some(old.to_owned());
        }
        if let Some(new) = self.ids.get(old) {
            return Some(new.clone());
        }
        if matches!(old, "NONE" | "NOASSERTION") {
            return Some(old.to_owned());
        }
        let (doc, id) = old.split_once(':')?;
        let doc = self.refs.get(doc)?;
        let id = id.strip_prefix("SPDXRef-")?;
        (!id.is_empty() && id.bytes().all(id_byte)).then(|| format!("{doc}:SPDXRef-{id}"))
    }

    fn document_refs(&mut self, input: &mut InDocument) {
        for r in std::mem::take(&mut input.document_refs) {
            let (Some(checksum), false) = (
                r.checksum.as_ref().and_then(checksum),
                r.spdx_document.trim().is_empty() || r.spdx_document.contains(char::is_whitespace),
            ) else {
                self.dropped += 1;
                continue;
            };
            let rest = r.id.strip_prefix("DocumentRef-").unwrap_or(&r.id);
            let base = format!("DocumentRef-{}", sanitize_id(rest));
            let mut id = base.clone();
            let mut n = 1;
            loop {
                match self.state.document_refs.get(&id) {
                    Some(e) if e.spdx_document == r.spdx_document && e.checksum == checksum => {
                        break;
                    }
                    Some(_) => {
                        n += 1;
                        id = format!("{base}-{n}");
                    }
                    None => {
                        self.state.document_refs.insert(
                            id.clone(),
                            ExternalDocumentRef {
                                external_document_id: id.clone(),
                                spdx_document: r.spdx_document.clone(),
                                checksum,
                            },
                        );
                        break;
                    }
                }
            }
            self.refs.entry(r.id).or_insert(id);
        }
    }

    fn licenses(&mut self, input: &mut InDocument) {
        for l in std::mem::take(&mut input.licenses) {
            let rest = l
                .license_id
                .strip_prefix("LicenseRef-")
                .unwrap_or(&l.license_id);
            if rest.is_empty() {
                self.dropped += 1;
                continue;
            }
            let text = if l.extracted_text.trim().is_empty() {
                NO_TEXT.to_owned()
            } else {
                l.extracted_text
            };
            let id = intern_license(
                self.extracted,
                ExtractedLicense {
                    license_id: format!("LicenseRef-{}", sanitize_id(rest)),
                    extracted_text: text,
                    name: l
                        .name
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or_else(|| l.license_id.clone()),
                    comment: l.comment,
                    see_also: l.see_also.into_iter().filter(|u| url(u)).collect(),
                },
            );
            self.licenses.entry(l.license_id).or_insert(id);
        }
    }

    /// A licence expression of the package's document: its `LicenseRef-`s and
    /// `DocumentRef-`s renamed, or, when it is not a valid expression, a `LicenseRef-` with
    /// its text (as for an APK's own licence).
    fn license(&mut self, value: Option<&str>) -> Option<String> {
        let text = value?.trim();
        if text.is_empty() {
            return None;
        }
        if matches!(text, "NONE" | "NOASSERTION") {
            return Some(text.to_owned());
        }
        let mut out = String::with_capacity(text.len());
        let mut ok = true;
        let mut token = String::new();
        let mut flush = |this: &mut Self, token: &mut String, out: &mut String| {
            if !token.is_empty() {
                match this.license_token(token) {
                    Some(t) => out.push_str(&t),
                    None => ok = false,
                }
                token.clear();
            }
        };
        for c in text.chars() {
            if c.is_whitespace() || c == '(' || c == ')' {
                flush(self, &mut token, &mut out);
                out.push(c);
            } else {
                token.push(c);
            }
        }
        flush(self, &mut token, &mut out);
        if ok && spdx::Expression::parse(&out).is_ok() {
            Some(out)
        } else {
            Some(license(text, self.extracted))
        }
    }

    fn license_token(&mut self, token: &str) -> Option<String> {
        if let Some((doc, lic)) = token.split_once(':') {
            let doc = self.refs.get(doc)?;
            return lic
                .strip_prefix("LicenseRef-")
                .filter(|l| !l.is_empty() && l.bytes().all(id_byte))
                .map(|_| format!("{doc}:{lic}"));
        }
        if !token.starts_with("LicenseRef-") {
            return Some(token.to_owned());
        }
        if let Some(new) = self.licenses.get(token) {
            return Some(new.clone());
        }
        // Named without its text: recorded so that the expression stays valid.
        let rest = &token["LicenseRef-".len()..];
        if rest.is_empty() {
            return None;
        }
        let id = intern_license(
            self.extracted,
            ExtractedLicense {
                license_id: format!("LicenseRef-{}", sanitize_id(rest)),
                extracted_text: NO_TEXT.into(),
                name: token.to_owned(),
                comment: Some(format!(
                    "named without its text by the SPDX document of {}",
                    self.p.name_version()
                )),
                see_also: Vec::new(),
            },
        );
        self.licenses.insert(token.to_owned(), id.clone());
        Some(id)
    }

    fn licenses_list(&mut self, values: &[String]) -> Vec<String> {
        let mut out: Vec<String> = values
            .iter()
            .filter_map(|v| self.license(Some(v)))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn package(&mut self, q: &InPackage, spdx_id: String) -> Package {
        let purpose = self.purposes.get(&spdx_id).cloned();
        let mut external_refs: Vec<ExternalRef> =
            q.external_refs.iter().filter_map(external_ref).collect();
        if external_refs.len() != q.external_refs.len() {
            self.dropped += q.external_refs.len() - external_refs.len();
        }
        external_refs.sort_by(|a, b| {
            (
                &a.reference_category,
                &a.reference_type,
                &a.reference_locator,
            )
                .cmp(&(
                    &b.reference_category,
                    &b.reference_type,
                    &b.reference_locator,
                ))
        });
        external_refs.dedup();
        let annotations = q.annotations.iter().filter_map(annotation).collect();
        Package {
            spdx_id,
            name: if q.name.trim().is_empty() {
                q.spdx_id.clone()
            } else {
                q.name.clone()
            },
            version_info: q.version_info.clone().unwrap_or_default(),
            package_file_name: text(q.package_file_name.as_ref()),
            files_analyzed: false,
            verification_code: q.verification_code.as_ref().and_then(verification_code),
            license_concluded: self.license(q.license_concluded.as_deref()),
            license_declared: self.license(q.license_declared.as_deref()),
            license_info_from_files: self.licenses_list(&q.license_info_from_files),
            license_comments: text(q.license_comments.as_ref()),
            summary: text(q.summary.as_ref()),
            description: text(q.description.as_ref()),
            comment: text(q.comment.as_ref()),
            homepage: q
                .homepage
                .clone()
                .filter(|u| u == "NONE" || u == "NOASSERTION" || url(u)),
            download_location: q
                .download_location
                .clone()
                .filter(|u| download_location(u))
                .unwrap_or_else(|| "NOASSERTION".into()),
            originator: q.originator.clone().filter(|a| actor(a)),
            supplier: Some(
                q.supplier
                    .clone()
                    .filter(|a| actor(a))
                    .unwrap_or_else(|| supplier(self.t.os)),
            ),
            copyright_text: q.copyright_text.clone().filter(|c| !c.trim().is_empty()),
            source_info: text(q.source_info.as_ref()),
            primary_package_purpose: purpose,
            checksums: checksums(&q.checksums),
            external_refs,
            attribution_texts: q.attribution_texts.clone(),
            release_date: q.release_date.clone().filter(|d| date(d)),
            built_date: q.built_date.clone().filter(|d| date(d)),
            valid_until_date: q.valid_until_date.clone().filter(|d| date(d)),
            annotations,
        }
    }

    fn file(&mut self, f: &package_doc::InFile, spdx_id: String) -> Option<File> {
        let checksums = checksums(&f.checksums);
        if f.file_name.is_empty() || !checksums.iter().any(|c| c.algorithm == "SHA1") {
            self.dropped += 1;
            return None;
        }
        let mut file_types: Vec<String> = f
            .file_types
            .iter()
            .map(|t| t.to_ascii_uppercase())
            .filter(|t| FILE_TYPES.contains(&t.as_str()))
            .collect();
        file_types.sort();
        file_types.dedup();
        Some(File {
            spdx_id,
            file_name: relative(&f.file_name),
            file_types,
            checksums,
            license_concluded: self.license(f.license_concluded.as_deref()),
            license_info_in_files: self.licenses_list(&f.license_info_in_files),
            license_comments: text(f.license_comments.as_ref()),
            copyright_text: f.copyright_text.clone().filter(|c| !c.trim().is_empty()),
            comment: text(f.comment.as_ref()),
            notice_text: text(f.notice_text.as_ref()),
            file_contributors: f.file_contributors.clone(),
            attribution_texts: f.attribution_texts.clone(),
            annotations: f.annotations.iter().filter_map(annotation).collect(),
        })
    }

    fn snippet(
        &mut self,
        s: &package_doc::InSnippet,
        spdx_id: String,
        files: &BTreeSet<String>,
    ) -> Option<Snippet> {
        let file = self
            .ids
            .get(&s.snippet_from_file)
            .filter(|f| files.contains(*f))
            .cloned();
        let pointer = |p: &Option<package_doc::InPointer>| {
            let p = p.as_ref()?;
            let reference = self.ids.get(&p.reference).filter(|f| files.contains(*f))?;
            (p.offset.is_some() != p.line_number.is_some()).then(|| SnippetPointer {
                reference: reference.clone(),
                offset: p.offset,
                line_number: p.line_number,
            })
        };
        let ranges: Option<Vec<SnippetRange>> = s
            .ranges
            .iter()
            .map(|r| {
                Some(SnippetRange {
                    start_pointer: pointer(&r.start)?,
                    end_pointer: pointer(&r.end)?,
                })
            })
            .collect();
        let (Some(file), Some(ranges)) = (file, ranges) else {
            self.dropped += 1;
            return None;
        };
        if ranges.is_empty() {
            self.dropped += 1;
            return None;
        }
        Some(Snippet {
            spdx_id,
            snippet_from_file: file,
            ranges,
            name: text(s.name.as_ref()),
            license_concluded: self.license(s.license_concluded.as_deref()),
            license_info_in_snippets: self.licenses_list(&s.license_info_in_snippets),
            license_comments: text(s.license_comments.as_ref()),
            copyright_text: s.copyright_text.clone().filter(|c| !c.trim().is_empty()),
            comment: text(s.comment.as_ref()),
            attribution_texts: s.attribution_texts.clone(),
            annotations: s.annotations.iter().filter_map(annotation).collect(),
        })
    }
}

/// The package document's description of the APK merged into apko-rs's own element: what ours
/// lacks or only asserts nothing about is taken from theirs, their declared licence when it is
/// a valid expression (it may name `LicenseRef-`s whose texts their document gives), their
/// supplier and originator, and the union of checksums and references.
fn merge_into(ours: &mut Package, theirs: Package, their_license_is_an_expression: bool) {
    let asserted = |v: &Option<String>| v.as_deref().is_some_and(|v| v != "NOASSERTION");
    if their_license_is_an_expression || !asserted(&ours.license_declared) {
        ours.license_declared = theirs.license_declared;
    }
    if !asserted(&ours.license_concluded) && asserted(&theirs.license_concluded) {
        ours.license_concluded = theirs.license_concluded;
    }
    if asserted(&theirs.supplier) {
        ours.supplier = theirs.supplier;
    }
    if asserted(&theirs.originator) {
        ours.originator = theirs.originator;
    }
    if ours.download_location == "NOASSERTION" {
        ours.download_location = theirs.download_location;
    }
    if !asserted(&ours.copyright_text) && asserted(&theirs.copyright_text) {
        ours.copyright_text = theirs.copyright_text;
    }
    for c in theirs.checksums {
        if !ours.checksums.iter().any(|o| o.algorithm == c.algorithm) {
            ours.checksums.push(c);
        }
    }
    for r in theirs.external_refs {
        let same = |o: &ExternalRef| {
            o.reference_category == r.reference_category
                && o.reference_type == r.reference_type
                && o.reference_locator == r.reference_locator
        };
        if !ours.external_refs.iter().any(same) {
            ours.external_refs.push(r);
        }
    }
    let fill = |o: &mut Option<String>, t: Option<String>| {
        if o.is_none() {
            *o = t;
        }
    };
    fill(&mut ours.description, theirs.description);
    fill(&mut ours.summary, theirs.summary);
    fill(&mut ours.comment, theirs.comment);
    fill(&mut ours.homepage, theirs.homepage);
    fill(&mut ours.package_file_name, theirs.package_file_name);
    fill(&mut ours.license_comments, theirs.license_comments);
    fill(&mut ours.source_info, theirs.source_info);
    fill(&mut ours.release_date, theirs.release_date);
    fill(&mut ours.built_date, theirs.built_date);
    fill(&mut ours.valid_until_date, theirs.valid_until_date);
    if ours.verification_code.is_none() {
        ours.verification_code = theirs.verification_code;
    }
    if ours.license_info_from_files.is_empty() {
        ours.license_info_from_files = theirs.license_info_from_files;
    }
    if ours.attribution_texts.is_empty() {
        ours.attribution_texts = theirs.attribution_texts;
    }
    ours.annotations.extend(theirs.annotations);
}

/// SPDX file names are relative to the package root: `./usr/bin/x` (melange writes
/// `/usr/bin/x`).
fn relative(name: &str) -> String {
    if name.starts_with("./") {
        name.to_owned()
    } else {
        format!("./{}", name.trim_start_matches('/'))
    }
}

fn id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b == b'-'
}

fn text(v: Option<&String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty()).cloned()
}

fn purpose(p: &str) -> Option<String> {
    let p = p.to_ascii_uppercase().replace('-', "_");
    PURPOSES.contains(&p.as_str()).then_some(p)
}

fn checksum(c: &InChecksum) -> Option<Checksum> {
    let (alg, len) = ALGORITHMS
        .iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(c.algorithm.trim()))?;
    let value = c.checksum_value.trim().to_ascii_lowercase();
    (value.len() == *len && value.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Checksum {
        algorithm: (*alg).to_owned(),
        checksum_value: value,
    })
}

fn checksums(list: &[InChecksum]) -> Vec<Checksum> {
    let mut out: Vec<Checksum> = list.iter().filter_map(checksum).collect();
    out.sort_by(|a, b| a.algorithm.cmp(&b.algorithm));
    out.dedup_by(|a, b| a.algorithm == b.algorithm);
    out
}

fn verification_code(v: &InVerificationCode) -> Option<VerificationCode> {
    let value = v.value.trim().to_ascii_lowercase();
    (value.len() == 40 && value.bytes().all(|b| b.is_ascii_hexdigit())).then(|| VerificationCode {
        value,
        excluded_files: v.excluded_files.clone(),
    })
}

fn external_ref(r: &InExternalRef) -> Option<ExternalRef> {
    let category = r.category.trim().to_ascii_uppercase().replace('_', "-");
    let kind = r.kind.trim();
    let locator = r.locator.trim();
    if kind.is_empty() || locator.is_empty() || locator.contains(char::is_whitespace) {
        return None;
    }
    if category != "OTHER" {
        let (_, kinds) = REFERENCE_TYPES.iter().find(|(c, _)| *c == category)?;
        if !kinds.contains(&kind) {
            return None;
        }
        let fits = match kind {
            "purl" => locator.starts_with("pkg:") && locator[4..].contains('/'),
            "cpe23Type" => locator.starts_with("cpe:2.3:") && locator.split(':').count() == 13,
            "cpe22Type" => locator.to_ascii_lowercase().starts_with("cpe:/"),
            "advisory" | "fix" | "url" | "swid" => url(locator) || kind == "swid",
            _ => true,
        };
        if !fits {
            return None;
        }
    }
    Some(ExternalRef {
        reference_category: category,
        reference_locator: locator.to_owned(),
        reference_type: kind.to_owned(),
        comment: text(r.comment.as_ref()),
    })
}

fn annotation(a: &InAnnotation) -> Option<Annotation> {
    let kind = a.annotation_type.trim().to_ascii_uppercase();
    (actor(&a.annotator)
        && a.annotator != "NOASSERTION"
        && date(&a.annotation_date)
        && matches!(kind.as_str(), "REVIEW" | "OTHER")
        && !a.comment.is_empty())
    .then(|| Annotation {
        annotator: a.annotator.clone(),
        annotation_date: a.annotation_date.clone(),
        annotation_type: kind,
        comment: a.comment.clone(),
    })
}

/// `Person: …`, `Organization: …`, `Tool: …` or `NOASSERTION`.
fn actor(a: &str) -> bool {
    a == "NOASSERTION"
        || ["Person:", "Organization:", "Tool:"]
            .iter()
            .any(|p| a.strip_prefix(p).is_some_and(|n| !n.trim().is_empty()))
}

/// `YYYY-MM-DDThh:mm:ssZ`.
fn date(d: &str) -> bool {
    let b = d.as_bytes();
    b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// An absolute URL without spaces.
fn url(u: &str) -> bool {
    let Some((scheme, rest)) = u.split_once("://") else {
        return false;
    };
    !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !rest.is_empty()
        && !u.contains(|c: char| c.is_whitespace() || c.is_control())
}

/// A URL, a VCS location (`git+…`), `NONE` or `NOASSERTION`.
fn download_location(u: &str) -> bool {
    matches!(u, "NONE" | "NOASSERTION") || url(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert!(date("2024-01-02T03:04:05Z"));
        assert!(!date("2024-01-02 03:04:05Z"));
        assert!(actor("Organization: Wolfi") && !actor("Wolfi") && !actor("Person: "));
        assert!(url("https://x.org/a") && !url("not a url") && !url("https://a b"));
        assert!(download_location("git+https://github.com/a/b"));
        assert_eq!(
            purpose("operating-system").as_deref(),
            Some("OPERATING_SYSTEM")
        );
        let c = |a: &str, v: &str| {
            checksum(&InChecksum {
                algorithm: a.into(),
                checksum_value: v.into(),
            })
        };
        assert_eq!(
            c("sha1", &"A".repeat(40)).unwrap().checksum_value,
            "a".repeat(40)
        );
        assert!(c("SHA1", "abc").is_none() && c("CRC", "00").is_none());
        let r = |c: &str, t: &str, l: &str| {
            external_ref(&InExternalRef {
                category: c.into(),
                kind: t.into(),
                locator: l.into(),
                comment: None,
            })
        };
        assert_eq!(
            r("PACKAGE_MANAGER", "purl", "pkg:apk/wolfi/x@1")
                .unwrap()
                .reference_category,
            "PACKAGE-MANAGER"
        );
        assert!(r("SECURITY", "purl", "pkg:apk/wolfi/x@1").is_none());
        assert!(r("OTHER", "x", "a b").is_none());
    }
}
