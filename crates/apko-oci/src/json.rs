//! JSON bytes as Go's `encoding/json` writes them: `<`, `>`, `&`, U+2028 and U+2029 escaped;
//! compact, or indented by two spaces with a trailing newline.

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter, Serializer};
use std::io::{self, Write};

fn write_go_string<W: ?Sized + Write>(w: &mut W, fragment: &str) -> io::Result<()> {
    let mut start = 0;
    for (i, c) in fragment.char_indices() {
        let esc = match c {
            '<' => "\\u003c",
            '>' => "\\u003e",
            '&' => "\\u0026",
            '\u{2028}' => "\\u2028",
            '\u{2029}' => "\\u2029",
            _ => continue,
        };
        w.write_all(&fragment.as_bytes()[start..i])?;
        w.write_all(esc.as_bytes())?;
        start = i + c.len_utf8();
    }
    w.write_all(&fragment.as_bytes()[start..])
}

struct GoCompact;

impl Formatter for GoCompact {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_go_string(w, fragment)
    }
    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        escape: CharEscape,
    ) -> io::Result<()> {
        CompactFormatter.write_char_escape(w, escape)
    }
}

struct GoPretty<'a>(PrettyFormatter<'a>);

impl Formatter for GoPretty<'_> {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        write_go_string(w, fragment)
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Compact JSON as Go's `json.Marshal` writes it.
pub fn to_go_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser = Serializer::with_formatter(&mut out, GoCompact);
    value.serialize(&mut ser).expect("serializing to memory");
    out
}

/// Indented JSON as Go's `json.Encoder` with `SetIndent("", "  ")` writes it (trailing
/// newline included).
pub fn to_go_json_pretty<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser =
        Serializer::with_formatter(&mut out, GoPretty(PrettyFormatter::with_indent(b"  ")));
    value.serialize(&mut ser).expect("serializing to memory");
    out.push(b'\n');
    out
}

/// JSON as Go's `json.MarshalIndent(value, "", indent)` writes it (no trailing newline):
/// docker's `config.json` is written with a tab.
pub fn to_go_json_indent<T: Serialize + ?Sized>(value: &T, indent: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut ser =
        Serializer::with_formatter(&mut out, GoPretty(PrettyFormatter::with_indent(indent)));
    value.serialize(&mut ser).expect("serializing to memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let v = serde_json::json!({"purl": "pkg:apk/a@1?arch=x&os=linux", "t": "<b>", "e": "\u{2028}é"});
        assert_eq!(
            String::from_utf8(to_go_json(&v)).unwrap(),
            r#"{"e":"\u2028é","purl":"pkg:apk/a@1?arch=x\u0026os=linux","t":"\u003cb\u003e"}"#
        );
        let p = String::from_utf8(to_go_json_pretty(&serde_json::json!({"a": [1, 2]}))).unwrap();
        assert_eq!(p, "{\n  \"a\": [\n    1,\n    2\n  ]\n}\n");
        let t = to_go_json_indent(&serde_json::json!({"a": {"b": "<"}, "e": {}}), b"\t");
        assert_eq!(
            String::from_utf8(t).unwrap(),
            "{\n\t\"a\": {\n\t\t\"b\": \"\\u003c\"\n\t},\n\t\"e\": {}\n}"
        );
    }
}
