//! The apko.yaml configuration: its types, strict parsing, validation and `include` merging.
//!
//! Parsing is strict, as in apko: an unknown key, a value of the wrong type or an invalid
//! value is an error that names the file, the line and column, and the field. Octal modes are
//! read as apko reads them (`0755` and `0o755` are 493; `755` is decimal).
//!
//! ```
//! let text = "contents:\n  repositories: [https://dl-cdn.alpinelinux.org/alpine/v3.20/main/]\n  packages: [alpine-base]\narchs: [x86_64, aarch64]\npaths:\n  - path: /data\n    type: directory\n    permissions: 0755\n";
//! let loaded = apko_config::load_str(text, "apko.yaml", &[]).unwrap();
//! let c = &loaded.config;
//! assert_eq!(c.contents.repositories, ["https://dl-cdn.alpinelinux.org/alpine/v3.20/main"]);
//! assert_eq!(c.archs[0].to_string(), "amd64");
//! assert_eq!(c.paths[0].permissions, 0o755);
//!
//! let err = apko_config::load_str("contents:\n  pakages: [a]\n", "apko.yaml", &[]).unwrap_err();
//! assert!(err.to_string().starts_with("apko.yaml:2:3: `contents.pakages`: unknown field `pakages`"));
//! ```
#![deny(missing_docs)]

mod arch;
mod error;
mod load;
mod locate;
mod types;
mod validate;

pub use arch::{Arch, ParseArchError};
pub use error::ConfigError;
pub use load::{ConfigSource, LoadedConfig, load, load_str, merge, parse_str};
pub use locate::Location;
pub use types::{
    Accounts, BaseImage, Certificates, Contents, Entrypoint, EntrypointKind, Group, ImageConfig,
    ImageFormat, InlineFile, LayerCompression, Layering, LayeringStrategy, PathMutation, PathType,
    User,
};
