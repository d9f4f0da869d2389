//! `/etc/apko.json`: the configuration of the image, locked to what was installed.

use super::{Rootfs, RootfsError, write_owned};
use apko_config::{Arch, ImageConfig};
use apko_oci::to_go_json;

/// The rootfs step.
pub(crate) fn apply(r: &mut Rootfs, c: &ImageConfig) -> Result<(), RootfsError> {
    let json = locked_config(c, r.arch, &r.world, r.run_as.as_ref());
    write_owned(
        &mut r.tree,
        "etc/apko.json",
        &String::from_utf8_lossy(&json),
        0o444,
    )
}

/// `/etc/apko.json`: the configuration of this architecture's image, locked to the exact
/// packages installed.
fn locked_config(
    c: &ImageConfig,
    arch: Arch,
    packages: &[String],
    run_as: Option<&String>,
) -> Vec<u8> {
    let mut locked = c.clone();
    locked.contents.packages = packages.to_vec();
    // Credentials used to build are not shipped in the image.
    let strip = |list: &mut Vec<String>| {
        for u in list.iter_mut() {
            *u = apko_apk::source::strip_credentials(u);
        }
    };
    strip(&mut locked.contents.repositories);
    strip(&mut locked.contents.build_repositories);
    strip(&mut locked.contents.runtime_repositories);
    strip(&mut locked.contents.keyring);
    locked.archs = vec![arch];
    if let Some(r) = run_as {
        locked.accounts.run_as = Some(r.clone());
    }
    let mut out = to_go_json(&locked);
    out.push(b'\n');
    out
}
