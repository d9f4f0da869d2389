use crate::tree::Owner;

/// A filesystem operation that cannot be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// A path (or one of its parents) does not exist.
    #[error("`{path}` does not exist")]
    NotFound {
        /// The path.
        path: String,
    },
    /// A parent component is not a directory.
    #[error("`{path}` is not a directory")]
    NotADirectory {
        /// The path.
        path: String,
    },
    /// Something already exists where a new entry was to be created.
    #[error("`{path}` already exists")]
    Exists {
        /// The path.
        path: String,
    },
    /// A directory would replace a file or a file a directory.
    #[error("`{path}`: cannot replace a {existing} with a {new}")]
    TypeConflict {
        /// The path.
        path: String,
        /// What is there.
        existing: &'static str,
        /// What was to be created.
        new: &'static str,
    },
    /// Two owners want the same path and the conflict policy refused.
    #[error("`{path}` is provided by two owners ({existing:?} and {incoming:?})")]
    Conflict {
        /// The path.
        path: String,
        /// The owner already there.
        existing: Owner,
        /// The newcomer.
        incoming: Owner,
    },
    /// A hard link to something that is not a regular file (a directory would make the
    /// tree a graph).
    #[error("`{path}`: a hard link must point to a regular file, not a {target}")]
    HardLinkTarget {
        /// The link's path.
        path: String,
        /// What the target is.
        target: &'static str,
    },
    /// Too many symbolic links in a path.
    #[error("`{path}`: too many levels of symbolic links")]
    SymlinkLoop {
        /// The path.
        path: String,
    },
    /// An invalid path (a `..` entry name, no name at all).
    #[error("invalid path `{path}`")]
    InvalidPath {
        /// The path.
        path: String,
    },
    /// Reading file content from its source failed.
    #[error("cannot read the content of `{path}` from `{source_path}`")]
    Source {
        /// The image path.
        path: String,
        /// The source file.
        source_path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An entry does not fit the output format.
    #[error("`{path}`: {what}")]
    TooLarge {
        /// The path.
        path: String,
        /// What does not fit.
        what: &'static str,
    },
    /// Writing a layer failed.
    #[error("cannot write the layer")]
    Write(#[source] std::io::Error),
}
