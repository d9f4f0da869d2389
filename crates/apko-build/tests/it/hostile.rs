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
            "where `dirowner-1` has a directory",
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

#[test]
fn a_hard_link_cannot_take_over_another_packages_file() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[
            pkg("base", "1.0-r0").file("usr/bin/tool", 0o755, "real\n"),
            pkg("evil", "1.0-r0")
                .depends("base")
                .file("usr/bin/evil", 0o755, "evil\n")
                .entry(apko_build::deps::apko_apk::package::PackageFile::hardlink(
                    "usr/bin/tool",
                    "usr/bin/evil",
                    0o755,
                )),
        ],
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [evil]\narchs: [x86_64]\n";
    let err = build(request(dir.path(), cfg, &repo)).expect_err("conflict");
    let text = chain(&err);
    assert!(
        text.contains("base-1.0-r0")
            && text.contains("evil-1.0-r0")
            && text.contains("usr/bin/tool"),
        "{text}"
    );
}

#[test]
fn planted_symlinks_do_not_redirect_the_builders_writes() {
    use apko_build::deps::apko_apk::package::PackageFile;
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[
            pkg("base", "1.0-r0").file("usr/bin/tool", 0o755, "real\n"),
            pkg("evil", "1.0-r0")
                .depends("base")
                .entry(PackageFile::symlink("etc/apk/world", "../../usr/bin/tool"))
                .entry(PackageFile::symlink("etc/apko.json", "../usr/bin/tool"))
                .entry(PackageFile::symlink(
                    "usr/lib/apk/db/installed",
                    "../../../bin/tool",
                )),
        ],
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [evil]\narchs: [x86_64]\n";
    let out = build(request(dir.path(), cfg, &repo)).unwrap();
    let entries = layer_entries(&out, 0);
    let tool = find(&entries, "usr/bin/tool");
    assert_eq!((tool.data.as_slice(), tool.mode), (&b"real\n"[..], 0o755));
    for path in ["etc/apk/world", "etc/apko.json", "usr/lib/apk/db/installed"] {
        assert_eq!(find(&entries, path).kind, tar::EntryType::Regular, "{path}");
    }
    assert!(text(&entries, "etc/apk/world").contains("evil"));
}

#[test]
fn busybox_link_lists_cannot_create_dot_dot_entries() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[pkg("busybox", "1.36.1-r0")
            .file("bin/busybox", 0o755, "#!busybox\n")
            .file(
                "etc/busybox-paths.d/busybox",
                0o644,
                "/bin/sh\nzz/..\nqq/../..\n/usr/bin/../../x\n",
            )],
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [busybox]\narchs: [x86_64]\n";
    let out = build(request(dir.path(), cfg, &repo)).unwrap();
    let entries = layer_entries(&out, 0);
    assert_eq!(
        find(&entries, "bin/sh").link.as_deref(),
        Some("/bin/busybox")
    );
    for e in &entries {
        assert!(
            !e.path.split('/').any(|c| c == ".."),
            "a `..` entry in the layer: {}",
            e.path
        );
    }
}

#[test]
fn hard_links_to_directories_are_refused() {
    // From the configuration.
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[pkg("base", "1.0-r0").dir("usr", 0o755)],
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [base]\narchs: [x86_64]\npaths:\n  - path: /usr/loop\n    type: hardlink\n    source: /usr\n";
    let err = build(request(dir.path(), cfg, &repo)).expect_err("hard link to a directory");
    let text = chain(&err);
    assert!(
        text.contains("paths[0] (hardlink `/usr/loop`)")
            && text.contains("must point to a regular file, not a directory"),
        "{text}"
    );

    // From a package that re-points a path after linking to it: the link keeps the file.
    use TarEntryBuilder as T;
    let dir = tempfile::tempdir().unwrap();
    hostile_repo(
        &dir.path().join("repo"),
        &[
            (T::dir("a", 0o755), b""),
            (T::file("a/x", 0o644, 1), b"x"),
            (T::symlink("a/x", "/"), b""),
            (T::hardlink("a/loop", "a/x", 0o644), b""),
        ],
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [evil]\narchs: [x86_64]\n";
    let out = build(request(dir.path(), cfg, &dir.path().join("repo"))).unwrap();
    let entries = layer_entries(&out, 0);
    assert_eq!(find(&entries, "a/x").kind, tar::EntryType::Symlink);
    assert_eq!(find(&entries, "a/loop").data, b"x");
}

#[test]
fn a_package_file_that_is_not_the_indexed_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[pkg("base", "1.0-r0").file("etc/x", 0o644, "x\n")],
    );
    // Something appended after the signed package (a swapped or padded file).
    let apk = repo.join("x86_64/base-1.0-r0.apk");
    let mut bytes = fs_err::read(&apk).unwrap();
    bytes.extend_from_slice(&[0u8; 4096]);
    fs_err::write(&apk, bytes).unwrap();
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [base]\narchs: [x86_64]\n";
    let err = build(request(dir.path(), cfg, &repo)).expect_err("size mismatch");
    let text = chain(&err);
    assert!(
        text.contains("base-1.0-r0") && text.contains("the signed index says"),
        "{text}"
    );
}

#[test]
fn signed_index_records_without_identity_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[pkg("base", "1.0-r0").file("etc/x", 0o644, "x\n")],
    );
    // Re-sign an index whose record lost its `C:`.
    let adir = repo.join("x86_64");
    let bytes = {
        let mut info = PackageInfo::new("base".parse().unwrap(), "1.0-r0".parse().unwrap());
        info.arch = Some("x86_64".into());
        info.installed_size = 1;
        let mut out = Vec::new();
        write_index(
            &ApkIndex {
                description: None,
                packages: vec![info],
            },
            &[(key(), SignatureKind::Rsa256)],
            &mut out,
        )
        .unwrap();
        out
    };
    fs_err::write(adir.join("APKINDEX.tar.gz"), bytes).unwrap();
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [base]\narchs: [x86_64]\n";
    let err = build(request(dir.path(), cfg, &repo)).expect_err("no identity");
    let text = chain(&err);
    assert!(text.contains("has no SHA-1 identity"), "{text}");
    // With --ignore-signatures it is installed (unverified, as the user asked).
    let mut req = request(dir.path(), cfg, &repo);
    req.ignore_signatures = true;
    build(req).unwrap();
}
