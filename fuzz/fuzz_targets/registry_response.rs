//! What a registry answers: `WWW-Authenticate` challenges, token-service bodies, error bodies
//! and upload `Location`s never make the client panic. The input is read whole by each
//! reader; for `resolve_location` its first line is the request URL and the rest the
//! `Location`.
#![no_main]

use apko_oci::registry::{Challenge, error_detail, resolve_location, token_of};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let challenge = Challenge::parse(text);
    assert!(text.starts_with(&challenge.scheme));
    for key in challenge.params.keys() {
        assert_eq!(key.trim(), key);
        assert!(!key.bytes().any(|b| b.is_ascii_uppercase()), "{key:?}");
    }
    let _ = token_of(text);
    let detail = error_detail(text);
    if serde_json::from_str::<serde_json::Value>(text).is_err() {
        // Not JSON: a bounded excerpt of the body.
        assert!(detail.chars().count() <= 200);
        assert!(text.starts_with(&detail));
    }
    let (request, location) = text.split_once('\n').unwrap_or((text, ""));
    let resolved = resolve_location(request, location);
    if location.starts_with("http://") || location.starts_with("https://") {
        assert_eq!(resolved, location);
    } else {
        assert!(
            resolved.ends_with(location),
            "{request:?} + {location:?} = {resolved:?}"
        );
    }
});
