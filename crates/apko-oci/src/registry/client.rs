//! [`RegistryClient`]: the distribution protocol over HTTP (ureq).

use super::docker_config::IDENTITY_TOKEN_USER;
use super::protocol::{Challenge, error_detail, resolve_location, token_of};
use super::{
    BlobOutcome, CredentialSource, Credentials, Registry, RegistryError, Repository,
    StaticCredentials,
};
use crate::digest::Digest;
use crate::layout::Blob;
use base64::Engine as _;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

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
    /// Per registry: the base URL that answered (`https://host` or, for local and insecure
    /// registries, possibly `http://host`) and how it authenticates.
    endpoints: Mutex<BTreeMap<String, (String, Scheme)>>,
    /// Credentials, looked up once per registry.
    creds: Mutex<BTreeMap<String, Option<Credentials>>>,
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

/// A body to send: bytes or a file.
enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    File(&'a std::path::Path),
}

impl RegistryClient {
    /// A client identifying itself as `user_agent`, with no credentials; every request has a
    /// deadline of 30 minutes (a blob upload included).
    pub fn new(user_agent: &str) -> Self {
        Self::with_timeout(user_agent, Some(Duration::from_mins(30)))
    }

    /// As [`RegistryClient::new`], with a deadline for each whole request (`None`: none), so
    /// a registry that trickles or never answers fails the push instead of holding it.
    pub fn with_timeout(user_agent: &str, timeout: Option<Duration>) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(user_agent)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_mins(2)))
            .timeout_per_read(Some(Duration::from_mins(5)))
            .timeout_global(timeout)
            .max_redirects(10)
            .build();
        RegistryClient {
            agent: config.into(),
            credentials: Box::new(StaticCredentials::default()),
            endpoints: Mutex::new(BTreeMap::new()),
            creds: Mutex::new(BTreeMap::new()),
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

    /// Whether `registry` may be spoken to over plain http: local hosts, private (RFC 1918)
    /// addresses and `--insecure-registry` ones. https is still tried first, as
    /// go-containerregistry does.
    fn may_use_http(&self, registry: &str) -> bool {
        let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
        let private = host
            .split('.')
            .map(str::parse::<u8>)
            .collect::<Result<Vec<u8>, _>>()
            .is_ok_and(|o| {
                o.len() == 4
                    && (o[0] == 10
                        || (o[0] == 172 && (16..32).contains(&o[1]))
                        || (o[0] == 192 && o[1] == 168))
            });
        super::is_local_registry(registry) || private || self.insecure.iter().any(|r| r == registry)
    }

    /// The registry's base URL and authentication scheme, learnt from its `/v2/` answer.
    fn endpoint(&self, registry: &str) -> Result<(String, Scheme), RegistryError> {
        if let Some(e) = self.endpoints.lock().expect("lock").get(registry) {
            return Ok(e.clone());
        }
        let https = format!("https://{registry}");
        let mut resp = None;
        if self.may_use_http(registry) {
            // One quick https attempt, then plain http.
            if let Ok(r) = self.agent.get(&format!("{https}/v2/")).call() {
                resp = Some((https.clone(), r));
            } else {
                let base = format!("http://{registry}");
                let url = format!("{base}/v2/");
                let r = self.retry(|| self.agent.get(&url).call(), &url)?;
                resp = Some((base, r));
            }
        }
        let (base, resp) = match resp {
            Some(r) => r,
            None => {
                let url = format!("{https}/v2/");
                let r = self.retry(|| self.agent.get(&url).call(), &url)?;
                (https, r)
            }
        };
        let scheme = match resp.status().as_u16() {
            200..=299 => Scheme::Anonymous,
            401 => {
                let header = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                let challenge = Challenge::parse(&header);
                if challenge.is_bearer() {
                    Scheme::Bearer {
                        realm: challenge.params.get("realm").cloned().ok_or_else(|| {
                            RegistryError::Auth {
                                registry: registry.to_owned(),
                                reason: format!("bearer challenge without a realm: `{header}`"),
                            }
                        })?,
                        service: challenge.params.get("service").cloned().unwrap_or_default(),
                    }
                } else {
                    Scheme::Basic
                }
            }
            status => {
                return Err(RegistryError::Status {
                    method: "GET",
                    url: format!("{base}/v2/"),
                    status,
                    detail: String::new(),
                });
            }
        };
        let e = (base, scheme);
        self.endpoints
            .lock()
            .expect("lock")
            .insert(registry.to_owned(), e.clone());
        Ok(e)
    }

    fn base(&self, registry: &str) -> Result<String, RegistryError> {
        Ok(self.endpoint(registry)?.0)
    }

    /// The credentials for `registry` (a credential helper runs at most once).
    fn creds(&self, registry: &str) -> Option<Credentials> {
        let mut cache = self.creds.lock().expect("lock");
        cache
            .entry(registry.to_owned())
            .or_insert_with(|| self.credentials.credentials(registry))
            .clone()
    }

    fn basic(creds: &Credentials) -> String {
        let raw = format!("{}:{}", creds.username, creds.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// The `Authorization` header for a request to `repo`'s registry with the token scopes
    /// `scopes` (`repository:<name>:pull` or `:push,pull`; `None`: anonymous).
    fn authorization(
        &self,
        repo: &Repository,
        scopes: &[String],
        fresh: bool,
    ) -> Result<Option<String>, RegistryError> {
        match self.endpoint(&repo.registry)?.1 {
            Scheme::Anonymous => Ok(None),
            Scheme::Basic => match self.creds(&repo.registry) {
                Some(c) => Ok(Some(Self::basic(&c))),
                None => Err(RegistryError::Auth {
                    registry: repo.registry.clone(),
                    reason: "the registry wants a user name and password and none is configured"
                        .to_owned(),
                }),
            },
            Scheme::Bearer { realm, service } => {
                let key = (repo.registry.clone(), scopes.join(" "));
                if !fresh && let Some(t) = self.tokens.lock().expect("lock").get(&key) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let creds = self.creds(&repo.registry);
                // OAuth2 joins scopes with spaces (the key's); docker's token GET repeats the
                // parameter.
                let scope = key.1.clone();
                let mut resp = self.retry(
                    || match &creds {
                        // An identity (refresh) token: the OAuth2 exchange docker uses.
                        Some(c) if c.username == IDENTITY_TOKEN_USER => {
                            let mut form = vec![
                                ("grant_type", "refresh_token"),
                                ("refresh_token", c.password.as_str()),
                                ("scope", scope.as_str()),
                                ("client_id", "apko-rs"),
                            ];
                            if !service.is_empty() {
                                form.push(("service", service.as_str()));
                            }
                            self.agent.post(&realm).send_form(form)
                        }
                        _ => {
                            let mut req = self.agent.get(&realm);
                            for scope in scopes {
                                req = req.query("scope", scope);
                            }
                            if !service.is_empty() {
                                req = req.query("service", &service);
                            }
                            if let Some(c) = &creds {
                                req = req.header("Authorization", Self::basic(c));
                            }
                            req.call()
                        }
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
                let token = token_of(&body).ok_or_else(|| RegistryError::Auth {
                    registry: repo.registry.clone(),
                    reason: format!("the token service {realm} returned no token"),
                })?;
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

    /// Sends a request to `repo`'s registry, authenticated when `url` is on the registry
    /// itself (never to another host a `Location` may point at); a 401 renews a token once.
    /// `retry`: whether transient failures are retried here. Reads (`GET`, `HEAD`) ask for a
    /// pull token, so that read-only credentials suffice for them.
    fn send(
        &self,
        method: &'static str,
        repo: &Repository,
        url: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
        retry: bool,
    ) -> Result<ureq::http::Response<ureq::Body>, RegistryError> {
        let access = if matches!(method, "GET" | "HEAD") {
            "pull"
        } else {
            "push,pull"
        };
        let scopes = [format!("repository:{}:{access}", repo.name)];
        self.send_scoped(method, repo, url, headers, body, retry, &scopes)
    }

    /// [`RegistryClient::send`] with the token scopes given.
    #[allow(clippy::too_many_arguments)]
    fn send_scoped(
        &self,
        method: &'static str,
        repo: &Repository,
        url: &str,
        headers: &[(&str, &str)],
        body: &Body<'_>,
        retry: bool,
        scopes: &[String],
    ) -> Result<ureq::http::Response<ureq::Body>, RegistryError> {
        if let Body::File(path) = body {
            fs_err::metadata(path).map_err(|e| RegistryError::Read {
                path: path.display().to_string(),
                source: e,
            })?;
        }
        let base = self.base(&repo.registry)?;
        let own = url.starts_with(&format!("{base}/"));
        let mut fresh = false;
        loop {
            let auth = if own {
                self.authorization(repo, scopes, fresh)?
            } else {
                None
            };
            let once = || {
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
            };
            let resp = if retry {
                self.retry(once, url)?
            } else {
                once().map_err(|e| RegistryError::Connect {
                    url: url.to_owned(),
                    source: Box::new(e),
                })?
            };
            if resp.status().as_u16() == 401 && !fresh && auth.is_some() {
                fresh = true;
                continue;
            }
            return Ok(resp);
        }
    }

    /// The body of a manifest or index answer, at most 16 MiB (what registries accept).
    fn small_body(
        url: &str,
        mut resp: ureq::http::Response<ureq::Body>,
    ) -> Result<Vec<u8>, RegistryError> {
        let mut bytes = Vec::new();
        resp.body_mut()
            .with_config()
            .limit(16 << 20)
            .reader()
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::Read {
                path: url.to_owned(),
                source: e,
            })?;
        Ok(bytes)
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
            detail: error_detail(&body),
        })
    }

    /// Whether the registry has blob `digest` in `repo`.
    pub fn has_blob(&self, repo: &Repository, digest: &Digest) -> Result<bool, RegistryError> {
        let url = format!(
            "{}/v2/{}/blobs/{digest}",
            self.base(&repo.registry)?,
            repo.name
        );
        let resp = self.send("HEAD", repo, &url, &[], &Body::Empty, true)?;
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
    ) -> Result<BlobOutcome, RegistryError> {
        if self.has_blob(repo, digest)? {
            return Ok(BlobOutcome::Present);
        }
        self.upload_blob(repo, digest, blob)
    }

    /// Uploads `blob` (whose digest is `digest`) to `repo` without asking first whether the
    /// registry has it: a `POST` for an upload session, then one `PUT` with the bytes.
    pub fn upload_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        blob: &Blob,
    ) -> Result<BlobOutcome, RegistryError> {
        let size = match blob {
            Blob::Bytes(b) => b.len() as u64,
            Blob::File(p) => fs_err::metadata(p).map_or(0, |m| m.len()),
        };
        let base = self.base(&repo.registry)?;
        let url = format!("{base}/v2/{}/blobs/uploads/", repo.name);
        let body = match blob {
            Blob::Bytes(b) => Body::Bytes(b),
            Blob::File(p) => Body::File(p),
        };
        // An upload session may not survive a failure: a retry starts again from the POST.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let resp = self.send(
                "POST",
                repo,
                &url,
                &[("Content-Length", "0")],
                &Body::Empty,
                true,
            )?;
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
            let location = resolve_location(&url, location);
            let sep = if location.contains('?') { '&' } else { '?' };
            let put_url = format!("{location}{sep}digest={digest}");
            let outcome = self.send(
                "PUT",
                repo,
                &put_url,
                &[("Content-Type", "application/octet-stream")],
                &body,
                false,
            );
            let transient = match &outcome {
                Err(RegistryError::Connect { .. }) => true,
                Ok(r) => r.status().as_u16() == 429 || r.status().is_server_error(),
                Err(_) => false,
            };
            if transient && attempt < self.attempts {
                std::thread::sleep(self.backoff * attempt);
                continue;
            }
            let resp = Self::check("PUT", &put_url, outcome?, &[201, 204])?;
            Self::check_digest(&put_url, &resp, digest)?;
            return Ok(BlobOutcome::Uploaded(size));
        }
    }

    /// Mounts `digest` into `repo` from `from` (`POST …/blobs/uploads/?mount=…&from=…`):
    /// `true` when the registry answered `201 Created`; a registry that opens an upload
    /// instead (`202`) does not mount, and the blob is pushed.
    pub fn mount_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &Repository,
    ) -> Result<bool, RegistryError> {
        let base = self.base(&repo.registry)?;
        let url = format!(
            "{base}/v2/{}/blobs/uploads/?mount={digest}&from={}",
            repo.name, from.name
        );
        // A token service grants a mount only with pull access to the source as well.
        let scopes = [
            format!("repository:{}:push,pull", repo.name),
            format!("repository:{}:pull", from.name),
        ];
        let resp = self.send_scoped(
            "POST",
            repo,
            &url,
            &[("Content-Length", "0")],
            &Body::Empty,
            true,
            &scopes,
        )?;
        match resp.status().as_u16() {
            201 => Ok(true),
            202 => {
                // The registry opened an upload instead: close it.
                if let Some(l) = resp.headers().get("location").and_then(|h| h.to_str().ok()) {
                    let location = resolve_location(&url, l);
                    let _ = self.send("DELETE", repo, &location, &[], &Body::Empty, true);
                }
                Ok(false)
            }
            _ => Self::check("POST", &url, resp, &[]).map(|_| false),
        }
    }

    /// The registry's `Docker-Content-Digest`, when it sends one, must be the digest of what
    /// was sent (a proxy or registry that altered the bytes is caught here, not by a puller).
    fn check_digest(
        url: &str,
        resp: &ureq::http::Response<ureq::Body>,
        ours: &Digest,
    ) -> Result<(), RegistryError> {
        if let Some(theirs) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|h| h.to_str().ok())
            && theirs != ours.to_string()
        {
            return Err(RegistryError::DigestMismatch {
                url: url.to_owned(),
                expected: ours.to_string(),
                got: theirs.to_owned(),
            });
        }
        Ok(())
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
            self.base(&repo.registry)?,
            repo.name
        );
        let resp = self.send(
            "PUT",
            repo,
            &url,
            &[("Content-Type", media_type)],
            &Body::Bytes(bytes),
            true,
        )?;
        let resp = Self::check("PUT", &url, resp, &[200, 201, 202])?;
        let ours = Digest::of(bytes);
        Self::check_digest(&url, &resp, &ours)?;
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
            self.base(&repo.registry)?,
            repo.name
        );
        let accept = [
            crate::types::MEDIA_TYPE_INDEX,
            crate::types::MEDIA_TYPE_MANIFEST,
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ]
        .join(", ");
        let resp = self.send(
            "GET",
            repo,
            &url,
            &[("Accept", &accept)],
            &Body::Empty,
            true,
        )?;
        let resp = Self::check("GET", &url, resp, &[200])?;
        let media = resp
            .headers()
            .get("content-type")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Ok((media, Self::small_body(&url, resp)?))
    }

    /// Downloads the blob `digest` of `repo` into `dest` (created or replaced), refusing one
    /// that is larger than `size` (its descriptor's) or whose bytes do not hash to `digest`;
    /// a refused download leaves no file.
    pub fn get_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        size: u64,
        dest: &std::path::Path,
    ) -> Result<(), RegistryError> {
        use sha2::Digest as _;
        let url = format!(
            "{}/v2/{}/blobs/{digest}",
            self.base(&repo.registry)?,
            repo.name
        );
        let resp = self.send("GET", repo, &url, &[], &Body::Empty, true)?;
        let mut resp = Self::check("GET", &url, resp, &[200])?;
        let io = |source| RegistryError::Read {
            path: dest.display().to_string(),
            source,
        };
        let mut out = std::io::BufWriter::new(fs_err::File::create(dest).map_err(io)?);
        let mut reader = resp
            .body_mut()
            .with_config()
            .limit(size.saturating_add(1))
            .reader();
        let mut sha = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0u64;
        let result = loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) => {
                    break Err(RegistryError::Read {
                        path: url.clone(),
                        source: e,
                    });
                }
            };
            got += n as u64;
            if got > size {
                break Err(RegistryError::BadBlob {
                    url: url.clone(),
                    reason: format!("larger than the {size} bytes its descriptor says"),
                });
            }
            sha.update(&buf[..n]);
            if let Err(e) = std::io::Write::write_all(&mut out, &buf[..n]) {
                break Err(io(e));
            }
        };
        let result = result.and_then(|()| {
            let actual = Digest::from_sha256(sha.finalize().into());
            if got != size {
                Err(RegistryError::BadBlob {
                    url: url.clone(),
                    reason: format!("{got} bytes, its descriptor says {size}"),
                })
            } else if actual != *digest {
                Err(RegistryError::BadBlob {
                    url: url.clone(),
                    reason: format!("its bytes hash to {actual}"),
                })
            } else {
                std::io::Write::flush(&mut out).map_err(io)
            }
        });
        if result.is_err() {
            drop(out);
            let _ = fs_err::remove_file(dest);
        }
        result
    }

    /// The referrers of `subject` in `repo` (OCI 1.1): the referrers API's index when the
    /// registry serves it, else the `sha256-<hex>` tag schema's index; no referrers: empty.
    pub fn referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
    ) -> Result<Vec<crate::Descriptor>, RegistryError> {
        let url = format!(
            "{}/v2/{}/referrers/{subject}",
            self.base(&repo.registry)?,
            repo.name
        );
        let resp = self.send(
            "GET",
            repo,
            &url,
            &[("Accept", crate::types::MEDIA_TYPE_INDEX)],
            &Body::Empty,
            true,
        )?;
        let bytes = if resp.status().as_u16() == 200 {
            Self::small_body(&url, resp)?
        } else {
            match self.get_manifest(repo, &super::referrers::referrers_tag(subject)) {
                Ok((_, bytes)) => bytes,
                Err(RegistryError::Status { status: 404, .. }) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            }
        };
        #[derive(serde::Deserialize)]
        struct Index {
            #[serde(default)]
            manifests: Vec<crate::Descriptor>,
        }
        let index: Index = serde_json::from_slice(&bytes).map_err(|e| RegistryError::BadBlob {
            url: url.clone(),
            reason: format!("the referrers index is not an image index: {e}"),
        })?;
        Ok(index.manifests)
    }
}

impl Registry for RegistryClient {
    fn push_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        blob: &Blob,
    ) -> Result<BlobOutcome, RegistryError> {
        RegistryClient::push_blob(self, repo, digest, blob)
    }

    fn upload_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        blob: &Blob,
    ) -> Result<BlobOutcome, RegistryError> {
        RegistryClient::upload_blob(self, repo, digest, blob)
    }

    fn mount_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        from: &Repository,
    ) -> Result<bool, RegistryError> {
        RegistryClient::mount_blob(self, repo, digest, from)
    }

    fn has_blob(&self, repo: &Repository, digest: &Digest) -> Result<bool, RegistryError> {
        RegistryClient::has_blob(self, repo, digest)
    }

    fn find_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<(String, Vec<u8>)>, RegistryError> {
        match RegistryClient::get_manifest(self, repo, reference) {
            Ok(m) => Ok(Some(m)),
            Err(RegistryError::Status { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn has_referrers_api(&self, repo: &Repository) -> Result<bool, RegistryError> {
        // A registry with the API answers 200 (an empty index) for any digest.
        let url = format!(
            "{}/v2/{}/referrers/sha256:{}",
            self.base(&repo.registry)?,
            repo.name,
            "0".repeat(64)
        );
        let resp = self.send("GET", repo, &url, &[], &Body::Empty, true)?;
        Ok(resp.status().as_u16() == 200)
    }

    fn push_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        RegistryClient::push_manifest(self, repo, reference, media_type, bytes)
    }
}
