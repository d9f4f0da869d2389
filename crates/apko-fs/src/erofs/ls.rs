//! `apko erofs ls` output: the `tar tv`-like table of the Go apko (`pkg/erofsmount/ls.go`).

use super::entry::{ErofsEntry, ErofsKind};

impl ErofsEntry {
    /// The 10-character `ls -l` mode string (`drwxr-xr-x`, `-rwsr-xr-x`, `drwxrwxrwt`).
    pub fn mode_string(&self) -> String {
        let mut out = *b"----------";
        out[0] = match self.kind {
            ErofsKind::File => b'-',
            ErofsKind::Dir => b'd',
            ErofsKind::Symlink(_) => b'l',
            ErofsKind::Fifo => b'p',
            ErofsKind::Socket => b's',
            ErofsKind::CharDevice(..) => b'c',
            ErofsKind::BlockDevice(..) => b'b',
        };
        for (i, ch) in b"rwxrwxrwx".iter().enumerate() {
            if self.mode & (1 << (8 - i)) != 0 {
                out[i + 1] = *ch;
            }
        }
        for (bit, col, set, only) in [
            (0o4000, 3, b's', b'S'),
            (0o2000, 6, b's', b'S'),
            (0o1000, 9, b't', b'T'),
        ] {
            if self.mode & bit != 0 {
                out[col] = if out[col] == b'x' { set } else { only };
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The size column: `major,minor` for devices, 0 for directories, else the size.
    pub fn size_column(&self) -> String {
        match self.kind {
            ErofsKind::CharDevice(ma, mi) | ErofsKind::BlockDevice(ma, mi) => format!("{ma},{mi}"),
            ErofsKind::Dir => "0".into(),
            _ => self.size.to_string(),
        }
    }
}

/// `YYYY-MM-DD HH:MM` in UTC.
fn utc_minutes(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Renders `entries` as `apko erofs ls` prints them: one line per entry, `MODE  UID/GID  SIZE
/// YYYY-MM-DD HH:MM  PATH[ -> TARGET]`, the first four columns padded to their widest cell plus
/// two spaces (Go's `text/tabwriter` with padding 2).
pub fn format_ls(entries: &[ErofsEntry]) -> String {
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|e| {
            let mut name = e.path.clone();
            if let ErofsKind::Symlink(t) = &e.kind {
                name.push_str(" -> ");
                name.push_str(t);
            }
            [
                e.mode_string(),
                format!("{}/{}", e.uid, e.gid),
                e.size_column(),
                utc_minutes(e.mtime),
                name,
            ]
        })
        .collect();
    let mut widths = [0usize; 4];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        for (cell, w) in r.iter().zip(widths) {
            out.push_str(cell);
            out.extend(std::iter::repeat_n(' ', w + 2 - cell.chars().count()));
        }
        out.push_str(&r[4]);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: ErofsKind, mode: u32, size: u64) -> ErofsEntry {
        ErofsEntry {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            size,
            mtime: 1_776_453_420, // 2026-04-17 19:17 UTC
            mtime_nsec: 0,
            nlink: 1,
            nid: 0,
            xattrs: Vec::new(),
        }
    }

    #[test]
    fn lines_match_apkos_listing() {
        let mut whatis = entry("usr/share/man/whatis", ErofsKind::File, 0o644, 1183);
        (whatis.uid, whatis.gid) = (13, 15);
        let entries = [
            entry("bin", ErofsKind::Symlink("usr/bin".into()), 0o777, 7),
            entry("dev", ErofsKind::Dir, 0o755, 27),
            entry("dev/null", ErofsKind::CharDevice(1, 3), 0o666, 0),
            entry("tmp", ErofsKind::Dir, 0o1777, 27),
            entry("usr/bin/sudo", ErofsKind::File, 0o4755, 178_528),
            whatis,
        ];
        let want = "\
lrwxrwxrwx  0/0    7       2026-04-17 19:17  bin -> usr/bin
drwxr-xr-x  0/0    0       2026-04-17 19:17  dev
crw-rw-rw-  0/0    1,3     2026-04-17 19:17  dev/null
drwxrwxrwt  0/0    0       2026-04-17 19:17  tmp
-rwsr-xr-x  0/0    178528  2026-04-17 19:17  usr/bin/sudo
-rw-r--r--  13/15  1183    2026-04-17 19:17  usr/share/man/whatis
";
        assert_eq!(format_ls(&entries), want);
        assert_eq!(format_ls(&[]), "");
    }

    #[test]
    fn special_bits_without_execute_are_capital() {
        let e = entry("x", ErofsKind::File, 0o7644, 0);
        assert_eq!(e.mode_string(), "-rwSr-Sr-T");
        let p = entry("p", ErofsKind::Fifo, 0o600, 0);
        assert_eq!(p.mode_string(), "prw-------");
        let b = entry("sda", ErofsKind::BlockDevice(8, 0), 0o660, 0);
        assert_eq!(b.size_column(), "8,0");
    }

    #[test]
    fn dates_are_utc_civil() {
        assert_eq!(utc_minutes(0), "1970-01-01 00:00");
        assert_eq!(utc_minutes(951_782_400), "2000-02-29 00:00");
        assert_eq!(utc_minutes(-60), "1969-12-31 23:59");
        assert_eq!(utc_minutes(1_700_000_000), "2023-11-14 22:13");
    }
}
