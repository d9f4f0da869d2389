//! `certificates`: inline certificates and those of provider packages added to the CA
//! bundles and the Java trust store, and the `.sha256` sidecars apko writes.

use super::{Rootfs, RootfsError, read_text};
use apko_config::ImageConfig;
use apko_fs::{FsTree, Meta, NodeId};
use sha2::{Digest, Sha256};

/// A certificate to add.
struct Certificate {
    /// Its alias in the Java trust store.
    alias: String,
    /// The PEM block.
    pem: String,
    /// Its DER bytes.
    der: Vec<u8>,
}

/// Certificates (`usr/local/share/ca-certificates/*.{crt,pem}`) of the packages that provide
/// one of `certificates.providers`, with their content.
fn provider_files(r: &Rootfs, c: &ImageConfig) -> Vec<(String, Vec<u8>)> {
    let Some(certs) = &c.certificates else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in &r.packages {
        let info = &e.package.control.info;
        if !info
            .provides
            .iter()
            .any(|p| certs.providers.iter().any(|want| p.name.as_str() == want))
        {
            continue;
        }
        for entry in &e.package.entries {
            if entry.path.starts_with("usr/local/share/ca-certificates/")
                && (entry.path.ends_with(".crt") || entry.path.ends_with(".pem"))
                && let Ok(data) = r.tree.read_path(&entry.path)
            {
                out.push((entry.path.clone(), data));
            }
        }
    }
    out
}

/// Certificate bundles apko appends to and writes sidecars for.
const BUNDLES: [&str; 4] = [
    "etc/ssl/certs/ca-certificates.crt",
    "var/lib/ecs/deps/execute-command/certs/tls-ca-bundle.pem",
    "kaniko/ssl/certs/ca-certificates.crt",
    "etc/ssl/certs/java/cacerts",
];

fn pem_blocks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("-----BEGIN CERTIFICATE-----") {
            cur = Some(String::new());
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(line.trim_end());
            c.push('\n');
        }
        if line.starts_with("-----END CERTIFICATE-----")
            && let Some(c) = cur.take()
        {
            out.push(c);
        }
    }
    out
}

fn der_of(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// `certificates`: inline certificates and those of provider packages are added to the
/// bundles; then every bundle gets its `.sha256` sidecar.
pub(crate) fn apply(r: &mut Rootfs, c: &ImageConfig) -> Result<(), RootfsError> {
    let provider_files = provider_files(r, c);
    let (fs, bde) = (&mut r.tree, r.build_date);
    let mut added: Vec<Certificate> = Vec::new();
    if let Some(certs) = &c.certificates {
        for (i, cert) in certs.additional.iter().enumerate() {
            let blocks = pem_blocks(&cert.content);
            let [block] = blocks.as_slice() else {
                return Err(RootfsError::Certificate {
                    index: i,
                    name: cert.name.clone(),
                    problem: "must hold exactly one PEM certificate",
                });
            };
            let der = der_of(block).ok_or_else(|| RootfsError::Certificate {
                index: i,
                name: cert.name.clone(),
                problem: "is not valid base64 PEM",
            })?;
            let fingerprint = hex::encode(Sha256::digest(&der));
            let path = format!(
                "usr/local/share/ca-certificates/{}-{fingerprint}.crt",
                cert.name,
            );
            fs.mkdir_all("usr/local/share/ca-certificates", &Meta::root(0o755))
                .map_err(RootfsError::fs("creating /usr/local/share/ca-certificates"))?;
            fs.write_file_nofollow(
                &path,
                block.clone().into_bytes(),
                &Meta::root(0o644).with_mtime(bde),
            )
            .map_err(RootfsError::fs(format!("writing /{path}")))?;
            added.push(Certificate {
                alias: format!("{}-{fingerprint}", cert.name),
                pem: block.clone(),
                der,
            });
        }
        let mut files: Vec<&(String, Vec<u8>)> = provider_files.iter().collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, data) in files {
            for block in pem_blocks(&String::from_utf8_lossy(data)) {
                // Unparsable certificates of packages are skipped, as apko does.
                if let Some(der) = der_of(&block) {
                    let alias = format!("pkg-{}", hex::encode(Sha256::digest(&der)));
                    added.push(Certificate {
                        alias,
                        pem: block,
                        der,
                    });
                }
            }
        }
    }
    for bundle in &BUNDLES[..3] {
        if !added.is_empty() && fs.get(bundle).is_some() {
            let mut text = read_text(fs, bundle).unwrap_or_default();
            for cert in &added {
                text.push_str(&cert.pem);
                text.push('\n');
            }
            let id = fs
                .write_file(bundle, text.into_bytes(), &Meta::root(0o644))
                .map_err(RootfsError::fs(format!("writing /{bundle}")))?;
            fs.node_mut(id).meta.mtime = bde;
        }
    }
    if !added.is_empty()
        && let Some(id) = fs.get(BUNDLES[3])
    {
        java_truststore(fs, id, &added, bde)?;
    }
    for bundle in BUNDLES {
        let Some(id) = fs.get(bundle) else { continue };
        let Ok(data) = fs.read(id, bundle) else {
            continue;
        };
        let (dir, base) = bundle
            .rsplit_once('/')
            .expect("bundles live in directories");
        let sidecar = format!("{dir}/.{base}.sha256");
        let line = format!("{}  {base}\n", hex::encode(Sha256::digest(&data)));
        let sid = fs
            .write_file_nofollow(
                &sidecar,
                line.into_bytes(),
                &Meta::root(0o444).with_mtime(bde),
            )
            .map_err(RootfsError::fs(format!("writing /{sidecar}")))?;
        let m = &mut fs.node_mut(sid).meta;
        (m.mode, m.mtime) = (0o444, bde);
    }
    Ok(())
}

/// Adds the certificates to the Java trust store (JKS, password `changeit`), as apko does.
fn java_truststore(
    fs: &mut FsTree,
    id: NodeId,
    added: &[Certificate],
    bde: i64,
) -> Result<(), RootfsError> {
    const PATH: &str = "etc/ssl/certs/java/cacerts";
    const PASSWORD: &str = "changeit";
    let data = fs
        .read(id, PATH)
        .map_err(RootfsError::fs(format!("reading /{PATH}")))?;
    let mut store =
        super::jks::KeyStore::load(&data, PASSWORD).map_err(|e| RootfsError::TrustStore {
            path: PATH,
            message: e.to_string(),
        })?;
    let time_ms = u64::try_from(bde).unwrap_or(0).saturating_mul(1000);
    for cert in added {
        store.set_trusted_certificate(&cert.alias, &cert.der, time_ms);
    }
    let id = fs
        .write_file(PATH, store.store(PASSWORD), &Meta::root(0o644))
        .map_err(RootfsError::fs(format!("writing /{PATH}")))?;
    fs.node_mut(id).meta.mtime = bde;
    Ok(())
}
