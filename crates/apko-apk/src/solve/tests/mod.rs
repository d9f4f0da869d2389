use super::*;
use crate::info::PackageInfo;
use proptest::prelude::*;

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
    assert_eq!(err.0, "x86_64");
}

// ---- property tests: every answer satisfies the constraints ----

const NAMES: [&str; 6] = ["a", "b", "c", "d", "e", "f"];

#[derive(Debug, Clone)]
struct GenPkg {
    name: usize,
    version: u8,
    deps: Vec<(usize, u8, u8, bool)>, // (name, op, version, conflict)
    provides: Vec<(usize, Option<u8>)>,
}

fn gen_pkg() -> impl Strategy<Value = GenPkg> {
    (
        0usize..NAMES.len(),
        1u8..4,
        prop::collection::vec(
            (
                0usize..NAMES.len(),
                0u8..4,
                1u8..4,
                prop::bool::weighted(0.15),
            ),
            0..3,
        ),
        prop::collection::vec((0usize..NAMES.len(), prop::option::of(1u8..4)), 0..2),
    )
        .prop_map(|(name, version, deps, provides)| GenPkg {
            name,
            version,
            // Only depend on later names: no cycles, so install order is checkable.
            deps: deps.into_iter().filter(|d| d.0 > name).collect(),
            provides: provides.into_iter().filter(|p| p.0 != name).collect(),
        })
}

fn dep_text(name: usize, op: u8, v: u8, conflict: bool) -> String {
    let op = ["", ">=", "<", "="][op as usize];
    let ver = if op.is_empty() {
        String::new()
    } else {
        v.to_string()
    };
    format!(
        "{}{}{op}{ver}",
        if conflict { "!" } else { "" },
        NAMES[name]
    )
}

fn build(pkgs: &[GenPkg], iif: &[(usize, u8)]) -> Vec<PackageInfo> {
    let mut out: Vec<PackageInfo> = Vec::new();
    for g in pkgs {
        let mut p = PackageInfo::new(
            NAMES[g.name].parse().unwrap(),
            g.version.to_string().parse().unwrap(),
        );
        if out
            .iter()
            .any(|o| o.name == p.name && o.version == p.version)
        {
            continue;
        }
        p.installed_size = 1;
        p.depends = g
            .deps
            .iter()
            .map(|&(n, o, v, c)| dep_text(n, o, v, c).parse().unwrap())
            .collect();
        p.provides = g
            .provides
            .iter()
            .map(|&(n, v)| {
                let s = v.map_or(format!("v{}", NAMES[n]), |v| format!("v{}={v}", NAMES[n]));
                s.parse().unwrap()
            })
            .collect();
        out.push(p);
    }
    // install_if packages without dependencies of their own.
    for (i, &(trigger, v)) in iif.iter().enumerate() {
        let mut p = PackageInfo::new(format!("iif{i}").parse().unwrap(), "1".parse().unwrap());
        p.installed_size = 1;
        p.install_if = vec![dep_text(trigger, 1, v, false).parse().unwrap()];
        out.push(p);
    }
    out
}

fn satisfied(dep: &Dependency, chosen: &[&PackageInfo]) -> bool {
    let matching = chosen.iter().any(|p| {
        p.provided_version(dep.name.as_str())
            .is_some_and(|v| dep.matches(v, p.checksum.as_ref()))
    });
    matching != dep.conflict
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn solutions_satisfy_every_constraint(
        pkgs in prop::collection::vec(gen_pkg(), 1..12),
        iif in prop::collection::vec((0usize..NAMES.len(), 1u8..4), 0..3),
        w in prop::collection::vec((0usize..NAMES.len(), 0u8..4, 1u8..4, prop::bool::weighted(0.1)), 1..4),
    ) {
        let index = build(&pkgs, &iif);
        let world: Vec<Dependency> = w.iter().map(|&(n, o, v, c)| dep_text(n, o, v, c).parse().unwrap()).collect();
        let repos = [Repository::new("gen", &index)];
        let Ok(res) = resolve(&world, &repos) else { return Ok(()) };
        let chosen: Vec<&PackageInfo> = res.packages.iter().map(|p| p.info).collect();
        for d in &world {
            prop_assert!(satisfied(d, &chosen), "world {} unsatisfied by {:?}", d, names(&res));
        }
        for (i, p) in chosen.iter().enumerate() {
            for d in &p.depends {
                prop_assert!(satisfied(d, &chosen), "{} needs {} in {:?}", p.name_version(), d, names(&res));
                if !d.conflict {
                    // Whatever satisfies a dependency is installed before its dependent.
                    let provider = chosen.iter().position(|q| q.provided_version(d.name.as_str()).is_some());
                    prop_assert!(provider.is_some_and(|j| j < i), "order {:?}", names(&res));
                }
            }
            // One package per name.
            prop_assert!(chosen.iter().filter(|q| q.name == p.name).count() == 1);
        }
        // Versioned provides are exclusive.
        for n in NAMES {
            let v = format!("v{n}");
            let versioned = chosen.iter().filter(|p| p.provides.iter().any(|q| q.name.as_str() == v && q.version.is_some())).count();
            prop_assert!(versioned <= 1, "two versioned providers of {v}: {:?}", names(&res));
        }
        // install_if packages whose condition holds are installed.
        for p in index.iter().filter(|p| !p.install_if.is_empty()) {
            let triggered = p.install_if.iter().all(|d| satisfied(d, &chosen));
            let installed = chosen.iter().any(|q| q.name == p.name);
            prop_assert_eq!(triggered, installed, "install_if of {} in {:?}", p.name, names(&res));
        }
    }
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
