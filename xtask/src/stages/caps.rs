//! The caps and their CPython extensions, found — never listed by hand. A cap is a
//! workspace member in a `caps/` directory with `[package.metadata.pylon]` in its Cargo.toml
//! and a WIT package in `wit/`; its CPython side is `cpython-ext/<module>/ext.toml` beside
//! that `caps/` directory. pylon's own are `caps/*` and `cpython-ext/*` of this repository;
//! an example application keeps its own the same way (`examples/embed-kv/caps/kv`,
//! `examples/embed-kv/cpython-ext/_kv_host`).

use anyhow::{Context, Result, anyhow, bail, ensure};
use std::fs;
use std::path::{Path, PathBuf};

/// How a cap is linked into pylon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Plugged into the core at composition time; its extension imports its interface.
    Static,
    /// Static, but one interface serves several `schemes`, picked by a call parameter.
    Mux,
    /// A provider exporting `pylon:dynlink/endpoint`: extensions reach it through the
    /// linker, by an id the plan (`caps/dynlink/plan.toml`) assigns to it.
    Dynlink,
    /// Implemented by the application embedding pylon: the core imports the interface,
    /// composition leaves the import open, and the crate is the host-side library
    /// (`bindgen!` traits and `add_to_linker`), not a component.
    Host,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Static, Kind::Mux, Kind::Dynlink, Kind::Host];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Static => "static",
            Kind::Mux => "mux",
            Kind::Dynlink => "dynlink",
            Kind::Host => "host",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Built for wasm32-wasip2 and plugged at composition (every kind but `host`).
    pub fn is_component(self) -> bool {
        self != Kind::Host
    }
}

/// The directory shared by dynlink caps: the WIT of `linker`/`endpoint` and the plan.
pub const DYNLINK_DIR: &str = "caps/dynlink";
/// The interface every dynlink provider exports.
pub const ENDPOINT_INTERFACE: &str = "pylon:dynlink/endpoint@0.1.0";
/// The interface an extension imports to reach providers (`links` in its ext.toml).
pub const LINKER_INTERFACE: &str = "pylon:dynlink/linker@0.1.0";
/// The host bridge (caps/host_bridge), which the pylon runtime itself provides; generated
/// modules of other host caps ask it whether their interface is provided.
pub const BRIDGE_INTERFACE: &str = "pylon:host/bridge@0.1.0";

#[derive(Clone, Debug)]
pub struct Cap {
    /// The directory name under `caps/`, which is how users and the manifest name it.
    pub name: String,
    pub package: String,
    pub version: String,
    pub kind: Kind,
    /// Fully qualified exported interfaces, e.g. `pylon:zlib/zlib@0.1.0`.
    pub exports: Vec<String>,
    /// The module name of its CPython extension (a directory under `cpython-ext/`); dynlink
    /// providers have none: extensions reach them by id.
    pub ext: Option<String>,
    /// Mux caps: the schemes the one interface serves.
    pub schemes: Vec<String>,
    /// Dynlink caps: the ids they can serve.
    pub serves: Vec<String>,
    pub dir: PathBuf,
    /// Its WIT package: `<dir>/wit`, or the shared dynlink WIT for providers.
    pub wit: PathBuf,
    /// The file cargo writes for the wasm32-wasip2 target (`<lib name>.wasm`); host caps
    /// have none.
    pub wasm_file: String,
}

impl Cap {
    pub fn wit_dir(&self) -> PathBuf {
        self.wit.clone()
    }
}

/// The CPython side of one or more caps.
#[derive(Clone, Debug)]
pub struct Ext {
    pub module: String,
    pub dir: PathBuf,
    pub caps: Vec<String>,
    /// Hand-written C files, relative to `dir`.
    pub sources: Vec<String>,
    /// Dynlink ids it resolves through the linker (e.g. `crc32c`).
    pub links: Vec<String>,
    pub facades: Vec<Facade>,
    /// Modules the snapshot imports at build time for it (`prewarm = [...]`; see
    /// `crate::stages::snapshot`).
    pub prewarm: Vec<String>,
    /// Its `[fuzz]` table: hints for the random-call fuzzer (see `crate::commands::fuzz`).
    pub fuzz: toml_edit::Table,
    /// Its `[native]` table: the extension is CPython's own C module over a static native
    /// library compiled into the core (see `crate::stages::native`).
    pub native: Option<crate::stages::native::NativeSpec>,
}

#[derive(Clone, Debug)]
pub struct Facade {
    /// The file in the ext's directory.
    pub source: String,
    /// Where it lands in the stdlib tree (e.g. `zlib.py`).
    pub install: String,
}

/// Every cap of the workspace, sorted by name, with its extension.
pub fn discover(root: &Path) -> Result<(Vec<Cap>, Vec<Ext>)> {
    let metadata = cargo_metadata::MetadataCommand::new()
        .current_dir(root)
        .no_deps()
        .exec()
        .context("cargo metadata failed")?;
    let mut caps = Vec::new();
    // The directories holding `caps/`: this repository first, then applications'.
    let mut apps = vec![root.to_path_buf()];
    for package in &metadata.packages {
        let manifest = package.manifest_path.as_std_path();
        let Some(dir) = manifest.parent() else { continue };
        let in_caps = dir.parent().filter(|p| p.file_name().is_some_and(|n| n == "caps"));
        let Some(app) = in_caps.and_then(Path::parent) else {
            ensure!(
                package.metadata.get("pylon").is_none(),
                "{}: has [package.metadata.pylon] but is not in a `caps/` directory",
                package.manifest_path
            );
            continue;
        };
        if !apps.iter().any(|a| a == app) {
            apps.push(app.to_path_buf());
        }
        let cap = cap_from_package(root, package, dir).with_context(|| format!("cap in {}", dir.display()))?;
        if let Some(other) = caps.iter().find(|c: &&Cap| c.name == cap.name) {
            bail!("two caps are named `{}`: {} and {}", cap.name, other.dir.display(), cap.dir.display());
        }
        caps.push(cap);
    }
    caps.sort_by(|a, b| a.name.cmp(&b.name));

    let mut exts: Vec<Ext> = Vec::new();
    for app in &apps {
        let Ok(entries) = fs::read_dir(app.join("cpython-ext")) else { continue };
        for entry in entries.flatten() {
            let path = entry.path().join("ext.toml");
            if path.exists() {
                let ext = load_ext(&path)?;
                if let Some(other) = exts.iter().find(|e| e.module == ext.module) {
                    bail!("two extensions are named `{}`: {} and {}", ext.module, other.dir.display(), ext.dir.display());
                }
                exts.push(ext);
            }
        }
    }
    exts.sort_by(|a, b| a.module.cmp(&b.module));
    check_pairs(&caps, &exts)?;
    Ok((caps, exts))
}

fn cap_from_package(root: &Path, package: &cargo_metadata::Package, dir: &Path) -> Result<Cap> {
    let meta = package
        .metadata
        .get("pylon")
        .ok_or_else(|| anyhow!("{} has no [package.metadata.pylon] table", package.manifest_path))?;
    let field = |key: &str| meta.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let kind_name = field("kind").ok_or_else(|| anyhow!("{}: [package.metadata.pylon] needs `kind`", package.manifest_path))?;
    let kind = Kind::parse(&kind_name).ok_or_else(|| {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        anyhow!("{}: unknown kind `{kind_name}` (expected one of {})", package.manifest_path, known.join(", "))
    })?;
    let strings = |key: &str| -> Vec<String> {
        meta.get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let exports = strings("exports");
    ensure!(!exports.is_empty(), "{}: [package.metadata.pylon] needs `exports`", package.manifest_path);
    let ext = field("ext");
    let schemes = strings("schemes");
    let serves = strings("serves");
    let wit = match kind {
        Kind::Static | Kind::Mux | Kind::Host => {
            ensure!(ext.is_some(), "{}: a {} cap needs `ext` (its CPython extension)", package.manifest_path, kind.name());
            ensure!(serves.is_empty(), "{}: only dynlink caps take `serves`", package.manifest_path);
            dir.join("wit")
        }
        Kind::Dynlink => {
            ensure!(
                ext.is_none(),
                "{}: a dynlink cap has no `ext`: extensions reach it through the linker (`links` in their ext.toml)",
                package.manifest_path
            );
            ensure!(!serves.is_empty(), "{}: a dynlink cap needs `serves` (the ids it can serve)", package.manifest_path);
            ensure!(
                exports == [ENDPOINT_INTERFACE],
                "{}: a dynlink cap exports exactly [\"{ENDPOINT_INTERFACE}\"]",
                package.manifest_path
            );
            root.join(DYNLINK_DIR).join("wit")
        }
    };
    match kind {
        Kind::Mux => ensure!(!schemes.is_empty(), "{}: a mux cap needs `schemes`", package.manifest_path),
        _ => ensure!(schemes.is_empty(), "{}: only mux caps take `schemes`", package.manifest_path),
    }
    let cdylib = package.targets.iter().find(|t| t.kind.iter().any(|k| matches!(k, cargo_metadata::TargetKind::CDyLib)));
    let wasm_file = match (kind, cdylib) {
        (Kind::Host, None) => String::new(),
        (Kind::Host, Some(_)) => bail!(
            "{}: a host cap is the host-side library, not a component: drop `cdylib` from its crate-type",
            package.manifest_path
        ),
        (_, Some(lib)) => format!("{}.wasm", lib.name.replace('-', "_")),
        (_, None) => bail!("{}: a cap must be a cdylib (crate-type = [\"cdylib\"])", package.manifest_path),
    };
    let dir = dir.to_path_buf();
    ensure!(wit.is_dir(), "{}: no WIT directory {}", package.manifest_path, wit.display());
    Ok(Cap {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        package: package.name.to_string(),
        version: package.version.to_string(),
        kind,
        exports,
        ext,
        schemes,
        serves,
        wasm_file,
        dir,
        wit,
    })
}

fn load_ext(path: &Path) -> Result<Ext> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: toml_edit::DocumentMut = text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
    let strings = |key: &str| -> Vec<String> {
        doc.get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let module = doc
        .get("module")
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("{}: needs `module`", path.display()))?
        .to_owned();
    let dir = path.parent().unwrap().to_path_buf();
    ensure!(
        dir.file_name().is_some_and(|n| n == module.as_str()),
        "{}: module `{module}` must match its directory name",
        path.display()
    );
    let mut facades = Vec::new();
    if let Some(tables) = doc.get("facade").and_then(|f| f.as_array_of_tables()) {
        for t in tables {
            let get = |k: &str| {
                t.get(k)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("{}: [[facade]] needs `{k}`", path.display()))
            };
            let facade = Facade { source: get("source")?, install: get("install")? };
            ensure!(dir.join(&facade.source).is_file(), "{}: facade {} not found", path.display(), facade.source);
            facades.push(facade);
        }
    }
    let sources = strings("sources");
    for s in &sources {
        ensure!(dir.join(s).is_file(), "{}: source {s} not found", path.display());
    }
    let fuzz = match doc.get("fuzz") {
        None => toml_edit::Table::new(),
        Some(item) => item.as_table().cloned().ok_or_else(|| anyhow!("{}: `fuzz` must be a table", path.display()))?,
    };
    let native = match doc.get("native") {
        None => None,
        Some(item) => {
            let table = item.as_table().ok_or_else(|| anyhow!("{}: `native` must be a table", path.display()))?;
            Some(crate::stages::native::parse(table, path, &dir)?)
        }
    };
    let caps = strings("caps");
    ensure!(
        native.is_none() || (caps.is_empty() && strings("links").is_empty() && sources.is_empty()),
        "{}: a [native] extension is CPython's own module over its library: no `caps`, `links` or `sources`",
        path.display()
    );
    Ok(Ext { module, caps, sources, links: strings("links"), facades, prewarm: strings("prewarm"), fuzz, native, dir })
}

/// Every static or mux cap names an ext that names it back; every id an ext links is
/// served by some dynlink cap.
fn check_pairs(caps: &[Cap], exts: &[Ext]) -> Result<()> {
    for cap in caps {
        let Some(ext_name) = &cap.ext else { continue };
        let Some(ext) = exts.iter().find(|e| &e.module == ext_name) else {
            bail!("cap `{}` names extension `{ext_name}`, but cpython-ext/{ext_name}/ext.toml does not exist", cap.name)
        };
        ensure!(
            ext.caps.contains(&cap.name),
            "cap `{}` names extension `{}`, whose ext.toml does not list it in `caps`",
            cap.name,
            ext.module
        );
    }
    for ext in exts {
        for name in &ext.caps {
            let cap = caps.iter().find(|c| &c.name == name);
            ensure!(cap.is_some(), "cpython-ext/{}/ext.toml needs cap `{name}`, which is not a crate under caps/", ext.module);
            ensure!(
                cap.is_some_and(|c| c.kind != Kind::Dynlink),
                "cpython-ext/{}/ext.toml lists dynlink cap `{name}` in `caps`; name the id it serves in `links` instead",
                ext.module
            );
        }
        for id in &ext.links {
            ensure!(
                caps.iter().any(|c| c.serves.contains(id)),
                "cpython-ext/{}/ext.toml links `{id}`, which no dynlink cap serves",
                ext.module
            );
        }
    }
    Ok(())
}

/// The caps a build includes (all, or the `--caps` subset) and the extensions they need.
pub fn select(caps: &[Cap], exts: &[Ext], wanted: Option<&[String]>) -> Result<(Vec<Cap>, Vec<Ext>)> {
    let selected: Vec<Cap> = match wanted {
        None => caps.to_vec(),
        Some(names) => {
            for name in names {
                ensure!(
                    caps.iter().any(|c| &c.name == name),
                    "--caps: no cap named `{name}` (caps: {})",
                    caps.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
                );
            }
            caps.iter().filter(|c| names.contains(&c.name)).cloned().collect()
        }
    };
    // An extension is compiled in when all the caps it imports are, and some selected
    // provider serves each id it links (the plan then picks among them).
    let exts = exts
        .iter()
        .filter(|e| e.caps.iter().all(|name| selected.iter().any(|c| &c.name == name)))
        .filter(|e| e.links.iter().all(|id| selected.iter().any(|c| c.serves.contains(id))))
        .cloned()
        .collect();
    Ok((selected, exts))
}

/// Builds the caps for wasm32-wasip2 in one cargo invocation; returns their components in
/// the order of `caps`. Paths are remapped so the bytes do not depend on the checkout.
///
/// C code in a cap's dependencies (built by cc-rs, e.g. SQLite's amalgamation) is compiled
/// by the pinned zig through `xtask zig-cc` and archived by `zig ar`: no C toolchain of the
/// host is involved, and the same prefix maps apply to it.
pub fn build(layout: &crate::helpers::layout::Layout, caps: &[Cap], zig: &crate::stages::deps::Zig) -> Result<Vec<PathBuf>> {
    if caps.is_empty() {
        return Ok(vec![]);
    }
    let step = crate::helpers::progress::Step::start(format!(
        "caps: cargo build --release --target wasm32-wasip2 ({})",
        caps.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
    ));
    let mut args = vec!["build".to_owned(), "--release".into(), "--quiet".into(), "--target".into(), "wasm32-wasip2".into()];
    for cap in caps {
        args.extend(["-p".to_owned(), cap.package.clone()]);
    }
    let cargo_home = crate::helpers::runner::cargo_home();
    let rustflags = crate::helpers::runner::remap_rustflags(layout);
    let xtask = std::env::current_exe().context("cannot find the xtask binary for the zig-cc wrapper")?;
    let cflags = format!(
        "-ffile-prefix-map={}=/pylon -ffile-prefix-map={}=/cargo",
        layout.root.display(),
        cargo_home.display()
    );
    let mut cmd = duct::cmd(crate::helpers::runner::cargo(), &args)
        .dir(&layout.root)
        .env("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", rustflags)
        .env("CC_wasm32_wasip2", format!("{} zig-cc", xtask.display()))
        .env("AR_wasm32_wasip2", format!("{} ar", zig.exe.display()))
        .env("CFLAGS_wasm32_wasip2", cflags)
        .env(crate::helpers::cc::ZIG_ENV, &zig.exe);
    for (k, v) in zig.env() {
        cmd = cmd.env(k, v);
    }
    cmd.stdout_to_stderr().run().context("building the caps failed")?;
    step.done();
    let dir = crate::helpers::runner::target_dir(layout).join("wasm32-wasip2/release");
    caps.iter()
        .map(|cap| {
            let file = dir.join(&cap.wasm_file);
            ensure!(file.exists(), "cap `{}`: cargo did not produce {}", cap.name, file.display());
            Ok(file)
        })
        .collect()
}
