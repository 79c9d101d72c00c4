//! The libpython bundle (`build/<profile>/libpy/`): the archives the core was linked from,
//! split so that code built outside this build can link CPython itself — a Rust guest that
//! embeds it through pyo3 (`pylon/libpy`, `examples/pyo3-person`), or an application's core
//! relinked with its own caps without recompiling CPython.
//!
//! make's `libpython3.13.a` holds `Modules/config.o`, whose inittab names every extension of
//! this build, and with it their glue, which imports the caps' `pylon:*` interfaces: a guest
//! linking it would import them too. So libpython is archived again here without the
//! inittab and without the extensions' objects; each extension gets its own archive, and the
//! inittab comes twice: with every extension (the core's), and with CPython's own modules only.
//! Nothing is compiled but that second inittab: the objects are the ones make built.

use anyhow::{Context, Result, bail, ensure};
use std::fs;
use std::path::{Path, PathBuf};

use crate::helpers::cc::CoreToolchain;
use crate::helpers::digest::{StageKey, sha256_file};
use crate::helpers::layout::{Layout, Profile};
use crate::helpers::progress::{self, Step};
use crate::stages::cpython::{self, WasiPython};
use crate::stages::deps::remove_dir_if_exists;

/// The bundle's directory under `build/<profile>/`.
pub const DIR: &str = "libpy";
/// Its description: versions, archives in link order with their sha256, link arguments.
pub const MANIFEST: &str = "libpy.toml";
/// A `PYO3_CONFIG_FILE` for pyo3-build-config (no paths: the link lines come from
/// `pylon/libpy`'s build script, which knows where the bundle is).
pub const PYO3_CONFIG: &str = "pyo3-config.txt";
/// CPython's library name, as `-l` and pyo3's `lib_name` spell it.
pub const LIB_NAME: &str = "python3.13";

/// Changing how the bundle is made must remake it: part of the stage key.
const RECIPE: &str = "libpy v2: main as an object; LIBRARY_OBJS minus Modules/config.o and the extensions' objects; one archive per extension; \
inittab with every extension and with CPython's own modules (PY_CORE_CFLAGS); Include/ and pyconfig.h";

/// What goes into the bundle.
pub struct LibpyInputs<'a> {
    pub profile: Profile,
    pub wasi: &'a WasiPython,
    pub toolchain: &'a CoreToolchain,
    /// Every pylon extension compiled into the core, with its C sources relative to
    /// `Modules/` (`extglue::Glue::modules`).
    pub extensions: &'a [(String, Vec<String>)],
}

/// The bundle in the cache, and what it holds.
#[derive(Clone, Debug)]
pub struct Libpy {
    pub dir: PathBuf,
    pub key: String,
    pub layout: BundleLayout,
}

/// The files of a bundle, relative to its directory, in link order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BundleLayout {
    /// libpython without the inittab and the extensions.
    pub libpython: String,
    /// `main()` (make's `Programs/python.o`), for relinking the core itself. An object, not
    /// an archive: wasi-libc's `__main_void` names `__main_argc_argv` weakly, and a weak
    /// reference pulls no archive member (the link succeeds, without CPython).
    pub main: String,
    /// The inittab with every extension of this build: the core's.
    pub inittab: String,
    /// The inittab of CPython's own modules only: for guests without the caps.
    pub inittab_core: String,
    /// (module, archive) of each extension.
    pub extensions: Vec<(String, String)>,
    /// Libraries every link needs after those: CPython's bundled mpdecimal, expat and HACL,
    /// the native libraries of `cpython-ext/*/ext.toml [native]`, pylon's wasi-libc additions.
    pub dependencies: Vec<String>,
    /// `-l` names the pinned zig's wasi-libc resolves itself (`dl`, `wasi-emulated-*`, ...).
    pub system_libs: Vec<String>,
    /// The core's link flags (stack size and placement, initial memory).
    pub link_args: Vec<String>,
    /// The modules of `inittab_core`, sorted.
    pub core_modules: Vec<String>,
}

impl BundleLayout {
    /// Every archive, in link order, for a link with the full inittab (`with_extensions`) or
    /// with CPython's modules only.
    pub fn archives(&self, with_extensions: bool) -> Vec<&str> {
        let mut all = vec![self.libpython.as_str()];
        if with_extensions {
            all.push(&self.inittab);
            all.extend(self.extensions.iter().map(|(_, a)| a.as_str()));
        } else {
            all.push(&self.inittab_core);
        }
        all.extend(self.dependencies.iter().map(String::as_str));
        all
    }
}

/// Makes the bundle of `inputs.wasi`, or finds it in the cache.
pub fn bundle(layout: &Layout, inputs: &LibpyInputs, force: bool) -> Result<Libpy> {
    let mut key = StageKey::new("libpy");
    key.add_str("wasi", &inputs.wasi.key)
        .add_str("toolchain", &inputs.toolchain.key)
        .add_str("recipe", RECIPE);
    for (module, sources) in inputs.extensions {
        key.add_str("extension", module)
            .add_str("sources", &sources.join(" "));
    }
    let key = key.finish();
    let name = format!("libpy-{}", inputs.profile.name());
    let dir = cpython::stage_dir(layout, &name, &key);
    if !force && cpython::is_complete(&dir, &key) {
        progress::cached("libpython bundle", &key);
        let layout = read_layout(&dir)?;
        return Ok(Libpy { dir, key, layout });
    }
    let step = Step::start(format!(
        "libpython bundle ({} profile): libpython, inittabs, {} extension archives",
        inputs.profile.name(),
        inputs.extensions.len()
    ));
    let pending = dir.with_extension("pending");
    remove_dir_if_exists(&pending)?;
    fs::create_dir_all(pending.join("lib"))?;
    let bundle_layout = write_bundle(inputs, &pending)
        .with_context(|| format!("cannot make the libpython bundle in {}", pending.display()))?;
    fs::write(
        pending.join(MANIFEST),
        render_manifest(inputs, &bundle_layout, &pending)?,
    )?;
    fs::write(pending.join(PYO3_CONFIG), pyo3_config(&bundle_layout))?;
    cpython::mark_complete(&pending, &key)?;
    remove_dir_if_exists(&dir)?;
    fs::rename(&pending, &dir)
        .with_context(|| format!("cannot move {} to {}", pending.display(), dir.display()))?;
    cpython::prune_siblings(layout, &name, &dir);
    step.done();
    Ok(Libpy {
        dir,
        key,
        layout: bundle_layout,
    })
}

/// The Makefile variables the bundle is made from.
const MAKE_VARS: &[&str] = &[
    "LIBRARY_OBJS",
    "PY_CORE_CFLAGS",
    "MODLIBS",
    "LIBS",
    "SYSLIBS",
    "PY_CORE_LDFLAGS",
    "LINKFORSHARED",
];

fn write_bundle(inputs: &LibpyInputs, out: &Path) -> Result<BundleLayout> {
    let tree = &inputs.wasi.dir;
    let vars = cpython::make_vars(tree, MAKE_VARS)?;
    let words = |name: &str| -> Vec<String> {
        vars.get(name)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let ar = |archive: &Path, objects: &[String]| -> Result<()> {
        ensure!(!objects.is_empty(), "no objects for {}", archive.display());
        for object in objects {
            ensure!(
                tree.join(object).is_file(),
                "{object} is not in the WASI build {} (was it pruned?)",
                tree.display()
            );
        }
        let tc = inputs.toolchain;
        let mut args: Vec<String> = tc.ar[1..].to_vec();
        args.extend(["rcs".to_owned(), archive.display().to_string()]);
        args.extend(objects.iter().cloned());
        let mut cmd = duct::cmd(&tc.ar[0], &args)
            .dir(tree)
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked();
        for (k, v) in &tc.env {
            cmd = cmd.env(k, v);
        }
        let out = cmd.run()?;
        ensure!(
            out.status.success(),
            "ar failed for {}: {}",
            archive.display(),
            String::from_utf8_lossy(&out.stdout)
        );
        Ok(())
    };

    // The extensions' objects, as make named them.
    let mut ext_objects: Vec<(String, Vec<String>)> = Vec::new();
    for (module, sources) in inputs.extensions {
        let objects = sources
            .iter()
            .map(|s| format!("Modules/{}.o", s.trim_end_matches(".c")))
            .collect();
        ext_objects.push((module.clone(), objects));
    }
    let library_objs = words("LIBRARY_OBJS");
    ensure!(
        library_objs.iter().any(|o| o == CONFIG_OBJECT),
        "LIBRARY_OBJS of the WASI build has no {CONFIG_OBJECT}"
    );
    for (module, objects) in &ext_objects {
        for object in objects {
            ensure!(
                library_objs.contains(object),
                "{module}: {object} is not among libpython's objects (LIBRARY_OBJS)"
            );
        }
    }
    let core_objects: Vec<String> = library_objs
        .iter()
        .filter(|o| *o != CONFIG_OBJECT && !ext_objects.iter().any(|(_, objs)| objs.contains(o)))
        .cloned()
        .collect();

    let mut layout = BundleLayout {
        libpython: format!("lib/lib{LIB_NAME}.a"),
        main: "lib/pylon-main.o".to_owned(),
        inittab: "lib/libpylon-inittab.a".to_owned(),
        inittab_core: "lib/libpylon-inittab-core.a".to_owned(),
        ..BundleLayout::default()
    };
    ar(&out.join(&layout.libpython), &core_objects)?;
    fs::copy(tree.join("Programs/python.o"), out.join(&layout.main)).context("the WASI build has no Programs/python.o")?;
    ar(&out.join(&layout.inittab), &[CONFIG_OBJECT.to_owned()])?;
    for (module, objects) in &ext_objects {
        let archive = format!("lib/libpylon-ext-{module}.a");
        ar(&out.join(&archive), objects)?;
        layout.extensions.push((module.clone(), archive));
    }

    // The inittab without the extensions: make's config.c, their lines taken out.
    let config_c = fs::read_to_string(tree.join("Modules/config.c"))
        .context("the WASI build has no Modules/config.c")?;
    let modules: Vec<&str> = inputs.extensions.iter().map(|(m, _)| m.as_str()).collect();
    let (core_c, core_modules) = inittab_without(&config_c, &modules)?;
    layout.core_modules = core_modules;
    let src = out.join("src");
    fs::create_dir_all(&src)?;
    fs::write(src.join("config-core.c"), &core_c)?;
    let tc = inputs.toolchain;
    let mut args: Vec<String> = tc.cc[1..].to_vec();
    args.extend(words("PY_CORE_CFLAGS"));
    args.extend([
        format!("-ffile-prefix-map={}=/cpython", tree.display()),
        format!("-ffile-prefix-map={}=/libpy", out.display()),
        "-c".to_owned(),
        src.join("config-core.c").display().to_string(),
        "-o".to_owned(),
        src.join("config-core.o").display().to_string(),
    ]);
    let mut cmd = duct::cmd(&tc.cc[0], &args)
        .dir(tree)
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked();
    for (k, v) in &tc.env {
        cmd = cmd.env(k, v);
    }
    let compiled = cmd.run()?;
    ensure!(
        compiled.status.success(),
        "cannot compile the core inittab: {}",
        String::from_utf8_lossy(&compiled.stdout)
    );
    ar(
        &out.join(&layout.inittab_core),
        &[src.join("config-core.o").display().to_string()],
    )?;
    fs::remove_file(src.join("config-core.o"))?;

    // What make linked python.wasm with after libpython: archives, then -l libraries.
    for name in ["MODLIBS", "LIBS", "SYSLIBS"] {
        for word in words(name) {
            if word.ends_with(".a") {
                let from = tree.join(
                    word.trim_start_matches("$(srcdir)/")
                        .trim_start_matches("./"),
                );
                let file = from
                    .file_name()
                    .context("an archive without a file name")?
                    .to_string_lossy()
                    .into_owned();
                let rel = format!("lib/{file}");
                if layout.dependencies.contains(&rel) {
                    continue;
                }
                ensure!(
                    !out.join(&rel).exists(),
                    "two archives are named {file} ({})",
                    from.display()
                );
                fs::copy(&from, out.join(&rel))
                    .with_context(|| format!("cannot copy {}", from.display()))?;
                layout.dependencies.push(rel);
            } else if let Some(lib) = word.strip_prefix("-l") {
                if !layout.system_libs.iter().any(|l| l == lib) {
                    layout.system_libs.push(lib.to_owned());
                }
            }
        }
    }
    layout.link_args = words("PY_CORE_LDFLAGS");
    layout.link_args.extend(words("LINKFORSHARED"));

    // Headers: CPython's Include/ and the build's pyconfig.h, where Python.h finds them.
    let include = out.join("include").join(LIB_NAME);
    copy_tree(&tree.join("Include"), &include)?;
    fs::copy(tree.join("pyconfig.h"), include.join("pyconfig.h"))
        .context("the WASI build has no pyconfig.h")?;
    Ok(layout)
}

/// The inittab object in make's libpython.
const CONFIG_OBJECT: &str = "Modules/config.o";

/// `config.c` without the inittab entries and declarations of `modules`; also returns the
/// modules left in it (sorted). Fails if one of `modules` is not in it.
fn inittab_without(config_c: &str, modules: &[&str]) -> Result<(String, Vec<String>)> {
    let mut out = String::new();
    let mut found = Vec::new();
    let mut kept = Vec::new();
    for line in config_c.lines() {
        let trimmed = line.trim();
        // `extern PyObject* PyInit_<m>(void);` and `{"<m>", PyInit_<m>},`
        let entry = trimmed
            .strip_prefix("{\"")
            .and_then(|r| r.split_once("\", PyInit_"))
            .map(|(m, _)| m);
        let decl = trimmed
            .strip_prefix("extern PyObject* PyInit_")
            .and_then(|r| r.strip_suffix("(void);"));
        if let Some(module) = entry.or(decl) {
            if modules.contains(&module) {
                if entry.is_some() {
                    found.push(module.to_owned());
                }
                continue;
            }
            if entry.is_some() {
                kept.push(module.to_owned());
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    for module in modules {
        if !found.iter().any(|f| f == module) {
            bail!("{module} is not in the build's inittab (Modules/config.c)");
        }
    }
    kept.sort();
    Ok((out, kept))
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(from).sort_by_file_name() {
        let entry = entry?;
        let rel = entry.path().strip_prefix(from)?;
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&dest)?;
        } else if entry.file_type().is_file() {
            fs::copy(entry.path(), &dest)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

fn render_manifest(inputs: &LibpyInputs, layout: &BundleLayout, dir: &Path) -> Result<String> {
    use toml_edit::{Array, DocumentMut, Item, Table, value};
    let array = |items: &[String]| -> Item {
        let mut a = Array::new();
        for i in items {
            a.push(i.as_str());
        }
        value(a)
    };
    let mut doc = DocumentMut::new();
    doc.decor_mut().set_prefix(
        "# The libpython bundle of pylon's core, written by `cargo xtask build`: link a Rust guest\n\
         # (pylon/libpy's build script reads this file) or relink the core from it. Paths are\n\
         # relative to this file; archives are in link order.\n",
    );
    doc["schema"] = value(1);
    doc["profile"] = value(inputs.profile.name());
    doc["python"] = value("3.13");
    doc["lib_name"] = value(LIB_NAME);
    doc["include_dir"] = value(format!("include/{LIB_NAME}"));
    doc["libpython"] = value(&layout.libpython);
    doc["main"] = value(&layout.main);
    doc["inittab"] = value(&layout.inittab);
    doc["inittab_core"] = value(&layout.inittab_core);
    let mut extensions = toml_edit::ArrayOfTables::new();
    for (module, archive) in &layout.extensions {
        let mut t = Table::new();
        t["module"] = value(module);
        t["archive"] = value(archive);
        extensions.push(t);
    }
    doc["dependencies"] = array(&layout.dependencies);
    doc["system_libs"] = array(&layout.system_libs);
    doc["link_args"] = array(&layout.link_args);
    doc["core_modules"] = array(&layout.core_modules);
    doc["extension"] = Item::ArrayOfTables(extensions);
    let mut sha = Table::new();
    let mut files: Vec<String> = vec![
        layout.libpython.clone(),
        layout.main.clone(),
        layout.inittab.clone(),
        layout.inittab_core.clone(),
    ];
    files.extend(layout.extensions.iter().map(|(_, a)| a.clone()));
    files.extend(layout.dependencies.iter().cloned());
    for file in files {
        sha[&file] = value(sha256_file(&dir.join(&file))?);
    }
    doc["sha256"] = Item::Table(sha);
    Ok(doc.to_string())
}

/// Reads a bundle's layout back from its `libpy.toml`.
pub fn read_layout(dir: &Path) -> Result<BundleLayout> {
    let path = dir.join(MANIFEST);
    let text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("{} is not TOML", path.display()))?;
    let s = |k: &str| -> Result<String> {
        doc.get(k)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .with_context(|| format!("{}: no `{k}`", path.display()))
    };
    let list = |k: &str| -> Vec<String> {
        doc.get(k)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut extensions = Vec::new();
    if let Some(tables) = doc.get("extension").and_then(|e| e.as_array_of_tables()) {
        for t in tables {
            let module = t
                .get("module")
                .and_then(|v| v.as_str())
                .with_context(|| format!("{}: an [[extension]] without module", path.display()))?;
            let archive = t
                .get("archive")
                .and_then(|v| v.as_str())
                .with_context(|| format!("{}: an [[extension]] without archive", path.display()))?;
            extensions.push((module.to_owned(), archive.to_owned()));
        }
    }
    Ok(BundleLayout {
        libpython: s("libpython")?,
        main: s("main")?,
        inittab: s("inittab")?,
        inittab_core: s("inittab_core")?,
        extensions,
        dependencies: list("dependencies"),
        system_libs: list("system_libs"),
        link_args: list("link_args"),
        core_modules: list("core_modules"),
    })
}

/// pyo3-build-config's file: CPython 3.13, static, 32-bit; the link lines are suppressed
/// because `pylon/libpy` emits them (with the bundle's absolute path, which this file
/// must not hold: it is a build artifact with a sha256 in the manifest).
fn pyo3_config(_layout: &BundleLayout) -> String {
    format!(
        "implementation=CPython\nversion=3.13\nshared=false\nabi3=false\nlib_name={LIB_NAME}\npointer_width=32\nbuild_flags=\nsuppress_build_script_link_lines=true\n"
    )
}

/// Links a core `python.wasm` from the bundle at `dir` with the core's compiler: main,
/// libpython, the inittab (the bundle's, or `inittab`: an application's own), every
/// extension's archive and the `extra` archives, the dependencies, the `-l` names and the
/// core's link flags. A core with more extensions, without recompiling CPython. Written
/// through a pending file: a failed link leaves nothing at `out`.
pub fn relink(dir: &Path, toolchain: &CoreToolchain, inittab: Option<&Path>, extra: &[PathBuf], out: &Path) -> Result<()> {
    let layout = read_layout(dir)?;
    let mut args: Vec<std::ffi::OsString> = toolchain.cc[1..].iter().map(Into::into).collect();
    args.extend(layout.link_args.iter().map(Into::into));
    let pending = crate::helpers::digest::pending_path(out);
    args.extend(["-o".into(), pending.clone().into_os_string(), dir.join(&layout.main).into_os_string(), dir.join(&layout.libpython).into_os_string()]);
    args.push(inittab.map_or_else(|| dir.join(&layout.inittab), Path::to_path_buf).into_os_string());
    args.extend(layout.extensions.iter().map(|(_, a)| dir.join(a).into_os_string()));
    args.extend(extra.iter().map(|a| a.clone().into_os_string()));
    args.extend(layout.dependencies.iter().map(|a| dir.join(a).into_os_string()));
    args.extend(layout.system_libs.iter().map(|l| format!("-l{l}").into()));
    if let Some(parent) = out.parent() {
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut cmd = duct::cmd(&toolchain.cc[0], args).stderr_capture().stdout_capture().unchecked();
    for (k, v) in &toolchain.env {
        cmd = cmd.env(k, v);
    }
    let result = cmd.run().context("cannot run the core's compiler to link")?;
    if !result.status.success() {
        let _ = fs::remove_file(&pending);
        bail!("linking {} from the bundle {} failed:\n{}", out.display(), dir.display(), String::from_utf8_lossy(&result.stderr).trim_end());
    }
    fs::rename(&pending, out).with_context(|| format!("cannot move into {}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG_C: &str = "#include \"Python.h\"\n\nextern PyObject* PyInit_math(void);\nextern PyObject* PyInit__zlib_cap(void);\n/* -- ADDMODULE MARKER 1 -- */\n\nstruct _inittab _PyImport_Inittab[] = {\n    {\"math\", PyInit_math},\n    {\"_zlib_cap\", PyInit__zlib_cap},\n/* -- ADDMODULE MARKER 2 -- */\n    {\"sys\", NULL},\n    {0, 0}\n};\n";

    #[test]
    fn the_core_inittab_leaves_the_extensions_out() {
        let (c, kept) = inittab_without(CONFIG_C, &["_zlib_cap"]).unwrap();
        assert!(
            !c.contains("_zlib_cap")
                && c.contains("{\"math\", PyInit_math},")
                && c.contains("MARKER 2"),
            "{c}"
        );
        assert_eq!(kept, ["math"]);
        let err = inittab_without(CONFIG_C, &["_nope_cap"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("_nope_cap is not in the build's inittab"),
            "{err}"
        );
    }
}
