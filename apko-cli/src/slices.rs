//! apko's list flags are cobra/pflag `StringSlice`s: every occurrence is read as one CSV record,
//! so `-p a,b -p c` means `a`, `b`, `c`, a field may be quoted (`"a,b"`) and an empty value adds
//! nothing. clap keeps each occurrence whole; [`split`] applies pflag's reading afterwards.

use crate::args::{Command, Common, ImageOpts};
use crate::render::CliError;
use std::path::PathBuf;

/// Splits every occurrence of the flag `flag` as pflag's `readAsCSV` does.
pub(crate) fn split(flag: &str, values: &[String]) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for v in values {
        out.extend(csv_record(v).map_err(|why| {
            CliError::usage(
                format!("{flag} `{v}`: {why}"),
                Some("separate values with commas; quote a value that contains one (\"a,b\")"),
            )
        })?);
    }
    Ok(out)
}

/// One CSV record (RFC 4180 as Go's `encoding/csv` reads it, with its default settings).
fn csv_record(s: &str) -> Result<Vec<String>, &'static str> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("a quoted value is not closed"),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err("text after a closing quote"),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some('"') => return Err("a quote inside an unquoted value"),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
        if chars.peek().is_none() {
            // A trailing comma ends with an empty field, as in Go.
            fields.push(String::new());
            return Ok(fields);
        }
    }
}

impl Common {
    fn split_lists(&mut self) -> Result<(), CliError> {
        self.arch = split("--arch", &self.arch)?;
        self.keyring_append = split("--keyring-append", &self.keyring_append)?;
        self.repository_append = split("--repository-append", &self.repository_append)?;
        self.build_repository_append =
            split("--build-repository-append", &self.build_repository_append)?;
        self.package_append = split("--package-append", &self.package_append)?;
        let paths: Vec<String> = self
            .include_paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        self.include_paths = split("--include-paths", &paths)?
            .into_iter()
            .map(PathBuf::from)
            .collect();
        Ok(())
    }
}

impl ImageOpts {
    fn split_lists(&mut self) -> Result<(), CliError> {
        self.annotations = split("--annotations", &self.annotations)?;
        self.sbom_formats = split("--sbom-formats", &self.sbom_formats)?;
        Ok(())
    }
}

impl Command {
    /// Applies pflag's list reading to every list flag of the command.
    pub(crate) fn split_lists(&mut self) -> Result<(), CliError> {
        if let Some(image) = self.image_opts() {
            image.split_lists()?;
        }
        if let Some(common) = self.common() {
            common.split_lists()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn occurrences_are_csv_records() {
        assert_eq!(split("-p", &s(&["a,b", "c"])).unwrap(), s(&["a", "b", "c"]));
        assert_eq!(split("-p", &s(&[""])).unwrap(), Vec::<String>::new());
        assert_eq!(split("-p", &s(&["\"a,b\",c"])).unwrap(), s(&["a,b", "c"]));
        assert_eq!(
            split("-p", &s(&["\"say \"\"hi\"\"\""])).unwrap(),
            s(&["say \"hi\""])
        );
        assert_eq!(split("-p", &s(&["a,"])).unwrap(), s(&["a", ""]));
        assert_eq!(split("-p", &s(&["a b"])).unwrap(), s(&["a b"]));
        assert_eq!(
            split("--annotations", &s(&["org.a:1,org.b:2"])).unwrap(),
            s(&["org.a:1", "org.b:2"])
        );
    }

    #[test]
    fn malformed_quotes_are_refused_with_the_flag() {
        for bad in ["\"a", "a\"b", "\"a\"b"] {
            let e = split("--keyring-append", &s(&[bad])).unwrap_err();
            assert!(e.to_string().contains("--keyring-append"), "{e}");
        }
    }
}
