use std::path::PathBuf;

/// The corpus root; panics (fails the test) when `APKO_TESTDATA` is not set.
pub(crate) fn testdata() -> PathBuf {
    let dir = std::env::var_os("APKO_TESTDATA").expect(
        "APKO_TESTDATA must name the shared testdata directory to run the conformance suite",
    );
    let dir = PathBuf::from(dir);
    assert!(
        dir.is_dir(),
        "APKO_TESTDATA={} is not a directory",
        dir.display()
    );
    dir
}

/// A file of the corpus; panics when it is missing.
pub(crate) fn path(rel: &str) -> PathBuf {
    let p = testdata().join(rel);
    assert!(p.exists(), "conformance data missing: {}", p.display());
    p
}

pub(crate) fn read(rel: &str) -> Vec<u8> {
    fs_err::read(path(rel)).unwrap()
}

pub(crate) fn json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&read(rel)).unwrap()
}

/// Tally of one conformance group.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) total: usize,
    /// Cases that differ on purpose (each listed in docs/conformance.md).
    pub(crate) documented: Vec<String>,
    pub(crate) failures: Vec<String>,
}

impl Tally {
    pub(crate) fn case(&mut self) {
        self.total += 1;
    }
    pub(crate) fn documented(&mut self, what: String) {
        self.documented.push(what);
    }
    pub(crate) fn fail(&mut self, what: String) {
        self.failures.push(what);
    }
    /// Prints the `matched / total` line and fails on any unexpected difference.
    pub(crate) fn finish(self, group: &str) {
        let matched = self.total - self.documented.len() - self.failures.len();
        println!(
            "conformance {group}: {matched} / {} matched, {} documented differences{}",
            self.total,
            self.documented.len(),
            if self.documented.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.documented.join("; "))
            }
        );
        report(group, &self.failures);
    }
}

/// Fails on any unexpected difference.
pub(crate) fn report(group: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{group}: {} unexpected differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
