//! Where apko keeps downloaded indexes and packages by default: go-apk's
//! `os.UserCacheDir()/dev.chainguard.go-apk`.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// The directory name under the user's cache directory (apko's, so that caches are shared).
pub(crate) const CACHE_DIR_NAME: &str = "dev.chainguard.go-apk";

/// `$XDG_CACHE_HOME/dev.chainguard.go-apk` when `XDG_CACHE_HOME` is set to an absolute path,
/// else `$HOME/.cache/dev.chainguard.go-apk` (on macOS `$HOME/Library/Caches/…`, as Go's
/// `os.UserCacheDir`); `None` without a usable `HOME`.
pub(crate) fn default_cache_dir() -> Option<PathBuf> {
    from_env(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
}

fn from_env(xdg: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let home = || home.filter(|h| !h.is_empty()).map(PathBuf::from);
    let base = if cfg!(target_os = "macos") {
        home()?.join("Library/Caches")
    } else {
        match xdg.filter(|x| !x.is_empty()).map(PathBuf::from) {
            Some(x) if x.is_absolute() => x,
            _ => home()?.join(".cache"),
        }
    };
    Some(base.join(CACHE_DIR_NAME))
}

/// Go's `filepath.Abs`: relative to the current directory, `.` and `..` removed lexically.
pub(crate) fn absolute(p: &Path) -> std::io::Result<PathBuf> {
    let joined = if p.is_absolute() {
        p.to_owned()
    } else {
        std::env::current_dir()?.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(not(target_os = "macos"))]
    fn xdg_then_home() {
        let s = |v: &str| Some(OsString::from(v));
        assert_eq!(
            from_env(s("/x/cache"), s("/home/u")),
            Some(PathBuf::from("/x/cache/dev.chainguard.go-apk"))
        );
        for xdg in [None, s(""), s("relative/cache")] {
            assert_eq!(
                from_env(xdg, s("/home/u")),
                Some(PathBuf::from("/home/u/.cache/dev.chainguard.go-apk"))
            );
        }
        assert_eq!(from_env(None, None), None);
        assert_eq!(from_env(s("rel"), s("")), None);
    }

    #[test]
    fn absolute_paths_are_cleaned() {
        assert_eq!(
            absolute(Path::new("/a/./b/../c")).unwrap(),
            PathBuf::from("/a/c")
        );
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute(Path::new("x/..")).unwrap(), cwd);
    }
}
