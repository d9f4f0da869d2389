//! `login`: go-containerregistry's `crane auth login`, which apko embeds: the credentials are
//! stored in docker's `config.json` (`$DOCKER_CONFIG`, else `~/.docker`).
//!
//! A configuration that names a credential helper for the registry (`credHelpers`, or
//! `credsStore`) is refused: docker would run `docker-credential-<helper> store`, and apko-rs
//! does not run helpers to store secrets.

use crate::render::{CliError, notice};
use apko_build::deps::apko_oci::registry::docker_login::{Login, store_login};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

/// go-containerregistry's `name.NewRegistry`: the name must be an RFC 3986 authority
/// (`url.Parse("//" + name).Host == name`); `docker.io` is `index.docker.io`.
pub(crate) fn registry_name(name: &str) -> Result<String, CliError> {
    let bad = || {
        CliError::usage(
            format!("registries must be valid RFC 3986 URI authorities: {name}"),
            Some("give the registry alone, such as `reg.example.com` or `localhost:5000`"),
        )
    };
    let host_char =
        |b: u8| b >= 0x80 || b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&b);
    if !name.bytes().all(host_char) {
        return Err(bad());
    }
    let port = if name.starts_with('[') {
        &name[name.rfind(']').ok_or_else(bad)? + 1..]
    } else {
        name.rfind(':').map_or("", |i| &name[i..])
    };
    if !port.is_empty()
        && (!port.starts_with(':') || !port[1..].bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    Ok(match name {
        "" | "docker.io" => "index.docker.io".to_owned(),
        other => other.to_owned(),
    })
}

/// docker's configuration file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn config_file() -> Option<PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".docker"))
        })?;
    Some(dir.join("config.json"))
}

/// `apko login SERVER -u USER (-p PASSWORD | --password-stdin)`.
pub(crate) fn login(
    server: &str,
    username: Option<&str>,
    password: Option<&str>,
    password_stdin: bool,
) -> Result<(), CliError> {
    let registry = registry_name(server)?;
    let mut password = password.unwrap_or_default().to_owned();
    if password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            CliError::usage(format!("cannot read the password from stdin: {e}"), None)
        })?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        password = text.strip_suffix('\r').unwrap_or(text).to_owned();
    }
    let username = username.unwrap_or_default();
    if username.is_empty() || password.is_empty() {
        return Err(CliError::usage(
            "username and password required",
            Some("pass -u USER and -p PASSWORD (or --password-stdin)"),
        ));
    }
    let file = config_file().ok_or_else(|| {
        CliError::usage(
            "cannot find docker's configuration: neither $DOCKER_CONFIG nor $HOME is set",
            None,
        )
    })?;
    let existing = match fs_err::read_to_string(&file) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CliError::usage(format!("loading config file: {e}"), None)),
    };
    let parse_error = |e: &dyn std::error::Error| {
        let cause = e.source().map(|s| format!(": {s}")).unwrap_or_default();
        CliError::usage(
            format!("parsing config file ({}): {e}{cause}", file.display()),
            None,
        )
    };
    let (text, changed) = match store_login(existing.as_deref(), &registry, username, &password)
        .map_err(|e| parse_error(&e))?
    {
        Login::Stored { text, changed } => (text, changed),
        Login::Helper(helper) => {
            return Err(CliError::usage(
                format!(
                    "{} stores the credentials of {registry} with the credential helper `docker-credential-{helper}`; apko-rs does not run credential helpers to store credentials",
                    file.display()
                ),
                Some(&format!(
                    "log in with `docker login {registry}` (or `docker-credential-{helper} store`), or remove `credsStore`/`credHelpers` from the file"
                )),
            ));
        }
    };
    save(&file, &text)?;
    if changed {
        eprintln!(
            "\nWARNING! Your credentials are stored unencrypted in '{}'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n",
            file.display()
        );
    }
    notice(&format!("logged in via {}", file.display()));
    Ok(())
}

/// docker's `ConfigFile.Save`: the directory made (0700), a temporary file beside the target
/// (0600, or the existing file's mode), renamed over the file a symbolic link points at.
fn save(file: &Path, text: &str) -> Result<(), CliError> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    let fail = |what: &str, path: &Path, e: std::io::Error| {
        CliError::usage(format!("cannot {what} `{}`: {e}", path.display()), None)
    };
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| fail("create", dir, e))?;
    let target = match fs_err::symlink_metadata(file) {
        Ok(m) if m.file_type().is_symlink() => match fs_err::canonicalize(file) {
            Ok(real) => real,
            Err(_) => {
                let link = fs_err::read_link(file).map_err(|e| fail("read", file, e))?;
                dir.join(link)
            }
        },
        _ => file.to_owned(),
    };
    let mode = fs_err::metadata(&target).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let mut tmp = tempfile::Builder::new()
        .prefix("config.json")
        .tempfile_in(target.parent().unwrap_or(dir))
        .map_err(|e| fail("create a temporary file in", dir, e))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| fail("write", tmp.path(), e))?;
    fs_err::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
        .map_err(|e| fail("set the mode of", file, e))?;
    tmp.persist(&target)
        .map_err(|e| fail("write", &target, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names() {
        for (name, want) in [
            ("reg.example.com", "reg.example.com"),
            ("localhost:5000", "localhost:5000"),
            ("docker.io", "index.docker.io"),
            ("[::1]:5000", "[::1]:5000"),
            ("Reg.Example.COM", "Reg.Example.COM"),
        ] {
            assert_eq!(registry_name(name).unwrap(), want, "{name}");
        }
        for bad in [
            "https://reg.example.com",
            "reg.example.com/x",
            "u@reg",
            "reg:port",
            "a b",
            "[::1",
            "reg?x",
            "r%41",
        ] {
            let e = registry_name(bad).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("registries must be valid RFC 3986 URI authorities: {bad}")
            );
        }
    }

    #[test]
    fn saving_keeps_the_mode_and_follows_links() {
        use std::os::unix::fs::PermissionsExt as _;
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("new/config.json");
        save(&file, "{}").unwrap();
        let mode = |p: &Path| fs_err::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().unwrap()), 0o700);
        fs_err::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
        save(&file, "{\"a\":1}").unwrap();
        assert_eq!(mode(&file), 0o640);
        assert_eq!(fs_err::read_to_string(&file).unwrap(), "{\"a\":1}");
        let link = d.path().join("link.json");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        save(&link, "{}").unwrap();
        assert!(
            fs_err::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs_err::read_to_string(&file).unwrap(), "{}");
    }
}
