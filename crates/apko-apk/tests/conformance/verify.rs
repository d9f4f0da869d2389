//! `apk verify` verdicts and the real Alpine indexes.

use crate::common::{Tally, path, testdata};
use apko_apk::index::{IndexTrust, read_index};
use apko_apk::keys::{Keyring, SignaturePolicy, Verdict};
use apko_apk::package::{Limits, verify_package};

/// Every `*.rsa.pub` public key of the corpus (as the golden run used), skipping the
/// `.SIGN.*` signature blobs that merely look like key files.
fn all_keys() -> Keyring {
    let mut ring = Keyring::new();
    let mut stack = vec![testdata()];
    let mut files = Vec::new();
    while let Some(dir) = stack.pop() {
        for e in fs_err::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if name.ends_with(".rsa.pub") && !name.starts_with(".SIGN.") {
                    files.push(p);
                }
            }
        }
    }
    files.sort();
    for f in files {
        ring.add_file(&f).unwrap();
    }
    ring
}

fn verdict_word(v: &Verdict) -> &'static str {
    match v {
        Verdict::Trusted { .. } => "OK",
        Verdict::Untrusted => "UNTRUSTED",
        Verdict::BadSignature { .. } => "BAD signature",
    }
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA"]
fn apk_verify_verdicts_match() {
    let golden = fs_err::read_to_string(path("golden/apk-verify.apk-2.14.4.txt")).unwrap();
    let ring = all_keys();
    let mut t = Tally::default();
    for line in golden.lines() {
        // "./path: rc - VERDICT", possibly after a WARNING prefix.
        let start = line.find("./").unwrap();
        let line = &line[start..];
        let (file, rest) = line.split_once(": ").unwrap();
        let want = rest.split_once(" - ").unwrap().1.trim();
        t.case();
        let p = path(file.trim_start_matches("./"));
        let got = if file.ends_with("APKINDEX.tar.gz") {
            match read_index(
                fs_err::File::open(&p).unwrap(),
                file,
                &ring,
                IndexTrust::AllowUntrusted,
                &Limits::default(),
            ) {
                Ok((_, v)) => verdict_word(&v).to_owned(),
                Err(e) => format!("error: {e}"),
            }
        } else {
            match verify_package(
                fs_err::File::open(&p).unwrap(),
                file,
                &ring,
                SignaturePolicy::FirstUsable,
                &Limits::default(),
            ) {
                Ok(v) => verdict_word(&v).to_owned(),
                Err(e) => format!("error: {e}"),
            }
        };
        if got != want {
            t.fail(format!("{file}: ours {got}, apk {want}"));
        }
    }
    t.finish("apk-verify");
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA"]
fn real_alpine_indexes_parse_and_verify() {
    let mut ring = Keyring::new();
    for e in fs_err::read_dir(path("alpine/keys")).unwrap() {
        ring.add_file(&e.unwrap().path()).unwrap();
    }
    let mut t = Tally::default();
    for (file, count) in [
        ("apko/apk-testdata/alpine-316/APKINDEX.tar.gz", 4929),
        ("apko/apk-testdata/alpine-317/APKINDEX.tar.gz", 5004),
    ] {
        t.case();
        let f = fs_err::File::open(path(file)).unwrap();
        match read_index(
            f,
            file,
            &ring,
            IndexTrust::Require(SignaturePolicy::FirstUsable),
            &Limits::default(),
        ) {
            Ok((idx, Verdict::Trusted { .. })) => {
                if idx.packages.len() != count {
                    t.fail(format!(
                        "{file}: {} packages, expected {count}",
                        idx.packages.len()
                    ));
                }
                if idx.packages.iter().any(|p| p.checksum.is_none()) {
                    t.fail(format!("{file}: a record without C:"));
                }
            }
            Ok((_, v)) => t.fail(format!("{file}: {v:?}")),
            Err(e) => t.fail(format!("{file}: {e}")),
        }
    }
    t.finish("real-indexes");
}
