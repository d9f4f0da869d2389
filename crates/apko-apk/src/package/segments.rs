//! Tracks which gzip member is the signature, control and data segment, and hashes the
//! compressed bytes of each as apk does (docs: apk-format §2.5).

use crate::gzip::MemberObserver;
use crate::keys::Digests;
use sha1::{Digest, Sha1};
use sha2::{Sha256, Sha512};

#[derive(Clone, Default)]
struct RegionHash {
    sha1: Sha1,
    sha256: Sha256,
    sha512: Sha512,
}

impl RegionHash {
    fn update(&mut self, b: &[u8]) {
        self.sha1.update(b);
        self.sha256.update(b);
        self.sha512.update(b);
    }

    fn finish(self) -> Digests {
        Digests {
            sha1: self.sha1.finalize().into(),
            sha256: self.sha256.finalize().into(),
            sha512: self.sha512.finalize().into(),
        }
    }
}

/// The member observer of a package or index stream.
#[derive(Default)]
pub(crate) struct Segments {
    /// Hash of everything since the last member boundary seen before any non-signature
    /// entry: the control member, then (for packages without datahash, and indexes) all
    /// following members too.
    region: RegionHash,
    region_active: bool,
    /// Set by the reader once an entry that is not `.SIGN.*` has been read.
    pub(crate) non_sign_seen: bool,
    /// Set by the reader once `.PKGINFO` is known to carry a datahash.
    pub(crate) has_datahash: bool,
    /// Digests of the control member, once it has ended.
    pub(crate) control: Option<Digests>,
    pub(crate) in_data: bool,
    data_sha256: Sha256,
    pub(crate) signature_len: u64,
    /// SHA-1 of the (last) signature member's compressed bytes.
    pub(crate) signature_sha1: Option<[u8; 20]>,
    pub(crate) control_len: u64,
    pub(crate) data_len: u64,
    pub(crate) data_start_out: u64,
}

impl Segments {
    pub(crate) fn new() -> Self {
        Segments {
            region_active: true,
            ..Default::default()
        }
    }

    /// Digests of the region after the signature members, and the data segment's SHA-256.
    pub(crate) fn finish(self) -> (Option<Digests>, Digests, [u8; 32]) {
        (
            self.control,
            self.region.finish(),
            self.data_sha256.finalize().into(),
        )
    }
}

impl MemberObserver for Segments {
    fn last_member_expected(&self) -> bool {
        // The data segment is one member and ends the package.
        self.in_data
    }

    fn consumed(&mut self, bytes: &[u8]) {
        if self.region_active {
            self.region.update(bytes);
        }
        if self.in_data {
            self.data_sha256.update(bytes);
        }
    }

    fn member_end(&mut self, compressed_len: u64, decompressed_total: u64) {
        if self.in_data {
            self.data_len += compressed_len;
        } else if !self.non_sign_seen {
            // A signature member: hashing restarts at the next member.
            self.signature_len += compressed_len;
            self.signature_sha1 = Some(self.region.sha1.clone().finalize().into());
            self.region = RegionHash::default();
        } else {
            // The member holding the first non-signature entry is the control segment.
            self.control_len = compressed_len;
            self.control = Some(self.region.clone().finish());
            self.in_data = true;
            self.data_start_out = decompressed_total;
            if self.has_datahash {
                self.region_active = false;
            }
        }
    }
}
