//! The image filesystem, in memory, and the layer writer.
//!
//! [`FsTree`] holds directories, files (their bodies in memory or, for package files, read on
//! demand from the expanded package), symbolic and hard links, devices, owners, modes, times
//! and extended attributes. Paths are resolved through symbolic links in every component and
//! never leave the root, so usr-merged layouts (`bin -> usr/bin`) behave as on a real system.
//! [`write_layer`] turns the tree into a reproducible gzip'd tar: the same tree gives the same
//! bytes on any machine and with any number of threads.
//!
//! ```
//! use apko_fs::{FsTree, Kind, LayerOptions, Meta, Node, write_layer};
//!
//! let mut fs = FsTree::new();
//! fs.mkdir_all("usr/bin", &Meta::root(0o755)).unwrap();
//! fs.insert("bin", Node::new(Kind::Symlink("usr/bin".into()), Meta::root(0o777))).unwrap();
//! fs.write_file("bin/hello", b"#!/bin/sh\necho hi\n".to_vec(), &Meta::root(0o755)).unwrap();
//! assert!(fs.get("usr/bin/hello").is_some());
//!
//! let (layer, bytes) = write_layer(&fs, &LayerOptions::default(), Vec::new()).unwrap();
//! assert_eq!(layer.size(), bytes.len() as u64);
//! assert!(layer.diff_id().starts_with("sha256:"));
//! ```
#![deny(missing_docs)]

mod cpio;
pub mod erofs;
mod error;
mod gzip;
mod hashing;
mod install;
mod layer;
mod tar;
mod tree;
mod zstd;

pub use cpio::write_cpio;
pub use error::FsError;
pub use gzip::{Digests, compress};
pub use install::{ConflictPolicy, Decision, Installed};
pub use layer::{
    Compression, LayerBlob, LayerKey, LayerOptions, LayerPart, layer_key, write_layer,
    write_layer_part, write_tar, write_tar_entries,
};
pub use tree::{Content, FsTree, Kind, Meta, Node, NodeId, Owner, ROOT};
pub use zstd::{ZSTD_LEVELS, compress_zstd};
