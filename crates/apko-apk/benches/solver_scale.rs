//! Scaling of the solver on generated worlds (no test data needed): a long dependency chain, a
//! package with a very wide dependency list, a wide world, and a balanced tree. Prints a table of
//! seconds per size so that growth can be read off (near linear: doubling the size about doubles
//! the time). Run with `cargo bench -p apko-apk --bench solver_scale [-- MAX]`.
#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    clippy::cast_precision_loss
)]

use apko_apk::Dependency;
use apko_apk::info::PackageInfo;
use apko_apk::solve::{Repository, resolve};
use std::time::Instant;

fn pkg(name: &str, deps: Vec<Dependency>) -> PackageInfo {
    let mut p = PackageInfo::new(name.parse().unwrap(), "1.0-r0".parse().unwrap());
    p.depends = deps;
    p.installed_size = 1;
    p
}

fn dep(name: &str) -> Dependency {
    name.parse().unwrap()
}

/// `p0 → p1 → … → pN`; world `p0`.
fn chain(n: usize) -> (Vec<PackageInfo>, Vec<Dependency>) {
    let index = (0..n)
        .map(|i| {
            let deps = if i + 1 < n {
                vec![dep(&format!("p{}", i + 1))]
            } else {
                vec![]
            };
            pkg(&format!("p{i}"), deps)
        })
        .collect();
    (index, vec![dep("p0")])
}

/// `top` depends on `p0 … pN`; world `top`.
fn wide_deps(n: usize) -> (Vec<PackageInfo>, Vec<Dependency>) {
    let mut index: Vec<PackageInfo> = (0..n).map(|i| pkg(&format!("p{i}"), vec![])).collect();
    index.push(pkg("top", (0..n).map(|i| dep(&format!("p{i}"))).collect()));
    (index, vec![dep("top")])
}

/// World `p0 … pN`, each depending on the next (dense interlinking).
fn wide_world(n: usize) -> (Vec<PackageInfo>, Vec<Dependency>) {
    let (index, _) = chain(n);
    (index, (0..n).map(|i| dep(&format!("p{i}"))).collect())
}

/// A binary tree: `pI` depends on `p(2I+1)` and `p(2I+2)`; world `p0`.
fn tree(n: usize) -> (Vec<PackageInfo>, Vec<Dependency>) {
    let index = (0..n)
        .map(|i| {
            let deps = [2 * i + 1, 2 * i + 2]
                .into_iter()
                .filter(|&c| c < n)
                .map(|c| dep(&format!("p{c}")))
                .collect();
            pkg(&format!("p{i}"), deps)
        })
        .collect();
    (index, vec![dep("p0")])
}

type Shape = fn(usize) -> (Vec<PackageInfo>, Vec<Dependency>);

fn main() {
    let max: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let shapes: [(&str, Shape); 4] = [
        ("chain", chain),
        ("wide dependency list", wide_deps),
        ("wide world", wide_world),
        ("binary tree", tree),
    ];
    let mut sizes = vec![];
    let mut n = 12_500;
    while n <= max {
        sizes.push(n);
        n *= 2;
    }
    print!("| shape |");
    for n in &sizes {
        print!(" {n} |");
    }
    println!();
    print!("|---|");
    for _ in &sizes {
        print!("---|");
    }
    println!();
    for (label, shape) in shapes {
        print!("| {label} |");
        for &n in &sizes {
            let (index, world) = shape(n);
            let repos = [Repository::new("generated", &index)];
            let t = Instant::now();
            let res = resolve(&world, &repos).expect("generated worlds are solvable");
            let secs = t.elapsed().as_secs_f64();
            assert_eq!(
                res.packages.len(),
                index.len(),
                "every package is installed"
            );
            print!(" {secs:.3} s |");
        }
        println!();
    }
}
