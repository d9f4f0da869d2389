//! OCI images: the JSON types (fields in go-containerregistry's order, so the bytes match
//! apko's), digests, references, and writers for image layouts and docker tarballs.
//!
//! ```
//! use apko_oci::{Descriptor, MEDIA_TYPE_CONFIG, to_go_json};
//! let d = Descriptor::of(MEDIA_TYPE_CONFIG, b"{}");
//! assert_eq!(
//!     String::from_utf8(to_go_json(&d)).unwrap(),
//!     r#"{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}"#
//! );
//! ```
#![deny(missing_docs)]

mod digest;
pub mod engine;
mod json;
mod layout;
mod reference;
pub mod registry;
mod types;

pub use digest::{Digest, ParseDigestError};
pub use json::{to_go_json, to_go_json_indent, to_go_json_pretty};
pub use layout::{
    Blob, ImageBlobs, LayerRef, OutputError, set_readable, write_atomically, write_docker_tarball,
    write_layout,
};
pub use reference::{DEFAULT_REGISTRY, ParseReferenceError, Reference};
pub use types::{
    Descriptor, Document, History, ImageConfig, Index, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_LAYER_EROFS, MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_LAYER_ZSTD, MEDIA_TYPE_MANIFEST,
    Manifest, Platform, RFC3339_MAX, RFC3339_MIN, RootFs, RunConfig, rfc3339,
    rfc3339_representable,
};
