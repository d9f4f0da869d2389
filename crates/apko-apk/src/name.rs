//! Package and provided names.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

/// A package name or a provided name (`busybox`, `so:libc.musl-x86_64.so.1`, `cmd:sh`, `/bin/sh`).
///
/// apk gives no meaning to prefixes such as `so:`; they are just part of the name. A name is
/// non-empty and holds no white space, control characters or the operator characters
/// `< > = ~ ! @`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName(Box<str>);

/// A string that is not a valid package name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid package name `{name}`: {reason}")]
pub struct ParseNameError {
    /// The rejected text.
    pub name: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl PackageName {
    /// Validates `s` as a package name.
    pub fn new(s: &str) -> Result<Self, ParseNameError> {
        let err = |reason| ParseNameError {
            name: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(err("empty name"));
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(if c.is_whitespace() {
                "contains white space"
            } else {
                "contains a control character"
            }));
        }
        if s.contains(['<', '>', '=', '~', '!', '@']) {
            return Err(err("contains one of the operator characters < > = ~ ! @"));
        }
        Ok(PackageName(s.into()))
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// apk's name order (the world, the installed database): ASCII case-insensitive first,
    /// then byte order; without allocating.
    pub fn apk_cmp(a: &str, b: &str) -> std::cmp::Ordering {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
            .then_with(|| a.cmp(b))
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl FromStr for PackageName {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PackageName::new(s)
    }
}

impl TryFrom<&str> for PackageName {
    type Error = ParseNameError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        PackageName::new(s)
    }
}

impl Borrow<str> for PackageName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for PackageName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Splits `name-version` (a file or script name) at the last `-` that is followed by a digit,
/// as apk-tools does; gives up after two `-` not followed by a digit.
///
/// ```
/// assert_eq!(apko_apk::name::split_name_version("py3-foo-1.0-r0"), Some(("py3-foo", "1.0-r0")));
/// ```
pub fn split_name_version(s: &str) -> Option<(&str, &str)> {
    let bytes = s.as_bytes();
    let mut other_dashes = 0;
    for i in (0..bytes.len()).rev() {
        if bytes[i] != b'-' {
            continue;
        }
        if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            return (i > 0).then(|| (&s[..i], &s[i + 1..]));
        }
        other_dashes += 1;
        if other_dashes == 2 {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "busybox",
            "so:libc.musl-x86_64.so.1",
            "cmd:[",
            "/bin/sh",
            ".virtual",
            "py3.10:foo",
        ] {
            assert_eq!(PackageName::new(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "a b", "a=b", "!a", "a@b", "a\u{0}"] {
            assert!(PackageName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn split() {
        assert_eq!(
            split_name_version("busybox-1.36.1-r29"),
            Some(("busybox", "1.36.1-r29"))
        );
        assert_eq!(
            split_name_version("py3-foo-1.0-r0"),
            Some(("py3-foo", "1.0-r0"))
        );
        assert_eq!(split_name_version("libfoo2-3.0"), Some(("libfoo2", "3.0")));
        assert_eq!(split_name_version("nover"), None);
    }
}
