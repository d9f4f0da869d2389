//! `APKINDEX.tar.gz`: `read_index` (untrusted allowed, the seed key in the keyring) never
//! panics; an index it reads without a trusted signature is refused when trust is required.
//!
//! Input: a mode byte, then the raw file or tar segments to be gzipped (`apko_fuzz`).
#![no_main]

use apko_apk::index::{IndexTrust, read_index};
use apko_apk::keys::{SignaturePolicy, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(file) = apko_fuzz::container(data) else {
        return;
    };
    let keyring = apko_fuzz::keyring();
    let limits = apko_fuzz::limits();
    let untrusted = read_index(
        file.as_slice(),
        "APKINDEX.tar.gz",
        keyring,
        IndexTrust::AllowUntrusted,
        &limits,
    );
    let Ok((index, verdict)) = untrusted else {
        return;
    };
    let strict = read_index(
        file.as_slice(),
        "APKINDEX.tar.gz",
        keyring,
        IndexTrust::Require(SignaturePolicy::AnyValid),
        &limits,
    );
    match verdict {
        Verdict::Trusted { .. } => {
            let (strict_index, _) = strict.expect("a trusted index is read when trust is required");
            assert_eq!(strict_index.packages, index.packages);
        }
        Verdict::Untrusted | Verdict::BadSignature { .. } => assert!(strict.is_err()),
    }
});
