//! Registry credentials the way docker and go-containerregistry find them: `config.json` in
//! `$DOCKER_CONFIG` (default `~/.docker`), its `auths` entries, `credHelpers` per registry and
//! the `credsStore` default, run as `docker-credential-<name> get`.

use apko_build::deps::apko_oci::registry::{CredentialSource, Credentials};
use base64::Engine as _;
use std::collections::BTreeMap;
use std::io::Read as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// How long a credential helper may take.
pub(crate) const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Docker's configuration, read once.
#[derive(Debug, Default)]
pub(crate) struct DockerConfig {
    auths: BTreeMap<String, Credentials>,
    helpers: BTreeMap<String, String>,
    store: Option<String>,
}

fn config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// The keys docker may have stored a registry's credentials under.
fn candidates(registry: &str) -> Vec<String> {
    if matches!(
        registry,
        "index.docker.io" | "docker.io" | "registry-1.docker.io"
    ) {
        return vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
            "https://index.docker.io".into(),
        ];
    }
    vec![
        registry.to_owned(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ]
}

impl DockerConfig {
    /// Reads the configuration; a missing file means no credentials, an unreadable one is
    /// reported as a warning.
    pub(crate) fn load() -> DockerConfig {
        let Some(path) = config_path() else {
            return DockerConfig::default();
        };
        let Ok(text) = fs_err::read_to_string(&path) else {
            return DockerConfig::default();
        };
        match DockerConfig::parse(&text) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("{}: {e}; using no registry credentials", path.display());
                DockerConfig::default()
            }
        }
    }

    pub(crate) fn parse(text: &str) -> Result<DockerConfig, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut out = DockerConfig::default();
        if let Some(auths) = v["auths"].as_object() {
            for (key, entry) in auths {
                let creds = if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(auth)
                        .map_err(|_| format!("auths.{key}.auth is not base64"))?;
                    let raw = String::from_utf8(raw)
                        .map_err(|_| format!("auths.{key}.auth is not text"))?;
                    let (u, p) = raw
                        .split_once(':')
                        .ok_or_else(|| format!("auths.{key}.auth is not `user:password`"))?;
                    Credentials {
                        username: u.to_owned(),
                        password: p.to_owned(),
                    }
                } else if let Some(token) = entry["identitytoken"].as_str() {
                    Credentials {
                        username: "<token>".into(),
                        password: token.to_owned(),
                    }
                } else if let (Some(u), Some(p)) =
                    (entry["username"].as_str(), entry["password"].as_str())
                {
                    Credentials {
                        username: u.to_owned(),
                        password: p.to_owned(),
                    }
                } else {
                    continue;
                };
                out.auths.insert(key.clone(), creds);
            }
        }
        if let Some(helpers) = v["credHelpers"].as_object() {
            for (registry, helper) in helpers {
                if let Some(h) = helper.as_str() {
                    out.helpers.insert(registry.clone(), h.to_owned());
                }
            }
        }
        out.store = v["credsStore"].as_str().map(str::to_owned);
        Ok(out)
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

impl CredentialSource for DockerConfig {
    fn credentials(&self, registry: &str) -> Option<Credentials> {
        let keys = candidates(registry);
        if let Some(h) = keys.iter().find_map(|k| self.helpers.get(k)) {
            return Self::helper(h, &keys[0]);
        }
        if let Some(c) = keys.iter().find_map(|k| self.auths.get(k)) {
            return Some(c.clone());
        }
        self.store
            .as_deref()
            .and_then(|s| Self::helper(s, &keys[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_entries() {
        let c = DockerConfig::parse(
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},
                "ghcr.io":{"username":"me","password":"tok"},
                "empty.example":{}
            },"credHelpers":{"gcr.io":"gcloud"}}"#,
        )
        .unwrap();
        let hub = c.credentials("index.docker.io").unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("user", "pass")
        );
        assert_eq!(c.credentials("ghcr.io").unwrap().password, "tok");
        assert!(c.credentials("empty.example").is_none());
        assert!(c.credentials("quay.io").is_none());
        assert_eq!(c.helpers["gcr.io"], "gcloud");
        assert!(DockerConfig::parse(r#"{"auths":{"x":{"auth":"!!"}}}"#).is_err());
    }

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
