//! The installed database (`lib/apk/db/installed`): parsing never panics, and what parses is
//! written back (sorted, as apk writes it) as text that parses to the same records.
#![no_main]

use apko_apk::PackageName;
use apko_apk::installed::{InstalledDb, InstalledPackage};
use libfuzzer_sys::fuzz_target;

/// What the writer does not keep.
fn normalised(mut p: InstalledPackage) -> InstalledPackage {
    p.info.uninstallable = false;
    p.info.provider_priority = p.info.provider_priority.filter(|&k| k != 0);
    p.info.build_time = p.info.build_time.filter(|&t| t != 0);
    p.info.replaces_priority = p.info.replaces_priority.filter(|&q| q != 0);
    p
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(db) = InstalledDb::parse(text, "installed") else {
        return;
    };
    let written = db.write();
    let back = InstalledDb::parse(&written, "written")
        .unwrap_or_else(|e| panic!("the written database does not parse: {e}\n{written}"));
    let mut want: Vec<InstalledPackage> = db.packages.into_iter().map(normalised).collect();
    want.sort_by(|a, b| {
        PackageName::apk_cmp(a.info.name.as_str(), b.info.name.as_str())
            .then_with(|| a.info.version.cmp(&b.info.version))
    });
    let got: Vec<InstalledPackage> = back.packages.into_iter().map(normalised).collect();
    assert_eq!(got, want, "\n{written}");
});
