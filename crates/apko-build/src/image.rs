//! From a finished filesystem to an OCI image: layer, config, manifest, SBOM.

use crate::error::BuildError;
use crate::plan::annotations;
use apko_config::{Arch, ImageConfig};
use apko_fs::{FsTree, LayerBlob, LayerOptions, LayerPart, Owner, write_layer_part};
use apko_oci::{
    Descriptor, Digest, History, ImageConfig as OciConfig, MEDIA_TYPE_CONFIG,
    MEDIA_TYPE_LAYER_GZIP, MEDIA_TYPE_MANIFEST, Manifest, Platform, RootFs, RunConfig, rfc3339,
    to_go_json,
};
use std::path::{Path, PathBuf};

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

/// Splits a command line like a POSIX shell (quotes and backslashes; no expansion), as
/// apko's shlex does.
pub(crate) fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(format!("unterminated single quote in `{s}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => cur.push(x),
                            Some('\n') => {}
                            Some(x) => {
                                cur.push('\\');
                                cur.push(x);
                            }
                            None => return Err(format!("unterminated double quote in `{s}`")),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(format!("unterminated double quote in `{s}`")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(x) => cur.push(x),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// One layer of an image.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Its digests and sizes.
    pub blob: LayerBlob,
    /// Where the compressed layer is.
    pub path: PathBuf,
    /// The packages whose files it holds (empty for the top layer, which holds directories
    /// and what the builder wrote; and for single-layer images, which hold everything).
    pub packages: Vec<String>,
}

impl Layer {
    /// Its descriptor in a manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: MEDIA_TYPE_LAYER_GZIP.into(),
            size: self.blob.size(),
            digest: Digest::from_sha256(self.blob.digests.compressed_sha256),
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }
}

/// The parts of one architecture's image.
#[derive(Debug, Clone)]
pub struct ArchImage {
    /// The architecture.
    pub arch: Arch,
    /// Installed packages in install order (with their identities).
    pub packages: Vec<apko_apk::info::PackageInfo>,
    /// The layers, bottom first (one unless `layering` is set).
    pub layers: Vec<Layer>,
    /// Config descriptor and bytes.
    pub config: (Descriptor, Vec<u8>),
    /// Manifest descriptor (with platform) and bytes.
    pub manifest: (Descriptor, Vec<u8>),
    /// The build date of this image.
    pub created: i64,
    /// The SPDX document, serialised.
    pub sbom: Option<Vec<u8>>,
}

pub(crate) struct ImageInputs<'a> {
    pub(crate) arch: Arch,
    pub(crate) config: &'a ImageConfig,
    pub(crate) run_as: Option<String>,
    pub(crate) created: i64,
    pub(crate) threads: usize,
    pub(crate) level: u32,
    /// Package layers (`layering`): package indices (owners) per layer, the names, and the
    /// partial installed database each layer carries.
    pub(crate) groups: Vec<(Vec<usize>, Vec<String>, Vec<u8>)>,
}

/// Written layers with the config and manifest that describe them.
pub(crate) struct MadeImage {
    pub(crate) layers: Vec<Layer>,
    pub(crate) config: (Descriptor, Vec<u8>),
    pub(crate) manifest: (Descriptor, Vec<u8>),
}

/// Writes the layer into `dir` and makes config and manifest.
pub(crate) fn make_image(
    fs: &FsTree,
    ids: &crate::install::Ids,
    inputs: &ImageInputs<'_>,
    dir: &Path,
) -> Result<MadeImage, BuildError> {
    let opts = LayerOptions {
        compression_level: inputs.level,
        threads: inputs.threads,
        users: ids.user_names.clone(),
        groups: ids.group_names.clone(),
        ..LayerOptions::default()
    };
    let arch = inputs.arch.apk_name();
    let write = |name: &str, part: &LayerPart<'_>| -> Result<(LayerBlob, PathBuf), BuildError> {
        let path = dir.join(format!("layer-{arch}-{name}.tar.gz"));
        let file = fs_err::File::create(&path).map_err(|source| BuildError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let (blob, w) = write_layer_part(
            fs,
            &opts,
            std::io::BufWriter::with_capacity(1 << 20, file),
            part,
        )
        .map_err(BuildError::fs(format!("writing the {arch} layer")))?;
        drop(w);
        Ok((blob, path))
    };
    // The layer of each package (by owner index); `None`: the top layer.
    let mut layer_of: Vec<Option<usize>> = Vec::new();
    for (i, (group, _, _)) in inputs.groups.iter().enumerate() {
        for &o in group {
            if layer_of.len() <= o {
                layer_of.resize(o + 1, None);
            }
            layer_of[o] = Some(i);
        }
    }
    let layer = |id: apko_fs::NodeId| {
        fs.node(id)
            .owner
            .and_then(|Owner(o)| layer_of.get(o as usize).copied().flatten())
    };
    let mut layers = Vec::new();
    for (i, (_, names, db)) in inputs.groups.iter().enumerate() {
        let part = LayerPart {
            include: &|_: &str, id| layer(id) == Some(i),
            directories: false,
            replace: [("usr/lib/apk/db/installed".to_owned(), db.clone())].into(),
        };
        let (blob, path) = write(&i.to_string(), &part)?;
        layers.push(Layer {
            blob,
            path,
            packages: names.clone(),
        });
    }
    // The top layer: directories and everything no package layer holds.
    let rest = |_: &str, id: apko_fs::NodeId| layer(id).is_none();
    let (blob, path) = write(
        "top",
        &LayerPart {
            include: &rest,
            directories: true,
            replace: std::collections::BTreeMap::new(),
        },
    )?;
    layers.push(Layer {
        blob,
        path,
        packages: Vec::new(),
    });
    let c = inputs.config;
    let created = rfc3339(inputs.created);
    let annotations = annotations(c, &created);
    let comment = match (
        c.annotations.get("org.opencontainers.image.title"),
        c.annotations.get("org.opencontainers.image.vendor"),
    ) {
        (Some(t), Some(v)) => format!("{t} by {v}"),
        _ if layers.len() == 1 => "This is an apko single-layer image".to_owned(),
        _ => String::new(),
    };
    let entrypoint = match (&c.entrypoint.shell_fragment, &c.entrypoint.command) {
        (Some(f), _) if !f.is_empty() => vec!["/bin/sh".into(), "-c".into(), f.clone()],
        (_, Some(cmd)) => shell_split(cmd)
            .map_err(|e| BuildError::invalid(format!("entrypoint.command: {e}"), None))?,
        _ => Vec::new(),
    };
    let cmd = match &c.cmd {
        Some(cmd) => {
            shell_split(cmd).map_err(|e| BuildError::invalid(format!("cmd: {e}"), None))?
        }
        None => Vec::new(),
    };
    let (architecture, variant) = inputs.arch.oci_platform();
    let config = OciConfig {
        architecture: architecture.to_owned(),
        author: "github.com/apko-rs/apko-rs".to_owned(),
        created: created.clone(),
        history: layers
            .iter()
            .map(|_| History {
                author: "apko".into(),
                created: created.clone(),
                created_by: "apko".into(),
                comment: comment.clone(),
            })
            .collect(),
        os: "linux".into(),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: layers
                .iter()
                .map(|l| Digest::from_sha256(l.blob.digests.uncompressed_sha256))
                .collect(),
        },
        config: RunConfig {
            cmd,
            entrypoint,
            env: environment(c),
            labels: annotations.clone(),
            user: inputs.run_as.clone().unwrap_or_default(),
            volumes: c.volumes.iter().cloned().collect(),
            working_dir: c.work_dir.clone().unwrap_or_default(),
            stop_signal: c.stop_signal.clone().unwrap_or_default(),
        },
        variant: variant.map(str::to_owned),
        os_features: Vec::new(),
    };
    let config_json = to_go_json(&config);
    let config_desc = Descriptor::of(MEDIA_TYPE_CONFIG, &config_json);
    let manifest = Manifest {
        schema_version: 2,
        media_type: MEDIA_TYPE_MANIFEST.into(),
        config: config_desc.clone(),
        layers: layers.iter().map(Layer::descriptor).collect(),
        annotations,
    };
    let manifest_json = to_go_json(&manifest);
    let mut manifest_desc = Descriptor::of(MEDIA_TYPE_MANIFEST, &manifest_json);
    manifest_desc.platform = Some(Platform {
        architecture: architecture.to_owned(),
        os: "linux".into(),
        os_features: Vec::new(),
        variant: variant.map(str::to_owned),
    });
    manifest_desc.artifact_type = Some(MEDIA_TYPE_CONFIG.into());
    Ok(MadeImage {
        layers,
        config: (config_desc, config_json),
        manifest: (manifest_desc, manifest_json),
    })
}

/// `/etc/apko.json`: the configuration of this architecture's image, locked to the exact
/// packages installed.
pub(crate) fn locked_config(
    c: &ImageConfig,
    arch: Arch,
    packages: &[String],
    run_as: Option<&String>,
) -> Vec<u8> {
    let mut locked = c.clone();
    locked.contents.packages = packages.to_vec();
    // Credentials used to build are not shipped in the image.
    let strip = |list: &mut Vec<String>| {
        for u in list.iter_mut() {
            *u = apko_apk::source::strip_credentials(u);
        }
    };
    strip(&mut locked.contents.repositories);
    strip(&mut locked.contents.build_repositories);
    strip(&mut locked.contents.runtime_repositories);
    strip(&mut locked.contents.keyring);
    locked.archs = vec![arch];
    if let Some(r) = run_as {
        locked.accounts.run_as = Some(r.clone());
    }
    let mut out = to_go_json(&locked);
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words() {
        assert_eq!(shell_split("/bin/sh -l").unwrap(), ["/bin/sh", "-l"]);
        assert_eq!(
            shell_split(r#"nginx -g "daemon off;""#).unwrap(),
            ["nginx", "-g", "daemon off;"]
        );
        assert_eq!(shell_split(r"a\ b 'c d' e''").unwrap(), ["a b", "c d", "e"]);
        assert!(shell_split("'open").is_err());
        assert!(shell_split("").unwrap().is_empty());
    }
}
