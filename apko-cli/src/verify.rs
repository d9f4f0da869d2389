//! `apko verify CONFIG --lockfile L IMAGE`: rebuild from the lock, compare with IMAGE.

use crate::commands::{finish_work_dir, registry_client, reporter};
use crate::render::CliError;
use apko_build::{BuildRequest, Builder};

/// Rebuilds `req` and compares the result with `image`; an error names the first difference.
pub(crate) fn verify(req: BuildRequest, image: &str) -> Result<(), CliError> {
    let work = tempfile::Builder::new()
        .prefix("apko-verify-")
        .tempdir()
        .map_err(|e| CliError::usage(format!("cannot create a temporary directory: {e}"), None))?;
    crate::cleanup::dir(work.path());
    // Pulled (a registry reference) before the rebuild, so that a wrong reference fails fast.
    let path = apko_build::local_or_pulled(image, &registry_client(), work.path(), false)?;
    let out = Builder::new(req).with_reporter(reporter()).build()?;
    let v = apko_build::compare_image(&out, &path, work.path())?;
    drop(out);
    finish_work_dir(work);
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
