//! Stage 2a: native C libraries, each compiled into a static archive for CPython's own C
//! module over it (`_sqlite3` on SQLite, `_bz2` on libbz2, `_lzma` on liblzma).
//!
//! An extension declares its library once, in the `[native]` table of its ext.toml: where
//! the C sources come from (a pin of `deps/pins.toml`, or a crate of `Cargo.lock` that
//! bundles them), which files, include dirs and defines, and which of CPython's `Modules/`
//! files make the module. Everything else is derived from that: the archive (here, one
//! cached stage per library and target, keyed by the sha256 of every input), the
//! `Setup.local` line and tree files of the WASI build (`extglue`), the native build
//! python's same module (`cpython::native`), the manifest row and `cargo xtask flags`.

use anyhow::{Context, Result, anyhow, bail, ensure};
use std::fs;
use std::path::{Path, PathBuf};

use crate::helpers::cc::CoreToolchain;
use crate::helpers::digest::{StageKey, pending_path};
use crate::helpers::layout::Layout;
use crate::helpers::progress::{self, Step};
use crate::stages::deps::{Inputs, remove_dir_if_exists};

/// Where the C sources of a library come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// A table of `deps/pins.toml` whose file is a source tarball (one top directory).
    Pin(String),
    /// A crate of the workspace's `Cargo.lock` that ships the sources (in `dir` inside it),
    /// pinned by the lock file's checksum.
    Crate { name: String, dir: String },
}

/// What one target adds to the common recipe (`[native.wasi]`, `[native.host]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetExtra {
    pub defines: Vec<String>,
    /// C files of the extension's own directory compiled into the library.
    pub own_sources: Vec<String>,
}

/// CPython's module over the library (`[native.module]`): files under `Modules/`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ModuleRecipe {
    pub sources: Vec<String>,
    /// Include dirs relative to `Modules/`.
    pub includes: Vec<String>,
    /// Defines for the module's files (makesetup takes no `=` in a Setup line).
    pub defines: Vec<String>,
}

/// The `[native]` table of an ext.toml.
#[derive(Clone, Debug, PartialEq)]
pub struct NativeSpec {
    /// The archive is `lib<library>.a`.
    pub library: String,
    pub source: Source,
    /// C files relative to the source root; `dir/*.c` takes every `.c` file of `dir`.
    pub files: Vec<String>,
    /// Files (relative to the source root) a `*.c` entry must not take.
    pub exclude: Vec<String>,
    /// Include dirs for compiling the library, relative to the source root.
    pub include: Vec<String>,
    /// The directory (relative to the source root) of the public headers the module sees.
    pub headers: String,
    pub defines: Vec<String>,
    pub wasi: TargetExtra,
    pub host: TargetExtra,
    pub module: ModuleRecipe,
}

/// Reads the `[native]` table of `path` (an ext.toml in `dir`), checking what it can alone.
pub fn parse(table: &toml_edit::Table, path: &Path, dir: &Path) -> Result<NativeSpec> {
    let where_ = |key: &str| format!("{}: [native] {key}", path.display());
    let string = |t: &toml_edit::Table, key: &str| t.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let strings = |t: &toml_edit::Table, key: &str| -> Result<Vec<String>> {
        match t.get(key) {
            None => Ok(vec![]),
            Some(v) => v
                .as_array()
                .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>())
                .ok_or_else(|| anyhow!("{} must be a list of strings", where_(key))),
        }
    };
    let library = string(table, "library").ok_or_else(|| anyhow!("{} is missing (the archive's name)", where_("library")))?;
    ensure!(
        !library.is_empty() && library.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "{}: `{library}` is not a plain name",
        where_("library")
    );
    let source = match table.get("source").and_then(|v| v.as_inline_table()) {
        Some(t) => match (t.get("pin").and_then(|v| v.as_str()), t.get("crate").and_then(|v| v.as_str())) {
            (Some(pin), None) => Source::Pin(pin.to_owned()),
            (None, Some(name)) => Source::Crate {
                name: name.to_owned(),
                dir: t.get("dir").and_then(|v| v.as_str()).unwrap_or(".").to_owned(),
            },
            _ => bail!("{} takes exactly one of `pin = \"<deps/pins.toml table>\"` or `crate = \"<name>\"`", where_("source")),
        },
        None => bail!("{} is missing: `{{ pin = \"...\" }}` or `{{ crate = \"...\", dir = \"...\" }}`", where_("source")),
    };
    let target = |name: &str| -> Result<TargetExtra> {
        let Some(item) = table.get(name) else { return Ok(TargetExtra::default()) };
        let t = item.as_table().ok_or_else(|| anyhow!("{} must be a table", where_(name)))?;
        let extra = TargetExtra { defines: strings(t, "defines")?, own_sources: strings(t, "own_sources")? };
        for file in &extra.own_sources {
            ensure!(dir.join(file).is_file(), "{}: own source {file} not found in {}", where_(name), dir.display());
        }
        Ok(extra)
    };
    let module = match table.get("module") {
        None => bail!("{} is missing: CPython's files under Modules/ (`sources = [...]`)", where_("module")),
        Some(item) => {
            let t = item.as_table().ok_or_else(|| anyhow!("{} must be a table", where_("module")))?;
            ModuleRecipe { sources: strings(t, "sources")?, includes: strings(t, "includes")?, defines: strings(t, "defines")? }
        }
    };
    ensure!(!module.sources.is_empty(), "{} is empty", where_("module.sources"));
    if let Some(bad) = module.defines.iter().find(|d| d.contains('=')) {
        bail!("{}: `{bad}` has `=`, which makesetup cannot take; put it in [native] defines", where_("module.defines"));
    }
    let spec = NativeSpec {
        library,
        source,
        files: strings(table, "files")?,
        exclude: strings(table, "exclude")?,
        include: strings(table, "include")?,
        headers: string(table, "headers").unwrap_or_else(|| ".".to_owned()),
        defines: strings(table, "defines")?,
        wasi: target("wasi")?,
        host: target("host")?,
        module,
    };
    ensure!(!spec.files.is_empty(), "{} is empty: which C files make the library", where_("files"));
    Ok(spec)
}

/// Which compiler an archive is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The core: the pinned zig for wasm32-wasi, with the profile's flags.
    Wasi,
    /// The native build python, with the machine's `cc` (benchmarks and conformance compare
    /// the same library on both sides).
    Host,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Wasi => "wasi",
            Target::Host => "host",
        }
    }
}

/// A library's sources, unpacked or found, with what names them.
#[derive(Clone, Debug)]
pub struct SourceTree {
    pub root: PathBuf,
    /// e.g. `bzip2 1.0.8 (deps/pins.toml [bzip2])`.
    pub label: String,
}

/// One built archive.
#[derive(Clone, Debug)]
pub struct Library {
    /// The extension's module (`_bz2`).
    pub module: String,
    pub name: String,
    pub archive: PathBuf,
    /// The public headers, copied beside the archive.
    pub include: PathBuf,
    pub key: String,
    pub recipe: ModuleRecipe,
    pub source_label: String,
    /// The flags each C file of the library was compiled with (for `cargo xtask flags`).
    pub cflags: Vec<String>,
}

const STAMP: &str = ".pylon-stage-complete";

/// Finds (a crate) or unpacks (a pin, into its own cache directory) the sources of `spec`.
pub fn locate(layout: &Layout, inputs: &Inputs, spec: &NativeSpec, ext: &str) -> Result<SourceTree> {
    match &spec.source {
        Source::Pin(name) => {
            let pin = inputs
                .pins
                .libraries
                .iter()
                .find(|p| &p.name == name)
                .ok_or_else(|| anyhow!("cpython-ext/{ext}/ext.toml: [native] source names pin `{name}`, which deps/pins.toml does not have"))?;
            let tarball = inputs.library_file(name).ok_or_else(|| anyhow!("pin `{name}` was not fetched"))?;
            let dir = layout.cache.join(format!("native-src-{name}-{}", &pin.sha256[..16]));
            if !fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s.trim() == pin.sha256) {
                let pending = pending_path(&dir);
                remove_dir_if_exists(&pending)?;
                remove_dir_if_exists(&dir)?;
                fs::create_dir_all(&pending)?;
                duct::cmd!("tar", "-xf", tarball, "-C", &pending, "--strip-components=1")
                    .run()
                    .with_context(|| format!("cannot unpack {}", tarball.display()))?;
                fs::write(pending.join(STAMP), format!("{}\n", pin.sha256))?;
                fs::rename(&pending, &dir)?;
            }
            Ok(SourceTree { root: dir, label: format!("{} {} (deps/pins.toml [{name}])", pin.package, pin.version) })
        }
        Source::Crate { name, dir } => {
            let metadata = cargo_metadata::MetadataCommand::new()
                .current_dir(&layout.root)
                .exec()
                .context("cargo metadata (with dependencies) failed")?;
            let package = metadata.packages.iter().find(|p| p.name.as_str() == name).ok_or_else(|| {
                anyhow!(
                    "cpython-ext/{ext}/ext.toml: [native] source names crate `{name}`, which is not in Cargo.lock \
                     (add it to xtask/Cargo.toml's never-built `[target.'cfg(any())'.dependencies]`)"
                )
            })?;
            let root = package.manifest_path.parent().unwrap().as_std_path().join(dir);
            ensure!(root.is_dir(), "crate {name} {}: no directory {dir}", package.version);
            Ok(SourceTree { root, label: format!("{name} {} (Cargo.lock)", package.version) })
        }
    }
}

/// The library's C files, relative to `tree`, in order: `dir/*.c` entries expanded (sorted),
/// `exclude` left out.
pub fn c_files(spec: &NativeSpec, tree: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for entry in &spec.files {
        if let Some(dir) = entry.strip_suffix("/*.c") {
            let mut found: Vec<String> = fs::read_dir(tree.join(dir))
                .with_context(|| format!("library {}: cannot list {dir}", spec.library))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".c"))
                .map(|n| format!("{dir}/{n}"))
                .filter(|p| !spec.exclude.contains(p))
                .collect();
            found.sort();
            ensure!(!found.is_empty(), "library {}: {entry} matches no file", spec.library);
            files.extend(found);
        } else {
            ensure!(tree.join(entry).is_file(), "library {}: {entry} is not in its sources ({})", spec.library, tree.display());
            files.push(entry.clone());
        }
    }
    Ok(files)
}

/// Changing how libraries are compiled must rebuild them: part of every key.
const RECIPE: &str = "native v2: each file -c with the target's flags, the cache, the sources and the extension mapped to stable paths, -I include dirs, -D defines; ar rcsD";

/// Compiles the library of extension `ext` (in `ext_dir`) for `target` into its cached stage.
pub fn build(
    layout: &Layout,
    toolchain: &CoreToolchain,
    spec: &NativeSpec,
    tree: &SourceTree,
    ext: &str,
    ext_dir: &Path,
    target: Target,
) -> Result<Library> {
    let files = c_files(spec, &tree.root)?;
    let extra = match target {
        Target::Wasi => &spec.wasi,
        Target::Host => &spec.host,
    };
    // Every flag but the file names: the same for each file of the library.
    let prefix_map = format!("-ffile-prefix-map={}=/native/{}", tree.root.display(), spec.library);
    let own_map = format!("-ffile-prefix-map={}=/pylon/{ext}", ext_dir.display());
    let mut cflags: Vec<String> = cflags_opt(target, toolchain).split_whitespace().map(str::to_owned).collect();
    // The cache first: the compiler's working directory (this stage's pending dir) is in it.
    cflags.extend([format!("-ffile-prefix-map={}=/pylon-cache", layout.cache.display()), prefix_map, own_map]);
    cflags.extend(spec.include.iter().map(|i| format!("-I{}", tree.root.join(i).display())));
    cflags.extend(spec.defines.iter().chain(&extra.defines).map(|d| format!("-D{d}")));
    let (cc, ar, cc_version) = match target {
        Target::Wasi => (toolchain.cc.clone(), toolchain.ar.clone(), toolchain.key.clone()),
        Target::Host => {
            let version = duct::cmd!("cc", "--version").read().context("the native build needs a C compiler `cc`")?;
            (vec!["cc".to_owned()], vec!["ar".to_owned()], version)
        }
    };

    let mut key = StageKey::new("native-library");
    key.add_str("target", target.name()).add_str("compiler", &cc_version).add_str("recipe", RECIPE);
    key.add_str("source", &tree.label);
    // The recipe, not `cflags`: those name this checkout's and cache's paths, which the
    // prefix maps keep out of the objects, and must keep out of the key too.
    key.add_str("opt", &cflags_opt(target, toolchain));
    for dir in &spec.include {
        key.add_str("include", dir);
    }
    for define in spec.defines.iter().chain(&extra.defines) {
        key.add_str("define", define);
    }
    for file in &files {
        let path = tree.root.join(file);
        key.add_str("file", file).add("contents", &fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?);
    }
    for file in &extra.own_sources {
        key.add_str("own-file", file).add("contents", &fs::read(ext_dir.join(file))?);
    }
    let headers = header_files(&tree.root.join(&spec.headers))?;
    for (rel, bytes) in &headers {
        key.add_str("header", rel).add("contents", bytes);
    }
    let key = key.finish();
    let name = format!("native-{}-{}", spec.library, target.name());
    let dir = layout.cache.join(format!("{name}-{}", &key[..16]));
    let library = Library {
        module: ext.to_owned(),
        name: spec.library.clone(),
        archive: dir.join(format!("lib{}.a", spec.library)),
        include: dir.join("include"),
        key: key.clone(),
        recipe: spec.module.clone(),
        source_label: tree.label.clone(),
        cflags: cflags.clone(),
    };
    if fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s.trim() == key) {
        progress::cached(&format!("lib{}.a ({})", spec.library, target.name()), &key);
        return Ok(library);
    }
    let sources: Vec<PathBuf> =
        files.iter().map(|f| tree.root.join(f)).chain(extra.own_sources.iter().map(|f| ext_dir.join(f))).collect();
    let step = Step::start(format!(
        "lib{}.a for {} from {} ({} C files)",
        spec.library,
        target.name(),
        tree.label,
        sources.len()
    ));
    let pending = pending_path(&dir);
    remove_dir_if_exists(&pending)?;
    fs::create_dir_all(pending.join("obj"))?;
    let result = (|| -> Result<()> {
        let objects: Vec<String> = (0..sources.len()).map(|i| format!("obj/{i:04}.o")).collect();
        compile_all(&pending, &cc, &cflags, &sources, &objects, &toolchain.env, &spec.library)?;
        let mut args: Vec<String> = ar[1..].to_vec();
        args.push("rcsD".into());
        args.push(format!("lib{}.a", spec.library));
        args.extend(objects);
        let out = duct::cmd(&ar[0], &args).dir(&pending).stderr_capture().unchecked().run()?;
        ensure!(out.status.success(), "lib{}.a: ar failed: {}", spec.library, String::from_utf8_lossy(&out.stderr));
        fs::remove_dir_all(pending.join("obj"))?;
        for (rel, bytes) in &headers {
            let to = pending.join("include").join(rel);
            fs::create_dir_all(to.parent().unwrap())?;
            fs::write(to, bytes)?;
        }
        fs::write(pending.join(STAMP), format!("{key}\n"))?;
        remove_dir_if_exists(&dir)?;
        fs::rename(&pending, &dir).with_context(|| format!("cannot move into {}", dir.display()))?;
        Ok(())
    })();
    if result.is_err() {
        remove_dir_if_exists(&pending)?;
    }
    result?;
    prune_siblings(layout, &name, &dir);
    step.done();
    Ok(library)
}

/// The optimisation flags of `target`: the profile's for the core, `-O2` for the host.
fn cflags_opt(target: Target, toolchain: &CoreToolchain) -> String {
    match target {
        Target::Wasi => toolchain.opt.clone(),
        Target::Host => "-O2".to_owned(),
    }
}

/// Compiles `sources[i]` to `objects[i]` in `dir`, on as many threads as there are cores;
/// the first failure names the file and shows the compiler's output.
fn compile_all(
    dir: &Path,
    cc: &[String],
    cflags: &[String],
    sources: &[PathBuf],
    objects: &[String],
    env: &[(String, String)],
    library: &str,
) -> Result<()> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failure = std::sync::Mutex::new(None::<anyhow::Error>);
    std::thread::scope(|scope| {
        for _ in 0..crate::stages::cpython::jobs() {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= sources.len() || failure.lock().unwrap().is_some() {
                        return;
                    }
                    let mut args: Vec<String> = cc[1..].to_vec();
                    args.extend(cflags.iter().cloned());
                    args.extend(["-c".into(), sources[i].display().to_string(), "-o".into(), objects[i].clone()]);
                    let mut cmd = duct::cmd(&cc[0], &args).dir(dir).stderr_to_stdout().stdout_capture().unchecked();
                    for (k, v) in env {
                        cmd = cmd.env(k, v);
                    }
                    let result = cmd.run();
                    let error = match result {
                        Ok(out) if out.status.success() => continue,
                        Ok(out) => anyhow!(
                            "lib{library}.a: compiling {} failed:\n{}",
                            sources[i].display(),
                            String::from_utf8_lossy(&out.stdout).lines().take(40).collect::<Vec<_>>().join("\n")
                        ),
                        Err(e) => anyhow!("lib{library}.a: cannot run {}: {e}", cc[0]),
                    };
                    failure.lock().unwrap().get_or_insert(error);
                    return;
                }
            });
        }
    });
    match failure.into_inner().unwrap() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The `.h` files under `dir` (relative path, contents), sorted.
fn header_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot walk {}", dir.display()))?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "h") {
            let rel = entry.path().strip_prefix(dir)?.to_string_lossy().replace('\\', "/");
            files.push((rel, fs::read(entry.path())?));
        }
    }
    ensure!(!files.is_empty(), "no public headers (.h) in {}", dir.display());
    Ok(files)
}

/// Keeps the newest other build of a library beside the new one, as the CPython stages do.
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

/// Where a library's archive and headers go inside CPython's tree (relative to `Modules/`).
pub fn tree_dir(library: &Library) -> String {
    format!("pylon-native/{}", library.name)
}

/// The `Modules/Setup.local` line of the module over `library` (paths in CPython's tree).
pub fn setup_line(library: &Library) -> String {
    let base = tree_dir(library);
    let mut words: Vec<String> = vec![library.module.clone()];
    words.extend(library.recipe.sources.iter().cloned());
    words.push(format!("-I$(srcdir)/Modules/{base}/include"));
    words.extend(library.recipe.includes.iter().map(|i| format!("-I$(srcdir)/Modules/{i}")));
    words.extend(library.recipe.defines.iter().map(|d| format!("-D{d}")));
    words.push(format!("$(srcdir)/Modules/{base}/lib{}.a", library.name));
    words.join(" ") + "\n"
}

/// The archive and headers of `library` as files of CPython's tree: (path, contents).
pub fn tree_files(library: &Library) -> Result<Vec<(String, Vec<u8>)>> {
    let base = format!("Modules/{}", tree_dir(library));
    let mut files =
        vec![(format!("{base}/lib{}.a", library.name), fs::read(&library.archive).with_context(|| format!("cannot read {}", library.archive.display()))?)];
    for (rel, bytes) in header_files(&library.include)? {
        files.push((format!("{base}/include/{rel}"), bytes));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<NativeSpec> {
        let doc: toml_edit::DocumentMut = text.parse().unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        parse(doc["native"].as_table().unwrap(), Path::new("x/ext.toml"), dir)
    }

    #[test]
    fn a_native_table_needs_its_source_files_and_module() {
        let ok = "[native]\nlibrary = \"z\"\nsource = { pin = \"zsrc\" }\nfiles = [\"a.c\"]\n[native.module]\nsources = [\"zmodule.c\"]\n";
        let spec = parse_text(ok).unwrap();
        assert_eq!(spec.source, Source::Pin("zsrc".into()));
        assert_eq!(spec.headers, ".");
        for (broken, says) in [
            (ok.replace("source = { pin = \"zsrc\" }", "source = { pin = \"a\", crate = \"b\" }"), "exactly one of"),
            (ok.replace("files = [\"a.c\"]", "files = []"), "which C files"),
            (ok.replace("sources = [\"zmodule.c\"]", "sources = [\"zmodule.c\"]\ndefines = [\"X=1\"]"), "has `=`"),
            (ok.replace("library = \"z\"", "library = \"../z\""), "not a plain name"),
            (ok.replace("[native.module]\nsources = [\"zmodule.c\"]\n", ""), "Modules/"),
        ] {
            let err = format!("{:#}", parse_text(&broken).unwrap_err());
            assert!(err.contains(says) && err.contains("x/ext.toml"), "{err}");
        }
    }

    #[test]
    fn setup_line_points_into_the_tree() {
        let library = Library {
            module: "_bz2".into(),
            name: "bz2".into(),
            archive: PathBuf::new(),
            include: PathBuf::new(),
            key: String::new(),
            recipe: ModuleRecipe { sources: vec!["_bz2module.c".into()], includes: vec![], defines: vec!["X".into()] },
            source_label: String::new(),
            cflags: vec![],
        };
        assert_eq!(
            setup_line(&library),
            "_bz2 _bz2module.c -I$(srcdir)/Modules/pylon-native/bz2/include -DX $(srcdir)/Modules/pylon-native/bz2/libbz2.a\n"
        );
    }
}
