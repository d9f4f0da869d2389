use super::*;
use crate::package::{DataEntry, DataKind};

const SAMPLE: &str = "C:Q1qKcZ+j23xssAXmgQhkOO8dHnbWw=
P:alpine-baselayout
V:3.6.5-r0
A:x86_64
S:8515
I:315392
T:Alpine base dir structure and init scripts
U:https://git.alpinelinux.org/cgit/aports/tree/main/alpine-baselayout
L:GPL-2.0-only
o:alpine-baselayout
m:Natanael Copa <ncopa@alpinelinux.org>
t:1714981135
c:66187892e05b03a41d08e9acabd19b7576a1c875
D:alpine-baselayout-data=3.6.5-r0 /bin/sh
q:1000
F:dev
F:etc
R:motd
Z:Q1SLkS9hBidUbPwwrw+XR0Whv3ww8=
F:etc/crontabs
R:root
a:0:0:600
Z:Q1vfk1apUWI4yLJGhhNRd0kJixfvY=
F:root
M:0:0:700
F:tmp
M:0:0:1777

C:Q1yY8lhMF1VhgegJgkcXfqaNabDJw=
P:busybox
V:1.36.1-r29
S:1
I:1
T:
U:
L:
r:busybox-initscripts
s:edge
f:s
F:
R:.profile
F:bin
R:busybox
a:0:0:755
Z:Q1ZThyrXLJE0jgg4Vf8gzzlgcTeoI=
R:sh
a:0:0:777
Z:Q1vnYzG5Xfw5nNd20vxoAh4NsDzE8=

";

#[test]
fn parse_and_write_round_trip() {
    let db = InstalledDb::parse(SAMPLE, "installed").unwrap();
    assert_eq!(db.packages.len(), 2);
    let base = &db.packages[0];
    assert_eq!(base.info.replaces_priority, Some(1000));
    assert_eq!(base.dirs[2].files[0].acl, Acl::root(0o600));
    assert_eq!(base.dirs[3].acl, Acl::root(0o700));
    let bb = &db.packages[1];
    assert_eq!(bb.repository_tag.as_deref(), Some("edge"));
    assert_eq!(bb.flags, "s");
    assert_eq!(bb.dirs[0].path, "", "bare F: is the root");
    assert_eq!(bb.info.replaces[0].to_string(), "busybox-initscripts");
    assert_eq!(db.write(), SAMPLE);
    assert_eq!(
        bb.file_paths().collect::<Vec<_>>(),
        [".profile", "bin/busybox", "bin/sh"]
    );
}

#[test]
fn reads_go_apko_quirks() {
    let text = "P:a\nV:1\nA:x86_64\nL:\nT:\no:\nm:\nU:\nD:\np:\nc:\ni:[]\nt:0\nS:1\nI:1\nk:0\nC:Q1qKcZ+j23xssAXmgQhkOO8dHnbWw=\nF:etc\nM:501:20:0755\nR:x\na:501:20:0644\nZ:Q1SLkS9hBidUbPwwrw+XR0Whv3ww8=\n\n";
    let db = InstalledDb::parse(text, "go").unwrap();
    let p = &db.packages[0];
    assert!(p.info.install_if.is_empty());
    assert_eq!(p.dirs[0].acl.mode, 0o755);
    assert_eq!(p.dirs[0].acl.uid, 501);
    // Written back the apk way.
    assert!(db.write().contains("M:501:20:755\n"));
}

#[test]
fn errors() {
    assert!(
        InstalledDb::parse("P:a\nV:1\nR:x\n", "db")
            .unwrap_err()
            .to_string()
            .contains("db line 3")
    );
    assert!(InstalledDb::parse("P:a\nV:1\nF:x\nM:bad\n", "db").is_err());
    assert!(InstalledDb::parse("P:a\nV:1\nX:new\n", "db").is_err());
}

fn entry(path: &str, kind: DataKind, mode: u32) -> DataEntry {
    DataEntry {
        path: path.into(),
        kind,
        mode,
        uid: 0,
        gid: 0,
        uname: "root".into(),
        gname: "root".into(),
        mtime: 0,
        size: 0,
        checksum: Some("Q1SLkS9hBidUbPwwrw+XR0Whv3ww8=".parse().unwrap()),
        xattrs: vec![],
        data_offset: 0,
    }
}

#[test]
fn file_list_from_entries() {
    let entries = vec![
        entry("etc", DataKind::Directory, 0o755),
        entry("etc/motd", DataKind::File, 0o644),
        entry("usr", DataKind::Directory, 0o755),
        entry("usr/bin/tool", DataKind::File, 0o4755),
        entry("var/lib/alpha", DataKind::Directory, 0o700),
        entry("etc/.keep_alpha", DataKind::File, 0o644),
        entry("etc/late", DataKind::Symlink("motd".into()), 0o777),
        entry("top", DataKind::File, 0o644),
        entry("dev/null", DataKind::CharDevice(1, 3), 0o666),
    ];
    let p = InstalledPackage::new(PackageInfo::new(
        "alpha".parse().unwrap(),
        "1".parse().unwrap(),
    ))
    .with_entries(entries.iter().map(|e| (e, (e.uid, e.gid))));
    let paths: Vec<&str> = p.dirs.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["etc", "usr", "usr/bin", "var/lib/alpha", "", "dev"]);
    assert_eq!(
        p.dirs[0].files.len(),
        2,
        "motd and late; .keep_ files are not recorded"
    );
    assert_eq!(p.dirs[2].files[0].acl.mode, 0o4755);
    assert_eq!(p.dirs[3].acl.mode, 0o700);
    assert!(p.dirs[5].files[0].checksum.is_none(), "devices have no Z:");
    let text = InstalledDb { packages: vec![p] }.write();
    assert!(text.contains("F:var/lib/alpha\nM:0:0:700\n"), "{text}");
    assert!(text.contains("R:late\na:0:0:777\n"), "{text}");
    assert!(text.contains("F:\nR:top\n"), "{text}");
}

#[test]
fn xattr_checksums() {
    assert_eq!(xattr_checksum(&[]), None);
    let a = xattr_checksum(&[("b".into(), b"2".to_vec()), ("a".into(), b"1".to_vec())]);
    let b = xattr_checksum(&[("a".into(), b"1".to_vec()), ("b".into(), b"2".to_vec())]);
    assert_eq!(a, b, "sorted by name");
}

#[test]
fn scripts_and_triggers() {
    let mut info = PackageInfo::new("busybox".parse().unwrap(), "1.36.1-r29".parse().unwrap());
    info.checksum = Some("Q1yY8lhMF1VhgegJgkcXfqaNabDJw=".parse().unwrap());
    info.build_time = Some(1_718_003_507);
    info.triggers = vec!["/bin".into(), "/usr/bin".into()];
    let files = vec![
        ControlFile {
            name: ".post-install".into(),
            mode: 0o755,
            mtime: 0,
            data: b"#!/bin/sh\n".to_vec(),
        },
        ControlFile {
            name: ".melange.yaml".into(),
            mode: 0o644,
            mtime: 0,
            data: b"x".to_vec(),
        },
    ];
    let tar = write_scripts_tar([(&info, files.as_slice())]);
    let mut r = crate::tar::TarReader::new(tar.as_slice());
    let h = r.next_header().unwrap().unwrap();
    assert_eq!(
        h.path,
        "busybox-1.36.1-r29.Q1yY8lhMF1VhgegJgkcXfqaNabDJw=.post-install"
    );
    assert_eq!((h.mode, h.mtime), (0o755, 1_718_003_507));
    assert!(r.next_header().unwrap().is_none());
    assert_eq!(
        write_triggers([&info]),
        "Q1yY8lhMF1VhgegJgkcXfqaNabDJw= /bin /usr/bin\n"
    );
}

#[test]
fn carriage_returns_are_part_of_values() {
    // Found by fuzzing (APKINDEX text): `lines()` ended lines at `\r\n` too, so a value ending
    // in `\r` lost it when the written database was read back.
    let db = InstalledDb::parse("P:a\nV:1\nT:d\r\ns:tag\r\nF:etc\nR:x\r\n\n", "installed").unwrap();
    let p = &db.packages[0];
    assert_eq!(p.info.description, "d\r");
    assert_eq!(p.repository_tag.as_deref(), Some("tag\r"));
    assert_eq!(p.dirs[0].files[0].name, "x\r");
    assert_eq!(InstalledDb::parse(&db.write(), "installed").unwrap(), db);
}
