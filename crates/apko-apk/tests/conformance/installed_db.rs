//! The installed database against the ones apk-tools wrote.

use crate::common::{Tally, path};
use apko_apk::installed::{InstalledDb, InstalledPackage};
use apko_apk::package::{Limits, expand};
use apko_apk::tar::TarReader;
use std::io::Read;

/// Reads one file out of a `.tar.gz`.
pub(crate) fn file_from_tarball(tarball: &str, member: &str) -> Vec<u8> {
    let gz = flate2::read::GzDecoder::new(fs_err::File::open(path(tarball)).unwrap());
    let mut tar = TarReader::new(gz);
    while let Some(h) = tar.next_header().unwrap() {
        if h.path.trim_start_matches("./") == member {
            let mut buf = Vec::new();
            tar.read_to_end(&mut buf).unwrap();
            return buf;
        }
    }
    panic!("{member} not found in {tarball}");
}

const MINIROOTFS: [&str; 3] = [
    "alpine/minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz",
    "alpine/minirootfs/alpine-minirootfs-3.16.9-x86_64.tar.gz",
    "alpine/minirootfs/alpine-minirootfs-3.17.10-aarch64.tar.gz",
];

#[test]
#[ignore = "conformance: needs APKO_TESTDATA"]
fn installed_db_round_trips_byte_for_byte() {
    let mut t = Tally::default();
    let records = |s: &str| -> Vec<String> {
        let mut r: Vec<String> = s
            .split("\n\n")
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        r.sort();
        r
    };
    for tarball in MINIROOTFS {
        t.case();
        let text = String::from_utf8(file_from_tarball(tarball, "lib/apk/db/installed")).unwrap();
        // apk 2.14 (Alpine 3.20) writes records sorted by name, as we do: byte-identical.
        // apk 2.12 (3.16, 3.17) wrote them in installation order: same records.
        let exact = tarball.contains("3.20.3");
        match InstalledDb::parse(&text, tarball) {
            Ok(db) if exact && db.write() == text => {}
            Ok(db) if !exact && records(&db.write()) == records(&text) => {}
            Ok(_) => t.fail(format!("{tarball}: rewritten database differs")),
            Err(e) => t.fail(format!("{tarball}: {e}")),
        }
    }
    for file in [
        "apko/apk-testdata/root/usr/lib/apk/db/installed",
        "apk-tools/master/query-installed.data",
    ] {
        t.case();
        let text = fs_err::read_to_string(path(file)).unwrap();
        match InstalledDb::parse(&text, file) {
            Ok(db) if db.packages.len() > 5 => {}
            Ok(db) => t.fail(format!("{file}: only {} records", db.packages.len())),
            Err(e) => t.fail(format!("{file}: {e}")),
        }
    }
    t.finish("installed-db-round-trip");
}

/// Drops the lines that identify the repacked packages (`C:` identity, `S:` file size).
fn without_identity(record: &str) -> String {
    record
        .lines()
        .filter(|l| !l.starts_with("C:") && !l.starts_with("S:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA"]
fn installed_db_for_alpine_repo_matches_minirootfs() {
    let official =
        String::from_utf8(file_from_tarball(MINIROOTFS[0], "lib/apk/db/installed")).unwrap();
    let mut db = InstalledDb::default();
    let dir = path("alpine-repo/3.20.3/x86_64");
    let mut files: Vec<_> = fs_err::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "apk"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 14, "alpine-repo/3.20.3 holds 14 packages");
    for f in &files {
        let (pkg, _) = expand(
            std::io::BufReader::new(fs_err::File::open(f).unwrap()),
            &f.display().to_string(),
            &Limits::default(),
            None,
            std::io::sink(),
        )
        .unwrap();
        let mut info = pkg.control.info.clone();
        info.size = pkg.digests.file_size();
        info.checksum = Some(pkg.digests.identity);
        db.packages.push(
            InstalledPackage::new(info)
                .with_entries(pkg.entries.iter().map(|e| (e, (e.uid, e.gid)))),
        );
    }
    let ours = db.write();
    let split = |s: &str| -> Vec<String> {
        s.split("\n\n")
            .filter(|r| !r.is_empty())
            .map(without_identity)
            .collect()
    };
    let (want, got) = (split(&official), split(&ours));
    let mut t = Tally::default();
    for (i, rec) in want.iter().enumerate() {
        t.case();
        let name = rec.lines().find(|l| l.starts_with("P:")).unwrap();
        match got.iter().find(|r| r.lines().any(|l| l == name)) {
            Some(g) if g == rec => {}
            // The image's /etc/shadow was changed after installation, and the repacked package
            // carries the changed file, so its checksum differs (alpine-repo/README.md).
            Some(g) if name == "P:alpine-baselayout-data" && shadow_only_difference(rec, g) => {
                t.documented("alpine-baselayout-data: Z: of etc/shadow".to_owned());
            }
            Some(g) => {
                let diff: Vec<String> = rec
                    .lines()
                    .zip(g.lines())
                    .filter(|(a, b)| a != b)
                    .take(5)
                    .map(|(a, b)| format!("apk `{a}` ours `{b}`"))
                    .collect();
                t.fail(format!(
                    "record {i} {name} differs: {diff:?} (apk {} lines, ours {})",
                    rec.lines().count(),
                    g.lines().count()
                ));
            }
            None => t.fail(format!("{name} missing")),
        }
    }
    t.finish("installed-db-alpine-repo");
}

/// Whether two records differ only in the `Z:` line that follows `R:shadow`.
fn shadow_only_difference(a: &str, b: &str) -> bool {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    a.len() == b.len()
        && a.iter().zip(&b).enumerate().all(|(i, (x, y))| {
            x == y
                || (x.starts_with("Z:")
                    && y.starts_with("Z:")
                    && a[..i].iter().rev().find(|l| l.starts_with("R:")) == Some(&"R:shadow"))
        })
}
