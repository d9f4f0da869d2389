//! Conformance suite: compares apko-apk with the real apk-tools 2.14.4 on the shared corpus.
//!
//! Every test here reads the directory named by `APKO_TESTDATA` and is `#[ignore]`d so that the
//! default `cargo test` does not pretend to have run it; the project's test script runs this
//! binary with `--ignored` when the corpus is present. A missing file is a failure, never a
//! skip.
#![allow(
    clippy::disallowed_methods,
    clippy::print_stderr,
    clippy::print_stdout,
    clippy::case_sensitive_file_extension_comparisons,
    clippy::format_collect
)]

mod common;
mod index_write;
mod installed_db;
mod solver;
mod verify;
mod version;
