//! Writes the seed corpora under `fuzz/seeds/<target>/` with the project's own writers (and
//! the project's own examples): no file of the shared test corpus is copied. `scripts/fuzz.sh`
//! adds files of `$APKO_TESTDATA` to the working corpus at run time.
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example make_seeds
//! ```
//!
//! A fresh RSA key signs the signed seeds; its public half is written to
//! `seeds/fuzz-seed.rsa.pub` (the targets' keyring) and the private half is dropped.
#![allow(clippy::print_stdout)]

use apko_apk::index::{ApkIndex, write_index, write_index_text};
use apko_apk::info::PackageInfo;
use apko_apk::installed::{Acl, InstalledDb, InstalledDir, InstalledFile, InstalledPackage};
use apko_apk::keys::{SignatureKind, SigningKey};
use apko_apk::package::{PackageBuilder, PackageFile};
use apko_apk::pkginfo;
use apko_apk::tar::{TarBuilder, TarEntryBuilder};
use apko_apk::{Checksum, Dependency, Provide};
use apko_fuzz::{MODE_RAW, MODE_SEGMENTS, SEED_KEY_NAME, Segments};
use std::io::Read;
use std::path::{Path, PathBuf};

const VERSIONS: &[&str] = &[
    "1.0",
    "1.0-r0\n1.0\n1.00",
    "1.2.3_rc1-r0\n1.2.3-r0\n1.2.3_p1",
    "0.1.0_alpha\n0.1.0_alpha2\n0.1.0_beta1_pre3",
    "1.36.1-r29\n1.36.1-r3\n1.36.10",
    "2.4a\n2.4b_git20240101\n2.4-r01",
    "1.0_cvs1_svn2_git3_hg4_p5\n1.0.01\n1.0.1",
    "20240705-r0\n999999999999999999\n1.0.",
    "1.0bc\n1.0_foo\n-r1",
];

const DEPENDENCIES: &[&str] = &[
    "busybox",
    "so:libc.musl-x86_64.so.1",
    "!foo>=1.2_rc1-r0",
    "foo~1.2@edge",
    "foo=1.0@testing",
    "foo@testing<2",
    "cmd:sh=1.36.1-r29",
    "pc:zlib>=1.2.12",
    "foo><Q1wJxYBoMXOvOSaYqLPzc5O0LQzOE=",
    "foo<2 bar>1 !baz baz2=~3.8 /bin/sh",
    "foo>~1.0",
];

const CONFIG: &str = r#"# A configuration that touches most sections.
contents:
  repositories:
    - https://dl-cdn.alpinelinux.org/alpine/v3.20/main
    - "@edge https://dl-cdn.alpinelinux.org/alpine/edge/main"
  keyring:
    - https://alpinelinux.org/keys/alpine-devel@lists.alpinelinux.org-6165ee59.rsa.pub
  packages:
    - alpine-base
    - busybox=1.36.1-r29
    - "nginx@edge"
archs: [x86_64, aarch64, armv7]
entrypoint:
  command: /bin/sh -c
cmd: echo hello
stop-signal: SIGTERM
work-dir: /home/app
environment:
  PATH: /usr/sbin:/sbin:/usr/bin:/bin
  EMPTY: ""
accounts:
  groups:
    - groupname: app
      gid: 10000
  users:
    - username: app
      uid: 10000
      gid: 10000
      shell: /bin/sh
      homedir: /home/app
  run-as: app
paths:
  - path: /data
    type: directory
    uid: 10000
    gid: 10000
    permissions: 0o755
    recursive: true
  - path: /etc/motd
    type: permissions
    permissions: 0644
  - path: /bin/hello
    type: symlink
    source: /bin/busybox
annotations:
  org.opencontainers.image.title: fuzz
volumes: [/data]
layering:
  strategy: origin
  budget: 10
"#;

const DOCKER_CONFIGS: &[&str] = &[
    r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},"ghcr.io":{"username":"me","password":"tok"},"quay.io":{"identitytoken":"refresh"},"empty.example":{}},"credHelpers":{"gcr.io":"gcloud"},"credsStore":"desktop"}"#,
    r#"{"auths":{"localhost:5000":{"auth":"Zm9vOmJhcjpiYXo="}}}"#,
    r#"{"credsStore":"osxkeychain","HttpHeaders":{"User-Agent":"x"}}"#,
    r#"{"auths":{"x":{"auth":"!!"}}}"#,
];

const REGISTRY_RESPONSES: &[&str] = &[
    r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
    r#"Basic realm="Registry Realm""#,
    "bearer realm=https://auth.example/token, service=reg,error=\"insufficient_scope\"",
    r#"{"token":"abc","access_token":"abc","expires_in":300}"#,
    r#"{"access_token":"xyz"}"#,
    r#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:00"}]}"#,
    "<html><body>502 Bad Gateway</body></html>",
    "http://reg:5000/v2/a/b/blobs/uploads/\n/v2/a/b/blobs/uploads/u1?s=2",
    "https://reg/v2/a/b/blobs/uploads/?x=1\nu1?s=2",
    "https://reg\nhttps://s3.example/x?y=1",
];

fn info(name: &str, version: &str) -> PackageInfo {
    let mut i = PackageInfo::new(name.parse().unwrap(), version.parse().unwrap());
    i.arch = Some("x86_64".into());
    i.description = format!("{name} for the fuzz seeds");
    i.url = "https://example.org/".into();
    i.license = "Apache-2.0".into();
    i.origin = Some(name.into());
    i.maintainer = Some("Fuzz <fuzz@example.org>".into());
    i.build_time = Some(1_700_000_000);
    i.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    i
}

fn rich_info() -> PackageInfo {
    let mut i = info("busybox", "1.36.1-r29");
    i.depends = Dependency::parse_list("so:libc.musl-x86_64.so.1 !busybox-static>=1.0").unwrap();
    i.provides = Provide::parse_list("cmd:busybox=1.36.1-r29 /bin/sh").unwrap();
    i.install_if = Dependency::parse_list("busybox-extras openrc").unwrap();
    i.replaces = Dependency::parse_list("busybox-initscripts").unwrap();
    i.replaces_priority = Some(5);
    i.provider_priority = Some(100);
    i.triggers = vec!["/bin".into(), "/usr/share/*".into()];
    i.packager = Some("Fuzz <fuzz@example.org>".into());
    i.installed_size = 950_568;
    i.size = 12345;
    i.checksum = Some("Q1wJxYBoMXOvOSaYqLPzc5O0LQzOE=".parse().unwrap());
    i.datahash = Some([7; 32]);
    i
}

fn package(signed: Option<&SigningKey>, info: PackageInfo) -> (PackageInfo, Vec<u8>) {
    let mut b = PackageBuilder::new(info)
        .with_file(PackageFile::dir("usr", 0o755))
        .with_file(PackageFile::dir("usr/bin", 0o755))
        .with_file(PackageFile::file(
            "usr/bin/hello",
            0o755,
            b"#!/bin/sh\necho hello\n".to_vec(),
        ))
        .with_file(PackageFile::symlink("usr/bin/hi", "hello"))
        .with_file(PackageFile::hardlink(
            "usr/bin/hello2",
            "usr/bin/hello",
            0o755,
        ))
        .with_file(
            PackageFile::file("etc/hello.conf", 0o644, b"greeting = hi\n".to_vec())
                .owner(1000, 1000, "app", "app")
                .xattr("user.fuzz", b"1")
                .mtime(1_700_000_000),
        )
        .with_file(PackageFile::dir("var/lib/hello", 0o1777))
        .with_file(PackageFile::file(
            "var/lib/hello/.keep_hello",
            0o644,
            Vec::new(),
        ))
        .with_script("post-install", b"#!/bin/sh\nexit 0\n".to_vec())
        .with_script("trigger", b"#!/bin/sh\n".to_vec());
    if let Some(k) = signed {
        b = b.with_signature(k.clone(), SignatureKind::Rsa256);
    }
    let (built, bytes) = b.build().unwrap();
    (built.info, bytes)
}

/// The decompressed gzip members of a file.
fn members(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let mut d = flate2::bufread::GzDecoder::new(data);
        let mut m = Vec::new();
        d.read_to_end(&mut m).unwrap();
        data = d.into_inner();
        out.push(m);
    }
    out
}

fn raw(data: &[u8]) -> Vec<u8> {
    [&[MODE_RAW][..], data].concat()
}

fn segments(data: &[u8]) -> Vec<u8> {
    let m = members(data);
    let refs: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
    [&[MODE_SEGMENTS][..], &Segments::join(&refs)].concat()
}

struct Seeds {
    root: PathBuf,
    count: usize,
}

impl Seeds {
    fn put(&mut self, target: &str, name: &str, data: impl AsRef<[u8]>) {
        let dir = self.root.join(target);
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join(name), data).unwrap();
        self.count += 1;
    }
}

fn tar_seed() -> Vec<u8> {
    let mut t = TarBuilder::new(Vec::new());
    let body = b"hello, tar\n";
    t.append_data(
        &TarEntryBuilder::file("etc/hello", 0o644, body.len() as u64)
            .owner(0, 0, "root", "root")
            .mtime(1_700_000_000)
            .pax(
                "APK-TOOLS.checksum.SHA1",
                b"0123456789abcdef0123456789abcdef01234567",
            )
            .pax("SCHILY.xattr.user.a", b"b"),
        body,
    )
    .unwrap();
    t.append(&TarEntryBuilder::dir("var/empty/", 0o755))
        .unwrap();
    t.append(&TarEntryBuilder::symlink("bin/sh", "/bin/busybox"))
        .unwrap();
    t.append(&TarEntryBuilder::hardlink("etc/hello2", "etc/hello", 0o644))
        .unwrap();
    t.append(&TarEntryBuilder::device("dev/null", 0o666, false, 1, 3))
        .unwrap();
    t.append(&TarEntryBuilder::fifo("run/fifo", 0o600)).unwrap();
    let long = format!("usr/share/{}/file", "d".repeat(120));
    t.append_data(&TarEntryBuilder::file(&long, 0o644, 1), b"x")
        .unwrap();
    t.append(&TarEntryBuilder::symlink("lnk", &"t/".repeat(60)))
        .unwrap();
    let mut out = std::mem::take(t.get_mut());
    out.extend([0u8; 1024]);
    out
}

fn installed_db(infos: &[PackageInfo]) -> String {
    let mut db = InstalledDb::default();
    for (n, i) in infos.iter().enumerate() {
        let mut p = InstalledPackage::new(i.clone());
        p.repository_tag = (n == 0).then(|| "edge".to_owned());
        p.flags = if n == 0 { "f".into() } else { String::new() };
        p.dirs = vec![
            InstalledDir {
                path: String::new(),
                acl: Acl::root(0o755),
                files: Vec::new(),
            },
            InstalledDir {
                path: "usr/bin".into(),
                acl: Acl {
                    uid: 0,
                    gid: 0,
                    mode: 0o2755,
                    xattrs: Some(Checksum::Sha1([1; 20])),
                },
                files: vec![
                    InstalledFile {
                        name: "hello".into(),
                        acl: Acl::root(0o755),
                        checksum: Some(Checksum::Sha1([2; 20])),
                    },
                    InstalledFile {
                        name: "null".into(),
                        acl: Acl {
                            uid: 1000,
                            gid: 1000,
                            mode: 0o666,
                            xattrs: None,
                        },
                        checksum: None,
                    },
                ],
            },
        ];
        db.packages.push(p);
    }
    db.write()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let key = SigningKey::generate(SEED_KEY_NAME, 2048).unwrap();
    fs_err::create_dir_all(&root).unwrap();
    fs_err::write(root.join(SEED_KEY_NAME), key.public_key_pem()).unwrap();
    let mut s = Seeds { root, count: 0 };

    for (n, v) in VERSIONS.iter().enumerate() {
        s.put("version", &format!("v{n}"), v);
    }
    for (n, d) in DEPENDENCIES.iter().enumerate() {
        s.put("dependency", &format!("d{n}"), d);
    }
    for (n, d) in DOCKER_CONFIGS.iter().enumerate() {
        s.put("docker_config", &format!("c{n}.json"), d);
    }
    for (n, r) in REGISTRY_RESPONSES.iter().enumerate() {
        s.put("registry_response", &format!("r{n}"), r);
    }

    s.put("config", "rich.yaml", CONFIG);
    s.put(
        "config",
        "include.yaml",
        "include: base.yaml\ncontents:\n  packages: [a]\n",
    );
    for e in [
        "alpine-base.yaml",
        "nginx-service.yaml",
        "wolfi-base.yaml",
        "hello/apko.yaml",
    ] {
        let text = fs_err::read(examples.join(e)).unwrap();
        s.put("config", &e.replace('/', "-"), text);
    }

    let rich = rich_info();
    s.put("pkginfo", "rich", pkginfo::write(&rich, "apko-fuzz"));
    s.put(
        "pkginfo",
        "plain",
        pkginfo::write(&info("hello", "1.0-r0"), "apko-fuzz"),
    );
    s.put(
        "pkginfo",
        "abuild",
        "# Generated by abuild 3.13.0\n# using fakeroot version 1.32.1\npkgname = a\npkgver = 1-r0\n\
         size = 1\nprovides = so:bad=0unstable cmd:a\ndepend = b\nunknown = x\n",
    );

    let (plain, plain_apk) = package(None, info("hello", "1.0.0-r0"));
    let (signed, signed_apk) = package(Some(&key), rich.clone());
    for (name, apk) in [("unsigned", &plain_apk), ("signed", &signed_apk)] {
        s.put("package", &format!("{name}-raw"), raw(apk));
        s.put("package", &format!("{name}-segments"), segments(apk));
        s.put("tar", &format!("{name}-apk"), members(apk).concat());
    }
    s.put("tar", "entries", tar_seed());
    for arch in ["x86_64", "aarch64"] {
        for f in [
            "hello-1.0.0-r0.apk",
            "hello-baselayout-1.0.0-r0.apk",
            "APKINDEX.tar.gz",
        ] {
            let bytes = fs_err::read(examples.join(format!("hello/repo/{arch}/{f}"))).unwrap();
            let target = if f.ends_with(".apk") {
                "package"
            } else {
                "apkindex_targz"
            };
            s.put(target, &format!("example-{arch}-{f}"), raw(&bytes));
        }
    }

    let index = ApkIndex {
        description: Some("v3.20.3-fuzz".into()),
        packages: vec![plain.clone(), signed.clone(), rich.clone()],
    };
    let text = write_index_text(&index);
    s.put("apkindex_text", "written", &text);
    s.put(
        "apkindex_text",
        "unknown-fields",
        "P:a\nV:1\nx:ignored\nF:usr\n\nP:b\nV:1\nX:new\nD:a>1 !c bad>\np:cmd:b=1 so:libb.so.1=1.0\ni:a\nk:4294967296\n",
    );
    for (name, keys) in [
        ("signed", vec![(key.clone(), SignatureKind::Rsa)]),
        ("unsigned", vec![]),
    ] {
        let mut out = Vec::new();
        write_index(&index, &keys, &mut out).unwrap();
        s.put("apkindex_targz", &format!("{name}-raw"), raw(&out));
        s.put(
            "apkindex_targz",
            &format!("{name}-segments"),
            segments(&out),
        );
    }

    s.put(
        "installed_db",
        "written",
        installed_db(&[rich, plain, signed]),
    );
    s.put(
        "installed_db",
        "go-apko",
        "C:Q1wJxYBoMXOvOSaYqLPzc5O0LQzOE=\nP:wolfi-baselayout\nV:20230201-r0\nA:x86_64\nS:0\nI:0\nT:\nU:\nL:\n\
         k:0\nD:\np:\ni:[]\nc:\nF:\nF:etc\nM:0:0:0755\nR:os-release\na:0:0:0644\nZ:Q1Z6y1JZ3xZ3W1JZ3xZ3W1JZ3xZ3W=\n\
         r:old-baselayout\nq:1\ns:main\nf:fsx\n\n",
    );
    println!("wrote {} seeds", s.count);
}
