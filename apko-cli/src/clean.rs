//! `clean`: deletes the package cache (`--dry-run`: only reports its size), with apko's
//! messages.

use crate::cachedir::{absolute, default_cache_dir};
use crate::render::{CliError, notice};
use std::path::Path;

/// `apko clean [--cache-dir DIR] [--dry-run]`.
pub(crate) fn clean(cache_dir: Option<&Path>, dry_run: bool) -> Result<(), CliError> {
    let dir = match cache_dir {
        Some(d) => absolute(d).map_err(|e| {
            CliError::usage(format!("cannot read the current directory: {e}"), None)
        })?,
        None => default_cache_dir().ok_or_else(|| {
            CliError::usage(
                "failed to determine user cache directory: neither $XDG_CACHE_HOME nor $HOME are defined",
                Some("pass --cache-dir"),
            )
        })?,
    };
    notice(&format!("Cleaning cache directory: {}", dir.display()));
    match fs_err::metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            notice("Cache directory does not exist, nothing to clean");
            return Ok(());
        }
        Err(e) => {
            return Err(CliError::usage(
                format!("failed to stat cache directory: {e}"),
                None,
            ));
        }
        Ok(m) if !m.is_dir() => {
            return Err(CliError::usage(
                format!("cache path is not a directory: {}", dir.display()),
                None,
            ));
        }
        Ok(_) => {}
    }
    let size = tree_size(&dir)
        .map_err(|e| CliError::usage(format!("failed to calculate cache size: {e}"), None))?;
    notice(&format!("Cache size: {}", format_bytes(size)));
    if dry_run {
        notice("Dry run mode: cache directory will not be deleted");
        return Ok(());
    }
    fs_err::remove_dir_all(&dir)
        .map_err(|e| CliError::usage(format!("failed to remove cache directory: {e}"), None))?;
    notice("Cache directory cleaned successfully");
    Ok(())
}

/// The sizes of every entry that is not a directory, symbolic links not followed (a link
/// counts the length of its target), as Go's `filepath.Walk` reports them.
fn tree_size(root: &Path) -> std::io::Result<u64> {
    let mut total = 0u64;
    let mut stack = vec![root.to_owned()];
    while let Some(p) = stack.pop() {
        let m = fs_err::symlink_metadata(&p)?;
        if m.is_dir() {
            for e in fs_err::read_dir(&p)? {
                stack.push(e?.path());
            }
        } else {
            total = total.saturating_add(m.len());
        }
    }
    Ok(total)
}

/// apko's `formatBytes`: `100 B`, then 1024-based with one decimal (`1.5 KB`, `1.0 MB`).
#[allow(clippy::cast_precision_loss)] // Go divides float64s too; one decimal is shown.
pub(crate) fn format_bytes(n: u64) -> String {
    const UNIT: u64 = 1024;
    if n < UNIT {
        return format!("{n} B");
    }
    let (mut div, mut exp) = (UNIT, 0);
    let mut rest = n / UNIT;
    while rest >= UNIT {
        div *= UNIT;
        exp += 1;
        rest /= UNIT;
    }
    format!(
        "{:.1} {}B",
        n as f64 / div as f64,
        ['K', 'M', 'G', 'T', 'P', 'E'][exp]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_as_apko_formats_them() {
        for (n, s) in [
            (0, "0 B"),
            (100, "100 B"),
            (1023, "1023 B"),
            (1024, "1.0 KB"),
            (1536, "1.5 KB"),
            (1 << 20, "1.0 MB"),
            (1 << 30, "1.0 GB"),
            (1 << 40, "1.0 TB"),
            (u64::MAX, "16.0 EB"),
        ] {
            assert_eq!(format_bytes(n), s, "{n}");
        }
    }

    #[test]
    fn sizes_count_files_and_links() {
        let d = tempfile::tempdir().unwrap();
        fs_err::create_dir_all(d.path().join("a/b")).unwrap();
        fs_err::write(d.path().join("a/b/f"), [0u8; 100]).unwrap();
        fs_err::write(d.path().join("g"), [0u8; 24]).unwrap();
        std::os::unix::fs::symlink("a/b/f", d.path().join("l")).unwrap();
        assert_eq!(tree_size(d.path()).unwrap(), 100 + 24 + 5);
    }
}
