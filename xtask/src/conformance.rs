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

/// What pylon's facades say when a feature cannot exist across the component boundary
/// (SQLite calling back into Python): tests failing with it are reported apart.
const NO_CALLBACKS: &str = "cannot call back into Python";

/// The ids of the tests skipped because wasm32 is a 32-bit platform.
pub fn platform_skipped(output: &str) -> Vec<String> {
    output
        .lines()
        .filter(|l| l.contains("... skipped") && NOT_ON_WASM32.iter().any(|r| l.contains(r)))
        .filter_map(|l| {
            let (open, close) = (l.find(" (")?, l.find(')')?);
            (open < close).then(|| l[open + 2..close].to_owned())
        })
        .collect()
}

/// One test's outcome in unittest's verbose output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Error,
    Skip,
}

fn outcome(text: &str) -> Option<Outcome> {
    let text = text.trim_start();
    [
        ("ok", Outcome::Pass),
        ("expected failure", Outcome::Pass),
        ("unexpected success", Outcome::Pass),
        ("FAIL", Outcome::Fail),
        ("ERROR", Outcome::Error),
        ("skipped", Outcome::Skip),
    ]
    .iter()
    .find(|(word, _)| text.starts_with(word))
    .map(|(_, o)| *o)
}

/// `(test id, outcome)` for every test line of unittest's verbose output
/// (`test_x (pkg.mod.Class.test_x) ... ok`, the docstring's first line possibly between).
pub fn test_results(output: &str) -> Vec<(String, Outcome)> {
    let lines: Vec<&str> = output.lines().collect();
    let mut results = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(dots) = line.find(" ... ") else { continue };
        let id_of = |l: &str| -> Option<String> {
            let (open, close) = (l.find(" (")?, l.find(')')?);
            (open < close && !l[..open].contains(' ')).then(|| l[open + 2..close].to_owned())
        };
        let Some(id) = id_of(&line[..dots]).or_else(|| i.checked_sub(1).and_then(|p| id_of(lines[p]))) else { continue };
        let rest = &line[dots + 5..];
        // Output written by the test itself may come between " ... " and the verdict.
        let found = outcome(rest).or_else(|| lines[i + 1..].iter().take(20).find_map(|l| outcome(l).filter(|_| !l.starts_with(' '))));
        if let Some(o) = found {
            results.push((id, o));
        }
    }
    results
}

/// The failure and error reports of unittest's output: (test id, report text).
pub fn failure_reports(output: &str) -> Vec<(String, String)> {
    let mut reports: Vec<(String, String)> = Vec::new();
    let mut open = false;
    for line in output.lines() {
        let header = line.strip_prefix("ERROR: ").or_else(|| line.strip_prefix("FAIL: "));
        if let Some(h) = header {
            // `name (id)`, and for a sub-test `name (id) (params)`: the id has no parenthesis.
            let id = h.find(" (").and_then(|o| h[o + 2..].find(')').map(|c| h[o + 2..o + 2 + c].to_owned()));
            open = id.is_some();
            if let Some(id) = id {
                reports.push((id, String::new()));
            }
        } else if line.starts_with("Ran ") || line.starts_with("======") {
            open = false;
        } else if open {
            let text = &mut reports.last_mut().unwrap().1;
            text.push_str(line);
            text.push('\n');
        }
    }
    reports
}

/// The ids of the failed or errored tests whose report names `marker`.
pub fn failures_mentioning(output: &str, marker: &str) -> Vec<String> {
    failure_reports(output).into_iter().filter(|(_, text)| text.contains(marker)).map(|(id, _)| id).collect()
}

/// Failures that only say the stdlib is sourceless: warnings name the `.py` of the code
/// object, while the test compares with its `__file__`, a `.pyc` in pylon's stdlib archive.
pub fn sourceless_failures(output: &str) -> Vec<String> {
    failure_reports(output)
        .into_iter()
        .filter(|(_, text)| {
            text.lines().any(|l| {
                let Some((a, b)) = l.strip_prefix("AssertionError: '").and_then(|r| r.strip_suffix('\'')).and_then(|r| r.split_once("' != '"))
                else {
                    return false;
                };
                a.ends_with(".py") && b == format!("{a}c")
            })
        })
        .map(|(id, _)| id)
        .collect()
}

/// Test modules that could not be imported: (module, the last line of the error).
pub fn import_failures(output: &str) -> Vec<(String, String)> {
    failure_reports(output)
        .into_iter()
        .filter_map(|(id, text)| {
            let module = id.strip_prefix("unittest.loader._FailedTest.")?.to_owned();
            let reason = text.lines().rev().find(|l| !l.trim().is_empty() && !l.starts_with("---")).unwrap_or("").trim().to_owned();
            Some((module, reason))
        })
        .collect()
}

/// The module of a test id under `suite` (`test.test_sqlite3.test_dbapi.C.t` → `test_dbapi`).
fn module_of<'a>(suite: &str, id: &'a str) -> &'a str {
    if let Some(module) = id.strip_prefix("unittest.loader._FailedTest.") {
        return module.rsplit('.').next().unwrap_or(module);
    }
    let prefix = format!("test.{suite}.");
    match id.strip_prefix(&prefix) {
        Some(rest) if rest.matches('.').count() >= 2 => rest.split('.').next().unwrap_or(rest),
        _ => suite_leaf(id),
    }
}

fn suite_leaf(id: &str) -> &str {
    id.split('.').nth(1).unwrap_or(id)
}

/// Pass/fail/error/skip per module, sorted by module.
pub fn per_module(suite: &str, results: &[(String, Outcome)]) -> std::collections::BTreeMap<String, [u32; 4]> {
    let mut map = std::collections::BTreeMap::new();
    for (id, o) in results {
        let row: &mut [u32; 4] = map.entry(module_of(suite, id).to_owned()).or_default();
        row[*o as usize] += 1;
    }
    map
}

pub struct Targets<'a> {
    pub runner: &'a Path,
    pub wasm: &'a Path,
    pub native: &'a Path,
}

/// `python -c` code running unittest on `module` from `dir` (tests create files in the
/// working directory; pylon has no option to set it). A package's test modules are listed
/// through pkgutil: `load_package_tests` (unittest discovery) needs a directory, and pylon's
/// stdlib is a zip archive.
fn unittest_in(dir: &str, module: &str) -> String {
    format!(
        "import importlib, os, pkgutil, unittest\n\
         os.chdir({dir:?})\n\
         mod = importlib.import_module({module:?})\n\
         names = [{module:?}]\n\
         if hasattr(mod, '__path__'):\n    \
             names = [mod.__name__ + '.' + m.name for m in sorted(pkgutil.iter_modules(mod.__path__), key=lambda m: m.name) if m.name.startswith('test_')]\n\
         unittest.main(module=None, argv=['python -m unittest', '-v', *names])\n"
    )
}

/// Runs each suite on both sides; fails when pylon passes less than `min_share` of what
/// passes natively, leaving out what cannot exist in pylon (reported with the raw figures).
pub fn run(layout: &Layout, targets: &Targets, suites: &[String], min_share: f64) -> Result<()> {
    let scratch = layout.cache.join("conformance-tmp");
    crate::deps::remove_dir_if_exists(&scratch)?;
    let (native_dir, pylon_dir) = (scratch.join("native"), scratch.join("pylon"));
    std::fs::create_dir_all(&native_dir)?;
    std::fs::create_dir_all(&pylon_dir)?;
    println!("{:<24} {:>28} {:>28}", "suite", "native pass/fail/err/skip", "pylon pass/fail/err/skip");
    let mut short = Vec::new();
    for suite in suites {
        let module = format!("test.{suite}");
        let step = Step::start(format!("conformance {suite}"));
        let native = duct::cmd!(targets.native, "-c", unittest_in(&native_dir.display().to_string(), &module))
            .dir(&native_dir)
            .env("TMPDIR", &native_dir)
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()?;
        let pylon = duct::cmd!(
            targets.runner,
            "--wasm",
            targets.wasm,
            "--dir",
            format!("{}::/tmp", pylon_dir.display()),
            "--env",
            "TMPDIR=/tmp",
            "-c",
            unittest_in("/tmp", &module)
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
        std::fs::write(layout.cache.join(format!("conformance-{suite}-native.log")), native_text.as_bytes())?;
        let n = parse_counts(&native_text).with_context(|| format!("native {suite}: no unittest summary:\n{native_text}"))?;
        let p = parse_counts(&pylon_text)
            .with_context(|| format!("pylon {suite}: no unittest summary (log: {})", report.display()))?;
        let fmt = |c: &Counts| format!("{}/{}/{}/{}", c.passed(), c.failures, c.errors, c.skipped);
        let fmt_row = |r: &[u32; 4]| format!("{}/{}/{}/{}", r[0], r[1], r[2], r[3]);

        // Per module, for packages such as test_sqlite3.
        let (nm, pm) = (per_module(suite, &test_results(&native_text)), per_module(suite, &test_results(&pylon_text)));
        if nm.len() > 1 || pm.len() > 1 {
            let modules: std::collections::BTreeSet<&String> = nm.keys().chain(pm.keys()).collect();
            for m in modules {
                let zero = [0; 4];
                println!("  {m:<22} {:>28} {:>28}", fmt_row(nm.get(m).unwrap_or(&zero)), fmt_row(pm.get(m).unwrap_or(&zero)));
            }
        }
        println!("{suite:<24} {:>28} {:>28}   (logs: {})", fmt(&n), fmt(&p), report.display());

        // What pylon cannot pass for reasons outside the module under test, counted among
        // the tests that pass natively, each once and named: the share below leaves them
        // out, the raw one does not.
        let native_passes: std::collections::BTreeSet<String> =
            test_results(&native_text).into_iter().filter(|(_, o)| *o == Outcome::Pass).map(|(id, _)| id).collect();
        let passing_natively =
            |ids: Vec<String>| -> std::collections::BTreeSet<String> { ids.into_iter().filter(|id| native_passes.contains(id)).collect() };
        let wasm32 = passing_natively(platform_skipped(&pylon_text));
        let no_callbacks = passing_natively(failures_mentioning(&pylon_text, NO_CALLBACKS));
        let sourceless: std::collections::BTreeSet<String> =
            passing_natively(sourceless_failures(&pylon_text)).into_iter().filter(|id| !no_callbacks.contains(id)).collect();
        let (not_applicable, no_callbacks, sourceless) = (wasm32.len() as u32, no_callbacks.len() as u32, sourceless.len() as u32);
        let mut not_importable = 0;
        for (module, reason) in import_failures(&pylon_text) {
            let passes = nm.get(&module).map_or(0, |r| r[0]);
            not_importable += passes;
            println!("{:<24} {module} cannot be imported in pylon ({passes} native passes): {reason}", "");
        }
        // Passes per test: unittest's summary counts every failing sub-test as a failure
        // of its own, so `run - failures - ...` undercounts the tests that passed.
        let passes = |m: &std::collections::BTreeMap<String, [u32; 4]>, c: &Counts| {
            if m.is_empty() { c.passed() } else { m.values().map(|r| r[0]).sum() }
        };
        let (n_passed, p_passed) = (passes(&nm, &n), passes(&pm, &p));
        let comparable = n_passed.saturating_sub(not_applicable + no_callbacks + sourceless + not_importable);
        println!(
            "{:<24} out of reach in pylon: {not_applicable} 32-bit-impossible ({}), {no_callbacks} need SQLite-to-Python \
             callbacks, {sourceless} compare a warning's file name with a sourceless .pyc, {not_importable} in modules \
             pylon cannot import",
            "",
            NOT_ON_WASM32.join(", "),
        );
        println!(
            "{:<24} pylon passes {p_passed} of the other {comparable} native passes ({:.1} %; raw {p_passed} of {n_passed}, {:.1} %)",
            "",
            100.0 * f64::from(p_passed) / f64::from(comparable.max(1)),
            100.0 * f64::from(p_passed) / f64::from(n_passed.max(1)),
        );
        let share = if comparable == 0 { 1.0 } else { f64::from(p_passed) / f64::from(comparable) };
        if share < min_share {
            short.push(format!("{suite}: pylon passes {p_passed} of the {comparable} comparable native passes ({:.0} %)", share * 100.0));
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
        assert_eq!(platform_skipped(log), ["t.A.test_a"]);
    }

    #[test]
    fn verbose_lines_per_module() {
        let log = "test_a (test.test_sqlite3.test_dbapi.C.test_a) ... ok\n\
                   test_b (test.test_sqlite3.test_dbapi.C.test_b)\nDoc line. ... FAIL\n\
                   test_c (test.test_sqlite3.test_hooks.H.test_c) ... skipped 'no'\n\
                   test_d (test.test_sqlite3.test_hooks.H.test_d) ... ERROR\n\
                   ======\nERROR: test_d (test.test_sqlite3.test_hooks.H.test_d)\n---\n\
                   sqlite3.NotSupportedError: x() is ... cannot call back into Python\n\
                   ======\nFAIL: test_b (test.test_sqlite3.test_dbapi.C.test_b)\nAssertionError\nRan 4 tests\n";
        let results = test_results(log);
        assert_eq!(results.len(), 4);
        let m = per_module("test_sqlite3", &results);
        assert_eq!(m["test_dbapi"], [1, 1, 0, 0]);
        assert_eq!(m["test_hooks"], [0, 0, 1, 1]);
        assert_eq!(failures_mentioning(log, NO_CALLBACKS), ["test.test_sqlite3.test_hooks.H.test_d"]);
        assert_eq!(per_module("test_zlib", &[("test.test_zlib.T.t".into(), Outcome::Pass)])["test_zlib"], [1, 0, 0, 0]);
        let failed = "ERROR: test_m (unittest.loader._FailedTest.test_m)\n---\nImportError: x\nModuleNotFoundError: No module named '_socket'\n\n\
                      ======\nFAIL: t (test.s.test_m.C.t)\n---\nAssertionError: '/a/b.py' != '/a/b.pyc'\n\n\
                      ======\nFAIL: u (test.s.test_m.C.u)\n---\nAssertionError: '/a/x.py' != '/a/b.pyc'\n\n\
                      ======\nFAIL: t (test.s.test_m.C.t) (x=1)\n---\nAssertionError: '/a/b.py' != '/a/b.pyc'\n\nRan 3 tests\n";
        assert_eq!(import_failures(failed), [("test_m".to_owned(), "ModuleNotFoundError: No module named '_socket'".to_owned())]);
        assert_eq!(sourceless_failures(failed), ["test.s.test_m.C.t", "test.s.test_m.C.t"]);
    }
}
