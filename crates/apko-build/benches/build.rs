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
//! 2. Serves it over HTTP on 127.0.0.1 and builds an image of every package from there, each
//!    run printing wall time, CPU time, peak RSS and the time of every phase:
//!    * cold: an empty cache (all threads; then one thread);
//!    * warm unchanged: the same build again with the cache of the cold one;
//!    * cold with `layering: {strategy: origin, budget: 50}`, then one package changed (the
//!      largest one, rebuilt at a new version with one more file, in a copy of the repository
//!      with a new signed index) with that cache;
//!    * zstd cold (level 3).
//!
//!    It checks that cold, warm and 1-thread builds give the same index digest. Then two
//!    more cold and zstd cold builds each, alternating which goes first: the zstd target
//!    compares the medians of three.
//! 3. Extracts the layer and times `tar -cf - ROOTFS | gzip -6` and `| zstd -3 -T0` over the
//!    same tree, the references for the compression, and prints the issue's targets.
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
use std::collections::{BTreeMap, BTreeSet};
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
    let have_private = dir.join("private.rsa").exists();
    if !regen
        && have_private
        && let Ok(s) = fs_err::read_to_string(&stamp)
    {
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
    // Kept (outside the key directory) to sign the "one package changed" repository.
    fs_err::write(dir.join("private.rsa"), key.private_key_pem()).unwrap();

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
            // Without it, the header and the body go in two segments and Nagle's algorithm
            // waits for the client's delayed ACK: 40 ms per package, as no real server does.
            let _ = stream.set_nodelay(true);
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
                    // `io::copy` from a file to a socket is `sendfile` on Linux, as in
                    // nginx: the server's cost is not counted against the build.
                    let opened = std::fs::File::open(&file)
                        .and_then(|f| f.metadata().map(|m| (f, m)))
                        .ok()
                        .filter(|(_, m)| m.is_file());
                    let ok = match opened {
                        Some((mut body, meta)) => {
                            let len = meta.len();
                            let head = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\n\r\n"
                            );
                            stream.write_all(head.as_bytes()).is_ok()
                                && std::io::copy(&mut body, &mut stream).is_ok()
                        }
                        _ => stream
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

/// Makes `<repo>-changed`: the same repository with its largest package rebuilt at a new
/// version with one more file, and a new signed index. Returns (its directory, the package).
fn changed_repository(repo: &Repo) -> (PathBuf, String, u64) {
    use apko_build::deps::apko_apk::index::{IndexTrust, read_index};
    use apko_build::deps::apko_apk::keys::{Keyring, SignaturePolicy};
    use apko_build::deps::apko_apk::package::{DataKind, Limits, expand};
    let dir = PathBuf::from(format!("{}-changed", repo.dir.display()));
    if dir.exists() {
        fs_err::remove_dir_all(&dir).unwrap();
    }
    let arch_dir = dir.join("x86_64");
    fs_err::create_dir_all(&arch_dir).unwrap();
    let src = repo.dir.join("x86_64");
    let key = SigningKey::from_pem(
        "bench.rsa.pub",
        &fs_err::read(repo.dir.join("private.rsa")).unwrap(),
    )
    .unwrap();
    let mut keyring = Keyring::new();
    keyring
        .add_pem("bench.rsa.pub", key.public_key_pem().as_bytes())
        .unwrap();
    let (mut index, _) = read_index(
        fs_err::File::open(src.join("APKINDEX.tar.gz")).unwrap(),
        "APKINDEX.tar.gz",
        &keyring,
        IndexTrust::Require(SignaturePolicy::AnyValid),
        &Limits::default(),
    )
    .unwrap();
    let largest = index
        .packages
        .iter()
        .enumerate()
        .max_by_key(|(_, p)| (p.installed_size, p.name.to_string()))
        .map(|(i, _)| i)
        .unwrap();
    let old = index.packages[largest].clone();
    for p in &index.packages {
        if p.name != old.name {
            let f = p.file_name();
            fs_err::hard_link(src.join(&f), arch_dir.join(&f)).unwrap();
        }
    }
    let mut data = Vec::new();
    let (expanded, _) = expand(
        std::io::BufReader::new(fs_err::File::open(src.join(old.file_name())).unwrap()),
        &old.name_version(),
        &Limits::default(),
        None,
        &mut data,
    )
    .unwrap();
    let mut info = expanded.control.info.clone();
    info.version = "1.0.0-r1".parse().unwrap();
    let mut b = PackageBuilder::new(info);
    for e in &expanded.entries {
        let off = e.data_offset as usize;
        let f = match &e.kind {
            DataKind::Directory => PackageFile::dir(&e.path, e.mode),
            DataKind::File => {
                PackageFile::file(&e.path, e.mode, data[off..off + e.size as usize].to_vec())
            }
            DataKind::Symlink(t) => PackageFile::symlink(&e.path, t),
            DataKind::HardLink(t) => PackageFile::hardlink(&e.path, t, e.mode),
            other => panic!("unexpected {other:?}"),
        };
        b = b.with_file(f.mtime(BUILD_DATE));
    }
    b = b.with_file(
        PackageFile::file("usr/share/bench-changed", 0o644, b"r1\n".to_vec()).mtime(BUILD_DATE),
    );
    let (built, apk) = b
        .with_signature(key.clone(), SignatureKind::Rsa256)
        .build()
        .unwrap();
    fs_err::write(arch_dir.join(built.info.file_name()), apk).unwrap();
    index.packages[largest] = built.info;
    write_index(
        &index,
        &[(key, SignatureKind::Rsa256)],
        fs_err::File::create(arch_dir.join("APKINDEX.tar.gz")).unwrap(),
    )
    .unwrap();
    (dir, old.name.to_string(), old.installed_size)
}

struct Spec {
    label: &'static str,
    url: String,
    jobs: usize,
    cache: PathBuf,
    layering: bool,
    zstd: bool,
}

struct Run {
    label: &'static str,
    wall: Duration,
    cpu: Duration,
    rss: f64,
    out: BuildOutput,
    write: Duration,
}

fn build(repo: &Repo, spec: &Spec, work: &Path) -> Run {
    let config = work.join("apko.yaml");
    let mut yaml = format!(
        "contents:\n  keyring:\n    - {}\n  repositories:\n    - {}\n  packages:\n",
        repo.key.display(),
        spec.url
    );
    for p in &repo.packages {
        yaml.push_str(&format!("    - {p}\n"));
    }
    yaml.push_str("entrypoint:\n  command: /usr/bin/env\narchs:\n  - x86_64\n");
    if spec.layering {
        yaml.push_str("layering:\n  strategy: origin\n  budget: 50\n");
    }
    fs_err::write(&config, yaml).unwrap();

    let wd = work.join(format!("work-{}", spec.label.replace([' ', ','], "-")));
    let _ = fs_err::remove_dir_all(&wd);
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
    req.jobs = spec.jobs;
    req.work_dir = Some(wd.clone());
    req.cache_dir = Some(spec.cache.clone());
    if spec.zstd {
        req.compression = Some(apko_build::deps::apko_config::LayerCompression::Zstd);
    }
    let out = Builder::new(req).build().unwrap();
    let tw = Instant::now();
    let layout = work.join("layout");
    if layout.exists() {
        fs_err::remove_dir_all(&layout).unwrap();
    }
    out.write_layout(&layout).unwrap();
    out.write_sboms(&layout).unwrap();
    let write = tw.elapsed();
    let wall = t.elapsed();
    let (cpu1, _) = cpu_times();
    Run {
        label: spec.label,
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

/// Runs `sh -c cmd`; returns (wall, CPU of the children, stdout as a number).
fn reference(cmd: &str) -> (Duration, Duration, u64) {
    let (_, child0) = cpu_times();
    let t = Instant::now();
    let o = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    assert!(o.status.success(), "{cmd}");
    let wall = t.elapsed();
    let (_, child1) = cpu_times();
    let n = String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (wall, child1.saturating_sub(child0), n)
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
    let (changed_dir, changed, changed_size) = changed_repository(&repo);
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let work = tempfile::Builder::new()
        .prefix("apko-bench-")
        .tempdir_in(target_dir())
        .unwrap();
    let w = work.path();
    let url = serve(repo.dir.clone());
    let changed_url = serve(changed_dir);
    let spec = |label, url: &str, jobs, cache: &str, layering, zstd| Spec {
        label,
        url: url.to_owned(),
        jobs,
        cache: w.join(cache),
        layering,
        zstd,
    };
    let mut specs = vec![
        spec("cold", &url, threads, "cache-a", false, false),
        spec("warm, unchanged", &url, threads, "cache-a", false, false),
        spec("cold, layering", &url, threads, "cache-b", true, false),
        spec(
            "one package changed, layering",
            &changed_url,
            threads,
            "cache-b",
            true,
            false,
        ),
        spec("zstd cold", &url, threads, "cache-c", false, true),
    ];
    if threads > 1 {
        specs.push(spec("cold, 1 thread", &url, 1, "cache-d", false, false));
    }
    // `APKO_BENCH_ONLY=zstd`: only the runs whose label contains it (for profiling; the
    // comparisons below need every run).
    if let Ok(only) = std::env::var("APKO_BENCH_ONLY") {
        for s in specs.iter().filter(|s| s.label.contains(only.as_str())) {
            let _ = Command::new("sync").status();
            let r = build(&repo, s, w);
            println!("{}: {} wall, {} CPU", r.label, secs(r.wall), secs(r.cpu));
            for t in &r.out.timings {
                println!("  {:?} {}", t.phase, secs(t.duration));
            }
        }
        return;
    }
    // Each run starts with no dirty pages left by the previous ones (`sync`, untimed), and a
    // cache is deleted as soon as no later run uses it, so that write-back of earlier runs'
    // gigabytes does not slow down later ones.
    let mut runs: Vec<Run> = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let _ = Command::new("sync").status();
        runs.push(build(&repo, s, w));
        if !specs[i + 1..].iter().any(|later| later.cache == s.cache) {
            let _ = fs_err::remove_dir_all(&s.cache);
        }
    }
    // The zstd target compares two cold builds, which vary with the machine (shared vCPUs
    // run slower after sustained load, and `zstd cold` comes fifth): two more of each,
    // alternating which goes first, and the target uses the medians of three.
    let mut walls: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for r in &runs {
        walls.entry(r.label).or_default().push(r.wall);
    }
    for order in [["zstd cold", "cold"], ["cold", "zstd cold"]] {
        for label in order {
            let s = specs.iter().find(|s| s.label == label).unwrap();
            let _ = Command::new("sync").status();
            let _ = fs_err::remove_dir_all(&s.cache);
            let r = build(&repo, s, w);
            let _ = fs_err::remove_dir_all(&s.cache);
            walls.entry(label).or_default().push(r.wall);
        }
    }
    let median = |label: &str| {
        let mut v = walls[label].clone();
        v.sort();
        v[v.len() / 2]
    };
    let by = |label: &str| runs.iter().find(|r| r.label == label).unwrap();
    let digests: BTreeSet<String> = runs
        .iter()
        .filter(|r| !r.label.contains("layering") && !r.label.contains("zstd"))
        .map(|r| r.out.index_digest().to_string())
        .collect();
    assert_eq!(
        digests.len(),
        1,
        "the cache or the thread count changed the output"
    );

    // The references: tar + gzip -6 and tar + zstd -3 -T0 over the same tree, extracted from
    // our layer.
    let rootfs = w.join("rootfs");
    fs_err::create_dir(&rootfs).unwrap();
    let status = Command::new("tar")
        .args([
            "-xzf",
            by("cold").out.images[0].layers[0].path().to_str().unwrap(),
            "-C",
            rootfs.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success(), "extracting the layer");
    let tar = format!("tar -cf - -C '{}' .", rootfs.display());
    let gz = reference(&format!("{tar} | gzip -6 | wc -c"));
    let zs = reference(&format!("{tar} | zstd -3 -T0 -c | wc -c"));

    println!();
    println!(
        "## apko-rs build benchmark: {} packages, {} files, {:.0} MB of files ({:.0} MB as .apk), x86_64, {threads} CPUs",
        repo.packages.len(),
        repo.files,
        repo.bytes as f64 / 1e6,
        repo.apk_bytes as f64 / 1e6,
    );
    println!(
        "\"one package changed\": `{changed}` ({:.1} MB installed, the largest) at a new version with one more file",
        changed_size as f64 / 1e6
    );
    println!();
    let header: Vec<&str> = runs.iter().map(|r| r.label).collect();
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
        (Phase::Layer, "phase: layers (+ OCI config, manifest)"),
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
    row("layers / uncompressed / compressed", &|r| {
        let ls = &r.out.images[0].layers;
        let (u, c) = ls.iter().fold((0, 0), |(u, c), l| {
            (u + l.blob.digests.uncompressed_size, c + l.blob.size())
        });
        format!(
            "{} / {:.0} / {:.0} MB",
            ls.len(),
            u as f64 / 1e6,
            c as f64 / 1e6
        )
    });
    println!(
        "| reference `tar -cf - ROOTFS \\| gzip -6` | wall {}, CPU {}, {:.0} MB |",
        secs(gz.0),
        secs(gz.1),
        gz.2 as f64 / 1e6
    );
    println!(
        "| reference `tar -cf - ROOTFS \\| zstd -3 -T0` | wall {}, CPU {}, {:.0} MB |",
        secs(zs.0),
        secs(zs.1),
        zs.2 as f64 / 1e6
    );
    println!();
    let ratio = |a: &str, b: &str| by(a).wall.as_secs_f64() / by(b).wall.as_secs_f64();
    let check = |ok: bool| if ok { "met" } else { "NOT met" };
    let warm = ratio("warm, unchanged", "cold");
    let one = ratio("one package changed, layering", "cold, layering");
    let zstd = median("zstd cold").as_secs_f64() / median("cold").as_secs_f64();
    for label in ["cold", "zstd cold"] {
        let all: Vec<String> = walls[label].iter().map(|d| secs(*d)).collect();
        println!(
            "{label}, 3 runs: {} (median {})",
            all.join(", "),
            secs(median(label))
        );
    }
    println!();
    let zstd_size = by("zstd cold").out.images[0].layers[0].blob.size();
    let peak = runs.iter().map(|r| r.rss).fold(0.0, f64::max);
    println!("| target | measured | |");
    println!("|---|---:|---|");
    println!(
        "| warm unchanged ≤ 5 % of cold | {:.1} % | {} |",
        warm * 100.0,
        check(warm <= 0.05)
    );
    println!(
        "| one package changed ≤ 25 % of cold (layering) | {:.1} % | {} |",
        one * 100.0,
        check(one <= 0.25)
    );
    println!(
        "| zstd cold ≤ 0.5 × gzip cold (medians of 3) | {:.2} × | {} |",
        zstd,
        check(zstd <= 0.5)
    );
    println!(
        "| zstd layer no larger than gzip -6 | {:.0} MB vs {:.0} MB | {} |",
        zstd_size as f64 / 1e6,
        gz.2 as f64 / 1e6,
        check(zstd_size <= gz.2)
    );
    println!(
        "| peak RSS ≤ 256 MB | {peak:.0} MiB | {} |",
        check(peak * 1.048_576 <= 256.0)
    );
    println!();
    println!(
        "index digest (identical cold, warm and at 1 thread): {}",
        by("cold").out.index_digest()
    );
}
