//! Source locations of every node of a YAML document, to point errors found after parsing
//! (validation, package syntax) at the right line.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A line and column in a configuration file (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Line.
    pub line: u64,
    /// Column.
    pub column: u64,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// (key, key location, value location, value)
    Map(Vec<(String, Location, Location, Node)>),
    Seq(Vec<(Location, Node)>),
    Scalar,
}

struct Inner(Node);

impl<'de> Deserialize<'de> for Inner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor).map(Inner)
    }
}

struct NodeVisitor;

fn loc<T>(s: &Spanned<T>) -> Location {
    Location {
        line: s.referenced.line(),
        column: s.referenced.column(),
    }
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value: Spanned<Inner> = map.next_value()?;
            out.push((key.value.0.clone(), loc(&key), loc(&value), value.value.0));
        }
        Ok(Node::Map(out))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<Spanned<Inner>>()? {
            out.push((loc(&v), v.value.0));
        }
        Ok(Node::Seq(out))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
}

/// A mapping key rendered as text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The located tree of one document; `None` if the text does not parse (the typed parse
/// reports that error).
pub(crate) fn tree(text: &str) -> Option<Node> {
    serde_saphyr::from_str::<Inner>(text).ok().map(|i| i.0)
}

/// Finds a field path such as `contents.packages[2]` or `paths[0].permissions`.
pub(crate) fn find(node: &Node, path: &str) -> Option<Location> {
    let mut cur = node;
    let mut found = None;
    for part in path.split('.') {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            let Node::Map(entries) = cur else {
                return found;
            };
            let (_, _, l, n) = entries.iter().find(|(k, _, _, _)| k == key)?;
            found = Some(*l);
            cur = n;
        }
        for idx in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            let i: usize = idx.parse().ok()?;
            let Node::Seq(items) = cur else { return found };
            let (l, n) = items.get(i)?;
            found = Some(*l);
            cur = n;
        }
    }
    found
}

/// The field path (`contents.packages[1]`) of the deepest node at or before `at`.
pub(crate) fn path_at(node: &Node, at: Location) -> String {
    let before = |l: &Location| (l.line, l.column) <= (at.line, at.column);
    let mut path = String::new();
    let mut cur = node;
    loop {
        match cur {
            Node::Map(entries) => {
                let Some((k, _, vl, n)) = entries.iter().rev().find(|(_, kl, _, _)| before(kl))
                else {
                    break;
                };
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                if !before(vl) {
                    break;
                }
                cur = n;
            }
            Node::Seq(items) => {
                let Some((i, (_, n))) =
                    items.iter().enumerate().rev().find(|(_, (l, _))| before(l))
                else {
                    break;
                };
                path.push_str(&format!("[{i}]"));
                cur = n;
            }
            Node::Scalar => break,
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_paths() {
        let text = "contents:\n  packages:\n    - a\n    - b=1\npaths:\n  - path: /x\n    permissions: 0755\n";
        let t = tree(text).unwrap();
        assert_eq!(
            find(&t, "contents.packages[1]"),
            Some(Location { line: 4, column: 7 })
        );
        assert_eq!(find(&t, "paths[0].permissions").map(|l| l.line), Some(7));
        assert_eq!(find(&t, "contents.nothere"), None);
        assert_eq!(
            path_at(&t, Location { line: 4, column: 9 }),
            "contents.packages[1]"
        );
        assert_eq!(
            path_at(
                &t,
                Location {
                    line: 7,
                    column: 18
                }
            ),
            "paths[0].permissions"
        );
    }
}
