//! Installing entries that several owners may want: the decision is the caller's (for
//! packages: same content, `replaces`, same origin), the mechanics are here.

use crate::error::FsError;
use crate::tree::{FsTree, Kind, Meta, Node, NodeId, Owner, components};

/// What to do when an entry already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Keep what is there; drop the newcomer.
    Keep,
    /// Replace it with the newcomer.
    Replace,
    /// Refuse: a conflict error naming both owners.
    Conflict,
}

/// Decides who wins a path.
pub trait ConflictPolicy {
    /// `existing` is at `path`; `incoming` wants it. Neither is a directory.
    fn decide(&self, path: &str, existing: &Node, incoming: &Node) -> Decision;
}

/// What [`FsTree::install`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    /// A new entry.
    Created(NodeId),
    /// The previous entry (owned by `previous`) was replaced.
    Replaced {
        /// The new node.
        id: NodeId,
        /// Who owned the replaced entry.
        previous: Option<Owner>,
    },
    /// The existing entry was kept.
    Kept {
        /// Who owns it.
        owner: Option<Owner>,
    },
}

impl FsTree {
    fn dir_for(&mut self, path: &str) -> Result<(NodeId, String), FsError> {
        let parts: Vec<&str> = components(path).collect();
        let Some((name, dirs)) = parts.split_last() else {
            return Err(FsError::InvalidPath {
                path: path.to_owned(),
            });
        };
        // Missing parents are created the way apko creates implicit directories.
        let dir = self.mkdir_all(&dirs.join("/"), &Meta::root(0o755))?;
        Ok((dir, (*name).to_owned()))
    }

    /// Installs a non-directory `node` at `path` (parent directories are resolved through
    /// symbolic links and created when missing). When the path is taken, `policy` decides;
    /// a directory is never replaced by a file.
    pub fn install(
        &mut self,
        path: &str,
        node: Node,
        policy: &dyn ConflictPolicy,
    ) -> Result<Installed, FsError> {
        debug_assert!(!node.is_dir(), "directories go through ensure_dir");
        let (dir, name) = self.dir_for(path)?;
        let Some(existing) = self.entry(dir, &name) else {
            let full = Self::node_path_hint(path);
            return self.insert(&full, node).map(Installed::Created);
        };
        let old = self.node(existing);
        if old.is_dir() {
            return Err(FsError::TypeConflict {
                path: path.to_owned(),
                existing: "directory",
                new: node.kind.describe(),
            });
        }
        match policy.decide(path, old, &node) {
            Decision::Keep => Ok(Installed::Kept { owner: old.owner }),
            Decision::Conflict => Err(FsError::Conflict {
                path: path.to_owned(),
                existing: old.owner.unwrap_or(Owner(u32::MAX)),
                incoming: node.owner.unwrap_or(Owner(u32::MAX)),
            }),
            Decision::Replace => {
                let previous = old.owner;
                let id = self.replace(path, node)?;
                Ok(Installed::Replaced { id, previous })
            }
        }
    }

    /// Installs a hard link at `path` to the regular file `target` for `owner`, under the
    /// rules of [`FsTree::install`]: when the path is taken, `policy` decides as if the
    /// newcomer were `target`'s file owned by `owner`.
    pub fn install_link(
        &mut self,
        path: &str,
        target: NodeId,
        owner: Option<Owner>,
        policy: &dyn ConflictPolicy,
    ) -> Result<Installed, FsError> {
        if !matches!(self.node(target).kind, Kind::File(_)) {
            return Err(FsError::HardLinkTarget {
                path: path.to_owned(),
                target: self.node(target).kind.describe(),
            });
        }
        let (dir, name) = self.dir_for(path)?;
        let full = Self::node_path_hint(path);
        let mut previous = None;
        if let Some(existing) = self.entry(dir, &name) {
            let old = self.node(existing);
            if existing == target {
                return Ok(Installed::Kept { owner: old.owner });
            }
            if old.is_dir() {
                return Err(FsError::TypeConflict {
                    path: path.to_owned(),
                    existing: "directory",
                    new: "hard link",
                });
            }
            let mut incoming = self.node(target).clone();
            incoming.owner = owner;
            match policy.decide(path, old, &incoming) {
                Decision::Keep => return Ok(Installed::Kept { owner: old.owner }),
                Decision::Conflict => {
                    return Err(FsError::Conflict {
                        path: path.to_owned(),
                        existing: old.owner.unwrap_or(Owner(u32::MAX)),
                        incoming: owner.unwrap_or(Owner(u32::MAX)),
                    });
                }
                Decision::Replace => {
                    previous = Some(old.owner);
                    self.remove(&full, false)?;
                }
            }
        }
        self.link(&full, target)?;
        Ok(match previous {
            None => Installed::Created(target),
            Some(previous) => Installed::Replaced {
                id: target,
                previous,
            },
        })
    }

    fn node_path_hint(path: &str) -> String {
        components(path).collect::<Vec<_>>().join("/")
    }

    /// Makes sure a directory exists at `path` (following symbolic links, so that `bin` in a
    /// package lands in `usr/bin` when `bin -> usr/bin`). A new directory gets `meta`; an
    /// existing one keeps its mode and owner but takes the newer mtime and the xattrs.
    pub fn ensure_dir(
        &mut self,
        path: &str,
        meta: &Meta,
        owner: Option<Owner>,
    ) -> Result<NodeId, FsError> {
        match self.resolve(path, true) {
            Ok(id) => {
                if !self.node(id).is_dir() {
                    return Err(FsError::TypeConflict {
                        path: path.to_owned(),
                        existing: self.node(id).kind.describe(),
                        new: "directory",
                    });
                }
                let n = self.node_mut(id);
                n.meta.mtime = meta.mtime;
                for (k, v) in &meta.xattrs {
                    match n.meta.xattrs.iter_mut().find(|(x, _)| x == k) {
                        Some(e) => e.1.clone_from(v),
                        None => n.meta.xattrs.push((k.clone(), v.clone())),
                    }
                }
                Ok(id)
            }
            Err(FsError::NotFound { .. }) => {
                let (dir, name) = self.dir_for(path)?;
                if let Some(existing) = self.entry(dir, &name) {
                    // A dangling symlink in the way.
                    return Err(FsError::TypeConflict {
                        path: path.to_owned(),
                        existing: self.node(existing).kind.describe(),
                        new: "directory",
                    });
                }
                let mut node = Node::new(
                    Kind::Dir(std::collections::BTreeMap::default()),
                    meta.clone(),
                );
                node.owner = owner;
                let full = Self::node_path_hint(path);
                self.insert(&full, node)
            }
            Err(e) => Err(e),
        }
    }
}
