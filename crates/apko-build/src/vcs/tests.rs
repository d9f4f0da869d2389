use super::*;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// A hand-made repository: `HEAD` on `main`, the commit stored loose, `origin` at `remote`.
fn repo(dir: &Path, remote: &str) -> PathBuf {
    let git = dir.join(".git");
    fs_err::create_dir_all(git.join("refs/heads")).unwrap();
    fs_err::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    fs_err::write(git.join("refs/heads/main"), format!("{SHA}\n")).unwrap();
    loose(&git, SHA);
    fs_err::write(
        git.join("config"),
        format!("[core]\n\tbare = false\n[remote \"origin\"]\n\turl = {remote}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"),
    )
    .unwrap();
    git
}

fn loose(git: &Path, sha: &str) {
    let d = git.join("objects").join(&sha[..2]);
    fs_err::create_dir_all(&d).unwrap();
    fs_err::write(d.join(&sha[2..]), b"x").unwrap();
}

fn config_in(dir: &Path) -> PathBuf {
    let c = dir.join("apko.yaml");
    fs_err::write(&c, "contents: {}\n").unwrap();
    c
}

#[test]
fn loose_references_and_objects() {
    let d = tempfile::tempdir().unwrap();
    repo(d.path(), "git@github.com:org/repo.git");
    let got = probe_vcs_url(&config_in(d.path()), d.path()).unwrap();
    assert_eq!(got, format!("git+ssh://github.com/org/repo.git@{SHA}"));
    // A relative configuration path is taken from the top-level directory.
    let got = probe_vcs_url(Path::new("apko.yaml"), d.path()).unwrap();
    assert_eq!(got, format!("git+ssh://github.com/org/repo.git@{SHA}"));
}

/// A pack index of version 2 holding `names` (sorted), as git writes it.
fn pack_index(names: &[[u8; 20]]) -> Vec<u8> {
    let mut out = b"\xfftOc\0\0\0\x02".to_vec();
    for b in 0..=255u8 {
        let n = names.iter().filter(|s| s[0] <= b).count() as u32;
        out.extend_from_slice(&n.to_be_bytes());
    }
    for n in names {
        out.extend_from_slice(n);
    }
    out
}

#[test]
fn packed_references_and_packed_objects() {
    let d = tempfile::tempdir().unwrap();
    let git = repo(d.path(), "https://user:token@example.com/r.git");
    fs_err::remove_file(git.join("refs/heads/main")).unwrap();
    fs_err::remove_dir_all(git.join("objects")).unwrap();
    fs_err::write(
        git.join("packed-refs"),
        format!(
            "# pack-refs with: peeled fully-peeled sorted\n{SHA} refs/heads/main\n^{}\n",
            "f".repeat(40)
        ),
    )
    .unwrap();
    let mut names = vec![[0u8; 20], [0xffu8; 20]];
    let mut want = [0u8; 20];
    hex::decode_to_slice(SHA, &mut want).unwrap();
    names.push(want);
    names.push([
        0x01, 0x23, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    names.sort_unstable();
    fs_err::create_dir_all(git.join("objects/pack")).unwrap();
    fs_err::write(git.join("objects/pack/pack-1.idx"), pack_index(&names)).unwrap();
    assert_eq!(
        probe_vcs_url(&config_in(d.path()), d.path()).unwrap(),
        format!("https://example.com/r.git@{SHA}")
    );
    // The commit must exist.
    names.retain(|n| *n != want);
    fs_err::write(git.join("objects/pack/pack-1.idx"), pack_index(&names)).unwrap();
    let e = probe_vcs_url(&config_in(d.path()), d.path()).unwrap_err();
    assert!(e.to_string().contains("object not found"), "{e}");
}

#[test]
fn detached_head_and_gitdir_files() {
    let d = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let git = repo(store.path(), "ssh://git@example.com/x");
    fs_err::write(git.join("HEAD"), format!("{}\n", SHA.to_uppercase())).unwrap();
    fs_err::write(
        d.path().join(".git"),
        format!("gitdir: {}\n", git.display()),
    )
    .unwrap();
    assert_eq!(
        probe_vcs_url(&config_in(d.path()), d.path()).unwrap(),
        format!("ssh://example.com/x@{SHA}")
    );
}

#[test]
fn the_search_walks_up_to_the_top_level_directory_only() {
    let d = tempfile::tempdir().unwrap();
    repo(d.path(), "https://example.com/r");
    let sub = d.path().join("a/b");
    fs_err::create_dir_all(&sub).unwrap();
    let cfg = config_in(&sub);
    // From the checkout's root: found two levels up.
    assert!(probe_vcs_url(&cfg, d.path()).is_ok());
    // From `a`: the repository above is not looked at.
    let e = probe_vcs_url(&cfg, &d.path().join("a")).unwrap_err();
    assert!(matches!(e, VcsError::NotARepository(_)), "{e}");
    // A configuration outside the top-level directory.
    let other = tempfile::tempdir().unwrap();
    let e = probe_vcs_url(&cfg, other.path()).unwrap_err();
    assert!(matches!(e, VcsError::NotContained { .. }), "{e}");
    // A missing configuration.
    let e = probe_vcs_url(&d.path().join("nope.yaml"), d.path()).unwrap_err();
    assert!(matches!(e, VcsError::Start { .. }), "{e}");
}

#[test]
fn missing_remote_or_commit_gives_nothing() {
    let d = tempfile::tempdir().unwrap();
    let git = repo(d.path(), "https://example.com/r");
    fs_err::write(
        git.join("config"),
        "[remote \"upstream\"]\n\turl = https://x/y\n",
    )
    .unwrap();
    let e = probe_vcs_url(&config_in(d.path()), d.path()).unwrap_err();
    assert!(matches!(e, VcsError::NoRemote), "{e}");
    let d = tempfile::tempdir().unwrap();
    let git = repo(d.path(), "https://example.com/r");
    fs_err::write(git.join("HEAD"), "ref: refs/heads/unborn\n").unwrap();
    let e = probe_vcs_url(&config_in(d.path()), d.path()).unwrap_err();
    assert!(
        e.to_string()
            .contains("reference not found: refs/heads/unborn"),
        "{e}"
    );
}

#[test]
fn instead_of_rules_apply() {
    let d = tempfile::tempdir().unwrap();
    let git = repo(d.path(), "gh:org/repo");
    let text = fs_err::read_to_string(git.join("config")).unwrap();
    fs_err::write(
        git.join("config"),
        format!("{text}[url \"https://github.com/\"]\n\tinsteadOf = gh:\n[url \"https://example.com/\"]\n\tinsteadOf = g\n"),
    )
    .unwrap();
    assert_eq!(
        probe_vcs_url(&config_in(d.path()), d.path()).unwrap(),
        format!("https://github.com/org/repo@{SHA}")
    );
}

#[test]
fn git_configuration_syntax() {
    let text = "# comment\n[Remote \"Origin\"] ; c\n  URL = \"a b\" # trailing\n\turl=second\n[remote.origin]\nurl = legacy \\\n continued\n[core]\n\tbare\n\tvalue = x\\ty \\\"q\\\"  \n";
    let e = parse_config(text);
    let got: Vec<(&str, Option<&str>, &str, &str)> = e
        .iter()
        .map(|e| {
            (
                e.section.as_str(),
                e.subsection.as_deref(),
                e.key.as_str(),
                e.value.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("remote", Some("Origin"), "url", "a b"),
            ("remote", Some("Origin"), "url", "second"),
            ("remote", Some("origin"), "url", "legacy  continued"),
            ("core", None, "bare", "true"),
            ("core", None, "value", "x\ty \"q\""),
        ]
    );
}
