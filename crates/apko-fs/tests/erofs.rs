//! EROFS images checked with the real erofs-utils: `fsck.erofs` (integrity and extraction),
//! `dump.erofs` (superblock and inode fields) and `mkfs.erofs` (images our lister must read).
//! These tests fail, not skip, when the tools are missing.

use apko_fs::erofs::{ErofsKind, ErofsListing, ErofsOptions, list_erofs, write_erofs};
use apko_fs::{Content, FsTree, Kind, Meta, Node};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const NEEDS: &str = "needs erofs-utils (scripts/install-test-tools.sh); run by scripts/test.sh";
const BUILD_TIME: i64 = 1_700_000_000;

fn tool(name: &str) -> PathBuf {
    // Spawning it is the test: a missing tool fails here, it does not skip.
    match Command::new(name).arg("--help").output() {
        Ok(_) => PathBuf::from(name),
        Err(e) => panic!("cannot run `{name}` ({e}): {NEEDS}"),
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run an erofs-utils tool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

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
        .map(|i| ((i * 7 + i / 4096) as u8).wrapping_add(seed))
        .collect()
}

/// A tree with one of everything; the large file is read from a source file.
fn tree(dir: &Path) -> FsTree {
    let mut t = FsTree::new();
    t.mkdir_all("usr/bin", &meta(0o755, 0, 0, BUILD_TIME))
        .unwrap();
    t.mkdir_all("tmp", &meta(0o1777, 0, 0, BUILD_TIME)).unwrap();
    t.mkdir_all("home/user", &meta(0o750, 1000, 1000, 1_600_000_000))
        .unwrap();
    t.insert(
        "bin",
        Node::new(Kind::Symlink("usr/bin".into()), Meta::root(0o777)),
    )
    .unwrap();
    for (name, len) in [
        ("empty", 0usize),
        ("small", 10),
        ("b4095", 4095),
        ("b4096", 4096),
        ("b4097", 4097),
        ("b12345", 12345),
    ] {
        t.write_file(
            &format!("data/{name}"),
            pattern(len, len as u8),
            &meta(0o644, 1000, 1000, BUILD_TIME + 1),
        )
        .unwrap();
    }
    // 5 MiB and a bit, from offset 100 of a source file.
    let big = pattern((5 << 20) + 7, 3);
    let src = dir.join("source.bin");
    let mut file = vec![0xAAu8; 100];
    file.extend_from_slice(&big);
    fs_err::write(&src, &file).unwrap();
    let source = t.add_source(src);
    t.insert(
        "data/big",
        Node::new(
            Kind::File(Content::Source {
                source,
                offset: 100,
                size: big.len() as u64,
            }),
            meta(0o640, 70_000, 80_000, BUILD_TIME),
        ),
    )
    .unwrap();
    let sudo = t
        .insert(
            "usr/bin/sudo",
            Node::new(
                Kind::File(b"#!/bin/sh\necho root\n".to_vec().into()),
                meta(0o4755, 0, 0, BUILD_TIME),
            ),
        )
        .unwrap();
    t.node_mut(sudo).meta.xattrs = vec![
        ("user.note".into(), b"hello".to_vec()),
        ("trusted.origin".into(), b"apko".to_vec()),
    ];
    t.link("usr/bin/sudo-hard", sudo).unwrap();
    t.link("home/user/sudo-hard", sudo).unwrap();
    t.insert(
        "usr/bin/chkpwd",
        Node::new(
            Kind::File(b"setgid".to_vec().into()),
            meta(0o2711, 0, 42, BUILD_TIME),
        ),
    )
    .unwrap();
    t.insert(
        "usr/bin/sh",
        Node::new(Kind::Symlink("/bin/busybox".into()), Meta::root(0o777)),
    )
    .unwrap();
    t.insert(
        "usr/long-link",
        Node::new(Kind::Symlink("d/".repeat(1800) + "end"), Meta::root(0o777)),
    )
    .unwrap();
    t.mkdir_all("dev", &meta(0o755, 0, 0, BUILD_TIME)).unwrap();
    t.insert(
        "dev/null",
        Node::new(Kind::CharDevice(1, 3), meta(0o666, 0, 0, BUILD_TIME)),
    )
    .unwrap();
    t.insert(
        "dev/sda",
        Node::new(Kind::BlockDevice(8, 0), meta(0o660, 0, 6, BUILD_TIME)),
    )
    .unwrap();
    t.insert(
        "dev/nvme",
        Node::new(Kind::BlockDevice(259, 300_000), meta(0o600, 0, 0, 12345)),
    )
    .unwrap();
    t.insert(
        "dev/initctl",
        Node::new(Kind::Fifo, meta(0o600, 0, 0, BUILD_TIME)),
    )
    .unwrap();
    // Far more dirents than one block holds.
    t.mkdir_all("many", &meta(0o755, 0, 0, BUILD_TIME)).unwrap();
    for i in 0..700 {
        t.write_file(
            &format!("many/a-rather-long-file-name-number-{i:05}"),
            pattern(i % 50, i as u8),
            &meta(0o644, 0, 0, BUILD_TIME),
        )
        .unwrap();
    }
    t.mkdir_all("deep/a/b/c/d/e/f/g", &meta(0o700, 5, 5, 0))
        .unwrap();
    t
}

fn write_image(t: &FsTree, path: &Path) -> Vec<u8> {
    let opts = ErofsOptions {
        build_time: BUILD_TIME,
        ..ErofsOptions::default()
    };
    let file = fs_err::File::create(path).unwrap();
    let (stats, file) = write_erofs(t, &opts, file).unwrap();
    drop(file);
    let bytes = fs_err::read(path).unwrap();
    assert_eq!(stats.size, bytes.len() as u64);
    assert_eq!(stats.sha256, <[u8; 32]>::from(Sha256::digest(&bytes)));
    bytes
}

fn listing(path: &Path) -> ErofsListing {
    list_erofs(&mut fs_err::File::open(path).unwrap()).unwrap()
}

/// Modes are equal, or equal but for setuid, setgid and sticky, which erofs-utils 1.5 drops
/// on extraction and in `dump.erofs` (the kernel shows them; docs/erofs.md).
fn same_mode(tool: u32, ours: u32) -> bool {
    tool == ours || (tool == ours & 0o777 && erofs_utils_1_5())
}

fn erofs_utils_1_5() -> bool {
    let out = Command::new(tool("fsck.erofs")).arg("-V").output().unwrap();
    String::from_utf8_lossy(&out.stdout).contains(" 1.5")
}

/// glibc's `major`/`minor`.
fn dev_numbers(rdev: u64) -> (u32, u32) {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    (major as u32, minor as u32)
}

#[test]
#[ignore = "needs erofs-utils (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn fsck_extracts_the_tree_we_wrote() {
    let fsck = tool("fsck.erofs");
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let img = tmp.path().join("image.erofs");
    write_image(&t, &img);

    run(Command::new(&fsck).arg("-d3").arg(&img));
    let out = tmp.path().join("out");
    run(Command::new(&fsck)
        .arg(format!("--extract={}", out.display()))
        .arg("--force")
        .arg("--preserve")
        .arg(&img));

    let walk = t.walk();
    let mut inos: HashMap<usize, u64> = HashMap::new();
    let mut links: HashMap<usize, u64> = HashMap::new();
    for (_, id) in &walk {
        *links.entry(*id).or_default() += 1;
    }
    for (path, id) in &walk {
        let n = t.node(*id);
        let p = out.join(path);
        let m = fs_err::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        match &n.kind {
            Kind::Dir(_) => assert!(ft.is_dir(), "{path}"),
            Kind::File(c) => {
                assert!(ft.is_file(), "{path}");
                assert_eq!(m.len(), c.len(), "{path}");
                let want = t.read(*id, path).unwrap();
                assert!(fs_err::read(&p).unwrap() == want, "{path}: content");
                // erofs-utils 1.5 extracts hard links as copies (newer ones link them);
                // dump_shows_our_superblock_and_inodes checks the shared inode.
                if links[id] > 1 && m.nlink() > 1 {
                    let ino = *inos.entry(*id).or_insert(m.ino());
                    assert_eq!(m.ino(), ino, "{path}: a hard link");
                    assert_eq!(m.nlink(), links[id], "{path}: nlink");
                }
            }
            Kind::Symlink(target) => {
                assert!(ft.is_symlink(), "{path}");
                assert_eq!(fs_err::read_link(&p).unwrap(), Path::new(target), "{path}");
            }
            Kind::CharDevice(ma, mi) => {
                assert!(ft.is_char_device(), "{path}");
                assert_eq!(dev_numbers(m.rdev()), (*ma, *mi), "{path}");
            }
            Kind::BlockDevice(ma, mi) => {
                assert!(ft.is_block_device(), "{path}");
                assert_eq!(dev_numbers(m.rdev()), (*ma, *mi), "{path}");
            }
            Kind::Fifo => assert!(ft.is_fifo(), "{path}"),
        }
        if !ft.is_symlink() {
            assert!(
                same_mode(m.mode() & 0o7777, n.meta.mode),
                "{path}: mode {:o}",
                m.mode()
            );
            assert_eq!(m.mtime(), n.meta.mtime, "{path}: mtime");
        }
        assert_eq!(
            (m.uid(), m.gid()),
            (n.meta.uid, n.meta.gid),
            "{path}: owner"
        );
    }
    // Nothing more was extracted than the tree holds.
    let mut count = 0;
    let mut stack = vec![out.clone()];
    while let Some(d) = stack.pop() {
        for e in fs_err::read_dir(&d).unwrap() {
            let e = e.unwrap();
            count += 1;
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    assert_eq!(count, walk.len());
}

/// The value after `key` on the line that has it, in dump.erofs output.
fn field<'a>(text: &'a str, key: &str) -> &'a str {
    let at = text
        .find(key)
        .unwrap_or_else(|| panic!("no `{key}` in:\n{text}"));
    text[at + key.len()..]
        .split_whitespace()
        .next()
        .expect("a value")
}

#[test]
#[ignore = "needs erofs-utils (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn dump_shows_our_superblock_and_inodes() {
    let dump = tool("dump.erofs");
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let img = tmp.path().join("image.erofs");
    let bytes = write_image(&t, &img);
    let l = listing(&img);

    let sb = run(Command::new(&dump).arg("-s").arg(&img));
    assert_eq!(field(&sb, "Filesystem magic number:"), "0xE0F5E1E2");
    assert_eq!(
        field(&sb, "Filesystem blocks:").parse::<usize>().unwrap(),
        bytes.len() / 4096
    );
    assert_eq!(field(&sb, "Filesystem root nid:"), "0");
    assert_eq!(field(&sb, "Filesystem inode count:"), l.inodes.to_string());
    assert!(sb.contains("sb_csum"), "{sb}");
    assert!(sb.contains("mtime"), "{sb}");

    // Every inode's fields as dump.erofs decodes them, against our lister.
    for e in std::iter::once(&l.root).chain(&l.entries) {
        let info = run(Command::new(&dump)
            .arg(format!("--path=/{}", e.path))
            .arg(&img));
        assert_eq!(field(&info, "NID:"), e.nid.to_string(), "{}", e.path);
        assert_eq!(field(&info, "Links:"), e.nlink.to_string(), "{}", e.path);
        assert_eq!(field(&info, "Uid:"), e.uid.to_string(), "{}", e.path);
        assert_eq!(field(&info, "Gid:"), e.gid.to_string(), "{}", e.path);
        let access = field(&info, "Access:").split('/').next().unwrap();
        let access = u32::from_str_radix(access, 8).unwrap();
        assert!(same_mode(access, e.mode), "{}: {access:o}", e.path);
        if !matches!(
            e.kind,
            ErofsKind::CharDevice(..) | ErofsKind::BlockDevice(..)
        ) {
            assert_eq!(field(&info, "Size:"), e.size.to_string(), "{}", e.path);
        }
        let xattr_bytes: usize = e
            .xattrs
            .iter()
            .map(|(k, v)| {
                (4 + k.split_once('.').map_or(k.len(), |s| s.1.len()) + v.len()).next_multiple_of(4)
            })
            .sum();
        let want_xattr = if e.xattrs.is_empty() {
            0
        } else {
            12 + xattr_bytes
        };
        assert_eq!(
            field(&info, "Xattr size:"),
            want_xattr.to_string(),
            "{}",
            e.path
        );
    }
}

/// A directory on disk like the tree, for mkfs.erofs.
fn populate(dir: &Path) {
    fs_err::create_dir_all(dir.join("usr/bin")).unwrap();
    fs_err::create_dir_all(dir.join("many")).unwrap();
    fs_err::create_dir_all(dir.join("dev")).unwrap();
    fs_err::write(dir.join("usr/bin/tool"), pattern(10_000, 1)).unwrap();
    fs_err::write(dir.join("empty"), b"").unwrap();
    fs_err::write(dir.join("big"), pattern(300_000, 2)).unwrap();
    fs_err::hard_link(dir.join("usr/bin/tool"), dir.join("usr/bin/tool2")).unwrap();
    std::os::unix::fs::symlink("usr/bin", dir.join("bin")).unwrap();
    std::os::unix::fs::symlink("x".repeat(3000), dir.join("long")).unwrap();
    for i in 0..500 {
        fs_err::write(dir.join(format!("many/file-with-a-long-name-{i:04}")), b"x").unwrap();
    }
    let mknod = |args: &[&str]| run(Command::new("mknod").args(args));
    mknod(&[dir.join("dev/null").to_str().unwrap(), "c", "1", "3"]);
    mknod(&[dir.join("dev/sda").to_str().unwrap(), "b", "8", "0"]);
    mknod(&[dir.join("dev/fifo").to_str().unwrap(), "p"]);
    run(Command::new("chmod")
        .arg("4755")
        .arg(dir.join("usr/bin/tool")));
    run(Command::new("chown").arg("1234:5678").arg(dir.join("big")));
}

/// Compares a listing with the directory it was made from.
fn compare_with_dir(l: &ErofsListing, dir: &Path) {
    let mut want = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        let mut names: Vec<_> = fs_err::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        // Pre-order: push children in reverse so the first comes out first.
        let mut sub = Vec::new();
        for n in names {
            let path = if prefix.is_empty() {
                n.clone()
            } else {
                format!("{prefix}/{n}")
            };
            want.push(path.clone());
            if fs_err::symlink_metadata(d.join(&n)).unwrap().is_dir() {
                sub.push((d.join(&n), path));
            }
        }
        // Directories are listed depth-first: rebuild the order below.
        stack.extend(sub.into_iter().rev());
    }
    let mut got: Vec<&str> = l.entries.iter().map(|e| e.path.as_str()).collect();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    for e in &l.entries {
        let m = fs_err::symlink_metadata(dir.join(&e.path)).unwrap();
        let ft = m.file_type();
        match &e.kind {
            ErofsKind::File => {
                assert!(ft.is_file(), "{}", e.path);
                assert_eq!(e.size, m.len(), "{}", e.path);
                assert_eq!(u64::from(e.nlink), m.nlink(), "{}", e.path);
            }
            ErofsKind::Dir => assert!(ft.is_dir(), "{}", e.path),
            ErofsKind::Symlink(target) => {
                assert_eq!(
                    Path::new(target),
                    fs_err::read_link(dir.join(&e.path)).unwrap()
                );
            }
            ErofsKind::CharDevice(ma, mi) | ErofsKind::BlockDevice(ma, mi) => {
                assert_eq!(dev_numbers(m.rdev()), (*ma, *mi), "{}", e.path);
            }
            ErofsKind::Fifo => assert!(ft.is_fifo(), "{}", e.path),
            ErofsKind::Socket => assert!(ft.is_socket(), "{}", e.path),
        }
        if !ft.is_symlink() {
            assert_eq!(e.mode, m.mode() & 0o7777, "{}", e.path);
        }
        assert_eq!((e.uid, e.gid), (m.uid(), m.gid()), "{}", e.path);
    }
    let nid = |p: &str| l.entries.iter().find(|e| e.path == p).unwrap().nid;
    assert_eq!(nid("usr/bin/tool"), nid("usr/bin/tool2"));
    // Entries come in pre-order with each directory's entries in byte order.
    let paths: Vec<&str> = l.entries.iter().map(|e| e.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    assert_eq!(paths, sorted);
}

#[test]
#[ignore = "needs erofs-utils (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn lister_reads_what_mkfs_erofs_makes() {
    let mkfs = tool("mkfs.erofs");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    populate(&src);
    for (name, args) in [
        ("plain", &["-T1700000000"][..]),
        ("mtimes", &["--preserve-mtime"][..]),
        ("noinline", &["-Enoinline_data"][..]),
        ("lz4", &["-zlz4hc", "-T0"][..]),
        ("chunks", &["--chunksize=8192"][..]),
    ] {
        let img = tmp.path().join(format!("{name}.erofs"));
        run(Command::new(&mkfs).args(args).arg(&img).arg(&src));
        let l = listing(&img);
        assert_eq!(l.block_size, 4096);
        compare_with_dir(&l, &src);
        if name == "plain" {
            assert!(l.entries.iter().all(|e| e.mtime == BUILD_TIME), "{name}");
        }
        if name == "mtimes" {
            for e in &l.entries {
                let m = fs_err::symlink_metadata(src.join(&e.path)).unwrap();
                assert_eq!(e.mtime, m.mtime(), "{}", e.path);
            }
        }
    }
}

#[test]
#[ignore = "needs erofs-utils (scripts/install-test-tools.sh); run by scripts/test.sh"]
fn mkfs_of_our_extraction_lists_like_our_image() {
    // Our image, extracted by fsck.erofs and rebuilt by mkfs.erofs, lists the same.
    let (fsck, mkfs) = (tool("fsck.erofs"), tool("mkfs.erofs"));
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let img = tmp.path().join("ours.erofs");
    write_image(&t, &img);
    let out = tmp.path().join("out");
    run(Command::new(&fsck)
        .arg(format!("--extract={}", out.display()))
        .arg("--force")
        .arg("--preserve")
        .arg(&img));
    let theirs = tmp.path().join("theirs.erofs");
    run(Command::new(&mkfs)
        .arg("--preserve-mtime")
        .arg("-x-1")
        .arg(&theirs)
        .arg(&out));
    let old_tools = erofs_utils_1_5();
    let strip = |l: ErofsListing| {
        l.entries
            .into_iter()
            .map(|mut e| {
                e.nid = 0;
                e.xattrs.clear();
                if old_tools && e.kind == ErofsKind::File {
                    // erofs-utils 1.5 extracts without special bits and hard links.
                    e.mode &= 0o777;
                    e.nlink = 1;
                }
                if e.kind == ErofsKind::Dir {
                    e.size = 0;
                }
                e
            })
            .collect::<Vec<_>>()
    };
    let (ours, theirs) = (strip(listing(&img)), strip(listing(&theirs)));
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b);
    }
}

#[test]
fn file_writes_are_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tree(tmp.path());
    let a = write_image(&t, &tmp.path().join("a.erofs"));
    let b = write_image(&t, &tmp.path().join("b.erofs"));
    assert!(a == b, "two writes of one tree differ");
    let l = listing(&tmp.path().join("a.erofs"));
    assert_eq!(l.entries.len(), t.walk().len());
}
