//! The last stage, output: the index over the images (pure), then writing it as an OCI
//! layout, a docker tarball and SBOM files, or pushing it to a registry.

use crate::error::BuildError;
use crate::image::ArchImage;
use crate::plan::annotations;
use crate::request::SbomFormat;
use crate::session::{Pool, Timing};
use apko_oci::{
    Blob, Digest, ImageBlobs, Index, LayerRef, MEDIA_TYPE_INDEX, Reference, rfc3339, to_go_json,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A finished build: one image per architecture and the index over them, ready to be
/// written as an OCI layout or a docker tarball.
#[derive(Debug)]
pub struct BuildOutput {
    /// The images, sorted by architecture.
    pub images: Vec<ArchImage>,
    /// The index JSON.
    pub index_json: Vec<u8>,
    /// The index SPDX document, serialised.
    pub index_sbom: Option<Vec<u8>>,
    /// The index CycloneDX document, serialised.
    pub index_cyclonedx: Option<Vec<u8>>,
    /// Where the time went.
    pub timings: Vec<Timing>,
    /// The signed SBOMs and the provenance, when asked for (docs/sbom.md).
    pub attestations: Vec<crate::attest::Attestation>,
    reference: Reference,
}

/// What [`BuildOutput::publish`] pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// `registry/repository@sha256:…` of the index.
    pub index: String,
    /// The same for each architecture's image, in index order.
    pub images: Vec<String>,
    /// What was sent: blobs uploaded (and their bytes), already present, mounted.
    pub stats: apko_oci::registry::PushStats,
}

impl BuildOutput {
    /// The index over `images` (and its SBOMs in `sboms`).
    pub(crate) fn new(
        images: Vec<ArchImage>,
        config: &apko_config::ImageConfig,
        reference: Reference,
        sboms: &BTreeSet<SbomFormat>,
    ) -> BuildOutput {
        let created = images.iter().map(|i| i.created).max().unwrap_or(0);
        let index = Index {
            schema_version: 2,
            media_type: MEDIA_TYPE_INDEX.into(),
            manifests: images
                .iter()
                .map(|i| i.manifest.descriptor.clone())
                .collect(),
            annotations: annotations(config, &rfc3339(created)),
        };
        let index_json = to_go_json(&index);
        let index_sboms = crate::sbom::index(
            &index_json,
            &images,
            created,
            config.vcs_url.as_deref(),
            &reference,
            sboms,
        );
        BuildOutput {
            images,
            index_json,
            index_sbom: index_sboms.spdx,
            index_cyclonedx: index_sboms.cyclonedx,
            timings: Vec::new(),
            attestations: Vec::new(),
            reference,
        }
    }

    /// With the attestations `req` asks for (`provenance`, `signing_key`).
    pub(crate) fn with_attestations(mut self, req: &crate::request::BuildRequest) -> BuildOutput {
        self.attestations = crate::attest::attestations(&self, req);
        self
    }

    pub(crate) fn with_timings(mut self, timings: Vec<Timing>) -> BuildOutput {
        self.timings = timings;
        self
    }

    /// The digest of the index.
    pub fn index_digest(&self) -> Digest {
        Digest::of(&self.index_json)
    }

    /// The reference the images were built for.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    fn blobs(&self, tag: Option<&Reference>) -> Vec<ImageBlobs> {
        self.images
            .iter()
            .map(|i| {
                let (arch, variant) = i.arch.oci_platform();
                let suffix = match variant {
                    Some(v) => format!("{arch}-{v}"),
                    None => arch.to_owned(),
                };
                ImageBlobs {
                    manifest: i.manifest.clone(),
                    config: i.config.clone(),
                    layers: i
                        .layers
                        .iter()
                        .map(|l| LayerRef {
                            descriptor: l.descriptor(),
                            blob: Blob::File(l.path().to_owned()),
                        })
                        .collect(),
                    repo_tags: tag
                        .map(|t| vec![t.with_tag(&format!("{}-{suffix}", t.tag)).to_string()])
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    /// Writes an OCI image layout into `dir` (created if needed). With attestations,
    /// `index.json` also lists their referrer manifests (`subject`: the image), after the
    /// images.
    pub fn write_layout(&self, dir: &Path) -> Result<(), BuildError> {
        let referrers = crate::attest::referrers(self);
        if referrers.is_empty() {
            apko_oci::write_layout(dir, &self.index_json, &self.blobs(None))?;
            return Ok(());
        }
        let mut index: Index =
            serde_json::from_slice(&self.index_json).expect("the index reads back");
        let mut blobs = self.blobs(None);
        for (entry, artifact) in referrers {
            index.manifests.push(entry);
            blobs.push(artifact);
        }
        apko_oci::write_layout(dir, &to_go_json(&index), &blobs)?;
        Ok(())
    }

    /// Writes a `docker load`-able tarball at `path`, tagging each image `<tag>-<arch>`.
    pub fn write_tarball(&self, path: &Path) -> Result<(), BuildError> {
        apko_oci::write_docker_tarball(path, &self.index_json, &self.blobs(Some(&self.reference)))?;
        Ok(())
    }

    /// Loads the image of `arch` into a local container engine (`apko publish --local`), named
    /// by every one of `tags`; the docker tarball is written to `work` first. Returns what the
    /// engine reported.
    pub fn load_local(
        &self,
        engine: &apko_oci::engine::Engine,
        tags: &[Reference],
        arch: apko_config::Arch,
        work: &Path,
    ) -> Result<String, BuildError> {
        let Some(i) = self.images.iter().position(|i| i.arch == arch) else {
            return Err(BuildError::NoSuchArch {
                arch: arch.oci_name().to_owned(),
                have: self
                    .images
                    .iter()
                    .map(|i| i.arch.oci_name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let mut blobs = self.blobs(None).swap_remove(i);
        blobs.repo_tags = tags.iter().map(ToString::to_string).collect();
        let index = Index {
            schema_version: 2,
            media_type: MEDIA_TYPE_INDEX.into(),
            manifests: vec![blobs.manifest.descriptor.clone()],
            annotations: std::collections::BTreeMap::default(),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".apko-local-")
            .suffix(".tar")
            .tempfile_in(work)
            .map_err(BuildError::io(work.display()))?
            .into_temp_path();
        apko_oci::write_docker_tarball(&tmp, &to_go_json(&index), std::slice::from_ref(&blobs))?;
        engine.load(&tmp).map_err(BuildError::Engine)
    }

    /// Pushes the images and the index to a registry, as `apko publish` does: every image
    /// (blobs, then its manifest by digest) to each repository named in `tags`, then the index
    /// to every tag; images in parallel on `jobs` threads. Returns the index reference
    /// (`registry/repo@sha256:…`, for the first tag) and the image references.
    pub fn publish(
        &self,
        registry: &dyn apko_oci::registry::Registry,
        tags: &[Reference],
        jobs: usize,
    ) -> Result<Published, BuildError> {
        use apko_oci::registry::Repository;
        let Some(first) = tags.first() else {
            return Err(BuildError::NoTags);
        };
        let repository = |r: &Reference| Repository {
            registry: r.registry.clone(),
            name: r.repository.clone(),
        };
        let mut repos: Vec<Repository> = tags.iter().map(repository).collect();
        repos.sort();
        repos.dedup();
        let blobs = self.blobs(None);
        let err = |target: String| move |source| BuildError::Publish { target, source };
        let pool = Pool::new(jobs);
        let mut stats = apko_oci::registry::PushStats::default();
        for repo in &repos {
            // A blob another repository of the same registry has is mounted, not uploaded.
            for pushed in pool.map(&blobs, |img| registry.push_image(repo, img, &repos)) {
                stats.merge(pushed.map_err(err(repo.to_string()))?.1);
            }
        }
        for r in tags {
            registry
                .push_manifest(&repository(r), &r.tag, MEDIA_TYPE_INDEX, &self.index_json)
                .map_err(err(r.to_string()))?;
        }
        let at = |digest: &Digest| format!("{}/{}@{digest}", first.registry, first.repository);
        Ok(Published {
            index: at(&self.index_digest()),
            images: self
                .images
                .iter()
                .map(|i| at(&i.manifest.descriptor.digest))
                .collect(),
            stats,
        })
    }

    /// Attaches the SBOMs to what was published, as OCI 1.1 referrers (artifact manifests
    /// whose `subject` is the image, or the index, in every repository of `tags`; the referrers
    /// tag schema where the registry lacks the API). Returns how many were attached.
    pub fn attach_sboms(
        &self,
        registry: &dyn apko_oci::registry::Registry,
        tags: &[Reference],
    ) -> Result<usize, BuildError> {
        use apko_oci::registry::referrers::{Artifact, attach};
        let repos = repositories_of(tags);
        let created = self.images.iter().map(|i| i.created).max().unwrap_or(0);
        // (subject, name for titles, build date, [SPDX, CycloneDX]).
        type Subject<'a> = (apko_oci::Descriptor, String, i64, [Option<&'a Vec<u8>>; 2]);
        let mut subjects: Vec<Subject<'_>> = self
            .images
            .iter()
            .map(|i| {
                let mut d = i.manifest.descriptor.clone();
                d.platform = None;
                d.artifact_type = None;
                let docs = [i.sbom.as_ref(), i.cyclonedx.as_ref()];
                (d, i.arch.apk_name().to_owned(), i.created, docs)
            })
            .collect();
        subjects.push((
            apko_oci::Descriptor::of(MEDIA_TYPE_INDEX, &self.index_json),
            "index".to_owned(),
            created,
            [self.index_sbom.as_ref(), self.index_cyclonedx.as_ref()],
        ));
        let kinds = [
            ("application/spdx+json", "spdx.json"),
            ("application/vnd.cyclonedx+json", "cdx.json"),
        ];
        let mut n = 0;
        for repo in &repos {
            for (subject, name, created, docs) in &subjects {
                let annotations = std::collections::BTreeMap::from([(
                    "org.opencontainers.image.created".to_owned(),
                    rfc3339(*created),
                )]);
                for (doc, (artifact_type, ext)) in docs.iter().zip(kinds) {
                    let Some(bytes) = doc else { continue };
                    let title = format!("sbom-{name}.{ext}");
                    let a = Artifact {
                        artifact_type,
                        bytes,
                        title: &title,
                    };
                    attach(registry, repo, subject, &a, &annotations).map_err(|source| {
                        BuildError::Publish {
                            target: repo.to_string(),
                            source,
                        }
                    })?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Attaches the attestations to the images they are about, as [`BuildOutput::attach_sboms`]
    /// attaches SBOMs (artifact type [`crate::MEDIA_TYPE_DSSE`], or
    /// [`crate::MEDIA_TYPE_STATEMENT`] when unsigned; annotated with the predicate type).
    /// Returns how many were attached.
    pub fn attach_attestations(
        &self,
        registry: &dyn apko_oci::registry::Registry,
        tags: &[Reference],
    ) -> Result<usize, BuildError> {
        use apko_oci::registry::referrers::{Artifact, attach};
        let repos = repositories_of(tags);
        let mut n = 0;
        for repo in &repos {
            for a in &self.attestations {
                let title = a.file_name();
                let artifact = Artifact {
                    artifact_type: a.media_type(),
                    bytes: a.bytes(),
                    title: &title,
                };
                for i in self
                    .images
                    .iter()
                    .filter(|i| a.subjects.contains(&i.manifest.descriptor.digest))
                {
                    let annotations = crate::attest::referrer_annotations(a, i.created);
                    attach(
                        registry,
                        repo,
                        &crate::attest::subject(i),
                        &artifact,
                        &annotations,
                    )
                    .map_err(|source| BuildError::Publish {
                        target: repo.to_string(),
                        source,
                    })?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Writes the attestations into `dir`: `sbom-<arch>.spdx.dsse.json`,
    /// `sbom-<arch>.cdx.dsse.json`, `provenance.dsse.json` (signed), or
    /// `provenance.intoto.json` (unsigned); returns the files written.
    pub fn write_attestations(&self, dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
        if self.attestations.is_empty() {
            return Ok(Vec::new());
        }
        fs_err::create_dir_all(dir).map_err(BuildError::io(dir.display()))?;
        let mut written = Vec::new();
        for a in &self.attestations {
            let p = dir.join(a.file_name());
            write_file(&p, a.bytes())?;
            written.push(p);
        }
        Ok(written)
    }

    /// Writes the SBOMs that were made into `dir`: `sbom-<arch>.spdx.json` for every image
    /// and `sbom-index.spdx.json` (SPDX), `sbom-<arch>.cdx.json` and `sbom-index.cdx.json`
    /// (CycloneDX); returns the files written.
    pub fn write_sboms(&self, dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
        fs_err::create_dir_all(dir).map_err(BuildError::io(dir.display()))?;
        let mut written = Vec::new();
        let mut named = Vec::new();
        for (format, of_image, index) in [
            (
                SbomFormat::Spdx,
                (|i: &ArchImage| i.sbom.as_ref()) as fn(&ArchImage) -> Option<&Vec<u8>>,
                &self.index_sbom,
            ),
            (
                SbomFormat::CycloneDx,
                |i: &ArchImage| i.cyclonedx.as_ref(),
                &self.index_cyclonedx,
            ),
        ] {
            let ext = format.extension();
            for i in &self.images {
                if let Some(data) = of_image(i) {
                    named.push((format!("sbom-{}.{ext}", i.arch.apk_name()), data));
                }
            }
            if let Some(data) = index {
                named.push((format!("sbom-index.{ext}"), data));
            }
        }
        for (name, data) in named {
            let p = dir.join(name);
            write_file(&p, data)?;
            written.push(p);
        }
        Ok(written)
    }
}

/// Writes a small output file atomically (the one helper: [`apko_oci::write_atomically`]).
pub(crate) fn write_file(path: &Path, data: &[u8]) -> Result<(), BuildError> {
    apko_oci::write_atomically(path, |mut f| {
        std::io::Write::write_all(&mut f, data).map_err(BuildError::io(path.display()))
    })
}

/// The repositories `tags` name, each once, in order.
fn repositories_of(tags: &[Reference]) -> Vec<apko_oci::registry::Repository> {
    let mut repos: Vec<_> = tags
        .iter()
        .map(|r| apko_oci::registry::Repository {
            registry: r.registry.clone(),
            name: r.repository.clone(),
        })
        .collect();
    repos.sort();
    repos.dedup();
    repos
}
