//! SLSA provenance v1 (<https://slsa.dev/spec/v1.0/provenance>) of an image build, as an
//! in-toto [`Statement`]: built from plain inputs, without the clock (the same inputs give
//! the same bytes).

use crate::statement::{PREDICATE_SLSA_PROVENANCE, ResourceDescriptor, Statement};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `buildDefinition.buildType` of an apko-rs image build: what the parameters mean
/// (docs/sbom.md, "Build type v1").
pub const BUILD_TYPE: &str =
    "https://github.com/apko-rs/apko-rs/blob/main/docs/sbom.md#build-type-v1";
/// `runDetails.builder.id`.
pub const BUILDER_ID: &str = "https://github.com/apko-rs/apko-rs";

/// The SLSA provenance v1 predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// What was built and from what.
    #[serde(rename = "buildDefinition")]
    pub build_definition: BuildDefinition,
    /// Who built it.
    #[serde(rename = "runDetails")]
    pub run_details: RunDetails,
}

/// `buildDefinition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildDefinition {
    /// [`BUILD_TYPE`].
    #[serde(rename = "buildType")]
    pub build_type: String,
    /// The inputs under the user's control: the configuration and the command line.
    #[serde(rename = "externalParameters")]
    pub external_parameters: serde_json::Value,
    /// Inputs the builder chose (its version).
    #[serde(
        rename = "internalParameters",
        default,
        skip_serializing_if = "serde_json::Value::is_null"
    )]
    pub internal_parameters: serde_json::Value,
    /// The configuration files, base images and every installed package.
    #[serde(rename = "resolvedDependencies", default)]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// `runDetails`. There is no `metadata`: a start or finish time would make the document
/// differ between two builds of the same inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetails {
    /// `builder`.
    pub builder: SlsaBuilder,
}

/// `runDetails.builder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlsaBuilder {
    /// [`BUILDER_ID`].
    pub id: String,
    /// Versions of the builder's components.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}

/// A configuration file the build read (the top file, then included files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    /// Its name, as given.
    pub name: String,
    /// The SHA-256 of its content, hex.
    pub sha256: String,
}

/// An installed package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageMaterial {
    /// `P:`.
    pub name: String,
    /// `V:`.
    pub version: String,
    /// Its architecture (`A:`, else the image's).
    pub arch: String,
    /// Where it was fetched from (credentials removed).
    pub uri: String,
    /// The SHA-1 of its control segment (`C:`, `Q1…` decoded), hex.
    pub control_sha1: Option<String>,
    /// The SHA-256 of its data segment (`datahash`), hex.
    pub data_sha256: Option<String>,
}

/// What the provenance of an image build says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImageProvenance {
    /// The images built (name = the reference's repository, digest = the manifest's).
    pub subjects: Vec<ResourceDescriptor>,
    /// The configuration files, top first.
    pub config_files: Vec<ConfigFile>,
    /// The command line's additions to the configuration (`reference`, `archs`,
    /// `packages`, ...): `externalParameters` besides `configuration`.
    pub parameters: BTreeMap<String, serde_json::Value>,
    /// Base images the packages were installed on (`contents.baseimage`).
    pub base_images: Vec<ResourceDescriptor>,
    /// Every installed package of every image (duplicates are listed once).
    pub packages: Vec<PackageMaterial>,
    /// The version of the tool (`0.1.0`).
    pub tool_version: String,
}

impl ImageProvenance {
    /// The predicate.
    pub fn provenance(&self) -> Provenance {
        let configuration: Vec<serde_json::Value> = self
            .config_files
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "digest": {"sha256": c.sha256}}))
            .collect();
        let mut external = serde_json::Map::new();
        external.insert("configuration".to_owned(), configuration.into());
        for (k, v) in &self.parameters {
            external.insert(k.clone(), v.clone());
        }
        let mut deps: Vec<ResourceDescriptor> = self
            .config_files
            .iter()
            .map(|c| ResourceDescriptor::sha256(&c.name, &c.sha256))
            .collect();
        deps.extend(self.base_images.iter().cloned());
        let mut seen = std::collections::BTreeSet::new();
        for p in &self.packages {
            if !seen.insert((&p.uri, &p.control_sha1, &p.data_sha256)) {
                continue;
            }
            let mut digest = BTreeMap::new();
            if let Some(h) = &p.control_sha1 {
                digest.insert("sha1".to_owned(), h.clone());
            }
            if let Some(h) = &p.data_sha256 {
                digest.insert("sha256".to_owned(), h.clone());
            }
            deps.push(ResourceDescriptor {
                name: Some(format!("{}-{}", p.name, p.version)),
                uri: Some(p.uri.clone()),
                digest,
                media_type: None,
                annotations: BTreeMap::from([("arch".to_owned(), p.arch.clone().into())]),
            });
        }
        Provenance {
            build_definition: BuildDefinition {
                build_type: BUILD_TYPE.to_owned(),
                external_parameters: external.into(),
                internal_parameters: serde_json::json!({
                    "tool": {"name": "apko-rs", "version": self.tool_version},
                }),
                resolved_dependencies: deps,
            },
            run_details: RunDetails {
                builder: SlsaBuilder {
                    id: BUILDER_ID.to_owned(),
                    version: BTreeMap::from([("apko-rs".to_owned(), self.tool_version.clone())]),
                },
            },
        }
    }

    /// The in-toto statement: [`ImageProvenance::provenance`] about the images.
    pub fn statement(&self) -> Statement {
        Statement::new(
            self.subjects.clone(),
            PREDICATE_SLSA_PROVENANCE,
            serde_json::to_value(self.provenance()).expect("provenance serialises"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ImageProvenance {
        let pkg = PackageMaterial {
            name: "hello".into(),
            version: "1.0-r0".into(),
            arch: "x86_64".into(),
            uri: "https://example.test/x86_64/hello-1.0-r0.apk".into(),
            control_sha1: Some("aa".repeat(20)),
            data_sha256: Some("bb".repeat(32)),
        };
        ImageProvenance {
            subjects: vec![ResourceDescriptor::sha256(
                "example.test/hello",
                &format!("sha256:{}", "cc".repeat(32)),
            )],
            config_files: vec![ConfigFile {
                name: "apko.yaml".into(),
                sha256: "dd".repeat(32),
            }],
            parameters: BTreeMap::from([(
                "reference".to_owned(),
                "example.test/hello:latest".into(),
            )]),
            base_images: Vec::new(),
            packages: vec![pkg.clone(), pkg],
            tool_version: "0.1.0".into(),
        }
    }

    #[test]
    fn slsa_v1_shape() {
        let s = input().statement();
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(v["predicateType"], "https://slsa.dev/provenance/v1");
        assert_eq!(v["subject"][0]["digest"]["sha256"], "cc".repeat(32));
        let p = &v["predicate"];
        assert_eq!(p["buildDefinition"]["buildType"], BUILD_TYPE);
        assert_eq!(
            p["buildDefinition"]["externalParameters"]["configuration"][0]["digest"]["sha256"],
            "dd".repeat(32)
        );
        assert_eq!(
            p["buildDefinition"]["externalParameters"]["reference"],
            "example.test/hello:latest"
        );
        let deps = p["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .unwrap();
        assert_eq!(deps.len(), 2, "the config file and the package, once");
        assert_eq!(deps[1]["name"], "hello-1.0-r0");
        assert_eq!(deps[1]["digest"]["sha1"], "aa".repeat(20));
        assert_eq!(deps[1]["digest"]["sha256"], "bb".repeat(32));
        assert_eq!(p["runDetails"]["builder"]["id"], BUILDER_ID);
        assert_eq!(p["runDetails"]["builder"]["version"]["apko-rs"], "0.1.0");
        assert!(p["runDetails"].get("metadata").is_none(), "no clock");
        // Reproducible, and it reads back.
        assert_eq!(s.to_json(), input().statement().to_json());
        let back: Provenance = serde_json::from_value(p.clone()).unwrap();
        assert_eq!(back, input().provenance());
    }
}
