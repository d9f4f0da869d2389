//! Package URLs, written the same way in both formats.

use apko_apk::info::PackageInfo;

/// The media type of an image manifest.
pub(crate) const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The media type of an image index.
pub(crate) const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The media type of a gzip'd layer.
pub(crate) const LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Percent-encodes everything but `[A-Za-z0-9.-_~]`.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `pkg:apk/<os id>/<name>@<version>?arch=<arch>`; `arch` is the image's apk architecture
/// when the package names none.
pub(crate) fn apk(os_id: &str, p: &PackageInfo, image_arch: &str) -> String {
    format!(
        "pkg:apk/{}/{}@{}?arch={}",
        escape(&os_id.to_ascii_lowercase()),
        escape(p.name.as_str()),
        escape(p.version.as_str()),
        escape(p.arch.as_deref().unwrap_or(image_arch))
    )
}

/// `pkg:oci/<repository>@<digest>?arch=<arch>&mediaType=<type>&os=linux` (apko's form; no
/// `arch` and `os` for an index).
pub(crate) fn oci(repository: &str, digest: &str, arch: Option<&str>, media_type: &str) -> String {
    let arch_q = arch
        .map(|a| format!("arch={}&", escape(a)))
        .unwrap_or_default();
    let os = if arch.is_some() { "&os=linux" } else { "" };
    format!(
        "pkg:oci/{repository}@{digest}?{arch_q}mediaType={}{os}",
        escape(media_type)
    )
}
