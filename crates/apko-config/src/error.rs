use std::path::PathBuf;

/// A configuration that cannot be used. Every variant names the file; syntax and validation
/// errors also give the line, column and field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than any configuration (`/dev/zero`, a wrong path).
    #[error("`{}` is larger than {limit} bytes, too large for a configuration file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// The YAML does not fit the schema (unknown key, wrong type, invalid value).
    #[error("{file}:{line}:{column}: {}{message}", field_prefix(field.as_ref()))]
    Syntax {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// The field path (`contents.packages[2]`), when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A value is not allowed.
    #[error("{file}{}: {}{message}", location(*line, *column), field_prefix(Some(field)))]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line, when known.
        line: Option<u64>,
        /// 1-based column, when known.
        column: Option<u64>,
        /// The field path.
        field: String,
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// `include` files include each other.
    #[error("{file}: include cycle: {}", chain.join(" → "))]
    IncludeCycle {
        /// The file.
        file: String,
        /// The files involved.
        chain: Vec<String>,
    },
}

fn field_prefix(field: Option<&String>) -> String {
    match field {
        Some(f) if !f.is_empty() => format!("`{f}`: "),
        _ => String::new(),
    }
}

fn location(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

impl ConfigError {
    /// A suggestion for the user, when there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            ConfigError::Invalid { hint, .. } => hint.clone(),
            ConfigError::Syntax { message, .. } if message.starts_with("unknown field") => Some(
                "check the spelling; the keys apko.yaml accepts are listed in docs/config.md"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}
