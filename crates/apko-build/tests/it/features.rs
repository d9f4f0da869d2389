use crate::support::*;
use apko_build::SourceDateEpoch;

fn base() -> Pkg {
    pkg("baselayout", "1.0-r0")
        .dir("etc", 0o755)
        .file(
            "etc/passwd",
            0o644,
            "root:x:0:0:root:/root:/bin/sh\nlp:x:4:7:lp:/var/spool/lpd:/sbin/nologin\n",
        )
        .file("etc/group", 0o644, "root:x:0:\nlp:x:7:lp\nshadow:x:42:\n")
        .file("etc/shadow", 0o640, "root:*:::::::\n")
        .dir("root", 0o700)
        .dir("usr", 0o755)
        .dir("usr/bin", 0o755)
        .dir("var", 0o755)
        .dir("var/spool", 0o755)
}

#[test]
fn accounts_paths_and_image_config() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[
            base(),
            pkg("app", "2.0-r1")
                .depends("baselayout")
                .dir("usr", 0o755)
                .dir("usr/bin", 0o755)
                .file("usr/bin/app", 0o755, "#!/bin/sh\n")
                .entry(
                    apko_build::deps::apko_apk::package::PackageFile::file(
                        "etc/app.conf",
                        0o640,
                        b"x".to_vec(),
                    )
                    .owner(0, 42, "root", "shadow"),
                ),
        ],
    );
    let cfg = r#"
contents:
  repositories: [@REPO@]
  keyring: [@KEY@]
  packages: [app]
entrypoint:
  command: /usr/bin/app --serve "a b"
cmd: --port 8080
work-dir: /srv/app
stop-signal: SIGQUIT
volumes: [/data]
environment:
  LANG: C.UTF-8
accounts:
  groups: [{groupname: svc, gid: 1000, members: [svc]}]
  users: [{username: svc, uid: 1000}]
  run-as: svc
paths:
  - {path: /srv/app, type: directory, uid: 1000, gid: 1000, permissions: 0o750}
  - {path: /srv/app/data, type: empty-file, permissions: 0600}
  - {path: /srv/app/link, type: symlink, source: data}
  - {path: /srv/app/hard, type: hardlink, source: /srv/app/data, permissions: 0600}
  - {path: /usr/bin/app, type: permissions, permissions: 0o700}
  - {path: /srv, type: permissions, permissions: 0o755, uid: 1000, recursive: true}
archs: [x86_64]
annotations: {org.opencontainers.image.title: app}
"#;
    let out = build(request(dir.path(), cfg, &repo)).unwrap();
    let e = layer_entries(&out, 0);
    let passwd = text(&e, "etc/passwd");
    assert!(
        passwd.ends_with("svc:x:1000:1000:Account created by apko:/home/svc:/bin/sh\n"),
        "{passwd}"
    );
    assert!(text(&e, "etc/group").ends_with("svc:x:1000:svc\n"));
    assert!(text(&e, "etc/shadow").ends_with("svc:!:::::::\n"));
    let home = find(&e, "home/svc");
    assert_eq!((home.mode, home.uid, home.gid), (0o700, 1000, 1000));
    // apko creates missing homes of every account, packages' included.
    assert_eq!(find(&e, "var/spool/lpd").uid, 4);
    // Package ownership by name, resolved through the image's /etc/group.
    let conf = find(&e, "etc/app.conf");
    assert_eq!((conf.mode, conf.gid), (0o640, 42));
    let db = text(&e, "usr/lib/apk/db/installed");
    assert!(db.contains("R:app.conf\na:0:42:640\n"), "{db}");
    // paths (the last, recursive one resets modes below /srv and the owner uid).
    let srv = find(&e, "srv/app");
    assert_eq!((srv.mode, srv.uid, srv.gid), (0o755, 1000, 0));
    assert_eq!(find(&e, "srv/app/link").link.as_deref(), Some("data"));
    let hard = find(&e, "srv/app/hard");
    assert!(hard.kind == tar::EntryType::Link || hard.kind == tar::EntryType::Regular);
    assert_eq!(find(&e, "usr/bin/app").mode, 0o700);
    // The image config.
    let c: serde_json::Value = serde_json::from_slice(&out.images[0].config.bytes).unwrap();
    let rc = &c["config"];
    assert_eq!(
        rc["Entrypoint"],
        serde_json::json!(["/usr/bin/app", "--serve", "a b"])
    );
    assert_eq!(rc["Cmd"], serde_json::json!(["--port", "8080"]));
    assert_eq!(rc["User"], "1000", "run-as resolves to the uid");
    assert_eq!(rc["WorkingDir"], "/srv/app");
    assert_eq!(rc["StopSignal"], "SIGQUIT");
    assert_eq!(rc["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(
        rc["Env"],
        serde_json::json!([
            "LANG=C.UTF-8",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin",
            "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
        ])
    );
    assert_eq!(rc["Labels"]["org.opencontainers.image.title"], "app");
    let apko_json: serde_json::Value = serde_json::from_str(&text(&e, "etc/apko.json")).unwrap();
    assert_eq!(apko_json["accounts"]["run-as"], "1000");
    assert_eq!(
        apko_json["contents"]["packages"],
        serde_json::json!(["app=2.0-r1", "baselayout=1.0-r0"])
    );
    assert_eq!(apko_json["accounts"]["users"][0]["homedir"], "/home/svc");
}

#[test]
fn build_date_follows_apko() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[
            base().built(1_600_000_000),
            pkg("new", "1")
                .depends("baselayout")
                .built(1_700_000_500)
                .file("etc/new", 0o644, "n"),
        ],
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [new]\narchs: [x86_64]\n";
    let created = |sde: SourceDateEpoch, floor: Option<i64>| {
        let mut req = request(dir.path(), cfg, &repo);
        req.source_date_epoch = sde;
        req.build_date = floor;
        let out = build(req).unwrap();
        let c: serde_json::Value = serde_json::from_slice(&out.images[0].config.bytes).unwrap();
        (
            c["created"].as_str().unwrap().to_owned(),
            out.images[0].created,
        )
    };
    assert_eq!(
        created(SourceDateEpoch::Unset, None).1,
        1_700_000_500,
        "newest package build date"
    );
    assert_eq!(
        created(SourceDateEpoch::Unset, Some(1_800_000_000)).1,
        1_800_000_000,
        "--build-date is a floor"
    );
    assert_eq!(
        created(SourceDateEpoch::Set(42), Some(1_800_000_000)),
        ("1970-01-01T00:00:42Z".to_owned(), 42)
    );
    assert_eq!(
        created(SourceDateEpoch::Empty, None).1,
        0,
        "set but empty ignores packages"
    );
}

#[test]
fn busybox_links_certificates_keys_and_services() {
    let dir = tempfile::tempdir().unwrap();
    let runtime_key = key().public_key_pem();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[
            base(),
            pkg("busybox", "1.36.1-r0")
                .depends("baselayout")
                .dir("bin", 0o755)
                .file("bin/busybox", 0o755, "ELF")
                .dir("etc/busybox-paths.d", 0o755)
                .file(
                    "etc/busybox-paths.d/busybox",
                    0o644,
                    "bin/sh\nusr/bin/wget\nsbin/ifconfig\n",
                )
                .script(
                    "post-install",
                    "#!/bin/busybox sh\n/bin/busybox --install -s\n",
                ),
            pkg("ca-bundle", "1").dir("etc/ssl/certs", 0o755).file(
                "etc/ssl/certs/ca-certificates.crt",
                0o644,
                "BUNDLE\n",
            ),
            pkg("s6", "2.11")
                .dir("bin", 0o755)
                .file("bin/s6-svscan", 0o755, "s6"),
        ],
    );
    let cert = "-----BEGIN CERTIFICATE-----\nTUlJQmR1bW15\n-----END CERTIFICATE-----\n";
    let cfg = format!(
        "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [busybox, ca-bundle]\n  runtime_keyring:\n    - name: runtime.rsa.pub\n      content: |\n{}\nentrypoint:\n  type: service-bundle\n  services:\n    web: httpd -f\ncertificates:\n  additional:\n    - name: corp\n      content: |\n{}\narchs: [x86_64]\n",
        runtime_key
            .lines()
            .map(|l| format!("        {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
        cert.lines()
            .map(|l| format!("        {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let out = build(request(dir.path(), &cfg, &repo)).unwrap();
    let e = layer_entries(&out, 0);
    for l in ["bin/sh", "usr/bin/wget", "sbin/ifconfig"] {
        assert_eq!(find(&e, l).link.as_deref(), Some("/bin/busybox"), "{l}");
    }
    let scripts = find(&e, "usr/lib/apk/db/scripts.tar");
    let mut ar = tar::Archive::new(scripts.data.as_slice());
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|x| x.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(
        names[0].starts_with("busybox-1.36.1-r0.Q1") && names[0].ends_with(".post-install"),
        "{names:?}"
    );
    let bundle = text(&e, "etc/ssl/certs/ca-certificates.crt");
    assert!(
        bundle.starts_with("BUNDLE\n") && bundle.contains("TUlJQmR1bW15"),
        "{bundle}"
    );
    let sidecar = text(&e, "etc/ssl/certs/.ca-certificates.crt.sha256");
    assert!(sidecar.ends_with("  ca-certificates.crt\n"));
    assert!(
        e.iter()
            .any(|x| x.path.starts_with("usr/local/share/ca-certificates/corp-"))
    );
    assert!(text(&e, "etc/apk/keys/runtime.rsa.pub").starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(text(&e, "sv/web/run"), "#!/bin/execlineb\nhttpd -f\n");
    let c: serde_json::Value = serde_json::from_slice(&out.images[0].config.bytes).unwrap();
    assert_eq!(
        c["config"]["Entrypoint"],
        serde_json::json!(["/bin/s6-svscan", "/sv"])
    );
}

#[test]
fn busybox_without_a_link_list_gets_the_applet_table_of_its_version() {
    for (version, has_crc32) in [
        ("1.32.1-r6", false),
        ("1.35.0-r29", true),
        ("1.99.0-r0", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let repo = write_repo(
            &dir.path().join("repo"),
            &["x86_64"],
            &[
                base(),
                pkg("busybox", version)
                    .depends("baselayout")
                    .dir("bin", 0o755)
                    .file("bin/busybox", 0o755, "ELF")
                    .file("bin/ls", 0o755, "a real ls"),
            ],
        );
        let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [busybox]\narchs: [x86_64]\n";
        let out = build(request(dir.path(), cfg, &repo)).unwrap();
        let e = layer_entries(&out, 0);
        for l in ["bin/sh", "bin/ash", "usr/bin/wget", "sbin/ifconfig"] {
            assert_eq!(
                find(&e, l).link.as_deref(),
                Some("/bin/busybox"),
                "{version}: {l}"
            );
        }
        // A file a package ships is left alone.
        assert_eq!(find(&e, "bin/ls").link, None, "{version}");
        // `crc32` came with busybox 1.35 (as `busybox --list-full` says).
        assert_eq!(
            e.iter().any(|x| x.path == "usr/bin/crc32"),
            has_crc32,
            "{version}"
        );
    }
}

#[test]
fn file_ownership_rules_between_packages() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[
            pkg("a", "1")
                .dir("etc", 0o755)
                .file("etc/shared", 0o644, "from a")
                .file("etc/same", 0o644, "same"),
            pkg("b", "1")
                .depends("a")
                .replaces("a")
                .dir("etc", 0o755)
                .file("etc/shared", 0o644, "from b")
                .file("etc/same", 0o644, "same"),
            pkg("c", "1")
                .origin("a")
                .dir("etc", 0o755)
                .file("etc/sub", 0o644, "c"),
            pkg("d", "1")
                .depends("c")
                .origin("a")
                .dir("etc", 0o755)
                .file("etc/sub", 0o644, "d"),
        ],
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [b, d]\narchs: [x86_64]\n";
    let out = build(request(dir.path(), cfg, &repo)).unwrap();
    let e = layer_entries(&out, 0);
    assert_eq!(
        text(&e, "etc/shared"),
        "from b",
        "replaces takes the file over"
    );
    assert_eq!(text(&e, "etc/sub"), "d", "the same origin may overwrite");
    let db = text(&e, "usr/lib/apk/db/installed");
    let record = |name: &str| {
        db.split("\n\n")
            .find(|r| r.lines().any(|l| l == format!("P:{name}")))
            .unwrap()
            .to_owned()
    };
    assert!(
        !record("a").contains("R:shared"),
        "the file left a's record"
    );
    assert!(record("b").contains("R:shared"));
    assert!(
        record("a").contains("R:same") && !record("b").contains("R:same"),
        "identical files stay with the first"
    );
}

#[test]
fn multi_arch_versions_agree() {
    let dir = tempfile::tempdir().unwrap();
    let x = write_repo(
        &dir.path().join("x"),
        &["x86_64"],
        &[pkg("tool", "1.0-r0"), pkg("tool", "2.0-r0")],
    );
    let a = write_repo(
        &dir.path().join("a"),
        &["aarch64"],
        &[pkg("tool", "1.0-r0")],
    );
    let cfg = format!(
        "contents:\n  repositories: [{}, {}]\n  keyring: [{}]\n  packages: [tool]\narchs: [x86_64, aarch64]\n",
        x.display(),
        a.display(),
        x.join("test-key.rsa.pub").display()
    );
    let out = build(request(dir.path(), &cfg, &x)).unwrap();
    for img in &out.images {
        assert_eq!(img.packages[0].version.as_str(), "1.0-r0", "{:?}", img.arch);
    }
}

#[test]
fn repository_credentials_stay_out_of_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(&dir.path().join("repo"), &["x86_64"], &[base()]);
    let cfg = "contents:\n  repositories: [@REPO@]\n  runtime_repositories: ['https://user:s3cret@apk.example.test/os', '@corp https://TOKEN123@apk.example.test/corp']\n  keyring: [@KEY@]\n  packages: [baselayout]\narchs: [x86_64]\n";
    let out = build(request(dir.path(), cfg, &repo)).unwrap();
    let e = layer_entries(&out, 0);
    let repos = text(&e, "etc/apk/repositories");
    assert!(
        repos.contains("https://apk.example.test/os\n")
            && repos.contains("@corp https://apk.example.test/corp\n"),
        "{repos}"
    );
    for f in &e {
        let body = String::from_utf8_lossy(&f.data);
        assert!(
            !body.contains("s3cret") && !body.contains("TOKEN123"),
            "{} holds a credential",
            f.path
        );
    }
}

#[test]
fn lockfiles_pin_packages() {
    let dir = tempfile::tempdir().unwrap();
    let repo_dir = dir.path().join("repo");
    write_repo(
        &repo_dir,
        &["x86_64", "aarch64"],
        &[
            base(),
            pkg("app", "1.0-r0")
                .depends("baselayout")
                .file("usr/bin/app", 0o755, "v1"),
        ],
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [app]\narchs: [x86_64, aarch64]\n";
    let lock = apko_build::Builder::new(request(dir.path(), cfg, &repo_dir))
        .lock()
        .unwrap();
    assert_eq!(lock.version, "v1");
    assert_eq!(lock.contents.packages.len(), 4, "two packages per arch");
    assert_eq!(lock.contents.repositories.len(), 2);
    assert!(
        lock.contents.keyring[0]
            .content
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    let p = &lock.contents.packages[0];
    assert!(p.checksum.starts_with("Q1") && p.control.checksum.starts_with("sha1-"));
    assert!(p.data.checksum.starts_with("sha256-") && p.signature.range.starts_with("bytes=0-"));
    // The JSON round-trips.
    let json = lock.to_json();
    let again = apko_build::Lock::parse(&json, "apko.lock.json").unwrap();
    assert_eq!(again, lock);

    let plain = build(request(dir.path(), cfg, &repo_dir)).unwrap();

    // A newer app appears in the repository; the lock keeps the old one.
    let newer = dir.path().join("newer");
    write_repo(
        &newer,
        &["x86_64", "aarch64"],
        &[
            base(),
            pkg("app", "1.0-r0")
                .depends("baselayout")
                .file("usr/bin/app", 0o755, "v1"),
            pkg("app", "2.0-r0")
                .depends("baselayout")
                .file("usr/bin/app", 0o755, "v2"),
        ],
    );
    for arch in ["x86_64", "aarch64"] {
        fs_err::copy(
            newer.join(arch).join("APKINDEX.tar.gz"),
            repo_dir.join(arch).join("APKINDEX.tar.gz"),
        )
        .unwrap();
        fs_err::copy(
            newer.join(arch).join("app-2.0-r0.apk"),
            repo_dir.join(arch).join("app-2.0-r0.apk"),
        )
        .unwrap();
    }
    let mut req = request(dir.path(), cfg, &repo_dir);
    req.lock = Some(again.clone());
    let locked = build(req).unwrap();
    assert_eq!(
        locked.index_json, plain.index_json,
        "the same image as when locked"
    );
    let unlocked = build(request(dir.path(), cfg, &repo_dir)).unwrap();
    assert_eq!(text(&layer_entries(&unlocked, 0), "usr/bin/app"), "v2");

    // A lock pointing outside the configured repositories is refused.
    let mut elsewhere = again.clone();
    elsewhere.contents.packages[0].url = "/tmp/somewhere/else/baselayout-1.0-r0.apk".into();
    let mut req = request(dir.path(), cfg, &repo_dir);
    req.lock = Some(elsewhere);
    let err = build(req).expect_err("foreign URL");
    assert!(
        chain(&err).contains("is not in any repository of the configuration"),
        "{}",
        chain(&err)
    );

    // A lock whose data checksum does not match is refused.
    let mut bad = again;
    bad.contents.packages[1].data.checksum = format!("sha256-{}", "A".repeat(43) + "=");
    let mut req = request(dir.path(), cfg, &repo_dir);
    req.lock = Some(bad);
    let err = build(req).expect_err("tampered lock");
    assert!(
        chain(&err).contains("not the one the lockfile pins"),
        "{}",
        chain(&err)
    );
}

#[test]
fn layering_by_origin() {
    let dir = tempfile::tempdir().unwrap();
    let repo = write_repo(
        &dir.path().join("repo"),
        &["x86_64"],
        &[
            base(),
            pkg("big", "1.0-r0")
                .depends("baselayout big-doc small")
                .file("usr/bin/big", 0o755, &"x".repeat(5000)),
            pkg("big-doc", "1.0-r0")
                .origin("big")
                .file("usr/share/doc/big/README", 0o644, "docs"),
            pkg("small", "1.0-r0").file("usr/lib/small.so", 0o755, "s"),
        ],
    );
    let single = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [big]\narchs: [x86_64]\n";
    let layered = format!("{single}layering:\n  strategy: origin\n  budget: 10\n");
    let one = build(request(dir.path(), single, &repo)).unwrap();
    let out = build(request(dir.path(), &layered, &repo)).unwrap();
    let img = &out.images[0];
    let names: Vec<Vec<String>> = img.layers.iter().map(|l| l.packages.clone()).collect();
    assert_eq!(
        names,
        [
            vec!["big-doc".to_owned(), "big".to_owned()],
            vec!["baselayout".to_owned()],
            vec!["small".to_owned()],
            vec![],
        ],
        "largest origin first (packages in install order), the top layer last"
    );
    let config: serde_json::Value = serde_json::from_slice(&img.config.bytes).unwrap();
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);
    assert_eq!(config["history"].as_array().unwrap().len(), 4);
    let manifest: serde_json::Value = serde_json::from_slice(&img.manifest.bytes).unwrap();
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 4);

    let layer = |i: usize| -> Vec<Entry> {
        let gz = fs_err::File::open(img.layers[i].path()).unwrap();
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(gz));
        ar.entries()
            .unwrap()
            .map(|e| {
                use std::io::Read;
                let mut e = e.unwrap();
                let h = e.header().clone();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                Entry {
                    path: e.path().unwrap().display().to_string(),
                    kind: h.entry_type(),
                    mode: h.mode().unwrap(),
                    uid: h.uid().unwrap(),
                    gid: h.gid().unwrap(),
                    link: None,
                    data,
                }
            })
            .collect()
    };
    let big = layer(0);
    let paths: Vec<&str> = big.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"usr/bin/big") && paths.contains(&"usr/share/doc/big/README"));
    assert!(!paths.contains(&"usr/lib/small.so") && !paths.contains(&"etc/apk/world"));
    // Its own partial database, and the parents it needs.
    let db = text(&big, "usr/lib/apk/db/installed");
    assert!(db.contains("P:big\n") && db.contains("P:big-doc\n") && !db.contains("P:small\n"));
    assert!(paths.contains(&"usr") && paths.contains(&"usr/bin"));
    let top = layer(3);
    assert!(top.iter().any(|e| e.path == "etc/apk/world"));
    assert!(!top.iter().any(|e| e.path == "usr/bin/big"));
    assert!(text(&top, "usr/lib/apk/db/installed").contains("P:small\n"));

    // Applied in order, the layers give the single-layer image's files.
    let mut applied: std::collections::BTreeMap<String, Vec<u8>> =
        std::collections::BTreeMap::new();
    for i in 0..img.layers.len() {
        for e in layer(i) {
            if e.kind == tar::EntryType::Regular {
                applied.insert(e.path, e.data);
            }
        }
    }
    let mut whole: std::collections::BTreeMap<String, Vec<u8>> = layer_entries(&one, 0)
        .into_iter()
        .filter(|e| e.kind == tar::EntryType::Regular)
        .map(|e| (e.path, e.data))
        .collect();
    // Only the recorded configuration differs (it has `layering`).
    applied.remove("etc/apko.json");
    whole.remove("etc/apko.json");
    assert_eq!(
        applied.keys().collect::<Vec<_>>(),
        whole.keys().collect::<Vec<_>>()
    );
    for (path, data) in &whole {
        assert!(applied[path] == *data, "{path} differs");
    }
}
