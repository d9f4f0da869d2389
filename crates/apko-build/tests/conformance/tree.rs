//! A file tree read from a `.tar.gz` with the `tar` crate (an independent reader), and the
//! differences between two trees.

use sha2::Digest as _;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    kind: char,
    mode: u32,
    owner: (u64, u64),
    mtime: u64,
    /// File SHA-256, link target, or device numbers.
    content: String,
    xattrs: BTreeMap<String, Vec<u8>>,
    data: Option<Vec<u8>>,
}

pub(crate) struct Tree {
    nodes: BTreeMap<String, Node>,
}

/// One difference: a path only on one side, or one field of a path that differs.
pub(crate) enum Diff {
    OnlyReference(String),
    OnlyOurs(String),
    Differs {
        path: String,
        field: &'static str,
        reference: String,
        ours: String,
    },
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diff::OnlyReference(p) => write!(f, "only-official {p}"),
            Diff::OnlyOurs(p) => write!(f, "only-ours {p}"),
            Diff::Differs { path, field, .. } => write!(f, "differs {path}: {field}"),
        }
    }
}

impl Diff {
    /// The difference with both values.
    pub(crate) fn detail(&self) -> String {
        match self {
            Diff::Differs {
                reference, ours, ..
            } => format!("{self} (official {reference}, ours {ours})"),
            _ => self.to_string(),
        }
    }
}

fn normalise(name: &str) -> String {
    let name = name.strip_prefix("./").unwrap_or(name);
    name.trim_end_matches('/').to_owned()
}

impl Tree {
    pub(crate) fn from_tar_gz(path: &Path) -> Tree {
        let file = fs_err::File::open(path).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let mut nodes = BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = normalise(&entry.path().unwrap().to_string_lossy());
            if name.is_empty() || name == "." {
                continue;
            }
            let header = entry.header().clone();
            let mut xattrs = BTreeMap::new();
            if let Some(exts) = entry.pax_extensions().unwrap() {
                for ext in exts {
                    let ext = ext.unwrap();
                    if let Some(k) = ext.key().unwrap().strip_prefix("SCHILY.xattr.") {
                        xattrs.insert(k.to_owned(), ext.value_bytes().to_vec());
                    }
                }
            }
            let link = entry
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (kind, content, data) = match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let mut data = Vec::new();
                    entry.read_to_end(&mut data).unwrap();
                    let sum = hex::encode(sha2::Sha256::digest(&data));
                    ('f', sum, Some(data))
                }
                tar::EntryType::Directory => ('d', String::new(), None),
                tar::EntryType::Symlink => ('l', link, None),
                tar::EntryType::Link => ('h', normalise(&link), None),
                tar::EntryType::Char => (
                    'c',
                    format!(
                        "{}:{}",
                        header.device_major().unwrap().unwrap_or(0),
                        header.device_minor().unwrap().unwrap_or(0)
                    ),
                    None,
                ),
                tar::EntryType::Block => ('b', String::new(), None),
                tar::EntryType::Fifo => ('p', String::new(), None),
                other => panic!("{}: unexpected tar entry type {other:?}", path.display()),
            };
            nodes.insert(
                name,
                Node {
                    kind,
                    mode: header.mode().unwrap() & 0o7777,
                    owner: (header.uid().unwrap(), header.gid().unwrap()),
                    mtime: header.mtime().unwrap(),
                    content,
                    xattrs,
                    data,
                },
            );
        }
        Tree { nodes }
    }

    pub(crate) fn paths(&self) -> BTreeSet<&str> {
        self.nodes.keys().map(String::as_str).collect()
    }

    pub(crate) fn content(&self, path: &str) -> Option<&[u8]> {
        self.nodes.get(path).and_then(|n| n.data.as_deref())
    }

    /// Differences from `self` (the reference) to `ours`.
    pub(crate) fn diff(&self, ours: &Tree, compare_mtime: bool) -> Vec<Diff> {
        let mut out = Vec::new();
        let paths: BTreeSet<&String> = self.nodes.keys().chain(ours.nodes.keys()).collect();
        for path in paths {
            match (self.nodes.get(path), ours.nodes.get(path)) {
                (Some(_), None) => out.push(Diff::OnlyReference(path.clone())),
                (None, Some(_)) => out.push(Diff::OnlyOurs(path.clone())),
                (Some(a), Some(b)) => {
                    let mut field = |field: &'static str, x: String, y: String| {
                        if x != y {
                            out.push(Diff::Differs {
                                path: path.clone(),
                                field,
                                reference: x,
                                ours: y,
                            });
                        }
                    };
                    if a.kind != b.kind {
                        field("type", a.kind.to_string(), b.kind.to_string());
                        continue;
                    }
                    field("mode", format!("{:o}", a.mode), format!("{:o}", b.mode));
                    field(
                        "owner",
                        format!("{}:{}", a.owner.0, a.owner.1),
                        format!("{}:{}", b.owner.0, b.owner.1),
                    );
                    field("content", a.content.clone(), b.content.clone());
                    field(
                        "xattrs",
                        format!("{:?}", a.xattrs),
                        format!("{:?}", b.xattrs),
                    );
                    if compare_mtime {
                        field("mtime", a.mtime.to_string(), b.mtime.to_string());
                    }
                }
                (None, None) => unreachable!(),
            }
        }
        out
    }
}
