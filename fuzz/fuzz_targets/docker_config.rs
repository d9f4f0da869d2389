//! Docker's `config.json`: parsing never panics; every registry host resolves to stored
//! credentials, a helper or nothing, and a stored entry is one the file has.
#![no_main]

use apko_oci::registry::docker_config::{DockerConfig, Lookup, server_keys};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = DockerConfig::parse(text) else {
        return;
    };
    // The file's own keys, plus hosts every configuration is asked about.
    let hosts = config
        .auths
        .keys()
        .chain(config.cred_helpers.keys())
        .map(String::as_str)
        .chain(["index.docker.io", "docker.io", "ghcr.io", "localhost:5000"]);
    for host in hosts {
        match config.lookup(host) {
            Some(Lookup::Stored(c)) => assert!(config.auths.values().any(|v| v == c)),
            Some(Lookup::Helper { helper, server }) => {
                assert_eq!(server, server_keys(host)[0]);
                assert!(
                    config.cred_helpers.values().any(|h| h == helper)
                        || config.creds_store.as_deref() == Some(helper)
                );
            }
            None => assert!(config.creds_store.is_none()),
        }
    }
});
