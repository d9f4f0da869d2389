//! Packages: `expand` (the reader behind every install) with small limits never panics, and a
//! package it accepts has sizes that add up to the file and entries with normalised paths.
//! `verify_package` runs on the same bytes with a keyring holding the seed key.
//!
//! Input: a mode byte, then the raw `.apk` or tar segments to be gzipped (`apko_fuzz`).
#![no_main]

use apko_apk::keys::SignaturePolicy;
use apko_apk::package::{DataKind, expand, verify_package};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(apk) = apko_fuzz::container(data) else {
        return;
    };
    let limits = apko_fuzz::limits();
    let result = expand(apk.as_slice(), "fuzz.apk", &limits, None, std::io::sink());
    if let Ok((pkg, _)) = &result {
        assert_eq!(pkg.digests.file_size(), apk.len() as u64);
        for e in &pkg.entries {
            assert!(!e.path.is_empty() && !e.path.chars().any(char::is_control));
            assert!(
                !e.path.starts_with('/') && !e.path.ends_with('/'),
                "{:?}",
                e.path
            );
            assert!(
                !e.path
                    .split('/')
                    .any(|c| c == ".." || c == "." || c.is_empty()),
                "{:?}",
                e.path
            );
            if e.kind == DataKind::File {
                assert!(e.checksum.is_some(), "{:?} has no checksum", e.path);
            } else {
                assert_eq!(e.size, 0);
            }
        }
        // The identity expand reports is the one it checks against.
        let again = expand(
            apk.as_slice(),
            "fuzz.apk",
            &limits,
            Some(&pkg.digests.identity),
            std::io::sink(),
        );
        assert!(again.is_ok(), "{:?}", again.err());
    }
    let verdict = verify_package(
        apk.as_slice(),
        "fuzz.apk",
        apko_fuzz::keyring(),
        SignaturePolicy::AnyValid,
        &limits,
    );
    if result.is_ok() {
        assert!(
            verdict.is_ok(),
            "expand accepts what verify_package refuses"
        );
    }
});
