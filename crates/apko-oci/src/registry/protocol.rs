//! The pure parts of the distribution protocol the client reads from registry answers:
//! `WWW-Authenticate` challenges, token-service answers, error bodies and upload locations.
//! They take text and return values, so they need no network (and are fuzzed: `fuzz/`).

use std::collections::BTreeMap;

/// A `WWW-Authenticate` challenge: its scheme and `key="value"` parameters.
///
/// ```
/// use apko_oci::registry::Challenge;
/// let c = Challenge::parse(r#"Bearer realm="https://auth.example/token",service="reg""#);
/// assert!(c.is_bearer());
/// assert_eq!(c.params["realm"], "https://auth.example/token");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme as written (`Bearer`, `Basic`).
    pub scheme: String,
    /// The parameters, keys in lower case.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// Parses a header value. Anything goes: a malformed parameter ends the list.
    pub fn parse(header: &str) -> Challenge {
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let mut params = BTreeMap::new();
        let mut s = rest;
        while !s.is_empty() {
            let s2 = s.trim_start_matches([',', ' ']);
            let Some((key, after)) = s2.split_once('=') else {
                break;
            };
            let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
                quoted.split_once('"').unwrap_or((quoted, ""))
            } else {
                after.split_once(',').unwrap_or((after, ""))
            };
            params.insert(key.trim().to_ascii_lowercase(), value.to_owned());
            s = next;
        }
        Challenge {
            scheme: scheme.to_owned(),
            params,
        }
    }

    /// Whether the registry wants a bearer token (scheme `Bearer`, in any case).
    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
}

/// The token in a token service's JSON answer (`token`, or OAuth2's `access_token`).
pub fn token_of(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["token"]
        .as_str()
        .or_else(|| v["access_token"].as_str())
        .map(str::to_owned)
}

/// The longest error detail taken from a body that is not the registry's JSON, in characters.
const MAX_PLAIN_DETAIL: usize = 200;

/// A readable summary of an error body: `CODE: message; …` from the registry's
/// `{"errors":[…]}` JSON, or the first 200 characters of anything else.
pub fn error_detail(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => v["errors"]
            .as_array()
            .map(|errs| {
                errs.iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e["code"].as_str().unwrap_or("ERROR"),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default(),
        Err(_) => body.chars().take(MAX_PLAIN_DETAIL).collect(),
    }
}

/// An upload `Location` resolved against the URL of the request that returned it
/// (RFC 3986): absolute, host-relative (`/v2/…`) or relative to the request's directory.
///
/// ```
/// use apko_oci::registry::resolve_location;
/// let post = "http://reg:5000/v2/a/b/blobs/uploads/";
/// assert_eq!(resolve_location(post, "/v2/a/b/blobs/uploads/u1"), "http://reg:5000/v2/a/b/blobs/uploads/u1");
/// assert_eq!(resolve_location(post, "u1?s=2"), "http://reg:5000/v2/a/b/blobs/uploads/u1?s=2");
/// ```
pub fn resolve_location(request: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_owned();
    }
    // Scheme, host and path end at the query: a `/` after a `?` is not a path separator.
    let path = request.split('?').next().unwrap_or(request);
    let scheme_end = path.find("://").map_or(0, |i| i + 3);
    let host_end = path[scheme_end..]
        .find('/')
        .map_or(path.len(), |i| scheme_end + i);
    if location.starts_with('/') {
        return format!("{}{location}", &path[..host_end]);
    }
    let dir_end = path.rfind('/').map_or(path.len(), |i| i + 1).max(host_end);
    let dir = &path[..dir_end];
    if dir.ends_with('/') {
        format!("{dir}{location}")
    } else {
        format!("{dir}/{location}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_query_is_not_a_path() {
        // Found by fuzzing: a `/` in the query of a URL without a path sliced out of bounds.
        let get = "https://reg?x=/y/z";
        assert_eq!(resolve_location(get, "u1"), "https://reg/u1");
        assert_eq!(resolve_location(get, "/v2/u1"), "https://reg/v2/u1");
        assert_eq!(
            resolve_location("http://reg:5000/v2/a/uploads/?s=/1", "u1?s=2"),
            "http://reg:5000/v2/a/uploads/u1?s=2"
        );
        assert_eq!(
            resolve_location("Basic lmc lm=\"Reg/", "x"),
            "Basic lmc lm=\"Reg/x"
        );
    }

    #[test]
    fn challenges_parse() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert!(c.is_bearer());
        assert_eq!(c.params["realm"], "https://auth.example/token");
        assert_eq!(c.params["service"], "registry.example");
        assert_eq!(c.params["scope"], "repository:a/b:pull");
        let basic = Challenge::parse(r#"Basic realm="x""#);
        assert!(!basic.is_bearer());
        assert_eq!(basic.params["realm"], "x");
        assert!(Challenge::parse("bearer").is_bearer());
        assert!(!Challenge::parse("Bearerx realm=y").is_bearer());
    }

    #[test]
    fn token_answers() {
        assert_eq!(token_of(r#"{"token":"t"}"#).as_deref(), Some("t"));
        assert_eq!(token_of(r#"{"access_token":"a"}"#).as_deref(), Some("a"));
        assert_eq!(token_of(r#"{"token":1}"#), None);
        assert_eq!(token_of("<html>"), None);
    }

    #[test]
    fn registry_errors_are_readable() {
        let d = error_detail(
            r#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:00"}]}"#,
        );
        assert_eq!(d, "MANIFEST_BLOB_UNKNOWN: blob unknown to registry");
        assert_eq!(error_detail(&"x".repeat(500)).len(), MAX_PLAIN_DETAIL);
    }
}
