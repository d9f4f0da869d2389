//! `dot`: a Graphviz digraph of the resolved dependencies of one architecture, built in the
//! order apko builds it and written as `github.com/tmc/dot` writes it.

use crate::render::CliError;
use crate::show::{announce, arch_order, out_line};
use apko_build::{BuildError, BuildRequest, Builder, Reporter, ResolvedPackage};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// A node: its name and attributes (written sorted by key).
#[derive(Debug, Clone)]
struct Node {
    name: String,
    attrs: BTreeMap<&'static str, String>,
}

#[derive(Debug, Clone)]
enum Item {
    Node(usize),
    Edge {
        from: usize,
        to: usize,
        label: Option<String>,
    },
}

/// A digraph whose nodes and edges are written in the order they were added.
#[derive(Debug, Default)]
struct Graph {
    nodes: Vec<Node>,
    by_name: HashMap<String, usize>,
    items: Vec<Item>,
}

impl Graph {
    /// The node named `name`, added if it is new.
    fn node(&mut self, name: &str) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        let i = self.nodes.len();
        self.nodes.push(Node {
            name: name.to_owned(),
            attrs: BTreeMap::new(),
        });
        self.by_name.insert(name.to_owned(), i);
        self.items.push(Item::Node(i));
        i
    }

    fn set(&mut self, node: usize, key: &'static str, value: &str) {
        self.nodes[node].attrs.insert(key, value.to_owned());
    }

    fn edge(&mut self, from: usize, to: usize) {
        self.items.push(Item::Edge {
            from,
            to,
            label: None,
        });
    }

    /// The graph as `tmc/dot` writes `digraph images` with `rankdir=LR`.
    fn render(&self) -> String {
        let mut out = String::from("digraph images {\ngraph [\n  rankdir=LR;\n];\n");
        for item in &self.items {
            match item {
                Item::Node(i) => {
                    let n = &self.nodes[*i];
                    out.push_str(&quote(&n.name));
                    if !n.attrs.is_empty() {
                        let attrs: Vec<String> = n
                            .attrs
                            .iter()
                            .map(|(k, v)| {
                                if *k == "label"
                                    && v.len() > 4
                                    && v.starts_with('<')
                                    && v.ends_with('>')
                                {
                                    format!("{k}={v}")
                                } else {
                                    format!("{k}={}", quote(v))
                                }
                            })
                            .collect();
                        out.push_str(&format!(" [{}]", attrs.join(", ")));
                    }
                    out.push(';');
                }
                Item::Edge { from, to, label } => {
                    out.push_str(&format!(
                        "{} -> {}",
                        quote(&self.nodes[*from].name),
                        quote(&self.nodes[*to].name)
                    ));
                    if let Some(l) = label {
                        out.push_str(&format!(" [ label={} ]", quote(l)));
                    }
                }
            }
            out.push('\n');
        }
        out.push_str("}\n");
        out
    }
}

/// `tmc/dot`'s `QuoteIfNecessary`: keywords and identifiers as they are, anything else in
/// double quotes with `"`, newlines and carriage returns escaped.
fn quote(s: &str) -> String {
    const KEYWORDS: [&str; 6] = ["graph", "digraph", "subgraph", "node", "edge", "strict"];
    let first_ok = s.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic());
    let quoted =
        s.len() > 2 && s.starts_with('"') && s.ends_with('"') && !s[1..s.len() - 1].contains('\n');
    // `^[_a-zA-Z][a-zA-Z0-9_,:"]*[a-zA-Z0-9_,"]+$` and `^[_a-zA-Z][a-zA-Z0-9_,]*$`.
    let with_port = first_ok
        && s.len() >= 2
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_,:\"".contains(c))
        && !s.ends_with(':');
    let ident = first_ok
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_,".contains(c));
    if KEYWORDS.contains(&s) || quoted || with_port || ident {
        return s.to_owned();
    }
    format!(
        "\"{}\"",
        s.replace('"', "\\\"")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
    )
}

/// The part of a dependency before its first `=` (else its first `~`), as apko cuts it.
fn cut(spec: &str) -> Option<&str> {
    spec.split_once('=')
        .or_else(|| spec.split_once('~'))
        .map(|(before, _)| before)
}

/// apko's graph of `packages` (in install order) under the configuration node `config`
/// for the world `world` (as configured); `error`: resolution failed, drawn as its chain.
fn graph(
    config: &str,
    world: &[String],
    packages: &[ResolvedPackage],
    span: bool,
    error: Option<&BuildError>,
) -> Graph {
    let mut g = Graph::default();
    let mut edges: HashSet<String> = HashSet::new();
    let mut deps: HashSet<String> = HashSet::new();
    let file = g.node(config);
    for spec in world {
        let n = g.node(spec);
        g.edge(file, n);
        if let Some(before) = cut(spec) {
            let p = g.node(before);
            g.edge(n, p);
            deps.insert(before.to_owned());
        } else {
            deps.insert(spec.clone());
        }
    }
    for pkg in packages {
        let n = g.node(&pkg.name);
        g.set(n, "label", &format!("{}-{}", pkg.name, pkg.version));
        g.set(n, "tooltip", &pkg.description);
        for dep in &pkg.dependencies {
            let dep = cut(dep).unwrap_or(dep);
            let d = g.node(dep);
            if (!span || !edges.contains(dep)) && pkg.name != dep {
                g.edge(n, d);
                edges.insert(dep.to_owned());
            }
            deps.insert(dep.to_owned());
        }
    }
    for pkg in packages {
        let n = g.node(&pkg.name);
        g.set(n, "label", &format!("{}-{}", pkg.name, pkg.version));
        if !pkg.description.is_empty() {
            g.set(n, "tooltip", &pkg.description);
        }
        for prov in &pkg.provides {
            if !deps.contains(prov) {
                if let Some(before) = cut(prov).filter(|b| deps.contains(*b)) {
                    let p = g.node(before);
                    g.set(p, "shape", "rect");
                    g.edge(p, n);
                }
                continue;
            }
            let p = g.node(prov);
            if !span || !edges.contains(&pkg.name) {
                g.edge(p, n);
                edges.insert(pkg.name.clone());
            }
        }
    }
    if let Some(e) = error {
        let mut parent = g.node("❌ error");
        let mut cur: Option<&dyn std::error::Error> = Some(e);
        let mut last = String::new();
        while let Some(c) = cur {
            let text = c.to_string();
            if text != last {
                let n = g.node(&format!("❌ {text}"));
                g.edge(parent, n);
                parent = n;
            }
            last = text;
            cur = c.source();
        }
    }
    g
}

/// `apko dot CONFIG`: resolves the first architecture (apko's order) and prints the graph.
/// A failed resolution is logged and drawn; the command still succeeds, as apko's does.
pub(crate) fn dot(
    mut req: BuildRequest,
    config: &str,
    span: bool,
    web: bool,
    reporter: Arc<dyn Reporter>,
) -> Result<(), CliError> {
    if web {
        return Err(CliError::usage(
            "--web: serving the graph to a browser is not supported by apko-rs",
            Some("render it with Graphviz instead: `apko dot CONFIG | dot -Tsvg > graph.svg`"),
        ));
    }
    let order = arch_order(&req);
    announce(&order);
    req.archs = Some(vec![order[0]]);
    let world: Vec<String> = req
        .config
        .config
        .contents
        .packages
        .iter()
        .chain(&req.extra_packages)
        .cloned()
        .collect();
    let (packages, error) = match Builder::new(req).with_reporter(reporter).resolve() {
        Ok(mut archs) => (archs.pop().map(|a| a.packages).unwrap_or_default(), None),
        Err(
            e @ (BuildError::Solve { .. }
            | BuildError::FetchIndex { .. }
            | BuildError::Index { .. }),
        ) => {
            tracing::error!("failed to get package list for image: {e}");
            (Vec::new(), Some(e))
        }
        Err(e) => return Err(e.into()),
    };
    let text = graph(config, &world, &packages, span, error.as_ref()).render();
    out_line(&text)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(
        name: &str,
        version: &str,
        desc: &str,
        deps: &[&str],
        provides: &[&str],
    ) -> ResolvedPackage {
        ResolvedPackage {
            name: name.into(),
            version: version.into(),
            url: String::new(),
            repository: String::new(),
            description: desc.into(),
            dependencies: deps.iter().map(|s| (*s).to_owned()).collect(),
            provides: provides.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn quoting() {
        for (s, q) in [
            ("busybox", "busybox"),
            ("cmd:sh", "cmd:sh"),
            ("LR", "LR"),
            ("node", "node"),
            ("a", "a"),
            ("apko.yaml", "\"apko.yaml\""),
            ("so:libc.so.6", "\"so:libc.so.6\""),
            ("glibc-locale-posix", "\"glibc-locale-posix\""),
            ("", "\"\""),
            ("\"x\"", "\"x\""),
            ("a:", "\"a:\""),
            ("say \"hi\"\nnow", "\"say \\\"hi\\\"\\nnow\""),
            ("1abc", "\"1abc\""),
        ] {
            assert_eq!(quote(s), q, "{s}");
        }
    }

    fn packages() -> Vec<ResolvedPackage> {
        vec![
            pkg(
                "musl",
                "1.2-r0",
                "the C library",
                &[],
                &["so:libc.musl.so.1=1"],
            ),
            pkg(
                "busybox",
                "1.36-r0",
                "",
                &["so:libc.musl.so.1", "musl>=1.2", "busybox"],
                &["cmd:sh=1.36-r0"],
            ),
            pkg("app", "1-r0", "App", &["cmd:sh", "musl"], &[]),
        ]
    }

    #[test]
    fn apko_s_construction_order() {
        let world = ["app".to_owned(), "busybox=1.36-r0".to_owned()];
        let text = graph("apko.yaml", &world, &packages(), false, None).render();
        assert_eq!(
            text,
            r#"digraph images {
graph [
  rankdir=LR;
];
"apko.yaml";
app [label="app-1-r0", tooltip=App];
"apko.yaml" -> app
"busybox=1.36-r0";
"apko.yaml" -> "busybox=1.36-r0"
busybox [label="busybox-1.36-r0", tooltip=""];
"busybox=1.36-r0" -> busybox
musl [label="musl-1.2-r0", tooltip="the C library"];
"so:libc.musl.so.1" [shape=rect];
busybox -> "so:libc.musl.so.1"
"musl>";
busybox -> "musl>"
cmd:sh [shape=rect];
app -> cmd:sh
app -> musl
"so:libc.musl.so.1" -> musl
cmd:sh -> busybox
}
"#
        );
    }

    #[test]
    fn spanning_tree_keeps_the_first_edge_into_each_dependency() {
        let mut p = packages();
        p.push(pkg("other", "1-r0", "x", &["musl", "cmd:sh"], &[]));
        let span = graph("c", &["app".to_owned()], &p, true, None).render();
        let full = graph("c", &["app".to_owned()], &p, false, None).render();
        assert!(full.contains("other -> musl\n") && full.contains("other -> cmd:sh\n"));
        assert!(!span.contains("other -> musl\n") && !span.contains("other -> cmd:sh\n"));
        assert!(span.contains("app -> musl\n"), "{span}");
    }

    #[test]
    fn errors_are_drawn() {
        let e = BuildError::NoRepositories;
        let text = graph("c", &["x".to_owned()], &[], false, Some(&e)).render();
        assert!(text.ends_with("\"❌ error\";\n\"❌ no repositories are configured\";\n\"❌ error\" -> \"❌ no repositories are configured\"\n}\n"), "{text}");
    }
}
