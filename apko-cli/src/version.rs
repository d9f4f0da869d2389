//! `version`: release-utils' layout (the `APKO` banner, then aligned fields), or `--json`
//! with its seven keys in its order.
//!
//! The values are ours: `GitVersion` is `v` and the crate version; `GitCommit`,
//! `GitTreeState` and `BuildDate` come from `APKO_GIT_COMMIT`, `APKO_GIT_TREE_STATE` and
//! `APKO_BUILD_DATE` when they are set at compile time (`unknown` otherwise, as in Go);
//! `GoVersion` holds the Rust compiler's `rustc --version` (there is no Go toolchain to
//! report); `Compiler` is `rustc`; `Platform` is the target as Go spells it (`linux/amd64`).

/// The banner: `APKO` in figlet's standard font, as go-figure draws it.
const BANNER: [&str; 5] = [
    r"     _      ____    _  __   ___",
    r"    / \    |  _ \  | |/ /  / _ \",
    r"   / _ \   | |_) | | ' /  | | | |",
    r"  / ___ \  |  __/  | . \  | |_| |",
    r" /_/   \_\ |_|     |_|\_\  \___/",
];

/// release-utils' `Info`, in its field order: (text label, JSON key, value).
fn fields() -> [(&'static str, &'static str, String); 7] {
    let or_unknown = |v: Option<&str>| v.filter(|v| !v.is_empty()).unwrap_or("unknown").to_owned();
    [
        (
            "GitVersion",
            "gitVersion",
            concat!("v", env!("CARGO_PKG_VERSION")).to_owned(),
        ),
        (
            "GitCommit",
            "gitCommit",
            or_unknown(option_env!("APKO_GIT_COMMIT")),
        ),
        (
            "GitTreeState",
            "gitTreeState",
            or_unknown(option_env!("APKO_GIT_TREE_STATE")),
        ),
        (
            "BuildDate",
            "buildDate",
            or_unknown(option_env!("APKO_BUILD_DATE")),
        ),
        (
            "GoVersion",
            "goVersion",
            env!("APKO_RUSTC_VERSION").to_owned(),
        ),
        ("Compiler", "compiler", "rustc".to_owned()),
        (
            "Platform",
            "platform",
            platform(std::env::consts::OS, std::env::consts::ARCH),
        ),
    ]
}

/// `GOOS/GOARCH` of a Rust target's OS and architecture.
fn platform(os: &str, arch: &str) -> String {
    let os = match os {
        "macos" => "darwin",
        other => other,
    };
    let arch = match arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "loongarch64" => "loong64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "powerpc" => "ppc",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "mips" if cfg!(target_endian = "little") => "mipsle",
        other => other,
    };
    format!("{os}/{arch}")
}

/// The text `apko version` prints (its final blank line included).
pub(crate) fn text() -> String {
    let mut out = String::new();
    for row in BANNER {
        out.push_str(row);
        out.push('\n');
    }
    out.push_str("apko\n\n");
    // tabwriter with padding 2: the label column is as wide as the longest label + ':' + 2.
    let fields = fields();
    let width = fields
        .iter()
        .map(|(l, _, _)| l.len() + 1)
        .max()
        .unwrap_or(0)
        + 2;
    for (label, _, value) in fields {
        out.push_str(&format!("{:<width$}{value}\n", format!("{label}:")));
    }
    out.push('\n');
    out
}

/// The JSON `apko version --json` prints (two-space indent, then a newline).
pub(crate) fn json() -> String {
    let mut out = String::from("{\n");
    let fields = fields();
    for (i, (_, key, value)) in fields.iter().enumerate() {
        let sep = if i + 1 < fields.len() { "," } else { "" };
        let value = String::from_utf8(apko_build::deps::apko_oci::to_go_json(value))
            .expect("JSON is UTF-8");
        out.push_str(&format!("  \"{key}\": {value}{sep}\n"));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_layout() {
        let t = text();
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[..5], BANNER);
        assert_eq!(lines[5..7], ["apko", ""]);
        assert_eq!(
            lines[7],
            concat!("GitVersion:    v", env!("CARGO_PKG_VERSION"))
        );
        assert!(lines[9].starts_with("GitTreeState:  "), "{}", lines[9]);
        assert!(
            lines[11].starts_with("GoVersion:     rustc"),
            "{}",
            lines[11]
        );
        assert_eq!(lines[12], "Compiler:      rustc");
        assert!(lines[13].starts_with("Platform:      "));
        assert!(t.ends_with("\n\n"));
        assert!(BANNER.iter().all(|r| !r.ends_with(' ')));
    }

    #[test]
    fn json_keys_in_order() {
        let j = json();
        let v: serde_json::Value = serde_json::from_str(&j).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 7);
        let keys: Vec<&str> = j
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
            .collect();
        assert_eq!(
            keys,
            [
                "gitVersion",
                "gitCommit",
                "gitTreeState",
                "buildDate",
                "goVersion",
                "compiler",
                "platform"
            ]
        );
        assert!(j.starts_with("{\n  \"gitVersion\": \"v"));
        assert!(j.ends_with("\"\n}\n"));
    }

    #[test]
    fn platforms_as_go_spells_them() {
        assert_eq!(platform("linux", "x86_64"), "linux/amd64");
        assert_eq!(platform("linux", "aarch64"), "linux/arm64");
        assert_eq!(platform("macos", "aarch64"), "darwin/arm64");
        assert_eq!(platform("linux", "x86"), "linux/386");
        assert_eq!(platform("linux", "riscv64"), "linux/riscv64");
        assert_eq!(platform("linux", "s390x"), "linux/s390x");
    }
}
