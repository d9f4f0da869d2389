//! Registry credentials the way docker and go-containerregistry find them: `config.json` in
//! `$DOCKER_CONFIG` (default `~/.docker`), its `auths` entries, `credHelpers` per registry and
//! the `credsStore` default, run as `docker-credential-<name> get`.

use apko_build::deps::apko_oci::registry::docker_config::{DockerConfig, Lookup};
use apko_build::deps::apko_oci::registry::{CredentialSource, Credentials};
use std::io::Read as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// How long a credential helper may take.
pub(crate) const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Docker's configuration, read once; helpers run when the registry client asks.
#[derive(Debug, Default)]
pub(crate) struct DockerCredentials(DockerConfig);

fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

impl DockerCredentials {
    /// Reads the configuration; a missing file means no credentials, an unreadable one is
    /// reported as a warning.
    pub(crate) fn load() -> DockerCredentials {
        let Some(path) = config_path() else {
            return DockerCredentials::default();
        };
        let Ok(text) = fs_err::read_to_string(&path) else {
            return DockerCredentials::default();
        };
        match DockerConfig::parse(&text) {
            Ok(c) => DockerCredentials(c),
            Err(e) => {
                let cause = std::error::Error::source(&e)
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default();
                tracing::warn!(
                    "{}: {e}{cause}; using no registry credentials",
                    path.display()
                );
                DockerCredentials::default()
            }
        }
    }

    /// Runs `docker-credential-<helper> get` for `server` (at most [`HELPER_TIMEOUT`]).
    fn helper(helper: &str, server: &str) -> Option<Credentials> {
        run_helper(
            &format!("docker-credential-{helper}"),
            server,
            HELPER_TIMEOUT,
        )
    }
}

/// Runs a credential helper `program get` for `server`, killed after `timeout`.
fn run_helper(program: &str, server: &str, timeout: std::time::Duration) -> Option<Credentials> {
    {
        let mut child = Command::new(program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| tracing::warn!("cannot run {program}: {e}"))
            .ok()?;
        child.stdin.take()?.write_all(server.as_bytes()).ok()?;
        // A helper that never exits (waiting for a prompt nobody answers) must not hold up
        // the build: it gets HELPER_TIMEOUT, then it is killed and no credentials are used.
        let mut stdout = child.stdout.take()?;
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            std::io::Read::take(&mut stdout, 1 << 20)
                .read_to_end(&mut buf)
                .map(|_| buf)
        });
        let deadline = std::time::Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    tracing::warn!(
                        "{program} did not answer within {timeout:?}; no credentials for {server}"
                    );
                    return None;
                }
            }
        };
        let stdout = reader.join().ok()?.ok()?;
        if !status.success() {
            tracing::debug!("{program} has no credentials for {server}");
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&stdout).ok()?;
        Some(Credentials {
            username: v["Username"].as_str()?.to_owned(),
            password: v["Secret"].as_str()?.to_owned(),
        })
    }
}

impl CredentialSource for DockerCredentials {
    fn credentials(&self, registry: &str) -> Option<Credentials> {
        match self.0.lookup(registry)? {
            Lookup::Stored(c) => Some(c.clone()),
            Lookup::Helper { helper, server } => Self::helper(helper, &server),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_helpers_answer_or_are_killed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = |name: &str, body: &str| {
            let p = dir.path().join(name);
            fs_err::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            fs_err::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p.display().to_string()
        };
        let good = script(
            "good",
            r#"read server; echo "{\"Username\":\"u\",\"Secret\":\"s-$server\"}""#,
        );
        let c = run_helper(&good, "r.example", std::time::Duration::from_secs(20)).unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("u", "s-r.example")
        );
        // Never exits: killed at the deadline, no credentials (not a hang).
        let hung = script("hung", "exec sleep 600");
        let started = std::time::Instant::now();
        assert!(run_helper(&hung, "r.example", std::time::Duration::from_millis(300)).is_none());
        assert!(
            started.elapsed() < std::time::Duration::from_mins(1),
            "the helper was not killed"
        );
        let failing = script("failing", "exit 1");
        assert!(run_helper(&failing, "r.example", std::time::Duration::from_secs(20)).is_none());
    }
}
