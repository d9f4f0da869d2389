use super::redact;

/// A failed fetch. URLs in messages have their passwords redacted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The file or URL does not exist (404, or no such file).
    #[error("`{}` not found", redact(url))]
    NotFound {
        /// What was fetched.
        url: String,
    },
    /// The server answered with an error status.
    #[error("`{}`: HTTP {status}", redact(url))]
    Status {
        /// What was fetched.
        url: String,
        /// The status code.
        status: u16,
    },
    /// A network or file error.
    #[error("cannot fetch `{}`", redact(url))]
    Io {
        /// What was fetched.
        url: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A network error reported by the HTTP client.
    #[error("cannot fetch `{}`: {message}", redact(url))]
    Network {
        /// What was fetched.
        url: String,
        /// What the client said.
        message: String,
        /// Whether trying again may help.
        transient: bool,
    },
    /// The response is larger than allowed.
    #[error("`{}` is larger than the limit of {limit} bytes", redact(url))]
    TooLarge {
        /// What was fetched.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// `--offline` and nothing in the cache.
    #[error("`{}` is not in the cache and the build is offline", redact(url))]
    Offline {
        /// What was needed.
        url: String,
    },
    /// An `http(s)` URL without HTTP support compiled in.
    #[error("`{}`: this build has no HTTP support", redact(url))]
    NoHttp {
        /// What was fetched.
        url: String,
    },
    /// Writing to the cache failed.
    #[error("cannot write the cache at `{path}`")]
    Cache {
        /// The cache path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl FetchError {
    /// Whether trying again may succeed (connection problems, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            FetchError::Network { transient, .. } => *transient,
            FetchError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::Interrupted
            ),
            _ => false,
        }
    }
}
