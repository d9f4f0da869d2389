//! Pushing images to a registry with the OCI distribution protocol: blobs by monolithic
//! upload (skipped when the registry has them), manifests and indexes by digest and by tag,
//! anonymous, basic or bearer-token authentication, retries on transient failures.
//!
//! The bytes pushed are exactly the bytes written to layouts and tarballs, so the digests a
//! registry reports are the ones the build computed (checked on every manifest).

use crate::digest::Digest;
use crate::layout::{Blob, ImageBlobs};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

/// A user name and a password or token for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"xxxxx")
            .finish()
    }
}

/// Where the client finds credentials for a registry host (`ghcr.io`, `localhost:5000`).
pub trait CredentialSource: Send + Sync {
    /// The credentials for `registry`, if any.
    fn credentials(&self, registry: &str) -> Option<Credentials>;
}

/// Credentials given up front, by registry host.
#[derive(Debug, Clone, Default)]
pub struct StaticCredentials(pub BTreeMap<String, Credentials>);

impl CredentialSource for StaticCredentials {
    fn credentials(&self, registry: &str) -> Option<Credentials> {
        self.0.get(registry).cloned()
    }
}

/// A registry operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry could not be reached.
    #[error("cannot reach {url}")]
    Connect {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: Box<ureq::Error>,
    },
    /// The registry answered with an error.
    #[error("{method} {url}: {status}{}", if detail.is_empty() { String::new() } else { format!(" ({detail})") })]
    Status {
        /// HTTP method.
        method: &'static str,
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The registry's error codes and messages.
        detail: String,
    },
    /// Authentication was refused or impossible.
    #[error("{registry}: {reason}")]
    Auth {
        /// The registry.
        registry: String,
        /// Why.
        reason: String,
    },
    /// The registry computed another digest for what we sent.
    #[error("{url}: the registry says the digest is {got}, the content's is {expected}")]
    DigestMismatch {
        /// The URL.
        url: String,
        /// Our digest.
        expected: String,
        /// The registry's.
        got: String,
    },
    /// A local blob could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl RegistryError {
    /// A hint for the user, when there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            RegistryError::Status { status: 401, .. } | RegistryError::Auth { .. } => Some(
                "log in with `docker login <registry>` (apko-rs reads ~/.docker/config.json and credential helpers)",
            ),
            RegistryError::Status { status: 403, .. } => {
                Some("the credentials are valid but may not push to this repository")
            }
            RegistryError::Connect { .. } => {
                Some("check the registry host and port; registries on localhost use plain http")
            }
            _ => None,
        }
    }
}

/// The repository part of a reference: `registry/repository`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Repository {
    /// Registry host (and port).
    pub registry: String,
    /// Repository path.
    pub name: String,
}

impl std::fmt::Display for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

/// How a registry wants to be authenticated (learnt from its `/v2/` challenge).
#[derive(Debug, Clone)]
enum Scheme {
    Anonymous,
    Basic,
    Bearer { realm: String, service: String },
}

/// A client for pushing to registries.
pub struct RegistryClient {
    agent: ureq::Agent,
    credentials: Box<dyn CredentialSource>,
    schemes: Mutex<BTreeMap<String, Scheme>>,
    tokens: Mutex<BTreeMap<(String, String), String>>,
    insecure: Vec<String>,
    attempts: u32,
    backoff: Duration,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

/// Whether `registry` is spoken to over plain http, as go-containerregistry decides: the
/// local host and `.local`/`.localhost` names.
pub fn is_local_registry(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.rsplit_once(':').map_or(registry, |(h, _)| h)
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
        || host.ends_with(".localhost")
        || host.ends_with(".local")
}

fn detail_of(body: &str) -> String {
    // {"errors":[{"code":"...","message":"...","detail":...}]}
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
        Err(_) => body.chars().take(200).collect(),
    }
}

/// `key="value"` pairs of a `WWW-Authenticate` header after its scheme.
fn auth_params(header: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let rest = header.split_once(' ').map_or("", |(_, r)| r);
    let mut s = rest;
    while !s.is_empty() {
        let s2 = s.trim_start_matches([',', ' ']);
        let Some((key, after)) = s2.split_once('=') else {
            break;
        };
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v, n),
                None => (quoted, ""),
            }
        } else {
            match after.split_once(',') {
                Some((v, n)) => (v, n),
                None => (after, ""),
            }
        };
        out.insert(key.trim().to_ascii_lowercase(), value.to_owned());
        s = next;
    }
    out
}

/// A body to send: bytes or a file.
enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a std::path::Path),
}

impl RegistryClient {
    /// A client identifying itself as `user_agent`, with no credentials.
    pub fn new(user_agent: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(user_agent)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_mins(5)))
            .max_redirects(10)
            .build();
        RegistryClient {
            agent: config.into(),
            credentials: Box::new(StaticCredentials::default()),
            schemes: Mutex::new(BTreeMap::new()),
            tokens: Mutex::new(BTreeMap::new()),
            insecure: Vec::new(),
            attempts: 3,
            backoff: Duration::from_millis(500),
        }
    }

    /// Uses `source` for credentials.
    pub fn with_credentials(mut self, source: impl CredentialSource + 'static) -> Self {
        self.credentials = Box::new(source);
        self
    }

    /// Speaks plain http to these registries too (besides the local ones).
    pub fn with_insecure(mut self, registries: &[String]) -> Self {
        self.insecure = registries.to_vec();
        self
    }

    /// Retries transient failures (connection errors, 429, 5xx) `attempts` times in all.
    pub fn with_retries(mut self, attempts: u32, backoff: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.backoff = backoff;
        self
    }

    fn base(&self, registry: &str) -> String {
        let scheme = if is_local_registry(registry) || self.insecure.iter().any(|r| r == registry) {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{registry}")
    }

    fn scheme(&self, registry: &str) -> Result<Scheme, RegistryError> {
        if let Some(s) = self.schemes.lock().expect("lock").get(registry) {
            return Ok(s.clone());
        }
        let url = format!("{}/v2/", self.base(registry));
        let resp = self.retry(|| self.agent.get(&url).call(), &url)?;
        let scheme = match resp.status().as_u16() {
            200..=299 => Scheme::Anonymous,
            401 => {
                let header = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let params = auth_params(&header);
                if header.to_ascii_lowercase().starts_with("bearer") {
                    Scheme::Bearer {
                        realm: params
                            .get("realm")
                            .cloned()
                            .ok_or_else(|| RegistryError::Auth {
                                registry: registry.to_owned(),
                                reason: format!("bearer challenge without a realm: `{header}`"),
                            })?,
                        service: params.get("service").cloned().unwrap_or_default(),
                    }
                } else {
                    Scheme::Basic
                }
            }
            status => {
                return Err(RegistryError::Status {
                    method: "GET",
                    url,
                    status,
                    detail: String::new(),
                });
            }
        };
        self.schemes
            .lock()
            .expect("lock")
            .insert(registry.to_owned(), scheme.clone());
        Ok(scheme)
    }

    fn basic(creds: &Credentials) -> String {
        let raw = format!("{}:{}", creds.username, creds.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// The `Authorization` header for pushing to `repo` (`None`: anonymous).
    fn authorization(
        &self,
        repo: &Repository,
        fresh: bool,
    ) -> Result<Option<String>, RegistryError> {
        let creds = self.credentials.credentials(&repo.registry);
        match self.scheme(&repo.registry)? {
            Scheme::Anonymous => Ok(None),
            Scheme::Basic => match creds {
                Some(c) => Ok(Some(Self::basic(&c))),
                None => Err(RegistryError::Auth {
                    registry: repo.registry.clone(),
                    reason: "the registry wants a user name and password and none is configured"
                        .to_owned(),
                }),
            },
            Scheme::Bearer { realm, service } => {
                let key = (repo.registry.clone(), repo.name.clone());
                if !fresh && let Some(t) = self.tokens.lock().expect("lock").get(&key) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let scope = format!("repository:{}:push,pull", repo.name);
                let mut resp = self.retry(
                    || {
                        let mut req = self.agent.get(&realm).query("scope", &scope);
                        if !service.is_empty() {
                            req = req.query("service", &service);
                        }
                        if let Some(c) = &creds {
                            req = req.header("Authorization", Self::basic(c));
                        }
                        req.call()
                    },
                    &realm,
                )?;
                let status = resp.status().as_u16();
                let body = resp.body_mut().read_to_string().unwrap_or_default();
                if !(200..300).contains(&status) {
                    return Err(RegistryError::Auth {
                        registry: repo.registry.clone(),
                        reason: format!(
                            "the token service {realm} answered {status}{}",
                            if creds.is_none() {
                                " (no credentials are configured for this registry)"
                            } else {
                                ""
                            }
                        ),
                    });
                }
                let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let token = v["token"]
                    .as_str()
                    .or_else(|| v["access_token"].as_str())
                    .ok_or_else(|| RegistryError::Auth {
                        registry: repo.registry.clone(),
                        reason: format!("the token service {realm} returned no token"),
                    })?
                    .to_owned();
                self.tokens.lock().expect("lock").insert(key, token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Runs `call` until it succeeds or fails for good: connection errors and 429/5xx
    /// answers are retried with a growing pause.
    fn retry(
        &self,
        mut call: impl FnMut() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        url: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, RegistryError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match call() {
                Ok(resp)
                    if attempt < self.attempts
                        && (resp.status().as_u16() == 429 || resp.status().is_server_error()) => {}
                Ok(resp) => return Ok(resp),
                Err(e) if attempt >= self.attempts => {
                    return Err(RegistryError::Connect {
                        url: url.to_owned(),
                        source: Box::new(e),
                    });
                }
                Err(_) => {}
            }
            std::thread::sleep(self.backoff * attempt);
        }
    }

    /// Sends an authenticated request to `repo`'s registry; a 401 renews a token once.
    fn send(
        &self,
        method: &'static str,
        repo: &Repository,
        url: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
    ) -> Result<ureq::http::Response<ureq::Body>, RegistryError> {
        let mut fresh = false;
        loop {
            let auth = self.authorization(repo, fresh)?;
            let resp = self.retry(
                || {
                    let mut b = ureq::http::Request::builder().method(method).uri(url);
                    for (k, v) in headers {
                        b = b.header(*k, *v);
                    }
                    if let Some(a) = &auth {
                        b = b.header("Authorization", a);
                    }
                    match body {
                        Body::Empty => {
                            let req = b.body(()).map_err(ureq::Error::from)?;
                            self.agent.run(req)
                        }
                        Body::Bytes(data) => {
                            let req = b
                                .header("Content-Length", data.len().to_string())
                                .body(*data)
                                .map_err(ureq::Error::from)?;
                            self.agent.run(req)
                        }
                        Body::File(path) => {
                            let (f, _) = fs_err::File::open(path)?.into_parts();
                            let req = b.body(f).map_err(ureq::Error::from)?;
                            self.agent.run(req)
                        }
                    }
                },
                url,
            )?;
            if resp.status().as_u16() == 401 && !fresh && auth.is_some() {
                fresh = true;
                continue;
            }
            return Ok(resp);
        }
    }

    fn check(
        method: &'static str,
        url: &str,
        mut resp: ureq::http::Response<ureq::Body>,
        ok: &[u16],
    ) -> Result<ureq::http::Response<ureq::Body>, RegistryError> {
        let status = resp.status().as_u16();
        if ok.contains(&status) {
            return Ok(resp);
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Err(RegistryError::Status {
            method,
            url: url.to_owned(),
            status,
            detail: detail_of(&body),
        })
    }

    /// Whether the registry has blob `digest` in `repo`.
    pub fn has_blob(&self, repo: &Repository, digest: &Digest) -> Result<bool, RegistryError> {
        let url = format!(
            "{}/v2/{}/blobs/{digest}",
            self.base(&repo.registry),
            repo.name
        );
        let resp = self.send("HEAD", repo, &url, &[], &Body::Empty)?;
        match resp.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Self::check("HEAD", &url, resp, &[]).map(|_| false),
        }
    }

    /// Uploads a blob (monolithically) unless the registry has it.
    pub fn push_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        blob: &Blob,
    ) -> Result<(), RegistryError> {
        if self.has_blob(repo, digest)? {
            return Ok(());
        }
        let base = self.base(&repo.registry);
        let url = format!("{base}/v2/{}/blobs/uploads/", repo.name);
        let resp = self.send("POST", repo, &url, &[("Content-Length", "0")], &Body::Empty)?;
        let resp = Self::check("POST", &url, resp, &[202])?;
        let location = resp
            .headers()
            .get("location")
            .and_then(|h| h.to_str().ok())
            .ok_or_else(|| RegistryError::Status {
                method: "POST",
                url: url.clone(),
                status: 202,
                detail: "no Location header".to_owned(),
            })?;
        let location = if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else {
            format!("{base}{location}")
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let put_url = format!("{location}{sep}digest={digest}");
        let body = match blob {
            Blob::Bytes(b) => Body::Bytes(b),
            Blob::File(p) => Body::File(p),
        };
        let resp = self.send(
            "PUT",
            repo,
            &put_url,
            &[("Content-Type", "application/octet-stream")],
            &body,
        )?;
        Self::check("PUT", &put_url, resp, &[201, 204]).map(|_| ())
    }

    /// Puts a manifest or index under `reference` (a tag or its digest) and checks the
    /// digest the registry computed.
    pub fn push_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            self.base(&repo.registry),
            repo.name
        );
        let resp = self.send(
            "PUT",
            repo,
            &url,
            &[("Content-Type", media_type)],
            &Body::Bytes(bytes),
        )?;
        let resp = Self::check("PUT", &url, resp, &[200, 201, 202])?;
        let ours = Digest::of(bytes);
        if let Some(theirs) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|h| h.to_str().ok())
            && theirs != ours.to_string()
        {
            return Err(RegistryError::DigestMismatch {
                url,
                expected: ours.to_string(),
                got: theirs.to_owned(),
            });
        }
        Ok(ours)
    }

    /// Reads a manifest or index: its media type and exact bytes.
    pub fn get_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<(String, Vec<u8>), RegistryError> {
        let url = format!(
            "{}/v2/{}/manifests/{reference}",
            self.base(&repo.registry),
            repo.name
        );
        let accept = [
            crate::types::MEDIA_TYPE_INDEX,
            crate::types::MEDIA_TYPE_MANIFEST,
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ]
        .join(", ");
        let resp = self.send("GET", repo, &url, &[("Accept", &accept)], &Body::Empty)?;
        let mut resp = Self::check("GET", &url, resp, &[200])?;
        let media = resp
            .headers()
            .get("content-type")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let mut bytes = Vec::new();
        resp.body_mut()
            .with_config()
            .limit(16 << 20)
            .reader()
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::Read {
                path: url.clone(),
                source: e,
            })?;
        Ok((media, bytes))
    }

    /// Pushes one image (its layers, config and manifest, the manifest by digest) to `repo`.
    pub fn push_image(
        &self,
        repo: &Repository,
        image: &ImageBlobs,
    ) -> Result<Digest, RegistryError> {
        for (d, blob) in &image.layers {
            self.push_blob(repo, &d.digest, blob)?;
        }
        self.push_blob(
            repo,
            &image.config.0.digest,
            &Blob::Bytes(image.config.1.clone()),
        )?;
        self.push_manifest(
            repo,
            &image.manifest.0.digest.to_string(),
            &image.manifest.0.media_type,
            &image.manifest.1,
        )
    }
}

#[cfg(test)]
mod tests {
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
}
