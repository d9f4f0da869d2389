//! Command-line arguments, compatible with apko's.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "apko", version, about = "Build reproducible OCI images from APK packages", long_about = None)]
pub(crate) struct Cli {
    /// Log level: debug, info, warn or error, with an optional offset (`info+2`; `debug-1`
    /// adds trace records). Without it: the command's messages, warnings and errors.
    #[arg(long, global = true, value_name = "LEVEL", value_parser = crate::loglevel::LogLevelParser)]
    pub(crate) log_level: Option<crate::loglevel::LogLevel>,
    /// Change to this directory before doing anything.
    #[arg(short = 'C', long = "workdir", global = true)]
    pub(crate) workdir: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Build an image from a configuration: an OCI layout if OUTPUT is a directory, else a
    /// tarball that `docker load` accepts.
    Build {
        /// The configuration file (apko.yaml).
        config: PathBuf,
        /// The image reference (`registry/repo:tag`).
        tag: String,
        /// Output: an existing directory (OCI layout) or a file (docker tarball).
        output: PathBuf,
        #[command(flatten)]
        image: ImageOpts,
        #[command(flatten)]
        common: Common,
    },
    /// Build and push to a registry: every image by digest, then the index to every TAG.
    /// Prints the index reference (`registry/repo@sha256:…`).
    Publish {
        /// The configuration file (apko.yaml).
        config: PathBuf,
        /// Image references to push the index to (`registry/repo:tag`).
        #[arg(required = true)]
        tags: Vec<String>,
        /// Also write the image references (one per architecture, then the index) here.
        #[arg(long)]
        image_refs: Option<PathBuf>,
        /// Load the image into the local container engine instead of pushing (Docker Engine API
        /// on `DOCKER_HOST`'s unix socket, default /var/run/docker.sock; podman's
        /// `podman system service` works too). The architecture is `GOARCH`'s (Go names:
        /// amd64, arm64, ...), else this machine's.
        #[arg(long)]
        local: bool,
        /// Speak plain http to this registry (registries on localhost always do).
        #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
        insecure_registry: Vec<String>,
        #[command(flatten)]
        image: ImageOpts,
        #[command(flatten)]
        common: Common,
    },
    /// Resolve every architecture and write a lockfile pinning each package's URL and
    /// checksums (default `<config without extension>.lock.json`).
    Lock {
        /// The configuration file.
        config: PathBuf,
        /// Where to write the lockfile.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Deprecated name of `lock` (default output `<config>.resolved.json`).
    #[command(hide = true)]
    Resolve {
        /// The configuration file.
        config: PathBuf,
        /// Where to write the lockfile.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Build one architecture's filesystem as a tar (gzip'd when OUTPUT ends in `.gz`).
    BuildMinirootfs {
        /// The configuration file.
        config: PathBuf,
        /// The output file.
        output: PathBuf,
        /// The architecture (default: this machine's).
        #[arg(long)]
        build_arch: Option<String>,
        /// Accepted for compatibility with apko; build-minirootfs writes no SBOM.
        #[arg(long)]
        sbom_path: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Build one architecture's filesystem as a newc cpio archive (an initramfs; gzip'd when
    /// OUTPUT ends in `.gz`).
    #[command(hide = true)]
    BuildCpio {
        /// The configuration file.
        config: PathBuf,
        /// The output file.
        output: PathBuf,
        /// The architecture (default: this machine's).
        #[arg(long)]
        build_arch: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Print the packages each architecture would get, one line per package (with several
    /// architectures, `packages for <arch>` goes to stderr before each one's).
    ShowPackages {
        /// The configuration file.
        config: PathBuf,
        /// `name-version` (default), `name-version-source`, `name=version`, `name=version-source`,
        /// `name-(version)`, `name-(version)-source`, `packagelock`, `packagelock-source`, or a
        /// Go template of text and `{{ .Name }}`, `{{ .Version }}`, `{{ .Source }}`.
        #[arg(long, default_value = "name-version")]
        format: String,
        #[command(flatten)]
        common: Common,
    },
    /// Print the validated configuration (repository passwords redacted).
    ShowConfig {
        /// The configuration file.
        config: PathBuf,
        #[command(flatten)]
        common: Common,
    },
    /// Print a Graphviz digraph of the resolved dependencies of one architecture
    /// (`apko dot apko.yaml | dot -Tsvg > graph.svg`).
    Dot {
        /// The configuration file.
        config: PathBuf,
        /// Draw each package's first incoming dependency edge only (something like a
        /// spanning tree).
        #[arg(short = 'S', long)]
        spanning_tree: bool,
        /// Serve the graph to a browser (not supported by apko-rs: refused).
        #[arg(long)]
        web: bool,
        /// The registry explorer `--web` links nodes to (accepted for compatibility).
        #[arg(short = 'e', long, default_value = "apk.dag.dev", value_name = "FQDN")]
        registry_explorer: String,
        #[command(flatten)]
        common: Common,
    },
    /// Delete the package cache (`--dry-run`: only report its size).
    Clean {
        /// The cache directory (default `$XDG_CACHE_HOME/dev.chainguard.go-apk`, else
        /// `~/.cache/dev.chainguard.go-apk`).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
        /// Show the cache size without deleting.
        #[arg(long)]
        dry_run: bool,
    },
    /// Log in to a registry: store the credentials in docker's `config.json`.
    #[command(
        after_help = "Example:\n  # Log in to reg.example.com\n  apko login reg.example.com -u AzureDiamond -p hunter2"
    )]
    Login {
        /// The registry (`reg.example.com`, `localhost:5000`, `docker.io`).
        server: String,
        /// User name.
        #[arg(short = 'u', long)]
        username: Option<String>,
        /// Password.
        #[arg(short = 'p', long)]
        password: Option<String>,
        /// Take the password from stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print the version.
    Version {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write the SBOMs of an existing image (an OCI layout directory, an OCI archive or a docker
    /// tarball) from the installed database in its layers: `sbom-<arch>.spdx.json` (and
    /// `.cdx.json` with `--sbom-formats cyclonedx`).
    Sbom {
        /// The image.
        image: PathBuf,
        /// Where to write the SBOMs (default: the current directory).
        #[arg(long)]
        sbom_path: Option<PathBuf>,
        /// SBOM formats: `spdx`, `cyclonedx` (comma-separated).
        #[arg(long, default_value = "spdx")]
        sbom_formats: Vec<String>,
        /// The image reference the SBOMs name (for package URLs).
        #[arg(long, default_value = "apko.local/image:latest")]
        reference: String,
    },
    /// Rebuild an image from its lockfile and compare it with IMAGE (an OCI layout directory,
    /// an OCI archive or a docker tarball): exit 0 when they are the same image; otherwise
    /// name the first differing file and field.
    Verify {
        /// The configuration file (apko.yaml).
        config: PathBuf,
        /// The image to check.
        image: String,
        /// The image reference the rebuild is given (as in the original `apko build`).
        #[arg(long, default_value = "apko.local/verify:latest")]
        tag: String,
        #[command(flatten)]
        opts: ImageOpts,
        #[command(flatten)]
        common: Common,
    },
    /// EROFS images: `apko erofs ls IMAGE` lists an erofs layer (ours, apko's or mkfs.erofs's).
    Erofs {
        #[command(subcommand)]
        command: ErofsCommand,
    },
    /// Print a shell completion script (`source <(apko completion bash)`).
    Completion {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
        /// Leave the descriptions of commands and flags out of the script.
        #[arg(long)]
        no_descriptions: bool,
    },
    /// Check the signed attestations (SBOMs, SLSA provenance) of an image built with
    /// `--sign-key`: the signature, the payload type and that each statement is about the
    /// image. Prints what was verified.
    VerifyAttestation {
        /// The image: an OCI layout directory (its referrers are checked too) or a tarball.
        image: PathBuf,
        /// The public key (PEM, `PUBLIC KEY`; ECDSA P-256 or Ed25519).
        #[arg(long, value_name = "PUB")]
        key: PathBuf,
        /// Where the `*.dsse.json` files are (default: the layout directory, or the
        /// tarball's directory).
        #[arg(long, value_name = "DIR")]
        attestations: Option<PathBuf>,
        /// Only attestations of this type count: `spdx`, `cyclonedx` or `slsaprovenance`.
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
    },
}

impl Command {
    /// The image options of `build` and `publish`.
    pub(crate) fn image_opts(&mut self) -> Option<&mut ImageOpts> {
        match self {
            Command::Build { image, .. }
            | Command::Publish { image, .. }
            | Command::Verify { opts: image, .. } => Some(image),
            _ => None,
        }
    }

    /// The options every configuration-reading command shares.
    pub(crate) fn common(&mut self) -> Option<&mut Common> {
        match self {
            Command::Build { common, .. }
            | Command::Publish { common, .. }
            | Command::Lock { common, .. }
            | Command::Resolve { common, .. }
            | Command::BuildMinirootfs { common, .. }
            | Command::BuildCpio { common, .. }
            | Command::ShowPackages { common, .. }
            | Command::ShowConfig { common, .. }
            | Command::Dot { common, .. }
            | Command::Verify { common, .. } => Some(common),
            Command::Clean { .. }
            | Command::Login { .. }
            | Command::Version { .. }
            | Command::Erofs { .. }
            | Command::Sbom { .. }
            | Command::Completion { .. }
            | Command::VerifyAttestation { .. } => None,
        }
    }
}

/// `apko erofs …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ErofsCommand {
    /// List the entries of an EROFS image as apko does (mode, owner, size, date, path).
    Ls {
        /// The image (a raw EROFS file, e.g. an erofs layer blob).
        image: PathBuf,
    },
}

/// Options of commands that produce images (`build`, `publish`).
#[derive(Debug, Args)]
pub(crate) struct ImageOpts {
    /// Write SBOMs (`--sbom=false` to skip).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub(crate) sbom: bool,
    /// Where to write SBOMs (build: default the layout directory, or the tarball's directory;
    /// publish: written only when given).
    #[arg(long)]
    pub(crate) sbom_path: Option<PathBuf>,
    /// SBOM formats, comma-separated: `spdx` (SPDX 2.3), `cyclonedx` (CycloneDX 1.6).
    #[arg(long, default_value = "spdx")]
    pub(crate) sbom_formats: Vec<String>,
    /// Annotations `key:value` for the index, manifests and config labels.
    #[arg(long = "annotations", value_name = "KEY:VALUE")]
    pub(crate) annotations: Vec<String>,
    /// Layer format: `tar` (gzip or zstd tar layers) or `erofs` (one raw EROFS image layer);
    /// default: the configuration's `format`, else `tar`.
    #[arg(long)]
    pub(crate) format: Option<String>,
    /// Install exactly the packages of this lockfile (see `apko lock`) instead of resolving.
    #[arg(long)]
    pub(crate) lockfile: Option<PathBuf>,
    /// Detect the git checkout holding the configuration and record its `origin` and
    /// commit as `vcs-url` (`--vcs=false` to skip; a `vcs-url` in the configuration wins).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub(crate) vcs: bool,
    /// Sign the image SBOMs and the provenance with this PEM private key (ECDSA P-256 or
    /// Ed25519; PKCS#8 or SEC1): DSSE envelopes `*.dsse.json` next to the SBOMs, and OCI
    /// referrers in a layout or the registry.
    #[arg(long, value_name = "PATH")]
    pub(crate) sign_key: Option<PathBuf>,
    /// Make the SLSA provenance v1 of the build (`provenance.intoto.json`, or
    /// `provenance.dsse.json` when signed); default: on with --sign-key.
    #[arg(long, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) provenance: Option<bool>,
}

#[derive(Debug, Args)]
pub(crate) struct Common {
    /// Architectures (`x86_64`, `amd64`, ..., `all`, `host`); default: the configuration's.
    #[arg(long)]
    pub(crate) arch: Vec<String>,
    /// Build date (RFC 3339); a floor for the date derived from packages.
    #[arg(long)]
    pub(crate) build_date: Option<String>,
    /// Add a key (path or URL).
    #[arg(short = 'k', long = "keyring-append")]
    pub(crate) keyring_append: Vec<String>,
    /// Add a repository.
    #[arg(short = 'r', long = "repository-append")]
    pub(crate) repository_append: Vec<String>,
    /// Add a build-only repository.
    #[arg(short = 'b', long = "build-repository-append")]
    pub(crate) build_repository_append: Vec<String>,
    /// Add a package.
    #[arg(short = 'p', long = "package-append")]
    pub(crate) package_append: Vec<String>,
    /// Directory for downloaded indexes and packages.
    #[arg(long)]
    pub(crate) cache_dir: Option<PathBuf>,
    /// Use only the cache for remote repositories.
    #[arg(long)]
    pub(crate) offline: bool,
    /// Do not keep expanded packages and compressed layers in the cache directory (the
    /// output is the same; rebuilds are slower).
    #[arg(long)]
    pub(crate) no_build_cache: bool,
    /// Do NOT verify repository index signatures.
    #[arg(long)]
    pub(crate) ignore_signatures: bool,
    /// Directories searched for `include`d configurations.
    #[arg(long)]
    pub(crate) include_paths: Vec<PathBuf>,
    /// Parallel jobs (downloads, expansion, compression).
    #[arg(short = 'j', long)]
    pub(crate) jobs: Option<usize>,
    /// Layer compression: `gzip` (default; apko's) or `zstd` (overrides the configuration's
    /// `compression`).
    #[arg(long, value_parser = ["gzip", "zstd"])]
    pub(crate) compression: Option<String>,
    /// Compression level of layers: gzip 0-9 (default 6), zstd 1-19 (default 3).
    #[arg(long)]
    pub(crate) compression_level: Option<u32>,
    /// Largest decompressed APKINDEX in bytes (0: default 300 MiB, -1: unlimited).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub(crate) max_apkindex_decompressed_size: i64,
    /// Largest decompressed package control segment (0: default 10 MiB, -1: unlimited).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub(crate) max_apk_control_size: i64,
    /// Largest decompressed package data segment (0: default 16 GiB, -1: unlimited).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub(crate) max_apk_data_size: i64,
    /// Largest HTTP response (0: default 8 GiB, -1: unlimited).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub(crate) max_http_response_size: i64,
    /// Deadline of each whole HTTP request to a repository, in seconds (0: none).
    #[arg(long, default_value_t = 900)]
    pub(crate) http_timeout: u64,
}

/// The command with every description removed (`completion --no-descriptions`), those of
/// the generated `--help`, `--version` and `help` included.
pub(crate) fn without_descriptions(mut cmd: clap::Command) -> clap::Command {
    cmd.build();
    strip(cmd)
}

fn strip(cmd: clap::Command) -> clap::Command {
    cmd.about(None)
        .long_about(None)
        .mut_args(|a| a.help(None).long_help(None))
        .mut_subcommands(strip)
}
