//! `cargo xtask conformance [SUITE...]`: CPython's own test modules run inside pylon and on
//! the native build python from the same tarball, with the counts side by side.

use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

use crate::commands::build::{self, BuildArgs};
use crate::commands::thirdparty;
use crate::helpers::layout::Layout;
use crate::helpers::progress::Step;
use crate::helpers::runner;

/// What unittest reported for one run.
#[derive(Debug, Default, PartialEq)]
pub struct Counts {
    pub run: u32,
    pub failures: u32,
    pub errors: u32,
    pub skipped: u32,
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

/// Skip reasons (CPython's own words) for what no 32-bit WASI platform can do: a 64-bit
/// address space, and starting processes (WASI has no process creation, in preview 1 or 2).
/// Only such tests are left out of the comparison, each reason counted in the report.
/// Threads and sockets are not here: wasi-threads and preview 2 sockets exist.
const NOT_ON_WASM32: &[&str] = &["requires 64bit platform", "requires subprocess support", "requires working os.fork()", "test requires multiprocessing"];

/// The default sweep of `cargo xtask conformance` with no suite named.
pub const DEFAULT_SWEEP: &[&str] = &[
    "test_zlib", "test_gzip", "test_zipfile", "test_tarfile", "test_zipimport", "test_shutil", "test_json",
    "test_csv", "test_pickle", "test_re", "test_io", "test_os", "test_unittest", "test_logging", "test_tempfile",
    "test_pathlib", "test_datetime", "test_decimal", "test_hashlib", "test_random", "test_uuid", "test_sqlite3",
    "test_bz2", "test_lzma",
    "test_asyncio", "test_socket",
];

/// A suite that runs longer than this on either side is stopped and counted with what it
/// printed so far (a hang must not stop the sweep).
pub const SUITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(900);

/// The time zone database both sides read.
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// Printed by the harness when the suite's module cannot even be imported.
const IMPORT_ERROR_MARK: &str = "PYLON-CONFORMANCE-IMPORT-ERROR: ";

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



/// `test id → skip reason` from unittest's verbose lines (`... skipped 'why'`).
pub fn skip_reasons(output: &str) -> BTreeMap<String, String> {
    let mut reasons = BTreeMap::new();
    for line in output.lines() {
        let Some(at) = line.find(" ... skipped ") else { continue };
        let (open, close) = (line.find(" ("), line.find(')'));
        if let (Some(open), Some(close)) = (open, close)
            && open < close
            && close < at
        {
            let why = line[at + 13..].trim().trim_matches('\'');
            reasons.insert(line[open + 2..close].to_owned(), format!("skipped: {why}"));
        }
    }
    reasons
}

/// The line that says why a report failed: its last one, addresses blanked, cut short.
fn reason_line(text: &str) -> String {
    let line = text.lines().rev().find(|l| !l.trim().is_empty() && !l.starts_with("---")).unwrap_or("").trim();
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let hex = rest[at + 2..].bytes().take_while(u8::is_ascii_hexdigit).count();
        out.push_str(if hex > 0 { "0x…" } else { "0x" });
        rest = &rest[at + 2 + hex..];
    }
    out.push_str(rest);
    if out.chars().count() > 160 {
        out = out.chars().take(159).collect::<String>() + "…";
    }
    out
}

pub struct Targets<'a> {
    pub runner: &'a Path,
    pub wasm: &'a Path,
    pub native: &'a Path,
}

/// `python -c` code running unittest on `module` from `dir` (tests create files in the
/// working directory). A package's test modules are listed through pkgutil, the same way on
/// both sides. A module that cannot be imported is reported with a marker line instead of
/// a summary.
fn unittest_in(dir: &str, module: &str) -> String {
    format!(
        "import importlib, os, pkgutil, sys, traceback, unittest\n\
         os.chdir({dir:?})\n\
         try:\n    \
             mod = importlib.import_module({module:?})\n\
         except BaseException as e:\n    \
             traceback.print_exc()\n    \
             print({IMPORT_ERROR_MARK:?} + ''.join(traceback.format_exception_only(e)).strip().splitlines()[-1], flush=True)\n    \
             sys.exit(3)\n\
         names = [{module:?}]\n\
         if hasattr(mod, '__path__'):\n    \
             names = [mod.__name__ + '.' + m.name for m in sorted(pkgutil.iter_modules(mod.__path__), key=lambda m: m.name) if m.name.startswith('test_')]\n\
         suite = unittest.TestSuite()\n\
         for name in names:\n    \
             try:\n        \
                 suite.addTests(unittest.defaultTestLoader.loadTestsFromName(name))\n    \
             except unittest.SkipTest as e:\n        \
                 print(f'{{name}}: module skipped: {{e}}', flush=True)\n\
         unittest.TextTestRunner(verbosity=2).run(suite)\n"
    )
}

/// One suite on both sides.
#[derive(Debug, Default)]
pub struct SuiteResult {
    pub suite: String,
    /// Pass/fail/error/skip, one per test id.
    pub native: [u32; 4],
    pub pylon: [u32; 4],
    /// Native passes left out because wasm32 is a 32-bit platform.
    pub left_out: u32,
    /// The same, per reason of [`NOT_ON_WASM32`].
    pub left_out_by_reason: BTreeMap<String, u32>,
    /// Native passes that pylon passes too.
    pub passed: u32,
    /// Native passes, less what is left out.
    pub comparable: u32,
    /// Why the other native passes did not pass in pylon: (count, reason), most first.
    pub reasons: Vec<(u32, String)>,
    /// Something about the run itself (a timeout, a crash, no native summary).
    pub notes: Vec<String>,
}

impl SuiteResult {
    pub fn share(&self) -> f64 {
        if self.comparable == 0 { 1.0 } else { f64::from(self.passed) / f64::from(self.comparable) }
    }
}

/// A process's output, written to `log`, stopped after [`SUITE_TIMEOUT`].
pub struct Ran {
    pub text: String,
    pub timed_out: bool,
    pub status: Option<std::process::ExitStatus>,
}

pub fn wait_logged(handle: duct::Handle, log: &Path, started: Instant) -> Result<Ran> {
    let mut timed_out = false;
    let status = loop {
        if let Some(out) = handle.try_wait()? {
            break Some(out.status);
        }
        if started.elapsed() > SUITE_TIMEOUT {
            handle.kill().ok();
            timed_out = true;
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let text = String::from_utf8_lossy(&std::fs::read(log).with_context(|| format!("cannot read {}", log.display()))?).into_owned();
    Ok(Ran { text, timed_out, status })
}

/// Runs `suite` natively and in pylon at the same time (each side is one process), and
/// compares test by test.
fn run_suite(layout: &Layout, targets: &Targets, suite: &str, scratch: &Path) -> Result<SuiteResult> {
    let module = format!("test.{suite}");
    let (native_dir, pylon_dir) = (scratch.join(format!("{suite}-native")), scratch.join(format!("{suite}-pylon")));
    std::fs::create_dir_all(&native_dir)?;
    std::fs::create_dir_all(&pylon_dir)?;
    let native_log = layout.cache.join(format!("conformance-{suite}-native.log"));
    let pylon_log = layout.cache.join(format!("conformance-{suite}-pylon.log"));
    let started = Instant::now();
    let native = duct::cmd!(targets.native, "-c", unittest_in(&native_dir.display().to_string(), &module))
        .dir(&native_dir)
        .env("TMPDIR", &native_dir)
        .stdin_null()
        .stderr_to_stdout()
        .stdout_path(&native_log)
        .unchecked()
        .start()
        .with_context(|| format!("cannot start {}", targets.native.display()))?;
    let mut pylon_args: Vec<String> =
        vec!["--wasm".into(), targets.wasm.display().to_string(), "--dir".into(), format!("{}::/tmp", pylon_dir.display())];
    // The native side reads the machine's time zone database (test_datetime tests every
    // zone in it): pylon reads the same one, read-only.
    if Path::new(ZONEINFO).is_dir() {
        pylon_args.extend(["--dir-ro".into(), format!("{ZONEINFO}::{ZONEINFO}")]);
    }
    pylon_args.extend(["--env".into(), "TMPDIR=/tmp".into(), "-c".into(), unittest_in("/tmp", &module)]);
    let pylon = duct::cmd(targets.runner, &pylon_args)
    .stdin_null()
    .stderr_to_stdout()
    .stdout_path(&pylon_log)
    .unchecked()
    .start()
    .with_context(|| format!("cannot start {}", targets.runner.display()))?;
    let native = wait_logged(native, &native_log, started)?;
    let pylon = wait_logged(pylon, &pylon_log, started)?;
    let mut result = compare(suite, &native.text, &pylon.text);
    for (side, ran, log) in [("native", &native, &native_log), ("pylon", &pylon, &pylon_log)] {
        if ran.timed_out {
            result.notes.push(format!("{side} stopped after {} s", SUITE_TIMEOUT.as_secs()));
        } else if parse_counts(&ran.text).is_none() && !ran.text.contains(IMPORT_ERROR_MARK) {
            let status = ran.status.map_or_else(|| "?".to_owned(), |s| s.to_string());
            result.notes.push(format!("{side} printed no unittest summary ({status}; log {})", log.display()));
        }
    }
    Ok(result)
}

/// Compares the two verbose logs of one suite, test by test.
pub fn compare(suite: &str, native_text: &str, pylon_text: &str) -> SuiteResult {
    let tally = |results: &[(String, Outcome)]| {
        let unique: BTreeMap<&String, Outcome> = results.iter().map(|(id, o)| (id, *o)).collect();
        let mut row = [0u32; 4];
        for o in unique.values() {
            row[*o as usize] += 1;
        }
        (row, unique.into_iter().filter(|(_, o)| *o == Outcome::Pass).map(|(id, _)| id.clone()).collect::<BTreeSet<String>>())
    };
    let (native_results, pylon_results) = (test_results(native_text), test_results(pylon_text));
    let (native, native_passes) = tally(&native_results);
    let (pylon, pylon_passes) = tally(&pylon_results);
    let skips = skip_reasons(pylon_text);
    let failures: BTreeMap<String, String> = failure_reports(pylon_text).into_iter().rev().map(|(id, text)| (id, reason_line(&text))).collect();
    let unimportable: BTreeMap<String, String> = import_failures(pylon_text).into_iter().collect();
    let whole_suite = pylon_text.lines().find_map(|l| l.strip_prefix(IMPORT_ERROR_MARK)).map(|r| format!("cannot import test.{suite}: {r}"));
    let ran_in_pylon: BTreeSet<&String> = pylon_results.iter().map(|(id, _)| id).collect();

    let mut result = SuiteResult { suite: suite.to_owned(), native, pylon, ..SuiteResult::default() };
    let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
    for id in &native_passes {
        if pylon_passes.contains(id) {
            result.passed += 1;
            continue;
        }
        if let Some(why) = skips.get(id)
            && let Some(reason) = NOT_ON_WASM32.iter().find(|r| why.contains(*r))
        {
            result.left_out += 1;
            *result.left_out_by_reason.entry(reason.to_string()).or_default() += 1;
            continue;
        }
        let why = if let Some(why) = &whole_suite {
            why.clone()
        } else if let Some(why) = unimportable.get(module_of(suite, id)) {
            format!("cannot import {}: {why}", module_of(suite, id))
        } else if let Some(why) = skips.get(id).or_else(|| failures.get(id)) {
            why.clone()
        } else if ran_in_pylon.contains(id) {
            "failed (no report)".to_owned()
        } else {
            "did not run in pylon".to_owned()
        };
        *reasons.entry(why).or_default() += 1;
    }
    result.comparable = native_passes.len() as u32 - result.left_out;
    let mut reasons: Vec<(u32, String)> = reasons.into_iter().map(|(why, n)| (n, why)).collect();
    reasons.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    result.reasons = reasons;
    result
}

/// Runs every suite on both sides, never stopping at one that fails, and prints each.
pub fn run(layout: &Layout, targets: &Targets, suites: &[String]) -> Result<Vec<SuiteResult>> {
    // One per process: two runs at once (a sweep and `cargo xtask test`) must not clear
    // each other's working directories.
    let scratch = layout.cache.join(format!("conformance-tmp-{}", std::process::id()));
    crate::stages::deps::remove_dir_if_exists(&scratch)?;
    let mut results = Vec::new();
    println!("{:<24} {:>26} {:>26} {:>8}", "suite", "native pass/fail/err/skip", "pylon pass/fail/err/skip", "share");
    for suite in suites {
        let step = Step::start(format!("conformance {suite}"));
        let result = run_suite(layout, targets, suite, &scratch)?;
        step.done();
        println!("{:<24} {:>26} {:>26} {:>7.1}%", suite, row(&result.native), row(&result.pylon), 100.0 * result.share());
        println!(
            "{:<24} pylon passes {} of {} native passes{}",
            "",
            result.passed,
            result.comparable,
            if result.left_out > 0 {
                let by: Vec<String> = result.left_out_by_reason.iter().map(|(r, n)| format!("{n} {r}")).collect();
                format!(" ({} more left out: {})", result.left_out, by.join(", "))
            } else {
                String::new()
            }
        );
        for (n, why) in result.reasons.iter().take(6) {
            println!("{:<24}   {n:>5} × {why}", "");
        }
        for note in &result.notes {
            println!("{:<24}   note: {note}", "");
        }
        results.push(result);
    }
    crate::stages::deps::remove_dir_if_exists(&scratch).ok();
    Ok(results)
}

/// The suites below `min_share`, named with their figures, and those that did not run
/// natively (nothing to compare with is no pass).
pub fn short_of(results: &[SuiteResult], min_share: f64) -> Vec<String> {
    results
        .iter()
        .filter(|r| r.share() < min_share || r.native == [0; 4])
        .map(|r| format!("{} ({} of {}, {:.1} %)", r.suite, r.passed, r.comparable, 100.0 * r.share()))
        .collect()
}

fn row(r: &[u32; 4]) -> String {
    format!("{}/{}/{}/{}", r[0], r[1], r[2], r[3])
}

/// How many reasons the report lists per suite; the rest are summed up.
const REPORT_REASONS: usize = 8;

/// The committed report: one row per suite, then each shortfall's reasons. Nothing in it
/// depends on timing, so a change in it is a change in what passes.
pub fn render_report(results: &[SuiteResult]) -> String {
    let mut out = String::from(
        "# Conformance: CPython's own test suites, native against pylon\n\n\
         Generated by `cargo xtask conformance` (the default sweep); do not edit by hand.\n\
         *native* is the build python from the same CPython tarball (x86_64, with threads and\n\
         sockets); *pylon* is the conformance build (`build/release-tests/pylon.wasm`, the\n\
         release stdlib plus CPython's `test` package). Counts are per test (unittest's\n\
         verbose lines). *share* is the native passes that pass in pylon too, out of all\n\
         native passes but those that no 32-bit WASI platform can run (*left out*: a 64-bit\n\
         address space, starting processes); a suite or module that cannot be imported in\n\
         pylon counts all its native passes as lost.\n\n\
         | suite | native pass/fail/error/skip | pylon pass/fail/error/skip | left out | passes | share |\n\
         | --- | --- | --- | --- | --- | --- |\n",
    );
    let (mut passed, mut comparable, mut left_out) = (0, 0, 0);
    let mut by_reason: BTreeMap<&str, u32> = BTreeMap::new();
    for r in results {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} of {} | {:.1} % |\n",
            r.suite,
            row(&r.native),
            row(&r.pylon),
            r.left_out,
            r.passed,
            r.comparable,
            100.0 * r.share()
        ));
        passed += r.passed;
        comparable += r.comparable;
        left_out += r.left_out;
        for (reason, n) in &r.left_out_by_reason {
            *by_reason.entry(reason).or_default() += n;
        }
    }
    out.push_str(&format!(
        "| **all** | | | {left_out} | {passed} of {comparable} | {:.1} % |\n\n",
        100.0 * f64::from(passed) / f64::from(comparable.max(1))
    ));
    out.push_str(&format!("Left out, as impossible on any 32-bit WASI platform: {left_out} native passes, skipped in pylon"));
    let by: Vec<String> = by_reason.iter().map(|(r, n)| format!("{n} \"{r}\"")).collect();
    out.push_str(&if by.is_empty() { ".\n\n".to_owned() } else { format!(" with {}.\n\n", by.join(", ")) });
    out.push_str("## Why native passes do not pass in pylon\n\n");
    for r in results.iter().filter(|r| !r.reasons.is_empty() || !r.notes.is_empty()) {
        out.push_str(&format!("### {} ({} lost)\n\n", r.suite, r.comparable - r.passed));
        for note in &r.notes {
            out.push_str(&format!("- note: {}\n", note.split(" (log ").next().unwrap_or(note)));
        }
        for (n, why) in r.reasons.iter().take(REPORT_REASONS) {
            out.push_str(&format!("- {n} × `{}`\n", why.replace('`', "'")));
        }
        let rest: u32 = r.reasons.iter().skip(REPORT_REASONS).map(|(n, _)| n).sum();
        if rest > 0 {
            out.push_str(&format!("- {rest} × other reasons ({} kinds)\n", r.reasons.len() - REPORT_REASONS));
        }
        out.push('\n');
    }
    out
}


/// `cargo xtask conformance`: CPython's suites (named, or the default sweep), and with the
/// default sweep also the real projects' pytest suites; the report is written before the
/// verdict, so a shortfall is on record.
pub fn command(suites: &[String], report: Option<&Path>, min_share: f64) -> Result<()> {
    let layout = Layout::from_env()?;
    let default_report = layout.root.join("conformance.md");
    let sweep = suites.is_empty();
    let (suites, report): (Vec<String>, Option<&Path>) = if sweep {
        (DEFAULT_SWEEP.iter().map(|s| s.to_string()).collect(), Some(report.unwrap_or(&default_report)))
    } else {
        (suites.to_vec(), report)
    };
    let args = BuildArgs { keep_tests: true, ..BuildArgs::default() };
    let built = build::build(&layout, &args)?;
    let runner = runner::build(&layout)?;
    let wasm = build::output_dir(&layout, &args).join("pylon.wasm");
    let targets = Targets { runner: &runner, wasm: &wasm, native: &built.native_python };
    let results = run(&layout, &targets, &suites)?;
    let test_inputs = if sweep { Some(thirdparty::inputs(&layout)?) } else { None };
    let projects = match &test_inputs {
        Some(inputs) => thirdparty::project_suites(&layout, &targets, inputs)?,
        None => vec![],
    };
    let pip = test_inputs.as_ref().map(|inputs| (inputs, thirdparty::pip_check(&layout, &runner, &wasm, inputs)));
    if let Some(path) = report {
        let mut text = render_report(&results);
        if !projects.is_empty() {
            text.push_str(&thirdparty::render(&projects));
        }
        if let Some((inputs, outcome)) = &pip {
            text.push_str(&thirdparty::render_pip(inputs, outcome));
        }
        crate::helpers::digest::write_atomic(path, text.as_bytes())?;
        println!("report: {}", path.display());
    }
    let short = short_of(&results, min_share);
    if !short.is_empty() {
        bail!("below {:.0} % of native passes: {}", min_share * 100.0, short.join(", "));
    }
    if let Some((_, Err(e))) = pip {
        return Err(e.context("pip inside pylon"));
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
        assert_eq!(parse_counts(failed), Some(Counts { run: 10, failures: 1, errors: 2, skipped: 3 }));
        assert_eq!(parse_counts("Traceback ..."), None);
        let log = "test_a (t.A.test_a) ... skipped 'requires 64bit platform'\ntest_b (t.B.test_b) ... skipped 'no zdict'\n";
        assert_eq!(skip_reasons(log)["t.B.test_b"], "skipped: no zdict");
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
        assert_eq!(module_of("test_sqlite3", &results[3].0), "test_hooks");
        assert_eq!(failure_reports(log)[0].0, "test.test_sqlite3.test_hooks.H.test_d");
        assert_eq!(module_of("test_zlib", "test.test_zlib.T.t"), "test_zlib");
        let failed = "ERROR: test_m (unittest.loader._FailedTest.test_m)\n---\nImportError: x\nModuleNotFoundError: No module named '_socket'\n\nRan 3 tests\n";
        assert_eq!(import_failures(failed), [("test_m".to_owned(), "ModuleNotFoundError: No module named '_socket'".to_owned())]);
    }

    const NATIVE: &str = "a (test.s.test_m.C.a) ... ok\nb (test.s.test_m.C.b) ... ok\nc (test.s.test_n.C.c) ... ok\n\
                          d (test.s.test_m.C.d) ... ok\ne (test.s.test_m.C.e) ... ok\nf (test.s.test_m.C.f) ... FAIL\nRan 6 tests\n";

    #[test]
    fn every_native_pass_is_counted_and_explained() {
        let pylon = "a (test.s.test_m.C.a) ... ok\nb (test.s.test_m.C.b) ... skipped 'requires 64bit platform'\n\
                     d (test.s.test_m.C.d) ... ERROR\ne (test.s.test_m.C.e) ... skipped 'no threads'\nf (test.s.test_m.C.f) ... ok\n\
                     test_n (unittest.loader._FailedTest.test_n) ... ERROR\n\
                     ======\nERROR: d (test.s.test_m.C.d)\n---\nTraceback\nOSError: [Errno 58] Not supported at 0x1f3a\n\
                     ======\nERROR: test_n (unittest.loader._FailedTest.test_n)\n---\nModuleNotFoundError: No module named '_x'\nRan 6 tests\n";
        let r = compare("s", NATIVE, pylon);
        assert_eq!((r.passed, r.left_out, r.comparable), (1, 1, 4));
        assert_eq!(r.native, [5, 1, 0, 0]);
        assert_eq!(
            r.reasons,
            [
                (1, "OSError: [Errno 58] Not supported at 0x…".to_owned()),
                (1, "cannot import test_n: ModuleNotFoundError: No module named '_x'".to_owned()),
                (1, "skipped: no threads".to_owned()),
            ]
        );
        assert!((r.share() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn a_suite_that_cannot_be_imported_loses_every_native_pass() {
        let pylon = format!("Traceback (most recent call last):\n{IMPORT_ERROR_MARK}ModuleNotFoundError: No module named '_socket'\n");
        let r = compare("s", NATIVE, &pylon);
        assert_eq!((r.passed, r.comparable), (0, 5));
        assert_eq!(r.reasons, [(5, "cannot import test.s: ModuleNotFoundError: No module named '_socket'".to_owned())]);
        let report = render_report(&[r]);
        assert!(report.contains("| s | 5/1/0/0 | 0/0/0/0 | 0 | 0 of 5 | 0.0 % |"), "{report}");
        assert!(report.contains("- 5 × `cannot import test.s"), "{report}");
    }
}
