//! Progress and warnings: bars on a terminal; otherwise warnings go to the log.

use apko_build::{Phase, Reporter};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::sync::Mutex;

pub(crate) struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<(String, Phase), ProgressBar>>,
}

impl Bars {
    pub(crate) fn new() -> Self {
        Bars {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, arch: &str, phase: Phase, total: u64) -> ProgressBar {
        let mut bars = self.bars.lock().expect("progress lock");
        bars.entry((arch.to_owned(), phase))
            .or_insert_with(|| {
                let pb = if total > 0 {
                    ProgressBar::new(total)
                } else {
                    ProgressBar::new_spinner()
                };
                let label = if arch.is_empty() {
                    phase.name().to_owned()
                } else {
                    format!("{arch} {}", phase.name())
                };
                pb.set_style(
                    ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len} {wide_msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                pb.set_prefix(label);
                self.multi.add(pb)
            })
            .clone()
    }
}

impl Reporter for Bars {
    fn start(&self, arch: &str, phase: Phase, total: u64) {
        let b = self.bar(arch, phase, total);
        if total > 0 {
            b.set_length(total);
        }
    }

    fn step(&self, arch: &str, phase: Phase, what: &str) {
        let b = self.bar(arch, phase, 0);
        b.inc(1);
        b.set_message(what.to_owned());
    }

    fn finish(&self, arch: &str, phase: Phase) {
        self.bar(arch, phase, 0).finish_with_message("done");
    }

    fn warn(&self, message: &str) {
        let _ = self.multi.println(format!("warning: {message}"));
    }
}

/// Not a terminal: no bars; warnings are logged (once, at `warn`).
pub(crate) struct LogWarnings;

impl Reporter for LogWarnings {
    fn warn(&self, message: &str) {
        tracing::warn!("{message}");
    }
}
