use crate::support::*;
use apko_build::BuildError;

fn repo(dir: &std::path::Path) -> std::path::PathBuf {
    write_repo(
        &dir.join("repo"),
        &["x86_64"],
        &[
            pkg("app", "1").depends("lib>=2"),
            pkg("lib", "1"),
            pkg("a", "1").dir("etc", 0o755).file("etc/x", 0o644, "a"),
            pkg("b", "1").dir("etc", 0o755).file("etc/x", 0o644, "b"),
        ],
    )
}

#[test]
fn unsatisfiable_world_explains_why() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [app]\narchs: [x86_64]\n";
    let err = build(request(dir.path(), cfg, &r)).unwrap_err();
    let text = chain(&err);
    assert!(matches!(err, BuildError::Solve { .. }), "{text}");
    assert!(
        text.contains("lib-1:") && text.contains("breaks: app-1[lib>=2]"),
        "{text}"
    );
    assert!(
        text.contains("world[app] → app-1 [lib>=2] → lib-1"),
        "{text}"
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [nosuch]\narchs: [x86_64]\n";
    let text = chain(&build(request(dir.path(), cfg, &r)).unwrap_err());
    assert!(text.contains("nosuch (no such package)"), "{text}");
}

#[test]
fn untrusted_index_is_refused_unless_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let cfg = "contents:\n  repositories: [@REPO@]\n  packages: [lib]\narchs: [x86_64]\n";
    let err = build(request(dir.path(), cfg, &r)).unwrap_err();
    assert!(matches!(err, BuildError::Index { .. }), "{}", chain(&err));
    assert!(
        err.hint().unwrap().contains("test-key.rsa.pub"),
        "{:?}",
        err.hint()
    );
    let mut req = request(dir.path(), cfg, &r);
    req.ignore_signatures = true;
    build(req).unwrap();
}

#[test]
fn file_conflicts_name_both_packages() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [a, b]\narchs: [x86_64]\n";
    let err = build(request(dir.path(), cfg, &r)).unwrap_err();
    let text = chain(&err);
    assert!(
        text.contains("`a-1`") && text.contains("`b-1`") && text.contains("/etc/x"),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("replaces"));
}

#[test]
fn bad_package_specs_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages:\n    - app\n    - lib=not-a-version\narchs: [x86_64]\n";
    let text = chain(&build(request(dir.path(), cfg, &r)).unwrap_err());
    assert!(
        text.contains("apko.yaml:6:7") && text.contains("contents.packages[1]"),
        "{text}"
    );
}

#[test]
fn missing_repository_and_unsupported_features() {
    let dir = tempfile::tempdir().unwrap();
    let r = repo(dir.path());
    let cfg = "contents:\n  repositories: [https://127.0.0.1:9/nothing]\n  keyring: [@KEY@]\n  packages: [a]\narchs: [x86_64]\n";
    let mut req = request(dir.path(), cfg, &r);
    req.offline = true;
    let err = build(req).unwrap_err();
    assert!(
        err.hint().unwrap().contains("--cache-dir"),
        "{}",
        chain(&err)
    );
    let cfg = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [a]\n  baseimage:\n    image: base.tar\narchs: [x86_64]\n";
    let err = build(request(dir.path(), cfg, &r)).unwrap_err();
    assert!(err.to_string().contains("base image"), "{err}");
}
