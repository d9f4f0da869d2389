//! Rules a parsed configuration must follow (apko's `Validate`).

use crate::error::ConfigError;
use crate::load::LoadedConfig;
use crate::types::{ImageFormat, PathType};
use std::collections::BTreeSet;

fn valid_key_name(name: &str) -> bool {
    // ^[a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*$
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A field written into a line-oriented file of the image (`/etc/passwd`, `/etc/group`,
/// `/etc/shadow`, `/etc/apk/repositories`): a separator or a line break in it would forge
/// other lines (an account with uid 0, say).
fn forges_lines(s: &str, separators: &[char]) -> Option<char> {
    s.chars()
        .find(|ch| ch.is_control() || separators.contains(ch))
}

fn describe(ch: char) -> String {
    if ch.is_control() {
        format!("the control character U+{:04X}", ch as u32)
    } else {
        format!("`{ch}`")
    }
}

/// The accounts: names and fields that end up in `/etc/passwd`, `/etc/group`, `/etc/shadow`.
fn validate_accounts(l: &LoadedConfig) -> Result<(), ConfigError> {
    let a = &l.config.accounts;
    let mut names = BTreeSet::new();
    for (i, u) in a.users.iter().enumerate() {
        let fields = [
            ("username", Some(u.username.as_str())),
            ("shell", u.shell.as_deref()),
            ("homedir", u.homedir.as_deref()),
        ];
        for (field, value) in fields {
            if let Some(v) = value
                && let Some(ch) = forges_lines(v, &[':'])
            {
                return Err(l.invalid(
                    &format!("accounts.users[{i}].{field}"),
                    format!("`{}` contains {}", v.escape_debug(), describe(ch)),
                    Some(
                        "passwd fields are separated by `:` and lines by newlines; remove it"
                            .to_owned(),
                    ),
                ));
            }
        }
        if !names.insert(u.username.as_str()) {
            return Err(l.invalid(
                &format!("accounts.users[{i}].username"),
                format!("user `{}` is defined twice", u.username),
                Some("give each user one entry".to_owned()),
            ));
        }
    }
    let mut names = BTreeSet::new();
    for (i, g) in a.groups.iter().enumerate() {
        if let Some(ch) = forges_lines(&g.groupname, &[':', ',']) {
            return Err(l.invalid(
                &format!("accounts.groups[{i}].groupname"),
                format!("`{}` contains {}", g.groupname.escape_debug(), describe(ch)),
                Some("group fields are separated by `:` and members by `,`; remove it".to_owned()),
            ));
        }
        for (j, m) in g.members.iter().enumerate() {
            if let Some(ch) = forges_lines(m, &[':', ',']) {
                return Err(l.invalid(
                    &format!("accounts.groups[{i}].members[{j}]"),
                    format!("`{}` contains {}", m.escape_debug(), describe(ch)),
                    None,
                ));
            }
        }
        if !names.insert(g.groupname.as_str()) {
            return Err(l.invalid(
                &format!("accounts.groups[{i}].groupname"),
                format!("group `{}` is defined twice", g.groupname),
                Some("give each group one entry".to_owned()),
            ));
        }
    }
    if let Some(r) = &a.run_as
        && let Some(ch) = forges_lines(r, &[])
    {
        return Err(l.invalid(
            "accounts.run-as",
            format!("`{}` contains {}", r.escape_debug(), describe(ch)),
            None,
        ));
    }
    Ok(())
}

/// Strings that become lines or file names in the image.
fn validate_lines(l: &LoadedConfig) -> Result<(), ConfigError> {
    let c = &l.config.contents;
    for (field, list) in [
        ("contents.repositories", &c.repositories),
        ("contents.build_repositories", &c.build_repositories),
        ("contents.runtime_repositories", &c.runtime_repositories),
        ("contents.keyring", &c.keyring),
    ] {
        for (i, r) in list.iter().enumerate() {
            if let Some(ch) = r.chars().find(|ch| ch.is_control()) {
                return Err(l.invalid(
                    &format!("{field}[{i}]"),
                    format!("`{}` contains {}", r.escape_debug(), describe(ch)),
                    Some("each repository is one line of /etc/apk/repositories".to_owned()),
                ));
            }
        }
    }
    if let Some(certs) = &l.config.certificates {
        for (i, cert) in certs.additional.iter().enumerate() {
            let n = cert.name.as_str();
            if n.is_empty()
                || n == "."
                || n == ".."
                || n.contains('/')
                || n.chars().any(char::is_control)
            {
                return Err(l.invalid(
                    &format!("certificates.additional[{i}].name"),
                    format!("`{}` cannot be a file name", n.escape_debug()),
                    Some("the name becomes /usr/local/share/ca-certificates/<name>-<sha256>.crt: use letters, digits, `-`, `_` and `.`".to_owned()),
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn validate(l: &LoadedConfig) -> Result<(), ConfigError> {
    let c = &l.config;
    validate_accounts(l)?;
    validate_lines(l)?;
    for (i, u) in c.accounts.users.iter().enumerate() {
        if u.username.is_empty() {
            return Err(l.invalid(
                &format!("accounts.users[{i}].username"),
                "a user needs a username",
                None,
            ));
        }
        if u.uid == 0 {
            return Err(l.invalid(
                &format!("accounts.users[{i}].uid"),
                format!(
                    "user `{}` has uid 0, which is reserved for root",
                    u.username
                ),
                Some("root exists in every image; pick another uid for this user".to_owned()),
            ));
        }
    }
    for (i, g) in c.accounts.groups.iter().enumerate() {
        if g.groupname.is_empty() {
            return Err(l.invalid(
                &format!("accounts.groups[{i}].groupname"),
                "a group needs a groupname",
                None,
            ));
        }
    }
    for (i, p) in c.paths.iter().enumerate() {
        if p.path.is_empty() {
            return Err(l.invalid(&format!("paths[{i}].path"), "empty path", None));
        }
        if matches!(p.kind, PathType::Hardlink | PathType::Symlink)
            && p.source.as_deref().unwrap_or("").is_empty()
        {
            return Err(l.invalid(
                &format!("paths[{i}]"),
                format!(
                    "a {} needs a `source`",
                    if p.kind == PathType::Hardlink {
                        "hardlink"
                    } else {
                        "symlink"
                    }
                ),
                None,
            ));
        }
    }
    let mut names = BTreeSet::new();
    for (i, k) in c.contents.runtime_keyring.iter().enumerate() {
        let field = format!("contents.runtime_keyring[{i}]");
        if !valid_key_name(&k.name) {
            return Err(l.invalid(
                &format!("{field}.name"),
                format!("invalid key name `{}`", k.name),
                Some("names may use letters, digits, `_`, `-` and `.` (not first)".to_owned()),
            ));
        }
        if k.content.trim().is_empty() {
            return Err(l.invalid(&format!("{field}.content"), "empty key content", None));
        }
        if !names.insert(k.name.clone()) {
            return Err(l.invalid(
                &format!("{field}.name"),
                format!("duplicate key name `{}`", k.name),
                None,
            ));
        }
    }
    if let Some(certs) = &c.certificates {
        for (i, cert) in certs.additional.iter().enumerate() {
            if cert.name.is_empty() || cert.content.trim().is_empty() {
                return Err(l.invalid(
                    &format!("certificates.additional[{i}]"),
                    "a certificate needs a name and PEM content",
                    None,
                ));
            }
        }
    }
    if c.format == Some(ImageFormat::Erofs)
        && c.layering
            .as_ref()
            .is_some_and(crate::types::Layering::is_enabled)
    {
        return Err(l.invalid(
            "format",
            "the erofs format cannot be combined with layering",
            None,
        ));
    }
    for k in c.environment.keys() {
        if k.is_empty() || k.contains('=') || k.chars().any(char::is_control) {
            return Err(l.invalid(
                &format!("environment.{}", k.escape_debug()),
                format!("invalid environment variable name `{}`", k.escape_debug()),
                None,
            ));
        }
    }
    if c.entrypoint.is_service_bundle() && c.entrypoint.services.is_empty() {
        return Err(l.invalid(
            "entrypoint.services",
            "a service-bundle entrypoint needs at least one service",
            None,
        ));
    }
    if c.contents.baseimage.is_some() {
        let set = [
            (
                "entrypoint",
                c.entrypoint != crate::types::Entrypoint::default(),
            ),
            ("cmd", c.cmd.is_some()),
            ("stop-signal", c.stop_signal.is_some()),
            ("work-dir", c.work_dir.is_some()),
            ("accounts", c.accounts != crate::types::Accounts::default()),
            ("environment", !c.environment.is_empty()),
            ("paths", !c.paths.is_empty()),
            ("annotations", !c.annotations.is_empty()),
        ];
        if let Some((field, _)) = set.iter().find(|(_, s)| *s) {
            return Err(l.invalid(
                field,
                format!("`{field}` cannot be set together with `contents.baseimage`"),
                Some("with a base image only contents, archs and include may be set".to_owned()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names() {
        assert!(valid_key_name("melange.rsa.pub"));
        assert!(valid_key_name("_a-b"));
        assert!(!valid_key_name(".hidden"));
        assert!(!valid_key_name("a/b"));
        assert!(!valid_key_name(""));
    }
}
