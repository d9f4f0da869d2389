//! `--log-level` as apko reads it: a `log/slog` level name (`debug`, `info`, `warn`,
//! `error`, any case) with an optional numeric offset (`info+2`, `error-8`), refused at parse
//! time with slog's message otherwise.
//!
//! slog levels are numbers (debug −4, info 0, warn 4, error 8); a record is shown when its
//! level is at least the configured one. That maps onto our tracing levels: a level at or
//! below −5 (`debug-1`) also shows tracing's `trace` records, which slog does not have.

use clap::builder::TypedValueParser;
use tracing_subscriber::filter::LevelFilter;

/// A slog level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct LogLevel(i64);

impl LogLevel {
    /// slog's `Level.UnmarshalText`; the error is slog's text after `slog: level string …: `.
    pub(crate) fn parse(s: &str) -> Result<LogLevel, String> {
        let fail = |why: String| format!("slog: level string {}: {why}", go_quote(s));
        let (name, offset) = match s.find(['+', '-']) {
            Some(i) => {
                let text = &s[i..];
                let n = parse_go_int(text).map_err(|why| {
                    fail(format!("strconv.Atoi: parsing {}: {why}", go_quote(text)))
                })?;
                (&s[..i], n)
            }
            None => (s, 0),
        };
        let base = match name.to_uppercase().as_str() {
            "DEBUG" => -4,
            "INFO" => 0,
            "WARN" => 4,
            "ERROR" => 8,
            _ => return Err(fail("unknown name".to_owned())),
        };
        Ok(LogLevel(base + offset))
    }

    /// The tracing filter that shows what slog would show at this level.
    pub(crate) fn filter(self) -> LevelFilter {
        match self.0 {
            ..=-5 => LevelFilter::TRACE,
            -4 => LevelFilter::DEBUG,
            -3..=0 => LevelFilter::INFO,
            1..=4 => LevelFilter::WARN,
            5..=8 => LevelFilter::ERROR,
            _ => LevelFilter::OFF,
        }
    }

    /// Whether info records (the command's own messages) are shown.
    pub(crate) fn shows_info(self) -> bool {
        self.0 <= 0
    }
}

/// `strconv.Atoi` of an offset: an optional sign and decimal digits, within 64 bits; what
/// the level can hold is bounded further so that adding it cannot overflow.
fn parse_go_int(s: &str) -> Result<i64, &'static str> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid syntax");
    }
    s.parse::<i64>()
        .ok()
        .filter(|n| n.unsigned_abs() < 1 << 62)
        .ok_or("value out of range")
}

/// Go's `%q` of a string: double quotes, with `"`, `\` and control characters escaped.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The clap parser of `--log-level`: a bad value is a usage error with pflag's message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogLevelParser;

impl TypedValueParser for LogLevelParser {
    type Value = LogLevel;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<LogLevel, clap::Error> {
        let s = value.to_string_lossy();
        LogLevel::parse(&s).map_err(|why| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!(
                    "invalid argument {} for \"--log-level\" flag: {why}\n",
                    go_quote(&s)
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slog_names_and_offsets() {
        for (text, level) in [
            ("debug", -4),
            ("INFO", 0),
            ("Warn", 4),
            ("error", 8),
            ("info+2", 2),
            ("Error-8", 0),
            ("debug-4", -8),
        ] {
            assert_eq!(LogLevel::parse(text), Ok(LogLevel(level)), "{text}");
        }
        assert_eq!(
            LogLevel::parse("foo").unwrap_err(),
            "slog: level string \"foo\": unknown name"
        );
        assert_eq!(
            LogLevel::parse("info+x").unwrap_err(),
            "slog: level string \"info+x\": strconv.Atoi: parsing \"+x\": invalid syntax"
        );
        for rejected in ["fatal", "panic", "warning", "trace", "", "+1", "info+"] {
            assert!(LogLevel::parse(rejected).is_err(), "{rejected}");
        }
    }

    #[test]
    fn levels_map_onto_tracing() {
        let f = |s: &str| LogLevel::parse(s).unwrap().filter();
        assert_eq!(f("debug"), LevelFilter::DEBUG);
        assert_eq!(f("debug-1"), LevelFilter::TRACE);
        assert_eq!(f("info"), LevelFilter::INFO);
        assert_eq!(f("info+2"), LevelFilter::WARN);
        assert_eq!(f("warn"), LevelFilter::WARN);
        assert_eq!(f("error"), LevelFilter::ERROR);
        assert_eq!(f("error+1"), LevelFilter::OFF);
        assert!(LogLevel::parse("info").unwrap().shows_info());
        assert!(!LogLevel::parse("warn").unwrap().shows_info());
    }

    #[test]
    fn quoting_is_go_s() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\x01é\"");
    }
}
