//! Docker's `config.json`, read the way docker and go-containerregistry read it: stored
//! credentials (`auths`), per-registry credential helpers (`credHelpers`) and the default
//! store (`credsStore`).
//!
//! Only the text is handled here: finding the file (`$DOCKER_CONFIG`, `~/.docker`) and running
//! `docker-credential-<helper> get` are the caller's business (the `apko` command does both).
//!
//! ```
//! use apko_oci::registry::docker_config::{DockerConfig, Lookup};
//! let c = DockerConfig::parse(r#"{"auths":{"ghcr.io":{"auth":"dXNlcjpwYXNz"}},"credsStore":"desktop"}"#).unwrap();
//! let Some(Lookup::Stored(creds)) = c.lookup("ghcr.io") else { panic!() };
//! assert_eq!((creds.username.as_str(), creds.password.as_str()), ("user", "pass"));
//! assert!(matches!(c.lookup("quay.io"), Some(Lookup::Helper { helper: "desktop", .. })));
//! ```

use super::Credentials;
use base64::Engine as _;
use std::collections::BTreeMap;

/// The user name docker stores with an identity (OAuth2 refresh) token.
pub const IDENTITY_TOKEN_USER: &str = "<token>";

/// The credential entries of a docker `config.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    /// `auths`: credentials by server key (`ghcr.io`, `https://index.docker.io/v1/`); an
    /// `identitytoken` is stored with the user name [`IDENTITY_TOKEN_USER`].
    pub auths: BTreeMap<String, Credentials>,
    /// `credHelpers`: a helper name (`gcloud` for `docker-credential-gcloud`) by server key.
    pub cred_helpers: BTreeMap<String, String>,
    /// `credsStore`: the helper for every registry without an entry.
    pub creds_store: Option<String>,
}

/// A `config.json` that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerConfigError {
    /// The text is not JSON.
    #[error("not valid JSON")]
    Json(#[source] serde_json::Error),
    /// A field has the wrong type (`{"auths": 5}`).
    #[error("`{field}` is not {expected}")]
    Field {
        /// The field (`auths`, `auths.<key>.username`).
        field: String,
        /// What it should have been.
        expected: &'static str,
    },
    /// An `auths.<key>.auth` value is not base64 of `user:password`.
    #[error("`auths.{key}.auth` is not {expected}")]
    Auth {
        /// The server key.
        key: String,
        /// What it should have been.
        expected: &'static str,
    },
}

/// Where a registry's credentials are, according to the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// Stored in `auths`.
    Stored(&'a Credentials),
    /// Ask `docker-credential-<helper> get` for `server`.
    Helper {
        /// The helper's name.
        helper: &'a str,
        /// What to write to the helper's input.
        server: String,
    },
}

/// The keys docker may have stored a registry's credentials under, the canonical one first.
pub fn server_keys(registry: &str) -> Vec<String> {
    if matches!(
        registry,
        "index.docker.io" | "docker.io" | "registry-1.docker.io"
    ) {
        return vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
            "https://index.docker.io".into(),
        ];
    }
    vec![
        registry.to_owned(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ]
}

impl DockerConfig {
    /// Parses the text of a `config.json`. Entries without usable credentials are skipped;
    /// keys this reader does not use are ignored.
    pub fn parse(text: &str) -> Result<DockerConfig, DockerConfigError> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(DockerConfigError::Json)?;
        let mut out = DockerConfig::default();
        if let Some(auths) = v["auths"].as_object() {
            for (key, entry) in auths {
                let bad = |expected| DockerConfigError::Auth {
                    key: key.clone(),
                    expected,
                };
                let creds = if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(auth)
                        .map_err(|_| bad("base64"))?;
                    let raw = String::from_utf8(raw).map_err(|_| bad("text"))?;
                    let (u, p) = raw.split_once(':').ok_or_else(|| bad("`user:password`"))?;
                    Credentials {
                        username: u.to_owned(),
                        password: p.to_owned(),
                    }
                } else if let Some(token) = entry["identitytoken"].as_str() {
                    Credentials {
                        username: IDENTITY_TOKEN_USER.into(),
                        password: token.to_owned(),
                    }
                } else if let (Some(u), Some(p)) =
                    (entry["username"].as_str(), entry["password"].as_str())
                {
                    Credentials {
                        username: u.to_owned(),
                        password: p.to_owned(),
                    }
                } else {
                    continue;
                };
                out.auths.insert(key.clone(), creds);
            }
        }
        if let Some(helpers) = v["credHelpers"].as_object() {
            for (registry, helper) in helpers {
                if let Some(h) = helper.as_str() {
                    out.cred_helpers.insert(registry.clone(), h.to_owned());
                }
            }
        }
        out.creds_store = v["credsStore"].as_str().map(str::to_owned);
        Ok(out)
    }

    /// Where the credentials for `registry` (a host, `ghcr.io` or `localhost:5000`) are: a
    /// registry's own helper first, then stored credentials, then the default store.
    pub fn lookup(&self, registry: &str) -> Option<Lookup<'_>> {
        let keys = server_keys(registry);
        if let Some(h) = keys.iter().find_map(|k| self.cred_helpers.get(k)) {
            return Some(Lookup::Helper {
                helper: h,
                server: keys[0].clone(),
            });
        }
        if let Some(c) = keys.iter().find_map(|k| self.auths.get(k)) {
            return Some(Lookup::Stored(c));
        }
        self.creds_store.as_deref().map(|s| Lookup::Helper {
            helper: s,
            server: keys[0].clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_entries() {
        let c = DockerConfig::parse(
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},
                "ghcr.io":{"username":"me","password":"tok"},
                "quay.io":{"identitytoken":"refresh"},
                "empty.example":{}
            },"credHelpers":{"gcr.io":"gcloud"}}"#,
        )
        .unwrap();
        let stored = |r: &str| match c.lookup(r) {
            Some(Lookup::Stored(c)) => Some((c.username.as_str(), c.password.as_str())),
            _ => None,
        };
        assert_eq!(stored("index.docker.io"), Some(("user", "pass")));
        assert_eq!(stored("docker.io"), Some(("user", "pass")));
        assert_eq!(stored("ghcr.io"), Some(("me", "tok")));
        assert_eq!(stored("quay.io"), Some((IDENTITY_TOKEN_USER, "refresh")));
        assert_eq!(c.lookup("empty.example"), None);
        assert_eq!(c.lookup("other.example"), None);
        assert_eq!(
            c.lookup("gcr.io"),
            Some(Lookup::Helper {
                helper: "gcloud",
                server: "gcr.io".into()
            })
        );
    }

    #[test]
    fn bad_entries_are_errors() {
        for (text, message) in [
            (
                r#"{"auths":{"x":{"auth":"!!"}}}"#,
                "`auths.x.auth` is not base64",
            ),
            (
                r#"{"auths":{"x":{"auth":"dXNlcg=="}}}"#,
                "`auths.x.auth` is not `user:password`",
            ),
            (
                r#"{"auths":{"x":{"auth":"/w=="}}}"#,
                "`auths.x.auth` is not text",
            ),
            ("{", "not valid JSON"),
        ] {
            assert_eq!(DockerConfig::parse(text).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn the_store_is_the_fallback() {
        let c =
            DockerConfig::parse(r#"{"credsStore":"desktop","credHelpers":{"gcr.io":"gcloud"}}"#)
                .unwrap();
        assert_eq!(
            c.lookup("docker.io"),
            Some(Lookup::Helper {
                helper: "desktop",
                server: "https://index.docker.io/v1/".into()
            })
        );
        assert!(matches!(
            c.lookup("gcr.io"),
            Some(Lookup::Helper {
                helper: "gcloud",
                ..
            })
        ));
    }
}
