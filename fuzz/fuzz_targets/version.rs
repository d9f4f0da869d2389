//! Versions: parsing never panics, `is_valid` agrees with `Version::new`, and the order is a
//! total order consistent with `Eq`, `Hash`, `compare` and `Display`.
#![no_main]

use apko_apk::Version;
use apko_apk::version::{compare, is_valid};
use libfuzzer_sys::fuzz_target;
use std::cmp::Ordering;
use std::hash::{DefaultHasher, Hash, Hasher};

fn hash(v: &Version) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Up to three versions, one a line.
    let words: Vec<&str> = text.splitn(3, '\n').collect();
    let mut versions = Vec::new();
    for w in &words {
        let parsed = Version::new(w);
        assert_eq!(parsed.is_ok(), is_valid(w), "{w:?}");
        if let Ok(v) = parsed {
            assert_eq!(v.as_str(), *w);
            assert_eq!(v.to_string().parse::<Version>().as_ref(), Ok(&v));
            versions.push(v);
        }
    }
    // Unvalidated comparison must not panic, and is reflexive.
    for a in &words {
        for b in &words {
            let _ = compare(a, b);
        }
        assert_eq!(compare(a, a), Ordering::Equal, "{a:?}");
    }
    for a in &versions {
        assert_eq!(a.cmp(a), Ordering::Equal);
        assert!(a.fuzzy_matches(a));
        for b in &versions {
            let ab = a.cmp(b);
            assert_eq!(ab, b.cmp(a).reverse(), "{a:?} {b:?}");
            assert_eq!(ab, compare(a.as_str(), b.as_str()));
            assert_eq!(a == b, ab == Ordering::Equal);
            if a == b {
                assert_eq!(hash(a), hash(b), "{a:?} == {b:?} but the hashes differ");
                assert!(a.fuzzy_matches(b));
            }
            // apk 2.x's fuzzy match is symmetric.
            assert_eq!(a.fuzzy_matches(b), b.fuzzy_matches(a), "{a:?} ~ {b:?}");
            for c in &versions {
                if ab != Ordering::Greater && b.cmp(c) != Ordering::Greater {
                    assert_ne!(a.cmp(c), Ordering::Greater, "{a:?} <= {b:?} <= {c:?}");
                }
            }
        }
    }
});
