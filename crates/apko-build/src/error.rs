use crate::lock::LockError;
use crate::rootfs::RootfsError;
use apko_apk::index::IndexVerification;
use apko_apk::package::PackageError;
use apko_apk::solve::SolveError;
use apko_apk::source::FetchError;
use apko_config::ConfigError;
use apko_oci::{OutputError, ParseReferenceError};

/// Why a build failed. Every variant names what it was working on; [`BuildError::hint`]
/// suggests a fix where there is an obvious one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A feature of apko that apko-rs does not implement yet.
    #[error("{feature} is not supported by apko-rs yet")]
    Unsupported {
        /// What (`contents.baseimage`, ...).
        feature: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// A package given on the command line (`-p`) cannot be parsed.
    #[error("package `{spec}` (from the command line)")]
    PackageSpec {
        /// The text.
        spec: String,
        /// The cause.
        #[source]
        source: apko_apk::dependency::ParseDependencyError,
    },
    /// Neither the configuration nor the command line names a repository.
    #[error("no repositories are configured")]
    NoRepositories,
    /// The image reference (`repo/img:tag`) is invalid.
    #[error("invalid image reference `{reference}`")]
    Reference {
        /// The text.
        reference: String,
        /// The cause.
        #[source]
        source: ParseReferenceError,
    },
    /// `entrypoint.command` or `cmd` cannot be split into words.
    #[error("{field}: {message}")]
    Command {
        /// `entrypoint.command` or `cmd`.
        field: &'static str,
        /// What is wrong (an unterminated quote).
        message: String,
    },
    /// The build date cannot be written as an RFC 3339 time.
    #[error(
        "{origin}: {value} seconds since 1970 is outside the years 0000–9999 that RFC 3339 can write"
    )]
    BuildDate {
        /// The date.
        value: i64,
        /// Where it came from (`SOURCE_DATE_EPOCH`, `--build-date`, a package's builddate).
        origin: String,
    },
    /// A key could not be read or parsed.
    #[error("cannot use key `{key}`")]
    Key {
        /// The key as configured (password redacted).
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
    /// A signed index lists a package without the identity (`C:`) that chains it to the
    /// signature.
    #[error(
        "repository {repo} ({arch}): package `{package}` has no SHA-1 identity (`C:Q1…`) in the signed index, so it cannot be verified"
    )]
    Unverifiable {
        /// The repository (password redacted).
        repo: String,
        /// The apk architecture.
        arch: String,
        /// `name-version`.
        package: String,
    },
    /// An index names a package with a name that cannot be a file name.
    #[error("repository {repo} ({arch}): package name `{name}` cannot be a file name")]
    PackageName {
        /// The repository (password redacted).
        repo: String,
        /// The apk architecture.
        arch: String,
        /// The name.
        name: String,
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
    /// A lockfile is unusable or does not fit the configuration.
    #[error(transparent)]
    Lock(#[from] LockError),
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
    /// A package is not the one its index or lockfile describes (size, name, pinned data).
    #[error("package `{package}` for {arch}: {problem}")]
    NotThePackage {
        /// `name-version`.
        package: String,
        /// The apk architecture.
        arch: String,
        /// What differs.
        problem: Mismatch,
    },
    /// Building the filesystem failed (conflicts, `paths`, accounts, certificates, ...).
    #[error(transparent)]
    Rootfs(#[from] RootfsError),
    /// Writing the output failed.
    #[error("cannot write the output")]
    Output(#[from] OutputError),
    /// `publish` was given no tag.
    #[error("no tag to publish to")]
    NoTags,
    /// Pushing to a registry failed.
    #[error("cannot push to {target}")]
    Publish {
        /// The repository or reference.
        target: String,
        /// The cause.
        #[source]
        source: apko_oci::registry::RegistryError,
    },
    /// An image to read is neither a local path nor a registry reference.
    #[error("`{image}`: no such file or directory, and not a registry reference ({reason})")]
    NoImage {
        /// What was given.
        image: String,
        /// Why it is not a reference.
        reason: String,
    },
    /// Reading an image from a registry failed.
    #[error("cannot pull {reference}")]
    Pull {
        /// The reference.
        reference: String,
        /// The cause.
        #[source]
        source: apko_oci::registry::RegistryError,
    },
    /// The base image (`contents.baseimage`) cannot be used.
    #[error("base image `{path}`: {problem}")]
    BaseImage {
        /// The layout or file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// Loading into a local container engine failed (`publish --local`).
    #[error("cannot load the image into the local container engine")]
    Engine(#[source] apko_oci::engine::EngineError),
    /// The image has no build for the architecture asked for.
    #[error("the image has no {arch} build (it has: {have})")]
    NoSuchArch {
        /// The architecture asked for.
        arch: String,
        /// Those built.
        have: String,
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
    /// A signing or verification key, or an attestation, cannot be used.
    #[error(transparent)]
    Attestation(#[from] crate::attest::AttestationError),
}

/// How a fetched package differs from its record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Mismatch {
    /// The file size differs from the index's `S:`.
    #[error("the file is {actual} bytes, the signed index says {expected}")]
    Size {
        /// Bytes fetched.
        actual: u64,
        /// `S:`.
        expected: u64,
    },
    /// The download ran past the size of the signed index and was stopped.
    #[error(
        "the download is larger than the {expected} bytes the signed index says (stopped after {stopped_at})"
    )]
    Oversized {
        /// `S:`.
        expected: u64,
        /// Where the download was stopped.
        stopped_at: u64,
    },
    /// Its `.PKGINFO` names another package.
    #[error("its .PKGINFO says `{found}`")]
    Name {
        /// `name-version` of the `.PKGINFO`.
        found: String,
    },
    /// The data segment is not the one the lockfile pins.
    #[error("its data segment is not the one the lockfile pins")]
    LockPin,
    /// Expanded again after its cached expansion failed verification, it has other entries
    /// than the cache recorded.
    #[error("its cached expansion in {cache} does not describe it")]
    CachedExpansion {
        /// The expanded-package cache directory.
        cache: String,
    },
}

impl BuildError {
    /// A suggestion for the user.
    pub fn hint(&self) -> Option<String> {
        let s = |s: &str| Some(s.to_owned());
        match self {
            BuildError::Config(e) => e.hint(),
            BuildError::Unsupported { hint, .. } => s(hint),
            BuildError::PackageSpec { .. } => s(
                "packages are written `name`, `name=1.2-r0`, `name>=1.2`, `name~1.2` or `name@tag`",
            ),
            BuildError::NoRepositories => {
                s("add `contents.repositories` to the configuration or pass -r/--repository-append")
            }
            BuildError::BuildDate { .. } => s(
                "set SOURCE_DATE_EPOCH (or --build-date) to a time between 0000-01-01 and 9999-12-31, e.g. `$(git log -1 --format=%ct)`",
            ),
            BuildError::Reference { .. } => {
                s("use a reference like `registry.example/repo/image:tag`")
            }
            BuildError::Index { source, .. } => source.hint(),
            BuildError::Unverifiable { .. } => s(
                "regenerate the index with `apk index` or melange; with --ignore-signatures such packages are installed unverified",
            ),
            BuildError::PackageName { .. } => s(
                "package names may not contain `/` or start with `.`; the index is broken or hostile",
            ),
            BuildError::Lock(e) => s(e.hint()),
            BuildError::Rootfs(e) => e.hint(),
            BuildError::Attestation(e) => e.hint().map(str::to_owned),
            BuildError::Publish { source, .. } | BuildError::Pull { source, .. } => {
                source.hint().map(str::to_owned)
            }
            BuildError::Engine(apko_oci::engine::EngineError::Connect { .. }) => s(
                "start the engine (for podman: `podman system service --time=0 unix:///run/podman/podman.sock`) and point DOCKER_HOST at its socket (`unix:///path`)",
            ),
            BuildError::BaseImage { .. } => s(
                "`baseimage.image` is an OCI image layout (a directory with index.json) holding the architectures built; `baseimage.apkindex` a directory with `<arch>/APKINDEX`, the base image's installed database",
            ),
            BuildError::NoSuchArch { .. } => s(
                "set GOARCH (amd64, arm64, ...) to the architecture to load, or add it to `archs`",
            ),
            BuildError::FetchIndex {
                source: FetchError::NotFound { .. },
                ..
            } => s(
                "check the repository URL or path and the architecture: the index is read from <repository>/<arch>/APKINDEX.tar.gz",
            ),
            BuildError::FetchIndex {
                source: FetchError::Offline { .. },
                ..
            }
            | BuildError::FetchPackage {
                source: FetchError::Offline { .. },
                ..
            } => s("run once online with the same --cache-dir to fill the cache"),
            BuildError::NotThePackage {
                problem: Mismatch::Size { .. },
                ..
            } => s(
                "the repository serves a different file than its index describes; if it is cached, remove the cache directory",
            ),
            BuildError::NotThePackage {
                problem: Mismatch::Name { .. },
                ..
            } => s("the index or lockfile does not describe this package; regenerate it"),
            BuildError::NotThePackage {
                problem: Mismatch::LockPin,
                ..
            } => s("regenerate the lockfile with `apko lock` if the repository changed on purpose"),
            BuildError::Package {
                source: PackageError::IdentityMismatch { .. },
                ..
            } => s(
                "the package differs from the one its repository index describes; if it is cached, remove the cache directory",
            ),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> BuildError {
        let path = path.to_string();
        move |source| BuildError::Io { path, source }
    }
}
