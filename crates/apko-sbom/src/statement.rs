//! in-toto Statements v1 (<https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>):
//! what an attestation says (its predicate) about which artifacts (its subjects).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of an SPDX document (cosign's `--type spdxjson`).
pub const PREDICATE_SPDX: &str = "https://spdx.dev/Document";
/// `predicateType` of a CycloneDX BOM (cosign's `--type cyclonedx`).
pub const PREDICATE_CYCLONEDX: &str = "https://cyclonedx.org/bom";
/// `predicateType` of SLSA provenance v1 (cosign's `--type slsaprovenance1`).
pub const PREDICATE_SLSA_PROVENANCE: &str = "https://slsa.dev/provenance/v1";

/// An in-toto ResourceDescriptor
/// (<https://github.com/in-toto/attestation/blob/main/spec/v1/resource_descriptor.md>): a
/// subject of a statement, or a dependency of a build. Empty fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDescriptor {
    /// A name (for an image subject: its repository, as cosign writes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the resource is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digests by algorithm (`sha256` → lower-case hex).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    /// Its media type.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// Further information.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, serde_json::Value>,
}

impl ResourceDescriptor {
    /// A resource named `name` with the SHA-256 `digest` (`sha256:<hex>` or plain hex).
    pub fn sha256(name: &str, digest: &str) -> ResourceDescriptor {
        ResourceDescriptor {
            name: Some(name.to_owned()),
            digest: BTreeMap::from([(
                "sha256".to_owned(),
                digest.strip_prefix("sha256:").unwrap_or(digest).to_owned(),
            )]),
            ..ResourceDescriptor::default()
        }
    }
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What the statement is about.
    pub subject: Vec<ResourceDescriptor>,
    /// What kind of predicate it is ([`PREDICATE_SPDX`], ...).
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate.
    pub predicate: serde_json::Value,
}

impl Statement {
    /// A statement of `predicate` (of `predicate_type`) about `subject`.
    pub fn new(
        subject: Vec<ResourceDescriptor>,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Statement {
        Statement {
            statement_type: STATEMENT_TYPE.to_owned(),
            subject,
            predicate_type: predicate_type.to_owned(),
            predicate,
        }
    }

    /// A statement whose predicate is the JSON document `document` (an SPDX or CycloneDX
    /// SBOM, as cosign attests them); fails when `document` is not JSON.
    pub fn of_document(
        subject: Vec<ResourceDescriptor>,
        predicate_type: &str,
        document: &[u8],
    ) -> Result<Statement, serde_json::Error> {
        Ok(Statement::new(
            subject,
            predicate_type,
            serde_json::from_slice(document)?,
        ))
    }

    /// The statement as compact JSON: the payload of its DSSE envelope. The same statement
    /// always gives the same bytes (object keys in a fixed order).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("statements serialise")
    }

    /// Whether one of the subjects has the SHA-256 `digest` (`sha256:<hex>` or hex).
    pub fn has_subject(&self, digest: &str) -> bool {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.subject
            .iter()
            .any(|s| s.digest.get("sha256").is_some_and(|d| d == hex))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_json() {
        let s = Statement::of_document(
            vec![ResourceDescriptor::sha256(
                "example.test/hello",
                "sha256:ab",
            )],
            PREDICATE_SPDX,
            br#"{"spdxVersion": "SPDX-2.3"}"#,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(s.to_json()).unwrap(),
            r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"example.test/hello","digest":{"sha256":"ab"}}],"predicateType":"https://spdx.dev/Document","predicate":{"spdxVersion":"SPDX-2.3"}}"#
        );
        assert!(s.has_subject("sha256:ab") && s.has_subject("ab") && !s.has_subject("cd"));
        let back: Statement = serde_json::from_slice(&s.to_json()).unwrap();
        assert_eq!(back, s);
        assert!(Statement::of_document(Vec::new(), PREDICATE_SPDX, b"{").is_err());
    }
}
