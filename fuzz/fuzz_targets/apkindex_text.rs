//! APKINDEX text: parsing never panics, and what parses is written back as text that parses
//! to the same records (fields the writer leaves out, or writes only when non-zero, are
//! normalised first).
#![no_main]

use apko_apk::index::{parse_index_text, write_index_text};
use apko_apk::info::PackageInfo;
use libfuzzer_sys::fuzz_target;

/// What the index writer does not keep.
fn normalised(mut p: PackageInfo) -> PackageInfo {
    p.uninstallable = false;
    p.provider_priority = p.provider_priority.filter(|&k| k != 0);
    p.build_time = p.build_time.filter(|&t| t != 0);
    p
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(index) = parse_index_text(text, "APKINDEX") else {
        return;
    };
    let written = write_index_text(&index);
    let back = parse_index_text(&written, "written")
        .unwrap_or_else(|e| panic!("the written index does not parse: {e}\n{written}"));
    let want: Vec<PackageInfo> = index.packages.into_iter().map(normalised).collect();
    let got: Vec<PackageInfo> = back.packages.into_iter().map(normalised).collect();
    assert_eq!(got, want, "\n{written}");
});
