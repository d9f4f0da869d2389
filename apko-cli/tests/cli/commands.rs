//! `show-packages`, `dot`, `clean`, `login` and `--vcs` against the example repository (made
//! by our own APK writer) and hand-made checkouts and docker configurations.

use super::{apko, root, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn show_packages_formats_templates_and_architectures() {
    let cfg = "examples/hello/apko.yaml";
    // Two architectures: the configuration's order, separators on stderr only.
    let o = apko(
        &["show-packages", cfg, "--format", "name-version-source"],
        &root(),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "hello-baselayout 1.0.0-r0 ./repo/x86_64/hello-baselayout-1.0.0-r0.apk\n\
         hello 1.0.0-r0 ./repo/x86_64/hello-1.0.0-r0.apk\n\
         hello-baselayout 1.0.0-r0 ./repo/aarch64/hello-baselayout-1.0.0-r0.apk\n\
         hello 1.0.0-r0 ./repo/aarch64/hello-1.0.0-r0.apk\n"
    );
    let e = stderr(&o);
    let (amd, arm) = (
        e.find("packages for amd64\n").expect(&e),
        e.find("packages for arm64\n").expect(&e),
    );
    assert!(amd < arm, "{e}");
    assert!(
        e.contains("Determining packages for 2 architectures: [amd64 arm64]\n"),
        "{e}"
    );
    // `--arch` is sorted as apko sorts it; `--log-level warn` hides the messages.
    let o = apko(
        &[
            "show-packages",
            cfg,
            "--arch",
            "aarch64,x86_64",
            "--format",
            "{{- .Name -}} = {{- .Version}}",
            "--log-level",
            "warn",
        ],
        &root(),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "hello-baselayout=1.0.0-r0\nhello=1.0.0-r0\nhello-baselayout=1.0.0-r0\nhello=1.0.0-r0\n"
    );
    assert_eq!(stderr(&o), "");
    for (format, want) in [
        ("{{ .Foo }}", "can't evaluate field Foo in type cli.pkgInfo"),
        (
            "{{ .Name",
            "failed to parse format: template: format:1: unclosed action",
        ),
        (
            "{{ .Name | printf }}",
            "failed to parse format: template: format:1:3: unsupported action",
        ),
    ] {
        let o = apko(&["show-packages", cfg, "--format", format], &root(), &[]);
        assert_eq!(o.status.code(), Some(1), "{format}");
        assert!(stderr(&o).contains(want), "{format}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn dot_prints_the_dependency_graph() {
    let cfg = "examples/hello/apko.yaml";
    let want = "digraph images {\ngraph [\n  rankdir=LR;\n];\n\"examples/hello/apko.yaml\";\n\
        hello [label=\"hello-1.0.0-r0\", tooltip=\"Prints a greeting\"];\n\
        \"examples/hello/apko.yaml\" -> hello\n\
        \"hello-baselayout\" [label=\"hello-baselayout-1.0.0-r0\", tooltip=\"Directory layout of the hello example\"];\n\
        hello -> \"hello-baselayout\"\n}\n\n";
    for args in [&["dot", cfg][..], &["dot", cfg, "-S", "--arch", "aarch64"]] {
        let o = apko(args, &root(), &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(stdout(&o), want, "{args:?}");
    }
    // A resolution that fails is drawn, and the command succeeds as apko's does.
    let o = apko(&["dot", cfg, "-p", "nosuch"], &root(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("\"examples/hello/apko.yaml\" -> nosuch\n"),
        "{out}"
    );
    assert!(
        out.contains("\"❌ error\" -> \"❌ cannot resolve the packages for x86_64\"\n"),
        "{out}"
    );
    assert!(
        stderr(&o).contains("failed to get package list for image"),
        "{}",
        stderr(&o)
    );
    let o = apko(&["dot", cfg, "--web"], &root(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--web"), "{}", stderr(&o));
}

#[test]
fn clean_reports_and_removes_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    fs_err::create_dir_all(cache.join("x/y")).unwrap();
    fs_err::write(cache.join("x/y/a"), vec![0u8; 1536]).unwrap();
    let o = apko(
        &["clean", "--cache-dir", "cache", "--dry-run"],
        dir.path(),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "Cleaning cache directory: {}\nCache size: 1.5 KB\nDry run mode: cache directory will not be deleted\n",
            cache.display()
        )
    );
    assert!(cache.join("x/y/a").exists());
    let o = apko(&["clean", "--cache-dir", "cache"], dir.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).ends_with("Cache size: 1.5 KB\nCache directory cleaned successfully\n"));
    assert!(!cache.exists());
    assert!(o.stdout.is_empty());
    // The default directory is apko's; a missing one is nothing to clean.
    let xdg = dir.path().join("xdg");
    let o = apko(
        &["clean"],
        dir.path(),
        &[("XDG_CACHE_HOME", xdg.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!(
            "Cleaning cache directory: {}/dev.chainguard.go-apk\nCache directory does not exist, nothing to clean\n",
            xdg.display()
        )
    );
    fs_err::write(dir.path().join("file"), "").unwrap();
    let o = apko(&["clean", "--cache-dir", "file"], dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cache path is not a directory"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn login_stores_credentials_as_crane_does() {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let docker = dir.path().join("docker");
    let env = [("DOCKER_CONFIG", docker.to_str().unwrap())];
    let file = docker.join("config.json");
    let o = apko(
        &["login", "reg.example.com", "-u", "user", "-p", "pass"],
        dir.path(),
        &env,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        fs_err::read_to_string(&file).unwrap(),
        "{\n\t\"auths\": {\n\t\t\"reg.example.com\": {\n\t\t\t\"auth\": \"dXNlcjpwYXNz\"\n\t\t}\n\t}\n}"
    );
    assert_eq!(
        fs_err::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        stderr(&o),
        format!(
            "\nWARNING! Your credentials are stored unencrypted in '{0}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\nlogged in via {0}\n",
            file.display()
        )
    );
    // Docker Hub, the password from stdin (one trailing newline removed), other entries and
    // fields kept.
    let text = fs_err::read_to_string(&file).unwrap();
    fs_err::write(
        &file,
        text.replacen('{', "{\"psFormat\": \"table\", \"unknown\": 1,", 1),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apko"))
        .args(["login", "docker.io", "-u", "me", "--password-stdin"])
        .env("DOCKER_CONFIG", &docker)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        v["auths"]["https://index.docker.io/v1/"]["auth"],
        "bWU6czNjcmV0"
    );
    assert_eq!(v["auths"]["reg.example.com"]["auth"], "dXNlcjpwYXNz");
    assert_eq!(v["psFormat"], "table");
    assert!(v.get("unknown").is_none());
    // Refused: a bad registry name, a missing password, a credential helper.
    for (args, want) in [
        (
            &["login", "https://reg.example.com", "-u", "u", "-p", "p"][..],
            "registries must be valid RFC 3986 URI authorities: https://reg.example.com",
        ),
        (
            &["login", "reg.example.com", "-u", "u"],
            "username and password required",
        ),
    ] {
        let o = apko(args, dir.path(), &env);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(want), "{}", stderr(&o));
    }
    fs_err::write(&file, "{\"credsStore\": \"desktop\"}").unwrap();
    let o = apko(
        &["login", "reg.example.com", "-u", "u", "-p", "p"],
        dir.path(),
        &env,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("docker-credential-desktop"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs_err::read_to_string(&file).unwrap(),
        "{\"credsStore\": \"desktop\"}"
    );
}

/// A checkout made by hand: `HEAD` on `main` (a packed reference), the commit stored loose,
/// `origin` in scp form.
fn fake_checkout(dir: &Path, sha: &str) {
    let git = dir.join(".git");
    fs_err::create_dir_all(git.join("refs/heads")).unwrap();
    fs_err::create_dir_all(git.join("objects").join(&sha[..2])).unwrap();
    fs_err::write(git.join("objects").join(&sha[..2]).join(&sha[2..]), "x").unwrap();
    fs_err::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    fs_err::write(
        git.join("packed-refs"),
        format!("# pack-refs with: peeled\n{sha} refs/heads/main\n"),
    )
    .unwrap();
    fs_err::write(
        git.join("config"),
        "[core]\n\trepositoryformatversion = 0\n[remote \"origin\"]\n\turl = git@github.com:example/images.git\n",
    )
    .unwrap();
}

/// The annotations of the index, of the first manifest, and the labels of its config.
fn layout_annotations(layout: &Path) -> [serde_json::Value; 3] {
    let read = |p: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&fs_err::read(p).unwrap()).unwrap()
    };
    let blob = |d: &serde_json::Value| {
        layout
            .join("blobs/sha256")
            .join(d.as_str().unwrap().trim_start_matches("sha256:"))
    };
    let index = read(layout.join("index.json"));
    let manifest = read(blob(&index["manifests"][0]["digest"]));
    let config = read(blob(&manifest["config"]["digest"]));
    [
        index["annotations"].clone(),
        manifest["annotations"].clone(),
        config["config"]["Labels"].clone(),
    ]
}

#[test]
fn vcs_information_comes_from_the_checkout() {
    let sha = "89abcdef0123456789abcdef0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    fake_checkout(dir.path(), sha);
    let example = root().join("examples/hello");
    let text = fs_err::read_to_string(example.join("apko.yaml"))
        .unwrap()
        .replace("./keys/", &format!("{}/keys/", example.display()))
        .replace("./repo", &format!("{}/repo", example.display()));
    fs_err::create_dir_all(dir.path().join("images")).unwrap();
    fs_err::write(dir.path().join("images/apko.yaml"), &text).unwrap();
    let build = |extra: &[&str], out: &str| {
        let layout = dir.path().join(out);
        fs_err::create_dir(&layout).unwrap();
        let mut args = vec![
            "build",
            "images/apko.yaml",
            "t:1",
            out,
            "--arch",
            "x86_64",
            "--sbom=false",
        ];
        args.extend(extra);
        let o = apko(&args, dir.path(), &[("SOURCE_DATE_EPOCH", "0")]);
        assert!(o.status.success(), "{}", stderr(&o));
        layout_annotations(&layout)
    };
    for a in build(&[], "with") {
        assert_eq!(
            a["org.opencontainers.image.source"], "git+ssh://github.com/example/images.git",
            "{a}"
        );
        assert_eq!(a["org.opencontainers.image.revision"], sha, "{a}");
    }
    for a in build(&["--vcs=false"], "without") {
        assert!(a.get("org.opencontainers.image.source").is_none(), "{a}");
        assert!(a.get("org.opencontainers.image.revision").is_none(), "{a}");
    }
    // A `vcs-url` in the configuration wins over the checkout.
    fs_err::write(
        dir.path().join("images/apko.yaml"),
        format!(
            "{text}vcs-url: https://example.com/other@0000000000000000000000000000000000000001\n"
        ),
    )
    .unwrap();
    for a in build(&[], "configured") {
        assert_eq!(
            a["org.opencontainers.image.source"], "https://example.com/other",
            "{a}"
        );
    }
}
