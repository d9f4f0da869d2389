//! `apko verify CONFIG --lockfile L IMAGE`: rebuild from the lock, compare with IMAGE.

use crate::commands::reporter;
use crate::render::CliError;
use apko_build::{BuildRequest, Builder};
use std::path::Path;

/// Rebuilds `req` and compares the result with `image`; an error names the first difference.
pub(crate) fn verify(req: BuildRequest, image: &str) -> Result<(), CliError> {
    let path = Path::new(image);
    if !path.exists() {
        return Err(CliError::usage(
            format!(
                "{image}: no such image (an OCI layout directory, an OCI archive or a docker tarball)"
            ),
            None,
        ));
    }
    let out = Builder::new(req).with_reporter(reporter()).build()?;
    let work = tempfile::Builder::new()
        .prefix("apko-verify-")
        .tempdir()
        .map_err(|e| CliError::usage(format!("cannot create a temporary directory: {e}"), None))?;
    let v = apko_build::compare_image(&out, path, work.path())?;
    match v.difference {
        None => {
            println!(
                "{image}: verified, the same image as the rebuild ({})",
                v.rebuilt
            );
            Ok(())
        }
        Some(d) => Err(CliError::usage(
            format!(
                "{image} is not what the configuration and lockfile build (rebuilt index {}, image {}): first difference: {d}",
                v.rebuilt,
                v.image
                    .map_or_else(|| "without an index".to_owned(), |d| d.to_string()),
            ),
            Some(
                "build with the same flags, SOURCE_DATE_EPOCH and apko version as the image was built with",
            ),
        )),
    }
}
