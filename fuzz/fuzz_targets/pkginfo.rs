//! `.PKGINFO`: parsing never panics, and what parses is written back as a `.PKGINFO` that
//! parses to the same record.
#![no_main]

use apko_apk::pkginfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(info) = pkginfo::parse(data) else {
        return;
    };
    let written = pkginfo::write(&info, "apko-fuzz");
    let back = pkginfo::parse(written.as_bytes())
        .unwrap_or_else(|e| panic!("the written .PKGINFO does not parse: {e}\n{written}"));
    assert_eq!(back, info, "\n{written}");
});
