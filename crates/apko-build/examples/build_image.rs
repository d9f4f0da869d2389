//! Builds an image with the library, as the `apko build` command does.
//!
//! ```sh
//! cargo run -p apko-build --example build_image -- examples/hello/apko.yaml hello:latest hello.tar
//! ```
//!
//! The output is an OCI layout if `OUTPUT` is an existing directory, otherwise a `docker load`-able
//! tarball. The build date is the newest package's build date (no `SOURCE_DATE_EPOCH` handling here).
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

use apko_build::{BuildRequest, Builder};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, tag, output] = args.as_slice() else {
        eprintln!("usage: build_image CONFIG TAG OUTPUT");
        std::process::exit(2);
    };
    let config = apko_config::load(Path::new(config), &[])?;
    let req = BuildRequest::new(config, std::env::current_dir()?, tag.parse()?);
    let built = Builder::new(req).build()?;
    let output = Path::new(output);
    if output.is_dir() {
        built.write_layout(output)?;
    } else {
        built.write_tarball(output)?;
    }
    for image in &built.images {
        println!("{}: {}", image.arch, image.manifest.descriptor.digest);
    }
    println!("index: {}", built.index_digest());
    Ok(())
}
