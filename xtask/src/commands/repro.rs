//! Reproducibility: a second build of the same sources in another directory, with a cache
//! of its own (so CPython is rebuilt from scratch), must give the same bytes.

use anyhow::{Context, Result, bail};
use duct::cmd;
use std::fs;
use std::path::Path;

use crate::commands::build::Built;
use crate::commands::build::{self, BuildArgs};
use crate::helpers::layout::Layout;
use crate::helpers::progress::Step;
use crate::stages::deps::remove_dir_if_exists;
use crate::stages::manifest::Manifest;

pub fn check(layout: &Layout, first: &Built) -> Result<()> {
    let base = layout.root.join("target/repro");
    let checkout = base.join("elsewhere/pylon-checkout");
    let step = Step::start(format!("reproducibility: second build in {}", checkout.display()));
    remove_dir_if_exists(&base)?;
    copy_sources(&layout.root, &checkout)?;
    // The same xtask code runs the second build: it takes the workspace from
    // CARGO_MANIFEST_DIR. Only the verified downloads are shared, not the built stages.
    let xtask = std::env::current_exe()?;
    let pins = &first.inputs.pins;
    let downloads = layout.downloads();
    let mut second_build = cmd!(xtask, "build")
        .env("CARGO_MANIFEST_DIR", checkout.join("xtask"))
        .env("PYLON_CACHE_DIR", base.join("cache"));
    for pin in pins.all() {
        if let Some(var) = &pin.local_env {
            second_build = second_build.env(var, downloads.join(&pin.file));
        }
    }
    second_build.run().context("the second build failed")?;
    let second = Manifest::load(&checkout.join("caps-manifest.toml"))?;
    step.done();

    let mut differ = 0;
    println!("{:<8} {:<64} {:<64}", "artifact", "sha256 here", "sha256 elsewhere");
    let caps = |m: &Manifest| m.caps.iter().map(|c| c.artifact.clone()).collect::<Vec<_>>();
    let mine: Vec<_> = first.manifest.artifacts.iter().cloned().chain(caps(&first.manifest)).collect();
    let theirs: Vec<_> = second.artifacts.iter().cloned().chain(caps(&second)).collect();
    for a in &mine {
        let other = theirs.iter().find(|b| b.name == a.name).map_or("(missing)", |b| b.sha256.as_str());
        let mark = if other == a.sha256 { "" } else { "  <-- differs" };
        differ += usize::from(other != a.sha256);
        println!("{:<8} {} {}{mark}", a.name, a.sha256, other);
    }
    if differ > 0 {
        bail!("{differ} artifact(s) differ between {} and {}", layout.root.display(), checkout.display());
    }
    println!("reproducible: {} artifacts (caps included) identical in both directories", mine.len());
    remove_dir_if_exists(&base.join("cache"))?;
    Ok(())
}

/// Copies the files git knows (tracked, or untracked and not ignored).
pub fn copy_sources(root: &Path, to: &Path) -> Result<()> {
    let list = cmd!("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        .dir(root)
        .read()
        .context("git ls-files failed (the reproducibility check needs a git checkout)")?;
    for rel in list.split('\0').filter(|s| !s.is_empty()) {
        let from = root.join(rel);
        if !from.is_file() {
            continue;
        }
        let dest = to.join(rel);
        fs::create_dir_all(dest.parent().unwrap())?;
        fs::copy(&from, &dest).with_context(|| format!("cannot copy {rel}"))?;
    }
    Ok(())
}

/// `cargo xtask repro`.
pub fn command() -> Result<()> {
    let layout = Layout::from_env()?;
    let args = BuildArgs::default();
    let built = build::build(&layout, &args)?;
    check(&layout, &built)
}
