use super::*;

fn p256_key() -> SigningKey {
    SigningKey::p256_from_bytes(&[0x11; 32]).unwrap()
}

fn ed_key() -> SigningKey {
    SigningKey::ed25519_from_bytes(&[0x22; 32])
}

#[test]
fn pae_is_the_dsse_spec_example() {
    // protocol.md, "Test Vectors".
    assert_eq!(
        pae("http://example.com/HelloWorld", b"hello world"),
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    );
    assert_eq!(pae("", b""), b"DSSEv1 0  0 ");
}

#[test]
fn ed25519_signs_as_rfc_8032() {
    // RFC 8032 section 7.1, test 1: the empty message.
    let seed: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
    let sig = SigningKey::ed25519_from_bytes(&seed).sign(b"");
    assert_eq!(
        hex::encode(sig),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
}

#[test]
fn sign_and_verify_both_key_types() {
    for key in [p256_key(), ed_key()] {
        let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, br#"{"a":1}"#, &key);
        assert_eq!(env.payload_type, PAYLOAD_TYPE_IN_TOTO);
        assert_eq!(env.signatures[0].keyid, key.verifying_key().keyid());
        let back = Envelope::from_json(&env.to_json()).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.verify(&key.verifying_key()).unwrap(), br#"{"a":1}"#);
        // Through PEM, both ways.
        let pem = key.to_pkcs8_pem();
        let again = SigningKey::from_pem(&pem, "k.pem").unwrap();
        assert_eq!(again.verifying_key(), key.verifying_key());
        let public = VerifyingKey::from_pem(&key.verifying_key().to_pem(), "k.pub").unwrap();
        assert_eq!(public, key.verifying_key());
        // A private key file verifies too (its public half).
        assert_eq!(VerifyingKey::from_pem(&pem, "k.pem").unwrap(), public);
    }
}

#[test]
fn ecdsa_signatures_are_der() {
    let sig = p256_key().sign(b"x");
    assert_eq!(sig[0], 0x30, "a DER SEQUENCE");
    assert_eq!(sig.len(), usize::from(sig[1]) + 2);
    // The fixed 64-byte form verifies too.
    let fixed = p256::ecdsa::Signature::from_der(&sig).unwrap().to_bytes();
    assert!(p256_key().verifying_key().verify(b"x", &fixed));
}

#[test]
fn signatures_are_deterministic() {
    for key in [p256_key(), ed_key()] {
        let a = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"payload", &key).to_json();
        let b = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"payload", &key).to_json();
        assert_eq!(a, b, "{:?}", key.algorithm());
    }
}

#[test]
fn a_tampered_envelope_is_refused() {
    let b64 = base64::engine::general_purpose::STANDARD;
    for key in [p256_key(), ed_key()] {
        let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"payload", &key);
        let mut payload = env.clone();
        payload.payload = b64.encode(b"pAyload");
        let mut kind = env.clone();
        kind.payload_type = "text/plain".into();
        let mut sig = env.clone();
        let mut bytes = b64.decode(&sig.signatures[0].sig).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        sig.signatures[0].sig = b64.encode(bytes);
        for bad in [payload, kind, sig] {
            let e = bad.verify(&key.verifying_key()).unwrap_err();
            assert!(matches!(e, DsseError::BadSignature { count: 1, .. }), "{e}");
        }
        let mut unsigned = env.clone();
        unsigned.signatures.clear();
        assert!(matches!(
            unsigned.verify(&key.verifying_key()),
            Err(DsseError::Unsigned)
        ));
        let mut garbage = env;
        garbage.payload = "%%%".into();
        assert!(matches!(
            garbage.verify(&key.verifying_key()),
            Err(DsseError::Base64 { .. })
        ));
    }
}

#[test]
fn a_wrong_key_is_refused() {
    let env = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, b"payload", &p256_key());
    let other = SigningKey::p256_from_bytes(&[0x33; 32]).unwrap();
    for wrong in [other.verifying_key(), ed_key().verifying_key()] {
        let e = env.verify(&wrong).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "no signature verifies with the {} key {} (1 checked)",
                wrong.algorithm().name(),
                wrong.keyid()
            )
        );
    }
}

#[test]
fn sec1_private_keys_read() {
    let secret = p256::SecretKey::from_slice(&[0x11; 32]).unwrap();
    let pem = secret.to_sec1_pem(p256::pkcs8::LineEnding::LF).unwrap();
    assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let key = SigningKey::from_pem(&pem, "ec.pem").unwrap();
    assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(key.verifying_key(), p256_key().verifying_key());
}

#[test]
fn key_errors_name_the_file_and_the_problem() {
    let e = SigningKey::from_pem("hello", "key.pem").unwrap_err();
    assert!(
        e.to_string().starts_with("`key.pem` is not a PEM file ("),
        "{e}"
    );
    let public = ed_key().verifying_key().to_pem();
    assert_eq!(
        SigningKey::from_pem(&public, "key.pub")
            .unwrap_err()
            .to_string(),
        "`key.pub` holds a `PUBLIC KEY` PEM block; expected `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC1)"
    );
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert_eq!(
        SigningKey::from_pem(encrypted, "enc.pem")
            .unwrap_err()
            .to_string(),
        "`enc.pem` is an encrypted private key; apko-rs reads unencrypted keys only"
    );
    let rsa = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let e = VerifyingKey::from_pem(rsa, "rsa.pem").unwrap_err();
    assert_eq!(
        e.to_string(),
        "`rsa.pem` holds a `RSA PRIVATE KEY` PEM block; expected `PUBLIC KEY` (SPKI)"
    );
    // A PKCS#8 key of another algorithm (here: garbage inside a valid block).
    let bad = "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n";
    let e = SigningKey::from_pem(bad, "bad.pem").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("`bad.pem` is not an ECDSA P-256 or Ed25519 private key (as P-256: "),
        "{e}"
    );
}

#[test]
fn keyid_is_the_spki_digest() {
    use sha2::Digest as _;
    let k = ed_key().verifying_key();
    assert_eq!(
        k.keyid(),
        hex::encode(sha2::Sha256::digest(k.to_spki_der()))
    );
    assert_eq!(k.keyid().len(), 64);
}
