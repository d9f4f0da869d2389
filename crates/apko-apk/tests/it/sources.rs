//! Fetching from local directories and HTTP, with cache, retries and offline mode; then the
//! whole chain: verify the index, solve, fetch and expand packages.

use crate::repo::{build_repo, key};
use crate::server::Server;
use apko_apk::index::{IndexTrust, read_index};
use apko_apk::keys::{Keyring, SignaturePolicy};
use apko_apk::package::{Limits, expand};
use apko_apk::solve::{Repository, resolve};
use apko_apk::source::{Cache, FetchError, Fetcher, HttpTransport, RepositoryUrl};
use std::sync::Arc;
use std::time::Duration;

fn keyring() -> Keyring {
    let mut k = Keyring::new();
    k.add_pem(key().name(), key().public_key_pem().as_bytes())
        .unwrap();
    k
}

fn http_fetcher() -> Fetcher {
    Fetcher::new(Arc::new(HttpTransport::new("apko-rs-test", 1 << 30)))
        .with_retries(3, Duration::from_millis(10))
}

/// Index → solve → fetch → expand, for any repository location.
fn install(fetcher: &Fetcher, repo: &RepositoryUrl) -> Vec<String> {
    let idx_file = fetcher.fetch_index(&repo.index_url("x86_64")).unwrap();
    let (index, _) = read_index(
        fs_err::File::open(idx_file.path()).unwrap(),
        &repo.index_url("x86_64"),
        &keyring(),
        IndexTrust::Require(SignaturePolicy::AnyValid),
        &Limits::default(),
    )
    .unwrap();
    let repos = [Repository::new(&repo.url, &index.packages)];
    let res = resolve(&["hello".parse().unwrap()], &repos).unwrap();
    let urls: Vec<(String, apko_apk::Checksum)> = res
        .packages
        .iter()
        .map(|p| (repo.package_url("x86_64", p.info), p.info.checksum.unwrap()))
        .collect();
    let out = fetcher.parallel(&urls, |(url, sum)| {
        let f = fetcher.fetch_package(url)?;
        let (pkg, data) = expand(
            fs_err::File::open(f.path()).unwrap(),
            url,
            &Limits::default(),
            Some(sum),
            Vec::new(),
        )
        .unwrap();
        let e = pkg
            .entries
            .iter()
            .find(|e| e.path.ends_with(".txt"))
            .unwrap();
        Ok::<_, FetchError>(
            String::from_utf8(data[e.data_offset as usize..][..e.size as usize].to_vec()).unwrap(),
        )
    });
    out.into_iter().map(Result::unwrap).collect()
}

#[test]
fn local_directory_and_file_urls() {
    let repo = build_repo();
    let dir = tempfile::tempdir().unwrap();
    let arch = dir.path().join("x86_64");
    fs_err::create_dir_all(&arch).unwrap();
    fs_err::write(arch.join("APKINDEX.tar.gz"), &repo.index).unwrap();
    for (name, bytes) in &repo.packages {
        fs_err::write(arch.join(name), bytes).unwrap();
    }
    let want = ["libgreet 2.0-r0\n", "hello 1.1-r0\n"];
    let plain: RepositoryUrl = dir.path().display().to_string().parse().unwrap();
    assert_eq!(install(&Fetcher::local(), &plain), want);
    let file: RepositoryUrl = format!("file://{}/", dir.path().display()).parse().unwrap();
    assert_eq!(install(&Fetcher::local(), &file), want);
    // A missing index is a clear error naming it.
    let missing: RepositoryUrl = "/nonexistent/repo".parse().unwrap();
    let err = Fetcher::local()
        .fetch_index(&missing.index_url("x86_64"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent/repo/x86_64/APKINDEX.tar.gz"),
        "{err}"
    );
}

#[test]
fn http_with_cache_retries_and_offline() {
    let repo = build_repo();
    let server = Server::start();
    server.put("/repo/x86_64/APKINDEX.tar.gz", repo.index.clone());
    for (name, bytes) in &repo.packages {
        server.put(&format!("/repo/x86_64/{name}"), bytes.clone());
    }
    // Transient failures are retried.
    server.fail("/repo/x86_64/APKINDEX.tar.gz", 2);
    let cache_dir = tempfile::tempdir().unwrap();
    let fetcher = http_fetcher().with_cache(Cache::new(cache_dir.path()));
    let url: RepositoryUrl = format!("{}/repo", server.url).parse().unwrap();
    assert_eq!(
        install(&fetcher, &url),
        ["libgreet 2.0-r0\n", "hello 1.1-r0\n"]
    );

    // The index is revalidated with its ETag (304); cached packages are not fetched again.
    let before = server.requests().len();
    assert_eq!(
        install(&fetcher, &url),
        ["libgreet 2.0-r0\n", "hello 1.1-r0\n"]
    );
    let after: Vec<_> = server.requests()[before..]
        .iter()
        .map(|r| r.0.clone())
        .collect();
    assert_eq!(after, ["/repo/x86_64/APKINDEX.tar.gz"]);

    // Offline: everything from the cache, no requests at all.
    let offline = http_fetcher()
        .with_cache(Cache::new(cache_dir.path()))
        .with_offline(true);
    let before = server.requests().len();
    assert_eq!(
        install(&offline, &url),
        ["libgreet 2.0-r0\n", "hello 1.1-r0\n"]
    );
    assert_eq!(server.requests().len(), before);
    let empty = tempfile::tempdir().unwrap();
    let cold = http_fetcher()
        .with_cache(Cache::new(empty.path()))
        .with_offline(true);
    assert!(matches!(
        cold.fetch_index(&url.index_url("x86_64")),
        Err(FetchError::Offline { .. })
    ));

    // Persistent errors are not retried forever, and 404 is NotFound.
    server.fail("/repo/x86_64/APKINDEX.tar.gz", 10);
    let err = http_fetcher()
        .fetch_index(&url.index_url("x86_64"))
        .unwrap_err();
    assert!(
        matches!(err, FetchError::Status { status: 503, .. }),
        "{err}"
    );
    let err = http_fetcher()
        .fetch_package(&format!("{}/repo/x86_64/nope-1.apk", server.url))
        .unwrap_err();
    assert!(matches!(err, FetchError::NotFound { .. }), "{err}");
}

#[test]
fn credentials_are_sent_and_redacted() {
    let server = Server::start();
    server.put("/private/x86_64/APKINDEX.tar.gz", b"x".to_vec());
    let with_creds = server.url.replace("http://", "http://me:s3cret@");
    let f = http_fetcher()
        .fetch_index(&format!("{with_creds}/private/x86_64/APKINDEX.tar.gz"))
        .unwrap();
    assert_eq!(fs_err::read(f.path()).unwrap(), b"x");
    let auth = server.requests().last().unwrap().1.clone().unwrap();
    assert_eq!(auth, "Basic bWU6czNjcmV0");
    let err = http_fetcher()
        .fetch_index(&format!("{with_creds}/private/x86_64/missing"))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        !text.contains("s3cret") && text.contains("me:xxxxx@"),
        "{text}"
    );
}

#[test]
fn concurrent_builds_share_a_cache() {
    let repo = build_repo();
    let server = Server::start();
    for (name, bytes) in &repo.packages {
        server.put(&format!("/r/x86_64/{name}"), bytes.clone());
    }
    let cache_dir = tempfile::tempdir().unwrap();
    let urls: Vec<String> = repo
        .packages
        .iter()
        .map(|(n, _)| format!("{}/r/x86_64/{n}", server.url))
        .collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let f = http_fetcher()
                    .with_cache(Cache::new(cache_dir.path()))
                    .with_jobs(3);
                for r in f.parallel(&urls, |u| {
                    f.fetch_package(u).map(|x| fs_err::read(x.path()).unwrap())
                }) {
                    r.unwrap();
                }
            });
        }
    });
    let cache = Cache::new(cache_dir.path());
    for ((_, bytes), url) in repo.packages.iter().zip(&urls) {
        assert_eq!(&fs_err::read(cache.get(url).unwrap()).unwrap(), bytes);
    }
    // A corrupt cached copy is detected by verification and replaced after invalidation.
    let victim = &urls[0];
    fs_err::write(cache.get(victim).unwrap(), b"garbage").unwrap();
    let f = http_fetcher().with_cache(Cache::new(cache_dir.path()));
    let got = f.fetch_package(victim).unwrap();
    assert!(
        expand(
            fs_err::File::open(got.path()).unwrap(),
            victim,
            &Limits::default(),
            None,
            std::io::sink()
        )
        .is_err()
    );
    f.invalidate(victim);
    let got = f.fetch_package(victim).unwrap();
    assert_eq!(fs_err::read(got.path()).unwrap(), repo.packages[0].1);
}
