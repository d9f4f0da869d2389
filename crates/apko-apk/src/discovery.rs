//! Key discovery, as apko does it for repositories whose keys are not configured:
//!
//! * **Alpine** repositories (`http[s]://…/alpine/<branch>/<repository>`): the keys Alpine
//!   publishes for that release branch and architecture in `releases.json`
//!   (`https://alpinelinux.org/releases.json`; a mirror can be named instead).
//! * **Chainguard-style** repositories: `<repository>/apk-configuration` names a JWKS
//!   (`{"jwks_uri": …}`) whose RSA keys are the repository's keys, `<kid>.rsa.pub`.
//!
//! Unlike apko, discovery never consults the clock: a key Alpine marks `deprecated_since` is
//! still offered (the index signature decides which key is used), so the same answers give the
//! same keyring on any day. Failures are warnings: a repository whose keys cannot be
//! discovered fails later, at its index signature, with a hint about the keyring.

use crate::keys::parse_public_key;
use crate::source::{FetchError, Fetcher, RepositoryUrl, is_remote};
use base64::Engine as _;
use std::collections::BTreeMap;

/// Alpine's list of releases and their signing keys.
pub const ALPINE_RELEASES_URL: &str = "https://alpinelinux.org/releases.json";

/// The largest discovery document (releases.json, apk-configuration, JWKS) read.
const MAX_DOCUMENT_SIZE: u64 = 4 << 20;
/// The largest key read.
const MAX_KEY_SIZE: u64 = 1 << 20;

/// A discovered key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredKey {
    /// Its file name in `/etc/apk/keys` (`<kid>.rsa.pub`, or the last part of Alpine's URL).
    pub name: String,
    /// Where it comes from: Alpine's key URL, or `<repository>/<kid>.rsa.pub` for a JWKS key
    /// (as apko records it in lockfiles; the key is not necessarily served there).
    pub url: String,
    /// The PEM public key.
    pub pem: Vec<u8>,
}

/// Where and how to discover keys.
#[derive(Clone, Copy)]
pub struct Discovery<'a> {
    /// Fetches the documents and keys (cache and offline mode apply).
    pub fetcher: &'a Fetcher,
    /// Alpine's `releases.json` (default [`ALPINE_RELEASES_URL`]).
    pub alpine_releases: &'a str,
    /// Receives a message for every repository whose keys could not be discovered.
    pub warn: &'a (dyn Fn(&str) + Sync),
}

impl std::fmt::Debug for Discovery<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("alpine_releases", &self.alpine_releases)
            .finish_non_exhaustive()
    }
}

/// The Alpine release branch of a repository URL (apko's `ParseAlpineVersion`).
pub fn alpine_branch(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let mut parts = rest.rsplitn(4, '/');
    let (repo, branch, alpine, before) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    (alpine == "alpine" && !before.is_empty() && !branch.is_empty() && !repo.is_empty())
        .then_some(branch)
}

impl Discovery<'_> {
    /// The keys of `repositories` (plain repository URLs; tagged and local ones are skipped)
    /// for `archs` (apk names), sorted by name, one per URL.
    pub fn discover(&self, repositories: &[RepositoryUrl], archs: &[&str]) -> Vec<DiscoveredKey> {
        let mut by_url: BTreeMap<String, DiscoveredKey> = BTreeMap::new();
        let mut repos: Vec<&str> = repositories
            .iter()
            .filter(|r| r.tag.is_none() && is_remote(&r.url))
            .map(|r| r.url.as_str())
            .collect();
        repos.sort_unstable();
        repos.dedup();
        let mut releases: Option<Option<serde_json::Value>> = None;
        for repo in repos {
            if let Some(branch) = alpine_branch(repo) {
                let doc = releases.get_or_insert_with(|| self.document(self.alpine_releases));
                if let Some(doc) = doc {
                    for url in alpine_key_urls(doc, branch, archs) {
                        if let Some(k) = self.alpine_key(&url) {
                            by_url.insert(k.url.clone(), k);
                        }
                    }
                }
            }
            for k in self.jwks_keys(repo) {
                by_url.insert(k.url.clone(), k);
            }
        }
        let mut keys: Vec<DiscoveredKey> = by_url.into_values().collect();
        keys.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.url.cmp(&b.url)));
        keys
    }

    fn fetch(&self, url: &str, limit: u64) -> Result<Vec<u8>, FetchError> {
        let f = self.fetcher.fetch_index_bounded(url, limit)?;
        fs_err::read(f.path()).map_err(|source| FetchError::Io {
            url: url.to_owned(),
            source,
        })
    }

    fn document(&self, url: &str) -> Option<serde_json::Value> {
        let bytes = self
            .fetch(url, MAX_DOCUMENT_SIZE)
            .map_err(|e| (self.warn)(&format!("key discovery: {e}")))
            .ok()?;
        serde_json::from_slice(&bytes)
            .map_err(|e| (self.warn)(&format!("key discovery: {url} is not JSON: {e}")))
            .ok()
    }

    fn alpine_key(&self, url: &str) -> Option<DiscoveredKey> {
        let name = crate::repositories::key_file_name(url);
        let pem = self
            .fetch(url, MAX_KEY_SIZE)
            .map_err(|e| (self.warn)(&format!("key discovery: {e}")))
            .ok()?;
        if let Err(e) = parse_public_key(&name, &pem) {
            (self.warn)(&format!("key discovery: {url}: {e}"));
            return None;
        }
        Some(DiscoveredKey {
            name,
            url: url.to_owned(),
            pem,
        })
    }

    /// The keys of a Chainguard-style repository (none, silently, when it has no
    /// `apk-configuration`).
    fn jwks_keys(&self, repo: &str) -> Vec<DiscoveredKey> {
        let repo = repo.trim_end_matches('/');
        let config_url = format!("{repo}/apk-configuration");
        let config = match self.fetch(&config_url, MAX_DOCUMENT_SIZE) {
            Ok(b) => b,
            Err(FetchError::NotFound { .. } | FetchError::Offline { .. }) => return Vec::new(),
            Err(e) => {
                (self.warn)(&format!("key discovery: {e}"));
                return Vec::new();
            }
        };
        let warn = |why: &str| (self.warn)(&format!("key discovery: {config_url}: {why}"));
        let Some(jwks_uri) = serde_json::from_slice::<serde_json::Value>(&config)
            .ok()
            .and_then(|v| v.get("jwks_uri")?.as_str().map(str::to_owned))
        else {
            warn("expected a JSON object with `jwks_uri`");
            return Vec::new();
        };
        let Some(jwks) = self.document(&jwks_uri) else {
            return Vec::new();
        };
        let Some(list) = jwks.get("keys").and_then(|k| k.as_array()) else {
            warn("the JWKS has no `keys`");
            return Vec::new();
        };
        let mut out = Vec::new();
        for k in list {
            match jwk_pem(k) {
                Ok((kid, pem)) => {
                    let name = format!("{kid}.rsa.pub");
                    out.push(DiscoveredKey {
                        url: format!("{repo}/{name}"),
                        name,
                        pem,
                    });
                }
                Err(why) => warn(&why),
            }
        }
        out
    }
}

/// The key URLs Alpine lists for `branch` and any of `archs` (with apko's `%20` → `@` fix of
/// the published URLs).
fn alpine_key_urls(doc: &serde_json::Value, branch: &str, archs: &[&str]) -> Vec<String> {
    let Some(rel) = doc
        .get("release_branches")
        .and_then(|b| b.as_array())
        .and_then(|b| {
            b.iter()
                .find(|r| r.get("rel_branch").and_then(|x| x.as_str()) == Some(branch))
        })
    else {
        return Vec::new();
    };
    let mut urls = Vec::new();
    for arch in archs {
        for k in rel
            .get("keys")
            .and_then(|k| k.get(*arch))
            .and_then(|k| k.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(u) = k.get("url").and_then(|u| u.as_str()) {
                urls.push(u.replace("%20", "@"));
            }
        }
    }
    urls.sort();
    urls.dedup();
    urls
}

/// A JWK (`kty` RSA, `kid`, base64url `n` and `e`) as `(kid, PEM SubjectPublicKeyInfo)`.
fn jwk_pem(k: &serde_json::Value) -> Result<(String, Vec<u8>), String> {
    let field = |f: &str| k.get(f).and_then(|v| v.as_str());
    let kid = field("kid")
        .filter(|s| !s.is_empty())
        .ok_or("key missing \"kid\"")?;
    if kid.contains(['/', '\\']) || kid.starts_with('.') || kid.chars().any(char::is_control) {
        return Err(format!("key id {kid:?} is not a file name"));
    }
    if field("kty") != Some("RSA") {
        return Err(format!("key {kid:?}: only RSA keys are supported"));
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let decode = |f: &str| {
        field(f)
            .and_then(|v| b64.decode(v.trim_end_matches('=')).ok())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("key {kid:?}: `{f}` is not base64url"))
    };
    let (n, e) = (decode("n")?, decode("e")?);
    let der = rsa_spki_der(&n, &e);
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    parse_public_key(kid, pem.as_bytes()).map_err(|e| format!("key {kid:?}: {e}"))?;
    Ok((kid.to_owned(), pem.into_bytes()))
}

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(u8::try_from(len).expect("short form"));
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | u8::try_from(bytes.len()).expect("at most 8 length bytes"));
        out.extend(bytes);
    }
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

fn der_uint(v: &[u8]) -> Vec<u8> {
    let v: Vec<u8> = v.iter().copied().skip_while(|&b| b == 0).collect();
    let mut body = Vec::with_capacity(v.len() + 1);
    if v.first().is_none_or(|&b| b & 0x80 != 0) {
        body.push(0);
    }
    body.extend(v);
    der(0x02, &body)
}

/// `SubjectPublicKeyInfo { rsaEncryption, RSAPublicKey { n, e } }`, as Go's
/// `x509.MarshalPKIXPublicKey` writes it.
fn rsa_spki_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    const RSA_ENCRYPTION: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let rsa_key = der(0x30, &[der_uint(n), der_uint(e)].concat());
    let mut bits = vec![0u8];
    bits.extend(rsa_key);
    der(0x30, &[RSA_ENCRYPTION.to_vec(), der(0x03, &bits)].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;

    #[test]
    fn alpine_repositories_are_recognised() {
        assert_eq!(
            alpine_branch("https://dl-cdn.alpinelinux.org/alpine/v3.20/main"),
            Some("v3.20")
        );
        assert_eq!(
            alpine_branch("http://127.0.0.1:8080/alpine/edge/community"),
            Some("edge")
        );
        assert_eq!(alpine_branch("https://packages.wolfi.dev/os"), None);
        assert_eq!(alpine_branch("https://h/alpine/v3.20/main/x86_64"), None);
        assert_eq!(alpine_branch("./alpine/v3.20/main"), None);
    }

    #[test]
    fn jwks_keys_become_the_pem_go_writes() {
        let key = SigningKey::generate("k", 2048).unwrap();
        let pem = key.public_key_pem();
        // The DER inside our own PEM gives n and e back (SubjectPublicKeyInfo, RSA).
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der_bytes = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        let (n, e) = split_spki(&der_bytes);
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwk = serde_json::json!({"kty": "RSA", "kid": "repo-key", "n": b64.encode(&n), "e": b64.encode(&e)});
        let (kid, got) = jwk_pem(&jwk).unwrap();
        assert_eq!(kid, "repo-key");
        assert_eq!(String::from_utf8(got).unwrap(), pem);
        for bad in [
            serde_json::json!({"kty": "EC", "kid": "x"}),
            serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
            serde_json::json!({"kty": "RSA", "kid": "../x", "n": "AQAB", "e": "AQAB"}),
        ] {
            assert!(jwk_pem(&bad).is_err(), "{bad}");
        }
    }

    /// Test helper: n and e of an RSA SubjectPublicKeyInfo (short DER walk).
    fn split_spki(d: &[u8]) -> (Vec<u8>, Vec<u8>) {
        fn tlv(d: &[u8]) -> (u8, &[u8], &[u8]) {
            let (tag, l0) = (d[0], d[1]);
            let (len, start) = if l0 < 0x80 {
                (l0 as usize, 2)
            } else {
                let n = (l0 & 0x7f) as usize;
                (
                    d[2..2 + n].iter().fold(0usize, |a, &b| a << 8 | b as usize),
                    2 + n,
                )
            };
            (tag, &d[start..start + len], &d[start + len..])
        }
        let (_, spki, _) = tlv(d);
        let (_, _alg, rest) = tlv(spki);
        let (_, bits, _) = tlv(rest);
        let (_, rsa, _) = tlv(&bits[1..]);
        let (_, n, rest) = tlv(rsa);
        let (_, e, _) = tlv(rest);
        (n.to_vec(), e.to_vec())
    }

    #[test]
    fn alpine_key_urls_follow_the_release_and_arch() {
        let doc = serde_json::json!({"release_branches": [
            {"rel_branch": "v3.20", "keys": {
                "x86_64": [{"url": "https://h/keys/a%20b.rsa.pub", "deprecated_since": "2020-01-01"}, {"url": "https://h/keys/c.rsa.pub"}],
                "aarch64": [{"url": "https://h/keys/d.rsa.pub"}]}},
            {"rel_branch": "v3.19", "keys": {"x86_64": [{"url": "https://h/keys/old.rsa.pub"}]}}
        ]});
        assert_eq!(
            alpine_key_urls(&doc, "v3.20", &["x86_64"]),
            ["https://h/keys/a@b.rsa.pub", "https://h/keys/c.rsa.pub"]
        );
        assert_eq!(
            alpine_key_urls(&doc, "v3.20", &["x86_64", "aarch64"]).len(),
            3
        );
        assert!(alpine_key_urls(&doc, "v9.99", &["x86_64"]).is_empty());
    }
}
