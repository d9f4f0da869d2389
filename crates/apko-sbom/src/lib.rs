//! SPDX 2.3 documents for images (not implemented yet).
#![deny(missing_docs)]
