//! Error rendering and logging.

use std::error::Error;

/// An error the CLI reports: its chain is printed, then its hint.
#[derive(Debug)]
pub(crate) enum CliError {
    Build(apko_build::BuildError),
    Usage {
        message: String,
        hint: Option<String>,
    },
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Build(e) => e.fmt(f),
            CliError::Usage { message, .. } => f.write_str(message),
        }
    }
}

impl Error for CliError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CliError::Build(e) => e.source(),
            CliError::Usage { .. } => None,
        }
    }
}

impl From<apko_build::BuildError> for CliError {
    fn from(e: apko_build::BuildError) -> Self {
        CliError::Build(e)
    }
}

impl CliError {
    pub(crate) fn usage(message: impl Into<String>, hint: Option<&str>) -> Self {
        CliError::Usage {
            message: message.into(),
            hint: hint.map(str::to_owned),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            CliError::Build(e) => e.hint(),
            CliError::Usage { hint, .. } => hint.clone(),
        }
    }
}

/// Prints `error: …`, one `Caused by: …` per source, then `hint: …`.
pub(crate) fn error(e: &CliError) {
    eprintln!("error: {e}");
    let mut cur = e.source();
    let mut last = e.to_string();
    while let Some(c) = cur {
        let text = c.to_string();
        // Skip causes that only repeat their parent.
        if text != last {
            eprintln!("  Caused by: {text}");
        }
        last = text;
        cur = c.source();
    }
    if let Some(h) = e.hint() {
        eprintln!();
        eprintln!("hint: {h}");
    }
}

/// Whether the command's own messages (apko logs them at info level) are printed.
static NOTICES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Sets up logging: without `--log-level`, warnings and errors of the libraries are shown
/// (their info records, such as phase timings, only with `--log-level info`) and so are the
/// command's own messages; with it, what slog would show at that level.
pub(crate) fn init_logging(level: Option<crate::loglevel::LogLevel>) {
    let filter = level.map_or(tracing_subscriber::filter::LevelFilter::WARN, |l| {
        l.filter()
    });
    NOTICES.store(
        level.is_none_or(crate::loglevel::LogLevel::shows_info),
        std::sync::atomic::Ordering::Relaxed,
    );
    let filter = tracing_subscriber::EnvFilter::try_new(format!(
        "{},ureq=warn,rustls=warn",
        filter.to_string().to_lowercase()
    ))
    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .try_init();
}

/// One of the command's messages, on stderr: what apko logs at info level as the command's
/// output (`clean`, `login`, the architectures of `show-packages`). Hidden by a
/// `--log-level` above info.
pub(crate) fn notice(message: &str) {
    if NOTICES.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("{message}");
    }
}
