//! The effective configuration of a build: the file merged with the command line, defaults
//! applied, package specifications parsed.

use crate::error::BuildError;
use crate::request::BuildRequest;
use apko_apk::Dependency;
use apko_apk::source::RepositoryUrl;
use apko_config::{Arch, ImageConfig, User};
use std::collections::BTreeMap;

/// What the build works from.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The configuration with defaults and command-line additions applied.
    pub(crate) config: ImageConfig,
    /// Architectures, sorted by OCI name.
    pub(crate) archs: Vec<Arch>,
    /// The world.
    pub(crate) world: Vec<Dependency>,
    /// Repositories used to build, in priority order.
    pub(crate) build_repos: Vec<RepositoryUrl>,
    /// Keys (paths or URLs), sorted and deduplicated.
    pub(crate) keyring: Vec<String>,
}

fn dedup_keep_order(list: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    list.retain(|x| seen.insert(x.clone()));
}

pub(crate) fn plan(req: &BuildRequest) -> Result<Plan, BuildError> {
    let loaded = &req.config;
    let mut c = loaded.config.clone();
    // Command-line additions.
    c.contents.keyring.extend(req.extra_keyring.iter().cloned());
    c.contents.keyring.sort();
    c.contents.keyring.dedup();
    c.contents.repositories.extend(
        req.extra_repositories
            .iter()
            .map(|r| r.trim_end_matches('/').to_owned()),
    );
    c.contents.build_repositories.extend(
        req.extra_build_repositories
            .iter()
            .map(|r| r.trim_end_matches('/').to_owned()),
    );
    dedup_keep_order(&mut c.contents.repositories);
    dedup_keep_order(&mut c.contents.build_repositories);
    for (k, v) in &req.annotations {
        c.annotations.insert(k.clone(), v.clone());
    }
    // s6 service bundles.
    if c.entrypoint.is_service_bundle() {
        c.entrypoint.command = Some("/bin/s6-svscan /sv".to_owned());
        c.contents.packages.push("s6".to_owned());
    }
    // Account defaults, as apko's validation fills them in.
    for u in &mut c.accounts.users {
        let User {
            username, homedir, ..
        } = u;
        if homedir.as_deref().unwrap_or("").is_empty() {
            *homedir = Some(format!("/home/{username}"));
        }
    }
    if c.contents.baseimage.is_some() && c.layering.is_some() {
        return Err(BuildError::Unsupported {
            feature: "`layering` together with `contents.baseimage`",
            hint: "remove `layering`: the base image's layers are kept and the new packages go into one layer on top",
        });
    }
    if let Some(f) = req.format {
        c.format = Some(f);
    }
    if c.format == Some(apko_config::ImageFormat::Erofs) {
        if c.layering.is_some() {
            return Err(BuildError::Unsupported {
                feature: "`layering` with the erofs format",
                hint: "an erofs image has one layer: remove `layering` or use `format: tar`",
            });
        }
        if c.contents.baseimage.is_some() {
            return Err(BuildError::Unsupported {
                feature: "`contents.baseimage` with the erofs format",
                hint: "the base image's layers are tar layers: use `format: tar`",
            });
        }
    }
    // World: the file's packages (located errors) then -p.
    let mut world = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, spec) in loaded.config.contents.packages.iter().enumerate() {
        let d: Dependency = spec.parse().map_err(|e: apko_apk::dependency::ParseDependencyError| {
            BuildError::Config(loaded.invalid(
                &format!("contents.packages[{i}]"),
                format!("{e}{}", source_text(&e)),
                Some("packages are written `name`, `name=1.2-r0`, `name>=1.2`, `name~1.2` or `name@tag`".to_owned()),
            ))
        })?;
        if seen.insert(d.to_string()) {
            world.push(d);
        }
    }
    let extra = req
        .extra_packages
        .iter()
        .chain(c.contents.packages[loaded.config.contents.packages.len()..].iter());
    for spec in extra {
        let d: Dependency = spec.parse().map_err(|source| BuildError::PackageSpec {
            spec: spec.clone(),
            source,
        })?;
        if seen.insert(d.to_string()) {
            world.push(d);
        }
    }
    c.contents
        .packages
        .extend(req.extra_packages.iter().cloned());
    // Repositories: build-only ones first, then the image's, in the order given.
    let mut build_repos = Vec::new();
    for (field, list) in [
        (
            "contents.build_repositories",
            &c.contents.build_repositories,
        ),
        ("contents.repositories", &c.contents.repositories),
    ] {
        for (i, r) in list.iter().enumerate() {
            let url: RepositoryUrl =
                r.parse()
                    .map_err(|e: apko_apk::source::ParseRepositoryError| {
                        BuildError::Config(loaded.invalid(
                            &format!("{field}[{i}]"),
                            e.to_string(),
                            None,
                        ))
                    })?;
            if !build_repos.contains(&url) {
                build_repos.push(url);
            }
        }
    }
    if build_repos.is_empty() {
        return Err(BuildError::NoRepositories);
    }
    let mut archs = match &req.archs {
        Some(a) if !a.is_empty() => a.clone(),
        _ if !c.archs.is_empty() => c.archs.clone(),
        _ => Arch::ALL.to_vec(),
    };
    archs.sort_by_key(|a| a.oci_name());
    archs.dedup();
    let keyring = c.contents.keyring.clone();
    Ok(Plan {
        config: c,
        archs,
        world,
        build_repos,
        keyring,
    })
}

fn source_text(e: &dyn std::error::Error) -> String {
    let mut s = String::new();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The annotations of the index, the manifests and the config labels.
pub(crate) fn annotations(c: &ImageConfig, created: &str) -> BTreeMap<String, String> {
    let mut a = c.annotations.clone();
    a.insert(
        "org.opencontainers.image.created".to_owned(),
        created.to_owned(),
    );
    if let Some(vcs) = &c.vcs_url
        && let Some((url, rev)) = vcs.rsplit_once('@')
    {
        a.entry("org.opencontainers.image.source".to_owned())
            .or_insert_with(|| url.to_owned());
        a.entry("org.opencontainers.image.revision".to_owned())
            .or_insert_with(|| rev.to_owned());
    }
    a
}

#[cfg(test)]
mod tests {
    use super::annotations;

    #[test]
    fn vcs_url_fills_source_and_revision_unless_annotated() {
        let mut c = apko_config::ImageConfig {
            vcs_url: Some("https://bot@git.example/r.git@0123abc".to_owned()),
            ..apko_config::ImageConfig::default()
        };
        let a = annotations(&c, "1970-01-01T00:00:00Z");
        assert_eq!(
            a["org.opencontainers.image.source"],
            "https://bot@git.example/r.git"
        );
        assert_eq!(a["org.opencontainers.image.revision"], "0123abc");
        assert_eq!(
            a["org.opencontainers.image.created"],
            "1970-01-01T00:00:00Z"
        );
        c.annotations.insert(
            "org.opencontainers.image.source".to_owned(),
            "https://mirror.example/r".to_owned(),
        );
        let a = annotations(&c, "1970-01-01T00:00:00Z");
        assert_eq!(
            a["org.opencontainers.image.source"],
            "https://mirror.example/r"
        );
        assert_eq!(a["org.opencontainers.image.revision"], "0123abc");
    }
}
