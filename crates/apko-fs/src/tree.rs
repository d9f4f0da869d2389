//! The in-memory filesystem tree.

use crate::error::FsError;
use std::collections::{BTreeMap, VecDeque};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Index of a node in a [`FsTree`].
pub type NodeId = usize;

/// The root directory.
pub const ROOT: NodeId = 0;

/// Symbolic links followed at most while resolving one path (as Linux).
const MAX_HOPS: usize = 40;

/// Who put a node there (opaque to this crate; the builder maps it to a package).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner(pub u32);

/// The content of a regular file.
#[derive(Debug, Clone)]
pub enum Content {
    /// Held in memory.
    Bytes(Arc<[u8]>),
    /// `size` bytes at `offset` of source file number `source` (an expanded package).
    Source {
        /// Source file index ([`FsTree::add_source`]).
        source: u32,
        /// Offset in the source file.
        offset: u64,
        /// Length.
        size: u64,
    },
}

impl Content {
    /// The length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Content::Bytes(b) => b.len() as u64,
            Content::Source { size, .. } => *size,
        }
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Vec<u8>> for Content {
    fn from(v: Vec<u8>) -> Self {
        Content::Bytes(v.into())
    }
}

/// What a node is.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A directory: entries by name (iterated in byte order).
    Dir(BTreeMap<String, NodeId>),
    /// A regular file.
    File(Content),
    /// A symbolic link and its target.
    Symlink(String),
    /// A character device (major, minor).
    CharDevice(u32, u32),
    /// A block device (major, minor).
    BlockDevice(u32, u32),
    /// A named pipe.
    Fifo,
}

impl Kind {
    /// A word for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Dir(_) => "directory",
            Kind::File(_) => "file",
            Kind::Symlink(_) => "symlink",
            Kind::CharDevice(..) => "character device",
            Kind::BlockDevice(..) => "block device",
            Kind::Fifo => "fifo",
        }
    }
}

/// Mode, owner, time and extended attributes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits with setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Modification time (seconds since the epoch).
    pub mtime: i64,
    /// Extended attributes, in order.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Meta {
    /// `root:root`, `mode`, time 0.
    pub fn root(mode: u32) -> Self {
        Meta {
            mode,
            ..Meta::default()
        }
    }

    /// The same with another mtime.
    pub fn with_mtime(mut self, mtime: i64) -> Self {
        self.mtime = mtime;
        self
    }
}

/// One node.
#[derive(Debug, Clone)]
pub struct Node {
    /// What it is.
    pub kind: Kind,
    /// Mode, owner, time, xattrs.
    pub meta: Meta,
    /// Who created it (`None`: the builder itself).
    pub owner: Option<Owner>,
    /// SHA-1 of the content (files) or the target (symlinks), when known.
    pub checksum: Option<[u8; 20]>,
    /// The directory holding it (for `..`; the first link for hard-linked files).
    parent: NodeId,
}

impl Node {
    /// A new node (its parent is set on insertion).
    pub fn new(kind: Kind, meta: Meta) -> Self {
        Node {
            kind,
            meta,
            owner: None,
            checksum: None,
            parent: ROOT,
        }
    }

    /// Sets the owner.
    pub fn owned_by(mut self, owner: Owner) -> Self {
        self.owner = Some(owner);
        self
    }

    /// Sets the checksum.
    pub fn with_checksum(mut self, sum: Option<[u8; 20]>) -> Self {
        self.checksum = sum;
        self
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, Kind::Dir(_))
    }
}

/// A whole filesystem in memory. File bodies either live in memory or are read on demand from
/// source files (expanded packages), so large images do not occupy memory.
#[derive(Debug, Clone)]
pub struct FsTree {
    nodes: Vec<Node>,
    sources: Vec<PathBuf>,
    /// What each source's content is, for layer cache keys ([`FsTree::add_source_with_id`]).
    source_ids: Vec<Option<[u8; 32]>>,
}

impl Default for FsTree {
    fn default() -> Self {
        Self::new()
    }
}

/// Splits a path into its components (leading `/` and empty or `.` components ignored).
pub(crate) fn components(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

/// `dir`, `name` of a path.
fn split_last(path: &str) -> Option<(String, &str)> {
    let parts: Vec<&str> = components(path).collect();
    let (last, dirs) = parts.split_last()?;
    Some((dirs.join("/"), last))
}

impl FsTree {
    /// An empty tree: a root directory, mode 0755, time 0.
    pub fn new() -> Self {
        FsTree {
            nodes: vec![Node::new(Kind::Dir(BTreeMap::new()), Meta::root(0o755))],
            sources: Vec::new(),
            source_ids: Vec::new(),
        }
    }

    /// Registers a file that [`Content::Source`] contents refer to; returns its number.
    pub fn add_source(&mut self, path: PathBuf) -> u32 {
        self.sources.push(path);
        self.source_ids.push(None);
        (self.sources.len() - 1) as u32
    }

    /// [`FsTree::add_source`] for a file whose whole content `id` identifies (for example a
    /// hash of the signed identity of the package it was expanded from): layers whose sources
    /// all have one can be keyed without reading them ([`crate::layer_key`]).
    pub fn add_source_with_id(&mut self, path: PathBuf, id: [u8; 32]) -> u32 {
        let n = self.add_source(path);
        self.source_ids[n as usize] = Some(id);
        n
    }

    /// The identity of a source file, if it was given one.
    pub fn source_id(&self, source: u32) -> Option<[u8; 32]> {
        self.source_ids.get(source as usize).copied().flatten()
    }

    /// The source files.
    pub fn sources(&self) -> &[PathBuf] {
        &self.sources
    }

    /// A node.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// A node, mutably.
    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id]
    }

    fn children(&self, dir: NodeId, path: &str) -> Result<&BTreeMap<String, NodeId>, FsError> {
        match &self.nodes[dir].kind {
            Kind::Dir(c) => Ok(c),
            _ => Err(FsError::NotADirectory {
                path: path.to_owned(),
            }),
        }
    }

    /// Resolves `path`, following symbolic links in every component (and in the last one if
    /// `follow_last`). Resolution never leaves the root: `..` at the root stays there and
    /// absolute link targets start at the root.
    pub fn resolve(&self, path: &str, follow_last: bool) -> Result<NodeId, FsError> {
        let mut cur = ROOT;
        let mut comps: VecDeque<String> = components(path).map(str::to_owned).collect();
        let mut hops = 0;
        while let Some(c) = comps.pop_front() {
            if c == ".." {
                cur = self.nodes[cur].parent;
                continue;
            }
            let child = *self
                .children(cur, path)?
                .get(&c)
                .ok_or_else(|| FsError::NotFound {
                    path: path.to_owned(),
                })?;
            if let Kind::Symlink(target) = &self.nodes[child].kind
                && (follow_last || !comps.is_empty())
            {
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(FsError::SymlinkLoop {
                        path: path.to_owned(),
                    });
                }
                for t in components(target).rev() {
                    comps.push_front(t.to_owned());
                }
                if target.starts_with('/') {
                    cur = ROOT;
                }
                continue;
            }
            cur = child;
        }
        Ok(cur)
    }

    /// The node at `path`, following every symbolic link; `None` if missing.
    pub fn get(&self, path: &str) -> Option<NodeId> {
        self.resolve(path, true).ok()
    }

    /// The node at `path` without following a final symbolic link; `None` if missing.
    pub fn get_nofollow(&self, path: &str) -> Option<NodeId> {
        self.resolve(path, false).ok()
    }

    /// Whether something exists at `path` (a dangling symlink exists).
    pub fn exists(&self, path: &str) -> bool {
        self.get_nofollow(path).is_some()
    }

    /// The directory that would hold `path` and the entry name.
    pub fn parent_of<'p>(&self, path: &'p str) -> Result<(NodeId, &'p str), FsError> {
        let (dir, name) = split_last(path).ok_or_else(|| FsError::InvalidPath {
            path: path.to_owned(),
        })?;
        // `..` cannot be the name of an entry: a tar entry named `x/..` is a traversal.
        if name == ".." || name.contains('\0') {
            return Err(FsError::InvalidPath {
                path: path.to_owned(),
            });
        }
        let d = self.resolve(&dir, true)?;
        self.children(d, path)?;
        Ok((d, name))
    }

    /// The entry `name` of directory `dir`, without following links.
    pub fn entry(&self, dir: NodeId, name: &str) -> Option<NodeId> {
        match &self.nodes[dir].kind {
            Kind::Dir(c) => c.get(name).copied(),
            _ => None,
        }
    }

    fn attach(&mut self, dir: NodeId, name: &str, mut node: Node) -> NodeId {
        let id = self.nodes.len();
        node.parent = dir;
        self.nodes.push(node);
        if let Kind::Dir(c) = &mut self.nodes[dir].kind {
            c.insert(name.to_owned(), id);
        }
        id
    }

    /// Creates every missing directory of `path` with `meta` (existing ones, reached through
    /// symbolic links too, are left alone) and returns the last one.
    pub fn mkdir_all(&mut self, path: &str, meta: &Meta) -> Result<NodeId, FsError> {
        let mut cur = ROOT;
        let mut walked = String::new();
        for c in components(path) {
            if !walked.is_empty() {
                walked.push('/');
            }
            walked.push_str(c);
            cur = match self.entry(cur, c) {
                // A plain directory: descend (resolving the whole prefix again for every
                // component made deep trees cubic to build).
                Some(id) if self.nodes[id].is_dir() => id,
                // A symbolic link (or something that is not a directory): resolve the prefix,
                // links and all.
                Some(_) => {
                    let id = self.resolve(&walked, true)?;
                    if !self.nodes[id].is_dir() {
                        return Err(FsError::NotADirectory { path: walked });
                    }
                    id
                }
                None => {
                    if c == ".." {
                        self.nodes[cur].parent
                    } else {
                        self.attach(cur, c, Node::new(Kind::Dir(BTreeMap::new()), meta.clone()))
                    }
                }
            };
        }
        Ok(cur)
    }

    /// Adds `node` at `path`; the parent directory must exist. Fails if the name is taken.
    pub fn insert(&mut self, path: &str, node: Node) -> Result<NodeId, FsError> {
        let (dir, name) = self.parent_of(path)?;
        if self.entry(dir, name).is_some() {
            return Err(FsError::Exists {
                path: path.to_owned(),
            });
        }
        Ok(self.attach(dir, name, node))
    }

    /// Replaces whatever is at `path` (not following a final link) by `node`.
    pub fn replace(&mut self, path: &str, node: Node) -> Result<NodeId, FsError> {
        let (dir, name) = self.parent_of(path)?;
        if let Kind::Dir(c) = &mut self.nodes[dir].kind {
            c.remove(name);
        }
        Ok(self.attach(dir, name, node))
    }

    /// Adds a hard link at `path` to the existing regular file `target`.
    pub fn link(&mut self, path: &str, target: NodeId) -> Result<(), FsError> {
        if !matches!(self.nodes[target].kind, Kind::File(_)) {
            return Err(FsError::HardLinkTarget {
                path: path.to_owned(),
                target: self.nodes[target].kind.describe(),
            });
        }
        let (dir, name) = self.parent_of(path)?;
        if self.entry(dir, name).is_some() {
            return Err(FsError::Exists {
                path: path.to_owned(),
            });
        }
        if let Kind::Dir(c) = &mut self.nodes[dir].kind {
            c.insert(name.to_owned(), target);
        }
        Ok(())
    }

    /// Removes the entry at `path` (not following a final link); a directory must be empty
    /// unless `recursive`.
    pub fn remove(&mut self, path: &str, recursive: bool) -> Result<(), FsError> {
        let (dir, name) = self.parent_of(path)?;
        let id = self.entry(dir, name).ok_or_else(|| FsError::NotFound {
            path: path.to_owned(),
        })?;
        if let Kind::Dir(c) = &self.nodes[id].kind
            && !c.is_empty()
            && !recursive
        {
            return Err(FsError::Exists {
                path: format!("{path} (not empty)"),
            });
        }
        if let Kind::Dir(c) = &mut self.nodes[dir].kind {
            c.remove(name);
        }
        Ok(())
    }

    /// Reads a file's content.
    pub fn read(&self, id: NodeId, path_for_errors: &str) -> Result<Vec<u8>, FsError> {
        match &self.nodes[id].kind {
            Kind::File(c) => self.read_content(c, path_for_errors),
            other => Err(FsError::TypeConflict {
                path: path_for_errors.to_owned(),
                existing: other.describe(),
                new: "file",
            }),
        }
    }

    /// Reads up to `len` bytes at `offset` of a file (fewer at its end; none past it), without
    /// reading the rest: for headers of large files.
    pub fn read_at(
        &self,
        id: NodeId,
        offset: u64,
        len: u64,
        path_for_errors: &str,
    ) -> Result<Vec<u8>, FsError> {
        let Kind::File(c) = &self.nodes[id].kind else {
            return Err(FsError::TypeConflict {
                path: path_for_errors.to_owned(),
                existing: self.nodes[id].kind.describe(),
                new: "file",
            });
        };
        let size = c.len();
        let start = offset.min(size);
        let len = len.min(size - start);
        match c {
            Content::Bytes(b) => Ok(b[start as usize..(start + len) as usize].to_vec()),
            Content::Source {
                source,
                offset: base,
                ..
            } => self.read_content(
                &Content::Source {
                    source: *source,
                    offset: base + start,
                    size: len,
                },
                path_for_errors,
            ),
        }
    }

    /// Reads the file at `path` (following links).
    pub fn read_path(&self, path: &str) -> Result<Vec<u8>, FsError> {
        let id = self.resolve(path, true)?;
        self.read(id, path)
    }

    /// Reads a [`Content`].
    pub fn read_content(&self, c: &Content, path_for_errors: &str) -> Result<Vec<u8>, FsError> {
        match c {
            Content::Bytes(b) => Ok(b.to_vec()),
            Content::Source {
                source,
                offset,
                size,
            } => {
                let p = &self.sources[*source as usize];
                let err = |e| FsError::Source {
                    path: path_for_errors.to_owned(),
                    source_path: p.display().to_string(),
                    source: e,
                };
                let f = fs_err::File::open(p).map_err(err)?;
                let mut buf = vec![0u8; *size as usize];
                f.file().read_exact_at(&mut buf, *offset).map_err(err)?;
                Ok(buf)
            }
        }
    }

    /// Opens the source file of a [`Content::Source`].
    pub fn source_path(&self, source: u32) -> &Path {
        &self.sources[source as usize]
    }

    /// Writes a file the builder owns at `path` without following a symbolic link in the last
    /// component: a link there (a package may plant one) is replaced by the file, so that the
    /// write cannot be redirected into another file of the image. An existing regular file
    /// gets the new content and keeps its metadata and owner; a missing one is created with
    /// `meta`.
    pub fn write_file_nofollow(
        &mut self,
        path: &str,
        data: Vec<u8>,
        meta: &Meta,
    ) -> Result<NodeId, FsError> {
        match self.resolve(path, false) {
            Ok(id) if matches!(self.nodes[id].kind, Kind::Symlink(_)) => {
                let full: Vec<&str> = components(path).collect();
                self.replace(
                    &full.join("/"),
                    Node::new(Kind::File(data.into()), meta.clone()),
                )
            }
            _ => self.write_file(path, data, meta),
        }
    }

    /// Writes a file at `path` (following links to an existing file): creates it with `meta`
    /// when missing, otherwise replaces its content and keeps its metadata and owner.
    pub fn write_file(
        &mut self,
        path: &str,
        data: Vec<u8>,
        meta: &Meta,
    ) -> Result<NodeId, FsError> {
        match self.resolve(path, true) {
            Ok(id) => match &mut self.nodes[id].kind {
                Kind::File(c) => {
                    *c = data.into();
                    self.nodes[id].checksum = None;
                    Ok(id)
                }
                other => Err(FsError::TypeConflict {
                    path: path.to_owned(),
                    existing: other.describe(),
                    new: "file",
                }),
            },
            Err(FsError::NotFound { .. }) => {
                let (dir, name) = split_last(path).ok_or_else(|| FsError::InvalidPath {
                    path: path.to_owned(),
                })?;
                self.mkdir_all(&dir, &Meta::root(0o755))?;
                self.insert(
                    &format!("{dir}/{name}"),
                    Node::new(Kind::File(data.into()), meta.clone()),
                )
            }
            Err(e) => Err(e),
        }
    }

    /// Every path of the tree (root excluded), pre-order, entries of a directory in byte
    /// order, with its node.
    pub fn walk(&self) -> Vec<(String, NodeId)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        self.walk_into(ROOT, "", &mut out);
        out
    }

    fn walk_into(&self, dir: NodeId, prefix: &str, out: &mut Vec<(String, NodeId)>) {
        if let Kind::Dir(children) = &self.nodes[dir].kind {
            for (name, &id) in children {
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}/{name}")
                };
                out.push((path.clone(), id));
                if self.nodes[id].is_dir() {
                    self.walk_into(id, &path, out);
                }
            }
        }
    }

    /// Every path below `path` (included), without following links.
    pub fn walk_from(&self, path: &str) -> Result<Vec<(String, NodeId)>, FsError> {
        let id = self.resolve(path, true)?;
        let norm: Vec<&str> = components(path).collect();
        let norm = norm.join("/");
        let mut out = vec![(norm.clone(), id)];
        self.walk_into(id, &norm, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
