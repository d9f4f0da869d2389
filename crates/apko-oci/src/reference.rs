//! Image references (`registry/repository:tag`), normalised the way docker and
//! go-containerregistry do.

use std::fmt;
use std::str::FromStr;

/// Docker Hub's registry host.
pub const DEFAULT_REGISTRY: &str = "index.docker.io";

/// A tagged image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host (and port).
    pub registry: String,
    /// Repository path (`library/alpine` on Docker Hub for `alpine`).
    pub repository: String,
    /// Tag (`latest` when none is given).
    pub tag: String,
}

/// A reference that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference `{text}`: {reason}")]
pub struct ParseReferenceError {
    /// The text.
    pub text: String,
    /// Why.
    pub reason: &'static str,
}

fn valid_component(c: &str) -> bool {
    // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
    !c.is_empty()
        && c.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && c.as_bytes()[0].is_ascii_alphanumeric()
        && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
}

impl FromStr for Reference {
    type Err = ParseReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParseReferenceError {
            text: s.to_owned(),
            reason,
        };
        if s.contains('@') {
            return Err(err("digest references cannot be used as tags"));
        }
        let last_slash = s.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match s[last_slash..].rfind(':') {
            Some(i) => (&s[..last_slash + i], &s[last_slash + i + 1..]),
            None => (s, "latest"),
        };
        if tag.is_empty()
            || tag.len() > 128
            || !tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            || tag.starts_with(['.', '-'])
        {
            return Err(err(
                "a tag is 1-128 characters of letters, digits, `_`, `.` and `-`",
            ));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
                (first.to_owned(), rest.to_owned())
            }
            _ => (DEFAULT_REGISTRY.to_owned(), name.to_owned()),
        };
        let registry = if registry == "docker.io" {
            DEFAULT_REGISTRY.to_owned()
        } else {
            registry
        };
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !repository.split('/').all(valid_component) {
            return Err(err(
                "repository components are lower-case letters, digits and separators (`.`, `_`, `-`)",
            ));
        }
        Ok(Reference {
            registry,
            repository,
            tag: tag.to_owned(),
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.registry, self.repository, self.tag)
    }
}

impl Reference {
    /// The same repository with another tag.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: tag.to_owned(),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        let r: Reference = "alpine".parse().unwrap();
        assert_eq!(r.to_string(), "index.docker.io/library/alpine:latest");
        let r: Reference = "repo/img:tag".parse().unwrap();
        assert_eq!(r.to_string(), "index.docker.io/repo/img:tag");
        let r: Reference = "localhost:5000/a/b:v1".parse().unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_str()),
            ("localhost:5000", "a/b", "v1")
        );
        let r: Reference = "cgr.dev/chainguard/static".parse().unwrap();
        assert_eq!(r.to_string(), "cgr.dev/chainguard/static:latest");
        assert!("UPPER/case".parse::<Reference>().is_err());
        assert!("a:".parse::<Reference>().is_err());
        assert!("a@sha256:00".parse::<Reference>().is_err());
    }
}
