//! Benchmarks of apko-apk on real data (needs `APKO_TESTDATA`): index parse + verify,
//! solving, version comparison. Prints a table; run with `cargo bench -p apko-apk`.
#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    clippy::cast_precision_loss
)]

use apko_apk::index::{IndexTrust, read_index};
use apko_apk::keys::{Keyring, SignaturePolicy};
use apko_apk::package::Limits;
use apko_apk::solve::{Repository, resolve};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed());
        last = Some(r);
    }
    (best, last.expect("ran at least once"))
}

fn main() {
    let Some(data) = std::env::var_os("APKO_TESTDATA").map(PathBuf::from) else {
        println!(
            "APKO_TESTDATA is not set: the apko-apk benchmark needs the real Alpine index; nothing measured."
        );
        return;
    };
    let mut ring = Keyring::new();
    for e in fs_err::read_dir(data.join("alpine/keys")).unwrap() {
        ring.add_file(&e.unwrap().path()).unwrap();
    }
    let index_path = data.join("apko/apk-testdata/alpine-316/APKINDEX.tar.gz");
    let bytes = fs_err::read(&index_path).unwrap();
    let (parse, index) = best_of(10, || {
        read_index(
            bytes.as_slice(),
            "alpine-316",
            &ring,
            IndexTrust::Require(SignaturePolicy::FirstUsable),
            &Limits::default(),
        )
        .unwrap()
        .0
    });
    let repos = [Repository::new("alpine-316", &index.packages)];
    let mini: Vec<apko_apk::Dependency> = apko_apk::Dependency::parse_list(
        "alpine-baselayout alpine-keys apk-tools busybox libc-utils",
    )
    .unwrap();
    let (solve_mini, res) = best_of(20, || resolve(&mini, &repos).unwrap());
    let mini_count = res.packages.len();
    // 200 names spread over the index, each resolvable on its own.
    let mut names: Vec<String> = index.packages.iter().map(|p| p.name.to_string()).collect();
    names.sort();
    names.dedup();
    let mut world = Vec::new();
    for n in names.iter().step_by(names.len() / 400) {
        let d: apko_apk::Dependency = n.parse().unwrap();
        if resolve(std::slice::from_ref(&d), &repos).is_ok() {
            world.push(d);
        }
        if world.len() == 200 {
            break;
        }
    }
    let (solve_big, res) = best_of(5, || resolve(&world, &repos));
    let big_count = res.map_or(0, |r| r.packages.len());
    let versions: Vec<&apko_apk::Version> = index.packages.iter().map(|p| &p.version).collect();
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < Duration::from_millis(500) {
        for w in versions.windows(2) {
            black_box(w[0].cmp(w[1]));
            n += 1;
        }
    }
    let per_sec = n as f64 / t.elapsed().as_secs_f64();
    println!("| apko-apk benchmark | result |");
    println!("|---|---|");
    println!(
        "| parse + verify Alpine 3.16 x86_64 APKINDEX ({} packages, {} KiB) | {:.1} ms |",
        index.packages.len(),
        bytes.len() / 1024,
        parse.as_secs_f64() * 1e3
    );
    println!(
        "| solve minirootfs world (5 names → {mini_count} packages) | {:.2} ms |",
        solve_mini.as_secs_f64() * 1e3
    );
    println!(
        "| solve {}-name world ({big_count} packages) | {:.1} ms |",
        world.len(),
        solve_big.as_secs_f64() * 1e3
    );
    println!("| version comparisons | {:.1} M/s |", per_sec / 1e6);
}
