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
fn credentials_debug_hides_the_password() {
    let c = Credentials {
        username: "u".into(),
        password: "secret".into(),
    };
    assert!(!format!("{c:?}").contains("secret"));
}
