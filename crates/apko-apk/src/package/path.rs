//! Path rules for entries installed into a root.

/// Normalises a tar entry path for installation: strips `./` and trailing `/`, drops `.`
/// and empty components; refuses absolute paths, `..`, NUL and other control characters.
/// Returns `Ok(None)` for the root
/// itself (`./`).
pub fn normalize_entry_path(path: &str) -> Result<Option<String>, &'static str> {
    if path.starts_with('/') {
        return Err("absolute path");
    }
    if path.contains('\0') {
        return Err("NUL in path");
    }
    // A newline would start a new record in the installed database (`F:`/`R:` lines).
    if path.chars().any(char::is_control) {
        return Err("control character in path");
    }
    let mut parts = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("`..` in path"),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(parts.join("/")))
}

/// Resolves a symlink target lexically from the link's own directory. Absolute targets are
/// taken relative to the root. Fails if the target climbs above the root.
///
/// ```
/// use apko_apk::package::resolve_symlink_target;
/// assert_eq!(resolve_symlink_target("usr/bin/sh", "busybox").unwrap(), "usr/bin/busybox");
/// assert_eq!(resolve_symlink_target("lib/apk", "../usr/lib/apk").unwrap(), "usr/lib/apk");
/// assert!(resolve_symlink_target("etc/x", "../../etc/shadow").is_err());
/// ```
pub fn resolve_symlink_target(link_path: &str, target: &str) -> Result<String, &'static str> {
    if target.is_empty() {
        return Err("empty symlink target");
    }
    if target.chars().any(char::is_control) {
        return Err("control character in symlink target");
    }
    let mut parts: Vec<&str> = Vec::new();
    if !target.starts_with('/') {
        parts.extend(link_path.split('/').filter(|c| !c.is_empty()));
        parts.pop();
    }
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("symlink points outside the root");
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize() {
        assert_eq!(
            normalize_entry_path("usr/bin/").unwrap().as_deref(),
            Some("usr/bin")
        );
        assert_eq!(
            normalize_entry_path("./etc//x").unwrap().as_deref(),
            Some("etc/x")
        );
        assert_eq!(normalize_entry_path("./").unwrap(), None);
        assert!(normalize_entry_path("/etc/passwd").is_err());
        assert!(normalize_entry_path("usr/../../etc").is_err());
        assert!(normalize_entry_path("usr/share/x\n\nP:openssl").is_err());
        assert!(normalize_entry_path("usr/\tx").is_err());
    }

    #[test]
    fn symlinks() {
        assert_eq!(
            resolve_symlink_target("bin/sh", "/bin/busybox").unwrap(),
            "bin/busybox"
        );
        assert_eq!(resolve_symlink_target("a/b/c", "../../d").unwrap(), "d");
        assert!(resolve_symlink_target("a", "..").is_err());
        assert!(resolve_symlink_target("a", "").is_err());
        assert!(resolve_symlink_target("a", "b\nP:x").is_err());
    }
}
