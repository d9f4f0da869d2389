//! A build session: what every stage works from (request, plan, repositories, work
//! directory, reporter) and the bookkeeping around stages (progress, timings, warnings).

use crate::error::BuildError;
use crate::plan::{Plan, plan};
use crate::report::{Phase, Reporter};
use crate::request::BuildRequest;
use crate::resolve::ArchPackages;
use apko_apk::discovery::{DiscoveredKey, Discovery};
use apko_apk::index::IndexTrust;
use apko_apk::keys::SignaturePolicy;
use apko_apk::repositories::Repositories;
use apko_apk::source::{Cache, Fetcher, RepositoryUrl, redact};
use apko_config::Arch;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time spent in a phase.
#[derive(Debug, Clone)]
pub struct Timing {
    /// The apk architecture (empty for phases shared by all).
    pub arch: String,
    /// The phase.
    pub phase: Phase,
    /// Wall time.
    pub duration: Duration,
}

/// Where expanded packages and layers are written during a build: the request's directory,
/// or a temporary one removed when the last value referring to it is dropped.
#[derive(Debug)]
pub(crate) struct WorkDir {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl WorkDir {
    /// A directory that is not ours (a base image's layout): never removed.
    pub(crate) fn existing(path: &Path) -> WorkDir {
        WorkDir {
            path: path.to_owned(),
            _temp: None,
        }
    }

    fn new(dir: Option<&Path>) -> Result<WorkDir, BuildError> {
        match dir {
            Some(d) => {
                fs_err::create_dir_all(d).map_err(BuildError::io(d.display()))?;
                Ok(WorkDir {
                    path: d.to_owned(),
                    _temp: None,
                })
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("apko-build-")
                    .tempdir()
                    .map_err(BuildError::io("the temporary directory"))?;
                Ok(WorkDir {
                    path: t.path().to_owned(),
                    _temp: Some(t),
                })
            }
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// Runs work on up to `threads` threads, results in input order: the one pool of the build
/// (downloads, verification and expansion; publishing).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pool {
    threads: usize,
}

impl Pool {
    pub(crate) fn new(threads: usize) -> Pool {
        Pool {
            threads: threads.max(1),
        }
    }

    pub(crate) fn map<T: Sync, R: Send>(
        self,
        items: &[T],
        work: impl Fn(&T) -> R + Sync,
    ) -> Vec<R> {
        apko_apk::source::parallel(self.threads, items, work)
    }
}

/// Everything the stages of one build share.
pub(crate) struct Session {
    pub(crate) req: BuildRequest,
    pub(crate) plan: Plan,
    pub(crate) repos: Repositories,
    pub(crate) pool: Pool,
    pub(crate) work: Arc<WorkDir>,
    /// Keys found by discovery (no key configured, no lockfile), recorded in lockfiles.
    pub(crate) discovered: Vec<DiscoveredKey>,
    reporter: Arc<dyn Reporter>,
    timings: Mutex<Vec<Timing>>,
}

impl Session {
    /// Plans the request, opens the work directory and loads the keys.
    pub(crate) fn open(
        req: BuildRequest,
        reporter: Arc<dyn Reporter>,
    ) -> Result<Session, BuildError> {
        let plan = plan(&req)?;
        let work = Arc::new(WorkDir::new(req.work_dir.as_deref())?);
        let mut repos = repositories(&req, &reporter, work.path());
        for key in &plan.keyring {
            repos.add_key(key).map_err(|e| BuildError::Key {
                key: redact(key),
                source: Box::new(e),
            })?;
        }
        let discovered = if plan.keyring.is_empty() {
            unconfigured_keys(&req, &plan, &mut repos, &reporter)?
        } else {
            Vec::new()
        };
        if req.ignore_signatures {
            reporter.warn("--ignore-signatures: repository index signatures are NOT verified");
        }
        Ok(Session {
            discovered,
            pool: Pool::new(req.jobs.max(1) * 2),
            req,
            plan,
            repos,
            work,
            reporter,
            timings: Mutex::new(Vec::new()),
        })
    }

    /// Runs one stage: reports its start (with `total` steps, 0 when unknown) and end, and
    /// records its wall time.
    pub(crate) fn stage<T>(
        &self,
        arch: Option<Arch>,
        phase: Phase,
        total: u64,
        f: impl FnOnce() -> Result<T, BuildError>,
    ) -> Result<T, BuildError> {
        let arch = arch.map_or("", Arch::apk_name);
        self.reporter.start(arch, phase, total);
        let t = Instant::now();
        let r = f();
        self.record(arch, phase, t.elapsed());
        self.reporter.finish(arch, phase);
        r
    }

    /// Records time spent in `phase` that is not one stage's wall time (fetching, summed
    /// over parallel workers).
    pub(crate) fn record(&self, arch: &str, phase: Phase, duration: Duration) {
        self.timings.lock().expect("timings lock").push(Timing {
            arch: arch.to_owned(),
            phase,
            duration,
        });
    }

    /// One step of a stage is done.
    pub(crate) fn step(&self, arch: Arch, phase: Phase, what: &str) {
        self.reporter.step(arch.apk_name(), phase, what);
    }

    /// Something the user should know.
    pub(crate) fn warn(&self, message: &str) {
        self.reporter.warn(message);
    }

    /// The timings recorded so far.
    pub(crate) fn timings(&self) -> Vec<Timing> {
        self.timings.lock().expect("timings lock").clone()
    }

    /// The work directory of one architecture.
    pub(crate) fn arch_dir(&self, a: &ArchPackages) -> Result<PathBuf, BuildError> {
        let dir = self.work.path().join(a.arch.apk_name());
        fs_err::create_dir_all(&dir).map_err(BuildError::io(dir.display()))?;
        Ok(dir)
    }
}

/// The keys of a build that configures none: a lockfile's (as `apko lock` recorded them,
/// discovered ones included), else those discovery finds for its repositories.
fn unconfigured_keys(
    req: &BuildRequest,
    plan: &Plan,
    repos: &mut Repositories,
    reporter: &Arc<dyn Reporter>,
) -> Result<Vec<DiscoveredKey>, BuildError> {
    if let Some(lock) = &req.lock {
        for k in lock
            .contents
            .keyring
            .iter()
            .filter(|k| !k.content.is_empty())
        {
            let name = apko_apk::repositories::key_file_name(&k.url);
            repos
                .add_key_pem(&name, k.content.as_bytes())
                .map_err(|e| BuildError::Key {
                    key: redact(&k.url),
                    source: Box::new(e),
                })?;
        }
        return Ok(Vec::new());
    }
    let sink = reporter.clone();
    let warn = move |m: &str| sink.warn(m);
    let archs: Vec<&str> = plan.archs.iter().map(|a| a.apk_name()).collect();
    let located: Vec<RepositoryUrl> = plan
        .build_repos
        .iter()
        .map(|r| repos.locate_repository(r))
        .collect();
    let keys = Discovery {
        fetcher: repos.fetcher(),
        alpine_releases: &req.alpine_releases_url,
        warn: &warn,
    }
    .discover(&located, &archs);
    for k in &keys {
        repos
            .add_key_pem(&k.name, &k.pem)
            .map_err(|e| BuildError::Key {
                key: redact(&k.url),
                source: Box::new(e),
            })?;
    }
    Ok(keys)
}

/// The repositories of a request: its fetcher (transport, cache, offline; uncached
/// downloads spooled in the work directory), trust policy, limits and base directory;
/// warnings go to the reporter.
fn repositories(req: &BuildRequest, reporter: &Arc<dyn Reporter>, work: &Path) -> Repositories {
    #[cfg(feature = "http")]
    let f = Fetcher::new(Arc::new(
        apko_apk::source::HttpTransport::with_timeout(
            &req.user_agent,
            req.max_http_response_size,
            req.http_timeout,
        )
        .with_credentials(req.http_credentials.clone()),
    ));
    #[cfg(not(feature = "http"))]
    let f = Fetcher::local();
    let mut f = f
        .with_offline(req.offline)
        .with_jobs(req.jobs.max(1) * 2)
        .with_spool_dir(work);
    if let Some(dir) = &req.cache_dir {
        f = f.with_cache(Cache::new(dir));
    }
    let trust = if req.ignore_signatures {
        IndexTrust::AllowUntrusted
    } else {
        IndexTrust::Require(SignaturePolicy::AnyValid)
    };
    let sink = reporter.clone();
    let expanded = req
        .build_cache_dir()
        .map(|d| apko_apk::package::ExpandedCache::new(d.join("expanded")));
    Repositories::new(f, trust, req.limits, req.base_dir.clone())
        .with_expanded_cache(expanded)
        .with_fallback_dir(
            req.config
                .sources
                .first()
                .and_then(|src| src.path.parent())
                .map(Path::to_owned),
        )
        .with_warnings(Arc::new(move |msg| sink.warn(msg)))
}
