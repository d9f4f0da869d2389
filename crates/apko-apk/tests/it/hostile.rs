//! Servers and caches that misbehave: endless or oversized bodies, trickling or silent
//! servers, cache metadata that cannot be trusted. Every request is bounded.

use crate::repo::build_repo;
use crate::server::Server;
use apko_apk::index::IndexTrust;
use apko_apk::keys::SignaturePolicy;
use apko_apk::package::Limits;
use apko_apk::repositories::{PackageFetchError, PackageRequest, Repositories};
use apko_apk::source::{Cache, FetchError, Fetcher, HttpTransport, RepositoryUrl};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a raw server answers every request.
#[derive(Clone, Copy)]
enum Behaviour {
    /// `200 OK` without a length, then zeros until the client goes away.
    Endless,
    /// `200 OK`, then one byte every 300 ms, forever.
    Trickle,
    /// Accepts the connection, reads the request, never answers.
    Silent,
}

/// A server on 127.0.0.1 behaving as `b`; returns its URL and the bytes of body it managed to
/// send (the client stops it by closing the connection).
fn raw_server(b: Behaviour) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                match b {
                    Behaviour::Silent => {
                        // Hold the connection until the client drops it (bounded: 2 minutes).
                        stream
                            .set_read_timeout(Some(Duration::from_mins(2)))
                            .unwrap();
                        let _ = std::io::Read::read(&mut stream, &mut [0u8; 1]);
                    }
                    Behaviour::Endless | Behaviour::Trickle => {
                        let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
                        if stream.write_all(head.as_bytes()).is_err() {
                            return;
                        }
                        let chunk = vec![0u8; 64 << 10];
                        // Bounded: at most 2 GiB or 10 minutes, whatever the client does.
                        for _ in 0..32_768 {
                            let part: &[u8] = match b {
                                Behaviour::Trickle => {
                                    std::thread::sleep(Duration::from_millis(300));
                                    &chunk[..1]
                                }
                                _ => &chunk,
                            };
                            if stream.write_all(part).is_err() {
                                return;
                            }
                            counter.fetch_add(part.len() as u64, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    (url, sent)
}

fn fetcher(timeout: Option<Duration>) -> Fetcher {
    Fetcher::new(Arc::new(HttpTransport::with_timeout(
        "apko-rs-test",
        1 << 40,
        timeout,
    )))
    .with_retries(1, Duration::from_millis(10))
}

#[test]
fn endless_bodies_stop_at_the_limit() {
    let (url, sent) = raw_server(Behaviour::Endless);
    let err = fetcher(None)
        .fetch_package_bounded(&format!("{url}/x.apk"), 1 << 20)
        .unwrap_err();
    assert!(
        matches!(err, FetchError::TooLarge { limit, .. } if limit == 1 << 20),
        "{err}"
    );
    // The client stopped reading just past the limit (socket buffers aside), not at 8 GiB.
    std::thread::sleep(Duration::from_millis(200));
    let n = sent.load(Ordering::Relaxed);
    assert!(n < 64 << 20, "the server sent {n} bytes");

    // With a cache the same holds, and nothing is left in the cache.
    let dir = tempfile::tempdir().unwrap();
    let cached = fetcher(None).with_cache(Cache::new(dir.path()));
    let u = format!("{url}/y.apk");
    let err = cached.fetch_package_bounded(&u, 1 << 20).unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
    assert!(Cache::new(dir.path()).get(&u).is_none());
}

#[test]
fn packages_larger_than_their_index_record_are_refused_early() {
    let (url, _) = raw_server(Behaviour::Endless);
    let repos = Repositories::new(
        fetcher(None),
        IndexTrust::Require(SignaturePolicy::AnyValid),
        Limits::default(),
        std::env::temp_dir(),
    );
    let mut info = apko_apk::info::PackageInfo::new("p".parse().unwrap(), "1-r0".parse().unwrap());
    info.size = 1000;
    info.checksum = Some("Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=".parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let err = repos
        .package(
            PackageRequest {
                url: &format!("{url}/p-1-r0.apk"),
                info: &info,
                data_sha256: None,
            },
            &dir.path().join("data"),
        )
        .unwrap_err();
    assert!(
        matches!(err, PackageFetchError::Oversized { expected: 1000, .. }),
        "{err}"
    );
}

#[test]
fn keys_are_bounded() {
    let (url, _) = raw_server(Behaviour::Endless);
    let mut repos = Repositories::new(
        fetcher(None),
        IndexTrust::AllowUntrusted,
        Limits::default(),
        std::env::temp_dir(),
    );
    let err = repos.add_key(&format!("{url}/k.rsa.pub")).unwrap_err();
    assert!(err.to_string().contains("larger than the limit"), "{err}");
}

#[test]
fn trickling_and_silent_servers_hit_the_request_deadline() {
    for b in [Behaviour::Trickle, Behaviour::Silent] {
        let (url, _) = raw_server(b);
        let err = fetcher(Some(Duration::from_secs(2)))
            .fetch_index(&format!("{url}/x86_64/APKINDEX.tar.gz"))
            .unwrap_err();
        assert!(
            matches!(err, FetchError::Network { .. } | FetchError::Io { .. }),
            "{err}"
        );
        let text = format!("{err:?}").to_lowercase();
        assert!(
            text.contains("timeout") || text.contains("timed out"),
            "{err:?}"
        );
    }
}

#[test]
fn unusable_cached_entity_tags_are_ignored() {
    let index = build_repo().index;
    let server = Server::start();
    server.put("/x86_64/APKINDEX.tar.gz", index.clone());
    let repo = RepositoryUrl {
        tag: None,
        url: server.url.clone(),
    };
    let url = repo.index_url("x86_64");
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path());
    let f = fetcher(None).with_cache(Cache::new(cache_dir.path()));
    f.fetch_index(&url).unwrap();
    assert!(cache.etag(&url).is_some(), "the server's tag is kept");
    // The tag is the (base32) name of the cached version. A name decoding to a tag with
    // CR LF (a header injection, or a corrupted cache), NUL or non-ASCII must not be sent back.
    let versions = cache.get(&url).unwrap().parent().unwrap().to_owned();
    let later = std::time::SystemTime::now() + Duration::from_mins(1);
    for (i, bad) in ["MERA2CSYFVEW42TFMN2GKZB2EAYQ====", "AA======", "MNQWNQ5J"]
        .iter()
        .enumerate()
    {
        let p = versions.join(format!("{bad}.tar.gz"));
        fs_err::write(&p, &index).unwrap();
        let newest = later + Duration::from_secs(i as u64);
        fs_err::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .file()
            .set_modified(newest)
            .unwrap();
        assert_eq!(cache.get(&url).unwrap(), p);
        assert_eq!(cache.etag(&url), None, "{bad:?}");
        let got = f.fetch_index(&url).unwrap();
        assert_eq!(fs_err::read(got.path()).unwrap(), index);
    }
    let sent: Vec<_> = server.requests();
    assert!(sent.len() >= 4, "every build still fetches: {sent:?}");
}
