//! Packs a directory into a signed `.apk`, the way a melange-like packager would.
//!
//! ```text
//! cargo run -p apko-apk --example pack -- DIR NAME VERSION ARCH KEY.rsa OUT.apk [DEPENDS...]
//! ```
//!
//! `KEY.rsa` is a PEM RSA private key; its public half must be installed as
//! `KEY.rsa.pub` (the name written into the signature). Use `-` as KEY to write an unsigned
//! package, or `new:NAME` to generate a key and write `NAME.rsa` and `NAME.rsa.pub` next to
//! OUT.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use apko_apk::info::PackageInfo;
use apko_apk::keys::{SignatureKind, SigningKey};
use apko_apk::package::PackageBuilder;
use std::path::Path;
use std::process::ExitCode;

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [dir, name, version, arch, key, out, deps @ ..] = args else {
        return Err(
            "usage: pack DIR NAME VERSION ARCH KEY.rsa|-|new:NAME OUT.apk [DEPENDS...]".into(),
        );
    };
    let mut info = PackageInfo::new(name.parse()?, version.parse()?);
    info.arch = Some(arch.clone());
    info.description = format!("{name} packed from {dir}");
    info.license = "NOASSERTION".into();
    info.origin = Some(name.clone());
    info.build_time = Some(0);
    for d in deps {
        info.depends.push(d.parse()?);
    }
    let mut builder = PackageBuilder::new(info).with_dir(Path::new(dir))?;
    let out_dir = Path::new(out).parent().unwrap_or(Path::new("."));
    if let Some(new) = key.strip_prefix("new:") {
        let k = SigningKey::generate(&format!("{new}.rsa.pub"), 4096)?;
        fs_err::write(out_dir.join(format!("{new}.rsa")), k.private_key_pem())?;
        fs_err::write(out_dir.join(format!("{new}.rsa.pub")), k.public_key_pem())?;
        builder = builder.with_signature(k, SignatureKind::Rsa256);
    } else if key != "-" {
        let pem = fs_err::read(key)?;
        let pub_name = format!(
            "{}.pub",
            Path::new(key)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        builder = builder.with_signature(
            SigningKey::from_pem(&pub_name, &pem)?,
            SignatureKind::Rsa256,
        );
    }
    let tmp = tempfile::NamedTempFile::new_in(out_dir)?;
    let built = builder.write(std::io::BufWriter::new(tmp.as_file()))?;
    tmp.persist(out)?;
    println!(
        "{out}: {} ({} bytes, C:{})",
        built.info.name_version(),
        built.file_size(),
        built.identity()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
