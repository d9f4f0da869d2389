use super::client::*;
use super::*;

#[test]
fn local_registries_use_http() {
    for r in [
        "localhost",
        "localhost:5000",
        "127.0.0.1:5055",
        "[::1]:5000",
        "reg.local:80",
    ] {
        assert!(is_local_registry(r), "{r}");
    }
    for r in [
        "ghcr.io",
        "index.docker.io",
        "10.0.0.1:5000",
        "localhost.example.com",
    ] {
        assert!(!is_local_registry(r), "{r}");
    }
}

#[test]
fn upload_locations_resolve() {
    let post = "http://reg:5000/v2/a/b/blobs/uploads/";
    assert_eq!(
        resolve_location(post, "https://s3/x?y=1"),
        "https://s3/x?y=1"
    );
    assert_eq!(
        resolve_location(post, "/v2/a/b/blobs/uploads/u1?s=2"),
        "http://reg:5000/v2/a/b/blobs/uploads/u1?s=2"
    );
    assert_eq!(
        resolve_location(post, "u1?s=2"),
        "http://reg:5000/v2/a/b/blobs/uploads/u1?s=2"
    );
}

#[test]
fn challenges_parse() {
    let p = auth_params(
        r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
    );
    assert_eq!(p["realm"], "https://auth.example/token");
    assert_eq!(p["service"], "registry.example");
    assert_eq!(p["scope"], "repository:a/b:pull");
    assert_eq!(auth_params(r#"Basic realm="x""#)["realm"], "x");
}

#[test]
fn registry_errors_are_readable() {
    let d = detail_of(
        r#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:00"}]}"#,
    );
    assert_eq!(d, "MANIFEST_BLOB_UNKNOWN: blob unknown to registry");
    let c = Credentials {
        username: "u".into(),
        password: "secret".into(),
    };
    assert!(!format!("{c:?}").contains("secret"));
}
