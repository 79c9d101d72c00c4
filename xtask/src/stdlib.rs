//! Stage 3: the standard library as one deterministic archive of `.pyc` files,
//! `python313.zip`, which CPython puts on its default `sys.path`.
//!
//! The archive is stored uncompressed: zipimport needs zlib to inflate, and zlib is what
//! CPython on WASI lacks. Bytecode uses unchecked-hash invalidation (no timestamps) and
//! fixed `co_filename`s, and entries are sorted with fixed dates.

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

const RECIPE: &str = "stdlib v1: sourceless .pyc, unchecked-hash, stored zip, 1980-01-01 dates";

/// Files CPython's test suite ships with deliberate syntax or encoding errors.
const NOT_COMPILABLE: &str = r"bad_coding|badsyntax|tokenizedata/bad|test_lib2to3/data";

pub struct StdlibInputs<'a> {
    pub native: &'a NativePython,
    pub wasi: &'a WasiPython,
    pub keep_tests: bool,
    /// Absolute paths of this checkout and how they read in the archive, so that the bytes
    /// do not depend on where the repo or the cache lives.
    pub remap: Vec<(String, String)>,
    /// Python files added on top of `Lib/` (module path in the archive → file).
    pub overlays: Vec<(String, PathBuf)>,
}

/// Builds (or reuses) the archive in the cache and returns its path.
pub fn package(cache: &Path, inputs: &StdlibInputs, force: bool) -> Result<PathBuf> {
    let sysconfig = remapped_sysconfigdata(inputs)?;
    let mut key = StageKey::new("stdlib");
    key.add_str("native", &inputs.native.key)
        .add_str("wasi", &inputs.wasi.key)
        .add_str("sysconfig", &sysconfig)
        .add_str("keep-tests", &inputs.keep_tests.to_string())
        .add_str("recipe", RECIPE);
    for (name, file) in &inputs.overlays {
        key.add_str("overlay", name).add("content", &fs::read(file)?);
    }
    let key = key.finish();
    let out = cache.join(format!("stdlib-{}.zip", &key[..16]));
    if !force && out.exists() {
        progress::cached("stdlib archive", &key);
        return Ok(out);
    }
    let step = Step::start("stdlib: compile to .pyc and archive");
    let stage = pending_path(&cache.join(format!("stdlib-{}", &key[..16])));
    remove_dir_if_exists(&stage)?;
    let result = build(inputs, &sysconfig, &stage, &out);
    remove_dir_if_exists(&stage)?;
    result?;
    step.done();
    Ok(out)
}

fn build(inputs: &StdlibInputs, sysconfig: &str, stage: &Path, out: &Path) -> Result<()> {
    let src = stage.join("src");
    copy_sources(&inputs.wasi.lib(), &src, inputs.keep_tests)?;
    fs::write(src.join(SYSCONFIGDATA), sysconfig)?;
    for (name, file) in &inputs.overlays {
        let to = src.join(name);
        fs::create_dir_all(to.parent().unwrap())?;
        fs::copy(file, &to).with_context(|| format!("cannot copy {}", file.display()))?;
    }
    let ddir = format!("{GUEST_LIB}/{ZIP_NAME}");
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
    let pending = pending_path(out);
    write_zip(&src, &pending)?;
    fs::rename(&pending, out).with_context(|| format!("cannot move into {}", out.display()))
}

/// Copies the `.py` files of `Lib/` that pylon ships, in sorted order.
fn copy_sources(lib: &Path, to: &Path, keep_tests: bool) -> Result<()> {
    let walk = WalkDir::new(lib).sort_by_file_name().into_iter().filter_entry(|e| {
        let rel = e.path().strip_prefix(lib).unwrap_or(e.path());
        let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy());
        let first = parts.next().unwrap_or_default();
        let top_level_out = e.depth() == 1
            && (LEFT_OUT.contains(&first.as_ref()) || (first == "test" && !keep_tests));
        !(top_level_out || e.file_name() == "__pycache__")
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
