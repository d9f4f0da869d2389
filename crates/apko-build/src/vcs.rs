//! `--vcs`: the `vcs-url` of a build read from the git checkout that holds its configuration,
//! as apko probes it (`pkg/vcs` with go-git), without running git.
//!
//! The search starts at the configuration file's directory and walks up to the top-level
//! directory (the current directory), never above it. The first directory that is a
//! repository wins: `<dir>/.git` (a directory, or a file with `gitdir: <path>`), or `<dir>`
//! itself when it is a bare repository; it must have a `HEAD`. The result is
//! `<origin url>@<HEAD commit>`: the first `url` of `[remote "origin"]` in the repository's
//! own `config` (with its `url.<base>.insteadOf` rules applied; the user's global git
//! configuration is not read), normalised as apko does (scp-style `git@host:path` becomes
//! `git+ssh://host/path`, user information is removed, `.git` is kept), and `HEAD` resolved
//! through symbolic references, loose references and `packed-refs` to a commit that must
//! exist in the object store (loose, or in a pack index).
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! # let git = dir.path().join(".git");
//! # fs_err::create_dir_all(git.join("refs/heads"))?;
//! # fs_err::create_dir_all(git.join("objects/01"))?;
//! # fs_err::write(git.join("HEAD"), "ref: refs/heads/main\n")?;
//! # let sha = "0123456789abcdef0123456789abcdef01234567";
//! # fs_err::write(git.join("refs/heads/main"), format!("{sha}\n"))?;
//! # fs_err::write(git.join("objects/01").join(&sha[2..]), "")?;
//! # fs_err::write(git.join("config"), "[remote \"origin\"]\n\turl = git@github.com:org/repo.git\n")?;
//! # fs_err::write(dir.path().join("apko.yaml"), "")?;
//! let url = apko_build::probe_vcs_url(&dir.path().join("apko.yaml"), dir.path())?;
//! assert_eq!(url, "git+ssh://github.com/org/repo.git@0123456789abcdef0123456789abcdef01234567");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod url;

use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

/// Why no VCS information was found. apko (and the `apko` command) only log these at debug
/// level and build without `vcs-url`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VcsError {
    /// The configuration's directory cannot be examined.
    #[error("cannot check start directory: {}", path.display())]
    Start {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is not below the top-level directory.
    #[error("path {} is not contained by {}", path.display(), toplevel.display())]
    NotContained {
        /// The configuration's directory.
        path: PathBuf,
        /// The top-level directory.
        toplevel: PathBuf,
    },
    /// No repository between the configuration's directory and the top-level directory.
    #[error("directory {} is not in a git repository", .0.display())]
    NotARepository(PathBuf),
    /// The repository has no `origin` remote with a URL.
    #[error("unable to determine upstream git vcs url: remote not found")]
    NoRemote,
    /// The remote URL cannot be parsed even as an scp-style address.
    #[error("unable to parse the remote url: {0}")]
    Url(String),
    /// `HEAD` does not lead to a commit (an unborn branch, a dangling reference).
    #[error("unable to determine the HEAD revision: {0}")]
    Head(String),
    /// A repository file cannot be read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The `vcs-url` apko would detect for the configuration `config` (relative paths are
/// taken from `toplevel`, the current directory): `<remote url>@<commit>`.
pub fn probe_vcs_url(config: &Path, toplevel: &Path) -> Result<String, VcsError> {
    let toplevel = clean(toplevel);
    let mut start = clean(&toplevel.join(config));
    let meta = fs_err::metadata(&start).map_err(|source| VcsError::Start {
        path: start.clone(),
        source,
    })?;
    if !meta.is_dir() {
        start.pop();
    }
    let git_dir = find_repository(&start, &toplevel)?;
    let remote = origin_url(&git_dir)?;
    let url = url::normalize_remote(&remote).map_err(VcsError::Url)?;
    let head = resolve_head(&git_dir)?;
    Ok(format!("{url}@{head}"))
}

/// `filepath.Clean` of an absolute path: `.` and `..` removed lexically.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Walks up from `start` to `toplevel` (inclusive) to the first repository.
fn find_repository(start: &Path, toplevel: &Path) -> Result<PathBuf, VcsError> {
    let mut search = start.to_owned();
    loop {
        if !search.starts_with(toplevel) {
            return Err(VcsError::NotContained {
                path: search,
                toplevel: toplevel.to_owned(),
            });
        }
        if let Some(git_dir) = open(&search) {
            tracing::debug!("found a git repository at {}", git_dir.display());
            return Ok(git_dir);
        }
        if search == toplevel || !search.pop() {
            return Err(VcsError::NotARepository(search));
        }
    }
}

/// go-git's `PlainOpen` without `DetectDotGit`: the git directory of `dir`, if it is a
/// repository (one with a `HEAD`).
fn open(dir: &Path) -> Option<PathBuf> {
    let dot = dir.join(".git");
    let git_dir = match fs_err::metadata(&dot) {
        Ok(m) if m.is_dir() => dot,
        Ok(_) => {
            let text = fs_err::read_to_string(&dot).ok()?;
            let target = text.strip_prefix("gitdir: ")?.lines().next()?.trim();
            dir.join(target)
        }
        Err(_) => dir.to_owned(),
    };
    git_dir.join("HEAD").is_file().then_some(git_dir)
}

fn read(path: &Path) -> Result<Option<String>, VcsError> {
    match fs_err::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(VcsError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The first URL of `[remote "origin"]`, with the `insteadOf` rules applied.
fn origin_url(git_dir: &Path) -> Result<String, VcsError> {
    let text = read(&git_dir.join("config"))?.unwrap_or_default();
    let entries = parse_config(&text);
    let url = entries
        .iter()
        .find(|e| {
            e.section == "remote" && e.subsection.as_deref() == Some("origin") && e.key == "url"
        })
        .map(|e| e.value.clone())
        .ok_or(VcsError::NoRemote)?;
    // The longest `insteadOf` prefix wins.
    let rule = entries
        .iter()
        .filter(|e| e.section == "url" && e.key == "insteadof" && url.starts_with(&e.value))
        .filter_map(|e| Some((e.subsection.as_deref()?, e.value.as_str())))
        .fold(None::<(&str, &str)>, |best, r| match best {
            Some(b) if b.1.len() >= r.1.len() => Some(b),
            _ => Some(r),
        });
    Ok(match rule {
        Some((base, prefix)) => format!("{base}{}", &url[prefix.len()..]),
        None => url,
    })
}

/// One `key = value` of a git configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ConfigEntry {
    /// Lower-cased.
    section: String,
    /// As written (`[remote "origin"]`), or lower-cased in the old `[remote.origin]` form.
    subsection: Option<String>,
    /// Lower-cased.
    key: String,
    value: String,
}

/// Git's configuration syntax: sections, quoted subsections, comments (`#`, `;`), quoted
/// values with `\"`, `\\`, `\n`, `\t`, `\b` escapes, and lines continued with `\`.
fn parse_config(text: &str) -> Vec<ConfigEntry> {
    let mut out = Vec::new();
    let (mut section, mut subsection) = (String::new(), None::<String>);
    let mut chars = text.chars().peekable();
    loop {
        // Skip blank space and comment lines.
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.peek() {
            None => return out,
            Some('#' | ';') => {
                chars.by_ref().find(|&c| c == '\n');
            }
            Some('[') => {
                chars.next();
                let header: String = chars.by_ref().take_while(|&c| c != ']').collect();
                match header.split_once(|c: char| c.is_whitespace()) {
                    Some((name, rest)) => {
                        section = name.to_ascii_lowercase();
                        let rest = rest.trim().trim_start_matches('"');
                        let rest = rest.strip_suffix('"').unwrap_or(rest);
                        subsection = Some(rest.replace("\\\"", "\"").replace("\\\\", "\\"));
                    }
                    None => match header.split_once('.') {
                        Some((name, sub)) => {
                            section = name.to_ascii_lowercase();
                            subsection = Some(sub.to_ascii_lowercase());
                        }
                        None => {
                            section = header.trim().to_ascii_lowercase();
                            subsection = None;
                        }
                    },
                }
            }
            Some(_) => {
                let key: String = std::iter::from_fn(|| {
                    chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '-')
                })
                .collect();
                while chars.next_if(|c| *c == ' ' || *c == '\t').is_some() {}
                let value = if chars.next_if_eq(&'=').is_some() {
                    config_value(&mut chars)
                } else {
                    // A key alone is `true`; skip whatever else is on the line.
                    chars.by_ref().find(|&c| c == '\n');
                    "true".to_owned()
                };
                if key.is_empty() {
                    continue;
                }
                out.push(ConfigEntry {
                    section: section.clone(),
                    subsection: subsection.clone(),
                    key: key.to_ascii_lowercase(),
                    value,
                });
            }
        }
    }
}

fn config_value(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> String {
    let mut value = String::new();
    // Trailing unquoted white space is dropped; `pending` holds it until more text comes.
    let mut pending = String::new();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\n' => break,
            '"' => {
                value.push_str(&pending);
                pending.clear();
                quoted = !quoted;
            }
            '#' | ';' if !quoted => {
                chars.by_ref().find(|&c| c == '\n');
                break;
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some('\r') if chars.next_if_eq(&'\n').is_some() => {}
                Some(e) => {
                    value.push_str(&pending);
                    pending.clear();
                    value.push(match e {
                        'n' => '\n',
                        't' => '\t',
                        'b' => '\u{8}',
                        other => other,
                    });
                }
                None => break,
            },
            c if c.is_whitespace() && !quoted => {
                if !value.is_empty() {
                    pending.push(c);
                }
            }
            c => {
                value.push_str(&pending);
                pending.clear();
                value.push(c);
            }
        }
    }
    value
}

/// `HEAD` followed to a commit that exists.
fn resolve_head(git_dir: &Path) -> Result<String, VcsError> {
    let mut name = "HEAD".to_owned();
    for _ in 0..64 {
        let target = reference(git_dir, &name)?
            .ok_or_else(|| VcsError::Head(format!("reference not found: {name}")))?;
        match target.strip_prefix("ref:") {
            Some(next) => name = next.trim().to_owned(),
            None => {
                let sha = target.trim().to_ascii_lowercase();
                if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(VcsError::Head(format!("{name} is not a commit: `{sha}`")));
                }
                if !object_exists(git_dir, &sha)? {
                    return Err(VcsError::Head(format!("object not found: {sha}")));
                }
                return Ok(sha);
            }
        }
    }
    Err(VcsError::Head(
        "too many levels of symbolic references".to_owned(),
    ))
}

/// The content of reference `name`: its loose file, else its `packed-refs` line.
fn reference(git_dir: &Path, name: &str) -> Result<Option<String>, VcsError> {
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Ok(None);
    }
    if let Some(text) = read(&git_dir.join(name))? {
        return Ok(Some(text.lines().next().unwrap_or("").to_owned()));
    }
    let packed = read(&git_dir.join("packed-refs"))?.unwrap_or_default();
    Ok(packed.lines().find_map(|l| {
        if l.starts_with('#') || l.starts_with('^') {
            return None;
        }
        let (sha, n) = l.split_once(' ')?;
        (n.trim() == name).then(|| sha.to_owned())
    }))
}

/// Whether the object `sha` is stored loose or in one of the packs.
fn object_exists(git_dir: &Path, sha: &str) -> Result<bool, VcsError> {
    let objects = git_dir.join("objects");
    if objects.join(&sha[..2]).join(&sha[2..]).is_file() {
        return Ok(true);
    }
    let Ok(entries) = fs_err::read_dir(objects.join("pack")) else {
        return Ok(false);
    };
    let mut want = [0u8; 20];
    hex::decode_to_slice(sha, &mut want).map_err(|_| VcsError::Head(format!("bad sha {sha}")))?;
    let mut idx: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "idx"))
        .collect();
    idx.sort();
    for path in idx {
        let io = |source| VcsError::Io {
            path: path.clone(),
            source,
        };
        if pack_index_contains(&path, &want).map_err(io)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Looks `want` up in a pack index (version 1 or 2) by its fan-out table and a binary
/// search, reading only the entries it compares.
fn pack_index_contains(path: &Path, want: &[u8; 20]) -> std::io::Result<bool> {
    let mut f = fs_err::File::open(path)?;
    let mut head = [0u8; 8];
    f.read_exact(&mut head)?;
    // Version 2 starts with "\xfftOc" and the version; version 1 with the fan-out table.
    let (fanout_at, entry, first_at) = if head[..4] == *b"\xfftOc" {
        (8u64, 20u64, 8 + 256 * 4)
    } else {
        (0, 24, 256 * 4)
    };
    let fan = |f: &mut fs_err::File, i: u8| -> std::io::Result<u64> {
        let mut b = [0u8; 4];
        f.seek(SeekFrom::Start(fanout_at + u64::from(i) * 4))?;
        f.read_exact(&mut b)?;
        Ok(u64::from(u32::from_be_bytes(b)))
    };
    let mut lo = if want[0] == 0 {
        0
    } else {
        fan(&mut f, want[0] - 1)?
    };
    let mut hi = fan(&mut f, want[0])?;
    // In version 1 each entry is a 4-byte offset, then the name.
    let name_at = if entry == 24 { 4 } else { 0 };
    let mut name = [0u8; 20];
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        f.seek(SeekFrom::Start(first_at + mid * entry + name_at))?;
        f.read_exact(&mut name)?;
        match name.cmp(want) {
            std::cmp::Ordering::Equal => return Ok(true),
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests;
