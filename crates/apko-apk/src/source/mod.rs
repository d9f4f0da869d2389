//! Where indexes and packages come from: local directories, `file://` and `http(s)://`
//! repositories, a shared on-disk cache, retries and parallel fetching.
//!
//! Network access lives only here, behind the [`Transport`] trait; `HttpTransport` needs
//! the `http` feature.

mod cache;
mod credentials;
mod error;
mod fetcher;
#[cfg(feature = "http")]
mod http;
mod local;

pub use cache::Cache;
pub use credentials::HostCredentials;
pub use error::FetchError;
pub use fetcher::{Fetched, Fetcher, parallel};
#[cfg(feature = "http")]
pub use http::{DEFAULT_REQUEST_TIMEOUT, HttpTransport};
pub use local::FileTransport;

use crate::info::PackageInfo;
use std::fmt;
use std::io::Write;
use std::str::FromStr;

/// Fetches the bytes behind a URL or path.
pub trait Transport: Send + Sync + fmt::Debug {
    /// Writes the content of `url` to `out`. `etag` is the entity tag of a cached copy; when
    /// the server answers that it is still current, returns [`Fetch::NotModified`].
    fn get(&self, url: &str, etag: Option<&str>, out: &mut dyn Write) -> Result<Fetch, FetchError>;
}

/// What a [`Transport`] fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    /// The content was written; the server's entity tag, if any.
    Body {
        /// `ETag` of the response.
        etag: Option<String>,
    },
    /// The cached copy with the given entity tag is current; nothing was written.
    NotModified,
}

/// A configured repository: `[@tag ]URL-or-path`, as in `/etc/apk/repositories`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryUrl {
    /// The tag (`@edge`), without the `@`.
    pub tag: Option<String>,
    /// The URL or path, without trailing `/`.
    pub url: String,
}

/// A repository line that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid repository `{text}`: {reason}")]
pub struct ParseRepositoryError {
    /// The text.
    pub text: String,
    /// Why.
    pub reason: &'static str,
}

impl FromStr for RepositoryUrl {
    type Err = ParseRepositoryError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseRepositoryError {
            text: s.to_owned(),
            reason,
        };
        let s = s.trim();
        let (tag, url) = match s.strip_prefix('@') {
            Some(rest) => {
                let (tag, url) = rest
                    .split_once([' ', '\t'])
                    .ok_or_else(|| err("`@tag` must be followed by a space and the repository"))?;
                (Some(tag.to_owned()), url.trim())
            }
            None => (None, s),
        };
        if url.is_empty() {
            return Err(err("empty repository"));
        }
        if tag.as_deref() == Some("") {
            return Err(err("empty tag"));
        }
        Ok(RepositoryUrl {
            tag,
            url: url.trim_end_matches('/').to_owned(),
        })
    }
}

impl fmt::Display for RepositoryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some(t) => write!(f, "@{t} {}", self.url),
            None => f.write_str(&self.url),
        }
    }
}

impl RepositoryUrl {
    /// Whether the repository is fetched over the network.
    pub fn is_remote(&self) -> bool {
        is_remote(&self.url)
    }

    /// `<repo>/<arch>/APKINDEX.tar.gz`.
    pub fn index_url(&self, arch: &str) -> String {
        format!("{}/{arch}/APKINDEX.tar.gz", self.url)
    }

    /// `<repo>/<arch>/<name>-<version>.apk`.
    pub fn package_url(&self, arch: &str, info: &PackageInfo) -> String {
        format!("{}/{arch}/{}", self.url, info.file_name())
    }

    /// The URL with any password replaced by `xxxxx`, for messages.
    pub fn redacted(&self) -> String {
        redact(&self.url)
    }
}

/// Whether `url` is an `http(s)://` URL.
pub fn is_remote(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// Splits `scheme://user:password@host/…` into the URL without user information and the
/// user name and password (`None` when only a user name, or a token, is given).
pub fn split_credentials(url: &str) -> (String, Option<(&str, Option<&str>)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => (
            format!("{scheme}://{host}{}", &rest[authority_end..]),
            Some(match userinfo.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                None => (userinfo, None),
            }),
        ),
        None => (url.to_owned(), None),
    }
}

/// `url` without its user information (`scheme://user:password@host/…` → `scheme://host/…`).
pub fn strip_credentials(url: &str) -> String {
    split_credentials(url).0
}

/// Replaces the password of `scheme://user:password@host/...` with `xxxxx`; a user name
/// without a password (`https://TOKEN@host/`, a common way to pass a token) is replaced too.
pub fn redact(url: &str) -> String {
    let (plain, creds) = split_credentials(url);
    let Some((user, pass)) = creds else {
        return plain;
    };
    let (scheme, rest) = plain.split_once("://").expect("credentials imply a scheme");
    match pass {
        Some(_) => format!("{scheme}://{user}:xxxxx@{rest}"),
        None => format!("{scheme}://xxxxx@{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_lines() {
        let r: RepositoryUrl = "@edge https://dl-cdn.alpinelinux.org/alpine/edge/main/"
            .parse()
            .unwrap();
        assert_eq!(r.tag.as_deref(), Some("edge"));
        assert_eq!(r.url, "https://dl-cdn.alpinelinux.org/alpine/edge/main");
        assert_eq!(
            r.to_string(),
            "@edge https://dl-cdn.alpinelinux.org/alpine/edge/main"
        );
        assert_eq!(
            r.index_url("x86_64"),
            "https://dl-cdn.alpinelinux.org/alpine/edge/main/x86_64/APKINDEX.tar.gz"
        );
        assert!(r.is_remote());
        let l: RepositoryUrl = "./packages".parse().unwrap();
        assert!(!l.is_remote());
        assert!("@edge".parse::<RepositoryUrl>().is_err());
        assert!("".parse::<RepositoryUrl>().is_err());
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact("https://u:secret@host/repo"),
            "https://u:xxxxx@host/repo"
        );
        assert_eq!(redact("https://host/repo"), "https://host/repo");
        assert_eq!(redact("/local/path"), "/local/path");
        assert_eq!(
            redact("https://ghp_TOKEN@host/repo"),
            "https://xxxxx@host/repo"
        );
        assert_eq!(
            strip_credentials("https://u:secret@host/repo"),
            "https://host/repo"
        );
        assert_eq!(
            strip_credentials("@tag https://host/repo"),
            "@tag https://host/repo"
        );
        assert_eq!(
            split_credentials("https://u:p@host/x").1,
            Some(("u", Some("p")))
        );
    }
}
