//! Helpers shared by the CLI test files: the binary, the example repository, a small HTTP
//! server for repositories (entity tags, basic authentication, a request log).
#![allow(dead_code, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// The workspace root.
pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap()
}

/// Runs `apko` in `dir` with `env` added (and no `SOURCE_DATE_EPOCH` or cache from the caller).
pub(crate) fn apko(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_apko"));
    c.args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("HTTP_AUTH")
        .env("XDG_CACHE_HOME", dir.join(".xdg-cache"));
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// One request the server saw: its path and `Authorization` header.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) path: String,
    pub(crate) authorization: Option<String>,
}

/// A static HTTP/1.1 file server on 127.0.0.1 with strong entity tags (`If-None-Match` → 304),
/// optional basic authentication, and a log of requests.
#[derive(Clone)]
pub(crate) struct Server {
    pub(crate) url: String,
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    log: Arc<Mutex<Vec<Request>>>,
    /// The `Authorization` header every request must carry, if any.
    auth: Arc<Mutex<Option<String>>>,
}

impl Server {
    pub(crate) fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let s = Server {
            url,
            files: Arc::default(),
            log: Arc::default(),
            auth: Arc::default(),
        };
        let me = s.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                // Header and body are separate writes: without it, each response waits for
                // the client's delayed ACK (40 ms).
                let _ = stream.set_nodelay(true);
                let me = me.clone();
                std::thread::spawn(move || me.serve(stream));
            }
        });
        s
    }

    fn serve(&self, mut stream: std::net::TcpStream) {
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("").to_owned(),
        );
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let authorization = headers.get("authorization").cloned();
        self.log.lock().unwrap().push(Request {
            path: path.clone(),
            authorization: authorization.clone(),
        });
        let required = self.auth.lock().unwrap().clone();
        let body = self.files.lock().unwrap().get(&path).cloned();
        let (status, etag, body) = if required.is_some() && authorization != required {
            ("401 Unauthorized", None, Vec::new())
        } else {
            match body {
                None => ("404 Not Found", None, Vec::new()),
                Some(b) => {
                    let tag = format!("\"{:016x}-{}\"", fnv(&b), b.len());
                    if headers.get("if-none-match") == Some(&tag) {
                        ("304 Not Modified", Some(tag), Vec::new())
                    } else {
                        ("200 OK", Some(tag), b)
                    }
                }
            }
        };
        let mut head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        if let Some(t) = etag {
            head.push_str(&format!("ETag: {t}\r\n"));
        }
        head.push_str("\r\n");
        let _ = stream.write_all(head.as_bytes());
        if method != "HEAD" {
            let _ = stream.write_all(&body);
        }
        let _ = stream.flush();
        let _ = r.read(&mut [0u8; 0]);
    }

    pub(crate) fn get(&self, path: &str) -> Option<Vec<u8>> {
        self.files.lock().unwrap().get(path).cloned()
    }

    pub(crate) fn put(&self, path: &str, bytes: Vec<u8>) {
        self.files.lock().unwrap().insert(path.to_owned(), bytes);
    }

    /// Serves the example repository's architectures under `prefix` (`/alpine/v3.20/main`).
    pub(crate) fn put_example_repository(&self, prefix: &str) {
        let repo = root().join("examples/hello/repo");
        for arch in fs_err::read_dir(&repo).unwrap() {
            let arch = arch.unwrap().path();
            for f in fs_err::read_dir(&arch).unwrap() {
                let f = f.unwrap().path();
                self.put(
                    &format!(
                        "{prefix}/{}/{}",
                        arch.file_name().unwrap().to_str().unwrap(),
                        f.file_name().unwrap().to_str().unwrap()
                    ),
                    fs_err::read(&f).unwrap(),
                );
            }
        }
    }

    /// Requires `Authorization: Basic base64(user:password)` on every request.
    pub(crate) fn require_basic_auth(&self, user: &str, password: &str) {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        *self.auth.lock().unwrap() = Some(format!("Basic {token}"));
    }

    pub(crate) fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The example's public key (PEM).
pub(crate) fn example_key() -> Vec<u8> {
    fs_err::read(root().join("examples/hello/keys/hello.rsa.pub")).unwrap()
}

/// A configuration of the hello image from `repository`, with `keyring` lines (none: discovery).
pub(crate) fn hello_config(repository: &str, keyring: &[&str]) -> String {
    let mut c = String::from("contents:\n");
    if !keyring.is_empty() {
        c.push_str("  keyring:\n");
        for k in keyring {
            c.push_str(&format!("    - {k}\n"));
        }
    }
    c.push_str(&format!(
        "  repositories:\n    - {repository}\n  packages:\n    - hello\nentrypoint:\n  command: /usr/bin/hello\narchs:\n  - x86_64\n"
    ));
    c
}

/// The digest of the image index in an OCI layout.
pub(crate) fn layout_index_digest(layout: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(
        fs_err::read(layout.join("index.json")).unwrap(),
    ))
}

/// A CNCF distribution registry (Debian's `docker-registry`) on a free 127.0.0.1 port, stopped
/// when dropped.
pub(crate) struct LocalRegistry {
    child: std::process::Child,
    pub(crate) host: String,
    _dir: tempfile::TempDir,
}

impl LocalRegistry {
    pub(crate) fn start() -> LocalRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        fs_err::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\nhttp:\n  addr: {host}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run docker-registry: {e}; install the test tools with scripts/install-test-tools.sh")
            });
        let reg = LocalRegistry {
            child,
            host,
            _dir: dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&reg.host).is_ok() {
                return reg;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("docker-registry did not start on {}", reg.host);
    }

    /// The body of `GET path` (following redirects), with `Accept: accept` when given.
    pub(crate) fn get(&self, path: &str, accept: Option<&str>) -> Vec<u8> {
        let host = &self.host;
        let mut s = std::net::TcpStream::connect(host).unwrap();
        let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
        write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n{accept}\r\n").unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).unwrap();
        let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&resp[..split]).into_owned();
        if head.contains(" 307 ") || head.contains(" 302 ") {
            let location = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("Location: ")
                        .or_else(|| l.strip_prefix("location: "))
                })
                .unwrap()
                .trim();
            let path = location
                .split_once(host.as_str())
                .map_or(location, |(_, p)| p);
            return self.get(path, None);
        }
        assert!(head.contains(" 200 "), "GET {path}: {head}");
        resp[split + 4..].to_vec()
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
