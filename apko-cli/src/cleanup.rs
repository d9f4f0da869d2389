//! What a command leaves behind when it is interrupted (SIGINT, SIGTERM, SIGHUP): nothing.
//!
//! A command registers what it creates before it exists: the build's work directory, the
//! directory and name of an output (whose temporary files are `.<name>.*` next to it, see
//! `apko_oci::write_atomically`; a layout's staging directories are `.apko-layout-*`), and
//! outputs already renamed into place that must not outlive a failed whole (SBOMs written
//! before their image). On a signal the handler thread removes them and exits with 128 + the
//! signal number, as a shell reports it.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Default)]
struct Registry {
    /// Directories removed whole.
    dirs: Vec<PathBuf>,
    /// (directory, prefix): entries of the directory whose name starts with the prefix.
    temp_prefixes: Vec<(PathBuf, String)>,
    /// Files that are complete but belong to an output that is not.
    uncommitted: Vec<PathBuf>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn with(f: impl FnOnce(&mut Registry)) {
    let mut g = REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(g.get_or_insert_with(Registry::default));
}

/// Installs the handler (once, at start).
pub(crate) fn install() {
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        tracing::debug!("cannot install signal handlers; interrupted builds may leave files");
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            remove_all();
            eprintln!("interrupted; temporary files removed");
            std::process::exit(128 + sig);
        }
    });
}

/// Removes `dir` on a signal (until [`forget_dir`]).
pub(crate) fn dir(dir: &Path) {
    with(|r| r.dirs.push(dir.to_owned()));
}

/// The directory is gone (or kept on purpose): no longer removed on a signal.
pub(crate) fn forget_dir(dir: &Path) {
    with(|r| r.dirs.retain(|d| d != dir));
}

/// The temporary files of the output `path` are removed on a signal.
pub(crate) fn output(path: &Path) {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    with(|r| {
        r.temp_prefixes.push((parent.clone(), format!(".{name}.")));
        // A layout: its staging directories.
        r.temp_prefixes
            .push((path.to_owned(), ".apko-layout-".to_owned()));
    });
}

/// Entries of `dir` starting with `prefix` are removed on a signal.
pub(crate) fn temp_prefix(dir: &Path, prefix: &str) {
    with(|r| r.temp_prefixes.push((dir.to_owned(), prefix.to_owned())));
}

/// `files` are removed on a signal until [`commit`] (they are only valid with the rest).
pub(crate) fn uncommitted(files: &[PathBuf]) {
    with(|r| r.uncommitted.extend_from_slice(files));
}

/// Everything written so far is complete and stays.
pub(crate) fn commit() {
    with(|r| {
        r.uncommitted.clear();
        r.temp_prefixes.clear();
    });
}

fn remove_all() {
    with(|r| {
        for f in r.uncommitted.drain(..) {
            let _ = fs_err::remove_file(&f);
        }
        for (dir, prefix) in r.temp_prefixes.drain(..) {
            let Ok(entries) = fs_err::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let p = e.path();
                    let _ = if p.is_dir() {
                        fs_err::remove_dir_all(&p)
                    } else {
                        fs_err::remove_file(&p)
                    };
                }
            }
        }
        for d in r.dirs.drain(..) {
            let _ = fs_err::remove_dir_all(&d);
        }
    });
}
