//! Hostile packages: the build fails with a clear error and writes nothing.

use crate::support::*;
use apko_build::deps::apko_apk::index::{ApkIndex, write_index};
use apko_build::deps::apko_apk::info::PackageInfo;
use apko_build::deps::apko_apk::keys::SignatureKind;
use apko_build::deps::apko_apk::tar::{TarBuilder, TarEntryBuilder};
use flate2::{Compression, write::GzEncoder};
use sha2::Digest;
use std::io::Write;
use std::path::Path;

fn gz(raw: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

/// A package made from raw tar entries (bypassing the writer's checks), with its index.
fn hostile_repo(dir: &Path, entries: &[(TarEntryBuilder, &[u8])]) {
    let adir = dir.join("x86_64");
    fs_err::create_dir_all(&adir).unwrap();
    fs_err::write(dir.join("test-key.rsa.pub"), key().public_key_pem()).unwrap();
    let mut data = TarBuilder::new(Vec::new());
    for (e, body) in entries {
        data.append_data(e, body).unwrap();
    }
    let data = gz(&data.finish().unwrap());
    let pkginfo = format!(
        "pkgname = evil\npkgver = 1.0-r0\narch = x86_64\nsize = 1\nlicense = MIT\ndatahash = {}\n",
        hex::encode(sha2::Sha256::digest(&data))
    );
    let mut control = TarBuilder::new(Vec::new());
    control
        .append_data(
            &TarEntryBuilder::file(".PKGINFO", 0o644, pkginfo.len() as u64),
            pkginfo.as_bytes(),
        )
        .unwrap();
    let control = gz(&control.finish_without_trailer().unwrap());
    let apk = [control.clone(), data].concat();
    fs_err::write(adir.join("evil-1.0-r0.apk"), &apk).unwrap();
    let mut info = PackageInfo::new("evil".parse().unwrap(), "1.0-r0".parse().unwrap());
    info.arch = Some("x86_64".into());
    info.installed_size = 1;
    info.size = apk.len() as u64;
    info.checksum = Some(apko_build::deps::apko_apk::Checksum::Sha1(
        sha1::Sha1::digest(&control).into(),
    ));
    let mut other = PackageInfo::new("dirowner".parse().unwrap(), "1".parse().unwrap());
    other.installed_size = 1;
    let (built, bytes) = apko_build::deps::apko_apk::package::PackageBuilder::new(other)
        .with_file(apko_build::deps::apko_apk::package::PackageFile::dir(
            "etc", 0o755,
        ))
        .with_file(apko_build::deps::apko_apk::package::PackageFile::dir(
            "etc/conf.d",
            0o755,
        ))
        .build()
        .unwrap();
    fs_err::write(adir.join("dirowner-1.apk"), bytes).unwrap();
    let mut idx = Vec::new();
    write_index(
        &ApkIndex {
            description: None,
            packages: vec![built.info, info],
        },
        &[(key(), SignatureKind::Rsa256)],
        &mut idx,
    )
    .unwrap();
    fs_err::write(adir.join("APKINDEX.tar.gz"), idx).unwrap();
}

#[test]
fn hostile_packages_fail_the_build_and_write_nothing() {
    use TarEntryBuilder as T;
    type Case<'a> = (Vec<(T, &'a [u8])>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (vec![(T::file("../../etc/passwd", 0o644, 1), b"x")], "`..`"),
        (vec![(T::file("/etc/passwd", 0o644, 1), b"x")], "absolute"),
        (
            vec![(T::symlink("etc/escape", "../../../../etc/shadow"), b"")],
            "outside the root",
        ),
        (
            vec![(T::hardlink("etc/hl", "../../etc/shadow", 0o644), b"")],
            "`..`",
        ),
        (
            vec![(T::hardlink("etc/hl", "etc/not-in-package", 0o644), b"")],
            "earlier file",
        ),
        (
            vec![(T::file("etc/conf.d", 0o644, 1), b"x")],
            "cannot replace a directory",
        ),
    ];
    for (entries, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        hostile_repo(&dir.path().join("repo"), &entries);
        let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [dirowner, evil]\narchs: [x86_64]\n";
        let req = request(dir.path(), cfg, &dir.path().join("repo"));
        let before: Vec<_> = walk(dir.path());
        let result = apko_build::Builder::new(req).build();
        let err = result.expect_err(want);
        let text = chain(&err);
        assert!(text.contains("evil"), "names the package: {text}");
        assert!(text.contains(want), "{text} should say {want}");
        // Nothing was written next to the configuration (no output, no stray files).
        assert_eq!(walk(dir.path()), before);
        assert!(!Path::new("/etc/escape").exists());
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}
