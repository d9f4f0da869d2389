use super::*;
use apko_fs::Node;

/// A minimal 64-bit little-endian shared object with `DT_SONAME`.
pub(crate) fn elf64(machine: u16, soname: Option<&str>) -> Vec<u8> {
    let mut strtab = vec![0u8];
    let name_off = strtab.len() as u64;
    if let Some(s) = soname {
        strtab.extend_from_slice(s.as_bytes());
        strtab.push(0);
    }
    let phoff = 64u64;
    let dyn_off = phoff + 2 * 56;
    let mut dynamic = Vec::new();
    let mut push = |tag: u64, val: u64| {
        dynamic.extend_from_slice(&tag.to_le_bytes());
        dynamic.extend_from_slice(&val.to_le_bytes());
    };
    let str_off = dyn_off + 4 * 16;
    push(5, 0x1000 + str_off); // DT_STRTAB (vaddr)
    if soname.is_some() {
        push(14, name_off);
    } else {
        push(1, 0); // DT_NEEDED, whatever
    }
    push(0, 0);
    push(0, 0);
    let total = str_off + strtab.len() as u64;
    let mut e = Vec::new();
    e.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    e.extend_from_slice(&[0; 8]);
    e.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
    e.extend_from_slice(&machine.to_le_bytes());
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&0u64.to_le_bytes()); // entry
    e.extend_from_slice(&phoff.to_le_bytes());
    e.extend_from_slice(&0u64.to_le_bytes()); // shoff
    e.extend_from_slice(&0u32.to_le_bytes()); // flags
    e.extend_from_slice(&64u16.to_le_bytes());
    e.extend_from_slice(&56u16.to_le_bytes());
    e.extend_from_slice(&2u16.to_le_bytes());
    e.extend_from_slice(&[0; 6]);
    let ph = |e: &mut Vec<u8>, kind: u32, off: u64, vaddr: u64, size: u64| {
        e.extend_from_slice(&kind.to_le_bytes());
        e.extend_from_slice(&4u32.to_le_bytes());
        e.extend_from_slice(&off.to_le_bytes());
        e.extend_from_slice(&vaddr.to_le_bytes());
        e.extend_from_slice(&vaddr.to_le_bytes());
        e.extend_from_slice(&size.to_le_bytes());
        e.extend_from_slice(&size.to_le_bytes());
        e.extend_from_slice(&0x1000u64.to_le_bytes());
    };
    ph(&mut e, 1, 0, 0x1000, total);
    ph(&mut e, 2, dyn_off, 0x1000 + dyn_off, dynamic.len() as u64);
    e.extend_from_slice(&dynamic);
    e.extend_from_slice(&strtab);
    assert_eq!(e.len() as u64, total);
    e
}

fn file(fs: &mut FsTree, path: &str, data: Vec<u8>) {
    fs.write_file(path, data, &Meta::root(0o755)).unwrap();
}

fn symlink(fs: &mut FsTree, path: &str, target: &str) {
    fs.insert(
        path,
        Node::new(Kind::Symlink(target.to_owned()), Meta::root(0o777)),
    )
    .unwrap();
}

#[test]
fn libcmp_compares_digit_runs_as_numbers() {
    use Ordering::*;
    for (a, b, want) in [
        ("libfoo.so.10", "libfoo.so.9", Greater),
        ("libfoo.so.1", "libfoo.so.1", Equal),
        ("libfoo.so", "libfoo.so.1", Less),
        ("libc.so.6", "libcrypt.so.1", Less), // '.' < 'r'
        ("lib2.so", "liba.so", Greater),      // digits sort after letters
        ("liba.so", "lib2.so", Less),
        ("libx.so.01", "libx.so.1", Equal),
    ] {
        assert_eq!(libcmp(a.as_bytes(), b.as_bytes(), true), want, "{a} vs {b}");
        assert_eq!(
            libcmp(a.as_bytes(), b.as_bytes(), false),
            want,
            "{a} vs {b}"
        );
    }
    // Non-ASCII bytes: negative as x86 `char`s, large as arm64 ones.
    let (e, z) = ("libé.so".as_bytes(), b"libz.so".as_slice());
    assert_eq!(libcmp(e, z, true), Less);
    assert_eq!(libcmp(e, z, false), Greater);
}

#[test]
fn parses_sonames_and_refuses_other_files() {
    let so = elf64(EM_X86_64, Some("libz.so.1"));
    let info = parse_elf(&mut |o, l| {
        let s = (o as usize).min(so.len());
        Some(so[s..(s + l as usize).min(so.len())].to_vec())
    })
    .unwrap();
    assert_eq!(
        info,
        ElfInfo {
            machine: EM_X86_64,
            class64: true,
            soname: Some("libz.so.1".into())
        }
    );
    for bad in [b"not an elf".to_vec(), so[..40].to_vec(), Vec::new(), {
        let mut exec = so.clone();
        exec[16] = 2; // ET_EXEC
        exec
    }] {
        assert_eq!(
            parse_elf(&mut |o, l| {
                let s = (o as usize).min(bad.len());
                Some(bad[s..(s + l as usize).min(bad.len())].to_vec())
            }),
            None
        );
    }
}

#[test]
fn cache_of_an_image() {
    let mut fs = FsTree::new();
    fs.mkdir_all("usr/lib", &Meta::root(0o755)).unwrap();
    symlink(&mut fs, "lib", "usr/lib");
    file(
        &mut fs,
        "etc/ld.so.conf",
        b"# comment\ninclude /etc/ld.so.conf.d/*.conf\n/usr/lib\n/opt/x/lib/ # trailing\n".to_vec(),
    );
    file(&mut fs, "etc/ld.so.conf.d/b.conf", b"/opt/b/lib\n".to_vec());
    file(
        &mut fs,
        "etc/ld.so.conf.d/a.conf",
        b"/opt/a/lib\ninclude ../ld.so.conf.d/b.conf\n".to_vec(),
    );
    file(
        &mut fs,
        "usr/lib/libz.so.1.3",
        elf64(EM_X86_64, Some("libz.so.1")),
    );
    symlink(&mut fs, "usr/lib/libz.so.1", "libz.so.1.3");
    symlink(&mut fs, "usr/lib/libz.so", "libz.so.1");
    file(&mut fs, "usr/lib/libnosoname.so", elf64(EM_X86_64, None));
    file(
        &mut fs,
        "usr/lib/libarm.so.1",
        elf64(EM_AARCH64, Some("libarm.so.1")),
    );
    file(
        &mut fs,
        "usr/lib/notalib.so.1",
        elf64(EM_X86_64, Some("notalib.so.1")),
    );
    file(
        &mut fs,
        "usr/lib/libtext.so.2",
        b"INPUT(libfoo.so)\n".to_vec(),
    );
    file(
        &mut fs,
        "opt/a/lib/libsdk.so.10",
        elf64(EM_X86_64, Some("libsdk.so.10")),
    );
    file(
        &mut fs,
        "opt/b/lib/libsdk.so.9",
        elf64(EM_X86_64, Some("libsdk.so.9")),
    );
    file(
        &mut fs,
        "opt/x/lib/libz.so.1",
        elf64(EM_X86_64, Some("libz.so.1")),
    );

    let mut dirs = Vec::new();
    read_conf(
        &fs,
        "/etc/ld.so.conf",
        &mut ConfBudget::default(),
        &mut dirs,
        &mut |w| panic!("{w}"),
    );
    assert_eq!(
        dirs,
        ["/opt/a/lib", "/opt/b/lib", "/usr/lib", "/opt/x/lib"],
        "includes in place, sorted globs, nested includes, each file read once"
    );
    dirs.push("/lib".to_owned());
    let got = entries(&fs, &dirs, EM_X86_64, 0x0303, true);
    let pairs: Vec<(&str, &str)> = got
        .iter()
        .map(|e| (e.key.as_str(), e.path.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("libz.so.1", "/usr/lib/libz.so.1"),
            ("libz.so.1", "/opt/x/lib/libz.so.1"),
            ("libz.so", "/usr/lib/libz.so"),
            ("libsdk.so.10", "/opt/a/lib/libsdk.so.10"),
            ("libsdk.so.9", "/opt/b/lib/libsdk.so.9"),
            ("libnosoname.so", "/usr/lib/libnosoname.so"),
        ],
        "descending libcmp order, configured directories first; /lib is /usr/lib and \
         scanned once; other machines, non-ELF files, real names that are not the soname \
         and non-lib names are skipped"
    );

    let mut warnings = Vec::new();
    let n = generate(&mut fs, Arch::Amd64, &mut |w| warnings.push(w)).unwrap();
    assert_eq!(n, Some(6));
    assert!(warnings.is_empty());
    let bytes = fs.read_path("etc/ld.so.cache").unwrap();
    assert_eq!(&bytes[..20], b"glibc-ld.so.cache1.1");
    assert_eq!(u32::from_le_bytes(bytes[20..24].try_into().unwrap()), 6);
    // The first entry's key and value point into the string table.
    let key = u32::from_le_bytes(bytes[52..56].try_into().unwrap()) as usize;
    let value = u32::from_le_bytes(bytes[56..60].try_into().unwrap()) as usize;
    assert!(bytes[value..].starts_with(b"/usr/lib/libz.so.1\0"));
    assert!(bytes[key..].starts_with(b"libz.so.1\0"));
    assert!(bytes.ends_with(b"apko-rs"));
    let node = fs.node(fs.get("etc/ld.so.cache").unwrap());
    assert_eq!((node.meta.mode, node.meta.mtime), (0o644, 0));
}

#[test]
fn no_conf_no_cache_and_unsupported_arches_warn() {
    let mut fs = FsTree::new();
    assert_eq!(generate(&mut fs, Arch::Amd64, &mut |_| {}).unwrap(), None);
    assert!(!fs.exists("etc/ld.so.cache"));
    file(&mut fs, "etc/ld.so.conf", Vec::new());
    let mut warnings = Vec::new();
    assert_eq!(
        generate(&mut fs, Arch::S390x, &mut |w| warnings.push(w)).unwrap(),
        None
    );
    assert_eq!(warnings.len(), 1);
    assert_eq!(
        generate(&mut fs, Arch::Arm64, &mut |_| {}).unwrap(),
        Some(0)
    );
    assert!(fs.exists("etc/ld.so.cache"));
}

#[test]
fn include_loops_and_hostile_patterns_stop() {
    let mut fs = FsTree::new();
    file(
        &mut fs,
        "etc/ld.so.conf",
        b"include /etc/ld.so.conf /etc/ld.so.conf /etc/ld.so.conf /etc/ld.so.conf\n/opt/lib\ninclude /etc/****************************************b\n".to_vec(),
    );
    file(&mut fs, &format!("etc/{}", "a".repeat(64)), Vec::new());
    let mut dirs = Vec::new();
    let mut warned = 0;
    let t = std::time::Instant::now();
    read_conf(
        &fs,
        "/etc/ld.so.conf",
        &mut ConfBudget::default(),
        &mut dirs,
        &mut |_| warned += 1,
    );
    assert_eq!(dirs, ["/opt/lib"]);
    assert_eq!(warned, 0, "a loop is just a file already read");
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    assert!(wildcard(b"*.conf", b"a.conf") && !wildcard(b"*.conf", b"a.con"));
    assert!(wildcard(b"a?c*", b"abcdef") && wildcard(b"*", b"") && !wildcard(b"?", b""));
}
