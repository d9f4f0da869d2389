use super::*;
use crate::info::PackageInfo;
use crate::keys::{Keyring, SignatureKind, SignaturePolicy, Verdict};
use crate::package::{PackageBuilder, PackageFile, verify_package};
use crate::test_keys::test_key;
use std::io;

fn info(name: &str, version: &str) -> PackageInfo {
    let mut i = PackageInfo::new(name.parse().unwrap(), version.parse().unwrap());
    i.arch = Some("x86_64".into());
    i.description = "test package".into();
    i.license = "MIT".into();
    i.build_time = Some(1_700_000_000);
    i
}

fn sample(signed: bool) -> (crate::package::BuiltPackage, Vec<u8>) {
    let mut b = PackageBuilder::new(info("hello", "1.0-r0"))
        .with_file(PackageFile::dir("usr", 0o755))
        .with_file(PackageFile::dir("usr/bin", 0o755))
        .with_file(
            PackageFile::file("usr/bin/hello", 0o755, b"#!/bin/sh\necho hello\n".to_vec()).mtime(5),
        )
        .with_file(PackageFile::hardlink(
            "usr/bin/hello-again",
            "usr/bin/hello",
            0o755,
        ))
        .with_file(PackageFile::symlink("usr/bin/hi", "hello"))
        .with_file(
            PackageFile::file("etc/hello.conf", 0o644, b"x=1\n".to_vec())
                .owner(501, 20, "me", "staff"),
        )
        .with_file(
            PackageFile::file("usr/share/big", 0o644, vec![b'a'; 300_000]).xattr("user.test", b"v"),
        )
        .with_script("post-install", "#!/bin/sh\ntrue\n");
    if signed {
        b = b.with_signature(test_key(), SignatureKind::Rsa256);
    }
    b.build().unwrap()
}

fn keyring() -> Keyring {
    let mut k = Keyring::new();
    k.add_pem(test_key().name(), test_key().public_key_pem().as_bytes())
        .unwrap();
    k
}

#[test]
fn write_then_expand_round_trips() {
    let (built, bytes) = sample(true);
    assert_eq!(built.file_size(), bytes.len() as u64);
    let (pkg, data) = expand(
        bytes.as_slice(),
        "hello.apk",
        &Limits::default(),
        Some(&built.identity()),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(pkg.control.info.name.as_str(), "hello");
    assert_eq!(pkg.control.info.installed_size, 21 + 4 + 300_000);
    assert_eq!(pkg.control.scripts().count(), 1);
    assert_eq!(pkg.control.signatures.len(), 1);
    assert_eq!(pkg.digests.identity, built.identity());
    assert_eq!(pkg.digests.file_size(), bytes.len() as u64);
    let paths: Vec<&str> = pkg.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "etc/hello.conf",
            "usr",
            "usr/bin",
            "usr/bin/hello",
            "usr/bin/hello-again",
            "usr/bin/hi",
            "usr/share/big"
        ]
    );
    let hello = &pkg.entries[3];
    assert_eq!(hello.mode, 0o755);
    assert_eq!(hello.mtime, 5);
    let body = &data[hello.data_offset as usize..][..hello.size as usize];
    assert_eq!(body, b"#!/bin/sh\necho hello\n");
    let conf = &pkg.entries[0];
    assert_eq!((conf.uid, conf.gid, conf.uname.as_str()), (501, 20, "me"));
    assert_eq!(
        pkg.entries[4].kind,
        DataKind::HardLink("usr/bin/hello".into())
    );
    assert_eq!(
        pkg.entries[4].checksum, hello.checksum,
        "hard links carry the target's checksum"
    );
    assert_eq!(pkg.entries[5].kind, DataKind::Symlink("hello".into()));
    assert_eq!(
        pkg.entries[6].xattrs,
        [("user.test".to_owned(), b"v".to_vec())]
    );
    let big = &pkg.entries[6];
    assert_eq!(
        &data[big.data_offset as usize..][..big.size as usize],
        &vec![b'a'; 300_000][..]
    );
}

#[test]
fn writer_is_deterministic() {
    assert_eq!(sample(true).1, sample(true).1);
    assert_eq!(sample(false).1, sample(false).1);
}

#[test]
fn verify_verdicts() {
    let (_, signed) = sample(true);
    let (_, unsigned) = sample(false);
    let ring = keyring();
    let v = |b: &[u8], ring: &Keyring| {
        verify_package(
            b,
            "p.apk",
            ring,
            SignaturePolicy::FirstUsable,
            &Limits::default(),
        )
    };
    assert_eq!(
        v(&signed, &ring).unwrap(),
        Verdict::Trusted {
            key: "test.rsa.pub".into()
        }
    );
    assert_eq!(v(&unsigned, &ring).unwrap(), Verdict::Untrusted);
    assert_eq!(v(&signed, &Keyring::new()).unwrap(), Verdict::Untrusted);
    // Another key under the same name: bad signature.
    let mut other = Keyring::new();
    let k2 = crate::keys::SigningKey::generate("test.rsa.pub", 1024).unwrap();
    other
        .add_pem("test.rsa.pub", k2.public_key_pem().as_bytes())
        .unwrap();
    assert!(matches!(
        v(&signed, &other).unwrap(),
        Verdict::BadSignature { .. }
    ));
}

#[test]
fn identity_mismatch_is_refused() {
    let (_, bytes) = sample(false);
    let wrong: Checksum = "Q1wJxYBoMXOvOSaYqLPzc5O0LQzOE=".parse().unwrap();
    let err = expand(
        bytes.as_slice(),
        "hello.apk",
        &Limits::default(),
        Some(&wrong),
        io::sink(),
    )
    .unwrap_err();
    assert!(
        matches!(err, PackageError::IdentityMismatch { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("hello-1.0-r0") || err.to_string().contains("hello.apk"),
        "{err}"
    );
}

#[test]
fn corrupt_data_is_refused() {
    let (built, bytes) = sample(true);
    // Flip a byte near the end (inside the data segment's deflate stream).
    let mut bad = bytes.clone();
    let i = bad.len() - 100;
    bad[i] ^= 0x55;
    let err = expand(
        bad.as_slice(),
        "hello.apk",
        &Limits::default(),
        Some(&built.identity()),
        io::sink(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            PackageError::Format { .. }
                | PackageError::DatahashMismatch { .. }
                | PackageError::FileChecksumMismatch { .. }
        ),
        "{err:?}"
    );
    // A trusted package with a corrupt data segment is a bad signature to `apk verify`.
    if !matches!(err, PackageError::Format { .. }) {
        let v = verify_package(
            bad.as_slice(),
            "p",
            &keyring(),
            SignaturePolicy::FirstUsable,
            &Limits::default(),
        )
        .unwrap();
        assert!(matches!(v, Verdict::BadSignature { .. }));
    }
    // Truncated file.
    let err = expand(
        &bytes[..bytes.len() / 2],
        "hello.apk",
        &Limits::default(),
        None,
        io::sink(),
    )
    .unwrap_err();
    assert!(matches!(err, PackageError::Format { .. }), "{err:?}");
    // Not a gzip file at all.
    assert!(
        expand(
            &b"hello world"[..],
            "x.apk",
            &Limits::default(),
            None,
            io::sink()
        )
        .is_err()
    );
    assert!(expand(&b""[..], "x.apk", &Limits::default(), None, io::sink()).is_err());
}

/// Crafts a package from raw tar entries, bypassing the writer's own checks.
fn raw_package(entries: &[(crate::tar::TarEntryBuilder, &[u8])]) -> Vec<u8> {
    use crate::tar::{TarBuilder, TarEntryBuilder};
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let gz = |raw: &[u8]| {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(raw).unwrap();
        e.finish().unwrap()
    };
    let mut data = TarBuilder::new(Vec::new());
    for (e, body) in entries {
        data.append_data(e, body).unwrap();
    }
    let data = gz(&data.finish().unwrap());
    let datahash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data));
    let pkginfo = format!("pkgname = evil\npkgver = 1\nsize = 1\ndatahash = {datahash}\n");
    let mut control = TarBuilder::new(Vec::new());
    control
        .append_data(
            &TarEntryBuilder::file(".PKGINFO", 0o644, pkginfo.len() as u64),
            pkginfo.as_bytes(),
        )
        .unwrap();
    let control = gz(&control.finish_without_trailer().unwrap());
    [control, data].concat()
}

fn hostile(entry: crate::tar::TarEntryBuilder) -> PackageError {
    let bytes = raw_package(&[
        (crate::tar::TarEntryBuilder::dir("etc/", 0o755), b""),
        (entry, b""),
    ]);
    expand(
        bytes.as_slice(),
        "evil.apk",
        &Limits::default(),
        None,
        io::sink(),
    )
    .unwrap_err()
}

#[test]
fn hostile_paths_are_refused() {
    use crate::tar::TarEntryBuilder as T;
    for (entry, what) in [
        (T::file("../etc/passwd", 0o644, 0), "`..`"),
        (T::file("/etc/passwd", 0o644, 0), "absolute"),
        (T::file("usr/../../x", 0o644, 0), "`..`"),
        (
            T::symlink("etc/link", "../../etc/shadow"),
            "outside the root",
        ),
        (T::hardlink("etc/hl", "../../etc/shadow", 0o644), "`..`"),
        (T::hardlink("etc/hl2", "/etc/shadow", 0o644), "absolute"),
        (T::hardlink("etc/hl3", "etc/missing", 0o644), "earlier file"),
        (
            T::file("usr/share/x\n\nC:Q1AAAA=\nP:openssl", 0o644, 0),
            "control character",
        ),
        (T::symlink("etc/l", "x\nP:openssl"), "control character"),
    ] {
        let err = hostile(entry);
        let text = err.to_string();
        assert!(
            matches!(
                err,
                PackageError::UnsafePath { .. } | PackageError::Structure { .. }
            ),
            "{text}"
        );
        assert!(text.contains("evil"), "names the package: {text}");
        assert!(text.contains(what), "{text} should mention {what}");
    }
    // The crafted package itself is fine without the hostile entry.
    let ok = raw_package(&[(crate::tar::TarEntryBuilder::dir("etc/", 0o755), b"")]);
    expand(
        ok.as_slice(),
        "ok.apk",
        &Limits::default(),
        None,
        io::sink(),
    )
    .unwrap();
}

#[test]
fn decompression_bomb_is_refused() {
    let (_, bytes) = PackageBuilder::new(info("bomb", "1"))
        .with_file(PackageFile::file("zeros", 0o644, vec![0u8; 4 << 20]))
        .build()
        .unwrap();
    assert!(bytes.len() < 64 * 1024, "compresses well: {}", bytes.len());
    let limits = Limits {
        max_data_size: 1 << 20,
        ..Limits::default()
    };
    let err = expand(bytes.as_slice(), "bomb.apk", &limits, None, io::sink()).unwrap_err();
    assert!(err.to_string().contains("bomb"), "{err}");
    let mut chain = String::new();
    let mut e: Option<&dyn std::error::Error> = Some(&err);
    while let Some(x) = e {
        chain.push_str(&x.to_string());
        e = x.source();
    }
    assert!(chain.contains("limit"), "{chain}");
}

#[test]
fn signature_entries_are_bounded() {
    let mut b =
        PackageBuilder::new(info("many", "1.0-r0")).with_file(PackageFile::dir("usr", 0o755));
    for _ in 0..=crate::keys::MAX_SIGNATURES {
        b = b.with_signature(test_key(), SignatureKind::Rsa256);
    }
    let (_, bytes) = b.build().unwrap();
    let err = expand(
        bytes.as_slice(),
        "many.apk",
        &Limits::default(),
        None,
        io::sink(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("signature entries"), "{err}");
}
