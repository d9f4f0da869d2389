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

pub(crate) fn validate(l: &LoadedConfig) -> Result<(), ConfigError> {
    let c = &l.config;
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
    if let Some(layering) = &c.layering
        && let Some(s) = layering.strategy.as_deref().filter(|s| !s.is_empty())
        && s != "origin"
    {
        return Err(l.invalid(
            "layering.strategy",
            format!("unknown layering strategy `{s}`"),
            Some("the only strategy is `origin`".to_owned()),
        ));
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
        if k.is_empty() || k.contains('=') {
            return Err(l.invalid(
                &format!("environment.{k}"),
                format!("invalid environment variable name `{k}`"),
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
