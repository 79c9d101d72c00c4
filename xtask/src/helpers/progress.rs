//! Progress lines with timings for the long stages.

use std::time::Instant;

/// Prints `==> what` now and `    what: done in N s` when finished.
pub struct Step {
    what: String,
    start: Instant,
}

impl Step {
    pub fn start(what: impl Into<String>) -> Step {
        let what = what.into();
        eprintln!("==> {what}");
        Step { what, start: Instant::now() }
    }

    pub fn done(self) {
        eprintln!("    {}: done in {:.1} s", self.what, self.start.elapsed().as_secs_f64());
    }
}

/// A stage whose inputs did not change.
pub fn cached(what: &str, key: &str) {
    eprintln!("==> {what}: up to date ({})", &key[..12]);
}
