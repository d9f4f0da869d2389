//! APK version strings and their ordering, exactly as apk-tools 2.x compares them.
//!
//! A version is split into typed tokens (numbers, a letter, `_suffix` words and their numbers,
//! the `-rN` revision) and compared token by token. The rules, including the treatment of
//! leading zeros and pre-release suffixes, follow apk-tools 2.14 (see `docs/apk-compat.md`).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// An APK package version such as `1.36.1-r29` or `2.4_rc1-r0`.
///
/// Equality and ordering follow apk-tools 2.x (`1.0-r0 > 1.0`, `1.0_rc1 < 1.0`,
/// `1.0 > 1.00`); two spellings that compare equal (`1-r0`, `1-r00`) are equal values and hash
/// alike. [`Version::as_str`] keeps the original spelling.
///
/// ```
/// use apko_apk::Version;
/// let a: Version = "1.0_rc1".parse().unwrap();
/// let b: Version = "1.0-r0".parse().unwrap();
/// assert!(a < b);
/// ```
#[derive(Clone)]
pub struct Version(Box<str>);

/// A version string that apk-tools would not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid version `{version}`: {reason}")]
pub struct ParseVersionError {
    /// The rejected text.
    pub version: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl Version {
    /// Parses and validates a version with apk-tools 2.x rules.
    pub fn new(s: &str) -> Result<Self, ParseVersionError> {
        validate(s)?;
        Ok(Version(s.into()))
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// apk's fuzzy match (`~`): equal on every token both versions have.
    ///
    /// In apk-tools 2.x this is symmetric: `3.8 ~ 3.8.1` and `3.8.1 ~ 3.8` both hold.
    pub fn fuzzy_matches(&self, other: &Version) -> bool {
        compare_str(&self.0, &other.0, true) == Ordering::Equal
    }
}

/// Returns whether `s` is a version apk-tools 2.x accepts (`apk version -c`).
pub fn is_valid(s: &str) -> bool {
    validate(s).is_ok()
}

/// Compares two version strings with apk-tools 2.x rules, without validating them first.
///
/// Invalid input is ordered the way apk 2.x orders it (an invalid token sorts as greater than
/// anything that ends earlier).
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_str(a, b, false)
}

fn validate(s: &str) -> Result<(), ParseVersionError> {
    let err = |reason| ParseVersionError {
        version: s.to_owned(),
        reason,
    };
    if s.is_empty() {
        return Err(err("empty version"));
    }
    let mut tokens = Tokens::new(s.as_bytes());
    loop {
        match tokens.kind {
            Kind::End => return Ok(()),
            Kind::Invalid => return Err(err("not of the form 1.2.3[a][_suffixN][-rN]")),
            _ => {
                tokens.next_token();
            }
        }
    }
}

/// Token kinds, in apk-tools' order; the derived order is used when two versions continue with
/// different kinds of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Invalid,
    DigitOrZero,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    RevisionNo,
    End,
}

const PRE_SUFFIXES: [&[u8]; 4] = [b"alpha", b"beta", b"pre", b"rc"];
const POST_SUFFIXES: [&[u8]; 5] = [b"cvs", b"svn", b"git", b"hg", b"p"];
/// apk-tools rejects numbers of this many digits or more (they would overflow).
const MAX_DIGITS: usize = 18;

/// The tokenizer: `kind` is the kind of the token that starts at `pos`.
struct Tokens<'a> {
    s: &'a [u8],
    pos: usize,
    kind: Kind,
    /// A leading-zero component is read as two tokens; this holds the second one's value.
    pending_zero_value: bool,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a [u8]) -> Self {
        Tokens {
            s,
            pos: 0,
            kind: if s.is_empty() { Kind::End } else { Kind::Digit },
            pending_zero_value: false,
        }
    }

    fn rest(&self) -> &'a [u8] {
        &self.s[self.pos..]
    }

    /// Reads the current token; returns its kind and value and moves to the next one.
    fn next_token(&mut self) -> (Kind, i64) {
        let kind = self.kind;
        if kind == Kind::Invalid {
            return (Kind::Invalid, -1);
        }
        if self.rest().is_empty() || kind == Kind::End {
            self.kind = Kind::End;
            return (Kind::End, 0);
        }
        let value = match kind {
            Kind::DigitOrZero if self.rest()[0] == b'0' && !self.pending_zero_value => {
                // A component with leading zeros: first a token of -(n-1) for n zeros, then
                // the component's numeric value as a plain digit token.
                let zeros = self.rest().iter().take_while(|&&c| c == b'0').count();
                let all_zero = zeros
                    == self
                        .rest()
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                let consumed = if all_zero { zeros - 1 } else { zeros };
                let extra = zeros as i64 - 1;
                self.pos += consumed;
                self.pending_zero_value = true;
                self.kind = Kind::Digit;
                return (Kind::DigitOrZero, -extra);
            }
            Kind::DigitOrZero | Kind::Digit | Kind::SuffixNo | Kind::RevisionNo => {
                self.pending_zero_value = false;
                let digits = self
                    .rest()
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if digits >= MAX_DIGITS {
                    self.kind = Kind::Invalid;
                    return (Kind::Invalid, -1);
                }
                let mut v: i64 = 0;
                for &c in &self.rest()[..digits] {
                    v = v * 10 + i64::from(c - b'0');
                }
                self.pos += digits;
                v
            }
            Kind::Letter => {
                let c = self.rest()[0];
                self.pos += 1;
                i64::from(c)
            }
            Kind::Suffix => {
                let rest = self.rest();
                if let Some(i) = PRE_SUFFIXES.iter().position(|p| rest.starts_with(p)) {
                    self.pos += PRE_SUFFIXES[i].len();
                    i as i64 - PRE_SUFFIXES.len() as i64
                } else if let Some(i) = POST_SUFFIXES.iter().position(|p| rest.starts_with(p)) {
                    self.pos += POST_SUFFIXES[i].len();
                    i as i64
                } else {
                    self.kind = Kind::Invalid;
                    return (Kind::Invalid, -1);
                }
            }
            Kind::Invalid | Kind::End => {
                self.kind = Kind::Invalid;
                return (Kind::Invalid, -1);
            }
        };
        self.kind = if self.rest().is_empty() {
            Kind::End
        } else {
            self.classify_next(kind)
        };
        (kind, value)
    }

    /// Decides the kind of the token at `pos`, consuming its separator, given the kind of the
    /// token just read.
    fn classify_next(&mut self, prev: Kind) -> Kind {
        let rest = self.rest();
        let c = rest[0];
        let next = if matches!(prev, Kind::Digit | Kind::DigitOrZero) && c.is_ascii_lowercase() {
            Kind::Letter
        } else if prev == Kind::Letter && c.is_ascii_digit() {
            Kind::Digit
        } else if prev == Kind::Suffix && c.is_ascii_digit() {
            Kind::SuffixNo
        } else {
            let k = match c {
                b'.' => Kind::DigitOrZero,
                b'_' => Kind::Suffix,
                b'-' if rest.get(1) == Some(&b'r') => {
                    self.pos += 1;
                    Kind::RevisionNo
                }
                _ => Kind::Invalid,
            };
            self.pos += 1;
            k
        };
        // Tokens must appear in order; a few steps back are allowed.
        if next < prev
            && !matches!(
                (next, prev),
                (Kind::DigitOrZero, Kind::Digit)
                    | (Kind::Suffix, Kind::SuffixNo)
                    | (Kind::Digit, Kind::Letter)
            )
        {
            return Kind::Invalid;
        }
        next
    }

    /// The value the current token would have, without consuming it.
    fn peek_value(&self) -> i64 {
        let mut copy = Tokens {
            s: self.s,
            pos: self.pos,
            kind: self.kind,
            pending_zero_value: self.pending_zero_value,
        };
        copy.next_token().1
    }
}

fn compare_str(a: &str, b: &str, fuzzy: bool) -> Ordering {
    let mut ta = Tokens::new(a.as_bytes());
    let mut tb = Tokens::new(b.as_bytes());
    // Both start with a digit token.
    let (mut av, mut bv) = (0i64, 0i64);
    while ta.kind == tb.kind && !matches!(ta.kind, Kind::End | Kind::Invalid) && av == bv {
        av = ta.next_token().1;
        bv = tb.next_token().1;
    }
    match av.cmp(&bv) {
        Ordering::Equal => {}
        other => return other,
    }
    if ta.kind == tb.kind || fuzzy {
        return Ordering::Equal;
    }
    // One side continues where the other does not, or with another kind of token: a
    // pre-release suffix makes its side smaller, otherwise the earlier kind is greater.
    if ta.kind == Kind::Suffix && ta.peek_value() < 0 {
        return Ordering::Less;
    }
    if tb.kind == Kind::Suffix && tb.peek_value() < 0 {
        return Ordering::Greater;
    }
    tb.kind.cmp(&ta.kind)
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_str(&self.0, &other.0, false)
    }
}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Hash what `compare_str` compares, so that equal versions (`1-r0`, `1-r00`, and `1-r`
        // whose empty revision reads as 0) hash alike: the kind of each token before it is
        // read, and the value read, up to the end.
        let mut t = Tokens::new(self.0.as_bytes());
        loop {
            let kind = t.kind;
            (kind as u8).hash(state);
            if matches!(kind, Kind::End | Kind::Invalid) {
                break;
            }
            t.next_token().1.hash(state);
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:?})", &*self.0)
    }
}

impl FromStr for Version {
    type Err = ParseVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::new(s)
    }
}

impl TryFrom<&str> for Version {
    type Error = ParseVersionError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Version::new(s)
    }
}

#[cfg(test)]
mod tests;
