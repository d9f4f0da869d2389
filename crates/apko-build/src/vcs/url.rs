//! The part of Go's `net/url` that apko's VCS probe relies on: `url.Parse` (without
//! `viaRequest`), dropping the user information, and `URL.String()`. apko writes the
//! remote of a checkout through exactly these steps, so the same remote gives the same
//! `org.opencontainers.image.source`.

/// A parsed URL, kept as close to its text as Go keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GoUrl {
    /// Lower-cased.
    scheme: String,
    /// Set for `scheme:opaque` (no `//` and no leading `/`).
    opaque: String,
    /// `scheme:/path`: no authority was written (Go's `OmitHost`).
    omit_host: bool,
    host: String,
    /// The path as written (escaped form).
    raw_path: String,
    raw_query: Option<String>,
    fragment: Option<String>,
}

/// apko's normalisation of a remote URL: parse it as Go does; if that fails (scp-style
/// `git@host:org/repo`), replace the first `:` with `/`, prefix `git+ssh://` and parse
/// again. User information is removed; everything else (the `.git` suffix too) is kept.
pub(super) fn normalize_remote(raw: &str) -> Result<String, String> {
    let url = match GoUrl::parse(raw) {
        Ok(u) => u,
        Err(_) => GoUrl::parse(&format!("git+ssh://{}", raw.replacen(':', "/", 1)))
            .map_err(|e| format!("parse \"{raw}\": {e}"))?,
    };
    Ok(url.to_string_without_user())
}

impl GoUrl {
    fn parse(raw: &str) -> Result<GoUrl, &'static str> {
        let (raw, fragment) = match raw.split_once('#') {
            Some((r, f)) => (r, Some(f.to_owned())),
            None => (raw, None),
        };
        if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err("net/url: invalid control character in URL");
        }
        let mut url = GoUrl {
            scheme: String::new(),
            opaque: String::new(),
            omit_host: false,
            host: String::new(),
            raw_path: String::new(),
            raw_query: None,
            fragment,
        };
        if raw.is_empty() {
            return Ok(url);
        }
        let (scheme, mut rest) = split_scheme(raw)?;
        url.scheme = scheme.to_ascii_lowercase();
        if let Some((r, q)) = rest.split_once('?') {
            url.raw_query = Some(q.to_owned());
            rest = r;
        }
        if !rest.starts_with('/') {
            if !url.scheme.is_empty() {
                url.opaque = rest.to_owned();
                return Ok(url);
            }
            let first = rest.split('/').next().unwrap_or("");
            if first.contains(':') {
                return Err("first path segment in URL cannot contain colon");
            }
        }
        if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
            let after = &rest[2..];
            let end = after.find('/').unwrap_or(after.len());
            let authority = &after[..end];
            rest = &after[end..];
            let host = match authority.rfind('@') {
                Some(i) => {
                    if !authority[..i].bytes().all(valid_userinfo) {
                        return Err("net/url: invalid userinfo");
                    }
                    &authority[i + 1..]
                }
                None => authority,
            };
            check_host(host)?;
            url.host = host.to_owned();
        } else if !url.scheme.is_empty() && rest.starts_with('/') {
            url.omit_host = true;
        }
        unescape(rest)?;
        url.raw_path = rest.to_owned();
        Ok(url)
    }

    /// `URL.String()` with `User = nil`.
    fn to_string_without_user(&self) -> String {
        let mut s = String::new();
        if !self.scheme.is_empty() {
            s.push_str(&self.scheme);
            s.push(':');
        }
        if self.opaque.is_empty() {
            let path = self.escaped_path();
            let authority = !self.scheme.is_empty() || !self.host.is_empty();
            let omitted = self.omit_host && self.host.is_empty();
            if authority && !omitted && (!self.host.is_empty() || !path.is_empty()) {
                s.push_str("//");
                s.push_str(&self.host);
            }
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                s.push('/');
            }
            if s.is_empty() && path.split('/').next().unwrap_or("").contains(':') {
                s.push_str("./");
            }
            s.push_str(&path);
        } else {
            s.push_str(&self.opaque);
        }
        if let Some(q) = &self.raw_query {
            s.push('?');
            s.push_str(q);
        }
        if let Some(f) = &self.fragment
            && !f.is_empty()
        {
            s.push('#');
            s.push_str(f);
        }
        s
    }

    /// Go's `EscapedPath`: the path as written when it is a valid encoding, else re-escaped.
    fn escaped_path(&self) -> String {
        if self.raw_path.bytes().all(valid_encoded_path_byte) {
            return self.raw_path.clone();
        }
        let decoded = unescape(&self.raw_path).unwrap_or_default();
        let mut out = String::new();
        for b in decoded {
            if should_escape_path(b) {
                out.push_str(&format!("%{b:02X}"));
            } else {
                out.push(char::from(b));
            }
        }
        out
    }
}

/// Go's `getScheme`.
fn split_scheme(raw: &str) -> Result<(&str, &str), &'static str> {
    for (i, b) in raw.bytes().enumerate() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme"),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn valid_userinfo(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b)
}

/// Go's `parseHost` checks: a bracketed IPv6 literal, an optional numeric port, and no
/// character that a host may not contain.
fn check_host(host: &str) -> Result<(), &'static str> {
    let port = if host.starts_with('[') {
        let i = host.rfind(']').ok_or("missing ']' in host")?;
        &host[i + 1..]
    } else {
        host.rfind(':').map_or("", |i| &host[i..])
    };
    if !port.is_empty()
        && (!port.starts_with(':') || !port[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("invalid port after host");
    }
    let ok =
        |b: u8| b >= 0x80 || b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&b);
    if host.bytes().all(ok) {
        Ok(())
    } else {
        Err("invalid character in host name")
    }
}

fn valid_encoded_path_byte(b: u8) -> bool {
    b"!$&'()*+,;=:@[]%".contains(&b) || !should_escape_path(b)
}

/// Go's `shouldEscape(c, encodePath)`.
fn should_escape_path(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || b"-_.~$&+,/:;=@".contains(&b))
}

/// Percent-decoding as Go's `unescape(s, encodePath)`: every `%` must start two hex digits.
fn unescape(s: &str) -> Result<Vec<u8>, &'static str> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| char::from(c).to_digit(16);
            match (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => return Err("invalid URL escape"),
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_are_normalized_as_apko_does() {
        for (raw, want) in [
            (
                "git@github.com:chainguard-dev/apko.git",
                "git+ssh://github.com/chainguard-dev/apko.git",
            ),
            (
                "https://user:tok@github.com/org/repo.git",
                "https://github.com/org/repo.git",
            ),
            ("ssh://git@github.com/org/repo", "ssh://github.com/org/repo"),
            ("github.com:org/repo", "github.com:org/repo"),
            ("HTTPS://Example.com/a%20b", "https://Example.com/a%20b"),
            ("https://example.com/a b", "https://example.com/a%20b"),
            ("ssh://git@host:22/x.git", "ssh://host:22/x.git"),
            ("file:///srv/git/repo.git", "file:///srv/git/repo.git"),
            ("/srv/git/repo.git", "/srv/git/repo.git"),
            ("../repo", "../repo"),
            ("file:/srv/repo", "file:/srv/repo"),
            // Not a valid port: the scp-style rewrite applies, as in apko.
            ("https://host:port/x", "git+ssh://https///host:port/x"),
            (
                "https://example.com/r?x=1#frag",
                "https://example.com/r?x=1#frag",
            ),
        ] {
            assert_eq!(normalize_remote(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn unparsable_remotes_are_errors() {
        for raw in ["git@host:bad%zz", "a\nb", "git@[::1:x"] {
            assert!(normalize_remote(raw).is_err(), "{raw}");
        }
    }
}
