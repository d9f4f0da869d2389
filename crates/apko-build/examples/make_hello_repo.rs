//! Writes the example repository under `examples/hello/`: a signed APK repository for
//! x86_64 and aarch64 with two packages the project owns —
//!
//! * `hello-baselayout`: directories, `/etc/os-release`, `/etc/passwd`, `/etc/group`, and a
//!   usr-merged `/bin -> usr/bin`;
//! * `hello`: `/usr/bin/hello`, a tiny static program (hand-assembled here) that prints a
//!   greeting, plus `/usr/share/hello/README`.
//!
//! ```text
//! cargo run -p apko-build --example make_hello_repo -- examples/hello [PRIVATE_KEY]
//! ```
//!
//! Without PRIVATE_KEY a new 4096-bit key is generated; its public half is written to
//! `examples/hello/keys/hello.rsa.pub` (the private half is not kept). Given the same key the
//! output is byte-identical.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use apko_build::deps::apko_apk::index::{ApkIndex, write_index};
use apko_build::deps::apko_apk::info::PackageInfo;
use apko_build::deps::apko_apk::keys::{SignatureKind, SigningKey};
use apko_build::deps::apko_apk::package::{PackageBuilder, PackageFile};
use std::path::Path;

const GREETING: &[u8] = b"Hello from an image built by apko-rs!\n";
const BUILD_DATE: u64 = 1_735_689_600; // 2025-01-01T00:00:00Z

/// A static ELF64 executable: one loadable segment holding the code and the message.
fn elf(machine: u16, code: &[u8]) -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    let header_len = 64 + 56;
    let total = (header_len + code.len()) as u64;
    let mut e = Vec::new();
    e.extend_from_slice(b"\x7fELF\x02\x01\x01\x00"); // 64-bit, little endian, SysV
    e.extend_from_slice(&[0; 8]);
    e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    e.extend_from_slice(&machine.to_le_bytes());
    e.extend_from_slice(&1u32.to_le_bytes()); // version
    e.extend_from_slice(&(BASE + header_len as u64).to_le_bytes()); // entry
    e.extend_from_slice(&64u64.to_le_bytes()); // program headers offset
    e.extend_from_slice(&0u64.to_le_bytes()); // section headers offset
    e.extend_from_slice(&0u32.to_le_bytes()); // flags
    e.extend_from_slice(&64u16.to_le_bytes()); // header size
    e.extend_from_slice(&56u16.to_le_bytes()); // program header size
    e.extend_from_slice(&1u16.to_le_bytes()); // one program header
    e.extend_from_slice(&[0; 6]); // no section headers
    // PT_LOAD, read + execute, the whole file.
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&5u32.to_le_bytes());
    e.extend_from_slice(&0u64.to_le_bytes());
    e.extend_from_slice(&BASE.to_le_bytes());
    e.extend_from_slice(&BASE.to_le_bytes());
    e.extend_from_slice(&total.to_le_bytes());
    e.extend_from_slice(&total.to_le_bytes());
    e.extend_from_slice(&0x1000u64.to_le_bytes());
    e.extend_from_slice(code);
    e
}

/// x86_64: write(1, msg, len); exit(0).
fn hello_x86_64() -> Vec<u8> {
    let mut c = Vec::new();
    c.extend_from_slice(&[0xb8, 1, 0, 0, 0]); // mov eax, 1 (write)
    c.extend_from_slice(&[0xbf, 1, 0, 0, 0]); // mov edi, 1
    c.extend_from_slice(&[0x48, 0x8d, 0x35]); // lea rsi, [rip + msg]
    let lea_end = c.len() + 4;
    let code_len = lea_end + 5 + 2 + 5 + 2 + 2;
    c.extend_from_slice(&((code_len - lea_end) as u32).to_le_bytes());
    c.push(0xba); // mov edx, len
    c.extend_from_slice(&(GREETING.len() as u32).to_le_bytes());
    c.extend_from_slice(&[0x0f, 0x05]); // syscall
    c.extend_from_slice(&[0xb8, 60, 0, 0, 0]); // mov eax, 60 (exit)
    c.extend_from_slice(&[0x31, 0xff]); // xor edi, edi
    c.extend_from_slice(&[0x0f, 0x05]); // syscall
    assert_eq!(c.len(), code_len);
    c.extend_from_slice(GREETING);
    elf(62, &c)
}

/// aarch64: write(1, msg, len); exit(0).
fn hello_aarch64() -> Vec<u8> {
    let insns: [u32; 8] = [
        0xd280_0020,                                  // mov x0, #1
        0x1000_0001 | ((8 * 4 - 4) / 4) << 5,         // adr x1, msg (8 instructions from the start)
        0xd280_0002 | ((GREETING.len() as u32) << 5), // mov x2, #len
        0xd280_0808,                                  // mov x8, #64 (write)
        0xd400_0001,                                  // svc #0
        0xd280_0000,                                  // mov x0, #0
        0xd280_0ba8,                                  // mov x8, #93 (exit)
        0xd400_0001,                                  // svc #0
    ];
    let mut c: Vec<u8> = insns.iter().flat_map(|i| i.to_le_bytes()).collect();
    c.extend_from_slice(GREETING);
    elf(183, &c)
}

fn info(name: &str, arch: &str, desc: &str, deps: &str) -> PackageInfo {
    let mut i = PackageInfo::new(
        name.parse().expect("valid"),
        "1.0.0-r0".parse().expect("valid"),
    );
    i.arch = Some(arch.to_owned());
    i.description = desc.to_owned();
    i.url = "https://github.com/apko-rs/apko-rs".to_owned();
    i.license = "Apache-2.0".to_owned();
    i.origin = Some(name.to_owned());
    i.maintainer = Some("apko-rs <apko-rs@example.invalid>".to_owned());
    i.build_time = Some(BUILD_DATE);
    i.depends = apko_build::deps::apko_apk::Dependency::parse_list(deps).expect("valid");
    i
}

fn run(out: &Path, key: &SigningKey) -> Result<(), Box<dyn std::error::Error>> {
    let keys = out.join("keys");
    fs_err::create_dir_all(&keys)?;
    fs_err::write(keys.join(key.name()), key.public_key_pem())?;
    let t = BUILD_DATE;
    for (arch, binary) in [("x86_64", hello_x86_64()), ("aarch64", hello_aarch64())] {
        let dir = out.join("repo").join(arch);
        fs_err::create_dir_all(&dir)?;
        let base = PackageBuilder::new(info("hello-baselayout", arch, "Directory layout of the hello example", ""))
            .with_file(PackageFile::dir("etc", 0o755).mtime(t))
            .with_file(PackageFile::file("etc/os-release", 0o644, "ID=hello\nNAME=\"apko-rs hello example\"\nVERSION_ID=1.0.0\nPRETTY_NAME=\"apko-rs hello example 1.0.0\"\n").mtime(t))
            .with_file(PackageFile::file("etc/passwd", 0o644, "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n").mtime(t))
            .with_file(PackageFile::file("etc/group", 0o644, "root:x:0:\nnobody:x:65534:\n").mtime(t))
            .with_file(PackageFile::dir("root", 0o700).mtime(t))
            .with_file(PackageFile::dir("usr", 0o755).mtime(t))
            .with_file(PackageFile::dir("usr/bin", 0o755).mtime(t))
            .with_file(PackageFile::symlink("bin", "usr/bin").mtime(t))
            .with_file(PackageFile::dir("var", 0o755).mtime(t))
            .with_file(PackageFile::dir("var/tmp", 0o1777).mtime(t))
            .with_signature(key.clone(), SignatureKind::Rsa256);
        let hello =
            PackageBuilder::new(info("hello", arch, "Prints a greeting", "hello-baselayout"))
                .with_file(PackageFile::dir("usr", 0o755).mtime(t))
                .with_file(PackageFile::dir("usr/bin", 0o755).mtime(t))
                .with_file(PackageFile::file("usr/bin/hello", 0o755, binary).mtime(t))
                .with_file(PackageFile::dir("usr/share", 0o755).mtime(t))
                .with_file(PackageFile::dir("usr/share/hello", 0o755).mtime(t))
                .with_file(
                    PackageFile::file(
                        "usr/share/hello/README",
                        0o644,
                        "The hello example of apko-rs.\n",
                    )
                    .mtime(t),
                )
                .with_signature(key.clone(), SignatureKind::Rsa256);
        let mut records = Vec::new();
        for b in [base, hello] {
            let (built, bytes) = b.build()?;
            fs_err::write(dir.join(built.info.file_name()), bytes)?;
            records.push(built.info);
        }
        let index = ApkIndex {
            description: Some("apko-rs hello example".to_owned()),
            packages: records,
        };
        let tmp = dir.join("APKINDEX.tar.gz.tmp");
        write_index(
            &index,
            &[(key.clone(), SignatureKind::Rsa256)],
            fs_err::File::create(&tmp)?,
        )?;
        fs_err::rename(&tmp, dir.join("APKINDEX.tar.gz"))?;
    }
    println!("wrote {}", out.display());
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = Path::new(args.first().map_or("examples/hello", String::as_str));
    let key = match args.get(1) {
        Some(p) => fs_err::read(p)
            .map_err(|e| e.to_string())
            .and_then(|pem| SigningKey::from_pem("hello.rsa.pub", &pem).map_err(|e| e.to_string())),
        None => SigningKey::generate("hello.rsa.pub", 4096).map_err(|e| e.to_string()),
    };
    let result = key.map_err(Into::into).and_then(|k| run(out, &k));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
