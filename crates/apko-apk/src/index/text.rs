use super::ApkIndex;
use crate::checksum::Checksum;
use crate::dependency::{Dependency, Provide};
use crate::info::PackageInfo;
use crate::name::PackageName;
use crate::version::Version;
use std::fmt::Write as _;

/// An index (or installed database) text that cannot be parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// A line is not `X:value`.
    #[error("{source_name} line {line}: expected `X:value`, found `{text}`")]
    Syntax {
        /// The file or URL.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// The line.
        text: String,
    },
    /// A field's value is invalid.
    #[error("{source_name} line {line}: invalid `{field}:` value `{value}`: {reason}")]
    Field {
        /// The file or URL.
        source_name: String,
        /// 1-based line number.
        line: usize,
        /// The field letter.
        field: char,
        /// The value.
        value: String,
        /// Why.
        reason: String,
    },
    /// A record has no `P:` or no `V:`.
    #[error("{source_name} line {line}: record without {missing}")]
    Incomplete {
        /// The file or URL.
        source_name: String,
        /// 1-based line number of the record's last line.
        line: usize,
        /// `P:` or `V:`.
        missing: &'static str,
    },
    /// The text is not UTF-8.
    #[error("{source_name}: not UTF-8 text")]
    NotUtf8 {
        /// The file or URL.
        source_name: String,
    },
}

/// Field letters that only the installed database uses; an index reader skips them.
pub(crate) const INSTALLED_ONLY: &str = "FRMaZrqsfg";

/// A record being assembled; shared with the installed-database reader.
pub(crate) struct RecordBuilder {
    pub(crate) name: Option<PackageName>,
    pub(crate) version: Option<Version>,
    pub(crate) info: PackageInfo,
}

impl RecordBuilder {
    pub(crate) fn new() -> Self {
        RecordBuilder {
            name: None,
            version: None,
            info: PackageInfo::new(
                PackageName::new("placeholder").expect("valid"),
                Version::new("0").expect("valid"),
            ),
        }
    }

    /// Applies an index field; returns `false` if the letter is not an index field.
    pub(crate) fn apply(
        &mut self,
        source: &str,
        line: usize,
        field: char,
        value: &str,
    ) -> Result<bool, IndexError> {
        let bad = |reason: String| IndexError::Field {
            source_name: source.to_owned(),
            line,
            field,
            value: value.to_owned(),
            reason,
        };
        let number = |v: &str| v.parse::<u64>().map_err(|e| bad(e.to_string()));
        let info = &mut self.info;
        match field {
            'P' => self.name = Some(PackageName::new(value).map_err(|e| bad(e.to_string()))?),
            'V' => self.version = Some(Version::new(value).map_err(|e| bad(e.to_string()))?),
            'C' => info.checksum = Some(value.parse::<Checksum>().map_err(|e| bad(e.to_string()))?),
            'A' => info.arch = Some(value.to_owned()),
            'S' => info.size = number(value)?,
            'I' => info.installed_size = number(value)?,
            'T' => info.description = value.to_owned(),
            'U' => info.url = value.to_owned(),
            'L' => info.license = value.to_owned(),
            'o' => info.origin = Some(value.to_owned()),
            'm' => info.maintainer = Some(value.to_owned()),
            't' => info.build_time = Some(number(value)?),
            'c' => info.commit = Some(value.to_owned()),
            'k' => info.provider_priority = Some(number(value)? as u32),
            // Repeated lines add to the list, as apk reads them.
            'D' => info
                .depends
                .extend(lenient_list(value, source, line, field)),
            'p' => info
                .provides
                .extend(lenient_list(value, source, line, field)),
            'i' => info
                .install_if
                .extend(lenient_list(value, source, line, field)),
            _ => return Ok(false),
        }
        Ok(true)
    }

    pub(crate) fn finish(self, source: &str, line: usize) -> Result<PackageInfo, IndexError> {
        let incomplete = |missing| IndexError::Incomplete {
            source_name: source.to_owned(),
            line,
            missing,
        };
        let mut info = self.info;
        info.name = self.name.ok_or_else(|| incomplete("P:"))?;
        info.version = self.version.ok_or_else(|| incomplete("V:"))?;
        Ok(info)
    }
}

/// Parses a space-separated list; like apk 2.x, parsing stops at the first invalid entry.
fn lenient_list<T: std::str::FromStr>(value: &str, source: &str, line: usize, field: char) -> Vec<T>
where
    T::Err: std::fmt::Display,
{
    let mut out = Vec::new();
    for item in value.split_ascii_whitespace() {
        match item.parse() {
            Ok(v) => out.push(v),
            Err(e) => {
                tracing::warn!(
                    "{source} line {line}: ignoring the rest of `{field}:` from `{item}`: {e}"
                );
                break;
            }
        }
    }
    out
}

/// Parses `APKINDEX` text. `source` names the file or URL in errors. Lines end at `\n`, as
/// apk reads them (a `\r` before it is part of the value).
///
/// Unknown lower-case fields are ignored; an unknown upper-case field marks the package
/// [`PackageInfo::uninstallable`], as apk-tools does.
pub fn parse_index_text(text: &str, source: &str) -> Result<ApkIndex, IndexError> {
    let mut packages = Vec::new();
    let mut current: Option<RecordBuilder> = None;
    let mut last_line = 0;
    // Lines end at `\n` only, as apk reads them: a `\r` is part of the value.
    for (i, line) in text.split('\n').enumerate() {
        let lineno = i + 1;
        last_line = lineno;
        if line.is_empty() {
            if let Some(rec) = current.take() {
                packages.push(rec.finish(source, lineno - 1)?);
            }
            continue;
        }
        let bytes = line.as_bytes();
        if bytes.len() < 2 || bytes[1] != b':' || !bytes[0].is_ascii_alphabetic() {
            return Err(IndexError::Syntax {
                source_name: source.to_owned(),
                line: lineno,
                text: line.chars().take(80).collect(),
            });
        }
        let field = bytes[0] as char;
        let value = &line[2..];
        let rec = current.get_or_insert_with(RecordBuilder::new);
        if !rec.apply(source, lineno, field, value)?
            && !INSTALLED_ONLY.contains(field)
            && field.is_ascii_uppercase()
        {
            rec.info.uninstallable = true;
        }
    }
    if let Some(rec) = current.take() {
        packages.push(rec.finish(source, last_line)?);
    }
    Ok(ApkIndex {
        description: None,
        packages,
    })
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    let mut s = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{item}");
    }
    s
}

/// Writes one record's index fields in apk-tools' order (`C P V A S I T U L o m t c k D p i`),
/// without the terminating blank line.
pub fn write_record(out: &mut String, p: &PackageInfo) {
    let mut line = |k: char, v: &str| {
        let _ = writeln!(out, "{k}:{v}");
    };
    if let Some(c) = &p.checksum {
        line('C', &c.to_string());
    }
    line('P', p.name.as_str());
    line('V', p.version.as_str());
    if let Some(a) = &p.arch {
        line('A', a);
    }
    line('S', &p.size.to_string());
    line('I', &p.installed_size.to_string());
    line('T', &p.description);
    line('U', &p.url);
    line('L', &p.license);
    if let Some(o) = &p.origin {
        line('o', o);
    }
    if let Some(m) = &p.maintainer {
        line('m', m);
    }
    if let Some(t) = p.build_time.filter(|&t| t != 0) {
        line('t', &t.to_string());
    }
    if let Some(c) = &p.commit {
        line('c', c);
    }
    if let Some(k) = p.provider_priority.filter(|&k| k != 0) {
        line('k', &k.to_string());
    }
    if !p.depends.is_empty() {
        line('D', &join(&p.depends));
    }
    if !p.provides.is_empty() {
        line('p', &join::<Provide>(&p.provides));
    }
    if !p.install_if.is_empty() {
        line('i', &join::<Dependency>(&p.install_if));
    }
}

/// Writes `APKINDEX` text: every record followed by a blank line.
pub fn write_index_text(index: &ApkIndex) -> String {
    let mut out = String::new();
    for p in &index.packages {
        write_record(&mut out, p);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "C:Q1wJxYBoMXOvOSaYqLPzc5O0LQzOE=\nP:postgresql14-openrc\nV:14.5-r0\nA:x86_64\nS:1561\nI:4096\n\
T:A sophisticated object-relational DBMS, version 14 (OpenRC init scripts)\nU:https://www.postgresql.org/\nL:PostgreSQL\n\
o:postgresql14\nm:Jakub Jirutka <jakub@jirutka.cz>\nt:1660522794\nc:6c78101c01706bcfeea2d4f6c7ce4090d0124b38\nk:14\n\
D:postgresql-common-openrc\ni:openrc postgresql14=14.5-r0\n\nC:Q1C4uoV7SdMdDhYg4OCVmI71D8HIA=\nP:b\nV:1\nS:1\nI:1\nT:\nU:\nL:\n\
D:a>1 !c\np:cmd:b=1 so:libb.so.1=1.0\n\n";

    #[test]
    fn parse_and_write_round_trip() {
        let idx = parse_index_text(TEXT, "APKINDEX").unwrap();
        assert_eq!(idx.packages.len(), 2);
        let p = &idx.packages[0];
        assert_eq!(p.name.as_str(), "postgresql14-openrc");
        assert_eq!(p.provider_priority, Some(14));
        assert_eq!(p.install_if.len(), 2);
        assert_eq!(write_index_text(&idx), TEXT);
    }

    #[test]
    fn unknown_fields() {
        let idx = parse_index_text("P:a\nV:1\nx:ignored\n\nP:b\nV:1\nX:new\n", "i").unwrap();
        assert!(!idx.packages[0].uninstallable);
        assert!(
            idx.packages[1].uninstallable,
            "an unknown upper-case field makes it uninstallable"
        );
        // The last record may lack the blank line.
        assert_eq!(idx.packages.len(), 2);
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = parse_index_text("P:a\nV:1\n\nP:b\nV:not valid\n", "repo/APKINDEX").unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("repo/APKINDEX line 5") && s.contains("`V:`"),
            "{s}"
        );
        let e = parse_index_text("P:a\ngarbage\n", "i").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse_index_text("P:a\n\n", "i").unwrap_err();
        assert!(e.to_string().contains("V:"), "{e}");
    }

    #[test]
    fn bad_dependency_stops_the_field() {
        let idx =
            parse_index_text("P:a\nV:1\nD:b c=bad d\np:so:x=0unstable so:y=1\n", "i").unwrap();
        assert_eq!(idx.packages[0].depends.len(), 1);
        assert!(idx.packages[0].provides.is_empty());
    }

    #[test]
    fn carriage_returns_are_part_of_values() {
        // Found by fuzzing: `lines()` also ended lines at `\r\n`, so a value ending in `\r`
        // lost it when the written index was read back.
        let text = "P:a\nV:1\nT:desc\r\nc:\r\r\nS:0\nI:0\nU:\nL:\n\n";
        let idx = parse_index_text(text, "i").unwrap();
        assert_eq!(idx.packages[0].description, "desc\r");
        assert_eq!(idx.packages[0].commit.as_deref(), Some("\r\r"));
        let again = parse_index_text(&write_index_text(&idx), "i").unwrap();
        assert_eq!(again, idx);
        // apk refuses a version with a `\r`, and so do we.
        assert!(parse_index_text("P:a\r\nV:1\r\n", "i").is_err());
    }
}
