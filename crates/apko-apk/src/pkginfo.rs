//! The `.PKGINFO` control file: `key = value` lines.

use crate::dependency::{Dependency, ParseDependencyError, Provide};
use crate::info::PackageInfo;
use crate::name::{PackageName, ParseNameError};
use crate::version::{ParseVersionError, Version};
use std::fmt::Write as _;

/// A `.PKGINFO` that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkgInfoError {
    /// The text is not UTF-8.
    #[error(".PKGINFO is not UTF-8")]
    NotUtf8,
    /// A line is not `key = value`.
    #[error(".PKGINFO line {line}: expected `key = value`, found `{text}`")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A required key is missing.
    #[error(".PKGINFO has no `{0}`")]
    Missing(&'static str),
    /// A numeric field is not a number.
    #[error(".PKGINFO line {line}: `{key}` must be a non-negative integer, found `{value}`")]
    Number {
        /// 1-based line number.
        line: usize,
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// `datahash` is not 64 hex digits.
    #[error(".PKGINFO line {line}: `datahash` must be 64 hex digits")]
    Datahash {
        /// 1-based line number.
        line: usize,
    },
    /// The package name is invalid.
    #[error(".PKGINFO line {line}")]
    Name {
        /// 1-based line number.
        line: usize,
        /// The problem.
        #[source]
        source: ParseNameError,
    },
    /// The version is invalid.
    #[error(".PKGINFO line {line}")]
    Version {
        /// 1-based line number.
        line: usize,
        /// The problem.
        #[source]
        source: ParseVersionError,
    },
    /// A dependency, provides or install_if entry is invalid.
    #[error(".PKGINFO line {line}")]
    Dependency {
        /// 1-based line number.
        line: usize,
        /// The problem.
        #[source]
        source: ParseDependencyError,
    },
}

/// Parses `.PKGINFO`. Unknown keys are ignored, as apk does.
///
/// Invalid entries in `provides` are skipped with a warning rather than failing the package
/// (real packages ship such entries; apk 2.x ignores them too).
pub fn parse(bytes: &[u8]) -> Result<PackageInfo, PkgInfoError> {
    let text = std::str::from_utf8(bytes).map_err(|_| PkgInfoError::NotUtf8)?;
    let mut name = None;
    let mut version = None;
    let mut fields: Vec<(usize, &str, &str)> = Vec::new();
    // Lines end at `\n` only, as apk and abuild read them: a `\r` is part of the value.
    for (i, line) in text.split('\n').enumerate() {
        let lineno = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(" = ") else {
            return Err(PkgInfoError::Syntax {
                line: lineno,
                text: line.to_owned(),
            });
        };
        match key {
            "pkgname" => {
                name = Some(
                    PackageName::new(value).map_err(|source| PkgInfoError::Name {
                        line: lineno,
                        source,
                    })?,
                );
            }
            "pkgver" => {
                version = Some(Version::new(value).map_err(|source| PkgInfoError::Version {
                    line: lineno,
                    source,
                })?);
            }
            _ => fields.push((lineno, key, value)),
        }
    }
    let mut info = PackageInfo::new(
        name.ok_or(PkgInfoError::Missing("pkgname"))?,
        version.ok_or(PkgInfoError::Missing("pkgver"))?,
    );
    let number = |line: usize, key: &str, value: &str| {
        value
            .trim()
            .parse::<u64>()
            .map_err(|_| PkgInfoError::Number {
                line,
                key: key.to_owned(),
                value: value.to_owned(),
            })
    };
    let deps = |line: usize, value: &str| {
        Dependency::parse_list(value).map_err(|source| PkgInfoError::Dependency { line, source })
    };
    for (line, key, value) in fields {
        match key {
            "pkgdesc" => info.description = value.to_owned(),
            "url" => info.url = value.to_owned(),
            "builddate" => info.build_time = Some(number(line, key, value)?),
            "packager" => info.packager = Some(value.to_owned()),
            "size" => info.installed_size = number(line, key, value)?,
            "arch" => info.arch = Some(value.to_owned()),
            "origin" => info.origin = Some(value.to_owned()),
            "commit" => info.commit = Some(value.to_owned()),
            "maintainer" => info.maintainer = Some(value.to_owned()),
            "license" => info.license = value.to_owned(),
            "depend" => info.depends.extend(deps(line, value)?),
            "provides" => {
                for item in value.split_ascii_whitespace() {
                    match item.parse::<Provide>() {
                        Ok(p) => info.provides.push(p),
                        Err(e) => tracing::warn!(
                            package = %info.name,
                            "ignoring invalid provides entry in .PKGINFO line {line}: {e}"
                        ),
                    }
                }
            }
            "install_if" => info.install_if.extend(deps(line, value)?),
            "provider_priority" => {
                info.provider_priority = Some(number(line, key, value)? as u32);
            }
            "replaces" => info.replaces.extend(deps(line, value)?),
            "replaces_priority" => {
                info.replaces_priority = Some(number(line, key, value)? as u32);
            }
            "triggers" => info
                .triggers
                .extend(value.split_ascii_whitespace().map(str::to_owned)),
            "datahash" => {
                let raw = hex::decode(value.trim()).map_err(|_| PkgInfoError::Datahash { line })?;
                info.datahash = Some(
                    raw.try_into()
                        .map_err(|_| PkgInfoError::Datahash { line })?,
                );
            }
            _ => {}
        }
    }
    Ok(info)
}

/// Writes `.PKGINFO` in abuild's key order. `datahash` is written when set.
pub fn write(info: &PackageInfo, generator: &str) -> String {
    let mut s = format!("# Generated by {generator}\n");
    let mut kv = |k: &str, v: &str| {
        let _ = writeln!(s, "{k} = {v}");
    };
    kv("pkgname", info.name.as_str());
    kv("pkgver", info.version.as_str());
    kv("pkgdesc", &info.description);
    kv("url", &info.url);
    if let Some(t) = info.build_time {
        kv("builddate", &t.to_string());
    }
    if let Some(p) = &info.packager {
        kv("packager", p);
    }
    kv("size", &info.installed_size.to_string());
    if let Some(a) = &info.arch {
        kv("arch", a);
    }
    if let Some(o) = &info.origin {
        kv("origin", o);
    }
    if let Some(c) = &info.commit {
        kv("commit", c);
    }
    if let Some(m) = &info.maintainer {
        kv("maintainer", m);
    }
    kv("license", &info.license);
    for r in &info.replaces {
        kv("replaces", &r.to_string());
    }
    if let Some(p) = info.replaces_priority {
        kv("replaces_priority", &p.to_string());
    }
    if let Some(p) = info.provider_priority {
        kv("provider_priority", &p.to_string());
    }
    for d in &info.depends {
        kv("depend", &d.to_string());
    }
    for p in &info.provides {
        kv("provides", &p.to_string());
    }
    if !info.install_if.is_empty() {
        let list: Vec<String> = info.install_if.iter().map(ToString::to_string).collect();
        kv("install_if", &list.join(" "));
    }
    if !info.triggers.is_empty() {
        kv("triggers", &info.triggers.join(" "));
    }
    if let Some(h) = &info.datahash {
        kv("datahash", &hex::encode(h));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# Generated by abuild 3.13.0\n# using fakeroot version 1.32.1\n\
pkgname = busybox\npkgver = 1.36.1-r29\npkgdesc = Size optimized toolbox\nurl = https://busybox.net/\n\
builddate = 1717496546\npackager = Buildozer\nsize = 950568\narch = x86_64\norigin = busybox\n\
commit = 5b5a4b3\nmaintainer = Sören Tempel <soeren+alpine@soeren-tempel.net>\nlicense = GPL-2.0-only\n\
replaces = busybox-initscripts\nprovider_priority = 100\ndepend = so:libc.musl-x86_64.so.1\n\
provides = cmd:busybox=1.36.1-r29\nprovides = so:bad=0unstable\ntriggers = /bin /usr/bin\n\
datahash = 4b9cd5f0ac4ab6acd5b8b4e5d1f8b2a3c7e0f1a2b3c4d5e6f708192a3b4c5d6e\nunknown = x\n";

    #[test]
    fn parses_abuild_pkginfo() {
        let info = parse(SAMPLE.as_bytes()).unwrap();
        assert_eq!(info.name.as_str(), "busybox");
        assert_eq!(info.version.as_str(), "1.36.1-r29");
        assert_eq!(info.installed_size, 950_568);
        assert_eq!(info.provider_priority, Some(100));
        assert_eq!(info.replaces[0].to_string(), "busybox-initscripts");
        assert_eq!(
            info.provides.len(),
            1,
            "the invalid provides entry is skipped"
        );
        assert_eq!(info.triggers, ["/bin", "/usr/bin"]);
        assert!(info.datahash.is_some());
    }

    #[test]
    fn write_then_parse() {
        let info = parse(SAMPLE.as_bytes()).unwrap();
        let text = write(&info, "apko-rs");
        assert!(text.starts_with("# Generated by apko-rs\npkgname = busybox\n"));
        assert_eq!(parse(text.as_bytes()).unwrap(), info);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse(b"pkgname = a\npkgver = 1\nsize = lots\n").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        assert!(matches!(
            parse(b"pkgver = 1\n"),
            Err(PkgInfoError::Missing("pkgname"))
        ));
        assert!(parse(b"pkgname=a\n").is_err());
    }

    #[test]
    fn carriage_returns_are_part_of_values() {
        // Found by fuzzing (APKINDEX text): `lines()` ended lines at `\r\n` too, so a value
        // ending in `\r` lost it when the written file was read back.
        let info = parse(b"pkgname = a\npkgver = 1\npkgdesc = d\r\nurl = \r\r\n").unwrap();
        assert_eq!(info.description, "d\r");
        assert_eq!(info.url, "\r\r");
        assert_eq!(parse(write(&info, "t").as_bytes()).unwrap(), info);
        assert!(parse(b"pkgname = a\r\npkgver = 1\n").is_err());
    }
}
