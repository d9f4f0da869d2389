use super::*;
use proptest::prelude::*;

fn v(s: &str) -> Version {
    Version::new(s).unwrap_or_else(|e| panic!("{e}"))
}

/// Our own table of orderings (written for this project from apk-tools' documented rules).
const ORDER: &[(&str, char, &str)] = &[
    ("1.0", '<', "1.0.0"),
    ("1.0", '>', "1.00"),
    ("1.01", '<', "1.1"),
    ("1.001", '<', "1.01"),
    ("1.10", '>', "1.9"),
    ("1.0_rc1", '<', "1.0"),
    ("1.0.0_rc1", '>', "1.0"),
    ("1.0", '<', "1.0_cvs"),
    ("1.0_cvs", '<', "1.0_svn"),
    ("1.0_svn", '<', "1.0_git"),
    ("1.0_git", '<', "1.0_hg"),
    ("1.0_hg", '<', "1.0_p"),
    ("1.0_p", '<', "1.0_p0"),
    ("1.0_alpha", '<', "1.0_alpha0"),
    ("1.0_alpha1", '<', "1.0_beta"),
    ("1.0_beta", '<', "1.0_pre"),
    ("1.0_pre", '<', "1.0_rc"),
    ("1.0_p1_rc1", '<', "1.0_p1"),
    ("1.0a", '>', "1.0"),
    ("1.0a", '<', "1.0.1"),
    ("1.0-r0", '>', "1.0"),
    ("1-r0", '=', "1-r00"),
    ("1.0-r1", '<', "1.0.0"),
    ("1.0-r1", '<', "1.0_p1"),
    ("20050718", '>', "3.0"),
    ("006", '>', "1.0.0"),
    ("1.0_rc1", '<', "1.0"),
    ("1.0", '<', "1.0-r0"),
    ("1.0-r0", '<', "1.0-r1"),
    ("1.0-r1", '<', "1.0_p1"),
    ("1.0_p1", '<', "1.0.0"),
    ("2.34", '>', "0.1.0_alpha"),
    ("1.36.1-r29", '>', "1.36.1-r9"),
];

fn op(o: Ordering) -> char {
    match o {
        Ordering::Less => '<',
        Ordering::Equal => '=',
        Ordering::Greater => '>',
    }
}

#[test]
fn table_orderings() {
    for &(a, expected, b) in ORDER {
        assert_eq!(op(v(a).cmp(&v(b))), expected, "{a} vs {b}");
        assert_eq!(op(compare(a, b)), expected, "{a} vs {b} (str)");
        let reverse = match expected {
            '<' => '>',
            '>' => '<',
            c => c,
        };
        assert_eq!(op(v(b).cmp(&v(a))), reverse, "{b} vs {a}");
    }
}

#[test]
fn validity_is_lenient_like_apk_2() {
    for ok in [
        "1",
        "1.0",
        "1.2.3a",
        "1.0_p1_rc1",
        "0.1-r",
        "a",
        ".1",
        "_pre1",
        "0.1a1",
        "1.0-r00",
    ] {
        assert!(is_valid(ok), "{ok} should be valid");
    }
    for bad in [
        "",
        "1.0~abc",
        "1.0-x",
        "1.0_foo",
        "1..a-",
        "1.0 ",
        "123456789012345678",
    ] {
        assert!(!is_valid(bad), "{bad} should be invalid");
    }
    let err = Version::new("1.0_foo").unwrap_err();
    assert_eq!(err.version, "1.0_foo");
}

#[test]
fn fuzzy_is_symmetric_prefix_match() {
    assert!(v("3.8").fuzzy_matches(&v("3.8.1")));
    assert!(v("3.8.1").fuzzy_matches(&v("3.8")));
    assert!(v("1.6").fuzzy_matches(&v("1.6.0_pre1")));
    assert!(!v("1.6").fuzzy_matches(&v("1.7")));
    assert!(!v("3.8.1").fuzzy_matches(&v("3.8.2")));
}

#[test]
fn equal_versions_hash_alike() {
    use std::collections::HashSet;
    let set: HashSet<Version> = [v("1-r0"), v("1-r00")].into_iter().collect();
    assert_eq!(set.len(), 1);
    // An empty revision number reads as 0 (found by fuzzing: equal, but hashed apart).
    for (a, b) in [("1-r", "1-r0"), ("-r", "-r0"), ("1.2_rc1-r", "1.2_rc1-r0")] {
        assert_eq!(v(a), v(b));
        let set: HashSet<Version> = [v(a), v(b)].into_iter().collect();
        assert_eq!(set.len(), 1, "{a} and {b} hash apart");
    }
    assert_eq!(v("1-r00").as_str(), "1-r00");
    assert_eq!(v("1.0").to_string(), "1.0");
}

fn version_strategy() -> impl Strategy<Value = String> {
    let num = prop_oneof![
        (0u32..30).prop_map(|n| n.to_string()),
        Just("0".to_owned()),
        Just("00".to_owned()),
        Just("01".to_owned()),
        Just("001".to_owned()),
        (0u64..99_999_999).prop_map(|n| n.to_string()),
    ];
    let suffix = prop_oneof![
        Just("alpha"),
        Just("beta"),
        Just("pre"),
        Just("rc"),
        Just("cvs"),
        Just("svn"),
        Just("git"),
        Just("hg"),
        Just("p"),
    ];
    (
        prop::collection::vec(num.clone(), 1..5),
        prop::option::of(prop::char::range('a', 'e')),
        prop::collection::vec((suffix, prop::option::of(0u32..20)), 0..3),
        prop::option::of(0u32..12),
    )
        .prop_map(|(nums, letter, suffixes, rev)| {
            let mut s = nums.join(".");
            if let Some(l) = letter {
                s.push(l);
            }
            for (suf, n) in suffixes {
                s.push('_');
                s.push_str(suf);
                if let Some(n) = n {
                    s.push_str(&n.to_string());
                }
            }
            if let Some(r) = rev {
                s.push_str("-r");
                s.push_str(&r.to_string());
            }
            s
        })
}

proptest! {
    #[test]
    fn generated_versions_are_valid(a in version_strategy()) {
        prop_assert!(is_valid(&a), "{}", a);
    }

    #[test]
    fn order_is_antisymmetric(a in version_strategy(), b in version_strategy()) {
        let (va, vb) = (v(&a), v(&b));
        prop_assert_eq!(va.cmp(&vb), vb.cmp(&va).reverse());
    }

    #[test]
    fn order_is_transitive(a in version_strategy(), b in version_strategy(), c in version_strategy()) {
        let mut vs = [v(&a), v(&b), v(&c)];
        vs.sort();
        prop_assert!(vs[0] <= vs[1] && vs[1] <= vs[2] && vs[0] <= vs[2]);
    }

    #[test]
    fn equality_agrees_with_hash(a in version_strategy(), b in version_strategy()) {
        use std::hash::{BuildHasher, RandomState};
        let s = RandomState::new();
        let (va, vb) = (v(&a), v(&b));
        if va == vb {
            prop_assert_eq!(s.hash_one(&va), s.hash_one(&vb));
        }
        prop_assert!(va == va.clone());
    }
}
