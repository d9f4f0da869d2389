//! Users and groups of the image's `/etc/passwd` and `/etc/group`.

use apko_fs::FsTree;
use std::collections::BTreeMap;

/// User and group ids from the image's `/etc/passwd` and `/etc/group` (first entry wins).
#[derive(Debug, Default, Clone)]
pub(crate) struct Ids {
    pub(crate) users: BTreeMap<String, u32>,
    pub(crate) groups: BTreeMap<String, u32>,
    pub(crate) user_names: BTreeMap<u32, String>,
    pub(crate) group_names: BTreeMap<u32, String>,
    /// Every account of `/etc/passwd` with numeric ids and a home field, in file order.
    pub(crate) homes: Vec<Home>,
}

/// An account's home directory and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Home {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) path: String,
}

impl Ids {
    pub(crate) fn read(fs: &FsTree) -> Ids {
        let mut homes = Vec::new();
        let mut parse = |path: &str| -> (BTreeMap<String, u32>, BTreeMap<u32, String>) {
            let mut by_name = BTreeMap::new();
            let mut by_id = BTreeMap::new();
            if let Ok(text) = fs.read_path(path) {
                for l in String::from_utf8_lossy(&text).lines() {
                    if path == "etc/passwd" {
                        let f: Vec<&str> = l.split(':').collect();
                        if let [_, _, uid, gid, _, home, ..] = f[..]
                            && let (Ok(uid), Ok(gid)) = (uid.parse(), gid.parse())
                        {
                            homes.push(Home {
                                uid,
                                gid,
                                path: home.to_owned(),
                            });
                        }
                    }
                    let mut f = l.split(':');
                    let (Some(name), Some(id)) =
                        (f.next(), f.nth(1).and_then(|x| x.parse::<u32>().ok()))
                    else {
                        continue;
                    };
                    by_name.entry(name.to_owned()).or_insert(id);
                    by_id.entry(id).or_insert_with(|| name.to_owned());
                }
            }
            (by_name, by_id)
        };
        let (users, user_names) = parse("etc/passwd");
        let (groups, group_names) = parse("etc/group");
        Ids {
            users,
            groups,
            user_names,
            group_names,
            homes,
        }
    }

    /// apk's rule: the name if the target system knows it, else the number.
    pub(crate) fn owner(&self, uname: &str, uid: u32, gname: &str, gid: u32) -> (u32, u32) {
        (
            self.users.get(uname).copied().unwrap_or(uid),
            self.groups.get(gname).copied().unwrap_or(gid),
        )
    }
}
