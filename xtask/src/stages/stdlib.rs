//! Stage 3: the standard library as a directory tree, `lib/python3.13/`: every module's
//! `.py` with its bytecode in `__pycache__`, the layout of any CPython install, on the
//! guest's default `sys.path` (CPython's getpath finds `os.py` there).
//!
//! Bytecode uses unchecked-hash invalidation: no timestamps, and the sources are never read
//! to check it, so imports cost what they cost from an archive while tracebacks,
//! `linecache` and `inspect.getsource` read the sources, and `__file__` names the `.py` as
//! natively. A tree also beats the `python313.zip` of earlier builds at start-up (measured
//! for `-c pass`: 103 M instructions against 149 M for a sourceless zip and 192 M for a zip
//! with sources): zipimport parses the archive's whole directory in Python on every start,
//! while the tree costs one directory listing per package imported.
//!
//! CPython's `test` package is never in it: conformance builds get it as a tree of its own
//! ([`test_tree`]), data files included.

use anyhow::{Context, Result};
use duct::cmd;
use std::fs;
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

use crate::helpers::digest::{StageKey, pending_path};
use crate::helpers::progress::{self, Step};
use crate::stages::cpython::{NativePython, SYSCONFIGDATA, WasiPython};
use crate::stages::deps::remove_dir_if_exists;

/// Where the runner mounts the stdlib directory (`lib/` next to the component) in the guest.
pub const GUEST_LIB: &str = "/usr/local/lib";
/// The tree's name under `lib/` (and under [`GUEST_LIB`]).
pub const TREE_DIR: &str = "python3.13";

/// Top-level parts of `Lib/` that a sandboxed interpreter has no use for.
const LEFT_OUT: &[&str] = &["idlelib", "tkinter", "turtledemo", "site-packages", "__phello__"];

const RECIPE: &str = "stdlib v3: .py and __pycache__ .pyc (unchecked-hash), no test/";
const TESTS_RECIPE: &str = "tests v1: every file of Lib/test, __pycache__ .pyc unchecked-hash";

/// Files CPython's test suite ships with deliberate syntax or encoding errors.
const NOT_COMPILABLE: &str = r"bad_coding|badsyntax|tokenizedata/bad|test_lib2to3/data";

pub struct StdlibInputs<'a> {
    pub native: &'a NativePython,
    pub wasi: &'a WasiPython,
    /// Absolute paths of this checkout and how they read in the archive, so that the bytes
    /// do not depend on where the repo or the cache lives.
    pub remap: Vec<(String, String)>,
    /// Python files added on top of `Lib/` (module path in the archive → file).
    pub overlays: Vec<(String, PathBuf)>,
}

/// Builds (or reuses) the tree in the cache and returns its directory.
pub fn package(cache: &Path, inputs: &StdlibInputs, force: bool) -> Result<PathBuf> {
    let sysconfig = remapped_sysconfigdata(inputs)?;
    let mut key = StageKey::new("stdlib");
    key.add_str("native", &inputs.native.key)
        .add_str("wasi", &inputs.wasi.key)
        .add_str("sysconfig", &sysconfig)
        .add_str("recipe", RECIPE);
    for (name, file) in &inputs.overlays {
        key.add_str("overlay", name).add("content", &fs::read(file)?);
    }
    let key = key.finish();
    let out = cache.join(format!("stdlib-{}", &key[..16]));
    let stamp = out.join(STAMP);
    if !force && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == key) {
        progress::cached("stdlib tree", &key);
        return Ok(out);
    }
    let step = Step::start("stdlib: sources and their .pyc as a tree");
    let pending = pending_path(&out);
    remove_dir_if_exists(&pending)?;
    let result = build(inputs, &sysconfig, &pending);
    if let Err(e) = result {
        remove_dir_if_exists(&pending).ok();
        return Err(e);
    }
    fs::write(pending.join(STAMP), format!("{key}\n"))?;
    remove_dir_if_exists(&out)?;
    fs::rename(&pending, &out).with_context(|| format!("cannot move into {}", out.display()))?;
    step.done();
    Ok(out)
}

/// Marks a complete stage directory; never copied into the build.
pub const STAMP: &str = ".stage-complete";

fn build(inputs: &StdlibInputs, sysconfig: &str, tree: &Path) -> Result<()> {
    copy_sources(&inputs.wasi.lib(), tree)?;
    fs::write(tree.join(SYSCONFIGDATA), sysconfig)?;
    for (name, file) in &inputs.overlays {
        let to = tree.join(name);
        fs::create_dir_all(to.parent().unwrap())?;
        fs::copy(file, &to).with_context(|| format!("cannot copy {}", file.display()))?;
    }
    compile(&inputs.native.exe, tree, &format!("{GUEST_LIB}/{TREE_DIR}"))
}

/// `compileall` of `tree` into `__pycache__`, unchecked-hash, with the code objects' file
/// names as the guest sees them (`guest_dir` in place of `tree`).
fn compile(python: &Path, tree: &Path, guest_dir: &str) -> Result<()> {
    cmd!(
        python,
        "-E",
        "-s",
        "-m",
        "compileall",
        "-q",
        "-j0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        tree,
        "-p",
        guest_dir,
        "-x",
        NOT_COMPILABLE,
        tree
    )
    .env("PYTHONHASHSEED", "0")
    .stdout_to_stderr()
    .run()
    .with_context(|| format!("compiling {} to .pyc failed", tree.display()))?;
    Ok(())
}

/// Copies the `.py` files of `Lib/` that pylon ships, in sorted order.
fn copy_sources(lib: &Path, to: &Path) -> Result<()> {
    let walk = WalkDir::new(lib).sort_by_file_name().into_iter().filter_entry(|e| {
        let name = e.file_name().to_string_lossy();
        let top_level_out = e.depth() == 1 && (LEFT_OUT.contains(&name.as_ref()) || name == "test");
        !(top_level_out || name == "__pycache__")
    });
    for entry in walk {
        let entry = entry.with_context(|| format!("cannot walk {}", lib.display()))?;
        if !entry.file_type().is_file() || entry.path().extension().is_none_or(|e| e != "py") {
            continue;
        }
        let rel = entry.path().strip_prefix(lib)?;
        let dest = to.join(rel);
        fs::create_dir_all(dest.parent().unwrap())?;
        fs::copy(entry.path(), &dest).with_context(|| format!("cannot copy {}", entry.path().display()))?;
    }
    Ok(())
}

/// CPython's `test` package as a directory, for conformance builds: every file of
/// `Lib/test` (test data included: `decimaltestdata/`, `tokenizedata/`, archives, ...) and
/// its bytecode in `__pycache__`, compiled here so that a read-only mount costs no compile.
/// Returns the cached directory that holds `test/`.
pub fn test_tree(cache: &Path, native: &NativePython, wasi: &WasiPython, guest_dir: &str, force: bool) -> Result<PathBuf> {
    let lib = wasi.lib().join("test");
    let mut key = StageKey::new("stdlib-tests");
    key.add_str("wasi", &wasi.key).add_str("native", &native.key).add_str("guest", guest_dir).add_str("recipe", TESTS_RECIPE);
    let key = key.finish();
    let out = cache.join(format!("stdlib-tests-{}", &key[..16]));
    if !force && fs::read_to_string(out.join(STAMP)).is_ok_and(|s| s.trim() == key) {
        progress::cached("stdlib test package", &key);
        return Ok(out);
    }
    let step = Step::start("stdlib: CPython's test package as a directory");
    let pending = pending_path(&out);
    remove_dir_if_exists(&pending)?;
    let result = (|| -> Result<()> {
        let to = pending.join("test");
        for entry in WalkDir::new(&lib).sort_by_file_name().into_iter().filter_entry(|e| e.file_name() != "__pycache__") {
            let entry = entry.with_context(|| format!("cannot walk {}", lib.display()))?;
            let dest = to.join(entry.path().strip_prefix(&lib)?);
            if entry.file_type().is_dir() {
                fs::create_dir_all(&dest)?;
            } else if entry.file_type().is_file() {
                fs::copy(entry.path(), &dest).with_context(|| format!("cannot copy {}", entry.path().display()))?;
            }
        }
        compile(&native.exe, &to, guest_dir.trim_end_matches('/'))?;
        fs::write(pending.join(STAMP), format!("{key}\n"))?;
        Ok(())
    })();
    if let Err(e) = result {
        remove_dir_if_exists(&pending).ok();
        return Err(e);
    }
    remove_dir_if_exists(&out)?;
    fs::rename(&pending, &out).with_context(|| format!("cannot move into {}", out.display()))?;
    step.done();
    Ok(out)
}

/// The WASI build's sysconfig data, with this machine's paths replaced by stable names.
fn remapped_sysconfigdata(inputs: &StdlibInputs) -> Result<String> {
    let path = inputs.wasi.platlib.join(SYSCONFIGDATA);
    let mut text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut remap = inputs.remap.clone();
    // Longest first, so that a path inside another is replaced before its parent.
    remap.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    for (from, to) in &remap {
        text = text.replace(from.as_str(), to);
    }
    Ok(text)
}
