//! CycloneDX 1.6 JSON types: the subset apko-rs writes, with keys in the schema's order.
//!
//! Enums whose variants are the schema's closed lists (component types, hash algorithms,
//! reference types) keep invalid values out of the documents; [`License`] and
//! [`LicenseChoice`] serialise as the schema's one-key objects (`{"id": …}`,
//! `{"license": …}`, `{"expression": …}`).

use serde::Serialize;

/// `$schema` of the documents.
pub const SCHEMA: &str = "http://cyclonedx.org/schema/bom-1.6.schema.json";

/// A CycloneDX BOM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bom {
    /// [`SCHEMA`].
    #[serde(rename = "$schema")]
    pub schema: String,
    /// Always `CycloneDX`.
    #[serde(rename = "bomFormat")]
    pub bom_format: String,
    /// `1.6`.
    #[serde(rename = "specVersion")]
    pub spec_version: String,
    /// `urn:uuid:…`, derived from the described artifact's digest.
    #[serde(rename = "serialNumber")]
    pub serial_number: String,
    /// The BOM's revision: 1.
    pub version: u32,
    /// What the BOM describes, when and by what.
    pub metadata: Metadata,
    /// The components (not including the described one, which is in the metadata).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// The dependency graph: one entry for every component, the described one included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metadata {
    /// RFC 3339 time: the image's build date.
    pub timestamp: String,
    /// Lifecycle phases the BOM was made in (`build`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lifecycles: Vec<Lifecycle>,
    /// The tool that made it.
    pub tools: Tools,
    /// The image (or index) the BOM describes.
    pub component: Component,
}

/// A lifecycle phase (`{"phase": "build"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    /// `design`, `pre-build`, `build`, `post-build`, `operations`, `discovery` or
    /// `decommission`.
    pub phase: String,
}

/// `metadata.tools` in the 1.5+ form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tools {
    /// The tools, as `application` components.
    pub components: Vec<Component>,
}

/// A component: the image, an image of an index, the operating system, a package, a tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    /// What kind of component.
    #[serde(rename = "type")]
    pub kind: ComponentType,
    /// The identifier [`Dependency`] entries refer to (unique in the BOM).
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    pub bom_ref: Option<String>,
    /// Who supplies it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplier: Option<OrganizationalEntity>,
    /// Who wrote it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authors: Vec<OrganizationalContact>,
    /// Name.
    pub name: String,
    /// Version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Hashes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashes: Vec<Hash>,
    /// Licences: the schema allows either licences or one expression, never both, so the
    /// documents hold at most one entry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<LicenseChoice>,
    /// Package URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Web site, source repository.
    #[serde(rename = "externalReferences", skip_serializing_if = "Vec::is_empty")]
    pub external_references: Vec<ExternalReference>,
    /// Facts without a field of their own (`apko-rs:apk:origin`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<Property>,
}

impl Component {
    /// A component with only a type and a name.
    pub fn new(kind: ComponentType, name: impl Into<String>) -> Self {
        Component {
            kind,
            bom_ref: None,
            supplier: None,
            authors: Vec::new(),
            name: name.into(),
            version: None,
            description: None,
            hashes: Vec::new(),
            licenses: Vec::new(),
            purl: None,
            external_references: Vec::new(),
            properties: Vec::new(),
        }
    }
}

/// The component types apko-rs writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ComponentType {
    /// A tool.
    Application,
    /// A package.
    Library,
    /// An image or an index.
    Container,
    /// The image's operating system.
    OperatingSystem,
}

/// An organisation (`supplier`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganizationalEntity {
    /// Name.
    pub name: String,
    /// People to contact.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contact: Vec<OrganizationalContact>,
}

/// A person (`authors`, `supplier.contact`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganizationalContact {
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A hash of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hash {
    /// The algorithm.
    pub alg: HashAlgorithm,
    /// Lower-case hex.
    pub content: String,
}

/// The hash algorithms apko-rs writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// SHA-1 (an apk package's control segment, `C:`).
    #[serde(rename = "SHA-1")]
    Sha1,
    /// SHA-256 (OCI digests; an apk package's data segment, `datahash`).
    #[serde(rename = "SHA-256")]
    Sha256,
}

/// One entry of `licenses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum LicenseChoice {
    /// `{"license": …}`.
    #[serde(rename = "license")]
    License(License),
    /// `{"expression": …}`: a valid SPDX expression.
    #[serde(rename = "expression")]
    Expression(String),
}

/// A licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum License {
    /// `{"id": …}`: an SPDX licence identifier.
    #[serde(rename = "id")]
    Id(String),
    /// `{"name": …}`: anything else, as declared.
    #[serde(rename = "name")]
    Name(String),
}

/// An external reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalReference {
    /// An IRI.
    pub url: String,
    /// A comment (the revision of a `vcs` reference).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The kind of reference.
    #[serde(rename = "type")]
    pub kind: ExternalReferenceType,
}

/// The external reference types apko-rs writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ExternalReferenceType {
    /// The project's web site (a package's `U:`).
    Website,
    /// The source repository (`vcs-url`).
    Vcs,
}

/// A name–value pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Property {
    /// Name (namespaced, `apko-rs:…`).
    pub name: String,
    /// Value.
    pub value: String,
}

/// What one component depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// The component's `bom-ref`.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The `bom-ref`s of its dependencies (none: it has none).
    #[serde(rename = "dependsOn", skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}
