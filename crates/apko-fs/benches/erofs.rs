//! Writing a large EROFS image (file bodies read from a source file, as package contents
//! are): time, and peak memory, which must not grow with the image.
//!
//! `cargo bench -p apko-fs --bench erofs`
#![allow(clippy::print_stdout, clippy::cast_precision_loss)]

use apko_fs::erofs::{ErofsOptions, write_erofs};
use apko_fs::{Content, FsTree, Kind, LayerOptions, Meta, Node};
use std::io::Write;
use std::time::Instant;

/// Peak resident memory so far, in MiB (Linux).
fn peak_mib() -> f64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("source.bin");
    let mut f = std::io::BufWriter::new(fs_err::File::create(&src).unwrap());
    for mb in 0..64usize {
        let piece: Vec<u8> = (0..1usize << 20).map(|i| (i * 7 + mb) as u8).collect();
        f.write_all(&piece).unwrap();
    }
    f.flush().unwrap();
    drop(f);
    println!("| files | image | erofs | tar | peak RSS |");
    println!("|---:|---:|---:|---:|---:|");
    for files in [1_000usize, 8_000, 32_000] {
        let mut t = FsTree::new();
        let source = t.add_source(src.clone());
        for i in 0..files {
            // Sizes from a few bytes to ~60 KiB, 500 MB in all at 32,000 files.
            let size = ((i * 7919) % 61_000 + 3) as u64;
            let path = format!("usr/lib/pkg{}/file{i:06}", i % 97);
            t.mkdir_all(&format!("usr/lib/pkg{}", i % 97), &Meta::root(0o755))
                .unwrap();
            t.insert(
                &path,
                Node::new(
                    Kind::File(Content::Source {
                        source,
                        offset: (i as u64 * 4099) % (32 << 20),
                        size,
                    }),
                    Meta::root(0o644),
                ),
            )
            .unwrap();
        }
        let now = Instant::now();
        let (stats, _) = write_erofs(&t, &ErofsOptions::default(), std::io::sink()).unwrap();
        let erofs = now.elapsed();
        let now = Instant::now();
        apko_fs::write_tar(&t, &LayerOptions::default(), std::io::sink()).unwrap();
        let tar = now.elapsed();
        println!(
            "| {files} | {:.0} MiB | {:.0} ms | {:.0} ms | {:.0} MiB |",
            stats.size as f64 / f64::from(1 << 20),
            erofs.as_secs_f64() * 1e3,
            tar.as_secs_f64() * 1e3,
            peak_mib()
        );
    }
}
