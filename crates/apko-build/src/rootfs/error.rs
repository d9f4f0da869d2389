use apko_fs::FsError;

/// Why the image filesystem cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootfsError {
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
    /// A packages' `/lib/apk` holds files, so it cannot become apko's link to `/usr/lib/apk`.
    #[error("/lib/apk holds files, so it cannot become a link to /usr/lib/apk")]
    LibApk,
    /// An inline certificate is unusable.
    #[error("certificates.additional[{index}] (`{name}`) {problem}")]
    Certificate {
        /// Its position.
        index: usize,
        /// Its name.
        name: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// The Java trust store of a package cannot be read.
    #[error("/{path}: {message}")]
    TrustStore {
        /// The store.
        path: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A runtime key is not a public key.
    #[error("cannot use key `{name}`")]
    RuntimeKey {
        /// Its name.
        name: String,
        /// The cause.
        #[source]
        source: apko_apk::keys::KeyError,
    },
    /// A runtime key would overwrite a key of the build.
    #[error("runtime key `{name}` collides with /{path}, which the build already wrote")]
    RuntimeKeyCollision {
        /// Its name.
        name: String,
        /// The path.
        path: String,
    },
    /// `accounts.run-as` names a user or group the image does not have.
    #[error("accounts.run-as `{run_as}`: the image has no {unknown}")]
    RunAs {
        /// The value.
        run_as: String,
        /// The unknown user or group.
        unknown: String,
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
}

impl RootfsError {
    /// A suggestion for the user.
    pub fn hint(&self) -> Option<String> {
        match self {
            RootfsError::FileConflict { existing, incoming, .. } => Some(format!(
                "a package can take over files of another with `replaces` (e.g. `replaces = {}` in {incoming}'s .PKGINFO), or remove one of the two from the world",
                existing.rsplit_once('-').map_or(existing.as_str(), |(n, _)| n.rsplit_once('-').map_or(n, |(n, _)| n))
            )),
            RootfsError::TypeConflict { .. } => Some(
                "apk refuses this too: the two packages cannot be installed together; remove one of them from the world".to_owned(),
            ),
            RootfsError::TrustStore { .. } => Some(
                "apko-rs adds `certificates` to JKS trust stores protected by the password `changeit`; remove `certificates` or use a package that ships such a store".to_owned(),
            ),
            RootfsError::RuntimeKeyCollision { .. } => Some("give the runtime key another name".to_owned()),
            RootfsError::RunAs { .. } => Some(
                "add the account under `accounts.users`/`accounts.groups`, install a package that creates it, or use a numeric uid".to_owned(),
            ),
            _ => None,
        }
    }

    pub(crate) fn fs(context: impl Into<String>) -> impl FnOnce(FsError) -> RootfsError {
        let context = context.into();
        move |source| RootfsError::Fs { context, source }
    }
}
