//! Building the CycloneDX documents, from the same inputs as the SPDX ones.

use crate::build::{ImageSbom, IndexImage, IndexSbom, OsRelease, Vcs};
use crate::cyclonedx::{
    Bom, Component, ComponentType, Dependency, ExternalReference, ExternalReferenceType, Hash,
    HashAlgorithm, License, LicenseChoice, Lifecycle, Metadata, OrganizationalContact,
    OrganizationalEntity, Property, SCHEMA, Tools,
};
use crate::{graph, purl, uuid};
use apko_apk::info::PackageInfo;
use std::collections::BTreeMap;

/// The `serialNumber` of the BOM describing the artifact with `digest`: a name-based
/// (version 5) UUID of `urn:apko-rs:cyclonedx:<digest>` in RFC 9562's URL namespace, so
/// the same image always has the same serial number and different images different ones.
pub fn serial_number(digest: &str) -> String {
    let name = format!("urn:apko-rs:cyclonedx:{digest}");
    format!(
        "urn:uuid:{}",
        uuid::v5(&uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// The BOM of one image: the image (in the metadata), its operating system and every
/// package, with the image depending on all of them and each package on the installed
/// packages that satisfy its dependencies.
pub fn image_bom(input: &ImageSbom<'_>) -> Bom {
    let image_purl = purl::oci(
        &input.repository,
        &input.image_digest,
        Some(&input.oci_arch),
        purl::MANIFEST,
    );
    let mut image = oci_component(&input.repository, &input.image_digest, &image_purl);
    image.description = Some("apko container image".into());
    image.supplier = Some(organization(&input.os.name));

    let os = os_component(&input.os);
    let os_ref = os.bom_ref.clone().expect("set by os_component");

    let refs: Vec<String> = input
        .packages
        .iter()
        .map(|p| purl::apk(&input.os.id, p, &input.apk_arch))
        .collect();
    let deps = graph::dependencies(&input.packages);
    // Components and dependencies sorted by package name (install order is deterministic
    // too, but a sorted list reads better and does not change when the solver's order does).
    let mut order: Vec<usize> = (0..input.packages.len()).collect();
    order.sort_by_key(|&i| input.packages[i].name.as_str());
    let index: BTreeMap<&str, usize> = input
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.as_str(), i))
        .collect();

    let mut components = vec![os];
    let mut dependencies = vec![
        Dependency {
            reference: image_purl.clone(),
            depends_on: std::iter::once(os_ref.clone())
                .chain(order.iter().map(|&i| refs[i].clone()))
                .collect(),
        },
        Dependency {
            reference: os_ref,
            depends_on: Vec::new(),
        },
    ];
    for &i in &order {
        let p = input.packages[i];
        components.push(package_component(p, &refs[i], &input.os));
        let mut depends_on: Vec<String> = deps[i].iter().map(|d| refs[index[d]].clone()).collect();
        depends_on.sort();
        dependencies.push(Dependency {
            reference: refs[i].clone(),
            depends_on,
        });
    }
    Bom {
        schema: SCHEMA.into(),
        bom_format: "CycloneDX".into(),
        spec_version: "1.6".into(),
        serial_number: serial_number(&input.image_digest),
        version: 1,
        metadata: metadata(&input.created, &input.tool, image),
        components,
        dependencies,
    }
}

/// The BOM of the multi-architecture index: the index (in the metadata, with the source
/// repository when known) and one `container` component per image, which the index
/// depends on.
pub fn index_bom(input: &IndexSbom) -> Bom {
    let index_purl = purl::oci(&input.repository, &input.index_digest, None, purl::INDEX);
    let mut index = oci_component(&input.repository, &input.index_digest, &index_purl);
    index.description = Some("Multi-arch image index".into());
    index.supplier = Some(organization("apko-rs"));
    if let Some(Vcs { url, revision }) = &input.vcs {
        match iri(url) {
            Some(url) => index.external_references.push(ExternalReference {
                url,
                comment: Some(format!("revision {revision}")),
                kind: ExternalReferenceType::Vcs,
            }),
            None => index.properties.push(Property {
                name: "apko-rs:vcs-url".into(),
                value: format!("{url}@{revision}"),
            }),
        }
    }
    let mut components = Vec::new();
    let mut dependencies = vec![Dependency {
        reference: index_purl,
        depends_on: Vec::new(),
    }];
    for IndexImage {
        oci_arch,
        manifest_digest,
    } in &input.images
    {
        let r = purl::oci(
            &input.repository,
            manifest_digest,
            Some(oci_arch),
            purl::MANIFEST,
        );
        let mut c = oci_component(&input.repository, manifest_digest, &r);
        c.supplier = Some(organization("apko-rs"));
        c.properties.push(Property {
            name: "apko-rs:architecture".into(),
            value: oci_arch.clone(),
        });
        components.push(c);
        dependencies[0].depends_on.push(r.clone());
        dependencies.push(Dependency {
            reference: r,
            depends_on: Vec::new(),
        });
    }
    Bom {
        schema: SCHEMA.into(),
        bom_format: "CycloneDX".into(),
        spec_version: "1.6".into(),
        serial_number: serial_number(&input.index_digest),
        version: 1,
        metadata: metadata(&input.created, &input.tool, index),
        components,
        dependencies,
    }
}

fn metadata(created: &str, tool: &str, component: Component) -> Metadata {
    let (name, version) = tool_name_version(tool);
    let mut tool = Component::new(ComponentType::Application, name);
    tool.version = version.map(str::to_owned);
    Metadata {
        timestamp: created.to_owned(),
        lifecycles: vec![Lifecycle {
            phase: "build".into(),
        }],
        tools: Tools {
            components: vec![tool],
        },
        component,
    }
}

/// `apko-rs (0.1.0)` or `apko-rs 0.1.0` as name and version.
fn tool_name_version(tool: &str) -> (&str, Option<&str>) {
    let tool = tool.trim();
    if let Some((name, rest)) = tool.split_once(" (")
        && let Some(version) = rest.strip_suffix(')')
    {
        return (name, Some(version));
    }
    match tool.rsplit_once(' ') {
        Some((name, version)) => (name, Some(version)),
        None => (tool, None),
    }
}

/// An image or index: named by the repository, versioned and hashed by its digest.
fn oci_component(repository: &str, digest: &str, purl: &str) -> Component {
    let mut c = Component::new(ComponentType::Container, repository);
    c.bom_ref = Some(purl.to_owned());
    c.version = Some(digest.to_owned());
    if let Some(hex) = digest.strip_prefix("sha256:") {
        c.hashes.push(Hash {
            alg: HashAlgorithm::Sha256,
            content: hex.to_owned(),
        });
    }
    c.purl = Some(purl.to_owned());
    c
}

fn os_component(os: &OsRelease) -> Component {
    let mut c = Component::new(ComponentType::OperatingSystem, os.id.clone());
    c.bom_ref = Some(format!(
        "operating-system:{}@{}",
        purl::escape(&os.id),
        purl::escape(&os.version_id)
    ));
    c.supplier = Some(organization(&os.name));
    c.version = Some(os.version_id.clone());
    c.description = Some(os.name.clone());
    c
}

fn package_component(p: &PackageInfo, purl: &str, os: &OsRelease) -> Component {
    let mut c = Component::new(ComponentType::Library, p.name.as_str());
    c.bom_ref = Some(purl.to_owned());
    match p.maintainer.as_deref().and_then(contact) {
        Some(person) => {
            let name = person
                .name
                .clone()
                .or_else(|| person.email.clone())
                .unwrap_or_default();
            c.supplier = Some(OrganizationalEntity {
                name,
                contact: vec![person.clone()],
            });
            c.authors.push(person);
        }
        None => c.supplier = Some(organization(&os.name)),
    }
    c.version = Some(p.version.to_string());
    c.description = (!p.description.is_empty()).then(|| p.description.clone());
    if let Some(sum) = p.checksum.as_ref().and_then(|c| c.sha1()) {
        c.hashes.push(Hash {
            alg: HashAlgorithm::Sha1,
            content: hex::encode(sum),
        });
    }
    if let Some(sum) = &p.datahash {
        c.hashes.push(Hash {
            alg: HashAlgorithm::Sha256,
            content: hex::encode(sum),
        });
    }
    c.licenses = license(&p.license).into_iter().collect();
    c.purl = Some(purl.to_owned());
    if let Some(url) = iri(&p.url) {
        c.external_references.push(ExternalReference {
            url,
            comment: None,
            kind: ExternalReferenceType::Website,
        });
    }
    for (name, value) in [("origin", &p.origin), ("commit", &p.commit)] {
        if let Some(value) = value {
            c.properties.push(Property {
                name: format!("apko-rs:apk:{name}"),
                value: value.clone(),
            });
        }
    }
    c
}

fn organization(name: &str) -> OrganizationalEntity {
    OrganizationalEntity {
        name: name.to_owned(),
        contact: Vec::new(),
    }
}

/// `Name <address>`, `Name` or `<address>` as a contact (`None` when empty). An address
/// without `@` is kept in the name.
fn contact(maintainer: &str) -> Option<OrganizationalContact> {
    let m = maintainer.trim();
    let (name, email) = match m.strip_suffix('>').and_then(|r| r.rsplit_once('<')) {
        Some((name, email)) if email.contains('@') && !email.contains(char::is_whitespace) => {
            (name.trim(), Some(email.to_owned()))
        }
        _ => (m, None),
    };
    let name = (!name.is_empty()).then(|| name.to_owned());
    (name.is_some() || email.is_some()).then_some(OrganizationalContact { name, email })
}

/// A declared licence: an SPDX identifier, a valid SPDX expression, or (anything else,
/// deprecated identifiers included, as for SPDX) a named licence; nothing when empty.
fn license(text: &str) -> Option<LicenseChoice> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if spdx::Expression::parse(t).is_err() {
        return Some(LicenseChoice::License(License::Name(t.to_owned())));
    }
    if spdx::license_id(t).is_some_and(|id| id.name == t) {
        return Some(LicenseChoice::License(License::Id(t.to_owned())));
    }
    Some(LicenseChoice::Expression(t.to_owned()))
}

/// `url` as an IRI the schema accepts (`format: iri-reference`), or `None` when it has no
/// scheme. Characters an IRI cannot hold are percent-encoded: ASCII controls, space, double
/// quote, `<`, `>`, backslash, `^`, backtick, braces, vertical bar, non-ASCII, `%` not
/// followed by two hex digits, `[`/`]` outside the authority and a second `#`.
fn iri(url: &str) -> Option<String> {
    let url = url.trim();
    let colon = url.find(':')?;
    let scheme = &url[..colon];
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    let rest = &url[colon + 1..];
    // The authority: after `//`, up to the next `/`, `?` or `#`.
    let authority = rest.strip_prefix("//").map_or(0..0, |a| {
        let end = a.find(['/', '?', '#']).unwrap_or(a.len());
        2..2 + end
    });
    let bytes = rest.as_bytes();
    let mut out = format!("{scheme}:");
    let mut fragment = false;
    for (i, &b) in bytes.iter().enumerate() {
        let keep = match b {
            b'%' => {
                bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
            }
            b'[' | b']' => authority.contains(&i),
            b'#' => !std::mem::replace(&mut fragment, true),
            b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' => false,
            0x21..=0x7e => true,
            _ => false,
        };
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licenses() {
        let id = |s: &str| Some(LicenseChoice::License(License::Id(s.into())));
        let expr = |s: &str| Some(LicenseChoice::Expression(s.into()));
        let name = |s: &str| Some(LicenseChoice::License(License::Name(s.into())));
        assert_eq!(license("MIT"), id("MIT"));
        assert_eq!(license(" GPL-2.0-only "), id("GPL-2.0-only"));
        assert_eq!(
            license("GPL-2.0-or-later WITH Bison-exception-2.2"),
            expr("GPL-2.0-or-later WITH Bison-exception-2.2")
        );
        assert_eq!(license("Apache-2.0+"), expr("Apache-2.0+"));
        assert_eq!(license("GPL-2.0+"), name("GPL-2.0+"));
        assert_eq!(license("GPL-2.0"), name("GPL-2.0"));
        assert_eq!(license("MIT OR Apache-2.0"), expr("MIT OR Apache-2.0"));
        assert_eq!(license("LicenseRef-foo"), expr("LicenseRef-foo"));
        assert_eq!(license("MIT BSD"), name("MIT BSD"));
        assert_eq!(license(""), None);
    }

    #[test]
    fn contacts() {
        let c = |n: Option<&str>, e: Option<&str>| {
            Some(OrganizationalContact {
                name: n.map(str::to_owned),
                email: e.map(str::to_owned),
            })
        };
        assert_eq!(
            contact("Natanael Copa <ncopa@alpinelinux.org>"),
            c(Some("Natanael Copa"), Some("ncopa@alpinelinux.org"))
        );
        assert_eq!(contact("<a@b>"), c(None, Some("a@b")));
        assert_eq!(contact("Just A Name"), c(Some("Just A Name"), None));
        assert_eq!(
            contact("Odd <not an address>"),
            c(Some("Odd <not an address>"), None)
        );
        assert_eq!(contact("  "), None);
    }

    #[test]
    fn iris() {
        assert_eq!(
            iri("https://musl.libc.org/").as_deref(),
            Some("https://musl.libc.org/")
        );
        assert_eq!(
            iri("https://[::1]:80/a[1] b?x=%zz%41#f#g").as_deref(),
            Some("https://[::1]:80/a%5B1%5D%20b?x=%25zz%41#f%23g")
        );
        assert_eq!(
            iri("https://example.org/ü").as_deref(),
            Some("https://example.org/%C3%BC")
        );
        assert_eq!(iri("not a url"), None);
        assert_eq!(iri("git@github.com:a/b"), None);
        assert_eq!(iri(""), None);
    }

    #[test]
    fn tool_names() {
        assert_eq!(
            tool_name_version("apko-rs (0.1.0)"),
            ("apko-rs", Some("0.1.0"))
        );
        assert_eq!(
            tool_name_version("apko-rs 0.1.0"),
            ("apko-rs", Some("0.1.0"))
        );
        assert_eq!(tool_name_version("apko-rs"), ("apko-rs", None));
    }
}
