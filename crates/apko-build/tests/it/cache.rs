//! The build cache (expanded packages and layers): the same bytes with and without it, no
//! package read on an unchanged rebuild, damaged entries detected and repaired, builds sharing
//! one cache at the same time, and with `layering` only the changed package's layer written.

use crate::support::{Pkg, pkg, request, write_repo};
use apko_build::{BuildOutput, BuildRequest, Builder, Reporter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Warnings(Mutex<Vec<String>>);

impl Reporter for Warnings {
    fn warn(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_owned());
    }
}

fn big(name: &str, lines: usize) -> String {
    (0..lines).map(|i| format!("{name} line {i}\n")).collect()
}

fn packages(b_version: &str) -> Vec<Pkg> {
    vec![
        pkg("a", "1-r0")
            .dir("usr", 0o755)
            .dir("usr/share", 0o755)
            .file("usr/share/a.txt", 0o644, &big("a", 20_000)),
        pkg("b", b_version)
            .depends("a")
            .dir("usr", 0o755)
            .dir("usr/share", 0o755)
            .file("usr/share/b.txt", 0o644, &big(b_version, 20_000)),
        pkg("c", "1-r0")
            .depends("b")
            .dir("usr", 0o755)
            .dir("usr/bin", 0o755)
            .file("usr/bin/c", 0o755, "#!/bin/sh\necho c\n"),
    ]
}

const CONFIG: &str = "contents:\n  repositories: [@REPO@]\n  keyring: [@KEY@]\n  packages: [c]\narchs: [x86_64, aarch64]\n";

struct Fixture {
    dir: tempfile::TempDir,
    repo: PathBuf,
}

impl Fixture {
    fn new(config_extra: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let repo = write_repo(
            &dir.path().join("repo"),
            &["x86_64", "aarch64"],
            &packages("1-r0"),
        );
        fs_err::write(dir.path().join("extra.yaml"), config_extra).unwrap();
        Fixture { dir, repo }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn req(&self, cache: Option<&Path>) -> BuildRequest {
        let extra = fs_err::read_to_string(self.dir.path().join("extra.yaml")).unwrap();
        let mut req = request(self.dir.path(), &format!("{CONFIG}{extra}"), &self.repo);
        req.cache_dir = cache.map(Path::to_owned);
        req
    }

    fn build(&self, cache: Option<&Path>) -> (BuildOutput, Vec<String>) {
        let w = Arc::new(Warnings::default());
        let out = Builder::new(self.req(cache))
            .with_reporter(w.clone())
            .build()
            .unwrap();
        let warnings = w.0.lock().unwrap().clone();
        (out, warnings)
    }
}

/// Every file of the OCI layout of `out`, by path.
fn layout(out: &BuildOutput) -> Vec<(String, Vec<u8>)> {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("layout");
    out.write_layout(&dir).unwrap();
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(p) = stack.pop() {
        for e in fs_err::read_dir(&p).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(&dir).unwrap().display().to_string();
                files.push((rel, fs_err::read(e.path()).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(p) = stack.pop() {
        let Ok(rd) = fs_err::read_dir(&p) else {
            continue;
        };
        for e in rd {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.path().to_string_lossy().ends_with(suffix) {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn flip_a_byte(path: &Path) {
    let mut bytes = fs_err::read(path).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x55;
    fs_err::write(path, bytes).unwrap();
}

#[test]
fn cached_builds_give_the_same_bytes_and_read_no_package() {
    let f = Fixture::new("");
    let (reference, _) = f.build(None);
    let expected = layout(&reference);

    let cache = f.cache();
    let (cold, w) = f.build(Some(&cache));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(layout(&cold), expected, "cold build with the cache");
    let expanded = files_under(&cache.join("apko-rs/expanded"), ".tar");
    assert_eq!(
        expanded.len(),
        6,
        "3 packages × 2 architectures: {expanded:?}"
    );
    let blobs = files_under(&cache.join("apko-rs/layers/blobs"), "");
    assert_eq!(blobs.len(), 2, "one layer per architecture");

    // Warm: the packages are not even there any more, and no cache file is written again.
    let stamp = |p: &PathBuf| fs_err::metadata(p).unwrap().modified().unwrap();
    let before: Vec<_> = expanded.iter().chain(&blobs).map(stamp).collect();
    for apk in files_under(&f.repo, ".apk") {
        fs_err::remove_file(apk).unwrap();
    }
    let (warm, w) = f.build(Some(&cache));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(layout(&warm), expected, "warm build");
    let after: Vec<_> = expanded.iter().chain(&blobs).map(stamp).collect();
    assert_eq!(before, after, "nothing rewritten");
    // The layers are the cache's blobs (hard links), and outlive the cache.
    use std::os::unix::fs::MetadataExt as _;
    let inodes: Vec<u64> = blobs
        .iter()
        .map(|b| fs_err::metadata(b).unwrap().ino())
        .collect();
    for image in &warm.images {
        for l in &image.layers {
            let ino = fs_err::metadata(l.path()).unwrap().ino();
            assert!(inodes.contains(&ino), "layer taken from the cache");
        }
    }
    fs_err::remove_dir_all(&cache).unwrap();
    assert_eq!(layout(&warm), expected, "the output outlives the cache");
}

#[test]
fn damaged_cache_entries_are_detected_and_repaired() {
    let f = Fixture::new("");
    let (reference, _) = f.build(None);
    let expected = layout(&reference);
    let cache = f.cache();
    f.build(Some(&cache));

    // A damaged layer blob: found on use, written again.
    let blobs = files_under(&cache.join("apko-rs/layers/blobs"), "");
    flip_a_byte(&blobs[0]);
    let (out, w) = f.build(Some(&cache));
    assert_eq!(layout(&out), expected);
    assert!(
        w.iter()
            .any(|m| m.contains("cached layer") && m.contains("damaged")),
        "{w:?}"
    );
    let (_, w) = f.build(Some(&cache));
    assert!(w.is_empty(), "repaired: {w:?}");

    // A damaged expanded package whose layer must be written again: its data is checked
    // before use, and expanded again from the package.
    let b_data = files_under(&cache.join("apko-rs/expanded"), ".tar")
        .into_iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("b-1-r0-")
        })
        .unwrap();
    flip_a_byte(&b_data);
    fs_err::remove_dir_all(cache.join("apko-rs/layers")).unwrap();
    let (out, w) = f.build(Some(&cache));
    assert_eq!(layout(&out), expected);
    assert!(
        w.iter()
            .any(|m| m.contains("b-1-r0") && m.contains("cached expansion is corrupt")),
        "{w:?}"
    );

    // A layer entry with one digit of its diff_id changed (still valid JSON): its checksum
    // line makes it a miss, not an image config with a wrong diff_id.
    let entries = files_under(&cache.join("apko-rs/layers"), ".json");
    let text = fs_err::read_to_string(&entries[0]).unwrap();
    let at = text.find("\"diff_id\":\"sha256:").unwrap() + 18;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    fs_err::write(&entries[0], &bytes).unwrap();
    let (out, _) = f.build(Some(&cache));
    assert_eq!(layout(&out), expected);

    // Metadata that is garbage, truncated data, a stray temporary directory: misses.
    let metas = files_under(&cache.join("apko-rs/expanded"), ".meta");
    fs_err::write(&metas[0], b"sha256:00\n{}").unwrap();
    let datas = files_under(&cache.join("apko-rs/expanded"), ".tar");
    fs_err::write(&datas[1], b"short").unwrap();
    fs_err::create_dir_all(cache.join("apko-rs/expanded/.tmp-stray")).unwrap();
    let entries = files_under(&cache.join("apko-rs/layers"), ".json");
    fs_err::write(&entries[0], b"not json").unwrap();
    fs_err::remove_dir_all(cache.join("apko-rs/layers/blobs")).unwrap();
    let (out, _) = f.build(Some(&cache));
    assert_eq!(layout(&out), expected);
}

#[test]
fn concurrent_builds_share_one_cache() {
    let f = Fixture::new("");
    let (reference, _) = f.build(None);
    let expected = layout(&reference);
    let cache = f.cache();
    // Requests are made first (each writes the configuration file), then built at once.
    let requests: Vec<BuildRequest> = (0..4).map(|_| f.req(Some(&cache))).collect();
    let results: Vec<Vec<(String, Vec<u8>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = requests
            .into_iter()
            .map(|req| s.spawn(move || layout(&Builder::new(req).build().unwrap())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &results {
        assert_eq!(r, &expected);
    }
    let (warm, w) = f.build(Some(&cache));
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(layout(&warm), expected);
    let tmp: Vec<_> = fs_err::read_dir(cache.join("apko-rs/expanded"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(tmp.is_empty(), "no temporary files left");
}

#[test]
fn with_layering_only_the_changed_package_layer_is_written() {
    let f = Fixture::new("layering:\n  strategy: origin\n  budget: 10\n");
    let cache = f.cache();
    let (first, _) = f.build(Some(&cache));
    assert_eq!(first.images[0].layers.len(), 4, "a, b, c and the top layer");
    let blobs = |c: &Path| files_under(&c.join("apko-rs/layers/blobs"), "");
    let before = blobs(&cache);

    // b changes version: its layer and the top layer (installed database, world) change.
    write_repo(&f.repo, &["x86_64", "aarch64"], &packages("2-r0"));
    let (second, _) = f.build(Some(&cache));
    let (uncached, _) = f.build(None);
    assert_eq!(
        layout(&second),
        layout(&uncached),
        "same bytes as without the cache"
    );
    let new: Vec<_> = blobs(&cache)
        .into_iter()
        .filter(|b| !before.contains(b))
        .collect();
    for (i, image) in second.images.iter().enumerate() {
        let old = &first.images[i];
        let of = |img: &apko_build::ArchImage, name: &str| {
            img.layers
                .iter()
                .find(|l| l.packages == [name.to_owned()])
                .unwrap_or_else(|| panic!("a layer of {name} alone"))
                .descriptor()
        };
        assert_eq!(of(image, "a"), of(old, "a"), "a");
        assert_ne!(of(image, "b"), of(old, "b"), "b");
        assert_eq!(of(image, "c"), of(old, "c"), "c");
    }
    assert!(
        new.len() <= 4,
        "only b's and the top layers are new (2 per architecture): {new:?}"
    );
}

#[test]
fn the_build_cache_can_be_turned_off() {
    let f = Fixture::new("");
    let cache = f.cache();
    let mut req = f.req(Some(&cache));
    req.build_cache = false;
    Builder::new(req).build().unwrap();
    assert!(!cache.join("apko-rs").exists());
}

#[test]
fn an_unwritable_build_cache_is_a_warning_not_a_failure() {
    let f = Fixture::new("");
    let (reference, _) = f.build(None);
    // `<cache>/apko-rs` is a file: neither the package nor the layer cache can be written
    // (a permission check would not stop root).
    let cache = f.cache();
    fs_err::create_dir_all(&cache).unwrap();
    fs_err::write(cache.join("apko-rs"), "not a directory").unwrap();
    let (out, warnings) = f.build(Some(&cache));
    assert_eq!(layout(&out), layout(&reference), "the same bytes");
    let joined = warnings.join("\n");
    assert!(
        joined.contains("cannot write to the package cache"),
        "{joined}"
    );
    assert!(
        joined.contains("cannot write to the layer cache"),
        "{joined}"
    );
}

#[test]
fn a_warm_build_does_not_depend_on_the_cache_once_built() {
    use std::os::unix::fs::MetadataExt as _;
    let f = Fixture::new("");
    let cache = f.cache();
    let (cold, _) = f.build(Some(&cache));
    let want = layout(&cold);
    let (warm, warnings) = f.build(Some(&cache));
    assert!(warnings.is_empty(), "{warnings:?}");
    // The warm build's layers are its own links to the cached blobs (same inode, outside
    // the cache directory), so another build removing or replacing cache entries cannot
    // change or remove what it uses.
    let blobs = files_under(&cache.join("apko-rs"), "");
    for image in &warm.images {
        for layer in &image.layers {
            let p = layer.path();
            assert!(!p.starts_with(&cache), "{}", p.display());
            let ino = fs_err::metadata(p).unwrap().ino();
            assert!(
                blobs
                    .iter()
                    .any(|b| fs_err::metadata(b).unwrap().ino() == ino),
                "{} is not a link to a cached blob",
                p.display()
            );
        }
    }
    fs_err::remove_dir_all(&cache).unwrap();
    assert_eq!(layout(&warm), want);
}
