use super::*;
use crate::info::PackageInfo;

mod oracle;
mod props;

/// A fluent builder for test indexes.
#[derive(Default)]
struct Index(Vec<PackageInfo>);

impl Index {
    fn pkg(mut self, name: &str, version: &str) -> Self {
        let mut p = PackageInfo::new(name.parse().unwrap(), version.parse().unwrap());
        p.installed_size = 1;
        self.0.push(p);
        self
    }
    fn last(&mut self) -> &mut PackageInfo {
        self.0.last_mut().unwrap()
    }
    fn depends(mut self, deps: &str) -> Self {
        self.last().depends = Dependency::parse_list(deps).unwrap();
        self
    }
    fn provides(mut self, p: &str) -> Self {
        self.last().provides = crate::dependency::Provide::parse_list(p).unwrap();
        self
    }
    fn install_if(mut self, deps: &str) -> Self {
        self.last().install_if = Dependency::parse_list(deps).unwrap();
        self
    }
    fn priority(mut self, k: u32) -> Self {
        self.last().provider_priority = Some(k);
        self
    }
}

fn world(s: &str) -> Vec<Dependency> {
    Dependency::parse_list(s).unwrap()
}

fn names(res: &Resolution<'_>) -> Vec<String> {
    res.packages.iter().map(|p| p.info.name_version()).collect()
}

fn resolve_one(index: &Index, w: &str) -> Result<Vec<String>, SolveError> {
    resolve(&world(w), &[Repository::new("test", &index.0)]).map(|r| names(&r))
}

#[test]
fn dependencies_come_first_and_newest_wins() {
    let idx = Index::default()
        .pkg("app", "1.0-r0")
        .depends("libfoo>=2 so:libbar.so.1")
        .pkg("libfoo", "1.0-r0")
        .pkg("libfoo", "2.0-r0")
        .pkg("libfoo", "2.1-r0")
        .pkg("libbar", "3-r0")
        .provides("so:libbar.so.1=3");
    assert_eq!(
        resolve_one(&idx, "app").unwrap(),
        ["libfoo-2.1-r0", "libbar-3-r0", "app-1.0-r0"]
    );
    assert_eq!(
        resolve_one(&idx, "app libfoo<2.1").unwrap(),
        ["libfoo-2.0-r0", "libbar-3-r0", "app-1.0-r0"]
    );
}

#[test]
fn virtual_provides_need_priority_or_a_name() {
    let idx = Index::default()
        .pkg("mailx", "1")
        .provides("mail-reader")
        .pkg("mutt", "1")
        .provides("mail-reader")
        .priority(10);
    assert_eq!(resolve_one(&idx, "mail-reader").unwrap(), ["mutt-1"]);
    let idx = Index::default().pkg("mailx", "1").provides("mail-reader");
    let err = resolve_one(&idx, "mail-reader").unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("mail-reader (virtual)") && text.contains("provided by: mailx"),
        "{text}"
    );
    assert!(text.contains("only provided virtually"), "{text}");
}

#[test]
fn install_if_follows_its_trigger() {
    let idx = Index::default()
        .pkg("openrc", "1")
        .pkg("postgresql", "14")
        .pkg("postgresql-openrc", "14")
        .install_if("openrc postgresql=14");
    assert_eq!(resolve_one(&idx, "postgresql").unwrap(), ["postgresql-14"]);
    assert_eq!(
        resolve_one(&idx, "postgresql openrc").unwrap(),
        ["openrc-1", "postgresql-14", "postgresql-openrc-14"]
    );
}

#[test]
fn conflicts_and_errors_explain_the_chain() {
    let idx = Index::default()
        .pkg("app", "1")
        .depends("mid")
        .pkg("mid", "1")
        .depends("libfoo>=3")
        .pkg("libfoo", "2");
    let err = resolve_one(&idx, "app").unwrap_err();
    let SolveError::Unsatisfiable { report, why, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        report.contains("libfoo-2:\n    breaks: mid-1[libfoo>=3]"),
        "{report}"
    );
    assert!(
        why.iter()
            .any(|w| w.contains("world[app] → app-1 [mid] → mid-1 [libfoo>=3] → libfoo-2")),
        "{why:?}"
    );
    let idx = Index::default().pkg("a", "1").pkg("b", "1").depends("!a");
    assert!(resolve_one(&idx, "a b").is_err());
    assert_eq!(resolve_one(&idx, "b").unwrap(), ["b-1"]);
    let err = resolve_one(&idx, "nothere").unwrap_err();
    assert!(
        err.to_string().contains("nothere (no such package)"),
        "{err}"
    );
}

#[test]
fn tags_pin_repositories() {
    let main = Index::default().pkg("a", "1");
    let edge = Index::default().pkg("a", "2");
    let repos = [
        Repository::new("main", &main.0),
        Repository::tagged("edge", "edge", &edge.0),
    ];
    let r = resolve(&world("a"), &repos).unwrap();
    assert_eq!(names(&r), ["a-1"]);
    let r = resolve(&world("a@edge"), &repos).unwrap();
    assert_eq!(names(&r), ["a-2"]);
    assert_eq!(r.packages[0].tag.as_deref(), Some("edge"));
    assert_eq!(r.packages[0].repository, 1);
    assert!(matches!(
        resolve(&world("a@nope"), &repos),
        Err(SolveError::Request(RequestError::MissingTag { .. }))
    ));
}

#[test]
fn earlier_repository_wins_a_tie() {
    let one = Index::default().pkg("a", "1");
    let two = Index::default().pkg("a", "1");
    let r = resolve(
        &world("a"),
        &[
            Repository::new("one", &one.0),
            Repository::new("two", &two.0),
        ],
    )
    .unwrap();
    assert_eq!(r.packages[0].repository, 0);
}

#[test]
fn multi_arch_picks_common_versions() {
    let x86 = Index::default()
        .pkg("app", "2")
        .depends("lib")
        .pkg("app", "1")
        .depends("lib")
        .pkg("lib", "1");
    let arm = Index::default()
        .pkg("app", "1")
        .depends("lib")
        .pkg("lib", "1")
        .pkg("armonly", "1");
    let archs = [
        ArchRequest {
            arch: "x86_64".into(),
            repositories: vec![Repository::new("x", &x86.0)],
        },
        ArchRequest {
            arch: "aarch64".into(),
            repositories: vec![Repository::new("a", &arm.0)],
        },
    ];
    let res = resolve_archs(&world("app"), &archs).unwrap();
    assert_eq!(names(&res[0]), ["lib-1", "app-1"]);
    assert_eq!(names(&res[1]), ["lib-1", "app-1"]);
    // A name only one architecture knows is not constrained there, and missing elsewhere.
    let err = resolve_archs(&world("armonly"), &archs).unwrap_err();
    assert_eq!(err.arch, "x86_64");
}

#[test]
fn deep_dependency_chains_do_not_overflow_the_stack() {
    // 30 000 packages in one chain: the recursive walks run on the solver's own large stack.
    const N: usize = 10_000;
    let mut idx = Index::default();
    for i in 0..N {
        idx = idx.pkg(&format!("a{i}"), "1-r0");
        if i + 1 < N {
            idx = idx.depends(&format!("a{}", i + 1));
        }
    }
    let got = resolve_one(&idx, "a0").unwrap();
    assert_eq!(got.len(), N);
    assert_eq!(got[0], format!("a{}-1-r0", N - 1), "dependencies first");
}
