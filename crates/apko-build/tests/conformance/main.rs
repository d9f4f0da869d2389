//! Conformance suite for the whole pipeline, on the shared corpus (`APKO_TESTDATA`):
//!
//! * an image from `alpine-repo/3.20.3` (the official Alpine 3.20.3 minirootfs repacked as a
//!   signed repository) runs: `/bin/sh -c 'echo boo'` prints `boo` and the image's own
//!   `/sbin/apk info` lists every installed package;
//! * its files equal the official minirootfs, except the differences documented in
//!   docs/conformance.md;
//! * apko's own `cli-testdata/apko.yaml` gives, per architecture, the same layer as apko's golden
//!   layout, except the documented differences.
//!
//! Every test is `#[ignore]`d so that the default `cargo test` does not pretend to have run it;
//! `scripts/test.sh` runs them with `--ignored`. Missing data is a failure, never a skip.
//! Layers are read back with the `tar` crate and the system `tar`, not with our own reader.
#![allow(
    clippy::disallowed_methods,
    clippy::print_stdout,
    clippy::case_sensitive_file_extension_comparisons
)]

mod tree;

use apko_build::{BuildOutput, BuildRequest, Builder, SourceDateEpoch};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use tree::{Diff, Tree};

/// The corpus root; panics (fails the test) when `APKO_TESTDATA` is not set.
fn testdata() -> PathBuf {
    let dir = std::env::var_os("APKO_TESTDATA").expect(
        "APKO_TESTDATA must name the shared testdata directory to run the conformance suite",
    );
    let dir = PathBuf::from(dir);
    assert!(
        dir.is_dir(),
        "APKO_TESTDATA={} is not a directory",
        dir.display()
    );
    dir
}

fn path(rel: &str) -> PathBuf {
    let p = testdata().join(rel);
    assert!(p.exists(), "conformance data missing: {}", p.display());
    p
}

fn build(
    config: &Path,
    base_dir: &Path,
    sde: SourceDateEpoch,
    annotations: &[(&str, &str)],
) -> BuildOutput {
    let loaded = apko_build::deps::apko_config::load(config, &[]).unwrap();
    let mut req = BuildRequest::new(
        loaded,
        base_dir.to_owned(),
        "example.test/conformance:1".parse().unwrap(),
    );
    req.source_date_epoch = sde;
    req.annotations = annotations
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    req.cache_dir = None;
    req.offline = true;
    Builder::new(req)
        .build()
        .unwrap_or_else(|e| panic!("build of {} failed: {e:?}", config.display()))
}

const ALPINE_WORLD: &str = "alpine-baselayout alpine-keys apk-tools busybox libc-utils";

/// Builds the alpine-repo image (x86_64) with `cmd: /bin/sh -c 'echo boo'`.
fn alpine_repo_image(dir: &Path) -> BuildOutput {
    let repo = path("alpine-repo/3.20.3");
    let key = path("alpine-repo/3.20.3/keys/repack-test-3e2fa903.rsa.pub");
    let config = dir.join("apko.yaml");
    let packages: String = ALPINE_WORLD
        .split(' ')
        .map(|p| format!("    - {p}\n"))
        .collect();
    fs_err::write(
        &config,
        format!(
            "contents:\n  keyring:\n    - {}\n  repositories:\n    - {}\n  packages:\n{packages}\
             cmd: /bin/sh -c 'echo boo'\narchs:\n  - x86_64\n",
            key.display(),
            repo.display()
        ),
    )
    .unwrap();
    build(&config, dir, SourceDateEpoch::Set(1_700_000_000), &[])
}

fn run(program: &str, args: &[&str]) -> String {
    let o = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}`: {e}"));
    assert!(
        o.status.success(),
        "`{program} {}` failed ({}):\n{}{}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA and root; run by scripts/test.sh"]
fn alpine_repo_image_runs() {
    let uid = run("id", &["-u"]);
    assert_eq!(
        uid.trim(),
        "0",
        "unpacking with owners and chroot need root"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = alpine_repo_image(dir.path());
    let image = &out.images[0];

    // Unpack with the system tar, keeping numeric owners, as a container runtime would.
    let rootfs = dir.path().join("rootfs");
    fs_err::create_dir(&rootfs).unwrap();
    run(
        "tar",
        &[
            "-xzf",
            image.layers[0].path().to_str().unwrap(),
            "-C",
            rootfs.to_str().unwrap(),
            "--numeric-owner",
            "--same-owner",
            "--same-permissions",
        ],
    );

    // The image's own command, from its OCI config.
    let config: serde_json::Value = serde_json::from_slice(&image.config.bytes).unwrap();
    let cmd: Vec<&str> = config["config"]["Cmd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(cmd, ["/bin/sh", "-c", "echo boo"]);
    let mut args = vec![
        "--mount",
        "--pid",
        "--fork",
        "chroot",
        rootfs.to_str().unwrap(),
    ];
    args.extend(&cmd);
    assert_eq!(run("unshare", &args), "boo\n");

    // The image's apk reads the database we wrote.
    let listed = run(
        "unshare",
        &[
            "--mount",
            "--pid",
            "--fork",
            "chroot",
            rootfs.to_str().unwrap(),
            "/sbin/apk",
            "info",
        ],
    );
    let listed: BTreeSet<&str> = listed.lines().collect();
    let expected: BTreeSet<String> = official_installed_names();
    let expected: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(listed, expected, "apk info inside the image");
    let ours: BTreeSet<&str> = image.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(ours, expected, "the packages we installed");
    println!(
        "conformance alpine-repo run: `echo boo` printed boo; apk info lists {} / {} packages",
        listed.len(),
        expected.len()
    );
}

/// Package names in the official minirootfs's installed database.
fn official_installed_names() -> BTreeSet<String> {
    let official = Tree::from_tar_gz(&path(
        "alpine/minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz",
    ));
    let db = official
        .content("lib/apk/db/installed")
        .expect("official installed db");
    String::from_utf8_lossy(db)
        .lines()
        .filter_map(|l| l.strip_prefix("P:"))
        .map(str::to_owned)
        .collect()
}

/// Differences between our alpine-repo image and the official minirootfs, each with its reason
/// (mirrored in docs/conformance.md). `*` at the end of a path matches every path below it.
const MINIROOTFS_DIFFERENCES: &[(&str, &str)] = &[
    // Written by Alpine's image builder (alpine-make-rootfs), not by any package.
    (
        "only-official etc/alpine-release",
        "written by Alpine's image builder",
    ),
    (
        "only-official etc/issue",
        "written by Alpine's image builder",
    ),
    (
        "only-official etc/os-release",
        "written by Alpine's image builder",
    ),
    (
        "only-official etc/secfixes.d",
        "written by Alpine's image builder",
    ),
    (
        "only-official etc/secfixes.d/alpine",
        "written by Alpine's image builder",
    ),
    // apko keeps the apk database under /usr/lib/apk and links /lib/apk to it.
    (
        "only-official lib/apk/*",
        "apko: the apk database lives in /usr/lib/apk",
    ),
    ("differs lib/apk: type", "apko: /lib/apk -> ../usr/lib/apk"),
    (
        "only-ours usr/lib/apk",
        "apko: the apk database lives in /usr/lib/apk",
    ),
    (
        "only-ours usr/lib/apk/*",
        "apko: the apk database lives in /usr/lib/apk",
    ),
    // apk's world and repositories describe how the image was built.
    (
        "differs etc/apk/world: content",
        "the world of the apko.yaml, in apk syntax",
    ),
    (
        "differs etc/apk/repositories: content",
        "the repositories of the apko.yaml",
    ),
    (
        "only-ours etc/apk/keys/repack-test-3e2fa903.rsa.pub",
        "the apko.yaml's keyring is installed, as apko does",
    ),
    // Made by apko itself.
    (
        "only-ours dev/*",
        "apko creates /dev/{console,null,random,urandom,zero} and /dev/{pts,shm}",
    ),
    (
        "only-ours etc/apko.json",
        "apko records the locked configuration",
    ),
    (
        "only-ours etc/ssl/certs/.ca-certificates.crt.sha256",
        "sidecar of the CA bundle apko writes (no update-ca-certificates)",
    ),
    // apko creates a home directory for every passwd entry; alpine-baselayout lists these.
    (
        "only-ours usr/games",
        "home of user games (apko creates every account's home)",
    ),
    ("only-ours usr/lib/news", "home of user news"),
    ("only-ours var/lib/ftp", "home of user ftp"),
    ("only-ours var/spool/lpd", "home of user lp"),
    ("only-ours var/spool/uucppublic", "home of user uucp"),
];

fn matches(pattern: &str, diff: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => diff.starts_with(prefix),
        None => pattern == diff,
    }
}

/// Checks `diffs` against `documented`: every difference must be documented, and every
/// documented difference must still occur (a stale list is a failure too).
fn check_documented(group: &str, total: usize, diffs: &[Diff], documented: &[(&str, &str)]) {
    if std::env::var_os("APKO_CONFORMANCE_VERBOSE").is_some() {
        for d in diffs {
            println!("  {}", d.detail());
        }
    }
    let mut unexpected = Vec::new();
    let mut used = vec![false; documented.len()];
    for d in diffs {
        let text = d.to_string();
        match documented.iter().position(|(p, _)| matches(p, &text)) {
            Some(i) => used[i] = true,
            None => unexpected.push(d.detail()),
        }
    }
    let stale: Vec<&str> = documented
        .iter()
        .zip(&used)
        .filter(|(_, used)| !**used)
        .map(|((p, _), _)| *p)
        .collect();
    println!(
        "conformance {group}: {} / {total} paths identical, {} documented differences",
        total - diffs.len(),
        diffs.len(),
    );
    assert!(
        unexpected.is_empty() && stale.is_empty(),
        "{group}: {} unexpected differences:\n{}\ndocumented differences that no longer occur: {stale:?}",
        unexpected.len(),
        unexpected.join("\n")
    );
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA; run by scripts/test.sh"]
fn alpine_repo_image_equals_official_minirootfs() {
    let dir = tempfile::tempdir().unwrap();
    let out = alpine_repo_image(dir.path());
    let ours = Tree::from_tar_gz(out.images[0].layers[0].path());
    let official = Tree::from_tar_gz(&path(
        "alpine/minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz",
    ));
    // Paths, types, modes, owners and contents; mtimes are not compared (ours are the build
    // date, the official image's are Alpine's).
    let diffs = official.diff(&ours, false);
    let total = official.paths().union(&ours.paths()).count();
    check_documented(
        "alpine-repo vs minirootfs",
        total,
        &diffs,
        MINIROOTFS_DIFFERENCES,
    );
}

/// Differences between our cli-testdata layers and apko's golden layers (docs/conformance.md).
const GOLDEN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "differs etc/os-release: owner",
        "apko forces root:root on files it rewrites; we keep the package's owner (501:20 in this test package)",
    ),
    (
        "differs usr/lib/apk/db/installed: content",
        "we write the installed database exactly as apk 2.14 does (apko's Go writer has quirks, docs/differences.md)",
    ),
];

#[test]
#[ignore = "conformance: needs APKO_TESTDATA; run by scripts/test.sh"]
fn cli_testdata_matches_apko_golden_layout() {
    let cli = path("apko/cli-testdata");
    // apko's test runs this config from a directory where `./testdata` is cli-testdata.
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&cli, dir.path().join("testdata")).unwrap();
    // As apko's hack/update-golden.sh builds it: SOURCE_DATE_EPOCH unset, two annotations.
    let out = build(
        &cli.join("apko.yaml"),
        dir.path(),
        SourceDateEpoch::Unset,
        &[
            ("org.opencontainers.image.title", "Title"),
            ("org.opencontainers.image.vendor", "Vendor"),
        ],
    );
    let golden = path("apko/cli-testdata/golden");
    let golden_index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(golden.join("index.json")).unwrap()).unwrap();
    let ours_index: serde_json::Value = serde_json::from_slice(&out.index_json).unwrap();
    let platforms = |i: &serde_json::Value| -> Vec<String> {
        i["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["platform"].to_string())
            .collect()
    };
    assert_eq!(platforms(&ours_index), platforms(&golden_index));
    assert_eq!(out.images.len(), 2);

    for (image, golden_manifest) in out
        .images
        .iter()
        .zip(golden_index["manifests"].as_array().unwrap())
    {
        let blob = |digest: &str| golden.join("blobs/sha256").join(&digest[7..]);
        let manifest: serde_json::Value = serde_json::from_slice(
            &fs_err::read(blob(golden_manifest["digest"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        let golden_tree = Tree::from_tar_gz(&blob(layers[0]["digest"].as_str().unwrap()));
        let ours = Tree::from_tar_gz(image.layers[0].path());
        // Here mtimes are compared too: both builds take the packages' build date.
        let diffs = golden_tree.diff(&ours, true);
        let total = golden_tree.paths().union(&ours.paths()).count();
        check_documented(
            &format!("cli-testdata {} vs apko golden", image.arch),
            total,
            &diffs,
            GOLDEN_DIFFERENCES,
        );

        // The image configuration: the same runtime settings as apko's.
        let golden_config: serde_json::Value = serde_json::from_slice(
            &fs_err::read(blob(manifest["config"]["digest"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&image.config.bytes).unwrap();
        for key in ["architecture", "os", "created", "variant"] {
            assert_eq!(config[key], golden_config[key], "config field {key}");
        }
        for key in [
            "Entrypoint",
            "Cmd",
            "Env",
            "User",
            "WorkingDir",
            "StopSignal",
        ] {
            assert_eq!(
                config["config"][key], golden_config["config"][key],
                "config.config.{key}"
            );
        }
    }
}

/// What differs, by design, between apko's golden image on top of `base_image` and ours.
const TOP_IMAGE_DIFFERENCES: &[(&str, &str)] = &[
    (
        "differs etc/os-release: owner",
        "apko forces root:root on files it rewrites; we keep the package's owner",
    ),
    (
        "differs usr/lib/apk/db/installed: content",
        "apk 2.14's format, sorted, with the base records' files and owners kept (apko re-serialises them through its Go structs: `i:[[]]`, ownership and checksums dropped)",
    ),
    (
        "differs etc/apk/world: content",
        "every package of the base image is pinned (apko's golden predates package-y in the base's metadata)",
    ),
    (
        "differs etc/apko.json: content",
        "apko-rs writes the configuration it built (with the resolved packages it pins), as for every image",
    ),
];

#[test]
#[ignore = "conformance: needs APKO_TESTDATA; run by scripts/test.sh"]
fn image_on_top_of_a_base_matches_apkos_top_image() {
    let cli = path("apko/cli-testdata");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&cli, dir.path().join("testdata")).unwrap();
    let config = dir.path().join("testdata/image_on_top.apko.yaml");
    let loaded = apko_build::deps::apko_config::load(&config, &[]).unwrap();
    let mut req = BuildRequest::new(
        loaded,
        dir.path().to_owned(),
        "example.test/top:1".parse().unwrap(),
    );
    req.source_date_epoch = SourceDateEpoch::Set(0);
    req.lock = Some(apko_build::Lock::read(&cli.join("image_on_top.apko.lock.json")).unwrap());
    req.offline = true;
    let out = Builder::new(req).build().unwrap();
    let golden = path("apko/cli-testdata/top_image");
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(golden.join("index.json")).unwrap()).unwrap();
    let blob = |digest: &str| golden.join("blobs/sha256").join(&digest[7..]);
    for (image, m) in out
        .images
        .iter()
        .zip(index["manifests"].as_array().unwrap())
    {
        let manifest: serde_json::Value =
            serde_json::from_slice(&fs_err::read(blob(m["digest"].as_str().unwrap())).unwrap())
                .unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2);
        assert_eq!(image.layers.len(), 2);
        // The base layer is apko's, byte for byte (it is the base image's blob).
        assert_eq!(
            image.layers[0].descriptor().digest.to_string(),
            layers[0]["digest"].as_str().unwrap()
        );
        let golden_tree = Tree::from_tar_gz(&blob(layers[1]["digest"].as_str().unwrap()));
        let ours = Tree::from_tar_gz(image.layers[1].path());
        let diffs = golden_tree.diff(&ours, true);
        let total = golden_tree.paths().union(&ours.paths()).count();
        check_documented(
            &format!(
                "top image {} vs apko golden (layer on the base)",
                image.arch
            ),
            total,
            &diffs,
            TOP_IMAGE_DIFFERENCES,
        );
        let golden_config: serde_json::Value = serde_json::from_slice(
            &fs_err::read(blob(manifest["config"]["digest"].as_str().unwrap())).unwrap(),
        )
        .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&image.config.bytes).unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            golden_config["rootfs"]["diff_ids"][0]
        );
        assert_eq!(config["history"].as_array().unwrap().len(), 2);
        for key in ["Entrypoint", "Cmd", "User", "WorkingDir"] {
            assert_eq!(
                config["config"][key], golden_config["config"][key],
                "config.config.{key}"
            );
        }
    }
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA; run by scripts/test.sh"]
fn lockfiles_match_apkos() {
    let cli = path("apko/cli-testdata");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&cli, dir.path().join("testdata")).unwrap();
    let config = dir.path().join("apko.yaml");
    fs_err::copy(cli.join("apko.yaml"), &config).unwrap();
    let loaded = apko_build::deps::apko_config::load(&config, &[]).unwrap();
    let req = BuildRequest::new(
        loaded.clone(),
        dir.path().to_owned(),
        "example.test/lock:1".parse().unwrap(),
    );
    let mut lock = Builder::new(req).lock().unwrap();
    // apko records the configuration path as given on its command line: `apko.yaml`.
    lock.config.as_mut().unwrap().name = "apko.yaml".to_owned();
    let golden = fs_err::read(cli.join("apko.lock.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&lock.to_json()),
        String::from_utf8_lossy(&golden),
        "apko lock output"
    );

    // Building from apko's lockfile gives the image built by resolving.
    let golden_lock = apko_build::Lock::parse(&golden, "apko.lock.json").unwrap();
    golden_lock.check_config(&loaded, "apko.lock.json").unwrap();
    let plain = build(&config, dir.path(), SourceDateEpoch::Unset, &[]);
    let mut req = BuildRequest::new(
        loaded,
        dir.path().to_owned(),
        "example.test/conformance:1".parse().unwrap(),
    );
    req.lock = Some(golden_lock);
    let locked = Builder::new(req).build().unwrap();
    assert_eq!(locked.index_json, plain.index_json);

    // A lockfile from before apko 0.13 is refused with apko's advice.
    let old = fs_err::read(cli.join("apko.pre-0.13.lock.json")).unwrap();
    let err = apko_build::Lock::parse(&old, "apko.pre-0.13.lock.json").unwrap_err();
    assert!(err.to_string().contains("before 0.13"), "{err}");
    println!(
        "conformance lockfile: `apko lock` output byte-identical to apko's; locked build = resolved build; pre-0.13 lockfile refused"
    );
}

/// Real melange-built packages that ship their own SPDX document (`var/lib/db/sbom/`), by
/// architecture (the corpus has no index for them: the test writes one).
const MELANGE_PACKAGES: &[(&str, &[&str])] = &[
    (
        "aarch64",
        &[
            "melange/sign/testdata/test.apk",
            "melange/linter/testdata/hello-wolfi-2.12.1-r1.apk",
            "melange/linter/testdata/kubeflow-pipelines-2.1.3-r7.apk",
            "melange/sca/testdata/libcap-2.69-r0.apk",
        ],
    ),
    (
        "x86_64",
        &[
            "melange/sca/testdata/generated/x86_64/shbang-test-1-r1.apk",
            "melange/sca/testdata/generated/x86_64/linux-modules-6.17.7-r0.apk",
            "melange/sca/testdata/generated/x86_64/ld-so-conf-d-test-1-r1.apk",
            "melange/sca/testdata/perl-json-4.11-r0.apk",
            "melange/sca/testdata/ruby3.2-base64-0.2.0-r2.apk",
            "apko/history-6c8dd7f6/packages/x86_64/tzdata-2023c-r0.apk",
        ],
    ),
];

/// Writes `<dir>/<arch>/APKINDEX.tar.gz` over `apks` (their records with dependencies and
/// provides left out, since the corpus does not hold them), signed by a key made here, and
/// links the packages in under their index names; returns the package names and the key.
fn melange_repo(dir: &Path, arch: &str, apks: &[&str]) -> (Vec<String>, PathBuf) {
    use apko_build::deps::apko_apk::index::{ApkIndex, write_index};
    use apko_build::deps::apko_apk::keys::{SignatureKind, SigningKey};
    use apko_build::deps::apko_apk::package::{Limits, PackageReader};
    let key = SigningKey::generate("melange-test.rsa.pub", 2048).unwrap();
    let key_path = dir.join("melange-test.rsa.pub");
    fs_err::write(&key_path, key.public_key_pem()).unwrap();
    let adir = dir.join(arch);
    fs_err::create_dir_all(&adir).unwrap();
    let mut records = Vec::new();
    for apk in apks {
        let file = path(apk);
        let reader =
            PackageReader::new(fs_err::File::open(&file).unwrap(), apk, &Limits::default())
                .unwrap();
        let (control, digests, _) = reader.finish().unwrap();
        let mut info = control.info;
        info.size = digests.file_size();
        info.checksum = Some(digests.identity);
        info.depends.clear();
        info.provides.clear();
        info.install_if.clear();
        std::os::unix::fs::symlink(&file, adir.join(info.file_name())).unwrap();
        records.push(info);
    }
    let names = records.iter().map(|r| r.name.as_str().to_owned()).collect();
    let mut out = Vec::new();
    write_index(
        &ApkIndex {
            description: None,
            packages: records,
        },
        &[(key, SignatureKind::Rsa256)],
        &mut out,
    )
    .unwrap();
    fs_err::write(adir.join("APKINDEX.tar.gz"), out).unwrap();
    (names, key_path)
}

/// The `var/lib/db/sbom/*.spdx.json` files of a layer.
fn shipped_sboms(layer: &Path) -> Vec<(String, serde_json::Value)> {
    use std::io::Read;
    let gz = fs_err::File::open(layer).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().display().to_string();
        if p.starts_with("var/lib/db/sbom/") && p.ends_with(".spdx.json") {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.push((p, serde_json::from_slice(&data).unwrap()));
        }
    }
    out
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA and target/test-venv (pyspdxtools, ntia-checker); run by scripts/test.sh"]
fn melange_package_sboms_are_merged() {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin");
    for tool in ["pyspdxtools", "ntia-checker"] {
        assert!(
            venv.join(tool).is_file(),
            "{} is missing; run scripts/install-test-tools.sh",
            venv.join(tool).display()
        );
    }
    let mut merged_packages = 0;
    let mut merged_files = 0;
    for (arch, apks) in MELANGE_PACKAGES {
        let dir = tempfile::tempdir().unwrap();
        let (names, key) = melange_repo(dir.path(), arch, apks);
        let config = dir.path().join("apko.yaml");
        let packages: String = names.iter().map(|p| format!("    - {p}\n")).collect();
        fs_err::write(
            &config,
            format!(
                "contents:\n  keyring:\n    - {}\n  repositories:\n    - {}\n  packages:\n{packages}archs:\n  - {arch}\n",
                key.display(),
                dir.path().display()
            ),
        )
        .unwrap();
        let out = build(&config, dir.path(), SourceDateEpoch::Set(0), &[]);
        let image = &out.images[0];
        let bytes = image.sbom.as_ref().unwrap();
        let doc: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        let sbom_path = dir.path().join(format!("sbom-{arch}.spdx.json"));
        fs_err::write(&sbom_path, bytes).unwrap();

        let elements = |key: &str| -> Vec<serde_json::Value> {
            doc[key].as_array().cloned().unwrap_or_default()
        };
        let (ours, files, snippets) = (
            elements("packages"),
            elements("files"),
            elements("snippets"),
        );
        let known: BTreeSet<&str> = ours
            .iter()
            .chain(&files)
            .chain(&snippets)
            .map(|e| e["SPDXID"].as_str().unwrap())
            .chain(["SPDXRef-DOCUMENT"])
            .collect();
        assert_eq!(
            known.len(),
            ours.len() + files.len() + snippets.len() + 1,
            "identifiers are unique"
        );
        for r in doc["relationships"].as_array().unwrap() {
            for end in ["spdxElementId", "relatedSpdxElement"] {
                let id = r[end].as_str().unwrap();
                assert!(
                    known.contains(id),
                    "{arch}: relationship names unknown {id}: {r}"
                );
            }
        }
        assert!(
            ours.iter().all(|p| p["annotations"].is_null()),
            "{arch}: every shipped document merged whole"
        );

        // Every package and file element of every shipped document is in the image's.
        let shipped = shipped_sboms(image.layers[0].path());
        assert_eq!(
            shipped.len(),
            apks.len(),
            "{arch}: one document per package"
        );
        for (file, sd) in &shipped {
            for p in sd["packages"].as_array().unwrap() {
                let (name, version) = (&p["name"], &p["versionInfo"]);
                let operating_system = p["primaryPackagePurpose"]
                    .as_str()
                    .is_some_and(|s| s.replace('-', "_") == "OPERATING_SYSTEM");
                let found = ours.iter().any(|o| {
                    if operating_system {
                        o["primaryPackagePurpose"] == "OPERATING_SYSTEM"
                    } else {
                        &o["name"] == name && (version.is_null() || &o["versionInfo"] == version)
                    }
                });
                assert!(found, "{arch}: {file}: package {} missing", p["SPDXID"]);
                merged_packages += 1;
            }
            for f in sd["files"].as_array().into_iter().flatten() {
                let sha1 = f["checksums"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["algorithm"] == "SHA1")
                    .unwrap();
                let name = format!(".{}", f["fileName"].as_str().unwrap());
                assert!(
                    files.iter().any(|o| o["fileName"] == name.as_str()
                        && o["checksums"].as_array().unwrap().contains(sha1)),
                    "{arch}: {file}: file {name} missing"
                );
                merged_files += 1;
            }
        }
        // No APK is described twice.
        for n in &names {
            let apk = ours
                .iter()
                .filter(|o| {
                    o["name"] == n.as_str()
                        && o["SPDXID"]
                            .as_str()
                            .unwrap()
                            .starts_with("SPDXRef-Package-apk-")
                })
                .count();
            assert_eq!(apk, 1, "{arch}: {n}");
        }

        // Valid SPDX 2.3, NTIA-conformant.
        let o = Command::new(venv.join("pyspdxtools"))
            .args(["-i", sbom_path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            o.status.success() && o.stderr.is_empty(),
            "{arch}: pyspdxtools: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let o = Command::new(venv.join("ntia-checker"))
            .arg(sbom_path.to_str().unwrap())
            .output()
            .unwrap();
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.status.success() && report.contains("Conformant: True"),
            "{arch}: ntia-checker: {report}"
        );
        println!("conformance melange SBOMs {arch}: ntia-checker:\n{report}");

        // Deterministic.
        let again = build(&config, dir.path(), SourceDateEpoch::Set(0), &[]);
        assert_eq!(
            again.images[0].sbom.as_ref(),
            Some(bytes),
            "{arch}: same bytes"
        );
    }
    println!(
        "conformance melange SBOMs: {merged_packages} package and {merged_files} file elements of the shipped documents found in the images' documents; pyspdxtools valid, NTIA conformant"
    );
}
