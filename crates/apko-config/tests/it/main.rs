//! apko-config against hand-written configurations and every example of the repository.
#![allow(clippy::disallowed_methods)]

use apko_config::{Arch, ConfigError, PathType, load, load_str};
use std::path::{Path, PathBuf};

fn err(text: &str) -> ConfigError {
    load_str(text, "apko.yaml", &[]).unwrap_err()
}

#[test]
fn every_field_parses() {
    let text = r#"
contents:
  build_repositories: [./build-only/]
  runtime_repositories: [https://runtime.example/repo]
  repositories: ["@edge https://dl.example/edge/main", ./local]
  keyring: [./key.rsa.pub]
  runtime_keyring:
    - name: runtime.rsa.pub
      content: "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----\n"
  packages: [busybox, "musl>=1.2", "foo@edge"]
entrypoint:
  command: /bin/sh -l
cmd: -c "echo hi"
stop-signal: SIGTERM
work-dir: /srv
accounts:
  run-as: app
  users: [{username: app, uid: 1000, gid: 1000, shell: /bin/ash, homedir: /srv}]
  groups: [{groupname: app, gid: 1000, members: [app]}]
archs: [x86_64, arm64, armv7]
environment: {LANG: C.UTF-8, PORT: 8080}
paths:
  - {path: /srv, type: directory, uid: 1000, gid: 1000, permissions: 0755, recursive: true}
  - {path: /srv/a, type: empty-file, permissions: 0o644}
  - {path: /srv/b, type: symlink, source: a}
  - {path: /srv/c, type: hardlink, source: /srv/a, permissions: 420}
  - {path: /tmp, type: permissions, permissions: 01777}
vcs-url: https://github.com/example/repo@deadbeef
annotations: {org.opencontainers.image.title: test}
volumes: [/srv]
layering: {strategy: origin, budget: 5}
certificates:
  additional: [{name: corp, content: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n"}]
  providers: [custom-ca-certificates]
format: tar
"#;
    let l = load_str(text, "full.yaml", &[]).unwrap();
    let c = &l.config;
    assert_eq!(c.contents.build_repositories, ["./build-only"]);
    assert_eq!(c.contents.packages.len(), 3);
    assert_eq!(c.archs, [Arch::Amd64, Arch::Arm64, Arch::ArmV7]);
    assert_eq!(c.environment["PORT"], "8080");
    assert_eq!(c.paths[0].permissions, 0o755);
    assert_eq!(c.paths[1].permissions, 0o644);
    assert_eq!(c.paths[3].permissions, 420);
    assert_eq!(c.paths[4].permissions, 0o1777);
    assert_eq!(c.paths[2].kind, PathType::Symlink);
    assert_eq!(c.accounts.users[0].gid, Some(1000));
    assert_eq!(c.layering.as_ref().unwrap().budget, Some(5));
    assert_eq!(l.locate("contents.packages[2]").unwrap().1.line, 10);
}

#[test]
fn errors_name_file_line_column_and_field() {
    let e = err("contents:\n  packages: [a]\n  repositorys: [x]\n");
    assert_eq!(
        e.to_string(),
        "apko.yaml:3:3: `contents.repositorys`: unknown field `repositorys`, expected one of build_repositories, runtime_repositories, repositories, keyring, runtime_keyring, packages, baseimage"
    );
    assert!(e.hint().is_some());
    let e = err("contents:\n  packages: busybox\n");
    assert!(
        e.to_string()
            .starts_with("apko.yaml:2:13: `contents.packages`:"),
        "{e}"
    );
    let e = err("paths:\n  - path: /x\n    type: dir\n");
    assert!(
        e.to_string().contains("apko.yaml:3:") && e.to_string().contains("paths[0].type"),
        "{e}"
    );
    let e = err("archs: [sparc]\n");
    assert!(
        e.to_string().contains("unknown architecture `sparc`"),
        "{e}"
    );
    let e = err("paths:\n  - path: /x\n    type: directory\n    permissions: -1\n");
    assert!(
        e.to_string().contains("apko.yaml:4:18") && e.to_string().contains("paths[0].permissions"),
        "{e}"
    );
    let e = err("environment:\n  A: 1\n  A: 2\n");
    assert!(e.to_string().contains("duplicate"), "{e}");
}

#[test]
fn validation_errors_are_located() {
    let e = err("accounts:\n  users:\n    - username: root2\n      uid: 0\n");
    assert_eq!(
        e.to_string(),
        "apko.yaml:4:12: `accounts.users[0].uid`: user `root2` has uid 0, which is reserved for root"
    );
    assert!(e.hint().unwrap().contains("another uid"));
    let e = err("layering:\n  strategy: size\n");
    assert!(
        e.to_string().contains("layering.strategy") && e.to_string().contains(":2:"),
        "{e}"
    );
    let e = err("paths:\n  - path: /a\n    type: symlink\n");
    assert!(e.to_string().contains("needs a `source`"), "{e}");
    let e = err("contents:\n  runtime_keyring:\n    - name: .bad\n      content: x\n");
    assert!(e.to_string().contains("invalid key name"), "{e}");
    let e = err("contents:\n  baseimage: {image: ./b, apkindex: ./m}\ncmd: x\n");
    assert!(e.to_string().contains("cannot be set together"), "{e}");
}

#[test]
fn include_merges_like_apko() {
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(
        dir.path().join("base.yaml"),
        "contents:\n  repositories: [base-repo]\n  packages: [base-pkg]\nenvironment: {A: base, B: base}\ncmd: base-cmd\nvcs-url: base@1\naccounts:\n  users: [{username: b, uid: 1}]\n",
    )
    .unwrap();
    fs_err::write(
        dir.path().join("top.yaml"),
        "include: base.yaml\ncontents:\n  packages: [top-pkg]\nenvironment: {A: top}\naccounts:\n  users: [{username: t, uid: 2}]\n",
    )
    .unwrap();
    let l = load(&dir.path().join("top.yaml"), &[]).unwrap();
    let c = &l.config;
    assert_eq!(c.contents.packages, ["base-pkg", "top-pkg"]);
    assert_eq!(c.contents.repositories, ["base-repo"]);
    assert_eq!(c.environment["A"], "top");
    assert_eq!(c.environment["B"], "base");
    assert_eq!(c.cmd.as_deref(), Some("base-cmd"));
    assert_eq!(c.vcs_url, None, "vcs-url is not inherited, as in apko");
    assert_eq!(
        c.accounts
            .users
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["b", "t"]
    );
    assert_eq!(l.sources.len(), 2);
    // A problem in the included file is reported against it.
    fs_err::write(
        dir.path().join("bad.yaml"),
        "accounts:\n  users: [{username: z, uid: 0}]\n",
    )
    .unwrap();
    fs_err::write(dir.path().join("inc.yaml"), "include: bad.yaml\n").unwrap();
    let e = load(&dir.path().join("inc.yaml"), &[]).unwrap_err();
    assert!(e.to_string().contains("bad.yaml:2:"), "{e}");
    // Cycles and missing files.
    fs_err::write(dir.path().join("a.yaml"), "include: b.yaml\n").unwrap();
    fs_err::write(dir.path().join("b.yaml"), "include: a.yaml\n").unwrap();
    assert!(matches!(
        load(&dir.path().join("a.yaml"), &[]),
        Err(ConfigError::IncludeCycle { .. })
    ));
    fs_err::write(dir.path().join("m.yaml"), "include: missing.yaml\n").unwrap();
    assert!(
        load(&dir.path().join("m.yaml"), &[])
            .unwrap_err()
            .to_string()
            .contains("missing.yaml")
    );
    // Include paths.
    let other = tempfile::tempdir().unwrap();
    fs_err::write(other.path().join("lib.yaml"), "cmd: from-lib\n").unwrap();
    fs_err::write(dir.path().join("uses-lib.yaml"), "include: lib.yaml\n").unwrap();
    let l = load(
        &dir.path().join("uses-lib.yaml"),
        &[other.path().to_path_buf()],
    )
    .unwrap();
    assert_eq!(l.config.cmd.as_deref(), Some("from-lib"));
}

#[test]
fn unreadable_file_names_the_path() {
    let e = load(Path::new("/nonexistent/apko.yaml"), &[]).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/apko.yaml"), "{e}");
}

#[test]
fn every_example_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = fs_err::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "examples found: {files:?}");
    for f in files {
        load(&f, &[]).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

#[test]
fn json_follows_apko_field_order() {
    let l = load_str("contents:\n  packages: [a]\n  repositories: [r]\nentrypoint: {command: /bin/sh}\narchs: [x86_64]\n", "x", &[]).unwrap();
    let json = serde_json::to_string(&l.config).unwrap();
    assert_eq!(
        json,
        r#"{"contents":{"repositories":["r"],"packages":["a"]},"entrypoint":{"command":"/bin/sh"},"accounts":{},"archs":["amd64"]}"#
    );
}

#[test]
fn include_cycles_through_other_spellings_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs_err::create_dir_all(d.join("sub")).unwrap();
    // a.yaml includes sub/../a.yaml: the same file, spelled differently.
    fs_err::write(
        d.join("a.yaml"),
        format!("include: {}/sub/../a.yaml\n", d.display()),
    )
    .unwrap();
    let e = apko_config::load(&d.join("a.yaml"), &[]).unwrap_err();
    assert!(e.to_string().contains("include cycle"), "{e}");
    // b.yaml includes link.yaml, a symbolic link to b.yaml.
    fs_err::write(
        d.join("b.yaml"),
        format!("include: {}/link.yaml\n", d.display()),
    )
    .unwrap();
    std::os::unix::fs::symlink(d.join("b.yaml"), d.join("link.yaml")).unwrap();
    let e = apko_config::load(&d.join("b.yaml"), &[]).unwrap_err();
    assert!(e.to_string().contains("include cycle"), "{e}");
    // A symbolic link loop cannot be read, and says so (no hang).
    std::os::unix::fs::symlink(d.join("loop2.yaml"), d.join("loop1.yaml")).unwrap();
    std::os::unix::fs::symlink(d.join("loop1.yaml"), d.join("loop2.yaml")).unwrap();
    fs_err::write(
        d.join("c.yaml"),
        format!("include: {}/loop1.yaml\n", d.display()),
    )
    .unwrap();
    assert!(apko_config::load(&d.join("c.yaml"), &[]).is_err());
}

#[test]
fn configuration_reads_are_bounded() {
    let e = apko_config::load(std::path::Path::new("/dev/zero"), &[]).unwrap_err();
    assert!(
        e.to_string().contains("too large for a configuration"),
        "{e}"
    );
}

#[test]
fn account_and_line_fields_are_validated() {
    for (text, want) in [
        (
            "accounts:\n  users:\n    - {username: \"a\\nroot:x:0:0::/:/bin/sh\", uid: 10}\n",
            "accounts.users[0].username",
        ),
        (
            "accounts:\n  users:\n    - {username: a, uid: 10, homedir: \"/h:x\"}\n",
            "accounts.users[0].homedir",
        ),
        (
            "accounts:\n  groups:\n    - {groupname: g, gid: 10}\n    - {groupname: g, gid: 11}\n",
            "defined twice",
        ),
        (
            "accounts:\n  groups:\n    - {groupname: g, gid: 10, members: [\"a,b\"]}\n",
            "members[0]",
        ),
        (
            "contents:\n  runtime_repositories: [\"https://x\\nhttps://evil\"]\n",
            "contents.runtime_repositories[0]",
        ),
        (
            "certificates:\n  additional:\n    - {name: ../../etc/x, content: y}\n",
            "cannot be a file name",
        ),
        (
            "environment:\n  \"A\\u0000B\": x\n",
            "invalid environment variable name",
        ),
    ] {
        let e = err(text);
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
}

#[test]
fn explicit_nulls_are_empty_values() {
    let text = "contents:\n  repositories:\n    - ./repo\n  packages:\n  keyring:\nenvironment:\n  EMPTY:\n  SET: x\naccounts:\n  users:\n  groups:\n    - groupname: nonroot\n      members:\npaths:\narchs:\nannotations:\nentrypoint:\nvolumes:\ncmd:\n";
    let c = load_str(text, "apko.yaml", &[]).unwrap().config;
    assert!(c.contents.packages.is_empty() && c.contents.keyring.is_empty());
    assert_eq!(c.environment["EMPTY"], "");
    assert_eq!(c.environment["SET"], "x");
    assert!(c.accounts.users.is_empty());
    assert_eq!(c.accounts.groups[0].gid, 0, "gid defaults to 0, as in apko");
    assert!(c.accounts.groups[0].members.is_empty());
    assert!(c.paths.is_empty() && c.archs.is_empty() && c.annotations.is_empty());
    assert_eq!(c.entrypoint, apko_config::Entrypoint::default());
    assert!(c.volumes.is_empty() && c.cmd.is_none());
    let c = load_str("contents:\naccounts:\n", "apko.yaml", &[])
        .unwrap()
        .config;
    assert_eq!(c.contents, apko_config::Contents::default());
}

#[test]
fn parse_errors_speak_yaml_and_quote_the_value() {
    for (text, want) in [
        (
            "paths:\n  - path: /a\n    type: directory\n    permissions: 0o999\n",
            "apko.yaml:4:18: `paths[0].permissions`: `0o999` is not a whole number from 0 to 4294967295",
        ),
        (
            "accounts:\n  users:\n    - username: a\n      uid: -1\n",
            "`accounts.users[0].uid`: `-1` is not a whole number",
        ),
        (
            "contents:\n  packages: busybox\n",
            "`contents.packages`: expected a list (`- item` lines or `[a, b]`), found `busybox`",
        ),
        (
            "entrypoint: /bin/sh\n",
            "`entrypoint`: expected a mapping (`key: value` lines), found `/bin/sh`",
        ),
        (
            "accounts:\n  users:\n    - username:\n      uid: 5\n",
            "`accounts.users[0].username`: a value is required here (expected text), found nothing",
        ),
    ] {
        let e = err(text).to_string();
        assert!(e.contains(want), "{text}: {e}");
        assert!(!e.contains("Option<") && !e.contains("u32"), "{e}");
    }
}
