//! `apko publish`: push to a registry, or (`--local`) load into a local container engine.

use crate::commands::{
    build_arch_or_host, finish_work_dir, log_timings, reporter, work_dir, write_atomically,
};
use crate::render::CliError;
use apko_build::deps::apko_config::Arch;
use apko_build::deps::apko_oci::Reference;
use apko_build::{BuildRequest, Builder};
use std::path::Path;

/// Builds, pushes every image and the index to every tag, prints the index reference and what
/// was sent.
pub(crate) fn publish(
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
    let s = published.stats;
    crate::render::notice(&format!(
        "pushed {} blobs ({} bytes); {} already in the registry, {} mounted from another repository",
        s.uploaded, s.uploaded_bytes, s.present, s.mounted
    ));
    if sbom {
        let n = out.attach_sboms(&client, tags)?;
        crate::render::notice(&format!("attached {n} SBOMs as OCI referrers"));
    }
    if !out.attestations.is_empty() {
        let n = out.attach_attestations(&client, tags)?;
        crate::render::notice(&format!("attached {n} attestations as OCI referrers"));
    }
    if sbom && let Some(dir) = sbom_path {
        out.write_sboms(dir)?;
    }
    if let Some(dir) = sbom_path {
        out.write_attestations(dir)?;
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

/// `publish --local`: build, then load the image of `GOARCH` (else this machine's
/// architecture) into the engine on `DOCKER_HOST`, named by every tag; prints the first tag.
pub(crate) fn publish_local(mut req: BuildRequest, tags: &[Reference]) -> Result<(), CliError> {
    use apko_build::deps::apko_oci::engine::Engine;
    let arch = match std::env::var("GOARCH").ok().filter(|a| !a.is_empty()) {
        Some(a) => a.parse::<Arch>().map_err(|e| {
            CliError::usage(
                format!("GOARCH `{a}`: {e}"),
                Some("use a Go architecture name: amd64, arm64, arm, 386, ppc64le, riscv64, s390x"),
            )
        })?,
        None => build_arch_or_host(None)?,
    };
    let host = std::env::var("DOCKER_HOST").ok();
    let engine = Engine::from_docker_host(host.as_deref()).map_err(|e| {
        CliError::usage(
            e.to_string(),
            Some("set DOCKER_HOST=unix:///path/to/engine.sock"),
        )
    })?;
    // Refused before building when the engine is not there.
    engine
        .ping()
        .map_err(|e| CliError::from(apko_build::BuildError::Engine(e)))?;
    let work = work_dir(&mut req)?;
    let work_path = req
        .work_dir
        .clone()
        .unwrap_or_else(|| work.path().to_owned());
    let out = Builder::new(req).with_reporter(reporter()).build()?;
    log_timings(&out);
    let said = out.load_local(&engine, tags, arch, &work_path)?;
    if !said.is_empty() {
        tracing::info!("{said}");
    }
    println!("{}", tags[0]);
    drop(out);
    finish_work_dir(work);
    Ok(())
}
