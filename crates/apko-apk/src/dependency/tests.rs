use super::*;

fn dep(s: &str) -> Dependency {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn ver(s: &str) -> Version {
    s.parse().unwrap()
}

#[test]
fn parses_apk_syntax() {
    let d = dep("busybox@edge>=1.36");
    assert_eq!(d.name.as_str(), "busybox");
    assert_eq!(d.tag.as_deref(), Some("edge"));
    assert_eq!(
        d.constraint,
        Constraint::Version {
            op: Op::GE,
            version: ver("1.36")
        }
    );
    assert!(!d.conflict);
    assert_eq!(d.to_string(), "busybox@edge>=1.36");

    let d = dep("!foo<2");
    assert!(d.conflict);
    assert_eq!(d.to_string(), "!foo<2");

    let d = dep("so:libc.musl-x86_64.so.1");
    assert_eq!(d.constraint, Constraint::Any);
}

#[test]
fn accepts_apko_tag_after_version() {
    let d = dep("foo=1.0-r0@testing");
    assert_eq!(d.tag.as_deref(), Some("testing"));
    assert_eq!(d.to_string(), "foo@testing=1.0-r0");
}

#[test]
fn tags_that_would_print_as_operators_are_refused() {
    // Found by fuzzing: the apko spelling put an operator in the tag, and the printed
    // (apk-order) form did not parse back.
    for bad in [
        "foo=1.0@a=b",
        "oo~1.2@>\n3a=",
        "foo=1@a<b",
        "foo=1@a~",
        "foo=1@a b",
    ] {
        let e = bad.parse::<Dependency>().unwrap_err();
        assert!(
            matches!(e, ParseDependencyError::InvalidTag { .. }),
            "{bad:?}: {e}"
        );
    }
    // `@` and `!` inside a tag print and parse back.
    for ok in ["foo@a@b=1", "foo=1@a!b"] {
        let d = dep(ok);
        assert_eq!(dep(&d.to_string()), d);
    }
}

#[test]
fn operators_round_trip() {
    for s in ["a=1", "a<1", "a>1", "a<=1", "a>=1", "a~1", "a>~1", "a<~1"] {
        assert_eq!(dep(s).to_string(), s);
    }
    assert_eq!(dep("a=~1").to_string(), "a~1");
    assert_eq!(dep("a=>1").to_string(), "a>=1");
}

#[test]
fn rejects_bad_input() {
    for bad in [
        "foo=",
        "foo==",
        "foo=invalid",
        "",
        "@tag",
        "foo@",
        "foo><notasum",
        "a b",
    ] {
        assert!(bad.parse::<Dependency>().is_err(), "{bad:?} should fail");
    }
}

#[test]
fn checksum_constraint() {
    let d = dep("foo><Q1wJxYBoMXOvOSaYqLPzc5O0LQzOE=");
    let sum: Checksum = "Q1wJxYBoMXOvOSaYqLPzc5O0LQzOE=".parse().unwrap();
    assert!(d.matches(Some(&ver("1")), Some(&sum)));
    assert!(!d.matches(Some(&ver("1")), None));
    assert_eq!(d.to_string(), "foo><Q1wJxYBoMXOvOSaYqLPzc5O0LQzOE=");
}

#[test]
fn matching() {
    assert!(dep("a>=1.2").matches(Some(&ver("1.2")), None));
    assert!(!dep("a>=1.2").matches(Some(&ver("1.1")), None));
    assert!(
        !dep("a>=1.2").matches(None, None),
        "unversioned provides never match a version"
    );
    assert!(dep("a").matches(None, None));
    // 2.x fuzzy match is symmetric
    assert!(dep("a~3.8.1").matches(Some(&ver("3.8")), None));
    assert!(dep("a~3.8").matches(Some(&ver("3.8.4")), None));
    assert!(!dep("a~3.8").matches(Some(&ver("3.9")), None));
    assert!(dep("a>~3.8").matches(Some(&ver("3.9")), None));
    assert!(dep("a>~3.8").matches(Some(&ver("3.8.1")), None));
    assert!(!dep("a>~3.8").matches(Some(&ver("3.7")), None));
}

#[test]
fn provides() {
    let p: Provide = "so:libz.so.1=1.3.1".parse().unwrap();
    assert_eq!(p.version, Some(ver("1.3.1")));
    assert_eq!(p.to_string(), "so:libz.so.1=1.3.1");
    let p: Provide = "/bin/sh".parse().unwrap();
    assert_eq!(p.version, None);
    assert!("a>1".parse::<Provide>().is_err());
    assert!("so:x=0unstable".parse::<Provide>().is_err());
    assert_eq!(Provide::parse_list("cmd:a=1 cmd:b=2").unwrap().len(), 2);
}
