//! Records the compiler's version for `apko version` (its `GoVersion` field).
#![allow(clippy::disallowed_methods, clippy::print_stdout)]

fn main() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=APKO_RUSTC_VERSION={version}");
    println!("cargo:rerun-if-changed=build.rs");
}
