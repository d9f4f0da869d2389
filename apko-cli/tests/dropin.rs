//! apko-rs as a drop-in for apko: key discovery, repository credentials, apko's cache layout,
//! and rules_apko's hermetic Bazel action, against a local HTTP server.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{Server, apko, example_key, hello_config, layout_index_digest, stderr};
use std::path::Path;

/// n and e of an RSA SubjectPublicKeyInfo PEM (enough DER for the test's JWKS).
fn rsa_n_e(pem: &[u8]) -> (Vec<u8>, Vec<u8>) {
    use base64::Engine as _;
    let body: String = std::str::from_utf8(pem)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    fn tlv(d: &[u8]) -> (&[u8], &[u8]) {
        let l0 = d[1];
        let (len, start) = if l0 < 0x80 {
            (usize::from(l0), 2)
        } else {
            let n = usize::from(l0 & 0x7f);
            (
                d[2..2 + n]
                    .iter()
                    .fold(0usize, |a, &b| a << 8 | usize::from(b)),
                2 + n,
            )
        };
        (&d[start..start + len], &d[start + len..])
    }
    let (spki, _) = tlv(&der);
    let (_, rest) = tlv(spki);
    let (bits, _) = tlv(rest);
    let (rsa, _) = tlv(&bits[1..]);
    let (n, rest) = tlv(rsa);
    let (e, _) = tlv(rest);
    (n.to_vec(), e.to_vec())
}

fn lockfile(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs_err::read(dir.join("apko.lock.json")).unwrap()).unwrap()
}

fn build_layout(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let out = dir.join("out");
    let _ = fs_err::remove_dir_all(&out);
    fs_err::create_dir(&out).unwrap();
    let mut args = vec!["build", "apko.yaml", "hello:latest", "out", "--sbom=false"];
    args.extend_from_slice(extra);
    let mut env = env.to_vec();
    env.push(("SOURCE_DATE_EPOCH", "0"));
    apko(&args, dir, &env)
}

#[test]
fn alpine_keys_are_discovered_from_releases_json_and_locked() {
    let server = Server::start();
    server.put_example_repository("/alpine/v3.20/main");
    server.put("/keys/hello.rsa.pub", example_key());
    let releases = serde_json::json!({"release_branches": [{"rel_branch": "v3.20", "keys": {
        "x86_64": [{"url": format!("{}/keys/hello.rsa.pub", server.url), "deprecated_since": "2001-01-01"}],
        "aarch64": [{"url": format!("{}/keys/hello.rsa.pub", server.url)}]}}]});
    server.put("/releases.json", releases.to_string().into_bytes());
    let dir = tempfile::tempdir().unwrap();
    let repo = format!("{}/alpine/v3.20/main", server.url);
    fs_err::write(dir.path().join("apko.yaml"), hello_config(&repo, &[])).unwrap();
    let releases_url = format!("{}/releases.json", server.url);
    let env = [("APKO_ALPINE_RELEASES_URL", releases_url.as_str())];

    // Without the release list there is no key: the index signature cannot be checked.
    let o = build_layout(
        dir.path(),
        &[],
        &[(
            "APKO_ALPINE_RELEASES_URL",
            &format!("{}/none.json", server.url),
        )],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = build_layout(dir.path(), &[], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let discovered = layout_index_digest(&dir.path().join("out"));

    // The lockfile records the discovered key with its content.
    let o = apko(&["lock", "apko.yaml"], dir.path(), &env);
    assert!(o.status.success(), "{}", stderr(&o));
    let lock = lockfile(dir.path());
    let keys = lock["contents"]["keyring"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["url"], format!("{}/keys/hello.rsa.pub", server.url));
    assert_eq!(
        keys[0]["content"].as_str().unwrap().as_bytes(),
        example_key()
    );

    // A build from the lock needs no discovery (the key comes from the lockfile): the same
    // image, without asking for the release list again.
    let before = server.requests().len();
    let o = build_layout(dir.path(), &["--lockfile", "apko.lock.json"], &env);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(layout_index_digest(&dir.path().join("out")), discovered);
    assert!(
        !server.requests()[before..]
            .iter()
            .any(|r| r.path == "/releases.json"),
        "{:?}",
        server.requests()
    );
}

#[test]
fn chainguard_keys_are_discovered_from_the_jwks() {
    use base64::Engine as _;
    let server = Server::start();
    server.put_example_repository("/os");
    let (n, e) = rsa_n_e(&example_key());
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let jwks = serde_json::json!({"keys": [{"kty": "RSA", "kid": "hello", "n": b64.encode(n), "e": b64.encode(e)}]});
    server.put("/jwks.json", jwks.to_string().into_bytes());
    server.put(
        "/os/apk-configuration",
        serde_json::json!({"jwks_uri": format!("{}/jwks.json", server.url)})
            .to_string()
            .into_bytes(),
    );
    let dir = tempfile::tempdir().unwrap();
    let repo = format!("{}/os", server.url);
    fs_err::write(dir.path().join("apko.yaml"), hello_config(&repo, &[])).unwrap();
    let o = build_layout(dir.path(), &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = apko(&["lock", "apko.yaml"], dir.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lock = lockfile(dir.path());
    let keys = lock["contents"]["keyring"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    // apko records a JWKS key as `<repository>/<kid>.rsa.pub`.
    assert_eq!(keys[0]["url"], format!("{repo}/hello.rsa.pub"));
    assert_eq!(
        keys[0]["content"].as_str().unwrap().as_bytes(),
        example_key()
    );
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.path == "/os/apk-configuration")
    );
}

#[test]
fn http_auth_credentials_are_sent_and_never_written() {
    let password = "s3cret-Pa55word";
    let server = Server::start();
    server.put_example_repository("/repo");
    server.require_basic_auth("me", password);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("hello.rsa.pub");
    fs_err::write(&key, example_key()).unwrap();
    let repo = format!("{}/repo", server.url);
    fs_err::write(
        dir.path().join("apko.yaml"),
        hello_config(&repo, &[key.to_str().unwrap()]),
    )
    .unwrap();
    let o = build_layout(dir.path(), &[], &[]);
    assert_eq!(o.status.code(), Some(1), "unauthenticated: {}", stderr(&o));
    let auth = format!("basic:127.0.0.1:me:{password}");
    let o = build_layout(
        dir.path(),
        &["--cache-dir", "cache"],
        &[("HTTP_AUTH", &auth)],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains(password));
    let o = apko(&["lock", "apko.yaml"], dir.path(), &[("HTTP_AUTH", &auth)]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Nowhere on disk: not in the image's blobs (decompressed layers included), the lockfile,
    // the cache's names or contents.
    let mut seen = 0;
    for e in walk(dir.path()) {
        assert!(!e.to_string_lossy().contains(password), "{}", e.display());
        let bytes = fs_err::read(&e).unwrap();
        assert!(!contains(&bytes, password.as_bytes()), "{}", e.display());
        let mut gz = flate2::read::GzDecoder::new(bytes.as_slice());
        let mut plain = Vec::new();
        if std::io::Read::read_to_end(&mut gz, &mut plain).is_ok() {
            assert!(
                !contains(&plain, password.as_bytes()),
                "{} (decompressed)",
                e.display()
            );
        }
        seen += 1;
    }
    assert!(seen > 10, "the image, lockfile and cache were searched");
    let bad = apko(
        &["show-packages", "apko.yaml"],
        dir.path(),
        &[("HTTP_AUTH", "bearer:x")],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("HTTP_AUTH"), "{}", stderr(&bad));
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs_err::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

/// rules_apko's `url_escape` (Starlark string replacements, `%` first).
fn bazel_url_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if " !\"#$%&'()*+,/:;<=>?@[\\]^`{|}~".contains(c) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Prepares a cache from a lockfile the way rules_apko's repository rules do (apk_import,
/// apk_repository, apk_keyring), from the server's files.
fn rules_apko_cache(lock: &serde_json::Value, server: &Server, cache: &Path, with_apk: bool) {
    use base64::Engine as _;
    let fetch = |url: &str| -> Vec<u8> {
        let path = url.strip_prefix(&server.url).unwrap();
        server
            .get(path)
            .unwrap_or_else(|| panic!("the server has no {url}"))
    };
    let range = |bytes: &[u8], r: &str| -> Vec<u8> {
        if r.is_empty() {
            return Vec::new();
        }
        let (a, b) = r.strip_prefix("bytes=").unwrap().split_once('-').unwrap();
        bytes[a.parse::<usize>().unwrap()..=b.parse::<usize>().unwrap()].to_vec()
    };
    let hex_of = |sri: &str| {
        let b = sri.split_once('-').unwrap().1;
        hex::encode(base64::engine::general_purpose::STANDARD.decode(b).unwrap())
    };
    for p in lock["contents"]["packages"].as_array().unwrap() {
        let (url, arch) = (
            p["url"].as_str().unwrap(),
            p["architecture"].as_str().unwrap(),
        );
        let repo = &url[..url.find(&format!("{arch}/")).unwrap() - 1];
        let out = cache.join(bazel_url_escape(repo)).join(arch).join(format!(
            "{}-{}",
            p["name"].as_str().unwrap(),
            p["version"].as_str().unwrap()
        ));
        fs_err::create_dir_all(&out).unwrap();
        let apk = fetch(url);
        let ctl_hex = hex_of(p["control"]["checksum"].as_str().unwrap());
        let sig = range(&apk, p["signature"]["range"].as_str().unwrap());
        let ctl = range(&apk, p["control"]["range"].as_str().unwrap());
        let dat = range(&apk, p["data"]["range"].as_str().unwrap());
        if !sig.is_empty() {
            fs_err::write(out.join(format!("{ctl_hex}.sig.tar.gz")), &sig).unwrap();
        }
        fs_err::write(out.join(format!("{ctl_hex}.ctl.tar.gz")), &ctl).unwrap();
        let dat_hex = hex_of(p["data"]["checksum"].as_str().unwrap());
        fs_err::write(out.join(format!("{dat_hex}.dat.tar.gz")), &dat).unwrap();
        if with_apk {
            let mut whole = sig.clone();
            whole.extend(&ctl);
            whole.extend(&dat);
            assert_eq!(whole, apk, "the segments are the package");
            let mut f = out.clone().into_os_string();
            f.push(".apk");
            fs_err::write(f, whole).unwrap();
        }
    }
    for r in lock["contents"]["repositories"].as_array().unwrap() {
        let (url, arch) = (
            r["url"].as_str().unwrap(),
            r["architecture"].as_str().unwrap(),
        );
        let repo = &url[..url.find(&format!("{arch}/")).unwrap() - 1];
        let dir = cache
            .join(bazel_url_escape(repo))
            .join(arch)
            .join("APKINDEX");
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join("latest.tar.gz"), fetch(url)).unwrap();
    }
    for k in lock["contents"]["keyring"].as_array().unwrap() {
        let url = k["url"].as_str().unwrap();
        let (repo, rest) = url.rsplit_once('/').unwrap();
        let (repo, mid) = repo.rsplit_once('/').unwrap();
        let repo = if repo.matches('/').count() <= 2 {
            format!("{repo}/")
        } else {
            repo.to_owned()
        };
        let dir = cache.join(bazel_url_escape(&repo)).join(mid).join(rest);
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join(rest), k["content"].as_str().unwrap()).unwrap();
    }
}

#[test]
fn rules_apko_hermetic_action_builds_the_same_image() {
    let server = Server::start();
    server.put_example_repository("/alpine/v3.20/main");
    server.put("/keys/hello.rsa.pub", example_key());
    let ws = tempfile::tempdir().unwrap();
    let ws = ws.path();
    // The workspace: a package `img` with its configuration, keyring by URL.
    let pkg = ws.join("img");
    fs_err::create_dir_all(&pkg).unwrap();
    let repo = format!("{}/alpine/v3.20/main", server.url);
    let key_url = format!("{}/keys/hello.rsa.pub", server.url);
    fs_err::write(pkg.join("apko.yaml"), hello_config(&repo, &[&key_url])).unwrap();
    // A normal build (online, default cache) and the lock, as `bazel run //img:lock` makes it.
    let o = apko(
        &["lock", "img/apko.yaml", "--output", "img/apko.lock.json"],
        ws,
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let normal = ws.join("normal");
    fs_err::create_dir(&normal).unwrap();
    let o = apko(
        &[
            "build",
            "img/apko.yaml",
            "img:latest",
            "normal",
            "--sbom=false",
            "--arch",
            "x86_64",
        ],
        ws,
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let lock: serde_json::Value =
        serde_json::from_slice(&fs_err::read(pkg.join("apko.lock.json")).unwrap()).unwrap();

    for with_apk in [true, false] {
        // External repositories: the prepared cache and the lockfile copy (read-only, as
        // Bazel's outputs are), the action's directory mirroring them with `cp -Rs`.
        let bin = ws.join(format!("bazel-bin-{with_apk}"));
        let external = bin.join("external");
        let prepared = external.join("cache");
        rules_apko_cache(&lock, &server, &prepared, with_apk);
        let lock_repo = bin.join("img_lock");
        fs_err::create_dir_all(&lock_repo).unwrap();
        fs_err::copy(pkg.join("apko.lock.json"), lock_repo.join("lockfile_copy")).unwrap();
        let workdir = bin.join("img").join("workdir_img");
        fs_err::create_dir_all(workdir.join("img")).unwrap();
        fs_err::copy(pkg.join("apko.yaml"), workdir.join("img/apko.yaml")).unwrap();
        let st = std::process::Command::new("cp")
            .args([
                "-Rs",
                prepared.to_str().unwrap(),
                workdir.join("cache_img").to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(st.success());
        let st = std::process::Command::new("chmod")
            .args([
                "-R",
                "a-w",
                prepared.to_str().unwrap(),
                lock_repo.to_str().unwrap(),
            ])
            .status()
            .unwrap();
        assert!(st.success());
        // The declared output directory exists before the action runs.
        fs_err::create_dir(bin.join("img").join("img")).unwrap();
        let before = server.requests().len();
        // apko_image.bzl's command line, run in the action's working directory.
        let o = apko(
            &[
                "build",
                "img/apko.yaml",
                "img:latest",
                "../img",
                "--vcs=false",
                "--include-paths=../",
                "--lockfile=../../img_lock/lockfile_copy",
                "--cache-dir=cache_img",
                "--offline",
                "--arch",
                "x86_64",
                "--sbom=false",
            ],
            &workdir,
            &[("SOURCE_DATE_EPOCH", "0")],
        );
        assert!(o.status.success(), "with .apk: {with_apk}: {}", stderr(&o));
        assert_eq!(
            server.requests().len(),
            before,
            "the action is hermetic: no request"
        );
        assert_eq!(
            layout_index_digest(&bin.join("img").join("img")),
            layout_index_digest(&normal),
            "the same image as a normal build (with .apk: {with_apk})"
        );
        let _ = std::process::Command::new("chmod")
            .args(["-R", "u+w", bin.to_str().unwrap()])
            .status();
    }
}

#[test]
fn the_cache_is_in_apkos_layout() {
    let server = Server::start();
    server.put_example_repository("/alpine/v3.20/main");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("hello.rsa.pub");
    fs_err::write(&key, example_key()).unwrap();
    let repo = format!("{}/alpine/v3.20/main", server.url);
    fs_err::write(
        dir.path().join("apko.yaml"),
        hello_config(&repo, &[key.to_str().unwrap()]),
    )
    .unwrap();
    // No --cache-dir: the default, under XDG_CACHE_HOME (the helper sets it to .xdg-cache).
    let o = build_layout(dir.path(), &[], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let port = server.url.rsplit(':').next().unwrap();
    let arch_dir = dir
        .path()
        .join(".xdg-cache/dev.chainguard.go-apk")
        .join(format!(
            "http%3A%2F%2F127.0.0.1%3A{port}%2Falpine%2Fv3.20%2Fmain"
        ))
        .join("x86_64");
    assert!(
        arch_dir.join("hello-1.0.0-r0.apk").is_file(),
        "{}",
        arch_dir.display()
    );
    let versions: Vec<String> = fs_err::read_dir(arch_dir.join("APKINDEX"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert!(
        versions[0].ends_with(".tar.gz") && versions[0].contains('='),
        "{versions:?}"
    );
    // Offline from that cache: no request.
    let before = server.requests().len();
    let o = build_layout(dir.path(), &["--offline"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(server.requests().len(), before);
}

#[test]
fn sbom_writes_the_sboms_of_an_existing_image() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = common::root().join("examples/hello/apko.yaml");
    let cfg = cfg.to_str().unwrap();
    fs_err::create_dir(dir.path().join("layout")).unwrap();
    for out in ["layout", "hello.tar"] {
        let o = apko(
            &[
                "build",
                cfg,
                "example.test/hello:1",
                out,
                "--sbom-formats",
                "spdx,cyclonedx",
            ],
            dir.path(),
            &[("SOURCE_DATE_EPOCH", "0")],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let packages = |path: &Path| -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_slice(&fs_err::read(path).unwrap()).unwrap();
        let mut v: Vec<String> = doc["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                p["SPDXID"]
                    .as_str()
                    .unwrap()
                    .starts_with("SPDXRef-Package-")
            })
            .map(|p| {
                format!(
                    "{} {}",
                    p["name"].as_str().unwrap(),
                    p["versionInfo"].as_str().unwrap_or("")
                )
            })
            .collect();
        v.sort();
        v
    };
    for (image, out) in [("layout", "from-layout"), ("hello.tar", "from-tarball")] {
        fs_err::create_dir(dir.path().join(out)).unwrap();
        let o = apko(
            &[
                "sbom",
                image,
                "--sbom-path",
                out,
                "--sbom-formats",
                "spdx,cyclonedx",
                "--reference",
                "example.test/hello:1",
            ],
            dir.path(),
            &[],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        for arch in ["x86_64", "aarch64"] {
            let ours = dir.path().join(out).join(format!("sbom-{arch}.spdx.json"));
            let built = dir
                .path()
                .join("layout")
                .join(format!("sbom-{arch}.spdx.json"));
            assert_eq!(packages(&ours), packages(&built), "{image} {arch}");
            assert!(
                packages(&ours).iter().any(|p| p.starts_with("hello ")),
                "{:?}",
                packages(&ours)
            );
            // The document describes the same image (same manifest digest in its name).
            let a: serde_json::Value =
                serde_json::from_slice(&fs_err::read(&ours).unwrap()).unwrap();
            let b: serde_json::Value =
                serde_json::from_slice(&fs_err::read(&built).unwrap()).unwrap();
            assert_eq!(a["name"], b["name"], "{image} {arch}");
            let cdx = dir.path().join(out).join(format!("sbom-{arch}.cdx.json"));
            let bom: serde_json::Value =
                serde_json::from_slice(&fs_err::read(&cdx).unwrap()).unwrap();
            assert_eq!(bom["specVersion"], "1.6");
        }
    }
    let o = apko(&["sbom", "nowhere"], dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nowhere"), "{}", stderr(&o));
}
