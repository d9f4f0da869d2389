//! apko-sbom's integration tests.

mod cyclonedx;
mod support;
