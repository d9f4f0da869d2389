use super::{Fetch, FetchError, Transport};
use std::io::{self, Write};
use std::path::PathBuf;

/// Reads local paths and `file://` URLs.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileTransport;

/// The local path of a `file://` URL or plain path.
pub(crate) fn local_path(url: &str) -> PathBuf {
    PathBuf::from(url.strip_prefix("file://").unwrap_or(url))
}

impl Transport for FileTransport {
    fn get(
        &self,
        url: &str,
        _etag: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<Fetch, FetchError> {
        let path = local_path(url);
        let mut f = fs_err::File::open(&path).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                FetchError::NotFound {
                    url: url.to_owned(),
                }
            } else {
                FetchError::Io {
                    url: url.to_owned(),
                    source,
                }
            }
        })?;
        io::copy(&mut f, out).map_err(|source| FetchError::Io {
            url: url.to_owned(),
            source,
        })?;
        Ok(Fetch::Body { etag: None })
    }
}
