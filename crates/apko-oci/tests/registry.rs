//! The registry client against an in-process registry that follows the distribution
//! protocol (blob uploads, manifests, bearer-token auth), including failure cases.
#![allow(clippy::disallowed_methods, clippy::too_many_lines)]

use apko_oci::registry::{
    Credentials, Registry as _, RegistryClient, Repository, StaticCredentials,
};
use apko_oci::{
    Blob, Descriptor, Digest, Document, ImageBlobs, LayerRef, MEDIA_TYPE_CONFIG, MEDIA_TYPE_INDEX,
};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct State {
    blobs: BTreeMap<String, Vec<u8>>,
    manifests: BTreeMap<String, (String, Vec<u8>)>,
    /// Bearer auth with this user/password, token `tok-<scopes>`; writes need a token with
    /// a `push` scope for the repository.
    auth: Option<(String, String)>,
    /// A second user whose tokens are granted only for `pull` scopes.
    reader: Option<(String, String)>,
    /// Every scope list a token was asked for.
    scopes: Vec<Vec<String>>,
    /// 503 answers still to give (to any request).
    failures: usize,
    log: Vec<String>,
    /// Uploads go to this other registry (an absolute `Location`).
    upload_to: Option<String>,
    /// `Authorization` of every upload PUT received.
    upload_auth: Vec<Option<String>>,
    /// Answer blob uploads with a wrong `Docker-Content-Digest` (a proxy that alters bytes).
    lie_about_digest: bool,
    /// Serve the OCI 1.1 referrers API.
    referrers_api: bool,
    /// Serve blobs with a byte changed (a corrupting proxy).
    corrupt_blobs: bool,
    /// Serve blobs with bytes appended (larger than their descriptors).
    grow_blobs: bool,
}

struct Registry {
    host: String,
    state: Arc<Mutex<State>>,
}

struct Req {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

fn read_req(r: &mut BufReader<TcpStream>) -> Option<Req> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
    }
    let mut body = Vec::new();
    if let Some(n) = headers.get("content-length") {
        body.resize(n.parse().ok()?, 0);
        r.read_exact(&mut body).ok()?;
    } else if headers.get("transfer-encoding").map(String::as_str) == Some("chunked") {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Some(Req {
        method,
        path,
        headers,
        body,
    })
}

fn respond(w: &mut TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = w.write_all(head.as_bytes());
    let _ = w.write_all(body);
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn sha(data: &[u8]) -> String {
    Digest::of(data).to_string()
}

impl Registry {
    fn start() -> Registry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let me = host.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let st = st.clone();
                let me = me.clone();
                std::thread::spawn(move || serve(stream, &st, &me));
            }
        });
        Registry { host, state }
    }
}

fn serve(stream: TcpStream, st: &Mutex<State>, me: &str) {
    let mut r = BufReader::new(stream.try_clone().unwrap());
    let mut w = stream;
    while let Some(req) = read_req(&mut r) {
        let mut s = st.lock().unwrap();
        s.log.push(format!("{} {}", req.method, req.path));
        if s.failures > 0 {
            s.failures -= 1;
            respond(&mut w, 503, &[], b"busy");
            continue;
        }
        let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
        let q: BTreeMap<&str, String> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k, percent_decode(v)))
            .collect();
        // Token service.
        if path == "/token" {
            let basic = |(u, p): (String, String)| {
                use base64::Engine as _;
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
                )
            };
            let scopes: Vec<String> = query
                .split('&')
                .filter_map(|kv| kv.strip_prefix("scope="))
                .map(percent_decode)
                .collect();
            s.scopes.push(scopes.clone());
            let given = req.headers.get("authorization");
            let writer = given == s.auth.clone().map(basic).as_ref();
            let reader = given.is_some() && given == s.reader.clone().map(basic).as_ref();
            if writer || (reader && scopes.iter().all(|sc| sc.ends_with(":pull"))) {
                let token = scopes.join(";");
                respond(
                    &mut w,
                    200,
                    &[],
                    format!(r#"{{"token":"tok-{token}"}}"#).as_bytes(),
                );
            } else {
                respond(&mut w, 401, &[], b"{}");
            }
            continue;
        }
        if s.auth.is_some() {
            let token = req
                .headers
                .get("authorization")
                .and_then(|a| a.strip_prefix("Bearer tok-"))
                .unwrap_or("");
            let repo = path
                .strip_prefix("/v2/")
                .and_then(|r| {
                    ["/blobs/", "/manifests/", "/referrers/"]
                        .iter()
                        .find_map(|m| r.split_once(m).map(|(n, _)| n))
                })
                .unwrap_or("");
            let read = matches!(req.method.as_str(), "GET" | "HEAD");
            let authorized = path == "/v2/" && token.starts_with("repository:")
                || token.split(';').any(|sc| {
                    sc.strip_prefix("repository:")
                        .and_then(|sc| sc.rsplit_once(':'))
                        .is_some_and(|(name, access)| {
                            name == repo && (read || access.split(',').any(|a| a == "push"))
                        })
                });
            if !authorized {
                respond(
                    &mut w,
                    401,
                    &[(
                        "WWW-Authenticate",
                        format!(r#"Bearer realm="http://{me}/token",service="mock""#),
                    )],
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                );
                continue;
            }
        }
        if path == "/v2/" {
            respond(&mut w, 200, &[], b"{}");
            continue;
        }
        let rest = path.strip_prefix("/v2/").unwrap_or("");
        if let Some((repo, subject)) = rest.split_once("/referrers/") {
            if !s.referrers_api {
                respond(&mut w, 404, &[], b"");
                continue;
            }
            let prefix = format!("{repo}:sha256:");
            let mut found: Vec<serde_json::Value> = s
                .manifests
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .filter_map(|(k, (_, body))| {
                    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
                    (v["subject"]["digest"].as_str() == Some(subject)).then(|| {
                        serde_json::json!({"mediaType": v["mediaType"], "digest": &k[repo.len() + 1..], "size": body.len(), "artifactType": v["artifactType"]})
                    })
                })
                .collect();
            found.sort_by(|a, b| a["digest"].as_str().cmp(&b["digest"].as_str()));
            let index = serde_json::json!({"schemaVersion": 2, "mediaType": MEDIA_TYPE_INDEX, "manifests": found});
            respond(
                &mut w,
                200,
                &[("Content-Type", MEDIA_TYPE_INDEX.to_owned())],
                &serde_json::to_vec(&index).unwrap(),
            );
            continue;
        }
        if let Some((repo, digest)) = rest.split_once("/blobs/uploads/") {
            match req.method.as_str() {
                "POST" => {
                    let location = match &s.upload_to {
                        Some(other) => format!("http://{other}/v2/{repo}/blobs/uploads/u1?state=x"),
                        None => format!("/v2/{repo}/blobs/uploads/u1?state=x"),
                    };
                    respond(&mut w, 202, &[("Location", location)], b"");
                }
                "PUT" => {
                    s.upload_auth
                        .push(req.headers.get("authorization").cloned());
                    let _ = digest;
                    let want = q.get("digest").cloned().unwrap_or_default();
                    if sha(&req.body) == want {
                        s.blobs.insert(want.clone(), req.body);
                        let said = if s.lie_about_digest {
                            sha(b"something else")
                        } else {
                            want
                        };
                        respond(&mut w, 201, &[("Docker-Content-Digest", said)], b"");
                    } else {
                        respond(
                            &mut w,
                            400,
                            &[],
                            br#"{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}"#,
                        );
                    }
                }
                _ => respond(&mut w, 405, &[], b""),
            }
        } else if let Some((_repo, digest)) = rest.split_once("/blobs/") {
            match s.blobs.get(digest) {
                Some(b) if req.method == "GET" => {
                    let mut b = b.clone();
                    if s.corrupt_blobs {
                        b[0] ^= 1;
                    }
                    if s.grow_blobs {
                        b.extend_from_slice(b"more");
                    }
                    respond(&mut w, 200, &[], &b);
                }
                Some(_) => respond(&mut w, 200, &[], b""),
                None => respond(&mut w, 404, &[], b""),
            }
        } else if let Some((repo, reference)) = rest.split_once("/manifests/") {
            let key = format!("{repo}:{reference}");
            match req.method.as_str() {
                "PUT" => {
                    // Every referenced blob must be there (MANIFEST_BLOB_UNKNOWN otherwise).
                    let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
                    let mut missing = Vec::new();
                    for d in v["layers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .chain(v["config"].as_object().map(|_| &v["config"]))
                    {
                        let d = d["digest"].as_str().unwrap().to_owned();
                        if !s.blobs.contains_key(&d) {
                            missing.push(d);
                        }
                    }
                    for m in v["manifests"].as_array().into_iter().flatten() {
                        let d = m["digest"].as_str().unwrap();
                        if !s.manifests.contains_key(&format!("{repo}:{d}")) {
                            missing.push(d.to_owned());
                        }
                    }
                    if !missing.is_empty() {
                        respond(
                            &mut w,
                            400,
                            &[],
                            format!(r#"{{"errors":[{{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry: {}"}}]}}"#, missing.join(",")).as_bytes(),
                        );
                        continue;
                    }
                    let media = req.headers.get("content-type").cloned().unwrap_or_default();
                    let digest = sha(&req.body);
                    s.manifests.insert(
                        format!("{repo}:{digest}"),
                        (media.clone(), req.body.clone()),
                    );
                    s.manifests.insert(key, (media, req.body));
                    respond(&mut w, 201, &[("Docker-Content-Digest", digest)], b"");
                }
                "GET" => match s.manifests.get(&key) {
                    Some((media, body)) => {
                        let body = body.clone();
                        respond(&mut w, 200, &[("Content-Type", media.clone())], &body);
                    }
                    None => respond(&mut w, 404, &[], b""),
                },
                _ => respond(&mut w, 405, &[], b""),
            }
        } else {
            respond(&mut w, 404, &[], b"");
        }
    }
}

/// A one-layer image whose layer is a file.
fn image(dir: &std::path::Path) -> (ImageBlobs, Vec<u8>) {
    let layer = b"pretend this is a gzip layer".to_vec();
    let layer_path = dir.join("layer");
    fs_err::write(&layer_path, &layer).unwrap();
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let config_desc = Descriptor::of(MEDIA_TYPE_CONFIG, &config);
    let layer_desc = Descriptor::of(apko_oci::MEDIA_TYPE_LAYER_GZIP, &layer);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": apko_oci::MEDIA_TYPE_MANIFEST,
        "config": config_desc,
        "layers": [layer_desc],
    }))
    .unwrap();
    let manifest_desc = Descriptor::of(apko_oci::MEDIA_TYPE_MANIFEST, &manifest);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": [manifest_desc],
    }))
    .unwrap();
    (
        ImageBlobs {
            manifest: Document {
                descriptor: manifest_desc,
                bytes: manifest,
            },
            config: Document {
                descriptor: config_desc,
                bytes: config,
            },
            layers: vec![LayerRef {
                descriptor: layer_desc,
                blob: Blob::File(layer_path),
            }],
            repo_tags: Vec::new(),
        },
        index,
    )
}

fn client() -> RegistryClient {
    RegistryClient::new("apko-rs-test").with_retries(3, Duration::from_millis(10))
}

#[test]
fn pushes_images_and_indexes_byte_for_byte() {
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (img, index) = image(dir.path());
    let repo = Repository {
        registry: reg.host.clone(),
        name: "test/hello".into(),
    };
    let c = client();
    let (d, stats) = c.push_image(&repo, &img, &[]).unwrap();
    assert_eq!(d, img.manifest.descriptor.digest);
    assert_eq!(
        (stats.uploaded, stats.present, stats.mounted),
        (img.layers.len() as u64 + 1, 0, 0)
    );
    // One HEAD per blob: the upload does not ask again.
    let heads = reg
        .state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|l| l.starts_with("HEAD"))
        .count();
    assert_eq!(heads, img.layers.len() + 1);
    let d = c
        .push_manifest(&repo, "latest", MEDIA_TYPE_INDEX, &index)
        .unwrap();
    assert_eq!(d, Digest::of(&index));
    let (media, bytes) = c.get_manifest(&repo, "latest").unwrap();
    assert_eq!((media.as_str(), bytes), (MEDIA_TYPE_INDEX, index.clone()));
    // A second push uploads nothing: every blob is already there.
    reg.state.lock().unwrap().log.clear();
    let (_, stats) = c.push_image(&repo, &img, &[]).unwrap();
    let log = reg.state.lock().unwrap().log.clone();
    assert!(!log.iter().any(|l| l.starts_with("POST")), "{log:?}");
    assert_eq!((stats.uploaded, stats.uploaded_bytes), (0, 0));
}

#[test]
fn blob_uploads_check_the_reported_digest() {
    let reg = Registry::start();
    reg.state.lock().unwrap().lie_about_digest = true;
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image(dir.path());
    let repo = Repository {
        registry: reg.host.clone(),
        name: "test/hello".into(),
    };
    let err = client().push_image(&repo, &img, &[]).unwrap_err();
    assert!(
        matches!(
            err,
            apko_oci::registry::RegistryError::DigestMismatch { .. }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("the registry says the digest is"),
        "{err}"
    );
}

#[test]
fn bearer_tokens_from_basic_credentials() {
    let reg = Registry::start();
    reg.state.lock().unwrap().auth = Some(("me".into(), "s3cret".into()));
    let dir = tempfile::tempdir().unwrap();
    let (img, _) = image(dir.path());
    let repo = Repository {
        registry: reg.host.clone(),
        name: "private/app".into(),
    };
    // Without credentials: a clear error naming the registry and a hint.
    let err = client().push_image(&repo, &img, &[]).unwrap_err();
    assert!(err.to_string().contains(&reg.host), "{err}");
    assert!(err.hint().unwrap().contains("docker login"));
    // With them: a token for `repository:private/app:push,pull`.
    let mut creds = StaticCredentials::default();
    creds.0.insert(
        reg.host.clone(),
        Credentials {
            username: "me".into(),
            password: "s3cret".into(),
        },
    );
    client()
        .with_credentials(creds)
        .push_image(&repo, &img, &[])
        .unwrap();
    assert!(
        reg.state
            .lock()
            .unwrap()
            .manifests
            .contains_key(&format!("private/app:{}", img.manifest.descriptor.digest))
    );
}

#[test]
fn transient_failures_are_retried_and_registry_errors_reported() {
    let reg = Registry::start();
    reg.state.lock().unwrap().failures = 2;
    let dir = tempfile::tempdir().unwrap();
    let (img, index) = image(dir.path());
    let repo = Repository {
        registry: reg.host.clone(),
        name: "test/retry".into(),
    };
    client().push_image(&repo, &img, &[]).unwrap();

    // An index whose images are not there: the registry's own error comes through.
    let other = Repository {
        registry: reg.host.clone(),
        name: "test/empty".into(),
    };
    let err = client()
        .push_manifest(&other, "latest", MEDIA_TYPE_INDEX, &index)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("400") && text.contains("MANIFEST_BLOB_UNKNOWN"),
        "{text}"
    );
}

/// Counts how often credentials are asked for.
struct Counting(std::sync::atomic::AtomicUsize, Credentials);

impl apko_oci::registry::CredentialSource for Counting {
    fn credentials(&self, _registry: &str) -> Option<Credentials> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(self.1.clone())
    }
}

#[test]
fn credentials_stay_with_their_registry() {
    let reg = Registry::start();
    let storage = Registry::start();
    {
        let mut s = reg.state.lock().unwrap();
        s.auth = Some(("me".into(), "s3cret".into()));
        s.upload_to = Some(storage.host.clone());
    }
    let creds = std::sync::Arc::new(Counting(
        std::sync::atomic::AtomicUsize::new(0),
        Credentials {
            username: "me".into(),
            password: "s3cret".into(),
        },
    ));
    struct Shared(std::sync::Arc<Counting>);
    impl apko_oci::registry::CredentialSource for Shared {
        fn credentials(&self, r: &str) -> Option<Credentials> {
            self.0.credentials(r)
        }
    }
    let c = client().with_credentials(Shared(creds.clone()));
    let repo = Repository {
        registry: reg.host.clone(),
        name: "private/app".into(),
    };
    let blob = b"some layer".to_vec();
    let digest = Digest::of(&blob);
    c.push_blob(&repo, &digest, &Blob::Bytes(blob.clone()))
        .unwrap();
    c.push_blob(
        &repo,
        &Digest::of(b"another"),
        &Blob::Bytes(b"another".to_vec()),
    )
    .unwrap();
    // The upload went to the other host, without the registry's token.
    let seen = storage.state.lock().unwrap().upload_auth.clone();
    assert_eq!(seen, [None, None], "{seen:?}");
    assert!(
        storage
            .state
            .lock()
            .unwrap()
            .blobs
            .contains_key(&digest.to_string())
    );
    // One credential lookup for the whole session.
    assert_eq!(creds.0.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn artifacts_are_attached_as_referrers_with_or_without_the_api() {
    use apko_oci::registry::referrers::{Artifact, attach, referrers_tag};
    for api in [false, true] {
        let reg = Registry::start();
        reg.state.lock().unwrap().referrers_api = api;
        let dir = tempfile::tempdir().unwrap();
        let (img, _) = image(dir.path());
        let repo = Repository {
            registry: reg.host.clone(),
            name: "test/hello".into(),
        };
        let c = client();
        c.push_image(&repo, &img, &[]).unwrap();
        let subject = &img.manifest.descriptor;
        let spdx = br#"{"spdxVersion":"SPDX-2.3"}"#;
        let cdx = br#"{"bomFormat":"CycloneDX"}"#;
        let mut attached = Vec::new();
        for (t, bytes, title) in [
            ("application/spdx+json", &spdx[..], "sbom-x86_64.spdx.json"),
            (
                "application/vnd.cyclonedx+json",
                &cdx[..],
                "sbom-x86_64.cdx.json",
            ),
        ] {
            let a = Artifact {
                artifact_type: t,
                bytes,
                title,
            };
            let d = attach(&c, &repo, subject, &a, &BTreeMap::new()).unwrap();
            // Attaching the same artifact again changes nothing.
            assert_eq!(attach(&c, &repo, subject, &a, &BTreeMap::new()).unwrap(), d);
            attached.push(d);
        }
        let st = reg.state.lock().unwrap();
        // The artifact manifests point at the subject and hold the documents.
        for d in &attached {
            let (_, body) = &st.manifests[&format!("test/hello:{}", d.digest)];
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            assert_eq!(v["subject"]["digest"], subject.digest.to_string());
            assert_eq!(
                v["config"]["mediaType"],
                "application/vnd.oci.empty.v1+json"
            );
            let layer = v["layers"][0]["digest"].as_str().unwrap();
            assert!(st.blobs.contains_key(layer));
        }
        let tag_key = format!("test/hello:{}", referrers_tag(&subject.digest));
        if api {
            assert!(!st.manifests.contains_key(&tag_key), "no tag with the API");
        } else {
            let (_, body) = &st.manifests[&tag_key];
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            let listed: Vec<&str> = v["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["digest"].as_str().unwrap())
                .collect();
            let mut want: Vec<String> = attached.iter().map(|d| d.digest.to_string()).collect();
            want.sort();
            assert_eq!(listed, want);
            assert!(
                v["manifests"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|m| m["artifactType"].is_string())
            );
        }
    }
}

#[test]
fn images_are_pulled_into_a_layout_with_their_referrers() {
    use apko_oci::registry::pull::{ImageRef, pull_image};
    use apko_oci::registry::referrers::{Artifact, attach};
    for api in [false, true] {
        let reg = Registry::start();
        reg.state.lock().unwrap().referrers_api = api;
        let dir = tempfile::tempdir().unwrap();
        let (img, index) = image(dir.path());
        let repo = Repository {
            registry: reg.host.clone(),
            name: "test/hello".into(),
        };
        let c = client();
        c.push_image(&repo, &img, &[]).unwrap();
        c.push_manifest(&repo, "v1", MEDIA_TYPE_INDEX, &index)
            .unwrap();
        let a = Artifact {
            artifact_type: "application/spdx+json",
            bytes: br#"{"spdxVersion":"SPDX-2.3"}"#,
            title: "sbom-x86_64.spdx.json",
        };
        let attached = attach(&c, &repo, &img.manifest.descriptor, &a, &BTreeMap::new()).unwrap();

        // By tag: the index, its image, and the referrer listed after it.
        let r: ImageRef = format!("{}/test/hello:v1", reg.host).parse().unwrap();
        let out = dir.path().join(format!("pulled-{api}"));
        let p = pull_image(&c, &r, &out, true).unwrap();
        assert_eq!(p.digest, Digest::of(&index));
        assert_eq!(p.referrers, 1, "api: {api}");
        let listed: serde_json::Value =
            serde_json::from_slice(&fs_err::read(out.join("index.json")).unwrap()).unwrap();
        let m = listed["manifests"].as_array().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0]["digest"], Digest::of(&index).to_string());
        assert_eq!(m[1]["digest"], attached.digest.to_string());
        for d in [
            &img.manifest.descriptor.digest,
            &img.config.descriptor.digest,
            &img.layers[0].descriptor.digest,
            &attached.digest,
        ] {
            let b = fs_err::read(out.join("blobs/sha256").join(d.hex())).unwrap();
            assert_eq!(Digest::of(&b), *d);
        }
        assert!(out.join("oci-layout").is_file());

        // By digest, a single manifest: listed with its platform; the digest is checked.
        let r: ImageRef = format!("{}/test/hello@{}", reg.host, img.manifest.descriptor.digest)
            .parse()
            .unwrap();
        let single = dir.path().join(format!("single-{api}"));
        pull_image(&c, &r, &single, false).unwrap();
        let listed: serde_json::Value =
            serde_json::from_slice(&fs_err::read(single.join("index.json")).unwrap()).unwrap();
        assert_eq!(listed["manifests"][0]["platform"]["architecture"], "amd64");
        assert_eq!(listed["manifests"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn pulled_blobs_must_match_their_descriptors() {
    use apko_oci::registry::RegistryError;
    use apko_oci::registry::pull::{ImageRef, pull_image};
    let reg = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let (img, index) = image(dir.path());
    let repo = Repository {
        registry: reg.host.clone(),
        name: "test/hello".into(),
    };
    let c = client();
    c.push_image(&repo, &img, &[]).unwrap();
    c.push_manifest(&repo, "v1", MEDIA_TYPE_INDEX, &index)
        .unwrap();
    let r: ImageRef = format!("{}/test/hello:v1", reg.host).parse().unwrap();
    for (corrupt, grow, want) in [(true, false, "hash to"), (false, true, "larger than")] {
        {
            let mut s = reg.state.lock().unwrap();
            s.corrupt_blobs = corrupt;
            s.grow_blobs = grow;
        }
        let out = dir.path().join("refused");
        let e = pull_image(&c, &r, &out, false).unwrap_err();
        assert!(
            matches!(&e, RegistryError::BadBlob { reason, .. } if reason.contains(want)),
            "{e}"
        );
        assert!(!out.exists(), "nothing written");
        let stray: Vec<_> = fs_err::read_dir(dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(".pull-"))
            .collect();
        assert!(stray.is_empty(), "no temporary directory left");
    }
    // A reference by a digest the registry does not serve for it.
    let bad: Result<ImageRef, _> = format!("{}/test/hello@sha256:12", reg.host).parse();
    assert!(bad.is_err());
}

#[test]
fn reads_ask_for_pull_tokens_so_read_only_credentials_pull() {
    use apko_oci::registry::pull::{ImageRef, pull_image};
    let reg = Registry::start();
    {
        let mut s = reg.state.lock().unwrap();
        s.auth = Some(("me".into(), "s3cret".into()));
        s.reader = Some(("reader".into(), "r".into()));
    }
    let dir = tempfile::tempdir().unwrap();
    let (img, index) = image(dir.path());
    let repo = Repository {
        registry: reg.host.clone(),
        name: "private/app".into(),
    };
    let with = |user: &str, password: &str| {
        let mut creds = StaticCredentials::default();
        creds.0.insert(
            reg.host.clone(),
            Credentials {
                username: user.into(),
                password: password.into(),
            },
        );
        client().with_credentials(creds)
    };
    let writer = with("me", "s3cret");
    writer.push_image(&repo, &img, &[]).unwrap();
    writer
        .push_manifest(&repo, "v1", MEDIA_TYPE_INDEX, &index)
        .unwrap();
    // The push asked for a pull token for its HEADs and a push token for its uploads.
    let asked = reg.state.lock().unwrap().scopes.clone();
    assert!(asked.contains(&vec!["repository:private/app:pull".to_owned()]));
    assert!(asked.contains(&vec!["repository:private/app:push,pull".to_owned()]));

    // A reader pulls the image; its token service never grants it a push scope.
    reg.state.lock().unwrap().scopes.clear();
    let reader = with("reader", "r");
    let r: ImageRef = format!("{}/private/app:v1", reg.host).parse().unwrap();
    let out = dir.path().join("pulled");
    let p = pull_image(&reader, &r, &out, true).unwrap();
    assert_eq!(p.digest, Digest::of(&index));
    let asked = reg.state.lock().unwrap().scopes.clone();
    assert!(!asked.is_empty());
    assert!(
        asked.iter().flatten().all(|s| s.ends_with(":pull")),
        "{asked:?}"
    );
    // …and cannot push.
    let other = Repository {
        registry: reg.host.clone(),
        name: "private/app".into(),
    };
    let err = reader.push_image(&other, &img, &[]).unwrap_err();
    assert!(err.to_string().contains(&reg.host), "{err}");
}
