//! Integration tests of apko-apk: repositories written by our own writer, served from local
//! directories and a local HTTP server, then fetched, verified, solved and expanded.
#![allow(clippy::disallowed_methods)]

mod hostile;
mod repo;
mod server;
mod sources;
