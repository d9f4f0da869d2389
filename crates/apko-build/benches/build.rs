//! End-to-end build benchmark on a large repository made from this machine's own binaries.
//!
//! ```sh
//! cargo bench -p apko-build --bench build            # about 440 MB in about 180 packages
//! APKO_BENCH_MB=1000 cargo bench -p apko-build --bench build
//! ```
//!
//! 1. Generates (once; kept in `target/bench-repo`, `APKO_BENCH_REGEN=1` to redo) a signed
//!    repository with our own APK writer from the regular files of `/usr/bin` and `/usr/lib`
//!    (sorted by path, cut into packages of at most 8 files or about 1 MB, each depending on another so that the
//!    solver has a tree to walk).
//! 2. Serves it over HTTP on 127.0.0.1 and builds an image of every package from there with an
//!    empty cache (x86_64, all threads, then one thread), prints wall time,
//!    CPU time, peak RSS and the time of every phase, and checks that both builds give the same
//!    index digest.
//! 3. Extracts the layer and times `tar -cf - ROOTFS | gzip -6` over the same tree, the
//!    reference for the layer+gzip phase.
//!
//! Linux only (reads `/proc/self`). Not a test: it asserts nothing about speed.
#![allow(
    clippy::print_stdout,
    clippy::disallowed_methods,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]

use apko_build::deps::apko_apk::Dependency;
use apko_build::deps::apko_apk::index::{ApkIndex, write_index};
use apko_build::deps::apko_apk::info::PackageInfo;
use apko_build::deps::apko_apk::keys::{SignatureKind, SigningKey};
use apko_build::deps::apko_apk::package::{PackageBuilder, PackageFile};
use apko_build::{BuildOutput, BuildRequest, Builder, Phase, SourceDateEpoch};
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PACKAGE_BYTES: u64 = 1_000_000;
const PACKAGE_FILES: usize = 8;
const MAX_FILE: u64 = 48 << 20;
const BUILD_DATE: u64 = 1_700_000_000;

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// Regular files under `roots`, sorted, until `budget` bytes.
fn pick_files(roots: &[&str], budget: u64) -> Vec<(PathBuf, u64)> {
    let mut all = Vec::new();
    let mut stack: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(meta) = e.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(e.path());
            } else if meta.is_file() && meta.len() <= MAX_FILE {
                all.push((e.path(), meta.len()));
            }
        }
    }
    all.sort();
    // /usr/bin first (all of it), then /usr/lib, in path order.
    all.sort_by_key(|(p, _)| !p.starts_with("/usr/bin"));
    let mut total = 0;
    let mut out = Vec::new();
    for (p, len) in all {
        if total >= budget {
            break;
        }
        if std::fs::File::open(&p).is_ok() {
            total += len;
            out.push((p, len));
        }
    }
    out
}

fn info(name: &str, deps: &str) -> PackageInfo {
    let mut i = PackageInfo::new(name.parse().unwrap(), "1.0.0-r0".parse().unwrap());
    i.arch = Some("x86_64".into());
    i.description = format!("{name}: benchmark package");
    i.license = "MIT".into();
    i.origin = Some(name.into());
    i.build_time = Some(BUILD_DATE);
    i.depends = Dependency::parse_list(deps).unwrap();
    i
}

struct Repo {
    dir: PathBuf,
    key: PathBuf,
    packages: Vec<String>,
    bytes: u64,
    files: usize,
    apk_bytes: u64,
}

/// Writes (or reuses) the benchmark repository.
fn repository(budget_mb: u64) -> Repo {
    let dir = target_dir().join(format!("bench-repo-{budget_mb}mb"));
    let arch_dir = dir.join("x86_64");
    let key_dir = dir.join("keys");
    let stamp = dir.join("summary.txt");
    let regen = std::env::var_os("APKO_BENCH_REGEN").is_some();
    if !regen && let Ok(s) = fs_err::read_to_string(&stamp) {
        let mut lines = s.lines();
        let bytes = lines.next().unwrap().parse().unwrap();
        let files = lines.next().unwrap().parse().unwrap();
        let apk_bytes = lines.next().unwrap().parse().unwrap();
        let packages = lines.map(str::to_owned).collect();
        let key = fs_err::read_dir(&key_dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        return Repo {
            dir,
            key,
            packages,
            bytes,
            files,
            apk_bytes,
        };
    }
    if dir.exists() {
        fs_err::remove_dir_all(&dir).unwrap();
    }
    fs_err::create_dir_all(&arch_dir).unwrap();
    fs_err::create_dir_all(&key_dir).unwrap();
    let t = Instant::now();
    let key = SigningKey::generate("bench.rsa.pub", 2048).unwrap();
    fs_err::write(key_dir.join(key.name()), key.public_key_pem()).unwrap();

    let files = pick_files(&["/usr/bin", "/usr/lib"], budget_mb << 20);
    let mut groups: Vec<Vec<(PathBuf, u64)>> = vec![Vec::new()];
    let mut size = 0;
    for f in files {
        if size >= PACKAGE_BYTES || groups.last().is_some_and(|g| g.len() >= PACKAGE_FILES) {
            groups.push(Vec::new());
            size = 0;
        }
        size += f.1;
        groups.last_mut().unwrap().push(f);
    }
    let mut records = Vec::new();
    let mut names = Vec::new();
    let (mut bytes, mut nfiles, mut apk_bytes) = (0u64, 0usize, 0u64);
    for (n, group) in groups.iter().enumerate() {
        let name = format!("bench-{n:04}");
        // A tree: package n depends on package (n-1)/2.
        let deps = if n == 0 {
            String::new()
        } else {
            format!("bench-{:04}", (n - 1) / 2)
        };
        let mut b = PackageBuilder::new(info(&name, &deps));
        let mut dirs = BTreeSet::new();
        for (path, _) in group {
            let rel = path.strip_prefix("/").unwrap();
            for a in rel.ancestors().skip(1) {
                if !a.as_os_str().is_empty() {
                    dirs.insert(a.to_string_lossy().into_owned());
                }
            }
        }
        for d in &dirs {
            b = b.with_file(PackageFile::dir(d, 0o755).mtime(BUILD_DATE));
        }
        for (path, len) in group {
            let data = fs_err::read(path).unwrap();
            let mode = fs_err::metadata(path).unwrap().permissions().mode() & 0o777;
            let rel = path
                .strip_prefix("/")
                .unwrap()
                .to_string_lossy()
                .into_owned();
            b = b.with_file(PackageFile::file(&rel, mode, data).mtime(BUILD_DATE));
            bytes += len;
            nfiles += 1;
        }
        let (built, apk) = b
            .with_signature(key.clone(), SignatureKind::Rsa256)
            .build()
            .unwrap();
        apk_bytes += apk.len() as u64;
        fs_err::write(arch_dir.join(built.info.file_name()), apk).unwrap();
        records.push(built.info);
        names.push(name);
    }
    let index = ApkIndex {
        description: Some("apko-rs benchmark".into()),
        packages: records,
    };
    write_index(
        &index,
        &[(key.clone(), SignatureKind::Rsa256)],
        fs_err::File::create(arch_dir.join("APKINDEX.tar.gz")).unwrap(),
    )
    .unwrap();
    let mut summary = format!("{bytes}\n{nfiles}\n{apk_bytes}\n");
    for n in &names {
        summary.push_str(n);
        summary.push('\n');
    }
    fs_err::write(&stamp, summary).unwrap();
    println!(
        "generated {} packages ({} files, {:.0} MB) in {:.1} s",
        names.len(),
        nfiles,
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );
    Repo {
        dir,
        key: key_dir.join(key.name()),
        packages: names,
        bytes,
        files: nfiles,
        apk_bytes,
    }
}

/// Serves `root` over HTTP/1.1 on 127.0.0.1 (GET only, one thread per connection, keep-alive);
/// returns the base URL. The benchmark fetches over it, as a build from a remote repository does.
fn serve(root: PathBuf) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut stream = stream;
                loop {
                    let mut request = String::new();
                    if reader.read_line(&mut request).unwrap_or(0) == 0 {
                        return;
                    }
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                            break;
                        }
                    }
                    let path = request.split(' ').nth(1).unwrap_or("/");
                    let file = root.join(path.trim_start_matches('/'));
                    let ok = match std::fs::read(&file) {
                        Ok(body) => {
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
                                body.len()
                            );
                            stream.write_all(head.as_bytes()).is_ok()
                                && stream.write_all(&body).is_ok()
                        }
                        Err(_) => stream
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                            .is_ok(),
                    };
                    if !ok {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// User + system CPU time of this process (`self`) and of its waited-for children.
fn cpu_times() -> (Duration, Duration) {
    let stat = fs_err::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = rest.split(' ').map(|x| x.parse().unwrap_or(0)).collect();
    let tick = clock_ticks();
    let d = |t: u64| Duration::from_secs_f64(t as f64 / tick);
    // utime, stime, cutime, cstime are fields 14-17, i.e. indexes 11-14 here.
    (d(f[11] + f[12]), d(f[13] + f[14]))
}

fn clock_ticks() -> f64 {
    let o = Command::new("getconf").arg("CLK_TCK").output();
    o.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Peak resident set size since the last reset, in MiB.
fn peak_rss_mib() -> f64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn reset_peak_rss() {
    // Linux ≥ 4.0: writing 5 resets VmHWM to the current RSS.
    let _ = fs_err::write("/proc/self/clear_refs", "5");
}

struct Run {
    jobs: usize,
    wall: Duration,
    cpu: Duration,
    rss: f64,
    out: BuildOutput,
    write: Duration,
}

fn build(repo: &Repo, url: &str, jobs: usize, work: &Path) -> Run {
    let config = work.join("apko.yaml");
    let cache = work.join(format!("cache-{jobs}"));
    let mut yaml = format!(
        "contents:\n  keyring:\n    - {}\n  repositories:\n    - {}\n  packages:\n",
        repo.key.display(),
        url
    );
    for p in &repo.packages {
        yaml.push_str(&format!("    - {p}\n"));
    }
    yaml.push_str("entrypoint:\n  command: /usr/bin/env\narchs:\n  - x86_64\n");
    fs_err::write(&config, yaml).unwrap();

    reset_peak_rss();
    let (cpu0, _) = cpu_times();
    let t = Instant::now();
    let loaded = apko_build::deps::apko_config::load(&config, &[]).unwrap();
    let mut req = BuildRequest::new(
        loaded,
        work.to_owned(),
        "bench.example/big:latest".parse().unwrap(),
    );
    req.source_date_epoch = SourceDateEpoch::Set(0);
    req.jobs = jobs;
    req.work_dir = Some(work.to_owned());
    req.cache_dir = Some(cache); // empty: every package is downloaded
    let out = Builder::new(req).build().unwrap();
    let tw = Instant::now();
    let layout = work.join(format!("layout-{jobs}"));
    if layout.exists() {
        fs_err::remove_dir_all(&layout).unwrap();
    }
    out.write_layout(&layout).unwrap();
    out.write_sboms(&layout).unwrap();
    let write = tw.elapsed();
    let wall = t.elapsed();
    let (cpu1, _) = cpu_times();
    Run {
        jobs,
        wall,
        cpu: cpu1.saturating_sub(cpu0),
        rss: peak_rss_mib(),
        out,
        write,
    }
}

fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probing; nothing to list
    }
    let budget_mb: u64 = std::env::var("APKO_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let repo = repository(budget_mb);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let work = tempfile::Builder::new()
        .prefix("apko-bench-")
        .tempdir_in(target_dir())
        .unwrap();

    let url = serve(repo.dir.clone());
    let mut runs = vec![build(&repo, &url, threads, work.path())];
    if threads > 1 {
        runs.push(build(&repo, &url, 1, work.path()));
    }
    let digests: BTreeSet<String> = runs
        .iter()
        .map(|r| r.out.index_digest().to_string())
        .collect();
    assert_eq!(digests.len(), 1, "thread count changed the output");

    // The reference: tar + gzip -6 over the same tree, extracted from our layer.
    let rootfs = work.path().join("rootfs");
    fs_err::create_dir(&rootfs).unwrap();
    let layer = &runs[0].out.images[0];
    let status = Command::new("tar")
        .args([
            "-xzf",
            layer.layers[0].path().to_str().unwrap(),
            "-C",
            rootfs.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "extracting the layer");
    let (_, child0) = cpu_times();
    let t = Instant::now();
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -cf - -C '{}' . | gzip -6 | wc -c",
            rootfs.display()
        ))
        .output()
        .unwrap();
    let ref_wall = t.elapsed();
    let (_, child1) = cpu_times();
    let ref_size: u64 = String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0);

    println!();
    println!(
        "## apko-rs build benchmark: {} packages, {} files, {:.0} MB of files ({:.0} MB as .apk), x86_64, {threads} CPUs",
        repo.packages.len(),
        repo.files,
        repo.bytes as f64 / 1e6,
        repo.apk_bytes as f64 / 1e6,
    );
    println!();
    let header: Vec<String> = runs
        .iter()
        .map(|r| format!("{} thread(s)", r.jobs))
        .collect();
    println!("| measure | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(runs.len()));
    let row = |name: &str, f: &dyn Fn(&Run) -> String| {
        let cells: Vec<String> = runs.iter().map(f).collect();
        println!("| {name} | {} |", cells.join(" | "));
    };
    row("wall time (build + write layout + SBOMs)", &|r| {
        secs(r.wall)
    });
    row("CPU time (user + system)", &|r| secs(r.cpu));
    row("peak RSS", &|r| format!("{:.0} MiB", r.rss));
    for (phase, label) in [
        (
            Phase::Resolve,
            "phase: resolve (index fetch + verify + solve)",
        ),
        (Phase::Expand, "phase: fetch + verify + expand (wall)"),
        (
            Phase::Fetch,
            "… of which downloading over HTTP (summed over workers)",
        ),
        (Phase::Install, "phase: install"),
        (Phase::Layer, "phase: layer + gzip (+ OCI config, manifest)"),
        (Phase::Sbom, "phase: SBOM"),
        (Phase::Oci, "phase: OCI index"),
    ] {
        row(label, &|r| {
            let d: Duration = r
                .out
                .timings
                .iter()
                .filter(|t| t.phase == phase)
                .map(|t| t.duration)
                .sum();
            secs(d)
        });
    }
    row("write layout + SBOM files", &|r| secs(r.write));
    row("layer: uncompressed / gzip", &|r| {
        let l = &r.out.images[0].layers[0].blob;
        format!(
            "{:.0} / {:.0} MB",
            l.digests.uncompressed_size as f64 / 1e6,
            l.size() as f64 / 1e6
        )
    });
    println!(
        "| reference `tar -cf - ROOTFS \\| gzip -6` | wall {}, CPU {}, {:.0} MB |",
        secs(ref_wall),
        secs(child1.saturating_sub(child0)),
        ref_size as f64 / 1e6
    );
    println!();
    println!(
        "index digest (identical for every thread count): {}",
        runs[0].out.index_digest()
    );
}
