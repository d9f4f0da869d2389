//! `contents.runtime_keyring`: keys written after installation, for the image's own apk.

use super::{Rootfs, RootfsError};
use apko_config::ImageConfig;
use apko_fs::{Kind, Meta, Node};

/// `contents.runtime_keyring`: keys written after installation.
pub(crate) fn apply(r: &mut Rootfs, c: &ImageConfig) -> Result<(), RootfsError> {
    let (fs, bde) = (&mut r.tree, r.build_date);
    let mut keys: Vec<&apko_config::InlineFile> = c.contents.runtime_keyring.iter().collect();
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    for k in keys {
        let path = format!("etc/apk/keys/{}", k.name);
        if fs.exists(&path) {
            return Err(RootfsError::RuntimeKeyCollision {
                name: k.name.clone(),
                path,
            });
        }
        let pem = apko_apk::keys::canonical_public_key_pem(&k.name, k.content.as_bytes()).map_err(
            |source| RootfsError::RuntimeKey {
                name: k.name.clone(),
                source,
            },
        )?;
        fs.mkdir_all("etc/apk/keys", &Meta::root(0o755))
            .map_err(RootfsError::fs("creating /etc/apk/keys"))?;
        fs.insert(
            &path,
            Node::new(
                Kind::File(pem.into_bytes().into()),
                Meta::root(0o644).with_mtime(bde),
            ),
        )
        .map_err(RootfsError::fs(format!("writing /{path}")))?;
    }
    Ok(())
}
