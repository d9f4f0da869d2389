//! The `apko` binary: commands, error rendering, exit codes, and byte-for-byte reproducible
//! output whatever the environment.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

fn apko(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apko"));
    c.args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `show-packages`, `dot`, `clean`, `login` and `--vcs`.
#[path = "cli/commands.rs"]
mod commands;

#[test]
fn version() {
    let o = apko(&["version"], &root(), &[]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(
        text.starts_with("     _      ____    _  __   ___\n"),
        "{text}"
    );
    assert!(
        text.contains(concat!(
            "\napko\n\nGitVersion:    v",
            env!("CARGO_PKG_VERSION"),
            "\n"
        )),
        "{text}"
    );
    assert!(text.contains("\nCompiler:      rustc\n"), "{text}");
    assert!(text.ends_with("\n\n"), "{text}");
    let o = apko(&["version", "--json"], &root(), &[]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["gitVersion"], concat!("v", env!("CARGO_PKG_VERSION")));
    assert_eq!(v["compiler"], "rustc");
    assert!(stdout(&o).starts_with("{\n  \"gitVersion\": "));
}

#[test]
fn log_levels_are_slog_s() {
    for ok in ["debug", "INFO", "Warn", "error", "info+2", "debug-4"] {
        let o = apko(&["--log-level", ok, "version", "--json"], &root(), &[]);
        assert!(o.status.success(), "{ok}: {}", stderr(&o));
    }
    let o = apko(&["version", "--log-level", "foo"], &root(), &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: invalid argument \"foo\" for \"--log-level\" flag: slog: level string \"foo\": unknown name\n"
    );
    assert!(o.stdout.is_empty());
    for bad in ["fatal", "trace", "info+x"] {
        let o = apko(&["--log-level", bad, "version"], &root(), &[]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(stderr(&o).contains("slog: level string"), "{}", stderr(&o));
    }
}

#[test]
fn build_tarball_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = root().join("examples/hello/apko.yaml");
    let tar = dir.path().join("hello.tar");
    let o = apko(
        &[
            "build",
            cfg.to_str().unwrap(),
            "hello:latest",
            tar.to_str().unwrap(),
            "--arch",
            "x86_64",
        ],
        dir.path(),
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(tar.is_file());
    assert!(dir.path().join("sbom-x86_64.spdx.json").is_file());
    assert!(dir.path().join("sbom-index.spdx.json").is_file());
    let layout = dir.path().join("layout");
    fs_err::create_dir(&layout).unwrap();
    let o = apko(
        &[
            "build",
            cfg.to_str().unwrap(),
            "hello:latest",
            layout.to_str().unwrap(),
            "--sbom=false",
        ],
        dir.path(),
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(layout.join("index.json").is_file() && layout.join("oci-layout").is_file());
    assert!(
        !layout.join("sbom-index.spdx.json").exists(),
        "--sbom=false writes no SBOM"
    );
    let index: serde_json::Value =
        serde_json::from_slice(&fs_err::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2);
}

#[test]
fn show_commands() {
    let cfg = root().join("examples/hello/apko.yaml");
    let o = apko(
        &["show-packages", cfg.to_str().unwrap(), "--arch", "x86_64"],
        &root(),
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "hello-baselayout 1.0.0-r0\nhello 1.0.0-r0\n"
    );
    assert!(
        !stderr(&o).lines().any(|l| l.starts_with("packages for")),
        "one architecture, no separator: {}",
        stderr(&o)
    );
    let o = apko(
        &[
            "show-packages",
            cfg.to_str().unwrap(),
            "--arch",
            "x86_64",
            "--format",
            "packagelock",
        ],
        &root(),
        &[],
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "- hello-baselayout=1.0.0-r0\n- hello=1.0.0-r0\n"
    );
    let o = apko(&["show-config", cfg.to_str().unwrap()], &root(), &[]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("command: /usr/bin/hello"));
}

#[test]
fn errors_are_rendered_with_causes_and_hints() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("apko.yaml");
    fs_err::write(&cfg, "contents:\n  repositorys: [x]\n").unwrap();
    let o = apko(
        &["build", cfg.to_str().unwrap(), "t:latest", "out.tar"],
        dir.path(),
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.starts_with(&format!(
            "error: {}:2:3: `contents.repositorys`: unknown field",
            cfg.display()
        )),
        "{e}"
    );
    assert!(e.contains("\nhint: "), "{e}");
    assert!(!dir.path().join("out.tar").exists());

    let hello = root().join("examples/hello/apko.yaml");
    let o = apko(
        &["build", hello.to_str().unwrap(), "t:latest", "out.tar"],
        dir.path(),
        &[("SOURCE_DATE_EPOCH", "yesterday")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("SOURCE_DATE_EPOCH must be a whole number"),
        "{}",
        stderr(&o)
    );

    let o = apko(
        &[
            "build",
            hello.to_str().unwrap(),
            "t:latest",
            "out.tar",
            "-p",
            "nosuch",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("error: cannot resolve the packages")
            && e.contains("Caused by:")
            && e.contains("nosuch (no such package)"),
        "{e}"
    );
    assert!(
        !dir.path().join("out.tar").exists(),
        "a failed build leaves no output"
    );

    let o = apko(
        &[
            "build",
            hello.to_str().unwrap(),
            "t:latest",
            "out.tar",
            "--annotations",
            "NoColon",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let o = apko(&["build"], dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "clap usage errors");
}

/// Two builds in different directories, time zones, umasks, homes, locales and thread counts
/// produce the same bytes.
#[test]
fn output_is_reproducible_across_environments() {
    let cfg = root().join("examples/hello/apko.yaml");
    let mut results = Vec::new();
    for (i, (tz, umask, lang, jobs)) in [
        ("UTC", "022", "C", "1"),
        ("Asia/Tokyo", "077", "de_DE.UTF-8", "4"),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let work = dir.path().join(format!("cwd-{i}"));
        fs_err::create_dir_all(&work).unwrap();
        let layout = work.join("layout");
        fs_err::create_dir(&layout).unwrap();
        let script = format!(
            "umask {umask} && exec {} build {} repro:latest out.tar -j {jobs}",
            env!("CARGO_BIN_EXE_apko"),
            cfg.display()
        );
        let o = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(&work)
            .env("TZ", tz)
            .env("LANG", lang)
            .env("LC_ALL", lang)
            .env("HOME", home.path())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let script = format!(
            "umask {umask} && exec {} build {} repro:latest layout -j {jobs}",
            env!("CARGO_BIN_EXE_apko"),
            cfg.display()
        );
        let o = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .current_dir(&work)
            .env("TZ", tz)
            .env("HOME", home.path())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        // Modes do not depend on the umask either.
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs_err::metadata(p).unwrap().permissions().mode() & 0o777;
            let mut stack = vec![layout.clone()];
            while let Some(d) = stack.pop() {
                for e in fs_err::read_dir(&d).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        assert_eq!(mode(&p), 0o755, "{}", p.display());
                        stack.push(p);
                    } else {
                        assert_eq!(mode(&p), 0o644, "{}", p.display());
                    }
                }
            }
            assert_eq!(mode(&work.join("out.tar")), 0o644);
            assert_eq!(mode(&work.join("sbom-index.spdx.json")), 0o644);
        }
        let mut files = vec![(
            "out.tar".to_owned(),
            fs_err::read(work.join("out.tar")).unwrap(),
        )];
        for f in [
            "sbom-x86_64.spdx.json",
            "sbom-aarch64.spdx.json",
            "sbom-index.spdx.json",
        ] {
            files.push((f.to_owned(), fs_err::read(work.join(f)).unwrap()));
        }
        let mut blobs: Vec<_> = fs_err::read_dir(layout.join("blobs/sha256"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        blobs.sort();
        for b in blobs
            .iter()
            .chain([layout.join("index.json"), layout.join("oci-layout")].iter())
        {
            files.push((
                b.strip_prefix(&work).unwrap().display().to_string(),
                fs_err::read(b).unwrap(),
            ));
        }
        results.push(files);
    }
    assert_eq!(results[0].len(), results[1].len());
    for (a, b) in results[0].iter().zip(&results[1]) {
        assert_eq!(a.0, b.0);
        assert!(a.1 == b.1, "{} differs between environments", a.0);
    }

    // Golden digest: the index (and through it every manifest, config and layer) of the hello
    // example at this SOURCE_DATE_EPOCH. A change here changes the digest every user gets for
    // the same inputs: make it deliberately (output format, deflate backend, installed-db
    // format), say so in the commit, and update the value.
    use sha2::Digest as _;
    let index = &results[0]
        .iter()
        .find(|(name, _)| name.ends_with("layout/index.json"))
        .unwrap()
        .1;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(index)),
        "300e677601fc51926d16b90fa5676eb09727af20b4108e0a97be4ecd1d5a3758",
        "the hello example's index digest changed"
    );
}

#[test]
fn publish_refuses_what_it_cannot_do_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = root().join("examples/hello/apko.yaml");
    let cfg = cfg.to_str().unwrap();
    // No engine on the socket: refused before building, naming the socket and DOCKER_HOST.
    let o = apko(
        &["publish", cfg, "127.0.0.1:9/x:1", "--local"],
        dir.path(),
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("/nonexistent/docker.sock") && e.contains("DOCKER_HOST"),
        "{e}"
    );
    assert!(
        !e.contains("Resolv") && !dir.path().join("sbom-index.spdx.json").exists(),
        "{e}"
    );
    let o = apko(
        &["publish", cfg, "127.0.0.1:9/x:1", "--local"],
        dir.path(),
        &[("DOCKER_HOST", "tcp://127.0.0.1:2375")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unix://"), "{}", stderr(&o));
    let o = apko(&["publish", cfg, "Not A Ref"], dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid image reference"),
        "{}",
        stderr(&o)
    );
    let o = apko(&["publish", cfg], dir.path(), &[]);
    assert_eq!(o.status.code(), Some(2), "a tag is required");
    // A registry that is not there: the error names it, with a hint, after building.
    let o = apko(
        &["publish", cfg, "127.0.0.1:9/x:1"],
        dir.path(),
        &[("DOCKER_CONFIG", dir.path().to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("cannot push to 127.0.0.1:9/x") && e.contains("hint:"),
        "{e}"
    );
}

#[test]
fn lock_then_build_from_the_lockfile() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("apko.yaml");
    // A copy next to the example's repository paths would not resolve; point at them.
    let example = root().join("examples/hello");
    let text = fs_err::read_to_string(example.join("apko.yaml"))
        .unwrap()
        .replace("./keys/", &format!("{}/keys/", example.display()))
        .replace("./repo", &format!("{}/repo", example.display()));
    fs_err::write(&cfg, text).unwrap();
    let o = apko(&["lock", "apko.yaml"], dir.path(), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lock: serde_json::Value =
        serde_json::from_slice(&fs_err::read(dir.path().join("apko.lock.json")).unwrap()).unwrap();
    assert_eq!(lock["config"]["name"], "apko.yaml");
    assert_eq!(lock["contents"]["packages"].as_array().unwrap().len(), 4);
    let o = apko(
        &[
            "build",
            "apko.yaml",
            "t:1",
            "out.tar",
            "--lockfile",
            "apko.lock.json",
        ],
        dir.path(),
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Editing the configuration invalidates the lock.
    fs_err::write(&cfg, fs_err::read_to_string(&cfg).unwrap() + "# edited\n").unwrap();
    let o = apko(
        &[
            "build",
            "apko.yaml",
            "t:1",
            "out2.tar",
            "--lockfile",
            "apko.lock.json",
        ],
        dir.path(),
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("regenerate it with `apko lock`"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("out2.tar").exists());
}

/// `--sbom-formats`: SPDX, CycloneDX or both, side by side, the same bytes at any thread
/// count; an unknown name is refused before anything is built (apko ignores it).
#[test]
fn sbom_formats_choose_the_documents() {
    let cfg = root().join("examples/hello/apko.yaml");
    let build = |formats: &str, jobs: &str| {
        let dir = tempfile::tempdir().unwrap();
        let o = apko(
            &[
                "build",
                cfg.to_str().unwrap(),
                "hello:latest",
                "out.tar",
                "--sbom-formats",
                formats,
                "-j",
                jobs,
            ],
            dir.path(),
            &[("SOURCE_DATE_EPOCH", "1700000000")],
        );
        (dir, o)
    };
    let cdx = [
        "sbom-x86_64.cdx.json",
        "sbom-aarch64.cdx.json",
        "sbom-index.cdx.json",
    ];
    let spdx = [
        "sbom-x86_64.spdx.json",
        "sbom-aarch64.spdx.json",
        "sbom-index.spdx.json",
    ];
    let (both, o) = build("spdx,cyclonedx", "1");
    assert!(o.status.success(), "{}", stderr(&o));
    for f in spdx.iter().chain(&cdx) {
        assert!(both.path().join(f).is_file(), "{f} was not written");
    }
    let (again, o) = build("cyclonedx,spdx", "4");
    assert!(o.status.success(), "{}", stderr(&o));
    for f in spdx.iter().chain(&cdx) {
        assert!(
            fs_err::read(both.path().join(f)).unwrap()
                == fs_err::read(again.path().join(f)).unwrap(),
            "{f} differs between builds"
        );
    }
    let json = |f: &str| -> serde_json::Value {
        serde_json::from_slice(&fs_err::read(both.path().join(f)).unwrap()).unwrap()
    };
    let index = json("sbom-index.cdx.json");
    assert_eq!(index["bomFormat"], "CycloneDX");
    assert_eq!(index["specVersion"], "1.6");
    assert_eq!(index["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
    assert_eq!(index["components"].as_array().unwrap().len(), 2);
    let amd64 = json("sbom-x86_64.cdx.json");
    let image = &amd64["metadata"]["component"];
    assert_eq!(image["type"], "container");
    assert_eq!(image["name"], "hello");
    // The image's own BOM and the index's BOM name the image the same way.
    assert_eq!(image["bom-ref"], index["components"][0]["bom-ref"]);
    assert!(
        amd64["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "hello" && c["type"] == "library"),
        "{amd64}"
    );
    assert_ne!(amd64["serialNumber"], index["serialNumber"]);

    let (only, o) = build("cyclonedx", "1");
    assert!(o.status.success(), "{}", stderr(&o));
    for f in cdx {
        assert!(only.path().join(f).is_file(), "{f} was not written");
    }
    for f in spdx {
        assert!(!only.path().join(f).exists(), "{f} was written");
    }

    let (bad, o) = build("spdx,syft", "1");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: --sbom-formats: unknown SBOM format `syft`: expected `spdx` or `cyclonedx`\n\n\
         hint: name one or both, separated by commas: `--sbom-formats spdx,cyclonedx`\n"
    );
    assert!(!bad.path().join("out.tar").exists());
}
