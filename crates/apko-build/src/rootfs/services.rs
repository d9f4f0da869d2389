//! s6 service bundles: `/sv/<name>/run` for every service of a `service-bundle` entrypoint.

use super::{Rootfs, RootfsError};
use apko_config::ImageConfig;
use apko_fs::Meta;

/// The s6 supervision tree of a `service-bundle` entrypoint.
pub(crate) fn apply(r: &mut Rootfs, c: &ImageConfig) -> Result<(), RootfsError> {
    let fs = &mut r.tree;
    if !c.entrypoint.is_service_bundle() {
        return Ok(());
    }
    for (name, cmd) in &c.entrypoint.services {
        let dir = format!("sv/{name}");
        fs.mkdir_all(&dir, &Meta::root(0o755))
            .map_err(RootfsError::fs(format!("creating /{dir}")))?;
        let run = format!("{dir}/run");
        fs.write_file_nofollow(
            &run,
            format!("#!/bin/execlineb\n{cmd}\n").into_bytes(),
            &Meta::root(0o755),
        )
        .map_err(RootfsError::fs(format!("writing /{run}")))?;
    }
    Ok(())
}
