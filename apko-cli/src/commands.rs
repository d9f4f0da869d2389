//! Each command maps its arguments to one `apko_build` call.

use crate::args::{Cli, Command, Common, ImageOpts};
use crate::cleanup;
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
            if local {
                return Err(CliError::usage(
                    "--local: loading into a docker daemon is not supported by apko-rs",
                    Some("build a tarball with `apko build` and `docker load < it`"),
                ));
            }
            let tags = tags
                .iter()
                .map(|t| parse_reference(t))
                .collect::<Result<Vec<_>, _>>()?;
            let req = image_request(&config, &tags[0].to_string(), &image, &common)?;
            publish(
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
        } => {
            let arch = match build_arch {
                Some(a) => a
                    .parse::<Arch>()
                    .map_err(|e| CliError::usage(e.to_string(), None))?,
                None => Arch::host().ok_or_else(|| {
                    CliError::usage(
                        "this machine's architecture is not one apko knows",
                        Some("pass --build-arch"),
                    )
                })?,
            };
            let mut req = request(&config, "apko.local/minirootfs:latest", &common)?;
            let work = work_dir(&mut req)?;
            cleanup::output(&output);
            Builder::new(req)
                .with_reporter(reporter())
                .build_minirootfs(arch, &output)?;
            cleanup::commit();
            finish_work_dir(work);
            Ok(())
        }
        Command::ShowPackages {
            config,
            format,
            common,
        } => {
            let req = request(&config, "apko.local/show:latest", &common)?;
            let archs = Builder::new(req).with_reporter(reporter()).resolve()?;
            let several = archs.len() > 1;
            for a in archs {
                if several {
                    println!("# {}", a.arch.apk_name());
                }
                for p in a.packages {
                    println!("{}", format_package(&format, &p.name, &p.version, &p.url));
                }
            }
            Ok(())
        }
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
        Command::Completion { shell, .. } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "apko", &mut std::io::stdout());
            Ok(())
        }
        Command::Version => {
            println!("apko-rs {}", env!("CARGO_PKG_VERSION"));
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
    match image.format.as_str() {
        "tar" => {}
        "erofs" => {
            return Err(CliError::usage(
                "--format erofs: the erofs layer format is not supported by apko-rs yet",
                Some("use the default `--format tar`"),
            ));
        }
        other => {
            return Err(CliError::usage(
                format!("--format `{other}`: expected `tar` or `erofs`"),
                None,
            ));
        }
    }
    if let Some(f) = image.sbom_formats.iter().find(|f| f.as_str() != "spdx") {
        tracing::warn!("SBOM format `{f}` is not supported; writing SPDX only");
    }
    let mut req = request(config, tag, common)?;
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
    req.annotations = parse_annotations(&image.annotations)?;
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

fn publish(
    mut req: BuildRequest,
    tags: &[Reference],
    sbom_path: Option<&Path>,
    image_refs: Option<&Path>,
    insecure: &[String],
) -> Result<(), CliError> {
    let jobs = req.jobs;
    let sbom = req.sbom;
    let user_agent = req.user_agent.clone();
    let work = work_dir(&mut req)?;
    let out = Builder::new(req).with_reporter(reporter()).build()?;
    log_timings(&out);
    let client = apko_build::deps::apko_oci::registry::RegistryClient::new(&user_agent)
        .with_credentials(crate::creds::DockerCredentials::load())
        .with_insecure(insecure);
    let published = out.publish(&client, tags, jobs)?;
    if sbom && let Some(dir) = sbom_path {
        out.write_sboms(dir)?;
    }
    if let Some(path) = image_refs {
        let mut text = String::new();
        for r in published.images.iter().chain([&published.index]) {
            text.push_str(r);
            text.push('\n');
        }
        write_atomically(path, text.as_bytes())?;
    }
    println!("{}", published.index);
    drop(out);
    finish_work_dir(work);
    Ok(())
}

/// Writes a small output file atomically (temporary file, rename), as every output is.
fn write_atomically(path: &Path, data: &[u8]) -> Result<(), CliError> {
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

fn log_timings(out: &apko_build::BuildOutput) {
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

fn reporter() -> Arc<dyn Reporter> {
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
    if let Some(url) = std::env::var("APKO_ALPINE_RELEASES_URL").ok().filter(|u| !u.is_empty()) {
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
    if common.compression_level > 9 {
        return Err(CliError::usage(
            "--compression-level must be between 0 and 9",
            None,
        ));
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
    if sbom {
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
        sboms = out.write_sboms(&dir)?;
        cleanup::uncommitted(&sboms);
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
fn work_dir(req: &mut BuildRequest) -> Result<tempfile::TempDir, CliError> {
    let work = tempfile::Builder::new()
        .prefix("apko-build-")
        .tempdir()
        .map_err(|e| CliError::usage(format!("cannot create a temporary directory: {e}"), None))?;
    cleanup::dir(work.path());
    req.work_dir = Some(work.path().to_owned());
    Ok(work)
}

fn finish_work_dir(work: tempfile::TempDir) {
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

/// Parses an RFC 3339 time (`2024-01-02T03:04:05Z`, fractions and offsets allowed) into
/// seconds since the epoch.
pub(crate) fn parse_rfc3339(s: &str) -> Result<i64, CliError> {
    let bad = || {
        CliError::usage(
            format!("--build-date `{s}` is not an RFC 3339 time"),
            Some("write it like 2024-01-02T03:04:05Z"),
        )
    };
    let b = s.as_bytes();
    if !s.is_ascii()
        || b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num =
        |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        r if r.len() == 6 && (r.starts_with('+') || r.starts_with('-')) && &r[3..4] == ":" => {
            let sign = if r.starts_with('-') { -1 } else { 1 };
            let hours: i64 = r[1..3].parse().map_err(|_| bad())?;
            let minutes: i64 = r[4..6].parse().map_err(|_| bad())?;
            if hours > 23 || minutes > 59 {
                return Err(bad());
            }
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return Err(bad()),
    };
    // Days from civil (Howard Hinnant).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    // A leap second or an offset can carry the time past 9999-12-31 or before year 0.
    if !apko_build::deps::apko_oci::rfc3339_representable(secs) {
        return Err(CliError::usage(
            format!("--build-date `{s}` is outside the years 0000–9999"),
            Some("write it like 2024-01-02T03:04:05Z"),
        ));
    }
    Ok(secs)
}

fn format_package(format: &str, name: &str, version: &str, source: &str) -> String {
    match format {
        "name-version" => format!("{name}-{version}"),
        "name-version-source" => format!("{name}-{version} {source}"),
        "name=version" => format!("{name}={version}"),
        "name=version-source" => format!("{name}={version} {source}"),
        "name-(version)" => format!("{name} ({version})"),
        "name-(version)-source" => format!("{name} ({version}) {source}"),
        "packagelock" => format!("- {name}={version}"),
        "packagelock-source" => format!("- {name}={version} # {source}"),
        template => template
            .replace("{{.Name}}", name)
            .replace("{{.Version}}", version)
            .replace("{{.Source}}", source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.5+01:00").unwrap(),
            1_700_000_000
        );
        assert!(parse_rfc3339("yesterday").is_err());
        assert!(parse_rfc3339("2023-13-14T22:13:20Z").is_err());
        assert!(parse_rfc3339("2024-01-02T03:04:05+0\u{e9}00").is_err());
        assert!(parse_rfc3339("2023-02-29T00:00:00Z").is_err());
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z").unwrap(),
            1_709_164_800
        );
    }

    #[test]
    fn annotations() {
        let a = parse_annotations(&["org.opencontainers.image.title:hello".into()]).unwrap();
        assert_eq!(a["org.opencontainers.image.title"], "hello");
        assert!(parse_annotations(&["Bad:x".into()]).is_err());
        assert!(parse_annotations(&["a:x".into(), "a:y".into()]).is_err());
        assert!(parse_annotations(&["a:".into()]).is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_package("name=version", "a", "1", "s"), "a=1");
        assert_eq!(
            format_package("{{.Name}} {{.Version}}", "a", "1", "s"),
            "a 1"
        );
    }
}
