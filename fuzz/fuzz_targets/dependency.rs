//! Dependencies and provides: parsing never panics; what parses prints as text that parses
//! back to the same value (`Display` writes apk's order, so apk can read it too); a versioned
//! constraint whose operator accepts equality matches its own version.
#![no_main]

use apko_apk::{Constraint, Dependency, Provide, Version};
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = text.parse::<Dependency>() {
        let printed = d.to_string();
        let back: Dependency = printed
            .parse()
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
        assert_eq!(back, d, "{text:?} printed as {printed:?}");
        if let Constraint::Version { op, version } = &d.constraint {
            if op.accepts(Ordering::Equal) {
                assert!(d.matches(Some(version), None), "{text:?}");
            }
            let _ = d.matches(Some(&Version::new("1.0-r0").expect("valid")), None);
        }
        assert!(!d.matches(None, None) || d.constraint == Constraint::Any);
    }
    if let Ok(p) = text.parse::<Provide>() {
        let printed = p.to_string();
        let back: Provide = printed
            .parse()
            .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
        assert_eq!(back, p, "{text:?} printed as {printed:?}");
    }
    if let Ok(list) = Dependency::parse_list(text) {
        let joined: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(
            Dependency::parse_list(&joined.join(" ")).as_ref(),
            Ok(&list),
            "{text:?}"
        );
    }
    let _ = Provide::parse_list(text);
});
