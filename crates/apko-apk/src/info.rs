//! Package metadata shared by `.PKGINFO`, APKINDEX records and the installed database.

use crate::checksum::Checksum;
use crate::dependency::{Dependency, Provide};
use crate::name::PackageName;
use crate::version::Version;

/// Everything apk knows about a package apart from its files.
///
/// Index records ([`crate::index::ApkIndex`]) fill the fields that have an index letter;
/// `.PKGINFO` ([`crate::pkginfo`]) also fills `replaces`, `replaces_priority`, `triggers`,
/// `datahash` and `packager`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageInfo {
    /// `P:` / `pkgname`.
    pub name: PackageName,
    /// `V:` / `pkgver`.
    pub version: Version,
    /// `A:` / `arch`.
    pub arch: Option<String>,
    /// `S:`: size of the `.apk` file in bytes (not in `.PKGINFO`).
    pub size: u64,
    /// `I:` / `size`: installed size in bytes.
    pub installed_size: u64,
    /// `T:` / `pkgdesc`.
    pub description: String,
    /// `U:` / `url`.
    pub url: String,
    /// `L:` / `license`.
    pub license: String,
    /// `o:` / `origin`: the source package.
    pub origin: Option<String>,
    /// `m:` / `maintainer`.
    pub maintainer: Option<String>,
    /// `t:` / `builddate`: seconds since the epoch.
    pub build_time: Option<u64>,
    /// `c:` / `commit`.
    pub commit: Option<String>,
    /// `k:` / `provider_priority`.
    pub provider_priority: Option<u32>,
    /// `D:` / `depend`.
    pub depends: Vec<Dependency>,
    /// `p:` / `provides`.
    pub provides: Vec<Provide>,
    /// `i:` / `install_if`.
    pub install_if: Vec<Dependency>,
    /// `C:`: the package identity (SHA-1 of the control segment).
    pub checksum: Option<Checksum>,
    /// `replaces` (installed db `r:`).
    pub replaces: Vec<Dependency>,
    /// `replaces_priority` (installed db `q:`).
    pub replaces_priority: Option<u32>,
    /// `triggers`: directory globs.
    pub triggers: Vec<String>,
    /// `datahash`: SHA-256 of the data segment.
    pub datahash: Option<[u8; 32]>,
    /// `packager`.
    pub packager: Option<String>,
    /// The index record had an unknown upper-case field: apk cannot install this package.
    pub uninstallable: bool,
}

impl PackageInfo {
    /// A record with only a name and a version.
    pub fn new(name: PackageName, version: Version) -> Self {
        PackageInfo {
            name,
            version,
            arch: None,
            size: 0,
            installed_size: 0,
            description: String::new(),
            url: String::new(),
            license: String::new(),
            origin: None,
            maintainer: None,
            build_time: None,
            commit: None,
            provider_priority: None,
            depends: Vec::new(),
            provides: Vec::new(),
            install_if: Vec::new(),
            checksum: None,
            replaces: Vec::new(),
            replaces_priority: None,
            triggers: Vec::new(),
            datahash: None,
            packager: None,
            uninstallable: false,
        }
    }

    /// Whether this package's `replaces` names `other` (its version constraint honoured): it
    /// may then take over `other`'s files.
    pub fn replaces_package(&self, other: &PackageInfo) -> bool {
        self.replaces.iter().any(|d| {
            d.name == other.name && d.matches(Some(&other.version), other.checksum.as_ref())
        })
    }

    /// `name-version`, as apk prints it and as package files are named.
    pub fn name_version(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }

    /// The file name of the package in a repository: `name-version.apk`.
    pub fn file_name(&self) -> String {
        format!("{}.apk", self.name_version())
    }

    /// The version this package provides for `name` (its own version for its own name,
    /// the provides version otherwise; `None` for an unversioned provides).
    pub fn provided_version(&self, name: &str) -> Option<Option<&Version>> {
        if self.name.as_str() == name {
            return Some(Some(&self.version));
        }
        self.provides
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.version.as_ref())
    }
}
