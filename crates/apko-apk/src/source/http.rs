use super::{Fetch, FetchError, HostCredentials, Transport, split_credentials};
use base64::Engine as _;
use std::io::{self, Read, Write};
use std::time::Duration;

/// Fetches `http://` and `https://` URLs with ureq (rustls).
///
/// Credentials in the URL (`https://user:token@host/...`) are sent as HTTP basic
/// authentication and never appear in messages.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    agent: ureq::Agent,
    max_size: u64,
    credentials: Vec<HostCredentials>,
}

/// The `host[:port]` of a URL without user information.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let a = &rest[..end];
    a.rsplit_once('@').map_or(a, |(_, h)| h)
}

/// The default deadline of one whole request (connecting, waiting, reading the body).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_mins(15);

impl HttpTransport {
    /// A client identifying itself as `user_agent`, refusing responses larger than `max_size`,
    /// giving every request [`DEFAULT_REQUEST_TIMEOUT`].
    pub fn new(user_agent: &str, max_size: u64) -> Self {
        Self::with_timeout(user_agent, max_size, Some(DEFAULT_REQUEST_TIMEOUT))
    }

    /// As [`HttpTransport::new`], with a deadline for each whole request (`None`: none). A
    /// server that trickles a byte now and then, or accepts and never answers, fails the
    /// request at the deadline instead of holding the build.
    pub fn with_timeout(user_agent: &str, max_size: u64, timeout: Option<Duration>) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(user_agent)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_mins(1)))
            .timeout_per_read(Some(Duration::from_mins(1)))
            .timeout_global(timeout)
            .max_redirects(10)
            .build();
        HttpTransport {
            agent: config.into(),
            max_size,
            credentials: Vec::new(),
        }
    }

    /// Sends these credentials to their hosts.
    pub fn with_credentials(mut self, credentials: Vec<HostCredentials>) -> Self {
        self.credentials = credentials;
        self
    }
}

impl Transport for HttpTransport {
    fn get(&self, url: &str, etag: Option<&str>, out: &mut dyn Write) -> Result<Fetch, FetchError> {
        let (plain, mut creds) = split_credentials(url);
        let host = authority(&plain);
        if let Some(c) = self.credentials.iter().find(|c| c.applies_to(host)) {
            creds = Some((&c.user, Some(&c.password)));
        }
        let mut req = self.agent.get(&plain);
        if let Some((user, pass)) = creds {
            let pass = pass.unwrap_or("");
            let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            req = req.header("Authorization", format!("Basic {token}"));
        }
        if let Some(tag) = etag {
            req = req.header("If-None-Match", tag);
        }
        let resp = req.call().map_err(|e| {
            let transient = matches!(
                e,
                ureq::Error::Io(_)
                    | ureq::Error::Timeout(_)
                    | ureq::Error::ConnectionFailed
                    | ureq::Error::HostNotFound
            );
            FetchError::Network {
                url: url.to_owned(),
                message: e.to_string(),
                transient,
            }
        })?;
        let status = resp.status().as_u16();
        match status {
            304 => return Ok(Fetch::NotModified),
            404 | 410 => {
                return Err(FetchError::NotFound {
                    url: url.to_owned(),
                });
            }
            200..=299 => {}
            _ => {
                return Err(FetchError::Status {
                    url: url.to_owned(),
                    status,
                });
            }
        }
        let new_etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = resp
            .into_body()
            .into_reader()
            .take(self.max_size.saturating_add(1));
        // Through a 256 KiB buffer (`io::copy` reads straight into it): 32 times fewer reads
        // and writes than its default 8 KiB.
        let mut w = io::BufWriter::with_capacity(256 << 10, out);
        let n = io::copy(&mut body, &mut w)
            .and_then(|n| w.flush().map(|()| n))
            .map_err(|source| FetchError::Io {
                url: url.to_owned(),
                source,
            })?;
        if n > self.max_size {
            return Err(FetchError::TooLarge {
                url: url.to_owned(),
                limit: self.max_size,
            });
        }
        Ok(Fetch::Body { etag: new_etag })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_split_off() {
        assert_eq!(authority("https://u:p@h:8080/x?y"), "h:8080");
        let (u, c) = split_credentials("https://me:tok@host:8080/repo/x86_64/APKINDEX.tar.gz");
        assert_eq!(u, "https://host:8080/repo/x86_64/APKINDEX.tar.gz");
        assert_eq!(c, Some(("me", Some("tok"))));
        assert_eq!(split_credentials("http://host/a").1, None);
    }
}
