//! Writing credentials into docker's `config.json`, as `crane auth login` (which `apko login`
//! is) does through docker's own config package: the file is read into docker's
//! `ConfigFile` structure, the entry is set, and the structure is written back.
//!
//! So the fields docker knows are kept (in docker's order, maps sorted), unknown top-level keys
//! are dropped, every `auths` entry is re-encoded as `auth` (base64 of `user:password`) with
//! `username`, `password` and `serveraddress` removed, a `User-Agent` in `HttpHeaders` is
//! removed, and the text is indented with tabs, without a final newline. Only the text is
//! handled here; finding, reading and writing the file are the caller's business.
//!
//! ```
//! use apko_oci::registry::docker_login::{Login, store_login};
//! let Login::Stored { text, changed } = store_login(None, "registry.example.com", "user", "pass")? else {
//!     panic!("no helper is configured")
//! };
//! assert!(changed);
//! assert_eq!(text, "{\n\t\"auths\": {\n\t\t\"registry.example.com\": {\n\t\t\t\"auth\": \"dXNlcjpwYXNz\"\n\t\t}\n\t}\n}");
//! # Ok::<(), apko_oci::registry::docker_config::DockerConfigError>(())
//! ```

use super::docker_config::DockerConfigError;
use crate::json::to_go_json_indent;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The key docker stores Docker Hub's credentials under (`authn.DefaultAuthKey`).
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// What [`store_login`] found to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// The configuration names a credential helper for the registry (its own in
    /// `credHelpers`, else `credsStore`): docker would store the credentials through
    /// `docker-credential-<helper> store`, not in the file.
    Helper(String),
    /// The new text of the file.
    Stored {
        /// The text to write.
        text: String,
        /// Whether the registry's entry changed (docker warns about plain-text credentials
        /// only then).
        changed: bool,
    },
}

/// Sets the credentials of `registry` (a registry name, `index.docker.io` for Docker Hub) in
/// the configuration `existing` (`None`: there is no file yet).
pub fn store_login(
    existing: Option<&str>,
    registry: &str,
    username: &str,
    password: &str,
) -> Result<Login, DockerConfigError> {
    let mut c = match existing {
        Some(text) if !text.trim().is_empty() => ConfigFile::parse(text)?,
        _ => ConfigFile::default(),
    };
    if let Some(h) = c
        .cred_helpers
        .get(registry)
        .or(Some(&c.creds_store).filter(|s| !s.is_empty()))
    {
        return Ok(Login::Helper(h.clone()));
    }
    let key = if registry == "index.docker.io" {
        DOCKER_HUB_KEY
    } else {
        registry
    };
    let entry = Auth {
        username: username.to_owned(),
        password: password.to_owned(),
        ..Auth::default()
    };
    let changed = c.auths.get(key) != Some(&entry);
    c.auths.insert(key.to_owned(), entry);
    c.http_headers
        .retain(|k, _| !k.eq_ignore_ascii_case("User-Agent"));
    let text = String::from_utf8(to_go_json_indent(&c.to_saved(), b"\t")).expect("JSON is UTF-8");
    Ok(Login::Stored { text, changed })
}

/// One `auths` entry as docker holds it in memory (`auth` decoded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Auth {
    username: String,
    password: String,
    email: String,
    identity_token: String,
    registry_token: String,
}

/// docker's `ConfigFile` (cli/config/configfile), field for field.
#[derive(Debug, Clone, Default)]
struct ConfigFile {
    auths: BTreeMap<String, Auth>,
    http_headers: BTreeMap<String, String>,
    /// The string fields in docker's order, before `credsStore`.
    formats: [String; 8],
    creds_store: String,
    cred_helpers: BTreeMap<String, String>,
    /// The string fields after `credHelpers`.
    more_formats: [String; 6],
    prune_filters: Vec<String>,
    proxies: BTreeMap<String, [String; 5]>,
    current_context: String,
    cli_plugins_extra_dirs: Vec<String>,
    plugins: BTreeMap<String, BTreeMap<String, String>>,
    aliases: BTreeMap<String, String>,
    features: BTreeMap<String, String>,
    experimental: String,
}

const FORMATS: [&str; 8] = [
    "psFormat",
    "imagesFormat",
    "networksFormat",
    "pluginsFormat",
    "volumesFormat",
    "statsFormat",
    "detachKeys",
    "credsStore",
];
const MORE_FORMATS: [&str; 6] = [
    "serviceInspectFormat",
    "servicesFormat",
    "tasksFormat",
    "secretFormat",
    "configFormat",
    "nodesFormat",
];
const PROXY_FIELDS: [&str; 5] = ["httpProxy", "httpsProxy", "noProxy", "ftpProxy", "allProxy"];
const AUTH_FIELDS: [&str; 7] = [
    "username",
    "password",
    "auth",
    "email",
    "serveraddress",
    "identitytoken",
    "registrytoken",
];
const TOP_FIELDS: [&str; 11] = [
    "auths",
    "HttpHeaders",
    "credHelpers",
    "pruneFilters",
    "proxies",
    "currentContext",
    "cliPluginsExtraDirs",
    "plugins",
    "aliases",
    "features",
    "experimental",
];

fn bad(field: &str, expected: &'static str) -> DockerConfigError {
    DockerConfigError::Field {
        field: field.to_owned(),
        expected,
    }
}

/// The object's values by field name, as Go's decoder matches them: an exact name, else one
/// that differs only in case. `null` counts as absent.
fn fields<'a, const N: usize>(
    obj: &'a Map<String, Value>,
    names: [&str; N],
) -> [Option<&'a Value>; N] {
    names.map(|name| {
        obj.get(name)
            .or_else(|| {
                obj.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .filter(|v| !v.is_null())
    })
}

fn string(v: Option<&Value>, key: &str) -> Result<String, DockerConfigError> {
    match v {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(bad(key, "a string")),
    }
}

fn strings(v: Option<&Value>, key: &str) -> Result<Vec<String>, DockerConfigError> {
    match v {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(|x| string(Some(x), key)).collect(),
        Some(_) => Err(bad(key, "a list of strings")),
    }
}

fn object<'a>(
    v: Option<&'a Value>,
    key: &str,
) -> Result<Option<&'a Map<String, Value>>, DockerConfigError> {
    match v {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(bad(key, "an object")),
    }
}

fn string_map(v: Option<&Value>, key: &str) -> Result<BTreeMap<String, String>, DockerConfigError> {
    let mut out = BTreeMap::new();
    for (k, v) in object(v, key)?.into_iter().flatten() {
        out.insert(k.clone(), string(Some(v), key)?);
    }
    Ok(out)
}

impl ConfigFile {
    fn parse(text: &str) -> Result<ConfigFile, DockerConfigError> {
        let v: Value = serde_json::from_str(text).map_err(DockerConfigError::Json)?;
        let empty = Map::new();
        let top = match &v {
            Value::Null => &empty,
            Value::Object(o) => o,
            _ => return Err(bad("(the file)", "an object")),
        };
        let mut c = ConfigFile::default();
        let [
            auths,
            headers,
            helpers,
            prune,
            proxies,
            context,
            dirs,
            plugins,
            aliases,
            features,
            experimental,
        ] = fields(top, TOP_FIELDS);
        for (key, entry) in object(auths, "auths")?.into_iter().flatten() {
            let field = format!("auths.{key}");
            let Some(entry) = object(Some(entry), &field)? else {
                continue;
            };
            let values = fields(entry, AUTH_FIELDS);
            let [user, pass, auth, email, _server, identity, registry] = values;
            let mut a = Auth {
                username: string(user, &field)?,
                password: string(pass, &field)?,
                email: string(email, &field)?,
                identity_token: string(identity, &field)?,
                registry_token: string(registry, &field)?,
            };
            let auth = string(auth, &field)?;
            if !auth.is_empty() {
                let invalid = |expected| DockerConfigError::Auth {
                    key: key.clone(),
                    expected,
                };
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(&auth)
                    .map_err(|_| invalid("base64"))?;
                let raw = String::from_utf8(raw).map_err(|_| invalid("text"))?;
                match raw.split_once(':') {
                    Some((u, p)) if !u.is_empty() => {
                        a.username = u.to_owned();
                        a.password = p.trim_matches('\0').to_owned();
                    }
                    _ => return Err(invalid("`user:password`")),
                }
            }
            c.auths.insert(key.clone(), a);
        }
        c.http_headers = string_map(headers, "HttpHeaders")?;
        for (slot, name) in c.formats.iter_mut().zip(FORMATS) {
            *slot = string(fields(top, [name])[0], name)?;
        }
        c.creds_store = std::mem::take(&mut c.formats[7]);
        c.cred_helpers = string_map(helpers, "credHelpers")?;
        for (slot, name) in c.more_formats.iter_mut().zip(MORE_FORMATS) {
            *slot = string(fields(top, [name])[0], name)?;
        }
        c.prune_filters = strings(prune, "pruneFilters")?;
        for (name, p) in object(proxies, "proxies")?.into_iter().flatten() {
            let p = object(Some(p), name)?.unwrap_or(&empty);
            let mut values: [String; 5] = Default::default();
            for (slot, v) in values.iter_mut().zip(fields(p, PROXY_FIELDS)) {
                *slot = string(v, name)?;
            }
            c.proxies.insert(name.clone(), values);
        }
        c.current_context = string(context, "currentContext")?;
        c.cli_plugins_extra_dirs = strings(dirs, "cliPluginsExtraDirs")?;
        for (name, p) in object(plugins, "plugins")?.into_iter().flatten() {
            c.plugins.insert(name.clone(), string_map(Some(p), name)?);
        }
        c.aliases = string_map(aliases, "aliases")?;
        c.features = string_map(features, "features")?;
        c.experimental = string(experimental, "experimental")?;
        Ok(c)
    }

    /// The structure docker's `SaveToWriter` marshals.
    fn to_saved(&self) -> Saved<'_> {
        let encode = |a: &Auth| {
            if a.username.is_empty() && a.password.is_empty() {
                String::new()
            } else {
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", a.username, a.password))
            }
        };
        let mut formats: [&str; 8] = [""; 8];
        for (slot, v) in formats.iter_mut().zip(&self.formats) {
            *slot = v;
        }
        formats[7] = &self.creds_store;
        Saved {
            auths: self
                .auths
                .iter()
                .map(|(k, a)| {
                    (
                        k.as_str(),
                        SavedAuth {
                            auth: encode(a),
                            email: &a.email,
                            identitytoken: &a.identity_token,
                            registrytoken: &a.registry_token,
                        },
                    )
                })
                .collect(),
            http_headers: &self.http_headers,
            formats: Strings(FORMATS.iter().copied().zip(formats).collect()),
            cred_helpers: &self.cred_helpers,
            more_formats: Strings(
                MORE_FORMATS
                    .iter()
                    .copied()
                    .zip(self.more_formats.iter().map(String::as_str))
                    .collect(),
            ),
            prune_filters: &self.prune_filters,
            proxies: self
                .proxies
                .iter()
                .map(|(k, p)| {
                    (
                        k.as_str(),
                        Strings(
                            PROXY_FIELDS
                                .iter()
                                .copied()
                                .zip(p.iter().map(String::as_str))
                                .collect(),
                        ),
                    )
                })
                .collect(),
            current_context: &self.current_context,
            cli_plugins_extra_dirs: &self.cli_plugins_extra_dirs,
            plugins: &self.plugins,
            aliases: &self.aliases,
            features: &self.features,
            experimental: &self.experimental,
        }
    }
}

/// Named string fields in a fixed order, each omitted when empty (Go's `omitempty`).
struct Strings<'a>(Vec<(&'static str, &'a str)>);

impl Serialize for Strings<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (k, v) in self.0.iter().filter(|(_, v)| !v.is_empty()) {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct SavedAuth<'a> {
    #[serde(skip_serializing_if = "String::is_empty")]
    auth: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    email: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    identitytoken: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    registrytoken: &'a str,
}

#[derive(Serialize)]
struct Saved<'a> {
    auths: BTreeMap<&'a str, SavedAuth<'a>>,
    #[serde(rename = "HttpHeaders", skip_serializing_if = "BTreeMap::is_empty")]
    http_headers: &'a BTreeMap<String, String>,
    #[serde(flatten)]
    formats: Strings<'a>,
    #[serde(rename = "credHelpers", skip_serializing_if = "BTreeMap::is_empty")]
    cred_helpers: &'a BTreeMap<String, String>,
    #[serde(flatten)]
    more_formats: Strings<'a>,
    #[serde(rename = "pruneFilters", skip_serializing_if = "<[_]>::is_empty")]
    prune_filters: &'a [String],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    proxies: BTreeMap<&'a str, Strings<'a>>,
    #[serde(rename = "currentContext", skip_serializing_if = "str::is_empty")]
    current_context: &'a str,
    #[serde(
        rename = "cliPluginsExtraDirs",
        skip_serializing_if = "<[_]>::is_empty"
    )]
    cli_plugins_extra_dirs: &'a [String],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    plugins: &'a BTreeMap<String, BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    aliases: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    features: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "str::is_empty")]
    experimental: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(existing: Option<&str>, registry: &str) -> (String, bool) {
        match store_login(existing, registry, "user", "pass").unwrap() {
            Login::Stored { text, changed } => (text, changed),
            Login::Helper(h) => panic!("helper {h}"),
        }
    }

    #[test]
    fn docker_hub_gets_docker_s_key() {
        let (text, _) = stored(None, "index.docker.io");
        assert!(
            text.contains("\"https://index.docker.io/v1/\": {"),
            "{text}"
        );
    }

    #[test]
    fn known_fields_are_kept_in_docker_s_order_and_unknown_ones_dropped() {
        let existing = r#"{
            "zzz": 1,
            "credHelpers": {"gcr.io": "gcloud"},
            "Auths": {
                "other.example": {"username": "o", "password": "p", "identitytoken": "tok"},
                "registry.example.com": {"auth": "b2xkOm9sZA==", "email": "me@example.com"}
            },
            "HttpHeaders": {"User-Agent": "x", "X-Meta": "<1>"},
            "psFormat": "table",
            "proxies": {"default": {"noProxy": "localhost", "httpProxy": "http://p:3128"}},
            "experimental": "enabled"
        }"#;
        let (text, changed) = stored(Some(existing), "registry.example.com");
        assert!(changed);
        assert_eq!(
            text,
            "{\n\t\"auths\": {\n\t\t\"other.example\": {\n\t\t\t\"auth\": \"bzpw\",\n\t\t\t\"identitytoken\": \"tok\"\n\t\t},\n\t\t\"registry.example.com\": {\n\t\t\t\"auth\": \"dXNlcjpwYXNz\"\n\t\t}\n\t},\n\t\"HttpHeaders\": {\n\t\t\"X-Meta\": \"\\u003c1\\u003e\"\n\t},\n\t\"psFormat\": \"table\",\n\t\"credHelpers\": {\n\t\t\"gcr.io\": \"gcloud\"\n\t},\n\t\"proxies\": {\n\t\t\"default\": {\n\t\t\t\"httpProxy\": \"http://p:3128\",\n\t\t\t\"noProxy\": \"localhost\"\n\t\t}\n\t},\n\t\"experimental\": \"enabled\"\n}"
        );
        // The same credentials again: nothing changes.
        let (again, changed) = stored(Some(&text), "registry.example.com");
        assert!(!changed);
        assert_eq!(again, text);
    }

    #[test]
    fn helpers_are_reported() {
        let r = store_login(
            Some(r#"{"credHelpers": {"gcr.io": "gcloud"}}"#),
            "gcr.io",
            "u",
            "p",
        );
        assert_eq!(r.unwrap(), Login::Helper("gcloud".into()));
        let r = store_login(Some(r#"{"credsStore": "desktop"}"#), "quay.io", "u", "p");
        assert_eq!(r.unwrap(), Login::Helper("desktop".into()));
    }

    #[test]
    fn malformed_files_are_errors() {
        for text in [
            "{",
            "[]",
            r#"{"auths": 5}"#,
            r#"{"auths": {"x": {"auth": "!!"}}}"#,
            r#"{"auths": {"x": {"auth": "bm9jb2xvbg=="}}}"#,
            r#"{"psFormat": 1}"#,
        ] {
            assert!(
                store_login(Some(text), "r.example", "u", "p").is_err(),
                "{text}"
            );
        }
        // Empty and `null` files are empty configurations.
        for text in ["", "null"] {
            assert!(
                store_login(Some(text), "r.example", "u", "p").is_ok(),
                "{text}"
            );
        }
    }
}
