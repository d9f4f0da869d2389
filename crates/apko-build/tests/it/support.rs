//! Fixture repositories written with apko-apk's writer and a key generated at test time.

use apko_build::deps::apko_apk::index::{ApkIndex, write_index};
use apko_build::deps::apko_apk::info::PackageInfo;
use apko_build::deps::apko_apk::keys::{SignatureKind, SigningKey};
use apko_build::deps::apko_apk::package::{PackageBuilder, PackageFile};
use apko_build::{BuildError, BuildOutput, BuildRequest, Builder, SourceDateEpoch};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub(crate) fn key() -> SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate("test-key.rsa.pub", 2048).unwrap())
        .clone()
}

/// A package to put in a fixture repository.
pub(crate) struct Pkg {
    pub(crate) info: PackageInfo,
    pub(crate) files: Vec<PackageFile>,
    pub(crate) scripts: Vec<(String, String)>,
}

pub(crate) fn pkg(name: &str, version: &str) -> Pkg {
    let mut info = PackageInfo::new(name.parse().unwrap(), version.parse().unwrap());
    info.license = "MIT".into();
    info.description = format!("{name} test package");
    info.origin = Some(name.into());
    info.build_time = Some(1_700_000_000);
    Pkg {
        info,
        files: Vec::new(),
        scripts: Vec::new(),
    }
}

impl Pkg {
    pub(crate) fn depends(mut self, deps: &str) -> Self {
        self.info.depends = apko_build::deps::apko_apk::Dependency::parse_list(deps).unwrap();
        self
    }
    pub(crate) fn replaces(mut self, r: &str) -> Self {
        self.info.replaces = apko_build::deps::apko_apk::Dependency::parse_list(r).unwrap();
        self
    }
    pub(crate) fn origin(mut self, o: &str) -> Self {
        self.info.origin = Some(o.into());
        self
    }
    pub(crate) fn built(mut self, t: u64) -> Self {
        self.info.build_time = Some(t);
        self
    }
    pub(crate) fn file(mut self, path: &str, mode: u32, content: &str) -> Self {
        self.files.push(
            PackageFile::file(path, mode, content.as_bytes().to_vec())
                .mtime(self.info.build_time.unwrap_or(0)),
        );
        self
    }
    pub(crate) fn dir(mut self, path: &str, mode: u32) -> Self {
        self.files
            .push(PackageFile::dir(path, mode).mtime(self.info.build_time.unwrap_or(0)));
        self
    }
    pub(crate) fn entry(mut self, f: PackageFile) -> Self {
        self.files.push(f);
        self
    }
    pub(crate) fn script(mut self, kind: &str, body: &str) -> Self {
        self.scripts.push((kind.into(), body.into()));
        self
    }
}

/// Writes `<dir>/<arch>/{APKINDEX.tar.gz,*.apk}` for each arch and the public key as
/// `<dir>/test-key.rsa.pub`.
pub(crate) fn write_repo(dir: &Path, archs: &[&str], pkgs: &[Pkg]) -> PathBuf {
    fs_err::create_dir_all(dir).unwrap();
    fs_err::write(dir.join("test-key.rsa.pub"), key().public_key_pem()).unwrap();
    for arch in archs {
        let adir = dir.join(arch);
        fs_err::create_dir_all(&adir).unwrap();
        let mut records = Vec::new();
        for p in pkgs {
            let mut info = p.info.clone();
            info.arch = Some((*arch).into());
            let mut b = PackageBuilder::new(info);
            for f in &p.files {
                b.add_file(f.clone());
            }
            for (k, s) in &p.scripts {
                b = b.with_script(k, s.as_bytes().to_vec());
            }
            let (built, bytes) = b
                .with_signature(key(), SignatureKind::Rsa256)
                .build()
                .unwrap();
            fs_err::write(adir.join(built.info.file_name()), bytes).unwrap();
            records.push(built.info);
        }
        let mut out = Vec::new();
        write_index(
            &ApkIndex {
                description: None,
                packages: records,
            },
            &[(key(), SignatureKind::Rsa256)],
            &mut out,
        )
        .unwrap();
        fs_err::write(adir.join("APKINDEX.tar.gz"), out).unwrap();
    }
    dir.to_owned()
}

/// A build request for a configuration text whose `@REPO@` and `@KEY@` placeholders name
/// `repo` and its key.
pub(crate) fn request(dir: &Path, config: &str, repo: &Path) -> BuildRequest {
    let text = config
        .replace("@REPO@", &repo.display().to_string())
        .replace(
            "@KEY@",
            &repo.join("test-key.rsa.pub").display().to_string(),
        );
    let path = dir.join("apko.yaml");
    fs_err::write(&path, &text).unwrap();
    let loaded = apko_build::deps::apko_config::load(&path, &[]).unwrap();
    let mut req = BuildRequest::new(
        loaded,
        dir.to_owned(),
        "example.test/img:latest".parse().unwrap(),
    );
    req.source_date_epoch = SourceDateEpoch::Set(0);
    req.jobs = 2;
    req
}

pub(crate) fn build(req: BuildRequest) -> Result<BuildOutput, BuildError> {
    Builder::new(req).build()
}

/// The layer of image `i` as (path, tar header fields, content) entries.
pub(crate) fn layer_entries(out: &BuildOutput, i: usize) -> Vec<Entry> {
    use std::io::Read;
    let gz = fs_err::File::open(out.images[i].layers[0].path()).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    let mut v = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let h = e.header().clone();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        v.push(Entry {
            path: e.path().unwrap().display().to_string(),
            kind: h.entry_type(),
            mode: h.mode().unwrap(),
            uid: h.uid().unwrap(),
            gid: h.gid().unwrap(),
            link: e.link_name().unwrap().map(|l| l.display().to_string()),
            data,
        });
    }
    v
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) path: String,
    pub(crate) kind: tar::EntryType,
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    pub(crate) link: Option<String>,
    pub(crate) data: Vec<u8>,
}

pub(crate) fn find<'a>(entries: &'a [Entry], path: &str) -> &'a Entry {
    entries.iter().find(|e| e.path == path).unwrap_or_else(|| {
        panic!(
            "{path} not in the layer: {:?}",
            entries.iter().map(|e| &e.path).collect::<Vec<_>>()
        )
    })
}

pub(crate) fn text(entries: &[Entry], path: &str) -> String {
    String::from_utf8(find(entries, path).data.clone()).unwrap()
}

/// The whole error chain as one string.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(" | ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
