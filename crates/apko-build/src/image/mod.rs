//! From a finished root filesystem to an OCI image: the layers are written
//! ([`write_layers`]), then config and manifest are assembled from them ([`assemble`],
//! pure: no I/O, no clock).

mod cache;
mod layering;
mod layers;
mod shell;

pub(crate) use cache::LayerCache;
pub use layers::Layer;
pub(crate) use layers::{LayerSettings, Sources, write_layers};

use crate::error::BuildError;
use crate::plan::annotations;
use crate::rootfs::Rootfs;
use apko_config::{Arch, ImageConfig};
use apko_oci::{
    Document, History, ImageConfig as OciConfig, MEDIA_TYPE_CONFIG, MEDIA_TYPE_MANIFEST, Manifest,
    Platform, RootFs, RunConfig, rfc3339, to_go_json,
};

/// The parts of one architecture's image.
#[derive(Debug, Clone)]
pub struct ArchImage {
    /// The architecture.
    pub arch: Arch,
    /// Installed packages in install order (with their identities).
    pub packages: Vec<apko_apk::info::PackageInfo>,
    /// The layers, bottom first (one unless `layering` is set).
    pub layers: Vec<Layer>,
    /// The config.
    pub config: Document,
    /// The manifest; its descriptor has the platform, for the index.
    pub manifest: Document,
    /// The build date of this image.
    pub created: i64,
    /// The SPDX document, serialised.
    pub sbom: Option<Vec<u8>>,
    /// The CycloneDX document, serialised.
    pub cyclonedx: Option<Vec<u8>>,
    /// What this image was installed from, for its provenance: the packages (fetched from
    /// where, with which checksums), in install order.
    pub materials: Vec<apko_sbom::provenance::PackageMaterial>,
    /// The manifest digest of the base image (`contents.baseimage`), if there is one.
    pub base_image: Option<apko_oci::Digest>,
}

/// Environment variables: the configured ones plus apko's defaults, as sorted `K=V`.
pub(crate) fn environment(c: &ImageConfig) -> Vec<String> {
    let mut env = c.environment.clone();
    env.entry("PATH".into())
        .or_insert_with(|| "/usr/local/sbin:/usr/local/bin:/usr/bin:/usr/sbin:/sbin:/bin".into());
    env.entry("SSL_CERT_FILE".into())
        .or_insert_with(|| "/etc/ssl/certs/ca-certificates.crt".into());
    let mut v: Vec<String> = env.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    v.sort();
    v
}
/// The image of `rootfs` with `layers`: config and manifest, as apko writes them.
pub(crate) fn assemble(
    rootfs: &Rootfs,
    layers: Vec<Layer>,
    c: &ImageConfig,
) -> Result<ArchImage, BuildError> {
    let created = rfc3339(rootfs.build_date);
    let annotations = annotations(c, &created);
    let comment = match (
        c.annotations.get("org.opencontainers.image.title"),
        c.annotations.get("org.opencontainers.image.vendor"),
    ) {
        (Some(t), Some(v)) => format!("{t} by {v}"),
        _ if layers.len() == 1 => "This is an apko single-layer image".to_owned(),
        _ => String::new(),
    };
    // On a base image: its layers (as they are) first, its history, its run-time settings
    // where the configuration sets none (apko appends to the base image).
    let base = rootfs.base.as_deref();
    let ours = layers.len();
    let layers: Vec<Layer> = base
        .into_iter()
        .flat_map(|b| b.layers.iter().map(Layer::from_base))
        .chain(layers)
        .collect();
    let command = |field: &'static str, text: &str| {
        shell::split(text).map_err(|message| BuildError::Command { field, message })
    };
    let entrypoint = match (&c.entrypoint.shell_fragment, &c.entrypoint.command) {
        (Some(f), _) if !f.is_empty() => vec!["/bin/sh".into(), "-c".into(), f.clone()],
        (_, Some(cmd)) => command("entrypoint.command", cmd)?,
        _ => Vec::new(),
    };
    let cmd = match &c.cmd {
        Some(cmd) => command("cmd", cmd)?,
        None => Vec::new(),
    };
    let (architecture, variant) = rootfs.arch.oci_platform();
    // An erofs image says so in its config and platform (as apko writes it).
    let os_features: Vec<String> = if c.format == Some(apko_config::ImageFormat::Erofs) {
        vec!["erofs".to_owned()]
    } else {
        Vec::new()
    };
    let config = OciConfig {
        architecture: architecture.to_owned(),
        author: "github.com/apko-rs/apko-rs".to_owned(),
        created: created.clone(),
        history: base
            .map(|b| b.history.clone())
            .unwrap_or_default()
            .into_iter()
            .chain((0..ours).map(|_| History {
                author: "apko".into(),
                created: created.clone(),
                created_by: "apko".into(),
                comment: comment.clone(),
            }))
            .collect(),
        os: "linux".into(),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: layers.iter().map(Layer::diff_id).collect(),
        },
        config: match base {
            None => RunConfig {
                cmd,
                entrypoint,
                env: environment(c),
                labels: annotations.clone(),
                user: rootfs.run_as.clone().unwrap_or_default(),
                volumes: c.volumes.iter().cloned().collect(),
                working_dir: c.work_dir.clone().unwrap_or_default(),
                stop_signal: c.stop_signal.clone().unwrap_or_default(),
            },
            Some(b) => {
                let mut run = b.run.clone();
                run.labels.extend(annotations.clone());
                if run.env.is_empty() {
                    run.env = environment(c);
                }
                run
            }
        },
        variant: variant.map(str::to_owned),
        os_features: os_features.clone(),
    };
    let config = Document::new(MEDIA_TYPE_CONFIG, to_go_json(&config));
    let manifest = Manifest {
        schema_version: 2,
        media_type: MEDIA_TYPE_MANIFEST.into(),
        config: config.descriptor.clone(),
        layers: layers.iter().map(Layer::descriptor).collect(),
        annotations,
    };
    let mut manifest = Document::new(MEDIA_TYPE_MANIFEST, to_go_json(&manifest));
    manifest.descriptor.platform = Some(Platform {
        architecture: architecture.to_owned(),
        os: "linux".into(),
        os_features,
        variant: variant.map(str::to_owned),
    });
    manifest.descriptor.artifact_type = Some(MEDIA_TYPE_CONFIG.into());
    Ok(ArchImage {
        arch: rootfs.arch,
        packages: rootfs.package_infos().cloned().collect(),
        layers,
        config,
        manifest,
        created: rootfs.build_date,
        sbom: None,
        cyclonedx: None,
        materials: rootfs
            .packages
            .iter()
            .map(|e| crate::attest::material(e, rootfs.arch))
            .collect(),
        base_image: base.map(|b| b.manifest_digest),
    })
}
