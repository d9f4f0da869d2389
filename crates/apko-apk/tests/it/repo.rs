//! Building signed test repositories with our own writer.

use apko_apk::index::{ApkIndex, write_index};
use apko_apk::info::PackageInfo;
use apko_apk::keys::{SignatureKind, SigningKey};
use apko_apk::package::{PackageBuilder, PackageFile};
use std::sync::OnceLock;

pub(crate) fn key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate("it-test.rsa.pub", 2048).unwrap())
        .clone()
}

pub(crate) fn info(name: &str, version: &str, deps: &str) -> PackageInfo {
    let mut i = PackageInfo::new(name.parse().unwrap(), version.parse().unwrap());
    i.arch = Some("x86_64".into());
    i.license = "MIT".into();
    i.build_time = Some(1_700_000_000);
    i.depends = apko_apk::Dependency::parse_list(deps).unwrap();
    i
}

/// A repository: (file name, bytes) of every package, and the signed index.
pub(crate) struct TestRepo {
    pub(crate) packages: Vec<(String, Vec<u8>)>,
    pub(crate) index: Vec<u8>,
}

pub(crate) fn build_repo() -> TestRepo {
    let specs = [
        ("hello", "1.0-r0", "libgreet"),
        ("hello", "1.1-r0", "libgreet>=2"),
        ("libgreet", "1.0-r0", ""),
        ("libgreet", "2.0-r0", ""),
    ];
    let mut packages = Vec::new();
    let mut records = Vec::new();
    for (name, version, deps) in specs {
        let (built, bytes) = PackageBuilder::new(info(name, version, deps))
            .with_file(PackageFile::dir("usr", 0o755))
            .with_file(PackageFile::dir("usr/share", 0o755))
            .with_file(PackageFile::file(
                &format!("usr/share/{name}.txt"),
                0o644,
                format!("{name} {version}\n"),
            ))
            .with_signature(key(), SignatureKind::Rsa256)
            .build()
            .unwrap();
        packages.push((built.info.file_name(), bytes));
        records.push(built.info);
    }
    let index = ApkIndex {
        description: Some("it".into()),
        packages: records,
    };
    let mut bytes = Vec::new();
    write_index(&index, &[(key(), SignatureKind::Rsa256)], &mut bytes).unwrap();
    TestRepo {
        packages,
        index: bytes,
    }
}
