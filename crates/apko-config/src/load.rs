//! Reading configuration files: strict parsing, `include`, merging.

use crate::error::ConfigError;
use crate::locate::{self, Location, Node};
use crate::types::ImageConfig;
use crate::validate::validate;
use std::path::{Path, PathBuf};

/// One file that went into a configuration.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// The file as resolved.
    pub path: PathBuf,
    /// How it is named in messages.
    pub name: String,
    /// Its raw bytes (the lockfile checksum is computed over them).
    pub bytes: Vec<u8>,
    tree: Option<Node>,
}

/// A parsed, merged and validated configuration, with the files it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: ImageConfig,
    /// The top file first, then the included files in load order.
    pub sources: Vec<ConfigSource>,
}

impl LoadedConfig {
    /// Where a field (`contents.packages[2]`) is written: the first file that has it.
    pub fn locate(&self, field: &str) -> Option<(&str, Location)> {
        self.sources.iter().find_map(|s| {
            let loc = locate::find(s.tree.as_ref()?, field)?;
            Some((s.name.as_str(), loc))
        })
    }

    /// The name of the top file.
    pub fn name(&self) -> &str {
        self.sources
            .first()
            .map_or("apko.yaml", |s| s.name.as_str())
    }

    /// An error about `field`, located in the file that defines it.
    pub fn invalid(
        &self,
        field: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> ConfigError {
        let (file, loc) = match self.locate(field) {
            Some((f, l)) => (f.to_owned(), Some(l)),
            None => (self.name().to_owned(), None),
        };
        ConfigError::Invalid {
            file,
            line: loc.map(|l| l.line),
            column: loc.map(|l| l.column),
            field: field.to_owned(),
            message: message.into(),
            hint,
        }
    }
}

fn options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    // YAML 1.1 octal (`0755`), as Go's yaml.v3 reads it for apko.
    o.legacy_octal_numbers = true;
    o.with_snippet = false;
    o
}

/// Parses one document strictly (no includes, no validation). `name` is used in errors.
pub fn parse_str(text: &str, name: &str) -> Result<ImageConfig, ConfigError> {
    serde_saphyr::from_str_with_options::<ImageConfig>(text, options()).map_err(|e| {
        let message = e.to_string();
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        let message = humanize(&message, scalar_at(text, line, column));
        let field = locate::tree(text)
            .map(|t| locate::path_at(&t, Location { line, column }))
            .filter(|f| !f.is_empty());
        ConfigError::Syntax {
            file: name.to_owned(),
            line,
            column,
            field,
            message,
        }
    })
}

/// The YAML scalar that starts at `line:column` (1-based), as written.
fn scalar_at(text: &str, line: u64, column: u64) -> Option<&str> {
    let l = text
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let start = usize::try_from(column).ok()?.checked_sub(1)?;
    let rest = l.get(start..)?;
    let end = rest.find([',', ']', '}', '#']).unwrap_or(rest.len());
    let v = rest[..end].trim();
    (!v.is_empty()).then_some(v)
}

/// The parser's messages in the user's terms: what was expected, in YAML words, with the
/// offending value quoted; never advice about Rust types.
fn humanize(message: &str, value: Option<&str>) -> String {
    let found = value.map_or_else(String::new, |v| format!(", found `{v}`"));
    let number = |max: &str| match value {
        Some(v) => format!("`{v}` is not a whole number from 0 to {max}"),
        None => format!("expected a whole number from 0 to {max}"),
    };
    match message {
        "invalid u8" => number("255"),
        "invalid u16" => number("65535"),
        "invalid u32" => number("4294967295"),
        "invalid u64" => number("18446744073709551615"),
        "invalid i64" | "invalid i32" => match value {
            Some(v) => format!("`{v}` is not a whole number"),
            None => "expected a whole number".to_owned(),
        },
        "expected sequence start" => format!("expected a list (`- item` lines or `[a, b]`){found}"),
        "expected mapping start" => format!("expected a mapping (`key: value` lines){found}"),
        m if m.starts_with("cannot deserialize null into ") => {
            let what = m
                .trim_start_matches("cannot deserialize null into ")
                .split(';')
                .next()
                .unwrap_or("a value");
            format!(
                "a value is required here (expected {}), found nothing",
                plain_type(what)
            )
        }
        m => match m.split_once("; use ") {
            // Any other advice about Rust types is dropped.
            Some((head, _)) => head.to_owned(),
            None => m.to_owned(),
        },
    }
}

fn plain_type(rust: &str) -> &str {
    match rust.trim() {
        "string" | "String" => "text",
        "u32" | "u64" | "u16" | "u8" => "a number",
        "bool" => "true or false",
        other => other,
    }
}

/// Parses and validates a configuration given as text (an `include` is resolved from the
/// current directory and `include_paths`).
pub fn load_str(
    text: &str,
    name: &str,
    include_paths: &[PathBuf],
) -> Result<LoadedConfig, ConfigError> {
    let (config, source) = parse_source(PathBuf::from(name), text.as_bytes().to_vec())?;
    finish(config, source, None, include_paths)
}

/// Reads, parses, merges (`include`) and validates a configuration file.
pub fn load(path: &Path, include_paths: &[PathBuf]) -> Result<LoadedConfig, ConfigError> {
    let (config, source) = read_source(path)?;
    finish(config, source, path.parent(), include_paths)
}

/// Reads and parses one configuration file (the top one or an included one).
fn read_source(path: &Path) -> Result<(ImageConfig, ConfigSource), ConfigError> {
    let bytes = read_bounded(path, MAX_CONFIG_SIZE)?;
    parse_source(path.to_owned(), bytes)
}

/// The largest configuration file read (real ones are a few KiB).
const MAX_CONFIG_SIZE: u64 = 16 << 20;

/// Reads at most `limit` bytes of `path`: a device or a runaway file is refused, not read
/// until memory runs out.
fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read as _;
    let err = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let f = fs_err::File::open(path).map_err(err)?;
    let mut bytes = Vec::new();
    f.take(limit + 1).read_to_end(&mut bytes).map_err(err)?;
    if bytes.len() as u64 > limit {
        return Err(ConfigError::TooLarge {
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// Parses the bytes of one configuration file, keeping them (for lockfile checksums) and
/// their location tree (for error messages).
fn parse_source(path: PathBuf, bytes: Vec<u8>) -> Result<(ImageConfig, ConfigSource), ConfigError> {
    let name = path.display().to_string();
    let text = std::str::from_utf8(&bytes).map_err(|_| ConfigError::Syntax {
        file: name.clone(),
        line: 0,
        column: 0,
        field: None,
        message: "not UTF-8 text".to_owned(),
    })?;
    let config = parse_str(text, &name)?;
    let tree = locate::tree(text);
    Ok((
        config,
        ConfigSource {
            path,
            name,
            bytes,
            tree,
        },
    ))
}

fn finish(
    config: ImageConfig,
    source: ConfigSource,
    dir: Option<&Path>,
    include_paths: &[PathBuf],
) -> Result<LoadedConfig, ConfigError> {
    let mut sources = vec![source];
    let config = resolve_includes(config, dir, include_paths, &mut sources)?;
    let mut loaded = LoadedConfig { config, sources };
    trim_repositories(&mut loaded.config);
    validate(&loaded)?;
    Ok(loaded)
}

/// Finds an included file: as given (relative to the current directory, as apko does), then
/// next to the including file, then under each include path.
fn find_include(name: &str, dir: Option<&Path>, include_paths: &[PathBuf]) -> Option<PathBuf> {
    let given = PathBuf::from(name);
    if given.is_file() {
        return Some(given);
    }
    if let Some(d) = dir {
        let p = d.join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    include_paths
        .iter()
        .map(|p| p.join(name))
        .find(|p| p.is_file())
}

fn resolve_includes(
    mut config: ImageConfig,
    dir: Option<&Path>,
    include_paths: &[PathBuf],
    sources: &mut Vec<ConfigSource>,
) -> Result<ImageConfig, ConfigError> {
    let Some(include) = config.include.clone() else {
        return Ok(config);
    };
    let current = sources.last().map(|s| s.name.clone()).unwrap_or_default();
    let Some(path) = find_include(&include, dir, include_paths) else {
        return Err(ConfigError::Invalid {
            file: current.clone(),
            line: None,
            column: None,
            field: "include".to_owned(),
            message: format!("included file `{include}` not found"),
            hint: Some("paths are looked up in the current directory, next to the including file, then under --include-paths".to_owned()),
        });
    };
    let name = path.display().to_string();
    // The same file under another spelling (`../dir/a.yaml`, a symbolic link) is the same
    // file: compare canonical paths.
    let canonical = |p: &Path| fs_err::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    let this = canonical(&path);
    if sources.iter().any(|s| canonical(&s.path) == this) {
        let mut chain: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
        chain.push(name);
        return Err(ConfigError::IncludeCycle {
            file: current,
            chain,
        });
    }
    let (base, source) = read_source(&path)?;
    sources.push(source);
    let base = resolve_includes(base, path.parent(), include_paths, sources)?;
    config.include = None;
    Ok(merge(base, config))
}

/// apko's `MergeInto`: the including file (`top`) wins for single values, lists are
/// concatenated base first, maps are merged with the including file's keys winning.
/// `vcs-url` is not inherited from the base.
pub fn merge(base: ImageConfig, top: ImageConfig) -> ImageConfig {
    fn cat<T>(mut base: Vec<T>, top: Vec<T>) -> Vec<T> {
        base.extend(top);
        base
    }
    let mut environment = base.environment;
    environment.extend(top.environment);
    let mut annotations = base.annotations;
    annotations.extend(top.annotations);
    let (b, t) = (base.contents, top.contents);
    let entrypoint = if top.entrypoint == crate::types::Entrypoint::default() {
        base.entrypoint
    } else {
        top.entrypoint
    };
    ImageConfig {
        contents: crate::types::Contents {
            build_repositories: cat(b.build_repositories, t.build_repositories),
            runtime_repositories: cat(b.runtime_repositories, t.runtime_repositories),
            repositories: cat(b.repositories, t.repositories),
            keyring: cat(b.keyring, t.keyring),
            runtime_keyring: cat(b.runtime_keyring, t.runtime_keyring),
            packages: cat(b.packages, t.packages),
            baseimage: t.baseimage.or(b.baseimage),
        },
        entrypoint,
        cmd: top.cmd.or(base.cmd),
        stop_signal: top.stop_signal.or(base.stop_signal),
        work_dir: top.work_dir.or(base.work_dir),
        accounts: crate::types::Accounts {
            run_as: top.accounts.run_as.or(base.accounts.run_as),
            users: cat(base.accounts.users, top.accounts.users),
            groups: cat(base.accounts.groups, top.accounts.groups),
        },
        archs: if top.archs.is_empty() {
            base.archs
        } else {
            top.archs
        },
        environment,
        paths: cat(base.paths, top.paths),
        vcs_url: top.vcs_url,
        annotations,
        include: top.include,
        volumes: cat(base.volumes, top.volumes),
        layering: top.layering.or(base.layering),
        certificates: top.certificates.or(base.certificates),
        format: top.format.or(base.format),
        compression: top.compression.or(base.compression),
    }
}

fn trim_repositories(c: &mut ImageConfig) {
    for list in [
        &mut c.contents.repositories,
        &mut c.contents.build_repositories,
        &mut c.contents.runtime_repositories,
    ] {
        for r in list.iter_mut() {
            let trimmed = r.trim_end_matches('/').len();
            r.truncate(trimmed);
        }
    }
}
