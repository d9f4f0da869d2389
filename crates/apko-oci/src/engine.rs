//! Loading images into a local container engine through the Docker Engine API on a unix
//! socket (`POST /images/load` with a docker tarball), as `apko publish --local` does. Docker
//! and podman's compatible service (`podman system service`) both speak it.
//!
//! A minimal HTTP/1.1 client over [`UnixStream`]: one request per connection, the body streamed
//! from a file, responses read with `Content-Length` or chunked encoding, bounded.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The Docker Engine API version asked for (supported by Docker ≥ 20.10 and podman ≥ 3).
const API_VERSION: &str = "v1.41";
/// The largest response read.
const MAX_RESPONSE: u64 = 16 << 20;

/// The default socket when `DOCKER_HOST` is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// A container engine reached through a unix socket.
#[derive(Debug, Clone)]
pub struct Engine {
    socket: PathBuf,
    timeout: Duration,
}

/// Why an engine request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// `DOCKER_HOST` names something other than a unix socket.
    #[error("DOCKER_HOST `{0}`: only `unix://` sockets are supported")]
    Host(String),
    /// The socket could not be reached.
    #[error("cannot connect to the container engine at `{socket}`")]
    Connect {
        /// The socket.
        socket: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading or writing the connection (or the tarball) failed.
    #[error("talking to the container engine at `{socket}`")]
    Io {
        /// The socket.
        socket: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The engine answered with an error.
    #[error("the container engine refused the image: {status} {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
    /// The engine's answer is not HTTP as expected.
    #[error("the container engine at `{socket}` sent an invalid response: {why}")]
    Protocol {
        /// The socket.
        socket: String,
        /// What was wrong.
        why: String,
    },
}

impl Engine {
    /// The engine `DOCKER_HOST` names (`unix:///path`, or a plain path), or the default socket.
    pub fn from_docker_host(docker_host: Option<&str>) -> Result<Engine, EngineError> {
        let socket = match docker_host.filter(|h| !h.is_empty()) {
            None => PathBuf::from(DEFAULT_SOCKET),
            Some(h) => match h.strip_prefix("unix://") {
                Some(p) => PathBuf::from(p),
                None if h.starts_with('/') => PathBuf::from(h),
                None => return Err(EngineError::Host(h.to_owned())),
            },
        };
        Ok(Engine {
            socket,
            timeout: Duration::from_mins(30),
        })
    }

    /// The socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn io(&self) -> impl Fn(io::Error) -> EngineError + '_ {
        |source| EngineError::Io {
            socket: self.socket.display().to_string(),
            source,
        }
    }

    /// Checks that the engine answers (`GET /_ping`), before anything is built for it.
    pub fn ping(&self) -> Result<(), EngineError> {
        let mut s = UnixStream::connect(&self.socket).map_err(|source| EngineError::Connect {
            socket: self.socket.display().to_string(),
            source,
        })?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(self.io())?;
        s.write_all(
            format!(
                "GET /{API_VERSION}/_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .map_err(self.io())?;
        let (status, body) = self.response(s)?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(EngineError::Refused {
                status,
                message: engine_message(&String::from_utf8_lossy(&body)),
            })
        }
    }

    /// Loads the docker tarball at `tarball` (`docker load`); returns what the engine reported
    /// (`Loaded image: …` lines).
    pub fn load(&self, tarball: &Path) -> Result<String, EngineError> {
        let mut file = fs_err::File::open(tarball).map_err(self.io())?;
        let len = file.metadata().map_err(self.io())?.len();
        let mut s = UnixStream::connect(&self.socket).map_err(|source| EngineError::Connect {
            socket: self.socket.display().to_string(),
            source,
        })?;
        s.set_read_timeout(Some(self.timeout)).map_err(self.io())?;
        s.set_write_timeout(Some(self.timeout)).map_err(self.io())?;
        let head = format!(
            "POST /{API_VERSION}/images/load?quiet=1 HTTP/1.1\r\nHost: localhost\r\nUser-Agent: apko-rs\r\nContent-Type: application/x-tar\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
        );
        s.write_all(head.as_bytes()).map_err(self.io())?;
        io::copy(&mut file, &mut s).map_err(self.io())?;
        s.flush().map_err(self.io())?;
        let (status, body) = self.response(s)?;
        let text = String::from_utf8_lossy(&body).into_owned();
        if !(200..300).contains(&status) {
            return Err(EngineError::Refused {
                status,
                message: engine_message(&text),
            });
        }
        // The body is a stream of JSON messages; one with `error` means the load failed.
        let mut out = Vec::new();
        for v in serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>() {
            let Ok(v) = v else { break };
            if let Some(e) = v.get("error").or_else(|| v.get("errorDetail")) {
                return Err(EngineError::Refused {
                    status,
                    message: e.as_str().map_or_else(|| e.to_string(), str::to_owned),
                });
            }
            if let Some(m) = v.get("stream").and_then(|m| m.as_str()) {
                out.push(m.trim().to_owned());
            }
        }
        Ok(out.join("\n"))
    }

    fn response(&self, s: UnixStream) -> Result<(u16, Vec<u8>), EngineError> {
        let protocol = |why: &str| EngineError::Protocol {
            socket: self.socket.display().to_string(),
            why: why.to_owned(),
        };
        let mut r = BufReader::new(s.take(MAX_RESPONSE));
        let mut line = String::new();
        r.read_line(&mut line).map_err(self.io())?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| protocol("no status line"))?;
        let (mut length, mut chunked) = (None, false);
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).map_err(self.io())? == 0 || h == "\r\n" || h == "\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
                if k == "content-length" {
                    length = v.parse::<u64>().ok();
                } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
                    chunked = true;
                }
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                r.read_line(&mut size).map_err(self.io())?;
                let n = u64::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| protocol("bad chunk size"))?;
                if n == 0 {
                    break;
                }
                (&mut r).take(n).read_to_end(&mut body).map_err(self.io())?;
                let mut crlf = String::new();
                r.read_line(&mut crlf).map_err(self.io())?;
            }
        } else if let Some(n) = length {
            (&mut r).take(n).read_to_end(&mut body).map_err(self.io())?;
        } else {
            r.read_to_end(&mut body).map_err(self.io())?;
        }
        Ok((status, body))
    }
}

/// The `message` of an engine's JSON error, or the text.
fn engine_message(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| text.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    fn fake_engine(
        answer: &'static str,
    ) -> (tempfile::TempDir, PathBuf, std::thread::JoinHandle<Vec<u8>>) {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("engine.sock");
        let l = UnixListener::bind(&sock).unwrap();
        let h = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut len = 0usize;
            let mut req = Vec::new();
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                req.extend_from_slice(line.as_bytes());
                if let Some(v) = line.strip_prefix("Content-Length: ") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            req.extend(body);
            c.write_all(answer.as_bytes()).unwrap();
            req
        });
        (dir, sock, h)
    }

    #[test]
    fn loads_with_chunked_answers_and_reports_errors() {
        let (dir, sock, h) = fake_engine(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2d\r\n{\"stream\":\"Loaded image: example.com/a:b\\n\"}\r\n0\r\n\r\n",
        );
        let tar = dir.path().join("img.tar");
        fs_err::write(&tar, b"TARBYTES").unwrap();
        let e = Engine::from_docker_host(Some(&format!("unix://{}", sock.display()))).unwrap();
        assert_eq!(e.load(&tar).unwrap(), "Loaded image: example.com/a:b");
        let req = String::from_utf8(h.join().unwrap()).unwrap();
        assert!(
            req.starts_with("POST /v1.41/images/load?quiet=1 HTTP/1.1\r\n"),
            "{req}"
        );
        assert!(req.ends_with("\r\n\r\nTARBYTES"), "{req}");

        let (dir, sock, _h) = fake_engine(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 27\r\n\r\n{\"message\":\"disk is full\"}\n",
        );
        let tar = dir.path().join("img.tar");
        fs_err::write(&tar, b"x").unwrap();
        let e = Engine::from_docker_host(Some(sock.to_str().unwrap())).unwrap();
        let err = e.load(&tar).unwrap_err();
        assert!(err.to_string().contains("disk is full"), "{err}");
        assert!(matches!(
            Engine::from_docker_host(Some("tcp://h:2375")),
            Err(EngineError::Host(_))
        ));
        assert_eq!(
            Engine::from_docker_host(None).unwrap().socket(),
            Path::new(DEFAULT_SOCKET)
        );
    }
}
