//! The build pipeline that wires the other crates together (not implemented yet).
#![deny(missing_docs)]
