//! Smoke tests: the Python files under `pylon/tests/smoke/` run inside pylon through the
//! real runner. A file says how it is run in `# key: value` header lines:
//!
//! - `pylon-args:` runner options before the script (`{tmp}` is a fresh host temp dir)
//! - `script-args:` arguments after the script
//! - `exit:` the expected exit code (default 0)
//! - `stderr-contains:` text the error output must contain
//! - `host-file: NAME = TEXT` a file the script must leave in `{tmp}`
//! - `stdin:` text fed to the runner's standard input
//! - `native-before:` / `native-after:` Python code the native build python runs in `{tmp}`
//!   before / after the pylon run (interoperability: files one side writes, the other reads)

use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, PartialEq)]
pub struct Spec {
    pub pylon_args: Vec<String>,
    pub script_args: Vec<String>,
    pub exit: i32,
    pub stderr_contains: Vec<String>,
    pub host_files: Vec<(String, String)>,
    pub stdin: Option<String>,
    pub native_before: Vec<String>,
    pub native_after: Vec<String>,
}

pub fn parse_spec(source: &str) -> Result<Spec> {
    let mut spec = Spec::default();
    for line in source.lines().take_while(|l| l.starts_with('#') || l.trim().is_empty()) {
        let Some((key, value)) = line.trim_start_matches('#').trim().split_once(':') else { continue };
        let value = value.trim();
        match key.trim() {
            "pylon-args" => spec.pylon_args = value.split_whitespace().map(str::to_owned).collect(),
            "script-args" => spec.script_args = value.split_whitespace().map(str::to_owned).collect(),
            "exit" => spec.exit = value.parse().with_context(|| format!("bad exit code `{value}`"))?,
            "stderr-contains" => spec.stderr_contains.push(value.to_owned()),
            "stdin" => spec.stdin = Some(format!("{value}\n")),
            "native-before" => spec.native_before.push(value.to_owned()),
            "native-after" => spec.native_after.push(value.to_owned()),
            "host-file" => {
                let Some((name, text)) = value.split_once('=') else { bail!("host-file wants `NAME = TEXT`") };
                spec.host_files.push((name.trim().to_owned(), text.trim().to_owned()));
            }
            _ => {}
        }
    }
    Ok(spec)
}

/// The runner's own smoke tests, then each extension's (`<ext dir>/smoke/`, for pylon's
/// extensions and the example applications' alike), in module order.
pub fn smoke_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = vec![root.join("pylon/tests/smoke")];
    let (_, exts) = crate::stages::caps::discover(root)?;
    dirs.extend(exts.iter().map(|e| e.dir.join("smoke")).filter(|d| d.is_dir()));
    let mut files = Vec::new();
    for dir in dirs {
        let mut found: Vec<PathBuf> = fs::read_dir(&dir)
            .with_context(|| format!("cannot list {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "py"))
            .collect();
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Runs `code` with the native python in `dir`; the reason it failed, if it did.
fn run_native(native: Option<&Path>, dir: &Path, code: &str, when: &str) -> Result<Option<String>> {
    let Some(native) = native else { return Ok(Some(format!("{when}: needs the native python"))) };
    let out = duct::cmd!(native, "-c", code).dir(dir).stdout_capture().stderr_capture().unchecked().run()?;
    Ok((!out.status.success()).then(|| {
        format!("{when} failed ({}):\n{}{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }))
}

/// Runs one smoke file; returns the reasons it failed (empty when it passed). `native` is
/// the native build python, for the `native-before`/`native-after` steps.
pub fn run_one(runner: &Path, wasm: &Path, file: &Path, scratch: &Path, native: Option<&Path>) -> Result<Vec<String>> {
    let spec = parse_spec(&fs::read_to_string(file)?).with_context(|| format!("header of {}", file.display()))?;
    let tmp = scratch.join(file.file_stem().unwrap());
    crate::stages::deps::remove_dir_if_exists(&tmp)?;
    fs::create_dir_all(&tmp)?;
    for code in &spec.native_before {
        if let Some(failure) = run_native(native, &tmp, code, "native-before")? {
            return Ok(vec![failure]);
        }
    }
    let subst = |s: &String| s.replace("{tmp}", &tmp.display().to_string());
    let mut args: Vec<String> = vec!["--wasm".into(), wasm.display().to_string()];
    args.extend(spec.pylon_args.iter().map(subst));
    args.push(file.display().to_string());
    args.extend(spec.script_args.iter().map(subst));
    let mut expr = duct::cmd(runner, &args).stdout_capture().stderr_capture().unchecked()
        // Present on the host, must not reach the guest (see env.py).
        .env("PYLON_SMOKE_HOST_ONLY", "must-not-leak");
    expr = match &spec.stdin {
        Some(text) => expr.stdin_bytes(text.as_bytes()),
        None => expr.stdin_null(),
    };
    let out = expr.run().with_context(|| format!("cannot run {}", runner.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut failures = Vec::new();
    let code = out.status.code().unwrap_or(-1);
    if code == spec.exit {
        for code in &spec.native_after {
            failures.extend(run_native(native, &tmp, code, "native-after")?);
        }
    }
    if code != spec.exit {
        failures.push(format!("exit code {code}, expected {}", spec.exit));
    }
    for needle in &spec.stderr_contains {
        if !stderr.contains(needle.as_str()) {
            failures.push(format!("stderr lacks `{needle}`"));
        }
    }
    for (name, text) in &spec.host_files {
        match fs::read_to_string(tmp.join(name)) {
            Ok(found) if found.trim() == text => {}
            Ok(found) => failures.push(format!("host file {name} holds `{}`, expected `{text}`", found.trim())),
            Err(_) => failures.push(format!("host file {name} was not written")),
        }
    }
    if !failures.is_empty() {
        failures.push(format!("stdout:\n{}", String::from_utf8_lossy(&out.stdout)));
        failures.push(format!("stderr:\n{stderr}"));
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_parsed() {
        let spec = parse_spec("# pylon-args: --dir {tmp}::/data\n# exit: 3\n# host-file: a.txt = hi there\nimport sys\n# exit: 9\n").unwrap();
        assert_eq!(spec.pylon_args, ["--dir", "{tmp}::/data"]);
        assert_eq!(spec.exit, 3);
        assert_eq!(spec.host_files, [("a.txt".to_owned(), "hi there".to_owned())]);
    }

    #[test]
    fn every_smoke_file_has_a_valid_header() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let files = smoke_files(root).unwrap();
        assert!(files.len() >= 8, "expected the smoke suite, found {files:?}");
        for file in files {
            parse_spec(&fs::read_to_string(&file).unwrap()).unwrap();
        }
    }
}
