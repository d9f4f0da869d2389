//! RFC 3339 times on the command line (`--build-date`).

use crate::render::CliError;

/// Parses an RFC 3339 time (`2024-01-02T03:04:05Z`, fractions and offsets allowed) into
/// seconds since the epoch.
pub(crate) fn parse_rfc3339(s: &str) -> Result<i64, CliError> {
    let bad = || {
        CliError::usage(
            format!("--build-date `{s}` is not an RFC 3339 time"),
            Some("write it like 2024-01-02T03:04:05Z"),
        )
    };
    let b = s.as_bytes();
    if !s.is_ascii()
        || b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num =
        |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days_in_month = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        rest = &r[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        r if r.len() == 6 && (r.starts_with('+') || r.starts_with('-')) && &r[3..4] == ":" => {
            let sign = if r.starts_with('-') { -1 } else { 1 };
            let hours: i64 = r[1..3].parse().map_err(|_| bad())?;
            let minutes: i64 = r[4..6].parse().map_err(|_| bad())?;
            if hours > 23 || minutes > 59 {
                return Err(bad());
            }
            sign * (hours * 3600 + minutes * 60)
        }
        _ => return Err(bad()),
    };
    // Days from civil (Howard Hinnant).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    // A leap second or an offset can carry the time past 9999-12-31 or before year 0.
    if !apko_build::deps::apko_oci::rfc3339_representable(secs) {
        return Err(CliError::usage(
            format!("--build-date `{s}` is outside the years 0000–9999"),
            Some("write it like 2024-01-02T03:04:05Z"),
        ));
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000
        );
        assert_eq!(
            parse_rfc3339("2023-11-14T23:13:20.5+01:00").unwrap(),
            1_700_000_000
        );
        assert!(parse_rfc3339("yesterday").is_err());
        assert!(parse_rfc3339("2023-13-14T22:13:20Z").is_err());
        assert!(parse_rfc3339("2024-01-02T03:04:05+0\u{e9}00").is_err());
        assert!(parse_rfc3339("2023-02-29T00:00:00Z").is_err());
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z").unwrap(),
            1_709_164_800
        );
    }
}
