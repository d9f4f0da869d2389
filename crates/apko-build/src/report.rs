//! Progress reporting: libraries report, front ends draw.

/// A phase of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Fetching and verifying indexes, solving.
    Resolve,
    /// Downloading packages. Fetching overlaps with verifying and expanding (each package is
    /// streamed through both, several packages at once), so its [`Timing`](crate::Timing) is
    /// the time spent fetching summed over the parallel workers, not wall time.
    Fetch,
    /// Fetching, verifying and expanding packages: the wall time of the whole stage.
    Expand,
    /// Installing into the image filesystem.
    Install,
    /// Writing and compressing the layer.
    Layer,
    /// SBOM documents.
    Sbom,
    /// OCI config, manifests, index and output.
    Oci,
}

impl Phase {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Resolve => "resolve",
            Phase::Fetch => "fetch",
            Phase::Expand => "fetch+verify+expand",
            Phase::Install => "install",
            Phase::Layer => "layer+gzip",
            Phase::Sbom => "sbom",
            Phase::Oci => "oci",
        }
    }
}

/// Receives progress from a build. Implementations must be cheap; every method has a
/// default that does nothing.
pub trait Reporter: Send + Sync {
    /// A phase starts for `arch` with `total` steps (0 when unknown).
    fn start(&self, _arch: &str, _phase: Phase, _total: u64) {}
    /// One more step of the current phase is done.
    fn step(&self, _arch: &str, _phase: Phase, _what: &str) {}
    /// The phase ended.
    fn finish(&self, _arch: &str, _phase: Phase) {}
    /// Something the user should know.
    fn warn(&self, _message: &str) {}
}

/// A reporter that reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Reporter for Silent {}
