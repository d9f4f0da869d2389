//! A small HTTP/1.1 server on 127.0.0.1 for tests: serves files from memory, supports ETag
//! revalidation and can fail the first requests of a path with 503.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub(crate) struct State {
    pub(crate) files: HashMap<String, Vec<u8>>,
    /// Path → number of 503 answers still to give.
    pub(crate) failures: HashMap<String, usize>,
    /// Every request: (path, Authorization header).
    pub(crate) requests: Vec<(String, Option<String>)>,
}

pub(crate) struct Server {
    pub(crate) url: String,
    pub(crate) state: Arc<Mutex<State>>,
}

impl Server {
    pub(crate) fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_nodelay(true);
                let s = s.clone();
                std::thread::spawn(move || handle(stream, &s));
            }
        });
        Server { url, state }
    }

    pub(crate) fn put(&self, path: &str, data: Vec<u8>) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(path.to_owned(), data);
    }

    pub(crate) fn fail(&self, path: &str, times: usize) {
        self.state
            .lock()
            .unwrap()
            .failures
            .insert(path.to_owned(), times);
    }

    pub(crate) fn requests(&self) -> Vec<(String, Option<String>)> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn etag_of(data: &[u8]) -> String {
    use sha2::Digest;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(data)[..8]))
}

fn handle(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let (mut auth, mut inm) = (None, None);
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                match k.to_ascii_lowercase().as_str() {
                    "authorization" => auth = Some(v.trim().to_owned()),
                    "if-none-match" => inm = Some(v.trim().to_owned()),
                    _ => {}
                }
            }
        }
        let (status, body, etag) = {
            let mut st = state.lock().unwrap();
            st.requests.push((path.clone(), auth));
            let fail = st
                .failures
                .get_mut(&path)
                .filter(|n| **n > 0)
                .map(|n| *n -= 1)
                .is_some();
            if fail {
                ("503 Service Unavailable", Vec::new(), None)
            } else {
                match st.files.get(&path) {
                    Some(d) if inm.as_deref() == Some(etag_of(d).as_str()) => {
                        ("304 Not Modified", Vec::new(), Some(etag_of(d)))
                    }
                    Some(d) => ("200 OK", d.clone(), Some(etag_of(d))),
                    None => ("404 Not Found", Vec::new(), None),
                }
            }
        };
        let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
        if let Some(e) = etag {
            head.push_str(&format!("ETag: {e}\r\n"));
        }
        head.push_str("\r\n");
        if out
            .write_all(head.as_bytes())
            .and_then(|()| out.write_all(&body))
            .is_err()
        {
            return;
        }
    }
}
