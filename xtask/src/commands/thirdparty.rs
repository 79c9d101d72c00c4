//! Python that nobody here wrote, inside pylon: pip installing a wheel into a mounted
//! directory, and real projects' own pytest suites run in pylon and on the native build
//! python side by side. Everything comes pinned from `deps/test-inputs.toml`.

use anyhow::{Context, Result, anyhow, bail, ensure};
use duct::cmd;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::commands::conformance::{Targets, wait_logged};
use crate::helpers::digest::{StageKey, pending_path};
use crate::helpers::layout::Layout;
use crate::helpers::progress::Step;
use crate::stages::deps::{Pin, ensure_pin, remove_dir_if_exists};

/// A project whose own test suite is run.
#[derive(Clone, Debug)]
pub struct Project {
    pub package: String,
    pub version: String,
    pub sdist: PathBuf,
    /// The suite's directory inside the sdist.
    pub tests: String,
    /// What goes first on `sys.path`, relative to the sdist (`.` or `src`).
    pub path: String,
}

/// The verified files of `deps/test-inputs.toml`.
pub struct TestInputs {
    /// Wheels unpacked onto `sys.path` to run the suites (pytest and what it needs).
    pub tools: Vec<(String, PathBuf)>,
    /// pip's own wheel, and the wheel it installs.
    pub pip: PathBuf,
    pub wheel: PathBuf,
    pub wheel_package: String,
    pub wheel_version: String,
    pub projects: Vec<Project>,
}

/// Reads `deps/test-inputs.toml` and fetches (or finds in the download cache) every file.
pub fn inputs(layout: &Layout) -> Result<TestInputs> {
    let path = layout.deps_dir().join("test-inputs.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: toml_edit::DocumentMut = text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
    let entries = |kind: &str| -> Result<Vec<(toml_edit::Table, Pin)>> {
        let Some(array) = doc.get(kind).and_then(|a| a.as_array_of_tables()) else {
            bail!("{}: no [[{kind}]] entries", path.display())
        };
        array
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let get = |key: &str| {
                    t.get(key).and_then(|v| v.as_str()).map(str::to_owned).ok_or_else(|| anyhow!("{}: [[{kind}]] #{} has no `{key}`", path.display(), i + 1))
                };
                let pin = Pin {
                    name: format!("{kind} {}", get("package")?),
                    client: if kind == "project" { "pip-sdist" } else { "pip" }.to_owned(),
                    package: get("package")?,
                    version: get("version")?,
                    file: get("file")?,
                    sha256: get("sha256")?,
                    suite: None,
                    local_env: None,
                };
                Ok((t.clone(), pin))
            })
            .collect()
    };
    let mut tools = Vec::new();
    for (_, pin) in entries("tool")? {
        tools.push((pin.package.clone(), ensure_pin(layout, &pin, false)?));
    }
    let pips = entries("pip")?;
    ensure!(pips.len() == 2, "{}: expected two [[pip]] entries (pip itself, then the wheel it installs)", path.display());
    let pip = ensure_pin(layout, &pips[0].1, false)?;
    let wheel = ensure_pin(layout, &pips[1].1, false)?;
    let mut projects = Vec::new();
    for (table, pin) in entries("project")? {
        let field = |key: &str| table.get(key).and_then(|v| v.as_str()).unwrap_or(".").to_owned();
        projects.push(Project { sdist: ensure_pin(layout, &pin, false)?, tests: field("tests"), path: field("path"), package: pin.package, version: pin.version });
    }
    Ok(TestInputs { tools, pip, wheel, wheel_package: pips[1].1.package.clone(), wheel_version: pips[1].1.version.clone(), projects })
}

/// `pip install --no-index --target` of a pure-Python wheel inside pylon, run from pip's
/// own wheel, into a mounted directory; then the package imports from there.
pub fn pip_check(layout: &Layout, runner: &Path, wasm: &Path, inputs: &TestInputs) -> Result<()> {
    let step = Step::start(format!("pip inside pylon: install {} from its wheel, then import it", inputs.wheel_package));
    let work = layout.cache.join("pip-check");
    remove_dir_if_exists(&work)?;
    fs::create_dir_all(&work)?;
    let (pip_name, wheel_name) = (file_name(&inputs.pip), file_name(&inputs.wheel));
    fs::copy(&inputs.pip, work.join(&pip_name))?;
    fs::copy(&inputs.wheel, work.join(&wheel_name))?;
    fs::create_dir_all(work.join("tmp"))?;
    let install = cmd!(
        runner,
        "--wasm",
        wasm,
        "--dir",
        format!("{}::/w", work.display()),
        "--env",
        format!("PYTHONPATH=/w/{pip_name}"),
        // pip from its wheel extracts its CA bundle to a temporary file; the guest has no
        // writable /tmp unless one is mounted.
        "--env",
        "TMPDIR=/w/tmp",
        "-m",
        "pip",
        "install",
        "--no-index",
        "--target",
        "/w/site",
        format!("/w/{wheel_name}")
    )
    .stderr_to_stdout()
    .stdout_capture()
    .unchecked()
    .run()?;
    let said = String::from_utf8_lossy(&install.stdout);
    ensure!(install.status.success(), "pip install in pylon failed ({}):\n{said}", install.status);
    let module = inputs.wheel_package.replace('-', "_");
    let import = cmd!(
        runner,
        "--wasm",
        wasm,
        "--dir-ro",
        format!("{}::/site", work.join("site").display()),
        "--env",
        "PYTHONPATH=/site",
        "-c",
        format!("import {module}; print({module}.__version__, {module}.__file__)")
    )
    .stderr_to_stdout()
    .stdout_capture()
    .unchecked()
    .run()?;
    let printed = String::from_utf8_lossy(&import.stdout);
    ensure!(
        import.status.success() && printed.starts_with(&format!("{} /site/", inputs.wheel_version)),
        "the package pip installed in pylon does not import ({}): {printed}\npip said:\n{said}",
        import.status
    );
    remove_dir_if_exists(&work)?;
    step.done();
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The tool wheels unpacked into one cached directory (what `pip install --target` would
/// leave for pure-Python wheels).
fn site_dir(layout: &Layout, inputs: &TestInputs) -> Result<PathBuf> {
    let mut key = StageKey::new("pytest-site");
    for (name, wheel) in &inputs.tools {
        key.add_str("wheel", name).add("bytes", &fs::read(wheel)?);
    }
    let key = key.finish();
    let dir = layout.cache.join(format!("pytest-site-{}", &key[..16]));
    if fs::read_to_string(dir.join(".complete")).is_ok_and(|s| s.trim() == key) {
        return Ok(dir);
    }
    let pending = pending_path(&dir);
    remove_dir_if_exists(&pending)?;
    fs::create_dir_all(&pending)?;
    for (name, wheel) in &inputs.tools {
        let file = fs::File::open(wheel)?;
        zip::ZipArchive::new(file)
            .and_then(|mut z| z.extract(&pending))
            .with_context(|| format!("cannot unpack the {name} wheel {}", wheel.display()))?;
    }
    fs::write(pending.join(".complete"), format!("{key}\n"))?;
    remove_dir_if_exists(&dir)?;
    fs::rename(&pending, &dir)?;
    Ok(dir)
}

/// A fresh copy of the project's sdist, unpacked into `to`.
fn unpack(project: &Project, to: &Path) -> Result<()> {
    remove_dir_if_exists(to)?;
    fs::create_dir_all(to)?;
    cmd!("tar", "-xzf", &project.sdist, "-C", to, "--strip-components=1")
        .run()
        .with_context(|| format!("cannot unpack {}", project.sdist.display()))?;
    Ok(())
}

/// pytest's counts, from its closing line (`3 failed, 120 passed, 2 skipped in 1.20s`).
#[derive(Debug, Default, PartialEq, Clone, Copy)]
pub struct PytestCounts {
    pub passed: u32,
    pub failed: u32,
    pub errors: u32,
    pub skipped: u32,
    pub xfailed: u32,
    pub xpassed: u32,
}

pub fn parse_pytest_summary(output: &str) -> Option<PytestCounts> {
    let line = output.lines().rev().find(|l| {
        let l = l.trim().trim_matches('=').trim();
        (l.contains(" passed") || l.contains(" failed") || l.contains(" error") || l.contains("no tests ran")) && l.contains(" in ")
    })?;
    let line = line.trim().trim_matches('=').trim();
    let mut counts = PytestCounts::default();
    for part in line[..line.rfind(" in ")?].split(", ") {
        let Some((n, what)) = part.trim().split_once(' ') else { continue };
        let Ok(n) = n.parse::<u32>() else { continue };
        match what {
            "passed" => counts.passed = n,
            "failed" => counts.failed = n,
            "error" | "errors" => counts.errors = n,
            "skipped" => counts.skipped = n,
            "xfailed" => counts.xfailed = n,
            "xpassed" => counts.xpassed = n,
            _ => {}
        }
    }
    Some(counts)
}

/// Test ids and reasons from pytest's `-rfEs` short summary (`FAILED id - reason`,
/// `ERROR id - reason`, `SKIPPED [n] file:line: reason`).
pub fn short_summary(output: &str) -> (BTreeMap<String, String>, Vec<(u32, String)>) {
    let mut failed = BTreeMap::new();
    let mut skipped = Vec::new();
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("FAILED ").or_else(|| line.strip_prefix("ERROR ")) {
            let (id, why) = rest.split_once(" - ").unwrap_or((rest, "(no message)"));
            failed.insert(id.trim().to_owned(), why.trim().to_owned());
        } else if let Some(rest) = line.strip_prefix("SKIPPED [") {
            let Some((n, rest)) = rest.split_once(']') else { continue };
            let why = rest.splitn(3, ':').nth(2).unwrap_or(rest).trim().to_owned();
            skipped.push((n.parse().unwrap_or(1), why));
        }
    }
    (failed, skipped)
}

/// One project's suite on both sides.
#[derive(Debug, Clone)]
pub struct ProjectResult {
    pub project: String,
    pub native: PytestCounts,
    pub pylon: PytestCounts,
    /// Why tests failed in pylon but not natively: (count, reason), most first.
    pub reasons: Vec<(u32, String)>,
    pub notes: Vec<String>,
}

/// The flags WASI forces on pytest, on both sides alike: no fd-level capture and no
/// faulthandler, both built on `os.dup`, which WASI preview 1 does not have.
pub const PYTEST_FLAGS: &[&str] =
    &["-p", "no:cacheprovider", "-p", "no:faulthandler", "--capture=sys", "-q", "-rfEs", "--color=no", "--continue-on-collection-errors"];

/// Runs each project's own suite natively and in pylon at the same time.
pub fn project_suites(layout: &Layout, targets: &Targets, inputs: &TestInputs) -> Result<Vec<ProjectResult>> {
    let site = site_dir(layout, inputs)?;
    let scratch = layout.cache.join(format!("projects-tmp-{}", std::process::id()));
    remove_dir_if_exists(&scratch)?;
    let mut results = Vec::new();
    for project in &inputs.projects {
        let name = format!("{} {}", project.package, project.version);
        let step = Step::start(format!("pytest suite of {name}"));
        let (native_dir, pylon_dir) = (scratch.join(format!("{}-native", project.package)), scratch.join(format!("{}-pylon", project.package)));
        let (native_tmp, pylon_tmp) = (scratch.join(format!("{}-native-tmp", project.package)), scratch.join(format!("{}-pylon-tmp", project.package)));
        for (dir, tmp) in [(&native_dir, &native_tmp), (&pylon_dir, &pylon_tmp)] {
            unpack(project, dir)?;
            fs::create_dir_all(tmp)?;
        }
        let native_log = layout.cache.join(format!("pytest-{}-native.log", project.package));
        let pylon_log = layout.cache.join(format!("pytest-{}-pylon.log", project.package));
        let started = Instant::now();
        let mut native_args: Vec<String> = vec!["-m".into(), "pytest".into()];
        native_args.extend(PYTEST_FLAGS.iter().map(|s| s.to_string()));
        native_args.push(project.tests.clone());
        let native = cmd(targets.native, &native_args)
            .dir(&native_dir)
            .env("PYTHONPATH", format!("{}:{}", native_dir.join(&project.path).display(), site.display()))
            .env("TMPDIR", &native_tmp)
            .env_remove("PYTHONHOME")
            .stdin_null()
            .stderr_to_stdout()
            .stdout_path(&native_log)
            .unchecked()
            .start()?;
        let mut pylon_args: Vec<String> = vec![
            "--wasm".into(),
            targets.wasm.display().to_string(),
            "--dir-ro".into(),
            format!("{}::/site", site.display()),
            "--dir".into(),
            format!("{}::/proj", pylon_dir.display()),
            "--dir".into(),
            format!("{}::/tmp", pylon_tmp.display()),
            "--env".into(),
            "TMPDIR=/tmp".into(),
            "--env".into(),
            format!("PYTHONPATH=/proj/{}:/site", project.path),
            "--cwd".into(),
            "/proj".into(),
            "-m".into(),
            "pytest".into(),
        ];
        pylon_args.extend(PYTEST_FLAGS.iter().map(|s| s.to_string()));
        pylon_args.push(project.tests.clone());
        let pylon = cmd(targets.runner, &pylon_args).stdin_null().stderr_to_stdout().stdout_path(&pylon_log).unchecked().start()?;
        let (native, pylon) = (wait_logged(native, &native_log, started)?, wait_logged(pylon, &pylon_log, started)?);
        step.done();
        let mut notes = Vec::new();
        let mut counts = |side: &str, ran: &crate::commands::conformance::Ran, log: &Path| {
            parse_pytest_summary(&ran.text).unwrap_or_else(|| {
                let last = ran.text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned();
                notes.push(format!("{side}: no pytest summary{} — {last} (log {})", if ran.timed_out { " (stopped)" } else { "" }, log.display()));
                PytestCounts::default()
            })
        };
        let (n, p) = (counts("native", &native, &native_log), counts("pylon", &pylon, &pylon_log));
        let (native_failed, _) = short_summary(&native.text);
        let (pylon_failed, pylon_skipped) = short_summary(&pylon.text);
        let (_, native_skipped) = short_summary(&native.text);
        let mut reasons: BTreeMap<String, u32> = BTreeMap::new();
        for (id, why) in &pylon_failed {
            if !native_failed.contains_key(id) {
                *reasons.entry(why.chars().take(160).collect()).or_default() += 1;
            }
        }
        // Skips that only pylon has, by reason.
        let native_skip_reasons: std::collections::BTreeSet<&String> = native_skipped.iter().map(|(_, w)| w).collect();
        for (count, why) in &pylon_skipped {
            if !native_skip_reasons.contains(why) {
                *reasons.entry(format!("skipped: {why}")).or_default() += count;
            }
        }
        let mut reasons: Vec<(u32, String)> = reasons.into_iter().map(|(w, c)| (c, w)).collect();
        reasons.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        println!("{name:<28} native {:>5} passed {:>3} failed {:>3} errors {:>3} skipped", n.passed, n.failed, n.errors, n.skipped);
        println!("{:<28} pylon  {:>5} passed {:>3} failed {:>3} errors {:>3} skipped", "", p.passed, p.failed, p.errors, p.skipped);
        for (c, why) in reasons.iter().take(6) {
            println!("{:<28}   {c:>4} × {why}", "");
        }
        for note in &notes {
            println!("{:<28}   note: {note}", "");
        }
        results.push(ProjectResult { project: name, native: n, pylon: p, reasons, notes });
    }
    remove_dir_if_exists(&scratch).ok();
    eprintln!("    pytest logs: {}/pytest-*.log", layout.cache.display());
    Ok(results)
}

/// The report's line for `pip_check`: what was installed with what, and how it went.
pub fn render_pip(inputs: &TestInputs, outcome: &Result<()>) -> String {
    let what = format!(
        "`pip install --no-index --target` of {} {} (`{}`) by `{}` run from its wheel, then `import {}` from the target",
        inputs.wheel_package,
        inputs.wheel_version,
        file_name(&inputs.wheel),
        file_name(&inputs.pip),
        inputs.wheel_package.replace('-', "_")
    );
    let verdict = match outcome {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("FAILED: {}", format!("{e:#}").lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").replace('`', "'")),
    };
    format!("## pip inside pylon\n\n{what}: {verdict}\n\n")
}

/// The report's section for the projects' suites.
pub fn render(results: &[ProjectResult]) -> String {
    let mut out = format!(
        "## Real projects' own test suites (pytest)\n\n\
         Each project's suite from its sdist, run by pytest with the flags WASI forces, on both\n\
         sides alike: `{}`. *share* is pylon's passes out of the native passes.\n\n\
         | project | native passed/failed/errors/skipped | pylon passed/failed/errors/skipped | share |\n\
         | --- | --- | --- | --- |\n",
        PYTEST_FLAGS.join(" ")
    );
    let row = |c: &PytestCounts| format!("{}/{}/{}/{}", c.passed, c.failed, c.errors, c.skipped);
    for r in results {
        out.push_str(&format!(
            "| {} | {} | {} | {:.1} % |\n",
            r.project,
            row(&r.native),
            row(&r.pylon),
            100.0 * f64::from(r.pylon.passed) / f64::from(r.native.passed.max(1))
        ));
    }
    out.push('\n');
    for r in results.iter().filter(|r| !r.reasons.is_empty() || !r.notes.is_empty()) {
        out.push_str(&format!("### {}\n\n", r.project));
        for note in &r.notes {
            out.push_str(&format!("- note: {}\n", note.split(" (log ").next().unwrap_or(note)));
        }
        for (c, why) in r.reasons.iter().take(8) {
            out.push_str(&format!("- {c} × `{}`\n", why.replace('`', "'")));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytest_summaries() {
        let out = "....F.s\nFAILED tests/test_a.py::test_x - OSError: [Errno 58] Not supported\n\
                   ERROR tests/test_b.py::test_y - ModuleNotFoundError: No module named '_x'\n\
                   SKIPPED [3] tests/test_c.py:12: needs threads\n\
                   1 failed, 120 passed, 3 skipped, 1 error, 2 xfailed in 1.20s\n";
        assert_eq!(
            parse_pytest_summary(out),
            Some(PytestCounts { passed: 120, failed: 1, errors: 1, skipped: 3, xfailed: 2, xpassed: 0 })
        );
        assert_eq!(parse_pytest_summary("==== 5 passed in 0.01s ===="), Some(PytestCounts { passed: 5, ..Default::default() }));
        assert_eq!(parse_pytest_summary("Traceback (most recent call last):"), None);
        let (failed, skipped) = short_summary(out);
        assert_eq!(failed["tests/test_a.py::test_x"], "OSError: [Errno 58] Not supported");
        assert_eq!(failed.len(), 2);
        assert_eq!(skipped, [(3, "needs threads".to_owned())]);
    }
}
