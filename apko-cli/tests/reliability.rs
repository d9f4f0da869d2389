//! The `apko` binary under adverse conditions: signals, absurd flags, dates outside RFC 3339,
//! inputs without end, hostile account fields.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

fn hello() -> String {
    root()
        .join("examples/hello/apko.yaml")
        .display()
        .to_string()
}

/// The hello example's configuration with absolute paths, plus `extra`.
fn hello_with(extra: &str) -> String {
    let dir = root().join("examples/hello");
    let d = dir.display();
    std::fs::read_to_string(dir.join("apko.yaml"))
        .unwrap()
        .replace("./keys/", &format!("{d}/keys/"))
        .replace("- ./repo", &format!("- {d}/repo"))
        + "\n"
        + extra
}

/// A repository server that accepts and answers every request with a body that never ends
/// (one byte every 200 ms, for at most a few minutes).
fn stuck_repository() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut l = String::new();
                    if r.read_line(&mut l).unwrap_or(0) == 0 || l == "\r\n" {
                        break;
                    }
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                for _ in 0..1000 {
                    std::thread::sleep(Duration::from_millis(200));
                    if stream.write_all(b"x").is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn signals_leave_no_work_directory_or_partial_output() {
    for (signal, code) in [("TERM", 143), ("INT", 130)] {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        let out = dir.path().join("out");
        fs_err::create_dir_all(&tmp).unwrap();
        fs_err::create_dir_all(&out).unwrap();
        let cfg = dir.path().join("apko.yaml");
        fs_err::write(
            &cfg,
            format!(
                "contents:\n  repositories: [{}]\n  packages: [busybox]\narchs: [x86_64]\n",
                stuck_repository()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_apko"))
            .args([
                "build",
                cfg.to_str().unwrap(),
                "stuck:latest",
                out.join("image.tar").to_str().unwrap(),
                "--ignore-signatures",
            ])
            .current_dir(dir.path())
            .env("TMPDIR", &tmp)
            .env("SOURCE_DATE_EPOCH", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the build is under way (its work directory exists).
        let started = Instant::now();
        while !entries(&tmp).iter().any(|e| e.starts_with("apko-build-")) {
            assert!(
                started.elapsed() < Duration::from_mins(1),
                "the build never started"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(300));
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{}", stderr(&o));
        assert!(
            entries(&tmp).is_empty(),
            "left in TMPDIR: {:?}",
            entries(&tmp)
        );
        assert!(entries(&out).is_empty(), "left: {:?}", entries(&out));
    }
}

#[test]
fn absurd_job_counts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for j in ["30000", "0"] {
        let o = apko(
            &["build", &hello(), "x:1", "x.tar", "-j", j],
            dir.path(),
            &[],
        );
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("--jobs"), "{}", stderr(&o));
    }
}

#[test]
fn dates_outside_rfc3339_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.tar");
    let out = out.to_str().unwrap();
    for sde in [
        "253402300800",         // 10000-01-01
        "-62167219201",         // before year 0
        "9223372036854775807",  // i64::MAX
        "-9223372036854775808", // i64::MIN
    ] {
        let o = apko(
            &["build", &hello(), "x:1", out, "--arch", "x86_64"],
            dir.path(),
            &[("SOURCE_DATE_EPOCH", sde)],
        );
        assert_eq!(o.status.code(), Some(1), "{sde}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("SOURCE_DATE_EPOCH") && stderr(&o).contains("0000–9999"),
            "{sde}: {}",
            stderr(&o)
        );
    }
    for date in [
        "2024-01-01T00:00:00+99:99",
        "9999-12-31T23:59:60Z",
        "0000-01-01T00:00:00+01:00",
    ] {
        let o = apko(
            &["build", &hello(), "x:1", out, "--build-date", date],
            dir.path(),
            &[],
        );
        assert_eq!(o.status.code(), Some(1), "{date}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--build-date"),
            "{date}: {}",
            stderr(&o)
        );
    }
    assert!(!Path::new(out).exists());
}

#[test]
fn endless_inputs_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let o = apko(&["build", "/dev/zero", "x:1", "x.tar"], dir.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("too large"), "{}", stderr(&o));
    let o = apko(
        &["build", &hello(), "x:1", "x.tar", "--lockfile", "/dev/zero"],
        dir.path(),
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("too large"), "{}", stderr(&o));
}

#[test]
fn account_fields_cannot_forge_lines() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "accounts:\n  users:\n    - username: \"evil\\nroot2:x:0:0::/:/bin/sh\"\n      uid: 1000\n",
            "accounts.users[0].username",
        ),
        (
            "accounts:\n  users:\n    - username: a\n      uid: 1000\n      shell: \"/bin/sh:x\"\n",
            "accounts.users[0].shell",
        ),
        (
            "accounts:\n  users:\n    - {username: a, uid: 1000}\n    - {username: a, uid: 1001}\n",
            "defined twice",
        ),
        (
            "accounts:\n  groups:\n    - {groupname: \"g:0\", gid: 1000}\n",
            "accounts.groups[0].groupname",
        ),
        (
            "environment:\n  \"A\\nB\": x\n",
            "invalid environment variable name",
        ),
    ];
    for (extra, want) in cases {
        let cfg = dir.path().join("apko.yaml");
        fs_err::write(&cfg, hello_with(extra)).unwrap();
        let o = apko(
            &["build", cfg.to_str().unwrap(), "x:1", "x.tar"],
            &root(),
            &[],
        );
        assert_eq!(o.status.code(), Some(1), "{extra}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{extra}: {}", stderr(&o));
    }
}

#[test]
fn run_as_must_name_an_account() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("apko.yaml");
    fs_err::write(&cfg, hello_with("accounts:\n  run-as: nosuchuser\n")).unwrap();
    let tar = dir.path().join("x.tar");
    let o = apko(
        &[
            "build",
            cfg.to_str().unwrap(),
            "x:1",
            tar.to_str().unwrap(),
            "--arch",
            "x86_64",
        ],
        &root(),
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("run-as `nosuchuser`: the image has no user `nosuchuser`"),
        "{}",
        stderr(&o)
    );
    assert!(!tar.exists());
}
