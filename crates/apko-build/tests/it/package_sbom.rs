//! The SPDX documents packages ship (`/var/lib/db/sbom/*.spdx.json`) are merged into the
//! image's: their elements re-identified, the APK not duplicated, every relationship naming
//! an element of the document; a document that cannot be used is recorded, not fatal.

use crate::support::*;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// A melange-like document for `name`-`version`: the package (with a licence text of its
/// own, a purl, a file) generated from an upstream source package.
fn melange_doc(name: &str, version: &str, license_text: &str) -> String {
    json!({
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": format!("apk-{name}-{version}"),
        "spdxVersion": "SPDX-2.3",
        "creationInfo": {"created": "2024-01-01T00:00:00Z", "creators": ["Tool: melange"]},
        "dataLicense": "CC0-1.0",
        "documentNamespace": "https://spdx.org/spdxdocs/chainguard/melange/x",
        "documentDescribes": [format!("SPDXRef-Package-{name}-{version}")],
        "files": [{
            "SPDXID": "SPDXRef-File--usr-bin-tool",
            "fileName": "/usr/bin/tool",
            "licenseConcluded": "NOASSERTION",
            "checksums": [{"algorithm": "SHA1", "checksumValue": "4cf5f095d438b880c735bd122f018186353df0fa"}]
        }],
        "packages": [
            {
                "SPDXID": "SPDXRef-OperatingSystem",
                "name": "wolfi",
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "primaryPackagePurpose": "OPERATING-SYSTEM"
            },
            {
                "SPDXID": format!("SPDXRef-Package-{name}-{version}"),
                "name": name,
                "versionInfo": version,
                "filesAnalyzed": true,
                "hasFiles": ["SPDXRef-File--usr-bin-tool"],
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "MIT AND LicenseRef-custom",
                "downloadLocation": "NOASSERTION",
                "copyrightText": "Copyright 2024 Example\n",
                "supplier": "Organization: Wolfi",
                "externalRefs": [{
                    "referenceCategory": "PACKAGE_MANAGER",
                    "referenceLocator": format!("pkg:apk/wolfi/{name}@{version}?arch=x86_64"),
                    "referenceType": "purl"
                }],
                "packageVerificationCode": {"packageVerificationCodeValue": "835c51b07268c2d764b01996b212c17678c5c86b"}
            },
            {
                "SPDXID": "SPDXRef-Package-upstream-1.0",
                "name": "upstream",
                "versionInfo": "1.0",
                "filesAnalyzed": false,
                "licenseDeclared": "LicenseRef-custom",
                "downloadLocation": "https://example.org/upstream-1.0.tar.gz",
                "primaryPackagePurpose": "SOURCE"
            }
        ],
        "relationships": [
            {"spdxElementId": format!("SPDXRef-Package-{name}-{version}"), "relationshipType": "GENERATED_FROM", "relatedSpdxElement": "SPDXRef-Package-upstream-1.0"},
            {"spdxElementId": format!("SPDXRef-Package-{name}-{version}"), "relationshipType": "CONTAINS", "relatedSpdxElement": "SPDXRef-File--usr-bin-tool"},
            {"spdxElementId": format!("SPDXRef-Package-{name}-{version}"), "relationshipType": "DEPENDS_ON", "relatedSpdxElement": "SPDXRef-Package-nowhere"}
        ],
        "hasExtractedLicensingInfos": [
            {"licenseId": "LicenseRef-custom", "extractedText": license_text, "name": "custom"}
        ]
    })
    .to_string()
}

fn repo(dir: &std::path::Path) -> std::path::PathBuf {
    let big = format!(
        "{{\"spdxVersion\": \"SPDX-2.3\"{}}}",
        " ".repeat(apko_build::deps::apko_sbom::MAX_DOCUMENT_BYTES)
    );
    write_repo(
        dir,
        &["x86_64"],
        &[
            pkg("tool", "1.2-r3")
                .depends("other garbage big")
                .file("usr/bin/tool", 0o755, "#!/bin/sh\n")
                .file(
                    "var/lib/db/sbom/tool-1.2-r3.spdx.json",
                    0o644,
                    &melange_doc("tool", "1.2-r3", "tool's own licence"),
                ),
            // Found without its release, as apko finds it; a LicenseRef of the same name with
            // another text.
            pkg("other", "0.1-r0").file(
                "var/lib/db/sbom/other-0.1.spdx.json",
                0o644,
                &melange_doc("other", "0.1-r0", "another licence"),
            ),
            pkg("garbage", "1-r0").file(
                "var/lib/db/sbom/garbage-1-r0.spdx.json",
                0o644,
                "{\"spdxVersion\": \"SPDX-2.3\", \"packages\": [",
            ),
            pkg("big", "1-r0").file("var/lib/db/sbom/big.spdx.json", 0o644, &big),
        ],
    )
}

fn sbom(out: &apko_build::BuildOutput) -> Value {
    serde_json::from_slice(out.images[0].sbom.as_ref().unwrap()).unwrap()
}

fn ids(doc: &Value, key: &str) -> BTreeSet<String> {
    doc[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["SPDXID"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn package<'a>(doc: &'a Value, id: &str) -> &'a Value {
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["SPDXID"] == id)
        .unwrap_or_else(|| panic!("no package {id}"))
}

#[test]
fn package_documents_are_merged() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(&dir.path().join("repo"));
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [tool]\narchs: [x86_64]\n";
    let out = build(request(dir.path(), cfg, &repo)).unwrap();
    let doc = sbom(&out);

    // One element per APK: the document's own description of it is merged into it.
    let packages = doc["packages"].as_array().unwrap();
    let tools: Vec<&Value> = packages.iter().filter(|p| p["name"] == "tool").collect();
    assert_eq!(tools.len(), 1, "{packages:#?}");
    let tool = tools[0];
    let tool_id = "SPDXRef-Package-apk-tool-1.2-r3";
    assert_eq!(tool["SPDXID"], tool_id);
    // `other` is installed first (`tool` depends on it): its `LicenseRef-custom` keeps the
    // name, tool's, another text, is renamed.
    assert_eq!(tool["licenseDeclared"], "MIT AND LicenseRef-custom-2");
    assert_eq!(tool["copyrightText"], "Copyright 2024 Example\n");
    assert_eq!(tool["supplier"], "Organization: Wolfi");
    assert_eq!(tool["filesAnalyzed"], true);
    assert_eq!(
        tool["packageVerificationCode"]["packageVerificationCodeValue"],
        "835c51b07268c2d764b01996b212c17678c5c86b"
    );
    let purls: Vec<&str> = tool["externalRefs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["referenceLocator"].as_str().unwrap())
        .collect();
    assert_eq!(
        purls,
        [
            "pkg:apk/unknown/tool@1.2-r3?arch=x86_64",
            "pkg:apk/wolfi/tool@1.2-r3?arch=x86_64"
        ]
    );
    assert!(
        tool["externalRefs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["referenceCategory"] == "PACKAGE-MANAGER")
    );
    assert!(tool.get("hasFiles").is_none());

    // The other elements, re-identified; the operating system is the image's.
    let source_id = "SPDXRef-apk-tool-1.2-r3-Package-upstream-1.0";
    let source = package(&doc, source_id);
    assert_eq!(source["primaryPackagePurpose"], "SOURCE");
    assert_eq!(source["licenseDeclared"], "LicenseRef-custom-2");
    let other_source = package(&doc, "SPDXRef-apk-other-0.1-r0-Package-upstream-1.0");
    assert_eq!(other_source["licenseDeclared"], "LicenseRef-custom");
    assert_eq!(
        packages.iter().filter(|p| p["name"] == "wolfi").count(),
        0,
        "the documents' operating system is the image's"
    );
    let file_id = "SPDXRef-apk-tool-1.2-r3-File--usr-bin-tool";
    assert_eq!(
        ids(&doc, "files"),
        BTreeSet::from([
            file_id.to_owned(),
            "SPDXRef-apk-other-0.1-r0-File--usr-bin-tool".to_owned()
        ])
    );

    // Relationships name elements of the document only.
    let rels: BTreeSet<(String, String, String)> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["spdxElementId"].as_str().unwrap().to_owned(),
                r["relationshipType"].as_str().unwrap().to_owned(),
                r["relatedSpdxElement"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let known: BTreeSet<String> = ids(&doc, "packages")
        .into_iter()
        .chain(ids(&doc, "files"))
        .chain(["SPDXRef-DOCUMENT".to_owned()])
        .collect();
    for (a, _, b) in &rels {
        assert!(known.contains(a) && known.contains(b), "{a} -> {b}");
    }
    let has = |a: &str, t: &str, b: &str| rels.contains(&(a.into(), t.into(), b.into()));
    assert!(has(tool_id, "GENERATED_FROM", source_id));
    assert!(has(tool_id, "CONTAINS", file_id));
    assert_eq!(
        rels.iter().filter(|(_, t, _)| t == "DESCRIBES").count(),
        1,
        "only the image is described"
    );
    assert_eq!(
        ids(&doc, "packages").len(),
        packages.len(),
        "identifiers are unique"
    );

    // Licences merged by id, a different text renamed.
    let licenses: Vec<(String, String)> = doc["hasExtractedLicensingInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["licenseId"].as_str().unwrap().to_owned(),
                l["extractedText"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        licenses,
        [
            ("LicenseRef-custom".into(), "another licence".into()),
            ("LicenseRef-custom-2".into(), "tool's own licence".into())
        ]
    );

    // Unusable documents are recorded on their package; the build went on.
    let note = |id: &str| {
        package(&doc, id)["annotations"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|n| n["comment"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let garbage = note("SPDXRef-Package-apk-garbage-1-r0");
    assert_eq!(garbage.len(), 1);
    assert!(
        garbage[0].starts_with(
            "/var/lib/db/sbom/garbage-1-r0.spdx.json: not merged: not an SPDX JSON document"
        ),
        "{garbage:?}"
    );
    let big = note("SPDXRef-Package-apk-big-1-r0");
    assert_eq!(
        big,
        ["/var/lib/db/sbom/big.spdx.json: not merged: larger than the limit of 16 MiB"]
    );
    // The relationship to an element the document does not have is left out, and said so.
    let tool_notes = note(tool_id);
    assert_eq!(tool_notes.len(), 1, "{tool_notes:?}");
    assert!(tool_notes[0].contains("merged without 1 elements"));
    assert_eq!(
        package(&doc, tool_id)["annotations"][0]["annotationType"],
        "OTHER"
    );

    // The same inputs, the same bytes.
    let again = build(request(dir.path(), cfg, &repo)).unwrap();
    assert_eq!(out.images[0].sbom, again.images[0].sbom);
}

#[test]
fn sboms_of_an_existing_image_merge_the_package_documents_too() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(&dir.path().join("repo"));
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [tool]\narchs: [x86_64]\n";
    let out = build(request(dir.path(), cfg, &repo)).unwrap();
    let built = sbom(&out);
    let layout = dir.path().join("layout");
    out.write_layout(&layout).unwrap();
    let work = tempfile::tempdir().unwrap();
    let files = apko_build::image_sboms(
        &layout,
        &"example.test/img:latest".parse().unwrap(),
        &[apko_build::SbomFormat::Spdx].into(),
        work.path(),
    )
    .unwrap();
    assert_eq!(files.len(), 1);
    let inspected: Value = serde_json::from_slice(&files[0].1).unwrap();
    for key in ["packages", "files", "snippets"] {
        assert_eq!(ids(&inspected, key), ids(&built, key), "{key}");
    }
    assert!(
        ids(&inspected, "files")
            .iter()
            .any(|f| f.contains("usr-bin-tool")),
        "the tool package's own file element: {:?}",
        ids(&inspected, "files")
    );
    assert_eq!(
        inspected["hasExtractedLicensingInfos"], built["hasExtractedLicensingInfos"],
        "licences"
    );
}

#[test]
fn sboms_of_an_existing_zstd_image() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(&dir.path().join("repo"));
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [tool]\narchs: [x86_64]\ncompression: zstd\n";
    let out = build(request(dir.path(), cfg, &repo)).unwrap();
    let layout = dir.path().join("layout");
    out.write_layout(&layout).unwrap();
    let work = tempfile::tempdir().unwrap();
    let files = apko_build::image_sboms(
        &layout,
        &"example.test/img:latest".parse().unwrap(),
        &[apko_build::SbomFormat::Spdx].into(),
        work.path(),
    )
    .unwrap();
    let inspected: Value = serde_json::from_slice(&files[0].1).unwrap();
    assert_eq!(ids(&inspected, "packages"), ids(&sbom(&out), "packages"));
}

/// The merged document of our own melange-like packages passes pyspdxtools (SPDX 2.3) and
/// ntia-checker, as the real Wolfi/melange packages' do in the conformance suite.
#[test]
#[ignore = "needs pyspdxtools and ntia-checker (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn merged_documents_are_valid_spdx() {
    let venv = std::env::var_os("APKO_TEST_VENV").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv"),
        std::path::PathBuf::from,
    );
    let dir = tempfile::tempdir().unwrap();
    let repo = repo(&dir.path().join("repo"));
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [tool]\narchs: [x86_64]\n";
    let out = build(request(dir.path(), cfg, &repo)).unwrap();
    let path = dir.path().join("sbom-x86_64.spdx.json");
    fs_err::write(&path, out.images[0].sbom.as_ref().unwrap()).unwrap();
    // The merge really happened: the upstream source package of `tool` is in the document.
    assert!(
        sbom(&out)["packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "upstream")
    );
    for (tool, args) in [("pyspdxtools", vec!["-i"]), ("ntia-checker", vec![])] {
        let bin = venv.join("bin").join(tool);
        assert!(
            bin.is_file(),
            "{} is missing; run scripts/install-test-tools.sh (or set APKO_TEST_VENV)",
            bin.display()
        );
        let o = std::process::Command::new(&bin)
            .args(args)
            .arg(&path)
            .output()
            .unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "{tool}: {report}");
        if tool == "pyspdxtools" {
            assert!(o.stderr.is_empty(), "{tool}: {report}");
        } else {
            assert!(report.contains("Conformant: True"), "{tool}: {report}");
        }
    }
}
