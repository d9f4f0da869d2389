//! Our output checked by real consumers: skopeo (docker-archive: and oci:), umoci (the strictest
//! layout reader; it checks diffIDs), oci-image-tool and the OCI image-spec JSON schemas, runc and
//! `unshare … chroot` (the image runs), pyspdxtools (the SBOMs are valid SPDX 2.3),
//! ntia-checker (they have the NTIA minimum elements) and cyclonedx-python-lib (the CycloneDX
//! SBOMs pass its strict 1.6 validator).
//!
//! These tests need the tools that `scripts/install-test-tools.sh` installs, and root for
//! unpacking and running, so they are `#[ignore]`d by default; `scripts/test.sh` installs the
//! tools and runs them with `--ignored`. A missing tool is a failure, never a skip.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

const TAG: &str = "example.test/hello:latest";

/// The hello example built once per test binary, as a docker tarball and as an OCI layout.
struct Built {
    dir: PathBuf,
}

impl Built {
    fn tarball(&self) -> PathBuf {
        self.dir.join("hello.tar")
    }
    fn layout(&self) -> PathBuf {
        self.dir.join("layout")
    }
    fn index(&self) -> serde_json::Value {
        json(&self.layout().join("index.json"))
    }
    fn blob(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.layout().join("blobs/sha256").join(hex)
    }
    /// `(architecture, manifest digest)` for every image of the index.
    fn manifests(&self) -> Vec<(String, String)> {
        self.index()["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["platform"]["architecture"].as_str().unwrap().to_owned(),
                    m["digest"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("consumers");
        fresh_dir(&dir);
        fs_err::create_dir(dir.join("layout")).unwrap();
        let cfg = root().join("examples/hello/apko.yaml");
        for out in ["hello.tar", "layout"] {
            let o = Command::new(env!("CARGO_BIN_EXE_apko"))
                .args(["build", cfg.to_str().unwrap(), TAG, out])
                .current_dir(&dir)
                .env("SOURCE_DATE_EPOCH", "1700000000")
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "apko build {out}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        Built { dir }
    })
}

/// `dir`, emptied (left over from an earlier run) and created.
fn fresh_dir(dir: &Path) -> &Path {
    if dir.exists() {
        fs_err::remove_dir_all(dir).unwrap();
    }
    fs_err::create_dir_all(dir).unwrap();
    dir
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs_err::read(path).unwrap()).unwrap()
}

/// Runs a consumer; panics with its output unless it succeeds.
fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let o = try_run(program, args, dir);
    assert!(
        o.status.success(),
        "`{program} {}` failed ({}):\nstdout: {}\nstderr: {}",
        args.join(" "),
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn try_run(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}`: {e}; install the test tools with scripts/install-test-tools.sh")
        })
}

fn venv_bin(tool: &str) -> String {
    let venv = std::env::var_os("APKO_TEST_VENV")
        .map_or_else(|| root().join("target/test-venv"), PathBuf::from);
    let bin = venv.join("bin").join(tool);
    assert!(
        bin.is_file(),
        "{} is missing; run scripts/install-test-tools.sh (or set APKO_TEST_VENV)",
        bin.display()
    );
    bin.to_str().unwrap().to_owned()
}

fn require_root(what: &str) {
    let uid = run("id", &["-u"], Path::new("/"));
    assert_eq!(
        uid.trim(),
        "0",
        "{what} needs root (unpacking keeps file owners; runc and unshare need namespaces)"
    );
}

/// A fresh copy of the layout, named `name`, next to it.
fn copy_layout(name: &str) -> PathBuf {
    let b = built();
    let dest = b.dir.join(name);
    if dest.exists() {
        fs_err::remove_dir_all(&dest).unwrap();
    }
    run(
        "cp",
        &["-a", b.layout().to_str().unwrap(), dest.to_str().unwrap()],
        &b.dir,
    );
    dest
}

/// A copy of the layout whose `index.json` names each image by its architecture, the way
/// umoci and oci-image-tool select images (apko's layouts carry no `ref.name`, see tools.md).
fn layout_with_arch_refs(name: &str) -> PathBuf {
    let b = built();
    let dest = copy_layout(name);
    let mut index = b.index();
    for m in index["manifests"].as_array_mut().unwrap() {
        let arch = m["platform"]["architecture"].as_str().unwrap().to_owned();
        m["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": arch });
    }
    fs_err::write(dest.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    dest
}

/// A copy of the layout whose `index.json` holds our index as a nested index named `latest`:
/// what `skopeo copy --all oci:DIR:latest` needs.
fn layout_wrapped(name: &str) -> PathBuf {
    let dest = copy_layout(name);
    let index = fs_err::read(dest.join("index.json")).unwrap();
    let digest = sha256_hex(&index);
    fs_err::write(dest.join("blobs/sha256").join(&digest), &index).unwrap();
    let outer = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": format!("sha256:{digest}"),
            "size": index.len(),
            "annotations": { "org.opencontainers.image.ref.name": "latest" },
        }],
    });
    fs_err::write(dest.join("index.json"), serde_json::to_vec(&outer).unwrap()).unwrap();
    dest
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

#[test]
#[ignore = "needs skopeo (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn skopeo_reads_the_docker_tarball() {
    let b = built();
    let tar = b.tarball();
    for (arch, _) in b.manifests() {
        let src = format!("docker-archive:{}:{TAG}-{arch}", tar.display());
        let out = run("skopeo", &["inspect", &src], &b.dir);
        let inspect: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(inspect["Architecture"], arch.as_str(), "{out}");
        assert_eq!(inspect["Os"], "linux");
        assert_eq!(inspect["Created"], "2023-11-14T22:13:20Z");
        assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);
        let config = run("skopeo", &["inspect", "--config", &src], &b.dir);
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        assert_eq!(config["config"]["Entrypoint"][0], "/usr/bin/hello");

        // skopeo copy reads every blob and checks its digest. It recompresses docker-archive
        // layers, so the compressed digests change; the uncompressed layer (diffID) must not.
        let dest = b.dir.join(format!("from-docker-archive-{arch}"));
        let dest_ref = format!("oci:{}:{arch}", dest.display());
        run("skopeo", &["copy", &src, &dest_ref], &b.dir);
        let copied = run("skopeo", &["inspect", "--config", &dest_ref], &b.dir);
        let copied: serde_json::Value = serde_json::from_str(&copied).unwrap();
        assert_eq!(copied["rootfs"]["diff_ids"], config["rootfs"]["diff_ids"]);
        assert_eq!(copied["config"], config["config"]);
    }
}

#[test]
#[ignore = "needs skopeo (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn skopeo_reads_and_copies_the_layout() {
    let b = built();
    let wrapped = layout_wrapped("wrapped");
    let src = format!("oci:{}:latest", wrapped.display());
    let index_digest = format!(
        "sha256:{}",
        sha256_hex(&fs_err::read(b.layout().join("index.json")).unwrap())
    );
    for (arch, digest) in b.manifests() {
        let out = run(
            "skopeo",
            &["inspect", "--override-arch", &arch, &src],
            &b.dir,
        );
        let inspect: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(inspect["Digest"], index_digest.as_str(), "{out}");
        assert_eq!(inspect["Architecture"], arch.as_str());
        let manifest = json(&b.blob(&digest));
        assert_eq!(inspect["Layers"][0], manifest["layers"][0]["digest"]);
    }
    let raw = run("skopeo", &["inspect", "--raw", &src], &b.dir);
    assert_eq!(
        raw.as_bytes(),
        fs_err::read(b.layout().join("index.json")).unwrap(),
        "skopeo reads our index bytes unchanged"
    );

    // skopeo rewrites indexes when it copies them (tools.md §4), but per-arch manifests and
    // their blobs go through unchanged, every blob digest-checked on the way.
    let copied = b.dir.join("copied");
    let dest = format!("oci:{}:latest", copied.display());
    run("skopeo", &["copy", "--all", &src, &dest], &b.dir);
    let raw = run("skopeo", &["inspect", "--raw", &dest], &b.dir);
    let copied_index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let mut copied_manifests: Vec<String> = copied_index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap().to_owned())
        .collect();
    let mut ours: Vec<String> = b.manifests().into_iter().map(|(_, d)| d).collect();
    copied_manifests.sort();
    ours.sort();
    assert_eq!(copied_manifests, ours);
    for digest in &ours {
        let hex = digest.strip_prefix("sha256:").unwrap();
        assert_eq!(
            fs_err::read(copied.join("blobs/sha256").join(hex)).unwrap(),
            fs_err::read(b.blob(digest)).unwrap()
        );
    }
}

#[test]
#[ignore = "needs umoci, runc and root (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn umoci_unpacks_the_layout_and_the_image_runs() {
    require_root("unpacking and running the image");
    let b = built();
    let layout = layout_with_arch_refs("umoci");
    for (arch, _) in b.manifests() {
        let bundle = b.dir.join(format!("bundle-{arch}"));
        run(
            "umoci",
            &[
                "unpack",
                "--image",
                &format!("{}:{arch}", layout.display()),
                bundle.to_str().unwrap(),
            ],
            &b.dir,
        );
        let rootfs = bundle.join("rootfs");
        assert!(rootfs.join("usr/bin/hello").is_file());
        assert!(rootfs.join("etc/passwd").is_file());
        let installed = fs_err::read_to_string(rootfs.join("usr/lib/apk/db/installed")).unwrap();
        assert!(installed.contains("P:hello\n"), "{installed}");
    }

    // runc, from the bundle umoci wrote (terminal off: there is no tty here).
    let bundle = b.dir.join("bundle-amd64");
    let config_path = bundle.join("config.json");
    let mut config = json(&config_path);
    config["process"]["terminal"] = false.into();
    fs_err::write(&config_path, serde_json::to_vec(&config).unwrap()).unwrap();
    let _ = try_run("runc", &["delete", "--force", "apko-rs-consumers"], &bundle);
    let out = run("runc", &["run", "apko-rs-consumers"], &bundle);
    assert_eq!(out, "Hello from an image built by apko-rs!\n");

    // unshare + chroot: no runtime at all.
    let rootfs = bundle.join("rootfs");
    let out = run(
        "unshare",
        &[
            "--mount",
            "--pid",
            "--fork",
            "chroot",
            rootfs.to_str().unwrap(),
            "/usr/bin/hello",
        ],
        &b.dir,
    );
    assert_eq!(out, "Hello from an image built by apko-rs!\n");
}

#[test]
#[ignore = "needs umoci and root (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn umoci_rejects_a_wrong_diff_id() {
    // The negative control: proves the unpack test above would catch a bad diffID.
    require_root("umoci unpack");
    let b = built();
    let layout = layout_with_arch_refs("tampered");
    let (_, manifest_digest) = b.manifests().into_iter().next().unwrap();
    let manifest_path = b.blob(&manifest_digest);
    let mut manifest = json(&manifest_path);
    let config_digest = manifest["config"]["digest"].as_str().unwrap().to_owned();
    let mut config = json(&b.blob(&config_digest));
    config["rootfs"]["diff_ids"][0] = format!("sha256:{}", "0".repeat(64)).into();
    let config_bytes = serde_json::to_vec(&config).unwrap();
    let new_config = sha256_hex(&config_bytes);
    fs_err::write(layout.join("blobs/sha256").join(&new_config), &config_bytes).unwrap();
    manifest["config"]["digest"] = format!("sha256:{new_config}").into();
    manifest["config"]["size"] = config_bytes.len().into();
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let new_manifest = sha256_hex(&manifest_bytes);
    fs_err::write(
        layout.join("blobs/sha256").join(&new_manifest),
        &manifest_bytes,
    )
    .unwrap();
    let mut index = json(&layout.join("index.json"));
    index["manifests"][0]["digest"] = format!("sha256:{new_manifest}").into();
    index["manifests"][0]["size"] = manifest_bytes.len().into();
    let arch = index["manifests"][0]["platform"]["architecture"]
        .as_str()
        .unwrap()
        .to_owned();
    fs_err::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let o = try_run(
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{}:{arch}", layout.display()),
            b.dir.join("bundle-tampered").to_str().unwrap(),
        ],
        &b.dir,
    );
    assert!(!o.status.success(), "umoci accepted a wrong diffID");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("diffid"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
#[ignore = "needs oci-image-tool and the schema venv (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn layout_validates_against_the_image_spec() {
    let b = built();
    let layout = layout_with_arch_refs("validate");
    let out = run(
        "oci-image-tool",
        &["validate", "--type", "image", layout.to_str().unwrap()],
        &b.dir,
    );
    assert!(out.contains("Validation succeeded"), "{out}");
    for (arch, _) in b.manifests() {
        let out = run(
            "oci-image-tool",
            &[
                "validate",
                "--type",
                "image",
                "--ref",
                &format!("name={arch}"),
                layout.to_str().unwrap(),
            ],
            &b.dir,
        );
        assert!(out.contains("Validation succeeded"), "{out}");
    }

    let python = venv_bin("python");
    let script = root().join("scripts/oci_schema_validate.py");
    let script = script.to_str().unwrap();
    let check = |kind: &str, files: &[PathBuf]| {
        let mut args = vec![script, kind];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        let out = run(&python, &args, &b.dir);
        assert_eq!(out.matches(": OK").count(), files.len(), "{out}");
    };
    check("index", &[b.layout().join("index.json")]);
    check("layout", &[b.layout().join("oci-layout")]);
    let manifests: Vec<PathBuf> = b.manifests().iter().map(|(_, d)| b.blob(d)).collect();
    check("manifest", &manifests);
    let configs: Vec<PathBuf> = manifests
        .iter()
        .map(|m| b.blob(json(m)["config"]["digest"].as_str().unwrap()))
        .collect();
    check("config", &configs);
}

#[test]
#[ignore = "needs pyspdxtools and ntia-checker (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn sboms_are_valid_spdx_and_ntia_conformant() {
    let b = built();
    let pyspdxtools = venv_bin("pyspdxtools");
    let ntia = venv_bin("ntia-checker");
    let mut checked = 0;
    for dir in [b.dir.clone(), b.layout()] {
        for name in [
            "sbom-index.spdx.json",
            "sbom-x86_64.spdx.json",
            "sbom-aarch64.spdx.json",
        ] {
            let path = dir.join(name);
            assert!(path.is_file(), "{} was not written", path.display());
            let o = try_run(&pyspdxtools, &["-i", path.to_str().unwrap()], &b.dir);
            assert!(
                o.status.success() && o.stderr.is_empty(),
                "{}: {}{}",
                path.display(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            // NTIA minimum elements: names, versions, identifiers, suppliers, author,
            // timestamp, dependency relationships; and no element left unconnected.
            let o = try_run(&ntia, &[path.to_str().unwrap()], &b.dir);
            let report = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            assert!(
                o.status.success() && report.contains("Conformant: True"),
                "{}: {report}",
                path.display()
            );
            assert!(!report.contains("floating"), "{}: {report}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}

/// Validates CycloneDX JSON with cyclonedx-python-lib: the strict schema validator, then a
/// load into its object model (which also checks that every dependency names a component).
const CYCLONEDX_CHECK: &str = r#"
import json, sys, warnings
from cyclonedx.validation.json import JsonStrictValidator
from cyclonedx.schema import SchemaVersion
from cyclonedx.model.bom import Bom
text = open(sys.argv[1]).read()
e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
if e:
    for err in e:
        print(err)
    sys.exit(1)
with warnings.catch_warnings():
    warnings.simplefilter("error", UserWarning)
    Bom.from_json(json.loads(text)).validate()
"#;

#[test]
#[ignore = "needs cyclonedx-python-lib (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn cyclonedx_sboms_validate_strictly() {
    let python = venv_bin("python");
    // The library must be there: a missing module is a failure, not a skip.
    let o = try_run(
        &python,
        &["-c", "import cyclonedx.validation.json, jsonschema"],
        Path::new("/"),
    );
    assert!(
        o.status.success(),
        "cyclonedx-python-lib[json-validation] is missing from the venv; run scripts/install-test-tools.sh: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("consumers-cyclonedx");
    fresh_dir(&dir);
    fs_err::create_dir(dir.join("layout")).unwrap();
    let cfg = root().join("examples/hello/apko.yaml");
    for out in ["hello.tar", "layout"] {
        let o = Command::new(env!("CARGO_BIN_EXE_apko"))
            .args(["build", cfg.to_str().unwrap(), TAG, out])
            .args(["--sbom-formats", "spdx,cyclonedx"])
            .current_dir(&dir)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "apko build {out}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let mut checked = 0;
    for d in [dir.clone(), dir.join("layout")] {
        for name in [
            "sbom-index.cdx.json",
            "sbom-x86_64.cdx.json",
            "sbom-aarch64.cdx.json",
        ] {
            let path = d.join(name);
            assert!(path.is_file(), "{} was not written", path.display());
            assert!(
                d.join(name.replace(".cdx.", ".spdx.")).is_file(),
                "the SPDX document next to {name}"
            );
            let o = try_run(
                &python,
                &["-c", CYCLONEDX_CHECK, path.to_str().unwrap()],
                &dir,
            );
            assert!(
                o.status.success(),
                "{}: {}{}",
                path.display(),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
}

/// A signed one-package repository in `work` (package `name`, x86_64, the given files with
/// their parent directories) and an apko.yaml for it with `extra` configuration appended;
/// builds it with `apko build-minirootfs` and unpacks the result into `work/rootfs`.
fn minirootfs_of_one_package(
    work: &Path,
    name: &str,
    files: Vec<(String, u32, Vec<u8>)>,
    extra: &str,
) -> PathBuf {
    use apko_build::deps::apko_apk::index::{ApkIndex, write_index};
    use apko_build::deps::apko_apk::info::PackageInfo;
    use apko_build::deps::apko_apk::keys::{SignatureKind, SigningKey};
    use apko_build::deps::apko_apk::package::{PackageBuilder, PackageFile};

    fresh_dir(work);
    fs_err::create_dir_all(work.join("repo/x86_64")).unwrap();
    let mut info = PackageInfo::new(name.parse().unwrap(), "1.0-r0".parse().unwrap());
    info.arch = Some("x86_64".into());
    info.license = "MIT".into();
    info.description = format!("{name}: consumer test package");
    info.build_time = Some(1_700_000_000);
    let mut pkg = PackageBuilder::new(info);
    let mut dirs = std::collections::BTreeSet::new();
    for (path, _, _) in &files {
        let mut p = path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            dirs.insert(parent.to_owned());
            p = parent;
        }
    }
    for d in &dirs {
        pkg = pkg.with_file(PackageFile::dir(d, 0o755));
    }
    for (path, mode, data) in files {
        pkg = pkg.with_file(PackageFile::file(&path, mode, data));
    }
    let key = SigningKey::generate("consumer-test.rsa.pub", 2048).unwrap();
    let (built, bytes) = pkg
        .with_signature(key.clone(), SignatureKind::Rsa256)
        .build()
        .unwrap();
    fs_err::write(work.join("repo/x86_64").join(built.info.file_name()), bytes).unwrap();
    write_index(
        &ApkIndex {
            description: None,
            packages: vec![built.info],
        },
        &[(key.clone(), SignatureKind::Rsa256)],
        fs_err::File::create(work.join("repo/x86_64/APKINDEX.tar.gz")).unwrap(),
    )
    .unwrap();
    fs_err::write(work.join(key.name()), key.public_key_pem()).unwrap();
    fs_err::write(
        work.join("apko.yaml"),
        format!(
            "contents:\n  keyring: [./{}]\n  repositories: [./repo]\n  packages: [{name}]\narchs: [x86_64]\n{extra}",
            key.name()
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_apko"))
        .args([
            "build-minirootfs",
            "apko.yaml",
            "rootfs.tar",
            "--build-arch",
            "x86_64",
        ])
        .current_dir(work)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rootfs = work.join("rootfs");
    fs_err::create_dir(&rootfs).unwrap();
    run(
        "tar",
        &[
            "-xf",
            "rootfs.tar",
            "-C",
            rootfs.to_str().unwrap(),
            "--numeric-owner",
        ],
        work,
    );
    rootfs
}

/// glibc's own tools read the `/etc/ld.so.cache` we generate: `ldconfig -p` lists it, and the
/// host's dynamic loader finds a library that is only in a directory of `ld.so.conf` (without
/// the cache the program does not start: the negative control).
#[test]
#[ignore = "needs root, glibc's ldconfig and bzip2 (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn glibc_uses_our_ld_so_cache() {
    require_root("chroot");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("consumers-glibc");

    // The host's bzip2 and the libraries `ldd` says it loads: the loader and libc where the
    // host has them (glibc's default directories), libbz2 in /opt/custom/lib only.
    let program = "/usr/bin/bzip2";
    let ldd = run("ldd", &[program], Path::new("/"));
    let mut files: Vec<(String, String)> = vec![(program.into(), "usr/bin/bzip2".into())];
    for line in ldd.lines() {
        let line = line.trim();
        if let Some((name, rest)) = line.split_once(" => ") {
            let host = rest.split(' ').next().unwrap().to_owned();
            let dest = if name.starts_with("libc.so") {
                host.trim_start_matches('/').to_owned()
            } else {
                format!("opt/custom/lib/{name}")
            };
            files.push((host, dest));
        } else if line.starts_with('/') {
            let host = line.split(' ').next().unwrap().to_owned();
            files.push((host.clone(), host.trim_start_matches('/').to_owned()));
        }
    }
    assert!(
        files
            .iter()
            .any(|(_, d)| d.starts_with("opt/custom/lib/libbz2")),
        "{ldd}"
    );
    let mut contents: Vec<(String, u32, Vec<u8>)> = files
        .iter()
        .map(|(host, dest)| (dest.clone(), 0o755, fs_err::read(host).unwrap()))
        .collect();
    contents.push((
        "etc/ld.so.conf".into(),
        0o644,
        b"include /etc/ld.so.conf.d/*.conf\n".to_vec(),
    ));
    contents.push((
        "etc/ld.so.conf.d/custom.conf".into(),
        0o644,
        b"/opt/custom/lib\n".to_vec(),
    ));
    let rootfs = minirootfs_of_one_package(&work, "glibc-test", contents, "");
    let work = work.as_path();

    // glibc's reader.
    let cache = rootfs.join("etc/ld.so.cache");
    let listed = run("ldconfig", &["-p", "-C", cache.to_str().unwrap()], work);
    assert!(
        listed.contains("libbz2.so.1.0 (libc6,x86-64) => /opt/custom/lib/libbz2.so.1.0"),
        "{listed}"
    );
    assert!(listed.contains("Cache generated by: apko-rs"), "{listed}");

    // glibc's loader, inside the image.
    let bzip2 = |rootfs: &Path| {
        let mut child = Command::new("unshare")
            .args(["--mount", "--pid", "--fork", "chroot"])
            .arg(rootfs)
            .args(["/usr/bin/bzip2", "-c"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
        child.wait_with_output().unwrap()
    };
    let o = bzip2(&rootfs);
    assert!(
        o.status.success() && o.stdout.starts_with(b"BZh"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    fs_err::remove_file(&cache).unwrap();
    let o = bzip2(&rootfs);
    assert!(!o.status.success(), "bzip2 ran without the cache");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("libbz2.so.1.0: cannot open shared object"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The Java trust store we extend is read by an independent JKS implementation (pyjks): its
/// integrity digest checks with the password `changeit`, and it holds the certificate from
/// `certificates.additional` under apko's alias, dated at the build date.
#[test]
#[ignore = "needs openssl and pyjks (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn java_trust_store_reads_with_pyjks() {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("consumers-jks");
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("consumers-jks-scratch");
    fresh_dir(&scratch);
    let python = venv_bin("python");
    // A real certificate, and an empty store written by pyjks.
    run(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=apko-rs consumer test",
        ],
        &scratch,
    );
    run(
        "openssl",
        &[
            "x509", "-in", "cert.pem", "-outform", "der", "-out", "cert.der",
        ],
        &scratch,
    );
    run(
        &python,
        &[
            "-c",
            "import jks; jks.KeyStore.new('jks', []).save('empty.jks', 'changeit')",
        ],
        &scratch,
    );
    let pem = fs_err::read_to_string(scratch.join("cert.pem")).unwrap();
    let der = fs_err::read(scratch.join("cert.der")).unwrap();
    let extra = format!(
        "certificates:\n  additional:\n    - name: corp\n      content: |\n{}\n",
        pem.lines()
            .map(|l| format!("        {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let rootfs = minirootfs_of_one_package(
        &work,
        "java-cacerts",
        vec![(
            "etc/ssl/certs/java/cacerts".into(),
            0o644,
            fs_err::read(scratch.join("empty.jks")).unwrap(),
        )],
        &extra,
    );
    let store = rootfs.join("etc/ssl/certs/java/cacerts");
    let out = run(
        &python,
        &[
            "-c",
            "import jks, sys, hashlib; ks = jks.KeyStore.load(sys.argv[1], 'changeit'); \
             [print(a, e.timestamp, hashlib.sha256(e.cert).hexdigest(), e.type) \
             for a, e in sorted(ks.certs.items())]",
            store.to_str().unwrap(),
        ],
        &work,
    );
    let fingerprint = sha256_hex(&der);
    assert_eq!(
        out,
        format!("corp-{fingerprint} 1700000000000 {fingerprint} X.509\n"),
        "pyjks listing"
    );
    // The sidecar describes the final store.
    let sidecar =
        fs_err::read_to_string(rootfs.join("etc/ssl/certs/java/.cacerts.sha256")).unwrap();
    assert_eq!(
        sidecar,
        format!("{}  cacerts\n", sha256_hex(&fs_err::read(&store).unwrap()))
    );
}

/// `apko publish` to a real registry: the index arrives byte for byte under both tags, skopeo
/// reads it and copies every image out of the registry (checking every blob's digest).
#[test]
#[ignore = "needs docker-registry and skopeo (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn publish_to_a_real_registry() {
    let reg = common::LocalRegistry::start();
    let b = built();
    let work = b.dir.join("publish");
    fresh_dir(&work);
    let cfg = root().join("examples/hello/apko.yaml");
    let latest = format!("{}/test/hello:latest", reg.host);
    let v1 = format!("{}/test/hello:v1", reg.host);
    let o = Command::new(env!("CARGO_BIN_EXE_apko"))
        .args(["publish", cfg.to_str().unwrap(), &latest, &v1])
        .args(["--image-refs", "refs.txt"])
        .current_dir(&work)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("DOCKER_CONFIG", &work) // no credentials from the host
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let index = fs_err::read(b.layout().join("index.json")).unwrap();
    let index_digest = format!("sha256:{}", sha256_hex(&index));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("{}/test/hello@{index_digest}\n", reg.host),
        "prints the index reference"
    );
    let refs = fs_err::read_to_string(work.join("refs.txt")).unwrap();
    let mut want: Vec<String> = b
        .manifests()
        .iter()
        .map(|(_, d)| format!("{}/test/hello@{d}", reg.host))
        .collect();
    want.push(format!("{}/test/hello@{index_digest}", reg.host));
    assert_eq!(refs.lines().collect::<Vec<_>>(), want);

    for tag in [&latest, &v1] {
        let raw = run(
            "skopeo",
            &[
                "inspect",
                "--tls-verify=false",
                "--raw",
                &format!("docker://{tag}"),
            ],
            &work,
        );
        assert_eq!(
            raw.as_bytes(),
            index.as_slice(),
            "{tag}: the index byte for byte"
        );
    }
    // The SBOMs are attached to each image and to the index as OCI referrers; this registry
    // has no referrers API, so the referrers tag `sha256-<hex>` lists them.
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("attached 3 SBOMs as OCI referrers"), "{said}");
    for (arch, digest) in b.manifests() {
        let tag = format!("{}/test/hello:{}", reg.host, digest.replacen(':', "-", 1));
        let raw = run(
            "skopeo",
            &[
                "inspect",
                "--tls-verify=false",
                "--raw",
                &format!("docker://{tag}"),
            ],
            &work,
        );
        let referrers: serde_json::Value = serde_json::from_str(&raw).unwrap();
        let entry = &referrers["manifests"][0];
        assert_eq!(
            entry["artifactType"], "application/spdx+json",
            "{arch}: {raw}"
        );
        let artifact = run(
            "skopeo",
            &[
                "inspect",
                "--tls-verify=false",
                "--raw",
                &format!(
                    "docker://{}/test/hello@{}",
                    reg.host,
                    entry["digest"].as_str().unwrap()
                ),
            ],
            &work,
        );
        let artifact: serde_json::Value = serde_json::from_str(&artifact).unwrap();
        assert_eq!(artifact["subject"]["digest"], digest.as_str(), "{arch}");
        // The attached document is the SBOM of that image, byte for byte.
        let layer = artifact["layers"][0]["digest"].as_str().unwrap();
        let blob = reg.get(&format!("/v2/test/hello/blobs/{layer}"), None);
        let apk_arch = if arch == "amd64" { "x86_64" } else { "aarch64" };
        assert_eq!(
            blob,
            fs_err::read(b.layout().join(format!("sbom-{apk_arch}.spdx.json"))).unwrap(),
            "{arch}"
        );
    }
    // Everything went up once: two images' layers, configs.
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("pushed 4 blobs") && said.contains("0 mounted"),
        "{said}"
    );
    // Again, plus a second repository of the same registry: nothing is uploaded; the blobs
    // are found (HEAD) or mounted from the first repository.
    let other = format!("{}/other/hello:v1", reg.host);
    let o = Command::new(env!("CARGO_BIN_EXE_apko"))
        .args(["publish", cfg.to_str().unwrap(), &latest, &other])
        .current_dir(&work)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("DOCKER_CONFIG", &work)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("pushed 0 blobs (0 bytes); 4 already in the registry, 4 mounted"),
        "{said}"
    );
    let raw = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--raw",
            &format!("docker://{other}"),
        ],
        &work,
    );
    assert_eq!(
        raw.as_bytes(),
        index.as_slice(),
        "the mounted repository serves the index"
    );
    let dest = format!("oci:{}:latest", work.join("pulled").display());
    run(
        "skopeo",
        &[
            "copy",
            "--all",
            "--src-tls-verify=false",
            &format!("docker://{other}"),
            &dest,
        ],
        &work,
    );
    for (arch, digest) in b.manifests() {
        let out = run(
            "skopeo",
            &["inspect", "--override-arch", &arch, &dest],
            &work,
        );
        let inspect: serde_json::Value = serde_json::from_str(&out).unwrap();
        let manifest = json(&b.blob(&digest));
        assert_eq!(
            inspect["Layers"][0], manifest["layers"][0]["digest"],
            "{arch}"
        );
    }
}

/// A layered image (`layering: {strategy: origin}`): umoci applies the layers in order
/// (checking every diffID) and the result runs; skopeo copies it.
#[test]
#[ignore = "needs umoci, skopeo and root (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn layered_image_unpacks_and_runs() {
    require_root("unpacking and running the image");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("consumers-layered");
    fresh_dir(&work);
    fs_err::create_dir(work.join("layout")).unwrap();
    let example = root().join("examples/hello");
    let text = fs_err::read_to_string(example.join("apko.yaml"))
        .unwrap()
        .replace("./keys/", &format!("{}/keys/", example.display()))
        .replace("./repo", &format!("{}/repo", example.display()))
        + "layering:\n  strategy: origin\n  budget: 5\n";
    fs_err::write(work.join("apko.yaml"), text).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_apko"))
        .args([
            "build",
            "apko.yaml",
            "example.test/layered:1",
            "layout",
            "--arch",
            "x86_64",
        ])
        .current_dir(&work)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Name the image for umoci.
    let mut index = json(&work.join("layout/index.json"));
    let digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    index["manifests"][0]["annotations"] =
        serde_json::json!({ "org.opencontainers.image.ref.name": "amd64" });
    fs_err::write(
        work.join("layout/index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let manifest = json(&work.join("layout/blobs/sha256").join(&digest[7..]));
    assert_eq!(
        manifest["layers"].as_array().unwrap().len(),
        3,
        "hello-baselayout, hello, and the top layer"
    );
    run(
        "umoci",
        &["unpack", "--image", "layout:amd64", "bundle"],
        &work,
    );
    let out = run(
        "unshare",
        &[
            "--mount",
            "--pid",
            "--fork",
            "chroot",
            work.join("bundle/rootfs").to_str().unwrap(),
            "/usr/bin/hello",
        ],
        &work,
    );
    assert_eq!(out, "Hello from an image built by apko-rs!\n");
    let installed =
        fs_err::read_to_string(work.join("bundle/rootfs/usr/lib/apk/db/installed")).unwrap();
    assert!(
        installed.contains("P:hello\n") && installed.contains("P:hello-baselayout\n"),
        "the top layer's complete database wins: {installed}"
    );
    run(
        "skopeo",
        &["copy", "oci:layout:amd64", "oci:copied:amd64"],
        &work,
    );
}
