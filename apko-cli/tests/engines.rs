//! Our output in a real container engine and real archive readers: podman loads and runs the
//! quickstart tarball, `publish --local` loads through podman's Docker-compatible Engine API,
//! `build-cpio` archives read by GNU cpio and bsdtar.
//!
//! They need podman, cpio and bsdtar (scripts/install-test-tools.sh) and root, so they are
//! `#[ignore]`d by default; scripts/test.sh runs them. A missing tool is a failure, never a skip.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{apko, root, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const HELLO: &str = "Hello from an image built by apko-rs!\n";

fn run(program: &str, args: &[&str], dir: &Path) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{program}`: {e}; install the test tools with scripts/install-test-tools.sh"))
}

fn ok(o: &Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {}\n{}", stdout(o), stderr(o));
    stdout(o)
}

/// podman as root on this kind of machine (tools.md): runc (crun needs a host cgroup fix),
/// cgroupfs, explicit ulimits, no network.
// Cleanups untag (`podman rmi NAME`, never `-f`): tests run in parallel and images built from
// the same configuration share one image ID (the gzip and zstd hello images have the same
// config digest), so `rmi -f` in one test removed the image another was about to run.
fn podman_run(image: &str, args: &[&str], dir: &Path) -> Output {
    let mut a = vec![
        "run",
        "--rm",
        "--runtime=runc",
        "--cgroup-manager=cgroupfs",
        "--network=none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        image,
    ];
    a.extend_from_slice(args);
    run("podman", &a, dir)
}

fn hello_config() -> String {
    root()
        .join("examples/hello/apko.yaml")
        .display()
        .to_string()
}

#[test]
#[ignore = "needs podman and root (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn podman_loads_and_runs_the_quickstart_tarball() {
    let dir = tempfile::tempdir().unwrap();
    // The README's quickstart, literally: build, `podman load -i`, `podman run`.
    let o = apko(
        &["build", &hello_config(), "hello:latest", "hello.tar"],
        dir.path(),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let loaded = ok(
        &run("podman", &["load", "-i", "hello.tar"], dir.path()),
        "podman load",
    );
    assert!(loaded.contains("hello:latest-amd64"), "{loaded}");
    let out = ok(
        &podman_run("hello:latest-amd64", &[], dir.path()),
        "podman run",
    );
    assert_eq!(out, HELLO);
    let _ = run(
        "podman",
        &["rmi", "hello:latest-amd64", "hello:latest-arm64"],
        dir.path(),
    );
}

/// `podman system service` on a socket in `dir`, stopped on drop.
struct Service {
    child: Child,
    socket: PathBuf,
}

impl Service {
    fn start(dir: &Path) -> Service {
        let socket = dir.join("podman.sock");
        let child = Command::new("podman")
            .args([
                "system",
                "service",
                "--time=0",
                &format!("unix://{}", socket.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman (scripts/install-test-tools.sh)");
        let start = Instant::now();
        while !socket.exists() {
            assert!(
                start.elapsed() < Duration::from_mins(1),
                "podman's service did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Service { child, socket }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs podman and root (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn publish_local_loads_through_the_engine_api() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(dir.path());
    let host = format!("unix://{}", service.socket.display());
    let o = apko(
        &[
            "publish",
            "--local",
            &hello_config(),
            "example.test/hello:local",
            "example.test/hello:second",
        ],
        dir.path(),
        &[
            ("DOCKER_HOST", &host),
            ("GOARCH", "amd64"),
            ("SOURCE_DATE_EPOCH", "0"),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("example.test/hello:local"),
        "{}",
        stdout(&o)
    );
    for tag in ["example.test/hello:local", "example.test/hello:second"] {
        let out = ok(&podman_run(tag, &[], dir.path()), "podman run");
        assert_eq!(out, HELLO, "{tag}");
    }
    // An architecture the image lacks, and no engine at all, are clear errors.
    let o = apko(
        &[
            "publish",
            "--local",
            &hello_config(),
            "example.test/hello:x",
        ],
        dir.path(),
        &[("DOCKER_HOST", &host), ("GOARCH", "s390x")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("s390x"), "{}", stderr(&o));
    let o = apko(
        &[
            "publish",
            "--local",
            &hello_config(),
            "example.test/hello:x",
        ],
        dir.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/engine.sock")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("DOCKER_HOST"), "{}", stderr(&o));
    let _ = run(
        "podman",
        &[
            "rmi",
            "example.test/hello:local",
            "example.test/hello:second",
        ],
        dir.path(),
    );
}

#[test]
#[ignore = "needs cpio and bsdtar (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn build_cpio_archives_read_with_cpio_and_bsdtar() {
    let dir = tempfile::tempdir().unwrap();
    for out in ["rootfs.cpio", "rootfs.cpio.gz"] {
        let o = apko(
            &["build-cpio", &hello_config(), out, "--build-arch", "x86_64"],
            dir.path(),
            &[("SOURCE_DATE_EPOCH", "0")],
        );
        assert!(o.status.success(), "{out}: {}", stderr(&o));
    }
    let listed = ok(
        &run("bsdtar", &["-tvf", "rootfs.cpio.gz"], dir.path()),
        "bsdtar -t",
    );
    assert!(listed.contains("usr/bin/hello"), "{listed}");
    // GNU cpio extracts it: the program, its mode, the directory tree.
    let x = dir.path().join("x");
    fs_err::create_dir(&x).unwrap();
    let o = Command::new("sh")
        .args(["-c", "cpio -idm --quiet < ../rootfs.cpio"])
        .current_dir(&x)
        .output()
        .unwrap();
    assert!(o.status.success(), "cpio -i: {}", stderr(&o));
    let hello = x.join("usr/bin/hello");
    let meta = fs_err::metadata(&hello).unwrap();
    assert!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0);
    let tar_list = ok(
        &run("cpio", &["-t", "--quiet", "-F", "rootfs.cpio"], dir.path()),
        "cpio -t",
    );
    // Both readers see the same members, which are the layer's paths.
    let o = apko(
        &[
            "build-minirootfs",
            &hello_config(),
            "rootfs.tar",
            "--build-arch",
            "x86_64",
        ],
        dir.path(),
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let from_tar = ok(
        &run("bsdtar", &["-tf", "rootfs.tar"], dir.path()),
        "bsdtar -t tar",
    );
    let norm = |s: &str| {
        let mut v: Vec<String> = s
            .lines()
            .map(|l| l.trim_end_matches('/').to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(norm(&tar_list), norm(&from_tar));
    // Reproducible.
    let first = fs_err::read(dir.path().join("rootfs.cpio")).unwrap();
    let o = apko(
        &[
            "build-cpio",
            &hello_config(),
            "again.cpio",
            "--build-arch",
            "x86_64",
            "-j",
            "1",
        ],
        dir.path(),
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(fs_err::read(dir.path().join("again.cpio")).unwrap(), first);
}

#[test]
#[ignore = "conformance: needs APKO_TESTDATA, podman and root; run by scripts/test.sh"]
fn podman_runs_the_alpine_repo_image() {
    let data = PathBuf::from(std::env::var_os("APKO_TESTDATA").expect("APKO_TESTDATA is set"));
    let repo = data.join("alpine-repo/3.20.3");
    assert!(repo.is_dir(), "{} is missing", repo.display());
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = fs_err::read_dir(repo.join("keys"))
        .unwrap()
        .map(|e| format!("    - {}\n", e.unwrap().path().display()))
        .collect();
    // The packages of the official 3.20.3 minirootfs (alpine-repo/README.md).
    let cfg = format!(
        "contents:\n  keyring:\n{}  repositories:\n    - {}\n  packages:\n    - alpine-baselayout\n    - alpine-keys\n    - apk-tools\n    - busybox\n    - libc-utils\nentrypoint:\n  command: /bin/sh -l\narchs:\n  - x86_64\n",
        keys.concat(),
        repo.display()
    );
    fs_err::write(dir.path().join("apko.yaml"), cfg).unwrap();
    let o = apko(
        &["build", "apko.yaml", "alpine:test", "alpine.tar"],
        dir.path(),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    ok(
        &run("podman", &["load", "-i", "alpine.tar"], dir.path()),
        "podman load",
    );
    let out = ok(
        &podman_run(
            "alpine:test-amd64",
            &["-c", "echo boo; apk info | wc -l"],
            dir.path(),
        ),
        "podman run",
    );
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["boo", "14"],
        "{out}"
    );
    let _ = run("podman", &["rmi", "alpine:test-amd64"], dir.path());
}

#[test]
#[ignore = "needs skopeo, umoci, podman and root (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn an_image_on_a_base_built_by_apko_rs_unpacks_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let example = root().join("examples/hello");
    let (key, repo) = (example.join("keys/hello.rsa.pub"), example.join("repo"));
    // The base: the baselayout only (no program), with the entrypoint the top image runs.
    fs_err::write(
        dir.path().join("base.yaml"),
        format!(
            "contents:\n  keyring: [{}]\n  repositories: [{}]\n  packages: [hello-baselayout]\nentrypoint:\n  command: /usr/bin/hello\narchs: [x86_64]\n",
            key.display(),
            repo.display()
        ),
    )
    .unwrap();
    fs_err::create_dir(dir.path().join("base")).unwrap();
    let o = apko(
        &["build", "base.yaml", "base:latest", "base", "--sbom=false"],
        dir.path(),
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // On top: the program; the base's installed database is read from its layers.
    fs_err::write(
        dir.path().join("top.yaml"),
        format!(
            "contents:\n  baseimage:\n    image: ./base\n  keyring: [{}]\n  repositories: [{}]\n  packages: [hello]\narchs: [x86_64]\n",
            key.display(),
            repo.display()
        ),
    )
    .unwrap();
    let o = apko(
        &["build", "top.yaml", "top:latest", "top.tar", "--sbom=false"],
        dir.path(),
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // umoci unpacks it (checking every diff_id) and the program runs from the merged tree.
    ok(
        &run(
            "skopeo",
            &[
                "copy",
                "docker-archive:top.tar:top:latest-amd64",
                "oci:top-oci:top",
            ],
            dir.path(),
        ),
        "skopeo copy",
    );
    ok(
        &run(
            "umoci",
            &["unpack", "--image", "top-oci:top", "bundle"],
            dir.path(),
        ),
        "umoci unpack",
    );
    let rootfs = dir.path().join("bundle/rootfs");
    let installed = fs_err::read_to_string(rootfs.join("usr/lib/apk/db/installed")).unwrap();
    assert!(
        installed.contains("P:hello-baselayout\n") && installed.contains("P:hello\n"),
        "{installed}"
    );
    let out = ok(
        &run(
            "unshare",
            &[
                "--mount",
                "--pid",
                "--fork",
                "chroot",
                rootfs.to_str().unwrap(),
                "/usr/bin/hello",
            ],
            dir.path(),
        ),
        "chroot",
    );
    assert_eq!(out, HELLO);
    // And in podman, with the base's entrypoint.
    ok(
        &run("podman", &["load", "-i", "top.tar"], dir.path()),
        "podman load",
    );
    let out = ok(
        &podman_run("top:latest-amd64", &[], dir.path()),
        "podman run",
    );
    assert_eq!(out, HELLO);
    let _ = run("podman", &["rmi", "top:latest-amd64"], dir.path());
}

#[test]
#[ignore = "needs skopeo, podman and root (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn zstd_layers_are_accepted_by_skopeo_and_podman() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::create_dir(dir.path().join("layout")).unwrap();
    for (out, archs) in [("hello-zstd.tar", "x86_64,aarch64"), ("layout", "x86_64")] {
        let o = apko(
            &[
                "build",
                &hello_config(),
                "hello-zstd:latest",
                out,
                "--compression",
                "zstd",
                "--sbom=false",
                "--arch",
                archs,
            ],
            dir.path(),
            &[("SOURCE_DATE_EPOCH", "0")],
        );
        assert!(o.status.success(), "{out}: {}", stderr(&o));
    }
    // skopeo reads the layout (one image) and the tarball, checking every blob's digest.
    ok(
        &run("skopeo", &["copy", "oci:layout", "dir:copied"], dir.path()),
        "skopeo copy oci:",
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs_err::read(dir.path().join("copied/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    ok(
        &run(
            "skopeo",
            &[
                "inspect",
                "docker-archive:hello-zstd.tar:hello-zstd:latest-amd64",
            ],
            dir.path(),
        ),
        "skopeo inspect docker-archive:",
    );
    // podman loads and runs it.
    ok(
        &run("podman", &["load", "-i", "hello-zstd.tar"], dir.path()),
        "podman load",
    );
    let out = ok(
        &podman_run("hello-zstd:latest-amd64", &[], dir.path()),
        "podman run",
    );
    assert_eq!(out, HELLO);
    let _ = run(
        "podman",
        &["rmi", "hello-zstd:latest-amd64", "hello-zstd:latest-arm64"],
        dir.path(),
    );
}

#[test]
#[ignore = "needs erofs-utils and root (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn erofs_images_are_checked_by_erofs_utils_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for (out, jobs) in [("layout", "1"), ("again", "4")] {
        fs_err::create_dir(dir.path().join(out)).unwrap();
        let o = apko(
            &[
                "build",
                &hello_config(),
                "hello:erofs",
                out,
                "--format",
                "erofs",
                "--arch",
                "x86_64",
                "--sbom=false",
                "-j",
                jobs,
            ],
            dir.path(),
            &[("SOURCE_DATE_EPOCH", "0")],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        digests.push(common::layout_index_digest(&dir.path().join(out)));
    }
    assert_eq!(digests[0], digests[1], "the same image at any thread count");
    let layout = dir.path().join("layout");
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(layout.join("index.json")).unwrap()).unwrap();
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.strip_prefix("sha256:").unwrap())
    };
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs_err::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.erofs");
    assert_eq!(
        index["manifests"][0]["platform"]["os.features"],
        serde_json::json!(["erofs"])
    );
    let image = blob(manifest["layers"][0]["digest"].as_str().unwrap());
    // fsck.erofs checks the image and extracts it; the program runs from the extracted tree.
    let root = dir.path().join("root");
    ok(
        &run(
            "fsck.erofs",
            &[
                &format!("--extract={}", root.display()),
                image.to_str().unwrap(),
            ],
            dir.path(),
        ),
        "fsck.erofs --extract",
    );
    let out = ok(
        &run(
            "unshare",
            &[
                "--mount",
                "--pid",
                "--fork",
                "chroot",
                root.to_str().unwrap(),
                "/usr/bin/hello",
            ],
            dir.path(),
        ),
        "chroot",
    );
    assert_eq!(out, HELLO);
    // `apko erofs ls` lists it.
    let o = apko(&["erofs", "ls", image.to_str().unwrap()], dir.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("usr/bin/hello"), "{}", stdout(&o));
}
