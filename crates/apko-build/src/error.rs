use apko_apk::index::IndexVerification;
use apko_apk::package::PackageError;
use apko_apk::solve::SolveError;
use apko_apk::source::FetchError;
use apko_config::ConfigError;
use apko_fs::FsError;
use apko_oci::OutputError;

/// Why a build failed. Every variant names what it was working on; [`BuildError::hint`]
/// suggests a fix where there is an obvious one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A key could not be read or parsed.
    #[error("cannot use key `{key}`")]
    Key {
        /// The key as configured.
        key: String,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A repository index could not be fetched.
    #[error("cannot fetch the index of repository `{repo}` for {arch}")]
    FetchIndex {
        /// The repository (password redacted).
        repo: String,
        /// The apk architecture.
        arch: String,
        /// The cause.
        #[source]
        source: FetchError,
    },
    /// A repository index is unusable (bad signature, untrusted, malformed).
    #[error("repository `{repo}` for {arch}")]
    Index {
        /// The repository (password redacted).
        repo: String,
        /// The apk architecture.
        arch: String,
        /// The cause.
        #[source]
        source: IndexVerification,
    },
    /// No consistent package set.
    #[error("cannot resolve the packages for {arch}")]
    Solve {
        /// The apk architecture.
        arch: String,
        /// The cause.
        #[source]
        source: SolveError,
    },
    /// A package could not be downloaded.
    #[error("cannot fetch package `{package}` for {arch}")]
    FetchPackage {
        /// `name-version`.
        package: String,
        /// The apk architecture.
        arch: String,
        /// The cause.
        #[source]
        source: FetchError,
    },
    /// A package is malformed, fails verification or is hostile.
    #[error("package `{package}` for {arch} is refused")]
    Package {
        /// `name-version`.
        package: String,
        /// The apk architecture.
        arch: String,
        /// The cause.
        #[source]
        source: PackageError,
    },
    /// Two packages install different files at the same path.
    #[error("packages `{existing}` and `{incoming}` both provide `/{path}` with different content")]
    FileConflict {
        /// The path.
        path: String,
        /// The package already installed.
        existing: String,
        /// The package being installed.
        incoming: String,
    },
    /// A package wants a path that holds another kind of entry (a file over a directory).
    #[error(
        "package `{incoming}` wants a {new} at `/{path}`, where {existing_owner} has a {existing}"
    )]
    TypeConflict {
        /// The path.
        path: String,
        /// What is there.
        existing: &'static str,
        /// Who put it there (a package, or "the image layout").
        existing_owner: String,
        /// What the package wants there.
        new: &'static str,
        /// The package being installed.
        incoming: String,
    },
    /// A filesystem operation on the image failed.
    #[error("{context}")]
    Fs {
        /// What was being done.
        context: String,
        /// The cause.
        #[source]
        source: FsError,
    },
    /// Writing the output failed.
    #[error("cannot write the output")]
    Output(#[from] OutputError),
    /// Pushing to a registry failed.
    #[cfg(feature = "http")]
    #[error("cannot push to {target}")]
    Publish {
        /// The repository or reference.
        target: String,
        /// The cause.
        #[source]
        source: apko_oci::registry::RegistryError,
    },
    /// A local file could not be read or written.
    #[error("cannot access `{path}`")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A request the build cannot carry out.
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
}

impl BuildError {
    /// A suggestion for the user.
    pub fn hint(&self) -> Option<String> {
        match self {
            BuildError::Config(e) => e.hint(),
            BuildError::Index { source, .. } => source.hint(),
            BuildError::Invalid { hint, .. } => hint.clone(),
            #[cfg(feature = "http")]
            BuildError::Publish { source, .. } => source.hint().map(str::to_owned),
            BuildError::FetchIndex { source: FetchError::NotFound { .. }, .. } => Some(
                "check the repository URL or path and the architecture: the index is read from <repository>/<arch>/APKINDEX.tar.gz".to_owned(),
            ),
            BuildError::FetchIndex { source: FetchError::Offline { .. }, .. }
            | BuildError::FetchPackage { source: FetchError::Offline { .. }, .. } => {
                Some("run once online with the same --cache-dir to fill the cache".to_owned())
            }
            BuildError::FileConflict { existing, incoming, .. } => Some(format!(
                "a package can take over files of another with `replaces` (e.g. `replaces = {}` in {incoming}'s .PKGINFO), or remove one of the two from the world",
                existing.rsplit_once('-').map_or(existing.as_str(), |(n, _)| n.rsplit_once('-').map_or(n, |(n, _)| n))
            )),
            BuildError::TypeConflict { .. } => Some(
                "apk refuses this too: the two packages cannot be installed together; remove one of them from the world".to_owned(),
            ),
            BuildError::Package {
                source: PackageError::IdentityMismatch { .. },
                ..
            } => Some("the package differs from the one its repository index describes; if it is cached, remove the cache directory".to_owned()),
            _ => None,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>, hint: Option<&str>) -> Self {
        BuildError::Invalid {
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }

    pub(crate) fn fs(context: impl Into<String>) -> impl FnOnce(FsError) -> BuildError {
        let context = context.into();
        move |source| BuildError::Fs { context, source }
    }
}
