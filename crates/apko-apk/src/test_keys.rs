//! A signing key shared by this crate's unit tests (generated once per test process).

use crate::keys::SigningKey;
use std::sync::OnceLock;

/// A 2048-bit key named `test.rsa.pub`, generated on first use.
pub(crate) fn test_key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate("test.rsa.pub", 2048).expect("key generation"))
        .clone()
}
