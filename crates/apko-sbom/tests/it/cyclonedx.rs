//! The CycloneDX documents: structure, agreement with the SPDX documents built from the same
//! inputs, and determinism. Schema validation by cyclonedx-python-lib is a consumer test
//! (`apko-cli/tests/consumers.rs`).

use crate::support::{self, ARM_DIGEST, IMAGE_DIGEST, INDEX_DIGEST};
use apko_sbom::{image_bom, image_sbom, index_bom, serial_number};
use serde_json::{Value, json};
use std::collections::BTreeSet;

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

fn image_json() -> Value {
    let p = support::packages();
    to_json(&image_bom(&support::image(&p)))
}

fn component<'a>(bom: &'a Value, name: &str) -> &'a Value {
    bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

fn depends_on<'a>(bom: &'a Value, reference: &str) -> Vec<&'a str> {
    let d = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == reference)
        .unwrap_or_else(|| panic!("no dependency entry for {reference}"));
    d["dependsOn"]
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap()).collect())
        .unwrap_or_default()
}

/// The schema's `serialNumber` pattern, and a version 5 UUID.
fn assert_serial(s: &str) {
    let u = s.strip_prefix("urn:uuid:").unwrap();
    let groups: Vec<&str> = u.split('-').collect();
    assert_eq!(
        groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{s}"
    );
    assert!(
        u.bytes()
            .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{s}"
    );
    assert!(groups[2].starts_with('5'), "{s}");
    assert!(
        matches!(groups[3].as_bytes()[0], b'8'..=b'9' | b'a'..=b'b'),
        "{s}"
    );
}

#[test]
fn image_document_header_and_metadata() {
    let bom = image_json();
    assert_eq!(
        bom["$schema"],
        "http://cyclonedx.org/schema/bom-1.6.schema.json"
    );
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    assert_eq!(bom["version"], 1);
    // Python: uuid.uuid5(uuid.NAMESPACE_URL, "urn:apko-rs:cyclonedx:" + digest)
    assert_eq!(
        bom["serialNumber"],
        "urn:uuid:30acade9-991d-585b-ae8a-6a0ccb852fa6"
    );
    assert_eq!(bom["serialNumber"], serial_number(IMAGE_DIGEST));
    assert_serial(bom["serialNumber"].as_str().unwrap());

    let m = &bom["metadata"];
    assert_eq!(m["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(m["lifecycles"], json!([{"phase": "build"}]));
    assert_eq!(
        m["tools"],
        json!({"components": [{"type": "application", "name": "apko-rs", "version": "0.1.0"}]})
    );
    let image = &m["component"];
    let purl = format!(
        "pkg:oci/hello@{IMAGE_DIGEST}?arch=amd64&mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson&os=linux"
    );
    assert_eq!(image["type"], "container");
    assert_eq!(image["name"], "hello");
    assert_eq!(image["version"], IMAGE_DIGEST);
    assert_eq!(image["bom-ref"], purl.as_str());
    assert_eq!(image["purl"], purl.as_str());
    assert_eq!(image["supplier"], json!({"name": "Alpine Linux"}));
    assert_eq!(
        image["hashes"],
        json!([{"alg": "SHA-256", "content": IMAGE_DIGEST.strip_prefix("sha256:").unwrap()}])
    );
}

#[test]
fn image_components() {
    let bom = image_json();
    let names: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    // The operating system, then the packages by name (not in install order).
    assert_eq!(names, ["alpine", "busybox", "dual", "musl", "odd-thing"]);
    assert_eq!(
        bom["components"][0],
        json!({
            "type": "operating-system",
            "bom-ref": "operating-system:alpine@3.20.3",
            "supplier": {"name": "Alpine Linux"},
            "name": "alpine",
            "version": "3.20.3",
            "description": "Alpine Linux",
        })
    );

    let musl = component(&bom, "musl");
    assert_eq!(musl["type"], "library");
    assert_eq!(musl["version"], "1.2.5-r0");
    assert_eq!(musl["purl"], "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64");
    assert_eq!(musl["bom-ref"], musl["purl"]);
    assert_eq!(
        musl["description"],
        "the musl c library (libc) implementation"
    );
    let person = json!({"name": "Timo Teräs", "email": "timo.teras@iki.fi"});
    assert_eq!(
        musl["supplier"],
        json!({"name": "Timo Teräs", "contact": [person]})
    );
    assert_eq!(musl["authors"], json!([person]));
    assert_eq!(
        musl["hashes"],
        json!([
            {"alg": "SHA-1", "content": "9f67486e4f6e354a86ae6e4faa2df2aea303bae3"},
            {"alg": "SHA-256", "content": "ab".repeat(32)},
        ])
    );
    assert_eq!(musl["licenses"], json!([{"license": {"id": "MIT"}}]));
    assert_eq!(
        musl["externalReferences"],
        json!([{"url": "https://musl.libc.org/", "type": "website"}])
    );
    assert_eq!(
        musl["properties"],
        json!([
            {"name": "apko-rs:apk:origin", "value": "musl"},
            {"name": "apko-rs:apk:commit", "value": "0123456789abcdef0123456789abcdef01234567"},
        ])
    );

    // A compound expression; a URL that needs escaping; no maintainer: the distribution.
    let dual = component(&bom, "dual");
    assert_eq!(
        dual["licenses"],
        json!([{"expression": "MIT OR Apache-2.0"}])
    );
    assert_eq!(
        dual["externalReferences"][0]["url"],
        "https://example.org/a%20b?c=d&e=%25zz"
    );
    assert_eq!(dual["supplier"], json!({"name": "Alpine Linux"}));
    assert!(dual.get("authors").is_none() && dual.get("hashes").is_none());
    // No arch of its own: the image's.
    assert_eq!(
        dual["purl"],
        "pkg:apk/alpine/dual@0.1_git20240101-r0?arch=x86_64"
    );

    // Not an SPDX expression: a named licence; not a URL: no reference; a name only.
    let odd = component(&bom, "odd-thing");
    assert_eq!(
        odd["licenses"],
        json!([{"license": {"name": "custom licence, see COPYING"}}])
    );
    assert!(odd.get("externalReferences").is_none());
    assert_eq!(odd["authors"], json!([{"name": "Just A Name"}]));
}

#[test]
fn purls_and_checksums_agree_with_spdx() {
    let p = support::packages();
    let input = support::image(&p);
    let spdx = to_json(&image_sbom(&input));
    let bom = to_json(&image_bom(&input));
    for pkg in &p {
        let s = spdx["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == pkg.name.as_str() && s["versionInfo"] == pkg.version.as_str())
            .unwrap();
        let c = component(&bom, pkg.name.as_str());
        assert_eq!(c["purl"], s["externalRefs"][0]["referenceLocator"]);
        let sha1 = s.get("checksums").map(|cs| cs[0]["checksumValue"].clone());
        let cdx_sha1 = c.get("hashes").and_then(|hs| {
            hs.as_array()
                .unwrap()
                .iter()
                .find(|h| h["alg"] == "SHA-1")
                .map(|h| h["content"].clone())
        });
        assert_eq!(sha1, cdx_sha1, "{}", pkg.name);
    }
    let image_purl = &spdx["packages"][0]["externalRefs"][0]["referenceLocator"];
    assert_eq!(&bom["metadata"]["component"]["purl"], image_purl);
}

#[test]
fn image_dependencies() {
    let bom = image_json();
    let purl = |n: &str| component(&bom, n)["bom-ref"].as_str().unwrap().to_owned();
    let image = bom["metadata"]["component"]["bom-ref"].as_str().unwrap();
    // The image depends on the operating system and every package.
    let all: Vec<String> = ["alpine", "busybox", "dual", "musl", "odd-thing"]
        .map(purl)
        .to_vec();
    assert_eq!(depends_on(&bom, image), all);
    // busybox: `so:libc…` and `musl>=1.2` are musl (once); `!busybox-extras` is a conflict.
    assert_eq!(depends_on(&bom, &purl("busybox")), [purl("musl")]);
    // dual: itself left out, busybox once, sorted.
    assert_eq!(
        depends_on(&bom, &purl("dual")),
        [purl("busybox"), purl("odd-thing")]
    );
    // odd-thing: a name nothing installed provides is left out.
    assert_eq!(depends_on(&bom, &purl("odd-thing")), [purl("busybox")]);
    assert!(depends_on(&bom, &purl("musl")).is_empty());
    assert!(depends_on(&bom, &purl("alpine")).is_empty());

    // One entry per component, each `ref` and `dependsOn` a bom-ref, each bom-ref unique.
    let mut refs: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .chain([image])
        .collect();
    let unique: BTreeSet<&str> = refs.iter().copied().collect();
    assert_eq!(unique.len(), refs.len());
    let mut entries: Vec<&str> = bom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["ref"].as_str().unwrap())
        .collect();
    refs.sort_unstable();
    entries.sort_unstable();
    assert_eq!(refs, entries);
    for d in bom["dependencies"].as_array().unwrap() {
        for r in d["dependsOn"].as_array().into_iter().flatten() {
            assert!(unique.contains(r.as_str().unwrap()), "{r}");
        }
    }
}

#[test]
fn index_document() {
    let bom = to_json(&index_bom(&support::index(true)));
    assert_eq!(bom["bomFormat"], "CycloneDX");
    assert_eq!(bom["specVersion"], "1.6");
    assert_eq!(bom["serialNumber"], serial_number(INDEX_DIGEST));
    assert_serial(bom["serialNumber"].as_str().unwrap());
    let index = &bom["metadata"]["component"];
    let index_purl = format!(
        "pkg:oci/hello@{INDEX_DIGEST}?mediaType=application%2Fvnd.oci.image.index.v1%2Bjson"
    );
    assert_eq!(index["type"], "container");
    assert_eq!(index["bom-ref"], index_purl.as_str());
    assert_eq!(index["version"], INDEX_DIGEST);
    assert_eq!(
        index["externalReferences"],
        json!([{
            "url": "https://github.com/example/hello",
            "comment": "revision 0123456789abcdef0123456789abcdef01234567",
            "type": "vcs",
        }])
    );
    let images = bom["components"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    let mut image_refs = Vec::new();
    for (c, (arch, digest)) in images
        .iter()
        .zip([("amd64", IMAGE_DIGEST), ("arm64", ARM_DIGEST)])
    {
        let purl = format!(
            "pkg:oci/hello@{digest}?arch={arch}&mediaType=application%2Fvnd.oci.image.manifest.v1%2Bjson&os=linux"
        );
        assert_eq!(c["type"], "container");
        assert_eq!(c["bom-ref"], purl.as_str());
        assert_eq!(c["purl"], purl.as_str());
        assert_eq!(c["version"], digest);
        assert_eq!(
            c["hashes"][0]["content"],
            digest.strip_prefix("sha256:").unwrap()
        );
        assert_eq!(
            c["properties"],
            json!([{"name": "apko-rs:architecture", "value": arch}])
        );
        assert!(depends_on(&bom, &purl).is_empty());
        image_refs.push(purl);
    }
    assert_eq!(depends_on(&bom, &index_purl), image_refs);
    // The per-arch image's own BOM describes the same component.
    let p = support::packages();
    let image = image_bom(&support::image(&p));
    assert_eq!(
        image.metadata.component.bom_ref.as_deref(),
        Some(image_refs[0].as_str())
    );
}

#[test]
fn index_without_vcs_or_with_a_scp_style_url() {
    let bom = to_json(&index_bom(&support::index(false)));
    assert!(
        bom["metadata"]["component"]
            .get("externalReferences")
            .is_none()
    );
    let mut input = support::index(true);
    input.vcs.as_mut().unwrap().url = "git@github.com:example/hello".into();
    let bom = to_json(&index_bom(&input));
    let index = &bom["metadata"]["component"];
    assert!(index.get("externalReferences").is_none());
    assert_eq!(
        index["properties"],
        json!([{
            "name": "apko-rs:vcs-url",
            "value": "git@github.com:example/hello@0123456789abcdef0123456789abcdef01234567",
        }])
    );
}

#[test]
fn an_image_without_packages() {
    let input = support::image(&[]);
    let bom = to_json(&image_bom(&input));
    assert_eq!(bom["components"].as_array().unwrap().len(), 1);
    let image = bom["metadata"]["component"]["bom-ref"].as_str().unwrap();
    assert_eq!(depends_on(&bom, image), ["operating-system:alpine@3.20.3"]);
}

#[test]
fn same_inputs_same_bytes() {
    let p = support::packages();
    let once = serde_json::to_vec(&image_bom(&support::image(&p))).unwrap();
    let twice = serde_json::to_vec(&image_bom(&support::image(&p))).unwrap();
    assert_eq!(once, twice);
    // Install order does not show.
    let mut reversed = p.clone();
    reversed.reverse();
    let other = serde_json::to_vec(&image_bom(&support::image(&reversed))).unwrap();
    assert_eq!(once, other);
    let index = || serde_json::to_vec(&index_bom(&support::index(true))).unwrap();
    assert_eq!(index(), index());
    // A different image: a different serial number.
    let mut input = support::image(&p);
    input.image_digest = ARM_DIGEST.into();
    assert_ne!(image_bom(&input).serial_number, serial_number(IMAGE_DIGEST));
    assert_ne!(serial_number(IMAGE_DIGEST), serial_number(INDEX_DIGEST));
}
