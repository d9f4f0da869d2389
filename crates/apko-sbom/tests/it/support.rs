//! A small installed set and the SBOM inputs over it.

use apko_apk::dependency::{Dependency, Provide};
use apko_apk::info::PackageInfo;
use apko_sbom::{ImageSbom, IndexImage, IndexSbom, OsRelease, Vcs};

/// `name`-`version` with the given licence; everything else empty.
pub(crate) fn pkg(name: &str, version: &str, license: &str) -> PackageInfo {
    let mut p = PackageInfo::new(name.parse().unwrap(), version.parse().unwrap());
    p.license = license.into();
    p
}

/// musl, busybox (depends on musl through `so:libc.musl-x86_64.so.1`), a package with a
/// licence that is not SPDX and one with a compound expression, in install order.
pub(crate) fn packages() -> Vec<PackageInfo> {
    let mut musl = pkg("musl", "1.2.5-r0", "MIT");
    musl.arch = Some("x86_64".into());
    musl.description = "the musl c library (libc) implementation".into();
    musl.url = "https://musl.libc.org/".into();
    musl.origin = Some("musl".into());
    musl.maintainer = Some("Timo Teräs <timo.teras@iki.fi>".into());
    musl.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    musl.provides = Provide::parse_list("so:libc.musl-x86_64.so.1=1").unwrap();
    musl.checksum = Some("Q1n2dIbk9uNUqGrm5Pqi3yrqMDuuM=".parse().unwrap());
    musl.datahash = Some([0xab; 32]);

    let mut busybox = pkg("busybox", "1.36.1-r29", "GPL-2.0-only");
    busybox.arch = Some("x86_64".into());
    busybox.url = "https://busybox.net/".into();
    busybox.origin = Some("busybox".into());
    busybox.maintainer = Some("Sören Tempel <soeren+alpine@soeren-tempel.net>".into());
    busybox.depends = deps("so:libc.musl-x86_64.so.1 !busybox-extras musl>=1.2");
    busybox.checksum = Some("Q1Bp4Dz5n+QXNDt0Xh2PA9UeVHqjk=".parse().unwrap());

    let mut odd = pkg("odd-thing", "2.0-r1", "custom licence, see COPYING");
    odd.maintainer = Some("Just A Name".into());
    odd.url = "not a url".into();
    odd.depends = deps("busybox missing-package");

    let mut dual = pkg("dual", "0.1_git20240101-r0", "MIT OR Apache-2.0");
    dual.url = "https://example.org/a b?c=d&e=%zz".into();
    dual.depends = deps("dual busybox odd-thing busybox");

    vec![musl, busybox, odd, dual]
}

fn deps(s: &str) -> Vec<Dependency> {
    Dependency::parse_list(s).unwrap()
}

pub(crate) fn os() -> OsRelease {
    OsRelease::parse("NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n")
}

pub(crate) const IMAGE_DIGEST: &str =
    "sha256:2a1b0c8f9d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c";
pub(crate) const LAYER_DIGEST: &str =
    "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
pub(crate) const INDEX_DIGEST: &str =
    "sha256:9999999999999999999999999999999999999999999999999999999999999999";
pub(crate) const ARM_DIGEST: &str =
    "sha256:8888888888888888888888888888888888888888888888888888888888888888";

pub(crate) fn image(packages: &[PackageInfo]) -> ImageSbom<'_> {
    ImageSbom {
        image_digest: IMAGE_DIGEST.into(),
        layer_digests: vec![LAYER_DIGEST.into()],
        repository: "hello".into(),
        oci_arch: "amd64".into(),
        apk_arch: "x86_64".into(),
        os: os(),
        packages: packages.iter().collect(),
        created: "2023-11-14T22:13:20Z".into(),
        tool: "apko-rs (0.1.0)".into(),
    }
}

pub(crate) fn index(vcs: bool) -> IndexSbom {
    IndexSbom {
        index_digest: INDEX_DIGEST.into(),
        images: vec![
            IndexImage {
                oci_arch: "amd64".into(),
                manifest_digest: IMAGE_DIGEST.into(),
            },
            IndexImage {
                oci_arch: "arm64".into(),
                manifest_digest: ARM_DIGEST.into(),
            },
        ],
        repository: "hello".into(),
        created: "2023-11-14T22:13:20Z".into(),
        tool: "apko-rs (0.1.0)".into(),
        vcs: vcs.then(|| Vcs {
            url: "https://github.com/example/hello".into(),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
        }),
    }
}
