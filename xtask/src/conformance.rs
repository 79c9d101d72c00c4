//! `cargo xtask conformance [SUITE...]`: CPython's own test modules run inside pylon and on
//! the native build python from the same tarball, with the counts side by side.

use anyhow::{Context, Result, bail};
use std::path::Path;

use crate::layout::Layout;
use crate::progress::Step;

/// What unittest reported for one run.
#[derive(Debug, Default, PartialEq)]
pub struct Counts {
    pub run: u32,
    pub failures: u32,
    pub errors: u32,
    pub skipped: u32,
}

impl Counts {
    pub fn passed(&self) -> u32 {
        self.run.saturating_sub(self.failures + self.errors + self.skipped)
    }
}

/// Reads unittest's closing lines: `Ran N tests in …` and `OK (skipped=2)` or
/// `FAILED (failures=1, errors=2, skipped=3)`.
pub fn parse_counts(output: &str) -> Option<Counts> {
    let mut counts = Counts::default();
    let ran = output.lines().rev().find_map(|l| l.strip_prefix("Ran "))?;
    counts.run = ran.split_whitespace().next()?.parse().ok()?;
    let verdict = output.lines().rev().find(|l| l.starts_with("OK") || l.starts_with("FAILED"))?;
    if let (Some(open), Some(close)) = (verdict.find('('), verdict.rfind(')')) {
        for part in verdict[open + 1..close].split(", ") {
            let Some((key, value)) = part.split_once('=') else { continue };
            let value: u32 = value.parse().unwrap_or(0);
            match key {
                "failures" => counts.failures = value,
                "errors" => counts.errors = value,
                "skipped" => counts.skipped = value,
                _ => {}
            }
        }
    }
    Some(counts)
}

/// Skip reasons that say a test cannot run on a 32-bit platform at all (wasm32): such tests
/// are left out of the comparison, and the report says how many.
const NOT_ON_WASM32: &[&str] = &["requires 64bit platform"];

/// Tests pylon skipped because wasm32 is a 32-bit platform.
pub fn platform_skips(output: &str) -> u32 {
    output
        .lines()
        .filter(|l| l.contains("... skipped") && NOT_ON_WASM32.iter().any(|r| l.contains(r)))
        .count() as u32
}

pub struct Targets<'a> {
    pub runner: &'a Path,
    pub wasm: &'a Path,
    pub native: &'a Path,
}

/// Runs each suite on both sides; fails when pylon passes less than `min_share` of what
/// passes natively.
pub fn run(layout: &Layout, targets: &Targets, suites: &[String], min_share: f64) -> Result<()> {
    let scratch = layout.cache.join("conformance-tmp");
    crate::deps::remove_dir_if_exists(&scratch)?;
    std::fs::create_dir_all(&scratch)?;
    println!("{:<24} {:>28} {:>28}", "suite", "native pass/fail/err/skip", "pylon pass/fail/err/skip");
    let mut short = Vec::new();
    for suite in suites {
        let module = format!("test.{suite}");
        let step = Step::start(format!("conformance {suite}"));
        let native = duct::cmd!(targets.native, "-m", "unittest", "-v", &module)
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()?;
        let pylon = duct::cmd!(
            targets.runner,
            "--wasm",
            targets.wasm,
            "--dir",
            format!("{}::/tmp", scratch.display()),
            "--env",
            "TMPDIR=/tmp",
            "-m",
            "unittest",
            "-v",
            &module
        )
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()?;
        step.done();
        let native_text = String::from_utf8_lossy(&native.stdout);
        let pylon_text = String::from_utf8_lossy(&pylon.stdout);
        let report = layout.cache.join(format!("conformance-{suite}-pylon.log"));
        std::fs::write(&report, pylon_text.as_bytes())?;
        let n = parse_counts(&native_text).with_context(|| format!("native {suite}: no unittest summary:\n{native_text}"))?;
        let p = parse_counts(&pylon_text)
            .with_context(|| format!("pylon {suite}: no unittest summary (log: {})", report.display()))?;
        let fmt = |c: &Counts| format!("{}/{}/{}/{}", c.passed(), c.failures, c.errors, c.skipped);
        println!("{suite:<24} {:>28} {:>28}   (pylon log: {})", fmt(&n), fmt(&p), report.display());
        let not_applicable = platform_skips(&pylon_text);
        let comparable = n.passed().saturating_sub(not_applicable);
        println!(
            "{:<24} {} native passes are 32-bit-impossible ({}); pylon passes {} of the other {} ({:.1} %; raw {:.1} %)",
            "",
            not_applicable,
            NOT_ON_WASM32.join(", "),
            p.passed(),
            comparable,
            100.0 * f64::from(p.passed()) / f64::from(comparable.max(1)),
            100.0 * f64::from(p.passed()) / f64::from(n.passed().max(1)),
        );
        let share = if comparable == 0 { 1.0 } else { f64::from(p.passed()) / f64::from(comparable) };
        if share < min_share {
            short.push(format!("{suite}: pylon passes {} of the {} native passes ({:.0} %)", p.passed(), n.passed(), share * 100.0));
        }
    }
    if !short.is_empty() {
        bail!("below {:.0} % of native passes: {}", min_share * 100.0, short.join("; "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unittest_summaries() {
        let ok = "test_a ... ok\n\n----------------------------------------------------------------------\nRan 76 tests in 1.2s\n\nOK (skipped=2)\n";
        assert_eq!(parse_counts(ok), Some(Counts { run: 76, skipped: 2, ..Default::default() }));
        let failed = "Ran 10 tests in 0.1s\n\nFAILED (failures=1, errors=2, skipped=3)\n";
        let counts = parse_counts(failed).unwrap();
        assert_eq!((counts.passed(), counts.failures, counts.errors, counts.skipped), (4, 1, 2, 3));
        assert_eq!(parse_counts("Traceback ..."), None);
        let log = "test_a (t.A.test_a) ... skipped 'requires 64bit platform'\ntest_b (t.B.test_b) ... skipped 'no zdict'\n";
        assert_eq!(platform_skips(log), 1);
    }
}
