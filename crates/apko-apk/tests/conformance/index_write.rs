//! The APKINDEX we write for real packages, against the one apk-tools 2.14.4 wrote; and the
//! per-package analysis (member layout, identities, datahash).

use crate::common::{Tally, json, path};
use apko_apk::index::{ApkIndex, IndexTrust, parse_index_text, read_index, write_index_text};
use apko_apk::keys::Keyring;
use apko_apk::package::{Limits, PackageReader};
use std::collections::BTreeMap;

fn records(text: &str) -> BTreeMap<String, String> {
    text.split("\n\n")
        .filter(|r| !r.trim().is_empty())
        .map(|r| {
            let c = r.lines().find(|l| l.starts_with("C:")).unwrap().to_owned();
            (c, format!("{}\n", r.trim_end()))
        })
        .collect()
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA"]
fn written_index_matches_apk_index() {
    let golden = fs_err::read_to_string(path("golden/APKINDEX.apk-2.14.4.txt")).unwrap();
    let analysis = json("golden/package-analysis.json");
    let mut ours = ApkIndex::default();
    for pkg in analysis.as_array().unwrap() {
        let file = pkg["file"].as_str().unwrap().trim_start_matches("./");
        if !file.ends_with(".apk") || !pkg["datahash_ok"].as_bool().unwrap_or(false) {
            continue; // apk index refuses packages with a broken datahash (neon, aws-c-s3)
        }
        let f = fs_err::File::open(path(file)).unwrap();
        let reader =
            PackageReader::new(std::io::BufReader::new(f), file, &Limits::default()).unwrap();
        let (control, digests, _) = reader.finish().unwrap();
        ours.packages.push(ApkIndex::entry_for(&control, &digests));
    }
    let ours_text = write_index_text(&ours);
    let (want, got) = (records(&golden), records(&ours_text));
    let mut t = Tally::default();
    for (c, rec) in &want {
        t.case();
        match got.get(c) {
            Some(mine) if mine == rec => {}
            Some(mine) => t.fail(format!(
                "record {c} differs:\n--- apk\n{rec}--- ours\n{mine}"
            )),
            None => t.fail(format!("record {c} missing from ours")),
        }
    }
    if got.len() != want.len() {
        t.fail(format!(
            "{} records written, apk wrote {}",
            got.len(),
            want.len()
        ));
    }
    // And the golden archive itself reads back to the same records.
    let (idx, _) = read_index(
        fs_err::File::open(path("golden/APKINDEX.apk-2.14.4.unsigned.tar.gz")).unwrap(),
        "golden",
        &Keyring::new(),
        IndexTrust::AllowUntrusted,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        idx.description.as_deref(),
        Some("golden index by apk-tools 2.14.4")
    );
    assert_eq!(idx, {
        let mut i = parse_index_text(&golden, "golden").unwrap();
        i.description = idx.description.clone();
        i
    });
    t.finish("apkindex-write");
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA"]
fn package_analysis_matches() {
    let analysis = json("golden/package-analysis.json");
    let mut t = Tally::default();
    for pkg in analysis.as_array().unwrap() {
        let file = pkg["file"].as_str().unwrap().trim_start_matches("./");
        if !file.ends_with(".apk") {
            continue;
        }
        t.case();
        let f = fs_err::File::open(path(file)).unwrap();
        let reader = match PackageReader::new(std::io::BufReader::new(f), file, &Limits::default())
        {
            Ok(r) => r,
            Err(e) => {
                t.fail(format!("{file}: {e}"));
                continue;
            }
        };
        let datahash_ok = pkg["datahash_ok"].as_bool().unwrap_or(true);
        match reader.finish() {
            Ok((_, d, _)) => {
                if !datahash_ok {
                    t.fail(format!(
                        "{file}: accepted a package whose datahash does not match"
                    ));
                    continue;
                }
                let members = pkg["gzip_members"].as_array().unwrap();
                let control_member = pkg["control_member"].as_u64().unwrap() as usize;
                let size = |m: &serde_json::Value| m[1].as_u64().unwrap() - m[0].as_u64().unwrap();
                let sig: u64 = members[..control_member].iter().map(size).sum();
                let control = size(&members[control_member]);
                let data: u64 = members[control_member + 1..].iter().map(size).sum();
                let want_c = pkg["identity_C"].as_str().unwrap();
                let got = (
                    d.identity.to_string(),
                    d.signature_size,
                    d.control_size,
                    d.data_size,
                );
                if got != (want_c.to_owned(), sig, control, data) {
                    t.fail(format!(
                        "{file}: ours {got:?}, analysis ({want_c}, {sig}, {control}, {data})"
                    ));
                }
            }
            Err(e) => {
                if datahash_ok {
                    t.fail(format!("{file}: {e}"));
                }
            }
        }
    }
    t.finish("package-analysis");
}
