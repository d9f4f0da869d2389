//! The `apko` command (commands arrive with the build pipeline).
fn main() {}
