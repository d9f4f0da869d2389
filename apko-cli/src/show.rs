//! `show-packages`: one line per resolved package, through apko's `--format` names or a
//! Go `text/template` of the subset its formats use.

use crate::render::{CliError, notice};
use apko_build::deps::apko_config::Arch;
use apko_build::{BuildRequest, Builder, Reporter};
use std::io::Write as _;
use std::sync::Arc;

/// apko's predefined formats and their templates.
pub(crate) const FORMATS: [(&str, &str); 8] = [
    ("name-version", "{{ .Name }} {{ .Version }}"),
    (
        "name-version-source",
        "{{ .Name }} {{ .Version }} {{ .Source }}",
    ),
    ("name=version", "{{ .Name }}={{ .Version }}"),
    (
        "name=version-source",
        "{{ .Name }}={{ .Version }} {{ .Source }}",
    ),
    ("name-(version)", "{{ .Name }} ({{ .Version }})"),
    (
        "name-(version)-source",
        "{{ .Name }} ({{ .Version }}) {{ .Source }}",
    ),
    ("packagelock", "- {{ .Name }}={{ .Version }}"),
    (
        "packagelock-source",
        "- {{ .Name }}={{ .Version }} # {{ .Source }}",
    ),
];

/// The template of `--format`: a predefined format's, else the value itself.
pub(crate) fn template_text(format: &str) -> &str {
    FORMATS
        .iter()
        .find(|(name, _)| *name == format)
        .map_or(format, |(_, t)| t)
}

/// A field of apko's `pkgInfo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Name,
    Version,
    Source,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

/// A parsed template: literal text and field actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template(Vec<Part>);

/// Go's template white space (trim markers eat it).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `line:col` of byte `pos` as Go's `ErrorContext` writes it (the column counts bytes from 0).
fn position(text: &str, pos: usize) -> (usize, usize) {
    let before = &text[..pos];
    let line = 1 + before.matches('\n').count();
    let col = before.rfind('\n').map_or(pos, |nl| pos - nl - 1);
    (line, col)
}

const SUPPORTED: &str =
    "only text and the actions {{ .Name }}, {{ .Version }} and {{ .Source }} are supported";

fn parse_error(message: &str) -> CliError {
    CliError::usage(
        format!("failed to parse format: template: format:{message}"),
        Some(&format!(
            "use one of {} or a template of {{{{ .Name }}}}, {{{{ .Version }}}} and {{{{ .Source }}}}",
            FORMATS.map(|(n, _)| n).join(", ")
        )),
    )
}

impl Template {
    /// Parses `text` as Go's `text/template` would, for the subset of literal text and
    /// `{{ .Name }}`, `{{ .Version }}`, `{{ .Source }}` (with optional white space and `{{-`
    /// / `-}}` trim markers); any other action is refused.
    pub(crate) fn parse(text: &str) -> Result<Template, CliError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while let Some(off) = text[i..].find("{{") {
            let open = i + off;
            let mut inner_start = open + 2;
            let left_trim = text[inner_start..].starts_with('-')
                && text[inner_start + 1..].starts_with(is_space);
            literal.push_str(&text[i..open]);
            if left_trim {
                literal.truncate(literal.trim_end_matches(is_space).len());
                inner_start += 2;
            }
            let close = text[inner_start..]
                .find("}}")
                .map(|c| inner_start + c)
                .ok_or_else(|| {
                    parse_error(&format!("{}: unclosed action", position(text, open).0))
                })?;
            let mut inner = &text[inner_start..close];
            let right_trim = inner.len() >= 2
                && inner.ends_with('-')
                && inner[..inner.len() - 1].ends_with(is_space);
            if right_trim {
                inner = &inner[..inner.len() - 2];
            }
            let lead = inner.len() - inner.trim_start_matches(is_space).len();
            let action = inner.trim_matches(is_space);
            let at = inner_start + lead;
            let (line, col) = position(text, at);
            let field = match action {
                ".Name" => Field::Name,
                ".Version" => Field::Version,
                ".Source" => Field::Source,
                "" => return Err(parse_error(&format!("{line}: missing value for command"))),
                a if a.len() > 1
                    && a.starts_with('.')
                    && a[1..].chars().all(|c| c.is_alphanumeric() || c == '_')
                    && !a[1..].starts_with(|c: char| c.is_ascii_digit()) =>
                {
                    return Err(CliError::usage(
                        format!(
                            "failed to execute template: template: format:{line}:{col}: executing \"format\" at <{a}>: can't evaluate field {} in type cli.pkgInfo",
                            &a[1..]
                        ),
                        Some("the fields are .Name, .Version and .Source"),
                    ));
                }
                _ => {
                    return Err(parse_error(&format!(
                        "{line}:{col}: unsupported action \"{}\": {SUPPORTED} by apko-rs",
                        &text[open..close + 2]
                    )));
                }
            };
            if !literal.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut literal)));
            }
            parts.push(Part::Field(field));
            i = close + 2;
            if right_trim {
                i += text[i..].len() - text[i..].trim_start_matches(is_space).len();
            }
        }
        literal.push_str(&text[i..]);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template(parts))
    }

    /// The template applied to one package.
    pub(crate) fn render(&self, name: &str, version: &str, source: &str) -> String {
        let mut out = String::new();
        for p in &self.0 {
            out.push_str(match p {
                Part::Text(t) => t,
                Part::Field(Field::Name) => name,
                Part::Field(Field::Version) => version,
                Part::Field(Field::Source) => source,
            });
        }
        out
    }
}

/// The architectures apko works on, in its order: `--arch` sorted by OCI name, else the
/// configuration's in its order, else every architecture in apko's order.
pub(crate) fn arch_order(req: &BuildRequest) -> Vec<Arch> {
    let mut archs = match &req.archs {
        Some(a) if !a.is_empty() => {
            let mut a = a.clone();
            a.sort_by_key(|a| a.oci_name());
            a
        }
        _ if !req.config.config.archs.is_empty() => req.config.config.archs.clone(),
        _ => Arch::ALL.to_vec(),
    };
    let mut seen = Vec::new();
    archs.retain(|a| {
        let new = !seen.contains(a);
        seen.push(*a);
        new
    });
    archs
}

/// apko's `Determining packages for N architectures: [amd64 arm64]`.
pub(crate) fn announce(archs: &[Arch]) {
    let names: Vec<&str> = archs.iter().map(|a| a.oci_name()).collect();
    notice(&format!(
        "Determining packages for {} architectures: [{}]",
        archs.len(),
        names.join(" ")
    ));
}

/// Writes a line to stdout; a closed pipe (`| head`) ends the output quietly.
pub(crate) fn out_line(line: &str) -> Result<bool, CliError> {
    match writeln!(std::io::stdout().lock(), "{line}") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(CliError::usage(
            format!("cannot write to stdout: {e}"),
            None,
        )),
    }
}

/// `show-packages`: the packages of every architecture, one line each.
pub(crate) fn show_packages(
    req: BuildRequest,
    format: &str,
    reporter: Arc<dyn Reporter>,
) -> Result<(), CliError> {
    let template = Template::parse(template_text(format))?;
    let order = arch_order(&req);
    announce(&order);
    let mut archs = Builder::new(req).with_reporter(reporter).resolve()?;
    archs.sort_by_key(|a| order.iter().position(|o| *o == a.arch));
    let several = archs.len() != 1;
    for a in archs {
        if several {
            notice(&format!("packages for {}", a.arch.oci_name()));
        }
        let arch = a.arch.apk_name();
        for p in a.packages {
            // apko's `.Source`: the repository as configured, the apk architecture, the file.
            let source = format!(
                "{}/{arch}/{}-{}.apk",
                apko_build::deps::apko_apk::source::redact(&p.repository),
                p.name,
                p.version
            );
            if !out_line(&template.render(&p.name, &p.version, &source))? {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str) -> String {
        Template::parse(t)
            .unwrap()
            .render("a", "1.0-r0", "https://r/x86_64/a-1.0-r0.apk")
    }

    fn error(t: &str) -> String {
        Template::parse(t).unwrap_err().to_string()
    }

    #[test]
    fn predefined_formats() {
        let all: Vec<String> = FORMATS
            .iter()
            .map(|(n, _)| render(template_text(n)))
            .collect();
        assert_eq!(
            all,
            [
                "a 1.0-r0",
                "a 1.0-r0 https://r/x86_64/a-1.0-r0.apk",
                "a=1.0-r0",
                "a=1.0-r0 https://r/x86_64/a-1.0-r0.apk",
                "a (1.0-r0)",
                "a (1.0-r0) https://r/x86_64/a-1.0-r0.apk",
                "- a=1.0-r0",
                "- a=1.0-r0 # https://r/x86_64/a-1.0-r0.apk",
            ]
        );
    }

    #[test]
    fn templates() {
        assert_eq!(render("{{.Name}}@{{.Version}}"), "a@1.0-r0");
        assert_eq!(render("x {{- .Name -}} y"), "xay");
        assert_eq!(render("x\n\t{{- .Name }}\n"), "xa\n");
        assert_eq!(render("{{ .Name -}}\n\n  !"), "a!");
        assert_eq!(render("plain }} text"), "plain }} text");
        assert_eq!(render("{{\t.Source\n}}"), "https://r/x86_64/a-1.0-r0.apk");
        assert_eq!(render(""), "");
    }

    #[test]
    fn other_actions_are_refused_with_go_s_positions() {
        assert_eq!(
            error("{{ .Foo }}"),
            "failed to execute template: template: format:1:3: executing \"format\" at <.Foo>: can't evaluate field Foo in type cli.pkgInfo"
        );
        assert!(error("x\nab{{.name}}").contains("format:2:4: executing \"format\" at <.name>"));
        assert_eq!(
            error("a {{ .Name"),
            "failed to parse format: template: format:1: unclosed action"
        );
        assert_eq!(
            error("{{ }}"),
            "failed to parse format: template: format:1: missing value for command"
        );
        for refused in [
            "{{ .Name | printf }}",
            "{{.}}",
            "{{ .Name.X }}",
            "{{/* c */}}",
            "{{-.Name}}",
            "{{ if .Name }}",
        ] {
            let e = error(refused);
            assert!(
                e.starts_with("failed to parse format: template: format:1:"),
                "{e}"
            );
            assert!(e.contains(refused), "{e}");
        }
    }
}
