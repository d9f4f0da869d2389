//! OCI image types, image layouts, docker tarballs and registry push (not implemented yet).
#![deny(missing_docs)]
