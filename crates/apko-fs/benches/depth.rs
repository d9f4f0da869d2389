//! Deeply nested trees: building (every directory of the chain listed, as a package lists
//! its entries) and writing the tar, at growing depths. Near-linear in the size of the input
//! (the sum of the path lengths, which grows with the square of the depth) is the target; the
//! table prints time per path byte so that a cubic term shows as a growing column.
//!
//! `cargo bench -p apko-fs --bench depth`
#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use apko_fs::{ConflictPolicy, Decision, FsTree, Kind, LayerOptions, Meta, Node};
use std::time::Instant;

struct Replace;
impl ConflictPolicy for Replace {
    fn decide(&self, _: &str, _: &Node, _: &Node) -> Decision {
        Decision::Replace
    }
}

fn main() {
    println!("| depth | path bytes | build | tar | ns per path byte |");
    println!("|---:|---:|---:|---:|---:|");
    for depth in [300usize, 600, 1200, 2400] {
        let paths: Vec<String> = (1..=depth).map(|d| vec!["d"; d].join("/")).collect();
        let bytes: usize = paths.iter().map(String::len).sum();
        let t = Instant::now();
        let mut fs = FsTree::new();
        for p in &paths {
            fs.ensure_dir(p, &Meta::root(0o755), None).unwrap();
        }
        let leaf = format!("{}/file", paths.last().unwrap());
        fs.install(
            &leaf,
            Node::new(Kind::File(b"x".to_vec().into()), Meta::root(0o644)),
            &Replace,
        )
        .unwrap();
        let build = t.elapsed();
        let t = Instant::now();
        apko_fs::write_tar(&fs, &LayerOptions::default(), std::io::sink()).unwrap();
        let tar = t.elapsed();
        println!(
            "| {depth} | {bytes} | {:.1} ms | {:.1} ms | {:.1} |",
            build.as_secs_f64() * 1e3,
            tar.as_secs_f64() * 1e3,
            (build + tar).as_secs_f64() * 1e9 / bytes as f64
        );
    }
}
