//! Stage 2: CPython. A native "build python" from the pinned tarball, then the WASI host
//! build (`--host=wasm32-wasip1`) with zig through the `xtask zig-cc` wrapper.
//!
//! Each build happens in-tree in a fresh copy of the source, in a cache directory named by
//! the sha256 of all its inputs; a stamp written last marks it complete, so an interrupted
//! or failed build is never used and is simply redone.

use anyhow::{Context, Result, bail};
use duct::cmd;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cc;
use crate::deps::{Inputs, remove_dir_if_exists};
use crate::digest::StageKey;
use crate::layout::{Layout, Profile};
use crate::progress::{self, Step};

const STAMP: &str = ".pylon-stage-complete";

/// The native interpreter built from the same tarball: runs CPython's build scripts during
/// the cross build, compiles the stdlib to `.pyc`, and is the native side of benchmarks.
#[derive(Clone, Debug)]
pub struct NativePython {
    pub exe: PathBuf,
    pub key: String,
}

/// The WASI build tree.
#[derive(Clone, Debug)]
pub struct WasiPython {
    pub dir: PathBuf,
    pub python_wasm: PathBuf,
    /// `build/lib.wasi-wasm32-3.13`: the platform modules (sysconfig data).
    pub platlib: PathBuf,
    pub key: String,
}

impl WasiPython {
    /// The pure-Python standard library of the tree.
    pub fn lib(&self) -> PathBuf {
        self.dir.join("Lib")
    }
}

pub fn native(layout: &Layout, inputs: &Inputs, force: bool) -> Result<NativePython> {
    let mut key = StageKey::new("cpython-native");
    key.add_str("tarball", &inputs.pins.cpython.sha256);
    key.add_str("recipe", "configure && make");
    let key = key.finish();
    let dir = stage_dir(layout, "cpython-native", &key);
    let native = NativePython { exe: dir.join("python"), key: key.clone() };
    if !force && is_complete(&dir, &key) {
        progress::cached("native build python", &key);
        return Ok(native);
    }
    let step = Step::start(format!("native build python {} (logs in {})", inputs.pins.cpython.version, dir.display()));
    fresh_source_tree(&inputs.cpython_tarball, &dir)?;
    let env = [("SOURCE_DATE_EPOCH", inputs.pins.source_date_epoch.to_string())];
    logged(&dir, "configure", cmd!(dir.join("configure")), &env)?;
    logged(&dir, "make", cmd!("make", format!("-j{}", jobs())), &env)?;
    if !native.exe.exists() {
        bail!("native CPython build finished without {}", native.exe.display());
    }
    mark_complete(&dir, &key)?;
    prune_siblings(layout, "cpython-native", &dir);
    step.done();
    Ok(native)
}

/// Everything that decides the bytes of the WASI build, besides the source itself.
pub struct WasiRecipe<'a> {
    pub profile: Profile,
    /// The generated `Modules/Setup.local`.
    pub setup_local: &'a str,
    /// Files added to the tree (the extensions' C): (path in the tree, contents).
    pub tree_files: &'a [(String, Vec<u8>)],
}

pub fn wasi(
    layout: &Layout,
    inputs: &Inputs,
    native: &NativePython,
    recipe: &WasiRecipe,
    force: bool,
) -> Result<WasiPython> {
    let overrides_path = layout.deps_dir().join("config.site-wasi");
    let overrides = fs::read_to_string(&overrides_path)
        .with_context(|| format!("cannot read {}", overrides_path.display()))?;
    let mut key = StageKey::new("cpython-wasi");
    key.add_str("tarball", &inputs.pins.cpython.sha256)
        .add_str("zig", &inputs.zig.key)
        .add_str("native", &native.key)
        .add_str("config.site", &overrides)
        .add_str("setup.local", recipe.setup_local)
        .add_str("opt", recipe.profile.opt_flags())
        .add_str("wrapper", cc::WRAPPER_RECIPE)
        .add_str("epoch", &inputs.pins.source_date_epoch.to_string());
    for (path, bytes) in recipe.tree_files {
        key.add_str("tree-file", path).add("contents", bytes);
    }
    let key = key.finish();
    let name = format!("cpython-wasi-{}", recipe.profile.name());
    let dir = stage_dir(layout, &name, &key);
    let wasi = WasiPython {
        python_wasm: dir.join("python.wasm"),
        platlib: dir.join("build/lib.wasi-wasm32-3.13"),
        dir: dir.clone(),
        key: key.clone(),
    };
    if !force && is_complete(&dir, &key) {
        progress::cached(&format!("CPython for WASI ({})", recipe.profile.name()), &key);
        return Ok(wasi);
    }
    let step = Step::start(format!("CPython for WASI, {} profile (logs in {})", recipe.profile.name(), dir.display()));
    fresh_source_tree(&inputs.cpython_tarball, &dir)?;

    let upstream_site = fs::read_to_string(dir.join("Tools/wasm/config.site-wasm32-wasi"))?;
    let config_site = dir.join("pylon-config.site");
    fs::write(&config_site, format!("{upstream_site}\n# deps/config.site-wasi\n{overrides}"))?;
    fs::write(dir.join("Modules/Setup.local"), recipe.setup_local)?;
    for (path, bytes) in recipe.tree_files {
        let file = dir.join(path);
        fs::create_dir_all(file.parent().unwrap())?;
        fs::write(&file, bytes)?;
    }

    let xtask = std::env::current_exe().context("cannot find the xtask binary for the zig-cc wrapper")?;
    let zig = inputs.zig.exe.display().to_string();
    let mut env: Vec<(&str, String)> = vec![
        ("CONFIG_SITE", config_site.display().to_string()),
        ("CC", format!("{} zig-cc", xtask.display())),
        ("AR", format!("{zig} ar")),
        ("RANLIB", format!("{zig} ranlib")),
        ("OPT", recipe.profile.opt_flags().to_owned()),
        // In-tree paths are relative already; this catches the rest (e.g. __FILE__ in asserts).
        ("CFLAGS", format!("-ffile-prefix-map={}=/cpython", dir.display())),
        // Never let configure find the build machine's libraries (zlib, sqlite, ...) through
        // pkg-config: the result would depend on which -dev packages happen to be installed.
        ("PKG_CONFIG_PATH", String::new()),
        ("PKG_CONFIG_LIBDIR", dir.join("no-host-pkgconfig").display().to_string()),
        (cc::ZIG_ENV, zig.clone()),
        ("SOURCE_DATE_EPOCH", inputs.pins.source_date_epoch.to_string()),
    ];
    for (k, v) in inputs.zig.env() {
        env.push((k, v.display().to_string()));
    }
    let build_triple = cmd!(dir.join("config.guess")).dir(&dir).read().context("config.guess failed")?;
    logged(
        &dir,
        "configure",
        cmd!(
            dir.join("configure"),
            "--host=wasm32-wasip1",
            format!("--build={}", build_triple.trim()),
            format!("--with-build-python={}", native.exe.display()),
            "--prefix=/usr/local",
            "--without-ensurepip"
        ),
        &env,
    )?;
    logged(&dir, "make", cmd!("make", format!("-j{}", jobs())), &env)?;
    for needed in [&wasi.python_wasm, &wasi.platlib.join(SYSCONFIGDATA)] {
        if !needed.exists() {
            bail!("the WASI build finished without {} (see {}/make.log)", needed.display(), dir.display());
        }
    }
    mark_complete(&dir, &key)?;
    prune_siblings(layout, &name, &dir);
    step.done();
    Ok(wasi)
}

/// The sysconfig data module of the WASI build, as named by CPython.
pub const SYSCONFIGDATA: &str = "_sysconfigdata__wasi_wasm32-wasi.py";

fn stage_dir(layout: &Layout, name: &str, key: &str) -> PathBuf {
    layout.cache.join(format!("{name}-{}", &key[..16]))
}

fn is_complete(dir: &Path, key: &str) -> bool {
    fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s.trim() == key)
}

fn mark_complete(dir: &Path, key: &str) -> Result<()> {
    fs::write(dir.join(STAMP), format!("{key}\n")).context("cannot write the stage stamp")
}

/// Old builds of a stage are dead weight (hundreds of MB each): once a new one is complete,
/// keep it and the most recent other one (switching between two cap sets stays cheap).
fn prune_siblings(layout: &Layout, name: &str, keep: &Path) {
    let prefix = format!("{name}-");
    let Ok(entries) = fs::read_dir(&layout.cache) else { return };
    let mut others: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            let file_name = e.file_name().to_string_lossy().into_owned();
            let rest = file_name.strip_prefix(&prefix).unwrap_or("");
            e.path() != keep && rest.len() == 16 && rest.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
        .collect();
    others.sort();
    others.pop();
    for (_, path) in others {
        fs::remove_dir_all(&path).ok();
    }
}

/// An empty directory holding the pinned source, unpacked.
fn fresh_source_tree(tarball: &Path, dir: &Path) -> Result<()> {
    remove_dir_if_exists(dir)?;
    fs::create_dir_all(dir)?;
    cmd!("tar", "-xf", tarball, "-C", dir, "--strip-components=1")
        .run()
        .with_context(|| format!("cannot unpack {}", tarball.display()))?;
    Ok(())
}

/// Runs `expr` in `dir` with its output in `dir/<what>.log`; on failure shows the tail.
fn logged(dir: &Path, what: &str, expr: duct::Expression, env: &[(&str, String)]) -> Result<()> {
    let log = dir.join(format!("{what}.log"));
    let step = Step::start(format!("  {what}"));
    let mut expr = expr.dir(dir).stderr_to_stdout().stdout_path(&log).unchecked();
    for (k, v) in env {
        expr = expr.env(k, v);
    }
    let out = expr.run().with_context(|| format!("cannot start {what} in {}", dir.display()))?;
    if !out.status.success() {
        let text = fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(25).collect();
        for line in tail.iter().rev() {
            eprintln!("    | {line}");
        }
        bail!("{what} failed in {} ({}); full log: {}", dir.display(), out.status, log.display());
    }
    step.done();
    Ok(())
}

pub fn jobs() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)
}
