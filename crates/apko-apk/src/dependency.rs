//! Dependency constraints (`D:`, world entries, `i:` install_if terms) and provides (`p:`).
//!
//! Syntax, as apk-tools 2.x reads it: `[!]name[@tag][op version]` where `op` is a run of
//! `< > = ~`. apko's own spelling with the tag after the version (`name=1.0@tag`) is accepted
//! too; [`Dependency`]'s `Display` always writes apk's order so that the result is readable by
//! apk itself.

use crate::checksum::Checksum;
use crate::name::{PackageName, ParseNameError};
use crate::version::{ParseVersionError, Version};
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A comparison operator. Several may combine (`>=`), `~` is apk's fuzzy (prefix) match.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Op(u8);

impl Op {
    const LESS: u8 = 1;
    const EQUAL: u8 = 2;
    const GREATER: u8 = 4;
    const FUZZY: u8 = 8;

    /// `=`
    pub const EQ: Op = Op(Self::EQUAL);
    /// `<`
    pub const LT: Op = Op(Self::LESS);
    /// `<=`
    pub const LE: Op = Op(Self::LESS | Self::EQUAL);
    /// `>`
    pub const GT: Op = Op(Self::GREATER);
    /// `>=`
    pub const GE: Op = Op(Self::GREATER | Self::EQUAL);
    /// `~` (also written `=~`): same version on every token both versions have.
    pub const FUZZY_EQ: Op = Op(Self::FUZZY | Self::EQUAL);

    fn parse(s: &str) -> Option<Op> {
        let mut bits = 0;
        for c in s.chars() {
            bits |= match c {
                '<' => Self::LESS,
                '>' => Self::GREATER,
                '=' => Self::EQUAL,
                '~' => Self::FUZZY | Self::EQUAL,
                _ => return None,
            };
        }
        (bits != 0).then_some(Op(bits))
    }

    /// Whether a version comparing as `ord` against the constraint's version satisfies it.
    pub fn accepts(self, ord: Ordering) -> bool {
        let bit = match ord {
            Ordering::Less => Self::LESS,
            Ordering::Equal => Self::EQUAL,
            Ordering::Greater => Self::GREATER,
        };
        self.0 & bit != 0
    }

    /// Whether this is a fuzzy (`~`) operator.
    pub fn is_fuzzy(self) -> bool {
        self.0 & Self::FUZZY != 0
    }

    fn write(self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 & Self::LESS != 0 {
            f.write_str("<")?;
        }
        if self.0 & Self::GREATER != 0 {
            f.write_str(">")?;
        }
        if self.is_fuzzy() {
            f.write_str("~")
        } else if self.0 & Self::EQUAL != 0 {
            f.write_str("=")
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f)
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Op({self})")
    }
}

/// What a dependency asks of the provider's version.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Constraint {
    /// Any provider, versioned or not.
    Any,
    /// A provider whose version compares as `op` requires.
    Version {
        /// The operator.
        op: Op,
        /// The version on the right-hand side.
        version: Version,
    },
    /// `name><Q1…`: exactly the package with this identity (written by `apk add ./file.apk`).
    Checksum(Checksum),
}

impl Constraint {
    /// Whether a provider with `provided` version (`None` for an unversioned provides) satisfies
    /// this constraint. Checksum constraints never match a bare version; use
    /// [`Constraint::matches_package`].
    pub fn matches_version(&self, provided: Option<&Version>) -> bool {
        match self {
            Constraint::Any => true,
            Constraint::Version { op, version } => match provided {
                // An unversioned provides never satisfies a versioned constraint.
                None => false,
                Some(v) if op.is_fuzzy() => {
                    let ord = if v.fuzzy_matches(version) {
                        Ordering::Equal
                    } else {
                        v.cmp(version)
                    };
                    op.accepts(ord)
                }
                Some(v) => op.accepts(v.cmp(version)),
            },
            Constraint::Checksum(_) => false,
        }
    }

    /// Whether a package with this provided version and identity satisfies the constraint.
    pub fn matches_package(&self, provided: Option<&Version>, identity: Option<&Checksum>) -> bool {
        match self {
            Constraint::Checksum(c) => identity == Some(c),
            _ => self.matches_version(provided),
        }
    }
}

/// One dependency: `[!]name[@tag][op version]`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Dependency {
    /// The required (or, for a conflict, forbidden) name.
    pub name: PackageName,
    /// Repository tag (`@edge`) whose packages may satisfy this dependency.
    pub tag: Option<String>,
    /// The version constraint.
    pub constraint: Constraint,
    /// `!name`: no installed package may provide a match.
    pub conflict: bool,
}

/// A dependency string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseDependencyError {
    /// The name part is invalid.
    #[error("invalid dependency `{text}`")]
    Name {
        /// The whole dependency text.
        text: String,
        /// The name problem.
        #[source]
        source: ParseNameError,
    },
    /// The version part is invalid.
    #[error("invalid dependency `{text}`")]
    Version {
        /// The whole dependency text.
        text: String,
        /// The version problem.
        #[source]
        source: ParseVersionError,
    },
    /// The operator is not a combination of `< > = ~`.
    #[error("invalid dependency `{text}`: unknown operator `{op}`")]
    Operator {
        /// The whole dependency text.
        text: String,
        /// The operator as written.
        op: String,
    },
    /// An operator with nothing after it (`foo=`).
    #[error("invalid dependency `{text}`: operator without a version")]
    MissingVersion {
        /// The whole dependency text.
        text: String,
    },
    /// `><` must be followed by a package identity checksum.
    #[error("invalid dependency `{text}`: `><` needs a Q1 checksum")]
    Checksum {
        /// The whole dependency text.
        text: String,
    },
    /// An empty tag (`foo@`).
    #[error("invalid dependency `{text}`: empty repository tag")]
    EmptyTag {
        /// The whole dependency text.
        text: String,
    },
    /// A tag with white space, a control character or an operator character (`< > = ~`),
    /// which apk would read as the end of the tag (`foo=1.0@a=b` would print as `foo@a=b=1.0`).
    #[error(
        "invalid dependency `{text}`: repository tag `{tag}` holds white space, a control character or one of < > = ~"
    )]
    InvalidTag {
        /// The whole dependency text.
        text: String,
        /// The tag.
        tag: String,
    },
}

impl Dependency {
    /// A dependency on any version of `name`.
    pub fn any(name: PackageName) -> Self {
        Dependency {
            name,
            tag: None,
            constraint: Constraint::Any,
            conflict: false,
        }
    }

    /// Whether a provider with this version and identity matches the constraint (ignoring
    /// whether this is a conflict).
    pub fn matches(&self, provided: Option<&Version>, identity: Option<&Checksum>) -> bool {
        self.constraint.matches_package(provided, identity)
    }

    /// Parses a white-space separated list, as in `D:` lines and `/etc/apk/world`.
    pub fn parse_list(s: &str) -> Result<Vec<Dependency>, ParseDependencyError> {
        s.split_ascii_whitespace().map(str::parse).collect()
    }
}

fn split_op(s: &str) -> Option<(usize, usize)> {
    let start = s.find(['<', '>', '=', '~'])?;
    let len = s[start..]
        .find(|c| !matches!(c, '<' | '>' | '=' | '~'))
        .unwrap_or(s.len() - start);
    Some((start, len))
}

impl FromStr for Dependency {
    type Err = ParseDependencyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (conflict, rest) = match text.strip_prefix('!') {
            Some(r) => (true, r),
            None => (false, text),
        };
        let (name_tag, op_ver) = match split_op(rest) {
            Some((start, _)) => (&rest[..start], Some(&rest[start..])),
            None => (rest, None),
        };
        let (name, mut tag) = match name_tag.split_once('@') {
            Some((n, t)) => (n, Some(t)),
            None => (name_tag, None),
        };
        let name = PackageName::new(name).map_err(|source| ParseDependencyError::Name {
            text: text.to_owned(),
            source,
        })?;
        let constraint = match op_ver {
            None => Constraint::Any,
            Some(op_ver) => {
                let (_, op_len) = split_op(op_ver).expect("starts with an operator");
                let (op_s, mut ver) = op_ver.split_at(op_len);
                // apko writes the tag after the version: `name=1.0@tag`.
                if let Some((v, t)) = ver.split_once('@') {
                    if tag.is_some() {
                        return Err(ParseDependencyError::Operator {
                            text: text.to_owned(),
                            op: "@".to_owned(),
                        });
                    }
                    ver = v;
                    tag = Some(t);
                }
                if ver.is_empty() {
                    return Err(ParseDependencyError::MissingVersion {
                        text: text.to_owned(),
                    });
                }
                if op_s == "><" {
                    let sum = ver.parse().map_err(|_| ParseDependencyError::Checksum {
                        text: text.to_owned(),
                    })?;
                    Constraint::Checksum(sum)
                } else {
                    let op = Op::parse(op_s).ok_or_else(|| ParseDependencyError::Operator {
                        text: text.to_owned(),
                        op: op_s.to_owned(),
                    })?;
                    let version =
                        Version::new(ver).map_err(|source| ParseDependencyError::Version {
                            text: text.to_owned(),
                            source,
                        })?;
                    Constraint::Version { op, version }
                }
            }
        };
        match tag {
            Some("") => {
                return Err(ParseDependencyError::EmptyTag {
                    text: text.to_owned(),
                });
            }
            Some(t)
                if t.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '=' | '~')
                }) =>
            {
                return Err(ParseDependencyError::InvalidTag {
                    text: text.to_owned(),
                    tag: t.to_owned(),
                });
            }
            _ => {}
        }
        Ok(Dependency {
            name,
            tag: tag.map(str::to_owned),
            constraint,
            conflict,
        })
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.conflict {
            f.write_str("!")?;
        }
        f.write_str(self.name.as_str())?;
        if let Some(tag) = &self.tag {
            write!(f, "@{tag}")?;
        }
        match &self.constraint {
            Constraint::Any => Ok(()),
            Constraint::Version { op, version } => write!(f, "{op}{version}"),
            Constraint::Checksum(c) => write!(f, "><{c}"),
        }
    }
}

/// A provided name: `name` (virtual, unversioned) or `name=version`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Provide {
    /// The provided name.
    pub name: PackageName,
    /// The provided version; `None` for a virtual (unversioned) provides.
    pub version: Option<Version>,
}

impl Provide {
    /// Parses a white-space separated `p:` list.
    pub fn parse_list(s: &str) -> Result<Vec<Provide>, ParseDependencyError> {
        s.split_ascii_whitespace().map(str::parse).collect()
    }
}

impl FromStr for Provide {
    type Err = ParseDependencyError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let dep: Dependency = text.parse()?;
        let bad = || ParseDependencyError::Operator {
            text: text.to_owned(),
            op: "provides take only `name` or `name=version`".to_owned(),
        };
        if dep.conflict || dep.tag.is_some() {
            return Err(bad());
        }
        let version = match dep.constraint {
            Constraint::Any => None,
            Constraint::Version { op, version } if op == Op::EQ => Some(version),
            _ => return Err(bad()),
        };
        Ok(Provide {
            name: dep.name,
            version,
        })
    }
}

impl fmt::Display for Provide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            Some(v) => write!(f, "{}={v}", self.name),
            None => f.write_str(self.name.as_str()),
        }
    }
}

#[cfg(test)]
mod tests;
