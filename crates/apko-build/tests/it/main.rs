//! End-to-end builds from fixture repositories written by our own APK writer.
#![allow(clippy::disallowed_methods)]

mod attest;
mod baseimage;
mod cache;
mod compression;
mod errors;
mod features;
mod hostile;
mod package_sbom;
mod pipeline;
mod support;
