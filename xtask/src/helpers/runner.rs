//! The `pylon` runner binary (crate `pylon/`): built in release, since it compiles the
//! 7 MB core with Cranelift on its first start.

use anyhow::{Context, Result};
use duct::cmd;
use std::path::{Path, PathBuf};

use crate::helpers::layout::Layout;
use crate::helpers::progress::Step;

pub fn target_dir(layout: &Layout) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => layout.root.join(dir),
        _ => layout.root.join("target"),
    }
}

/// Builds the runner (a no-op when it is fresh) and returns its path.
pub fn build(layout: &Layout) -> Result<PathBuf> {
    let step = Step::start("pylon runner: cargo build --release -p pylon");
    cmd!(cargo(), "build", "--release", "--quiet", "-p", "pylon")
        .dir(&layout.root)
        .stdout_to_stderr()
        .run()
        .context("building the pylon runner failed")?;
    step.done();
    Ok(target_dir(layout).join("release/pylon"))
}

/// Where cargo keeps the registry's sources: `$CARGO_HOME`, else `~/.cargo`.
pub fn cargo_home() -> PathBuf {
    std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cargo"))
}

/// rustc flags mapping this checkout and cargo's home out of what it writes (as `/pylon`
/// and `/cargo`), so that two checkouts build the same bytes.
pub fn remap_rustflags(layout: &Layout) -> String {
    format!("--remap-path-prefix={}=/pylon --remap-path-prefix={}=/cargo", layout.root.display(), cargo_home().display())
}

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// `pylon --wasm WASM --precompile`: compiles the component and its cold core into the
/// runner's cache (a no-op when they are there).
pub fn precompile(runner: &Path, wasm: &Path) -> Result<()> {
    let step = Step::start(format!("precompile {} into the runner's cache", wasm.display()));
    cmd!(runner, "--wasm", wasm, "--precompile")
        .stdout_to_stderr()
        .run()
        .with_context(|| format!("`pylon --precompile` of {} failed", wasm.display()))?;
    step.done();
    Ok(())
}

/// Runs `pylon --wasm WASM ARGS`, returning its exit status.
pub fn run(runner: &Path, wasm: &Path, args: &[std::ffi::OsString]) -> Result<std::process::ExitStatus> {
    let mut full: Vec<std::ffi::OsString> = vec!["--wasm".into(), wasm.into()];
    full.extend(args.iter().cloned());
    let out = cmd(runner, full).unchecked().run().with_context(|| format!("cannot run {}", runner.display()))?;
    Ok(out.status)
}
