//! The writer read back by the lister, determinism, and hostile images.

use super::*;
use crate::FsError;
use crate::tree::{FsTree, Kind, Meta, Node};
use std::io::Cursor;

fn meta(mode: u32, uid: u32, gid: u32, mtime: i64) -> Meta {
    Meta {
        mode,
        uid,
        gid,
        mtime,
        xattrs: Vec::new(),
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// A tree with one of everything, around block boundaries.
pub(super) fn sample() -> FsTree {
    let mut t = FsTree::new();
    t.mkdir_all("usr/bin", &Meta::root(0o755)).unwrap();
    t.mkdir_all("tmp", &meta(0o1777, 0, 0, 0)).unwrap();
    t.insert(
        "bin",
        Node::new(Kind::Symlink("usr/bin".into()), Meta::root(0o777)),
    )
    .unwrap();
    for (name, len) in [
        ("empty", 0usize),
        ("one", 1),
        ("small", 100),
        ("b4095", 4095),
        ("b4096", 4096),
        ("b4097", 4097),
        ("big", 3 * 4096 + 123),
    ] {
        t.write_file(
            &format!("data/{name}"),
            pattern(len, len as u8),
            &meta(0o644, 1000, 1000, 1_700_000_000),
        )
        .unwrap();
    }
    let sudo = t
        .insert(
            "usr/bin/sudo",
            Node::new(Kind::File(b"setuid".to_vec().into()), meta(0o4755, 0, 0, 0)),
        )
        .unwrap();
    t.link("usr/bin/sudo-hard", sudo).unwrap();
    t.link("data/sudo-hard2", sudo).unwrap();
    t.node_mut(sudo).meta.xattrs = vec![
        ("security.capability".into(), vec![1, 0, 0, 2, 0, 32, 0, 0]),
        ("user.note".into(), b"hello".to_vec()),
        ("trusted.origin".into(), b"apko".to_vec()),
    ];
    let usr = t.get("usr").unwrap();
    t.node_mut(usr).meta.xattrs = vec![("security.selinux".into(), b"system_u:object_r".to_vec())];
    t.insert(
        "usr/bin/sh",
        Node::new(Kind::Symlink("/bin/busybox".into()), Meta::root(0o777)),
    )
    .unwrap();
    t.insert(
        "usr/long-link",
        Node::new(Kind::Symlink("x/".repeat(1500)), Meta::root(0o777)),
    )
    .unwrap();
    t.mkdir_all("dev", &Meta::root(0o755)).unwrap();
    t.insert(
        "dev/null",
        Node::new(Kind::CharDevice(1, 3), Meta::root(0o666)),
    )
    .unwrap();
    t.insert(
        "dev/sda",
        Node::new(Kind::BlockDevice(8, 0), meta(0o660, 0, 6, 5)),
    )
    .unwrap();
    t.insert(
        "dev/big-minor",
        Node::new(Kind::CharDevice(259, 70_000), Meta::root(0o600)),
    )
    .unwrap();
    t.insert(
        "dev/fifo",
        Node::new(Kind::Fifo, meta(0o600, 70_000, 80_000, -5)),
    )
    .unwrap();
    // More dirents than fit in one block.
    t.mkdir_all("many", &Meta::root(0o755)).unwrap();
    for i in 0..400 {
        t.write_file(
            &format!("many/entry-with-a-longish-name-{i:04}"),
            Vec::new(),
            &Meta::root(0o600),
        )
        .unwrap();
    }
    t.mkdir_all("a/b/c/d/e/f", &meta(0o700, 5, 5, 42)).unwrap();
    t
}

fn write(t: &FsTree, opts: &ErofsOptions) -> Vec<u8> {
    let (stats, img) = write_erofs(t, opts, Vec::new()).unwrap();
    assert_eq!(stats.size, img.len() as u64);
    assert_eq!(img.len() as u64 % u64::from(stats.block_size), 0);
    img
}

fn list(img: &[u8]) -> Result<ErofsListing, ErofsReadError> {
    list_erofs(&mut Cursor::new(img))
}

/// What the tree says each entry should list as.
fn expected(t: &FsTree, build_time: i64) -> Vec<ErofsEntry> {
    let walk = t.walk();
    let mut names = std::collections::HashMap::new();
    for (_, id) in &walk {
        *names.entry(*id).or_insert(0u32) += 1;
    }
    walk.iter()
        .map(|(path, id)| {
            let n = t.node(*id);
            let (kind, size, mode) = match &n.kind {
                Kind::Dir(_) => (ErofsKind::Dir, 0, n.meta.mode),
                Kind::File(c) => (ErofsKind::File, c.len(), n.meta.mode),
                Kind::Symlink(s) => (ErofsKind::Symlink(s.clone()), s.len() as u64, 0o777),
                Kind::CharDevice(a, b) => (ErofsKind::CharDevice(*a, *b), 0, n.meta.mode),
                Kind::BlockDevice(a, b) => (ErofsKind::BlockDevice(*a, *b), 0, n.meta.mode),
                Kind::Fifo => (ErofsKind::Fifo, 0, n.meta.mode),
            };
            let mut xattrs = if matches!(n.kind, Kind::Dir(_) | Kind::File(_)) {
                n.meta.xattrs.clone()
            } else {
                Vec::new()
            };
            xattrs.sort();
            let nlink = match &n.kind {
                Kind::Dir(c) => 2 + c.values().filter(|&&c| t.node(c).is_dir()).count() as u32,
                _ => names[id],
            };
            let _ = build_time;
            ErofsEntry {
                path: path.clone(),
                kind,
                mode,
                uid: n.meta.uid,
                gid: n.meta.gid,
                size,
                mtime: n.meta.mtime,
                mtime_nsec: 0,
                nlink,
                nid: 0,
                xattrs,
            }
        })
        .collect()
}

fn check_roundtrip(t: &FsTree, opts: &ErofsOptions) -> ErofsListing {
    let img = write(t, opts);
    let got = list(&img).unwrap();
    assert_eq!(got.block_size, 1 << opts.block_size_bits);
    let want = expected(t, opts.build_time);
    assert_eq!(got.entries.len(), want.len());
    for (g, w) in got.entries.iter().zip(&want) {
        let mut g = g.clone();
        g.nid = 0;
        if g.kind == ErofsKind::Dir {
            g.size = 0;
        }
        assert_eq!(&g, w, "entry {}", w.path);
    }
    got
}

#[test]
fn everything_reads_back() {
    let t = sample();
    let got = check_roundtrip(&t, &ErofsOptions::default());
    let nid = |p: &str| got.entries.iter().find(|e| e.path == p).unwrap().nid;
    assert_eq!(nid("usr/bin/sudo"), nid("usr/bin/sudo-hard"));
    assert_eq!(nid("usr/bin/sudo"), nid("data/sudo-hard2"));
    assert_ne!(nid("usr/bin/sudo"), nid("usr/bin/sh"));
    assert_eq!(got.root.kind, ErofsKind::Dir);
    assert_eq!(got.root.mode, 0o755);
    // One inode per node: the two extra hard links share one.
    assert_eq!(got.inodes, got.entries.len() as u64 + 1 - 2);
}

#[test]
fn every_block_size_reads_back() {
    let t = sample();
    for bits in 9..=16 {
        for build_time in [0, 1_700_000_000, -3] {
            let opts = ErofsOptions {
                build_time,
                block_size_bits: bits,
                ..ErofsOptions::default()
            };
            check_roundtrip(&t, &opts);
        }
    }
}

#[test]
fn same_tree_same_bytes() {
    let t = sample();
    let opts = ErofsOptions {
        build_time: 1_700_000_000,
        ..ErofsOptions::default()
    };
    let a = write(&t, &opts);
    let b = write(&t.clone(), &opts);
    assert!(a == b, "two writes differ");
    let (stats, _) = write_erofs(&t, &opts, std::io::sink()).unwrap();
    use sha2::Digest;
    assert_eq!(stats.sha256, <[u8; 32]>::from(sha2::Sha256::digest(&a)));
    assert!(stats.digest().starts_with("sha256:"));
    assert_eq!(stats.digest().len(), 71);
    // The build time is part of the identity.
    let c = write(&t, &ErofsOptions::default());
    assert_ne!(a, c);
}

#[test]
fn mtimes_equal_to_the_build_time_use_compact_inodes() {
    let mut t = FsTree::new();
    t.write_file("f", b"x".to_vec(), &meta(0o644, 0, 0, 77))
        .unwrap();
    let compact = write(
        &t,
        &ErofsOptions {
            build_time: 77,
            ..ErofsOptions::default()
        },
    );
    let extended = write(&t, &ErofsOptions::default());
    let l = list(&compact).unwrap();
    assert_eq!(l.entries[0].mtime, 77);
    assert_eq!(l.build_time, 77);
    assert_eq!(list(&extended).unwrap().entries[0].mtime, 77);
    // Root inode format: bit 0 clear for compact. The root is at the metadata start.
    assert_eq!(
        compact[4096] & 1,
        1,
        "root (mtime 0) is extended at build time 77"
    );
    assert_eq!(
        extended[4096] & 1,
        0,
        "root (mtime 0) is compact at build time 0"
    );
}

#[test]
fn refuses_what_erofs_cannot_hold() {
    let mut t = FsTree::new();
    t.insert(
        "dev",
        Node::new(Kind::CharDevice(5000, 0), Meta::root(0o600)),
    )
    .unwrap();
    assert!(matches!(
        write_erofs(&t, &ErofsOptions::default(), Vec::new()),
        Err(FsError::TooLarge { .. })
    ));
    let mut t = FsTree::new();
    t.insert(
        "l",
        Node::new(Kind::Symlink(String::new()), Meta::root(0o777)),
    )
    .unwrap();
    assert!(write_erofs(&t, &ErofsOptions::default(), Vec::new()).is_err());
    let mut t = FsTree::new();
    t.write_file("f", Vec::new(), &Meta::root(0o644)).unwrap();
    let f = t.get("f").unwrap();
    t.node_mut(f).meta.xattrs = vec![(format!("user.{}", "n".repeat(300)), Vec::new())];
    assert!(write_erofs(&t, &ErofsOptions::default(), Vec::new()).is_err());
    let opts = ErofsOptions {
        block_size_bits: 17,
        ..ErofsOptions::default()
    };
    assert!(write_erofs(&FsTree::new(), &opts, Vec::new()).is_err());
}

#[test]
fn a_directory_linked_into_itself_is_refused() {
    let mut t = FsTree::new();
    t.mkdir_all("a", &Meta::root(0o755)).unwrap();
    let a = t.get("a").unwrap();
    if let Kind::Dir(c) = &mut t.node_mut(a).kind {
        c.insert("loop".into(), a);
    }
    assert!(matches!(
        write_erofs(&t, &ErofsOptions::default(), Vec::new()),
        Err(FsError::HardLinkTarget { .. })
    ));
}

#[test]
fn the_empty_tree_is_an_image() {
    let img = write(&FsTree::new(), &ErofsOptions::default());
    assert_eq!(img.len(), 2 * 4096);
    let l = list(&img).unwrap();
    assert!(l.entries.is_empty());
    assert_eq!(l.root.nlink, 2);
}

// --- hostile images ---

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn truncated_images_are_errors() {
    let img = write(&sample(), &ErofsOptions::default());
    for len in (0..img.len())
        .step_by(97)
        .chain([1023, 1024, 1151, 1152, 4096])
    {
        let r = list(&img[..len]);
        assert!(r.is_err(), "truncated at {len}");
    }
}

#[test]
fn corrupted_images_never_panic() {
    let img = write(&sample(), &ErofsOptions::default());
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..3000 {
        let mut bad = img.clone();
        for _ in 0..=xorshift(&mut rng) % 8 {
            // Mostly metadata (the first blocks), sometimes anywhere.
            let span = if xorshift(&mut rng).is_multiple_of(4) {
                bad.len()
            } else {
                4 * 4096
            };
            let at = (xorshift(&mut rng) % span as u64) as usize;
            bad[at] = xorshift(&mut rng) as u8;
        }
        let _ = list(&bad);
    }
}

#[test]
fn a_bad_superblock_checksum_is_caught() {
    let mut img = write(&sample(), &ErofsOptions::default());
    img[1024 + 16] ^= 1; // inode count
    assert!(matches!(list(&img), Err(ErofsReadError::Corrupt { .. })));
    assert!(matches!(list(&[0u8; 8192]), Err(ErofsReadError::NotErofs)));
}

#[test]
fn a_directory_loop_is_caught() {
    let mut t = FsTree::new();
    t.mkdir_all("a", &Meta::root(0o755)).unwrap();
    let mut img = write(&t, &ErofsOptions::default());
    // Root: compact inode at 4096, no xattrs, dirents inline: ".", "..", "a".
    let a = 4096 + 32 + 2 * 12;
    assert_eq!(&img[4096 + 32 + 36..4096 + 32 + 40], b"...a");
    img[a..a + 8].copy_from_slice(&0u64.to_le_bytes());
    match list(&img) {
        Err(ErofsReadError::Corrupt { what, .. }) => assert!(what.contains("twice"), "{what}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn huge_claims_are_bounded() {
    let t = sample();
    let img = write(&t, &ErofsOptions::default());
    let l = list(&img).unwrap();
    let many = l.entries.iter().find(|e| e.path == "many").unwrap();
    // Claim the directory is 2^40 bytes: refused before any allocation.
    let mut bad = img.clone();
    let at = 4096 + many.nid as usize * 32;
    assert_eq!(bad[at] & 1, 0, "compact");
    bad[at + 8..at + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(list(&bad).is_err());
    // A huge xattr count.
    let mut bad = img;
    bad[at + 2..at + 4].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(list(&bad).is_err());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Random files and directories read back, at random block sizes.
        #[test]
        fn random_trees_read_back(
            files in proptest::collection::vec(
                (0usize..6, "[a-z]{1,40}", 0usize..9000, 0i64..3),
                0..60,
            ),
            bits in 9u8..=13,
        ) {
            let mut t = FsTree::new();
            for (depth, name, len, mtime) in files {
                let dir = (0..depth).map(|d| format!("d{d}")).collect::<Vec<_>>().join("/");
                let path = if dir.is_empty() { name } else { format!("{dir}/{name}") };
                if !t.exists(&path) {
                    // A file where a directory was wanted: skipped.
                    let _ = t.write_file(&path, pattern(len, 7), &meta(0o640, 1, 2, mtime));
                }
            }
            let opts = ErofsOptions { build_time: 1, block_size_bits: bits, ..ErofsOptions::default() };
            check_roundtrip(&t, &opts);
        }
    }
}
