//! The in-memory image filesystem and the deterministic layer writer (filled in by the
//! end-to-end build work; nothing here yet).
#![deny(missing_docs)]
