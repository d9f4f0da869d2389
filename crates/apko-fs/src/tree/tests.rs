use super::*;
use crate::install::{ConflictPolicy, Decision, Installed};
use crate::layer::{LayerOptions, write_layer, write_tar};
use std::io::Read;

fn file(data: &[u8], mode: u32) -> Node {
    Node::new(Kind::File(data.to_vec().into()), Meta::root(mode))
}

fn symlink(t: &str) -> Node {
    Node::new(Kind::Symlink(t.into()), Meta::root(0o777))
}

fn usrmerge() -> FsTree {
    let mut fs = FsTree::new();
    fs.mkdir_all("usr/bin", &Meta::root(0o755)).unwrap();
    fs.mkdir_all("usr/lib", &Meta::root(0o755)).unwrap();
    fs.insert("bin", symlink("usr/bin")).unwrap();
    fs.insert("lib", symlink("/usr/lib")).unwrap();
    fs
}

#[test]
fn resolution_follows_links_and_stays_in_the_root() {
    let mut fs = usrmerge();
    fs.insert("bin/sh", file(b"sh", 0o755)).unwrap();
    assert_eq!(fs.get("usr/bin/sh"), fs.get("/bin/sh"));
    fs.insert("lib/libc.so", file(b"c", 0o755)).unwrap();
    assert!(fs.get("usr/lib/libc.so").is_some());
    // `..` above the root stays at the root, as in a chroot.
    fs.insert("usr/bin/escape", symlink("../../../../etc"))
        .unwrap();
    fs.mkdir_all("etc", &Meta::root(0o755)).unwrap();
    assert_eq!(fs.get("usr/bin/escape"), fs.get("etc"));
    fs.insert("etc/abs", symlink("/usr/bin/sh")).unwrap();
    assert_eq!(fs.get("etc/abs"), fs.get("bin/sh"));
    // The link itself without following.
    assert!(matches!(
        fs.node(fs.get_nofollow("bin").unwrap()).kind,
        Kind::Symlink(_)
    ));
    // Loops are an error, not a hang.
    fs.insert("loop1", symlink("loop2")).unwrap();
    fs.insert("loop2", symlink("loop1")).unwrap();
    assert!(matches!(
        fs.resolve("loop1/x", true),
        Err(FsError::SymlinkLoop { .. })
    ));
    assert!(matches!(
        fs.resolve("nope/x", true),
        Err(FsError::NotFound { .. })
    ));
    assert!(matches!(
        fs.resolve("bin/sh/x", true),
        Err(FsError::NotADirectory { .. })
    ));
}

#[test]
fn mkdir_all_goes_through_links_and_keeps_existing_modes() {
    let mut fs = usrmerge();
    fs.mkdir_all("bin/sub", &Meta::root(0o700)).unwrap();
    assert!(fs.node(fs.get("usr/bin/sub").unwrap()).is_dir());
    fs.mkdir_all("usr/bin", &Meta::root(0o700)).unwrap();
    assert_eq!(
        fs.node(fs.get("usr/bin").unwrap()).meta.mode,
        0o755,
        "existing directories keep their mode"
    );
    // ensure_dir: newer mtime, same mode.
    fs.ensure_dir("bin", &Meta::root(0o700).with_mtime(99), None)
        .unwrap();
    let ub = fs.node(fs.get("usr/bin").unwrap());
    assert_eq!((ub.meta.mode, ub.meta.mtime), (0o755, 99));
    fs.insert("usr/bin/f", file(b"", 0o644)).unwrap();
    assert!(matches!(
        fs.ensure_dir("usr/bin/f", &Meta::root(0o755), None),
        Err(FsError::TypeConflict { .. })
    ));
}

struct Policy;
impl ConflictPolicy for Policy {
    fn decide(&self, _path: &str, existing: &Node, incoming: &Node) -> Decision {
        if existing.checksum.is_some() && existing.checksum == incoming.checksum {
            Decision::Keep
        } else if incoming.owner == Some(Owner(3)) {
            Decision::Replace
        } else {
            Decision::Conflict
        }
    }
}

#[test]
fn install_asks_the_policy() {
    let mut fs = usrmerge();
    let a = file(b"x", 0o644)
        .owned_by(Owner(1))
        .with_checksum(Some([1; 20]));
    assert!(matches!(
        fs.install("etc/conf", a.clone(), &Policy).unwrap(),
        Installed::Created(_)
    ));
    assert_eq!(
        fs.node(fs.get("etc").unwrap()).meta.mode,
        0o755,
        "parents are created"
    );
    let same = file(b"x", 0o644)
        .owned_by(Owner(2))
        .with_checksum(Some([1; 20]));
    assert_eq!(
        fs.install("etc/conf", same, &Policy).unwrap(),
        Installed::Kept {
            owner: Some(Owner(1))
        }
    );
    let other = file(b"y", 0o644)
        .owned_by(Owner(2))
        .with_checksum(Some([2; 20]));
    let err = fs.install("etc/conf", other, &Policy).unwrap_err();
    assert!(
        matches!(
            err,
            FsError::Conflict {
                existing: Owner(1),
                incoming: Owner(2),
                ..
            }
        ),
        "{err}"
    );
    let winner = file(b"z", 0o600).owned_by(Owner(3));
    assert!(matches!(
        fs.install("etc/conf", winner, &Policy).unwrap(),
        Installed::Replaced {
            previous: Some(Owner(1)),
            ..
        }
    ));
    assert_eq!(fs.read_path("etc/conf").unwrap(), b"z");
    // A file never replaces a directory.
    let err = fs
        .install("usr/lib", file(b"", 0o644).owned_by(Owner(3)), &Policy)
        .unwrap_err();
    assert!(
        matches!(
            err,
            FsError::TypeConflict {
                existing: "directory",
                ..
            }
        ),
        "{err}"
    );
    // Through the usr-merge link.
    fs.install("bin/tool", file(b"t", 0o755).owned_by(Owner(1)), &Policy)
        .unwrap();
    assert_eq!(fs.read_path("usr/bin/tool").unwrap(), b"t");
}

#[test]
fn hard_links_and_dot_dot_names() {
    let mut fs = usrmerge();
    let tool = fs
        .install(
            "usr/bin/tool",
            file(b"t", 0o755)
                .owned_by(Owner(1))
                .with_checksum(Some([1; 20])),
            &Policy,
        )
        .unwrap();
    let Installed::Created(tool) = tool else {
        panic!()
    };
    let evil = fs
        .install(
            "usr/bin/evil",
            file(b"e", 0o755)
                .owned_by(Owner(2))
                .with_checksum(Some([2; 20])),
            &Policy,
        )
        .unwrap();
    let Installed::Created(evil) = evil else {
        panic!()
    };
    // A link over another owner's different file asks the policy, which refuses here.
    let err = fs
        .install_link("usr/bin/tool", evil, Some(Owner(2)), &Policy)
        .unwrap_err();
    assert!(matches!(err, FsError::Conflict { .. }), "{err}");
    assert_eq!(fs.read_path("usr/bin/tool").unwrap(), b"t");
    // A link on a free path, and to the same node, works.
    assert!(matches!(
        fs.install_link("bin/alias", tool, Some(Owner(1)), &Policy)
            .unwrap(),
        Installed::Created(_)
    ));
    assert!(matches!(
        fs.install_link("usr/bin/alias", tool, Some(Owner(1)), &Policy)
            .unwrap(),
        Installed::Kept { .. }
    ));
    // Never to a directory: the tree stays a tree.
    let usr = fs.get("usr").unwrap();
    for err in [
        fs.link("usr/loop", usr).unwrap_err(),
        fs.install_link("usr/loop", usr, None, &Policy).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                FsError::HardLinkTarget {
                    target: "directory",
                    ..
                }
            ),
            "{err}"
        );
    }
    // `..` is never an entry name.
    fs.mkdir_all("zz", &Meta::root(0o755)).unwrap();
    let err = fs.insert("zz/..", symlink("/bin/busybox")).unwrap_err();
    assert!(matches!(err, FsError::InvalidPath { .. }), "{err}");
    assert!(
        fs.walk()
            .iter()
            .all(|(p, _)| !p.split('/').any(|c| c == ".."))
    );
}

#[test]
fn builder_writes_replace_planted_links() {
    let mut fs = usrmerge();
    fs.insert("usr/bin/tool", file(b"real", 0o755)).unwrap();
    fs.mkdir_all("etc/apk", &Meta::root(0o755)).unwrap();
    fs.insert("etc/apk/world", symlink("../../usr/bin/tool"))
        .unwrap();
    let id = fs
        .write_file_nofollow("etc/apk/world", b"busybox\n".to_vec(), &Meta::root(0o644))
        .unwrap();
    assert!(matches!(fs.node(id).kind, Kind::File(_)));
    assert_eq!(fs.read_path("usr/bin/tool").unwrap(), b"real");
    assert_eq!(fs.read_path("etc/apk/world").unwrap(), b"busybox\n");
    // A regular file keeps its metadata.
    fs.node_mut(id).meta.mode = 0o600;
    let again = fs
        .write_file_nofollow("etc/apk/world", b"x\n".to_vec(), &Meta::root(0o644))
        .unwrap();
    assert_eq!((again, fs.node(again).meta.mode), (id, 0o600));
}

#[test]
fn source_backed_content_is_read_lazily() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("data");
    fs_err::write(&src, b"0123456789").unwrap();
    let mut fs = FsTree::new();
    let s = fs.add_source(src);
    fs.insert(
        "f",
        Node::new(
            Kind::File(Content::Source {
                source: s,
                offset: 3,
                size: 4,
            }),
            Meta::root(0o644),
        ),
    )
    .unwrap();
    assert_eq!(fs.read_path("f").unwrap(), b"3456");
    let (layer, bytes) = write_layer(&fs, &LayerOptions::default(), Vec::new()).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(layer.digests.uncompressed_size, tar.len() as u64);
    let mut ar = tar::Archive::new(tar.as_slice());
    let mut e = ar.entries().unwrap().next().unwrap().unwrap();
    let mut body = String::new();
    e.read_to_string(&mut body).unwrap();
    assert_eq!(body, "3456");
}

fn sample_tree() -> FsTree {
    let mut fs = usrmerge();
    fs.insert("bin/busybox", file(&vec![7u8; 5000], 0o755))
        .unwrap();
    fs.insert("bin/sh", symlink("/bin/busybox")).unwrap();
    let id = fs.get("bin/busybox").unwrap();
    fs.link("usr/bin/busybox-hard", id).unwrap();
    fs.mkdir_all("tmp", &Meta::root(0o1777)).unwrap();
    fs.mkdir_all("dev", &Meta::root(0o755)).unwrap();
    fs.insert(
        "dev/null",
        Node::new(Kind::CharDevice(1, 3), Meta::root(0o666)),
    )
    .unwrap();
    let mut m = Meta::root(0o4755);
    m.uid = 1000;
    m.gid = 1000;
    m.mtime = 1_700_000_000;
    m.xattrs
        .push(("security.capability".into(), vec![1, 0, 0, 2]));
    fs.insert(
        "usr/bin/ping",
        Node::new(Kind::File(b"ping".to_vec().into()), m),
    )
    .unwrap();
    fs
}

#[test]
fn layers_read_back_with_an_independent_tar_reader() {
    let fs = sample_tree();
    let mut opts = LayerOptions::default();
    opts.users.insert(1000, "app".into());
    let (_, bytes) = write_layer(&fs, &opts, Vec::new()).unwrap();
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(
        &tar[tar.len() - 1024..],
        &[0u8; 1024][..],
        "ends with two zero blocks"
    );
    let mut ar = tar::Archive::new(tar.as_slice());
    let mut seen = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().display().to_string();
        let h = e.header().clone();
        let line = match h.entry_type() {
            tar::EntryType::Symlink => {
                format!("{path} -> {}", e.link_name().unwrap().unwrap().display())
            }
            tar::EntryType::Link => {
                format!("{path} => {}", e.link_name().unwrap().unwrap().display())
            }
            tar::EntryType::Char => format!(
                "{path} c{},{}",
                h.device_major().unwrap().unwrap(),
                h.device_minor().unwrap().unwrap()
            ),
            t => format!("{path} {t:?} {:o}", h.mode().unwrap()),
        };
        if path == "usr/bin/ping" {
            assert_eq!(h.username().unwrap(), Some("app"));
            assert_eq!(h.uid().unwrap(), 1000);
            let pax: Vec<String> = e
                .pax_extensions()
                .unwrap()
                .unwrap()
                .map(|x| x.unwrap().key().unwrap().to_owned())
                .collect();
            assert_eq!(pax, ["SCHILY.xattr.security.capability"]);
        }
        seen.push(line);
    }
    assert_eq!(
        seen,
        [
            "bin -> usr/bin",
            "dev Directory 755",
            "dev/null c1,3",
            "lib -> /usr/lib",
            "tmp Directory 1777",
            "usr Directory 755",
            "usr/bin Directory 755",
            "usr/bin/busybox Regular 755",
            "usr/bin/busybox-hard => usr/bin/busybox",
            "usr/bin/ping Regular 4755",
            "usr/bin/sh -> /bin/busybox",
            "usr/lib Directory 755",
        ]
    );
}

#[test]
fn layers_are_deterministic_for_any_thread_count() {
    let fs = sample_tree();
    let mut outs = Vec::new();
    for threads in [1, 2, 7] {
        let opts = LayerOptions {
            threads,
            block_size: 64 * 1024,
            ..LayerOptions::default()
        };
        outs.push(write_layer(&fs, &opts, Vec::new()).unwrap());
    }
    assert!(
        outs.windows(2)
            .all(|w| w[0].1 == w[1].1 && w[0].0 == w[1].0)
    );
    let (size, sha) = write_tar(&fs, &LayerOptions::default(), Vec::new()).unwrap();
    assert_eq!(size, outs[0].0.digests.uncompressed_size);
    assert_eq!(sha, outs[0].0.digests.uncompressed_sha256);
}
