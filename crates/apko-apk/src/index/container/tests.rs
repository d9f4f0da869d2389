use super::*;
use crate::info::PackageInfo;
use crate::test_keys::test_key;

fn sample() -> ApkIndex {
    let mut a = PackageInfo::new("a".parse().unwrap(), "1.0-r0".parse().unwrap());
    a.depends = vec!["b>=1".parse().unwrap()];
    a.checksum = Some("Q1wJxYBoMXOvOSaYqLPzc5O0LQzOE=".parse().unwrap());
    let b = PackageInfo::new("b".parse().unwrap(), "2".parse().unwrap());
    ApkIndex {
        description: Some("test repo".into()),
        packages: vec![a, b],
    }
}

fn ring() -> Keyring {
    let mut k = Keyring::new();
    k.add_pem(test_key().name(), test_key().public_key_pem().as_bytes())
        .unwrap();
    k
}

fn write(keys: &[(SigningKey, SignatureKind)]) -> Vec<u8> {
    let mut out = Vec::new();
    write_index(&sample(), keys, &mut out).unwrap();
    out
}

#[test]
fn signed_round_trip() {
    for kind in [SignatureKind::Rsa, SignatureKind::Rsa256] {
        let bytes = write(&[(test_key(), kind)]);
        let (idx, verdict) = read_index(
            bytes.as_slice(),
            "t",
            &ring(),
            IndexTrust::Require(SignaturePolicy::FirstUsable),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(idx, sample());
        assert_eq!(
            verdict,
            Verdict::Trusted {
                key: "test.rsa.pub".into()
            }
        );
    }
    assert_eq!(
        write(&[(test_key(), SignatureKind::Rsa256)]),
        write(&[(test_key(), SignatureKind::Rsa256)])
    );
}

#[test]
fn untrusted_and_bad() {
    let unsigned = write(&[]);
    let err = read_index(
        unsigned.as_slice(),
        "repo/x86_64/APKINDEX.tar.gz",
        &ring(),
        IndexTrust::Require(SignaturePolicy::AnyValid),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, IndexVerification::Untrusted { .. }), "{err}");
    assert!(err.to_string().contains("repo/x86_64/APKINDEX.tar.gz"));
    let (_, v) = read_index(
        unsigned.as_slice(),
        "t",
        &ring(),
        IndexTrust::AllowUntrusted,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(v, Verdict::Untrusted);

    let signed = write(&[(test_key(), SignatureKind::Rsa256)]);
    let err = read_index(
        signed.as_slice(),
        "t",
        &Keyring::new(),
        IndexTrust::Require(SignaturePolicy::AnyValid),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        err.hint().unwrap().contains("test.rsa.pub"),
        "{:?}",
        err.hint()
    );

    // Tamper with the body: the signature no longer verifies.
    let mut other = sample();
    other.packages.pop();
    let mut body = Vec::new();
    write_index(&other, &[], &mut body).unwrap();
    let sig_len = signed.len() - {
        let mut b = Vec::new();
        write_index(&sample(), &[], &mut b).unwrap();
        b.len()
    };
    let forged = [&signed[..sig_len], &body[..]].concat();
    let err = read_index(
        forged.as_slice(),
        "t",
        &ring(),
        IndexTrust::Require(SignaturePolicy::AnyValid),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, IndexVerification::BadSignature { .. }),
        "{err}"
    );
}

#[test]
fn bomb_and_garbage() {
    let bytes = write(&[]);
    let limits = Limits {
        max_index_size: 100,
        ..Limits::default()
    };
    assert!(
        read_index(
            bytes.as_slice(),
            "t",
            &ring(),
            IndexTrust::AllowUntrusted,
            &limits
        )
        .is_err()
    );
    assert!(
        read_index(
            &b"not gzip"[..],
            "t",
            &ring(),
            IndexTrust::AllowUntrusted,
            &Limits::default()
        )
        .is_err()
    );
    assert!(
        read_index(
            &bytes[..bytes.len() - 5],
            "t",
            &ring(),
            IndexTrust::AllowUntrusted,
            &Limits::default()
        )
        .is_err()
    );
}
