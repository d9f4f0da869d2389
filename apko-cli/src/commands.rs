//! Each command maps its arguments to one `apko_build` call.

use crate::args::{Cli, Command, Common, ImageOpts};
use crate::cleanup;
use crate::date::parse_rfc3339;
use crate::progress::{Bars, LogWarnings};
use crate::render::CliError;
use apko_build::deps::apko_config::{self, Arch, LoadedConfig};
use apko_build::deps::apko_oci::Reference;
use apko_build::{BuildError, BuildRequest, Builder, Reporter, SourceDateEpoch};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) fn run(mut cli: Cli) -> Result<(), CliError> {
    cli.command.split_lists()?;
    if let Some(dir) = &cli.workdir {
        std::env::set_current_dir(dir).map_err(|e| {
            CliError::usage(
                format!("cannot change to directory `{}`: {e}", dir.display()),
                None,
            )
        })?;
    }
    match cli.command {
        Command::Build {
            config,
            tag,
            output,
            image,
            common,
        } => {
            let req = image_request(&config, &tag, &image, &common)?;
            build(req, &output, image.sbom_path.as_deref())
        }
        Command::Publish {
            config,
            tags,
            image_refs,
            local,
            insecure_registry,
            image,
            common,
        } => {
            let tags = tags
                .iter()
                .map(|t| parse_reference(t))
                .collect::<Result<Vec<_>, _>>()?;
            let req = image_request(&config, &tags[0].to_string(), &image, &common)?;
            if local {
                return crate::publish::publish_local(req, &tags);
            }
            crate::publish::publish(
                req,
                &tags,
                image.sbom_path.as_deref(),
                image_refs.as_deref(),
                &insecure_registry,
            )
        }
        Command::Lock {
            config,
            output,
            common,
        } => lock(&config, output, &common, "lock.json"),
        Command::Resolve {
            config,
            output,
            common,
        } => {
            tracing::warn!("`apko resolve` is deprecated; use `apko lock`");
            lock(&config, output, &common, "resolved.json")
        }
        Command::BuildMinirootfs {
            config,
            output,
            build_arch,
            common,
            sbom_path: _,
        } => rootfs_archive(&config, &output, build_arch.as_deref(), &common, false),
        Command::BuildCpio {
            config,
            output,
            build_arch,
            common,
        } => rootfs_archive(&config, &output, build_arch.as_deref(), &common, true),
        Command::ShowPackages {
            config,
            format,
            common,
        } => {
            // A bad template is refused before anything is fetched.
            crate::show::Template::parse(crate::show::template_text(&format))?;
            let req = request(&config, "apko.local/show:latest", &common)?;
            crate::show::show_packages(req, &format, reporter())
        }
        Command::Dot {
            config,
            spanning_tree,
            web,
            registry_explorer: _,
            common,
        } => {
            let req = request(&config, "apko.local/dot:latest", &common)?;
            let name = config.to_string_lossy();
            crate::dot::dot(req, &name, spanning_tree, web, reporter())
        }
        Command::Clean { cache_dir, dry_run } => crate::clean::clean(cache_dir.as_deref(), dry_run),
        Command::Login {
            server,
            username,
            password,
            password_stdin,
        } => crate::login::login(
            &server,
            username.as_deref(),
            password.as_deref(),
            password_stdin,
        ),
        Command::ShowConfig { config, common } => {
            let loaded = load(&config, &common)?;
            let mut c = loaded.config.clone();
            let redact = apko_build::deps::apko_apk::source::redact;
            for list in [
                &mut c.contents.repositories,
                &mut c.contents.build_repositories,
                &mut c.contents.runtime_repositories,
                &mut c.contents.keyring,
            ] {
                for r in list.iter_mut() {
                    *r = redact(r);
                }
            }
            let yaml = serde_saphyr::to_string(&c).map_err(|e| {
                CliError::usage(format!("cannot render the configuration: {e}"), None)
            })?;
            print!("{yaml}");
            Ok(())
        }
        Command::Verify {
            config,
            image,
            tag,
            opts,
            common,
        } => {
            if opts.lockfile.is_none() {
                return Err(CliError::usage(
                    "apko verify needs --lockfile",
                    Some("pass the lockfile the image was built from (`apko lock` writes one)"),
                ));
            }
            let mut req = image_request(&config, &tag, &opts, &common)?;
            req.sbom = false;
            crate::verify::verify(req, &image)
        }
        Command::Sbom {
            image,
            sbom_path,
            sbom_formats,
            reference,
        } => {
            let formats = crate::slices::split("--sbom-formats", &sbom_formats)?
                .iter()
                .map(|f| f.parse::<apko_build::SbomFormat>())
                .collect::<Result<std::collections::BTreeSet<_>, _>>()
                .map_err(|e| {
                    CliError::usage(e.to_string(), Some("use `spdx`, `cyclonedx` or both"))
                })?;
            let reference = parse_reference(&reference)?;
            let dir = sbom_path.unwrap_or_else(|| PathBuf::from("."));
            let work = tempfile::Builder::new()
                .prefix("apko-sbom-")
                .tempdir()
                .map_err(|e| {
                    CliError::usage(format!("cannot create a temporary directory: {e}"), None)
                })?;
            cleanup::dir(work.path());
            let image = apko_build::local_or_pulled(
                &image.to_string_lossy(),
                &registry_client(),
                work.path(),
                false,
            )?;
            let files = apko_build::image_sboms(&image, &reference, &formats, work.path())?;
            for (name, bytes) in files {
                let path = dir.join(&name);
                write_atomically(&path, &bytes)?;
                println!("{}", path.display());
            }
            finish_work_dir(work);
            Ok(())
        }
        Command::Erofs {
            command: crate::args::ErofsCommand::Ls { image },
        } => {
            use apko_build::deps::apko_fs::erofs::{format_ls, list_erofs};
            let mut f =
                fs_err::File::open(&image).map_err(|e| CliError::usage(e.to_string(), None))?;
            let listing = list_erofs(&mut f).map_err(|e| {
                CliError::usage(
                    format!("`{}` is not a readable EROFS image: {e}", image.display()),
                    Some("give a raw EROFS image, such as the layer blob of an image built with --format erofs"),
                )
            })?;
            print!("{}", format_ls(&listing.entries));
            Ok(())
        }
        Command::Completion {
            shell,
            no_descriptions,
        } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            if no_descriptions {
                cmd = crate::args::without_descriptions(cmd);
            }
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "apko", &mut script);
            match std::io::Write::write_all(&mut std::io::stdout().lock(), &script) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::usage(
                    format!("cannot write to stdout: {e}"),
                    None,
                )),
                _ => Ok(()),
            }
        }
        Command::VerifyAttestation {
            image,
            key,
            attestations,
            kind,
        } => crate::verify_attestation::verify_attestation(
            &image,
            &key,
            attestations.as_deref(),
            kind.as_deref(),
        ),
        Command::Version { json } => {
            let text = if json {
                crate::version::json()
            } else {
                crate::version::text()
            };
            print!("{text}");
            Ok(())
        }
    }
}

/// The build request of `build` and `publish`: the common flags plus the image options.
fn image_request(
    config: &Path,
    tag: &str,
    image: &ImageOpts,
    common: &Common,
) -> Result<BuildRequest, CliError> {
    use apko_build::deps::apko_config::ImageFormat;
    let format = match image.format.as_deref() {
        None => None,
        Some("tar") => Some(ImageFormat::Tar),
        Some("erofs") => Some(ImageFormat::Erofs),
        Some(other) => {
            return Err(CliError::usage(
                format!("--format `{other}`: expected `tar` or `erofs`"),
                None,
            ));
        }
    };
    // Unlike apko, which ignores names it does not know, an unknown format is an error.
    let sbom_formats = image
        .sbom_formats
        .iter()
        .map(|f| f.parse::<apko_build::SbomFormat>())
        .collect::<Result<std::collections::BTreeSet<_>, _>>()
        .map_err(|e| {
            CliError::usage(
                format!("--sbom-formats: {e}"),
                Some("name one or both, separated by commas: `--sbom-formats spdx,cyclonedx`"),
            )
        })?;
    let mut req = request(config, tag, common)?;
    req.format = format;
    if let Some(path) = &image.lockfile {
        let name = path.display().to_string();
        let lock = apko_build::Lock::read(path).map_err(BuildError::from)?;
        if !lock
            .check_config(&req.config, &name)
            .map_err(BuildError::from)?
        {
            tracing::warn!(
                "lockfile {name} does not record its configuration's checksum; not checked"
            );
        }
        req.lock = Some(lock);
    }
    req.sbom = image.sbom;
    req.sbom_formats = sbom_formats;
    if let Some(path) = &image.sign_key {
        req.signing_key = Some(apko_build::read_signing_key(path)?);
    }
    req.provenance = image.provenance.unwrap_or(image.sign_key.is_some());
    req.annotations = parse_annotations(&image.annotations)?;
    // `--vcs`: as apko, only when the configuration has no `vcs-url`; failures only logged.
    if image.vcs
        && req
            .config
            .config
            .vcs_url
            .as_deref()
            .is_none_or(str::is_empty)
    {
        match apko_build::probe_vcs_url(config, &req.base_dir) {
            Ok(url) => {
                tracing::debug!("detected {url} as VCS URL");
                req.config.config.vcs_url = Some(url);
            }
            Err(e) => tracing::debug!("failed to probe VCS URL: {e}"),
        }
    }
    Ok(req)
}

fn lock(
    config: &Path,
    output: Option<PathBuf>,
    common: &Common,
    extension: &str,
) -> Result<(), CliError> {
    let output = output.unwrap_or_else(|| config.with_extension(extension));
    let req = request(config, "apko.local/lock:latest", common)?;
    let lock = Builder::new(req).with_reporter(reporter()).lock()?;
    write_atomically(&output, &lock.to_json())?;
    if std::io::stderr().is_terminal() {
        eprintln!("wrote {}", output.display());
    }
    Ok(())
}

/// `build-minirootfs` (a tar) and `build-cpio` (a newc archive): one architecture's tree.
fn rootfs_archive(
    config: &Path,
    output: &Path,
    build_arch: Option<&str>,
    common: &Common,
    cpio: bool,
) -> Result<(), CliError> {
    let arch = build_arch_or_host(build_arch)?;
    let tag = if cpio {
        "apko.local/cpio:latest"
    } else {
        "apko.local/minirootfs:latest"
    };
    let mut req = request(config, tag, common)?;
    let work = work_dir(&mut req)?;
    cleanup::output(output);
    let builder = Builder::new(req).with_reporter(reporter());
    if cpio {
        builder.build_cpio(arch, output)?;
    } else {
        builder.build_minirootfs(arch, output)?;
    }
    cleanup::commit();
    finish_work_dir(work);
    Ok(())
}

/// `--build-arch`, else this machine's architecture.
pub(crate) fn build_arch_or_host(build_arch: Option<&str>) -> Result<Arch, CliError> {
    match build_arch {
        Some(a) => a
            .parse::<Arch>()
            .map_err(|e| CliError::usage(e.to_string(), None)),
        None => Arch::host().ok_or_else(|| {
            CliError::usage(
                "this machine's architecture is not one apko knows",
                Some("pass --build-arch"),
            )
        }),
    }
}

/// Writes a small output file atomically (temporary file, rename), as every output is.
pub(crate) fn write_atomically(path: &Path, data: &[u8]) -> Result<(), CliError> {
    apko_build::deps::apko_oci::write_atomically(path, |mut f| {
        std::io::Write::write_all(&mut f, data).map_err(|source| {
            apko_build::deps::apko_oci::OutputError::Io {
                path: path.to_owned(),
                source,
            }
        })
    })
    .map_err(|e| CliError::Build(e.into()))
}

pub(crate) fn log_timings(out: &apko_build::BuildOutput) {
    for t in &out.timings {
        let sep = if t.arch.is_empty() { "" } else { " " };
        let note = if t.phase == apko_build::Phase::Fetch {
            " (summed over parallel downloads)"
        } else {
            ""
        };
        tracing::info!(
            "{}{sep}{}: {:.1} ms{note}",
            t.arch,
            t.phase.name(),
            t.duration.as_secs_f64() * 1e3
        );
    }
}

/// A registry client for reading images (`sbom`, `verify`, `verify-attestation`): docker's
/// credentials; local registries over plain http.
pub(crate) fn registry_client() -> apko_build::deps::apko_oci::registry::RegistryClient {
    apko_build::deps::apko_oci::registry::RegistryClient::new(concat!(
        "apko-rs/",
        env!("CARGO_PKG_VERSION")
    ))
    .with_credentials(crate::creds::DockerCredentials::load())
}

pub(crate) fn reporter() -> Arc<dyn Reporter> {
    if std::io::stderr().is_terminal() {
        Arc::new(Bars::new())
    } else {
        Arc::new(LogWarnings)
    }
}

fn parse_reference(tag: &str) -> Result<Reference, CliError> {
    tag.parse()
        .map_err(|e: apko_build::deps::apko_oci::ParseReferenceError| {
            CliError::usage(
                e.to_string(),
                Some("use a reference like `registry.example/repo/image:tag`"),
            )
        })
}

fn load(config: &Path, common: &Common) -> Result<LoadedConfig, CliError> {
    apko_config::load(config, &common.include_paths)
        .map_err(|e| CliError::Build(BuildError::Config(e)))
}

fn request(config: &Path, tag: &str, common: &Common) -> Result<BuildRequest, CliError> {
    let loaded = load(config, common)?;
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::usage(format!("cannot read the current directory: {e}"), None))?;
    let mut req = BuildRequest::new(loaded, cwd, parse_reference(tag)?);
    req.archs = parse_archs(&common.arch)?;
    req.build_date = common
        .build_date
        .as_deref()
        .map(parse_rfc3339)
        .transpose()?;
    let sde = std::env::var("SOURCE_DATE_EPOCH").ok();
    req.source_date_epoch = SourceDateEpoch::parse(sde.as_deref()).map_err(|m| {
        CliError::usage(m, Some("unset SOURCE_DATE_EPOCH or set it to an integer such as `0` or `$(git log -1 --format=%ct)`"))
    })?;
    req.extra_keyring.clone_from(&common.keyring_append);
    req.extra_repositories.clone_from(&common.repository_append);
    req.extra_build_repositories
        .clone_from(&common.build_repository_append);
    req.extra_packages.clone_from(&common.package_append);
    req.cache_dir = match &common.cache_dir {
        Some(d) if !d.as_os_str().is_empty() => Some(absolute(&req.base_dir, d)),
        _ => {
            let dir = crate::cachedir::default_cache_dir();
            if dir.is_none() {
                tracing::warn!(
                    "cache disabled: no --cache-dir, and neither XDG_CACHE_HOME nor HOME is set"
                );
            }
            dir
        }
    };
    req.offline = common.offline;
    req.build_cache = !common.no_build_cache;
    req.ignore_signatures = common.ignore_signatures;
    if let Some(auth) = std::env::var("HTTP_AUTH").ok().filter(|a| !a.is_empty()) {
        let creds = auth.parse().map_err(|why: &str| {
            CliError::usage(
                format!("HTTP_AUTH: {why}"),
                Some("set HTTP_AUTH=basic:HOST:USER:PASSWORD (the value is never printed)"),
            )
        })?;
        req.http_credentials = vec![creds];
    }
    if let Some(url) = std::env::var("APKO_ALPINE_RELEASES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        req.alpine_releases_url = url;
    }
    req.jobs = match common.jobs {
        Some(j) if j == 0 || j > apko_build::MAX_JOBS => {
            return Err(CliError::usage(
                format!(
                    "--jobs {j}: expected 1 to {} parallel jobs",
                    apko_build::MAX_JOBS
                ),
                None,
            ));
        }
        Some(j) => j,
        None => std::thread::available_parallelism()
            .map_or(2, usize::from)
            .min(apko_build::MAX_JOBS),
    };
    req.compression = match common.compression.as_deref() {
        Some("zstd") => Some(apko_build::deps::apko_config::LayerCompression::Zstd),
        Some(_) => Some(apko_build::deps::apko_config::LayerCompression::Gzip),
        None => None,
    };
    let zstd = req
        .compression
        .or(req.config.config.compression)
        .is_some_and(|c| c == apko_build::deps::apko_config::LayerCompression::Zstd);
    match common.compression_level {
        Some(l) if zstd && !(1..=19).contains(&l) => {
            return Err(CliError::usage(
                "--compression-level must be between 1 and 19 for zstd",
                None,
            ));
        }
        Some(l) if !zstd && l > 9 => {
            return Err(CliError::usage(
                "--compression-level must be between 0 and 9 for gzip",
                Some("zstd levels go up to 19: add --compression zstd"),
            ));
        }
        _ => {}
    }
    req.compression_level = common.compression_level;
    let limit = |flag: &str, v: i64, default: u64| -> Result<u64, CliError> {
        match v {
            0 => Ok(default),
            -1 => Ok(u64::MAX),
            v if v > 0 => Ok(v.unsigned_abs()),
            _ => Err(CliError::usage(
                format!("--{flag} must be a size in bytes, 0 (default) or -1 (unlimited)"),
                None,
            )),
        }
    };
    let defaults = apko_build::deps::apko_apk::package::Limits::default();
    req.limits.max_index_size = limit(
        "max-apkindex-decompressed-size",
        common.max_apkindex_decompressed_size,
        defaults.max_index_size,
    )?;
    req.limits.max_control_size = limit(
        "max-apk-control-size",
        common.max_apk_control_size,
        defaults.max_control_size,
    )?;
    req.limits.max_data_size = limit(
        "max-apk-data-size",
        common.max_apk_data_size,
        defaults.max_data_size,
    )?;
    req.http_timeout =
        (common.http_timeout > 0).then(|| std::time::Duration::from_secs(common.http_timeout));
    req.max_http_response_size = limit(
        "max-http-response-size",
        common.max_http_response_size,
        req.max_http_response_size,
    )?;
    Ok(req)
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    }
}

fn build(mut req: BuildRequest, output: &Path, sbom_path: Option<&Path>) -> Result<(), CliError> {
    let sbom = req.sbom;
    let work = work_dir(&mut req)?;
    let out = Builder::new(req).with_reporter(reporter()).build()?;
    log_timings(&out);
    let layout = output.is_dir();
    cleanup::output(output);
    // Both or neither: SBOMs are written first and removed again if the image cannot be
    // written afterwards (or the command is interrupted before it is).
    let mut sboms = Vec::new();
    if sbom || !out.attestations.is_empty() {
        let dir = match sbom_path {
            Some(p) => p.to_owned(),
            None if layout => output.to_owned(),
            None => output
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_owned(),
        };
        cleanup::temp_prefix(&dir, ".sbom-");
        cleanup::temp_prefix(&dir, ".provenance.");
        if sbom {
            sboms = out.write_sboms(&dir)?;
        }
        cleanup::uncommitted(&sboms);
        let attestations = out.write_attestations(&dir)?;
        cleanup::uncommitted(&attestations);
        sboms.extend(attestations);
    }
    let written = if layout {
        out.write_layout(output)
    } else {
        out.write_tarball(output)
    };
    if let Err(e) = written {
        for f in &sboms {
            let _ = fs_err::remove_file(f);
        }
        return Err(e.into());
    }
    cleanup::commit();
    if std::io::stderr().is_terminal() {
        eprintln!("wrote {} (index {})", output.display(), out.index_digest());
    }
    drop(out);
    finish_work_dir(work);
    Ok(())
}

/// The build's work directory, made here (not by the library) so that an interrupted
/// command can remove it.
pub(crate) fn work_dir(req: &mut BuildRequest) -> Result<tempfile::TempDir, CliError> {
    let work = tempfile::Builder::new()
        .prefix("apko-build-")
        .tempdir()
        .map_err(|e| CliError::usage(format!("cannot create a temporary directory: {e}"), None))?;
    cleanup::dir(work.path());
    req.work_dir = Some(work.path().to_owned());
    Ok(work)
}

pub(crate) fn finish_work_dir(work: tempfile::TempDir) {
    let path = work.path().to_owned();
    drop(work);
    cleanup::forget_dir(&path);
}

fn parse_archs(list: &[String]) -> Result<Option<Vec<Arch>>, CliError> {
    if list.is_empty() {
        return Ok(None);
    }
    if list.len() == 1 && list[0] == "all" {
        return Ok(Some(Arch::ALL.to_vec()));
    }
    let mut out = Vec::new();
    for a in list {
        let arch = if a == "host" {
            Arch::host().ok_or_else(|| {
                CliError::usage("this machine's architecture is not one apko knows", None)
            })?
        } else {
            a.parse::<Arch>()
                .map_err(|e| CliError::usage(format!("--arch: {e}"), None))?
        };
        out.push(arch);
    }
    Ok(Some(out))
}

fn parse_annotations(list: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    let mut out = BTreeMap::new();
    for a in list {
        let Some((k, v)) = a.split_once(':') else {
            return Err(CliError::usage(
                format!("--annotations `{a}`: expected `key:value`"),
                None,
            ));
        };
        if k.is_empty()
            || !k
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        {
            return Err(CliError::usage(
                format!("--annotations `{a}`: keys are lower-case letters, digits, `-` and `.`"),
                None,
            ));
        }
        if v.is_empty() {
            return Err(CliError::usage(
                format!("--annotations `{a}`: empty value"),
                None,
            ));
        }
        if out.insert(k.to_owned(), v.to_owned()).is_some() {
            return Err(CliError::usage(
                format!("--annotations: `{k}` given twice"),
                None,
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations() {
        let a = parse_annotations(&["org.opencontainers.image.title:hello".into()]).unwrap();
        assert_eq!(a["org.opencontainers.image.title"], "hello");
        assert!(parse_annotations(&["Bad:x".into()]).is_err());
        assert!(parse_annotations(&["a:x".into(), "a:y".into()]).is_err());
        assert!(parse_annotations(&["a:".into()]).is_err());
    }
}
