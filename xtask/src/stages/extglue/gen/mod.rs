//! Writes the CPython extension module that imports a cap's WIT interfaces, so that a cap
//! with a plain interface needs no hand-written C.
//!
//! For a module (e.g. `_zlib_cap`) we synthesize a world that imports the requested
//! interfaces, run wit-bindgen-c on it in-process (its bindings: `<world>.h`/`<world>.c`)
//! and write `<module>.c`, which converts between Python objects and wit-bindgen-c's C
//! types. The C names are those wit-bindgen-c derives (computed with its own public
//! naming functions, then checked against the header it wrote), never guessed.
//!
//! The Python-visible API is described in `emit.rs`.

mod emit;
mod model;
mod runtime;
mod sig;
#[cfg(test)]
mod tests;

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use wit_parser::{Resolve, WorldId};

/// What to generate: one CPython module importing some cap interfaces.
#[derive(Debug, Clone)]
pub struct ExtSpec {
    /// The CPython module name, e.g. "_zlib_cap".
    pub module: String,
    /// The WIT directories of the caps the module imports (each a `wit/` dir with one package, maybe deps).
    pub wit_dirs: Vec<PathBuf>,
    /// Fully qualified interfaces the module imports, e.g. "pylon:zlib/zlib@0.1.0".
    pub interfaces: Vec<String>,
    /// Those among `interfaces` that the embedding application provides (host caps): every
    /// call first checks, once, that the application does (`pylon_host._require`), so that
    /// a missing one raises `pylon_host.HostInterfaceMissing` instead of trapping.
    pub host: Vec<String>,
}

/// The generated sources of one module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// (file name, contents) for the ext's `gen/` directory, sorted by name; all text (C and headers).
    pub files: Vec<(String, String)>,
    /// The name of the synthesized world (wit-bindgen-c derives its C prefixes from it).
    pub world: String,
    /// The C sources among `files` to compile into CPython.
    pub c_sources: Vec<String>,
}

/// Generates the bindings and the CPython module for `spec`. Deterministic: the same WIT
/// gives the same bytes (no paths, no timestamps).
pub fn generate(spec: &ExtSpec) -> Result<Generated> {
    let names = Names::for_module(&spec.module)?;
    let (mut resolve, world) = import_world(spec)?;
    model::check_supported(&resolve, world)?;

    // wit-bindgen-c rewrites `resolve` (nominal type ids) before generating: the model is
    // built from the same rewritten `resolve`, so that type ids agree.
    let mut rename: Vec<(String, String)> =
        model::renames(&resolve, world).into_iter().map(|(key, to)| (resolve.name_world_key(&key), to)).collect();
    rename.sort();
    let opts = wit_bindgen_c::Opts { no_object_file: true, rename, ..Default::default() };
    let mut files = wit_bindgen_core::Files::default();
    opts.build()
        .generate(&mut resolve, world, &mut files)
        .context("wit-bindgen-c failed")?;
    let mut out = Vec::new();
    for (name, bytes) in files.iter() {
        let text = String::from_utf8(bytes.to_vec())
            .with_context(|| format!("wit-bindgen-c wrote non-UTF-8 `{name}`"))?;
        out.push((name.to_string(), text));
    }
    let header_name = format!("{}.h", names.world_snake);
    let header = out
        .iter()
        .find(|(n, _)| *n == header_name)
        .map(|(_, t)| t.clone())
        .with_context(|| format!("wit-bindgen-c wrote no `{header_name}`"))?;

    let module = model::Module::build(&resolve, world, spec, &header)?;
    let module_c = emit::module_c(&module)?;
    out.push((format!("{}.c", spec.module), module_c));
    out.sort();

    let c_sources = out.iter().filter(|(n, _)| n.ends_with(".c")).map(|(n, _)| n.clone()).collect();
    Ok(Generated { files: out, world: names.world, c_sources })
}

/// The synthesized world that imports `spec.interfaces` (the build embeds the
/// component-type metadata for it after linking, so the bindings are generated with
/// wit-bindgen-c's `no_object_file`).
pub fn import_world(spec: &ExtSpec) -> Result<(Resolve, WorldId)> {
    let names = Names::for_module(&spec.module)?;
    if spec.interfaces.is_empty() {
        bail!("module `{}` imports no interface", spec.module);
    }
    let mut resolve = Resolve::default();
    for dir in &spec.wit_dirs {
        resolve
            .push_dir(dir)
            .with_context(|| format!("cannot load the WIT of `{}` from {}", spec.module, dir.display()))?;
    }
    for iface in &spec.interfaces {
        check_interface_exists(&resolve, iface)
            .with_context(|| format!("module `{}` imports `{iface}`", spec.module))?;
    }
    let text = world_wit(&names, &spec.interfaces);
    // A fixed pseudo-path: it only shows in error messages, and keeps the output free of paths.
    let pkg = resolve
        .push_str(format!("{}.wit", names.package_file), &text)
        .with_context(|| format!("cannot resolve the synthesized world:\n{text}"))?;
    let world = resolve.select_world(&[pkg], Some(&names.world))?;
    Ok((resolve, world))
}

/// The WIT text of the synthesized world.
fn world_wit(names: &Names, interfaces: &[String]) -> String {
    let mut text = format!("package {};\n\nworld {} {{\n", names.package, names.world);
    for iface in interfaces {
        text.push_str(&format!("    import {iface};\n"));
    }
    text.push_str("}\n");
    text
}

/// Fails unless `iface` (`ns:pkg/name@version`) names an interface in `resolve`, with an
/// error that says which part is missing (wit-parser's own is about the synthesized world).
fn check_interface_exists(resolve: &Resolve, iface: &str) -> Result<()> {
    let (pkg, rest) = iface
        .split_once('/')
        .with_context(|| format!("`{iface}` is not a fully qualified interface (`namespace:package/interface@version`)"))?;
    let (name, version) = match rest.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (rest, None),
    };
    let (namespace, pkg_name) = pkg
        .split_once(':')
        .with_context(|| format!("`{iface}` is not a fully qualified interface (`namespace:package/interface@version`)"))?;
    let mut found_pkg = false;
    for (_, p) in resolve.packages.iter() {
        if p.name.namespace != namespace || p.name.name != pkg_name {
            continue;
        }
        if let Some(v) = version
            && p.name.version.as_ref().map(|x| x.to_string()).as_deref() != Some(v)
        {
            continue;
        }
        found_pkg = true;
        if p.interfaces.contains_key(name) {
            return Ok(());
        }
    }
    if found_pkg {
        bail!("package `{pkg}` has no interface `{name}`")
    }
    bail!("no WIT package `{pkg}`{} in the given WIT directories", version.map(|v| format!("@{v}")).unwrap_or_default())
}

/// The names derived from a module name: `_zlib_cap` → package `pylon-ext:zlib-cap`,
/// world `zlib-cap-ext` (C prefix `zlib_cap_ext_`).
struct Names {
    package: String,
    package_file: String,
    world: String,
    world_snake: String,
}

impl Names {
    fn for_module(module: &str) -> Result<Names> {
        let valid = module.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && module.bytes().any(|b| b.is_ascii_lowercase());
        let kebab = module.trim_matches('_').split('_').filter(|w| !w.is_empty()).collect::<Vec<_>>();
        // Each WIT word must start with a letter; so must the module (a C identifier).
        if !valid || kebab.iter().any(|w| !w.as_bytes()[0].is_ascii_lowercase()) || module.as_bytes()[0].is_ascii_digit() {
            bail!("module name `{module}`: use lowercase words (letters first) separated by `_`, e.g. `_zlib_cap`");
        }
        let base = kebab.join("-");
        Ok(Names {
            package: format!("pylon-ext:{base}"),
            package_file: format!("pylon-ext-{base}"),
            world: format!("{base}-ext"),
            // As wit-bindgen-c names its files.
            world_snake: heck::ToSnakeCase::to_snake_case(format!("{base}-ext").as_str()),
        })
    }
}
