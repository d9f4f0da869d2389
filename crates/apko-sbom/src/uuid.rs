//! Name-based UUIDs (version 5, RFC 9562 §5.5): the same name always gives the same UUID.

use sha1::{Digest as _, Sha1};

/// The URL namespace, `6ba7b811-9dad-11d1-80b4-00c04fd430c8`.
pub(crate) const NAMESPACE_URL: [u8; 16] = [
    0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
];

/// The version 5 UUID of `name` in `namespace`, in the lower-case hyphenated form.
pub(crate) fn v5(namespace: &[u8; 16], name: &[u8]) -> String {
    let hash = Sha1::new()
        .chain_update(namespace)
        .chain_update(name)
        .finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&hash[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc_9562_and_python() {
        // RFC 9562 appendix A.4 and Python's `uuid.uuid5`.
        let dns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            v5(&dns, b"www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
        assert_eq!(
            v5(&dns, b"python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
        assert_eq!(
            v5(&NAMESPACE_URL, b"hello"),
            "074171de-bc84-5ea4-b636-1135477620e1"
        );
    }
}
