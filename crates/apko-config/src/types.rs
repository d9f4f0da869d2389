//! The apko.yaml schema. Field names and order follow apko's (`pkg/build/types`); every
//! struct rejects unknown keys.

use crate::arch::Arch;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A whole image configuration (one apko.yaml, after include merging).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// Packages, repositories and keys.
    #[serde(default, deserialize_with = "null_default")]
    pub contents: Contents,
    /// The entrypoint.
    #[serde(default, deserialize_with = "null_default")]
    pub entrypoint: Entrypoint,
    /// Default arguments (`Cmd`), shell-split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<String>,
    /// `StopSignal`.
    #[serde(
        rename = "stop-signal",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_signal: Option<String>,
    /// `WorkingDir`.
    #[serde(rename = "work-dir", default, skip_serializing_if = "Option::is_none")]
    pub work_dir: Option<String>,
    /// Users, groups and the user to run as.
    #[serde(default, deserialize_with = "null_default")]
    pub accounts: Accounts,
    /// Architectures to build (apk or OCI names; normalised to OCI names).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub archs: Vec<Arch>,
    /// Environment variables.
    #[serde(
        default,
        deserialize_with = "null_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub environment: BTreeMap<String, String>,
    /// Filesystem changes applied after installation.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub paths: Vec<PathMutation>,
    /// `<url>@<commit>` of the sources this image was built from.
    #[serde(rename = "vcs-url", default, skip_serializing_if = "Option::is_none")]
    pub vcs_url: Option<String>,
    /// Annotations for the index, manifests and config labels.
    #[serde(
        default,
        deserialize_with = "null_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// A base configuration to merge under this one (deprecated in apko, supported here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// OCI `Volumes`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes: Vec<String>,
    /// Multi-layer images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layering: Option<Layering>,
    /// Extra CA certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<Certificates>,
    /// Layer format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ImageFormat>,
    /// Compression of tar layers (an apko-rs extension; apko writes gzip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<LayerCompression>,
}

/// `contents`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Contents {
    /// Repositories used at build time only.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub build_repositories: Vec<String>,
    /// Repositories written into the image only.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub runtime_repositories: Vec<String>,
    /// Repositories used at build time and written into the image (`[@tag ]URL-or-path`).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub repositories: Vec<String>,
    /// Public keys (paths or URLs), copied to `/etc/apk/keys`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub keyring: Vec<String>,
    /// Inline public keys written to `/etc/apk/keys` after installation.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub runtime_keyring: Vec<InlineFile>,
    /// The world: `name[op version][@tag]` (apk syntax `name@tag op version` also works).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub packages: Vec<String>,
    /// Experimental: build on top of an existing image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseimage: Option<BaseImage>,
}

/// A named inline file (`runtime_keyring`, `certificates.additional`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InlineFile {
    /// File name.
    pub name: String,
    /// PEM content.
    pub content: String,
}

/// `contents.baseimage`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BaseImage {
    /// The base image's OCI layout directory.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Directory holding `<apkarch>/APKINDEX` (the base image's installed database).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub apkindex: String,
}

/// `entrypoint`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Entrypoint {
    /// `service-bundle` for an s6 supervision tree; other values are kept but ignored (as
    /// apko).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EntrypointKind>,
    /// The command, shell-split into `Entrypoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Runs under `/bin/sh -c`; wins over `command`.
    #[serde(
        rename = "shell-fragment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub shell_fragment: Option<String>,
    /// s6 services: name → command line.
    #[serde(
        default,
        deserialize_with = "null_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub services: BTreeMap<String, String>,
}

impl Entrypoint {
    /// An s6 supervision tree (`type: service-bundle`).
    pub fn is_service_bundle(&self) -> bool {
        self.kind == Some(EntrypointKind::ServiceBundle)
    }
}

/// `entrypoint.type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntrypointKind {
    /// `service-bundle`: an s6 supervision tree of `services`.
    ServiceBundle,
    /// Any other value: kept (in `/etc/apko.json`), otherwise ignored, as apko does.
    Other(String),
}

impl<'de> Deserialize<'de> for EntrypointKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s == "service-bundle" {
            EntrypointKind::ServiceBundle
        } else {
            EntrypointKind::Other(s)
        })
    }
}

impl Serialize for EntrypointKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            EntrypointKind::ServiceBundle => "service-bundle",
            EntrypointKind::Other(o) => o,
        })
    }
}

/// `accounts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    /// User name or uid to run as.
    #[serde(rename = "run-as", default, skip_serializing_if = "Option::is_none")]
    pub run_as: Option<String>,
    /// Users to add to `/etc/passwd`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub users: Vec<User>,
    /// Groups to add to `/etc/group`.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub groups: Vec<Group>,
}

/// A user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Login name.
    pub username: String,
    /// User id (0 is refused, as by apko).
    pub uid: u32,
    /// Primary group id; defaults to the uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Login shell; defaults to `/bin/sh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Home directory; defaults to `/home/<username>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub homedir: Option<String>,
}

/// A group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// Group name.
    pub groupname: String,
    /// Group id (0 when omitted, as apko).
    #[serde(default)]
    pub gid: u32,
    /// Member user names.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub members: Vec<String>,
}

/// What a [`PathMutation`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathType {
    /// `mkdir -p` with the given mode.
    Directory,
    /// Create or truncate a file.
    EmptyFile,
    /// Hard link `path` to `source`.
    Hardlink,
    /// Symbolic link `path` → `source`.
    Symlink,
    /// Only change mode and owner.
    Permissions,
}

/// An entry of `paths`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PathMutation {
    /// The path to change.
    pub path: String,
    /// What to do.
    #[serde(rename = "type")]
    pub kind: PathType,
    /// Owner uid (unset: root, and only applied when `gid` is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Owner gid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Permission bits; `0o755` and `0755` are octal. apko defaults an omitted value to 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub permissions: u32,
    /// Link target for `hardlink` and `symlink`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Apply to everything below `path`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recursive: bool,
}

/// `layering`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Layering {
    /// How packages are grouped into layers (empty or absent: by budget alone).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "layering_strategy"
    )]
    pub strategy: Option<LayeringStrategy>,
    /// Maximum number of layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u32>,
}

impl Layering {
    /// `layering: {}` means a single layer, as in apko.
    pub fn is_enabled(&self) -> bool {
        self.strategy.is_some() || self.budget.unwrap_or(0) != 0
    }

    /// With layering by origin, the layer budget (0: no limit); `None`: a single layer.
    pub fn origin_budget(&self) -> Option<u32> {
        self.is_enabled().then(|| self.budget.unwrap_or(0))
    }
}

/// An explicit YAML null (`packages:` with nothing after it) is the empty value, as in apko
/// (yaml.v3 leaves the Go zero value).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A string map where the map or any value may be null (`FOO:` with no value is `FOO=`).
fn null_map<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let m: Option<BTreeMap<String, Option<String>>> = Option::deserialize(d)?;
    Ok(m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// `layering.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayeringStrategy {
    /// Packages grouped by origin (and `replaces`), largest groups first.
    Origin,
}

/// `strategy: ""` is no strategy, as in apko; anything but `origin` is refused.
fn layering_strategy<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<LayeringStrategy>, D::Error> {
    match Option::<String>::deserialize(d)?.as_deref() {
        None | Some("") => Ok(None),
        Some("origin") => Ok(Some(LayeringStrategy::Origin)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "unknown layering strategy `{other}`; the only strategy is `origin`"
        ))),
    }
}

/// `certificates`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Certificates {
    /// Inline PEM certificates.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub additional: Vec<InlineFile>,
    /// Provided names whose packages' certificates are added to the bundles.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub providers: Vec<String>,
}

/// `compression`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerCompression {
    /// gzip (`application/vnd.oci.image.layer.v1.tar+gzip`), the default.
    #[default]
    Gzip,
    /// zstd (`application/vnd.oci.image.layer.v1.tar+zstd`).
    Zstd,
}

/// `format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// gzip-compressed tar layers (the default).
    Tar,
    /// EROFS layers (not supported by this implementation yet).
    Erofs,
}
