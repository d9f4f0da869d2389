//! The default cache directory, where apko keeps it: `os.UserCacheDir()` +
//! `dev.chainguard.go-apk`, that is `$XDG_CACHE_HOME/dev.chainguard.go-apk` when
//! `XDG_CACHE_HOME` is set to an absolute path, else `$HOME/.cache/dev.chainguard.go-apk`.

use std::path::PathBuf;

/// The directory name under the user's cache directory (apko's, so that caches are shared).
pub(crate) const CACHE_DIR_NAME: &str = "dev.chainguard.go-apk";

/// The default cache directory; `None` when neither `XDG_CACHE_HOME` (absolute) nor `HOME`
/// is set.
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".cache"))
    })?;
    Some(base.join(CACHE_DIR_NAME))
}
