//! Stage 3: the standard library as one deterministic archive of `.pyc` files,
//! `python313.zip`, which CPython puts first on its default `sys.path`, and its sources as
//! a directory tree, `python3.13/`, the next entry of `sys.path`.
//!
//! Imports read the archive's bytecode, stored uncompressed: zipimport inflates through
//! `zlib`, which in pylon is a cap. The sources are for tracebacks, `linecache` and
//! `inspect.getsource`: every code object's `co_filename` names its `.py` in the tree, a
//! plain file, read only when asked. They are not in the archive because zipimport parses
//! the archive's whole directory at start-up: twice the entries cost 29 % more instructions
//! for `-c pass` (measured, 149 M against 192 M), the tree costs nothing until used.
//! Bytecode uses unchecked-hash invalidation (no timestamps, and the sources are never read
//! to check it); entries are sorted with fixed dates.
//!
//! CPython's `test` package is never in the archive: its tests read data files next to
//! their modules, which a zip cannot offer to `open()`. Conformance builds get it as a
//! directory tree ([`test_tree`]).

use anyhow::{Context, Result, bail};
use duct::cmd;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use walkdir::WalkDir;

use crate::cpython::{NativePython, SYSCONFIGDATA, WasiPython};
use crate::deps::remove_dir_if_exists;
use crate::digest::{StageKey, pending_path};
use crate::progress::{self, Step};

/// Where the runner mounts the stdlib directory inside the guest.
pub const GUEST_LIB: &str = "/usr/local/lib";
pub const ZIP_NAME: &str = "python313.zip";

/// Top-level parts of `Lib/` that a sandboxed interpreter has no use for.
const LEFT_OUT: &[&str] = &["idlelib", "tkinter", "turtledemo", "site-packages", "__phello__"];

const RECIPE: &str = "stdlib v2: stored .pyc (unchecked-hash, co_filename in python3.13/), 1980-01-01 dates, no test/; .py tree";
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

/// Where the sources go, under the stdlib directory (`lib/` next to the component).
pub const SOURCES_DIR: &str = "python3.13";

/// The stage's two outputs, in the cache.
pub struct Stdlib {
    pub zip: PathBuf,
    /// The `.py` tree, the contents of `lib/python3.13/`.
    pub sources: PathBuf,
}

/// Builds (or reuses) the archive and the source tree in the cache.
pub fn package(cache: &Path, inputs: &StdlibInputs, force: bool) -> Result<Stdlib> {
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
    let out = Stdlib { zip: cache.join(format!("stdlib-{}.zip", &key[..16])), sources: cache.join(format!("stdlib-{}-sources", &key[..16])) };
    if !force && out.zip.exists() && out.sources.is_dir() {
        progress::cached("stdlib archive and sources", &key);
        return Ok(out);
    }
    let step = Step::start("stdlib: compile to .pyc and archive, sources as a tree");
    let stage = pending_path(&cache.join(format!("stdlib-{}", &key[..16])));
    remove_dir_if_exists(&stage)?;
    let result = build(inputs, &sysconfig, &stage, &out);
    remove_dir_if_exists(&stage)?;
    result?;
    step.done();
    Ok(out)
}

fn build(inputs: &StdlibInputs, sysconfig: &str, stage: &Path, out: &Stdlib) -> Result<()> {
    let src = stage.join("src");
    copy_sources(&inputs.wasi.lib(), &src)?;
    fs::write(src.join(SYSCONFIGDATA), sysconfig)?;
    for (name, file) in &inputs.overlays {
        let to = src.join(name);
        fs::create_dir_all(to.parent().unwrap())?;
        fs::copy(file, &to).with_context(|| format!("cannot copy {}", file.display()))?;
    }
    let ddir = format!("{GUEST_LIB}/{SOURCES_DIR}");
    cmd!(
        &inputs.native.exe,
        "-E",
        "-s",
        "-m",
        "compileall",
        "-q",
        "-b",
        "-j0",
        "--invalidation-mode",
        "unchecked-hash",
        "-d",
        &ddir,
        "-x",
        NOT_COMPILABLE,
        &src
    )
    .env("PYTHONHASHSEED", "0")
    .stdout_to_stderr()
    .run()
    .context("compiling the stdlib to .pyc failed")?;
    let pending = pending_path(&out.zip);
    write_zip(&src, &pending)?;
    let pending_sources = pending_path(&out.sources);
    remove_dir_if_exists(&pending_sources)?;
    copy_sources(&src, &pending_sources)?;
    remove_dir_if_exists(&out.sources)?;
    fs::rename(&pending_sources, &out.sources).with_context(|| format!("cannot move into {}", out.sources.display()))?;
    fs::rename(&pending, &out.zip).with_context(|| format!("cannot move into {}", out.zip.display()))
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

/// Writes every `.pyc` under `src` into a stored zip with sorted entries and fixed dates.
fn write_zip(src: &Path, to: &Path) -> Result<()> {
    use zip::write::SimpleFileOptions;
    let file = fs::File::create(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let mut count = 0usize;
    for entry in WalkDir::new(src).sort_by_file_name().min_depth(1) {
        let entry = entry?;
        let rel = entry.path().strip_prefix(src)?;
        let name = rel.to_string_lossy().replace('\\', "/");
        if entry.file_type().is_dir() {
            zip.add_directory(format!("{name}/"), options.unix_permissions(0o755))?;
        } else if name.ends_with(".pyc") {
            zip.start_file(name, options)?;
            zip.write_all(&fs::read(entry.path())?)?;
            count += 1;
        }
    }
    zip.finish()?.flush()?;
    if count < 100 {
        bail!("the stdlib archive has only {count} modules; compileall did not run as expected");
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
    let stamp = out.join(".complete");
    if !force && fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == key) {
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
        cmd!(
            &native.exe,
            "-E",
            "-s",
            "-m",
            "compileall",
            "-q",
            "-j0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            &pending,
            "-p",
            guest_dir,
            "-x",
            NOT_COMPILABLE,
            &to
        )
        .env("PYTHONHASHSEED", "0")
        .stdout_to_stderr()
        .run()
        .context("compiling the test package to .pyc failed")?;
        fs::write(pending.join(".complete"), format!("{key}\n"))?;
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
