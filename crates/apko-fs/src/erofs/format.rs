//! EROFS on-disk constants and little helpers shared by the writer and the reader (the layout of
//! `erofs_fs.h`; the kernel documentation is at <https://erofs.docs.kernel.org/>).

/// Byte offset of the superblock.
pub(super) const SUPER_OFFSET: u64 = 1024;
/// `EROFS_SUPER_MAGIC_V1`.
pub(super) const MAGIC: u32 = 0xE0F5_E1E2;
/// Size of the superblock fields we write (the rest of the block is zero).
pub(super) const SUPER_SIZE: usize = 128;

/// `feature_compat`: the superblock carries a CRC32C.
pub(super) const COMPAT_SB_CHKSUM: u32 = 0x1;
/// `feature_compat`: extended inodes carry an mtime (set by every mkfs.erofs).
pub(super) const COMPAT_MTIME: u32 = 0x2;

/// `feature_incompat` bits the reader understands (everything but 48-bit addressing and the
/// metabox, which move metadata).
pub(super) const INCOMPAT_48BIT: u32 = 0x80;
pub(super) const INCOMPAT_METABOX: u32 = 0x100;

/// Inode layouts (`i_format` bits 1–3).
pub(super) const LAYOUT_FLAT_PLAIN: u16 = 0;
pub(super) const LAYOUT_FLAT_INLINE: u16 = 2;
pub(super) const LAYOUT_CHUNK_BASED: u16 = 4;

pub(super) const INODE_COMPACT: usize = 32;
pub(super) const INODE_EXTENDED: usize = 64;
pub(super) const DIRENT_SIZE: usize = 12;
pub(super) const XATTR_HEADER: usize = 12;
/// Longest entry name.
pub(super) const NAME_LEN: usize = 255;

pub(super) const S_IFMT: u16 = 0o170_000;
pub(super) const S_IFSOCK: u16 = 0o140_000;
pub(super) const S_IFLNK: u16 = 0o120_000;
pub(super) const S_IFREG: u16 = 0o100_000;
pub(super) const S_IFBLK: u16 = 0o060_000;
pub(super) const S_IFDIR: u16 = 0o040_000;
pub(super) const S_IFCHR: u16 = 0o020_000;
pub(super) const S_IFIFO: u16 = 0o010_000;

/// Dirent file types (`EROFS_FT_*`).
pub(super) const FT_REG: u8 = 1;
pub(super) const FT_DIR: u8 = 2;
pub(super) const FT_CHR: u8 = 3;
pub(super) const FT_BLK: u8 = 4;
pub(super) const FT_FIFO: u8 = 5;
pub(super) const FT_SYMLINK: u8 = 7;

/// Short xattr name prefixes by on-disk index (`EROFS_XATTR_INDEX_*`). The two ACL names are
/// whole names (their suffix is empty).
pub(super) const XATTR_PREFIXES: [(u8, &str); 6] = [
    (1, "user."),
    (2, "system.posix_acl_access"),
    (3, "system.posix_acl_default"),
    (4, "trusted."),
    (5, "lustre."),
    (6, "security."),
];

/// Splits an xattr name into its prefix index and the stored suffix (index 0 keeps the whole
/// name, as go-erofs writes names without a known prefix).
pub(super) fn xattr_split(name: &str) -> (u8, &str) {
    for (index, prefix) in XATTR_PREFIXES {
        if let Some(rest) = name.strip_prefix(prefix) {
            return (index, rest);
        }
    }
    (0, name)
}

/// The prefix of index `index` (empty for 0 and unknown indexes).
pub(super) fn xattr_prefix(index: u8) -> Option<&'static str> {
    if index == 0 {
        return Some("");
    }
    XATTR_PREFIXES
        .iter()
        .find(|(i, _)| *i == index)
        .map(|(_, p)| *p)
}

/// Linux `new_encode_dev`: what EROFS stores in `i_u` for a device.
pub(super) fn encode_dev(major: u32, minor: u32) -> Option<u32> {
    if major > 0xfff || minor > 0xf_ffff {
        return None;
    }
    Some((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12))
}

/// Linux `new_decode_dev`.
pub(super) fn decode_dev(rdev: u32) -> (u32, u32) {
    (
        (rdev & 0xf_ff00) >> 8,
        (rdev & 0xff) | ((rdev >> 12) & 0xf_ff00),
    )
}

/// CRC32C (Castagnoli) as the kernel's `crc32c(seed, ..)`: reflected, no final inversion.
pub(super) fn crc32c(mut crc: u32, data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// The superblock checksum: CRC32C over the superblock block from byte 1024 to its end (a
/// block of 1 KiB or less: the 1 KiB from 1024), with the checksum field zeroed.
pub(super) fn superblock_crc(sb_block_from_1024: &[u8]) -> u32 {
    let mut copy = sb_block_from_1024.to_vec();
    copy[4..8].fill(0);
    crc32c(!0, &copy)
}

/// Length of the superblock checksum area for a block size.
pub(super) fn crc_len(block_size: u64) -> usize {
    if block_size > SUPER_OFFSET {
        (block_size - SUPER_OFFSET) as usize
    } else {
        block_size as usize
    }
}

pub(super) fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub(super) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub(super) fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

pub(super) fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(super) fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(super) fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_castagnoli_check_value() {
        // The standard check value is for init ~0 and a final inversion.
        assert_eq!(!crc32c(!0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn device_numbers_round_trip() {
        for (ma, mi) in [(1, 3), (0, 0), (8, 1), (259, 65536), (4095, 0xf_ffff)] {
            assert_eq!(decode_dev(encode_dev(ma, mi).unwrap()), (ma, mi));
        }
        assert_eq!(encode_dev(1, 3), Some(0x103));
        assert_eq!(encode_dev(4096, 0), None);
        assert_eq!(encode_dev(0, 1 << 20), None);
    }

    #[test]
    fn xattr_names_split_on_known_prefixes() {
        assert_eq!(xattr_split("security.capability"), (6, "capability"));
        assert_eq!(xattr_split("user.x"), (1, "x"));
        assert_eq!(xattr_split("system.posix_acl_access"), (2, ""));
        assert_eq!(xattr_split("system.other"), (0, "system.other"));
        assert_eq!(xattr_prefix(4), Some("trusted."));
        assert_eq!(xattr_prefix(9), None);
    }
}
