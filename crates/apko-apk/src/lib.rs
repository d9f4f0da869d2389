//! APK v2 packages and repositories, as Alpine's apk-tools 2.x handles them.
#![deny(missing_docs)]

pub mod version;

pub use version::{ParseVersionError, Version};
