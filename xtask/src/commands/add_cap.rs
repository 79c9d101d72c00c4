//! `cargo xtask add-cap NAME [--kind static|mux|dynlink]`: scaffolds a cap that builds,
//! composes and passes its smoke test at once — the crate with its WIT and one example
//! function, the CPython extension with its generated glue, and a smoke test. Nothing else
//! needs editing: the build finds both through cargo_metadata and `cpython-ext/*/ext.toml`
//! (a dynlink provider also gets its line in the plan, `caps/dynlink/plan.toml`).

use anyhow::{Context, Result, anyhow, bail, ensure};
use std::fs;
use std::path::{Path, PathBuf};

use crate::helpers::layout::Layout;
use crate::stages::caps::{Cap, DYNLINK_DIR, ENDPOINT_INTERFACE, Ext, Kind, LINKER_INTERFACE};

/// The longest cap name. Without a limit, file names (255 bytes each) break first:
/// `caps/<name>` past 255 characters, cargo's fingerprint directory `cap-<name>-<16 hex>`
/// past 234, a dynlink swap plan `target/dynlink-plans/<id>-<provider>.toml` (the name twice)
/// past 124. 60 stays far from those and keeps the crate name `cap-<name>` within the 64
/// characters a package registry accepts.
const MAX_NAME_LEN: usize = 60;

/// Rust's strict and reserved keywords, edition 2024 (the Rust Reference, "Keywords"; `gen`
/// is reserved since 2024). A cap's name is the Rust module wit-bindgen makes of its WIT
/// package (`exports::pylon::<name>::<name>`): wit-bindgen renames keywords to `<name>_`, so
/// the generated lib.rs would not compile. Weak keywords (`union`, `raw`, `safe`,
/// `macro_rules`) are ordinary identifiers there and stay allowed.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "self", "static", "struct",
    "super", "trait", "true", "type", "unsafe", "use", "where", "while", // strict
    "abstract", "become", "box", "do", "final", "gen", "macro", "override", "priv", "try", "typeof", "unsized", "virtual",
    "yield", // reserved
];

/// Python 3.13's `keyword.kwlist`, lowercase ones (a cap name has no capitals): the facade
/// module is the cap's name, and `import return` is a SyntaxError. The soft keywords
/// (`keyword.softkwlist`: `_`, `case`, `match`, `type`) stay valid in what add-cap writes
/// (`import case`, `case.echo(...)`), so they are not rejected as Python keywords; `match`
/// and `type` fall to the Rust and WIT lists, `_` to the character rules.
const PYTHON_KEYWORDS: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif", "else", "except",
    "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise",
    "return", "try", "while", "with", "yield",
];

/// The keywords of wit-parser 0.258.3's lexer (`src/ast/lex.rs`; wit-bindgen 0.61.1 and the
/// glue generator parse with it). A keyword is no identifier there, and the cap's WIT says
/// `package pylon:<kebab>` and `interface <kebab>`; a dynlink id is an import of the linker's
/// world (`import <kebab>: interface {...}`). Matched against the kebab spelling, so
/// `error_context` is one too.
const WIT_KEYWORDS: &[&str] = &[
    "as", "async", "bool", "borrow", "char", "constructor", "enum", "error-context", "export", "f32", "f64", "flags",
    "from", "func", "future", "import", "include", "interface", "list", "map", "option", "own", "package", "record",
    "resource", "result", "s8", "s16", "s32", "s64", "static", "stream", "string", "tuple", "type", "u8", "u16", "u32",
    "u64", "use", "variant", "with", "world",
];

pub struct Names {
    /// `demo_echo`: the directory under `caps/`, the manifest's name, the facade module.
    pub name: String,
    /// `demo-echo`: WIT and Cargo spelling, and a dynlink provider's id.
    pub kebab: String,
    /// `_demo_echo_cap` (static, mux) or `_demo_echo` (dynlink): the CPython extension.
    pub module: String,
    pub kind: Kind,
}

/// The name as errors show it: quoted, escaped, and cut short when it is long.
fn shown(name: &str) -> String {
    let count = name.chars().count();
    if count <= 40 {
        format!("\"{}\"", name.escape_debug())
    } else {
        let head: String = name.chars().take(24).collect();
        format!("\"{}…\" ({count} characters)", head.escape_debug())
    }
}

impl Names {
    /// Checks everything that the name alone decides: characters, length, keywords of the
    /// three languages it lands in, and that the derived identifiers agree.
    pub fn new(name: &str, kind: Kind) -> Result<Names> {
        let n = shown(name);
        ensure!(!name.is_empty(), "add-cap: the cap name is empty; use lowercase letters, digits and single underscores, e.g. demo_echo");
        let len = name.chars().count();
        ensure!(
            len <= MAX_NAME_LEN,
            "add-cap: {n} is too long: a cap name has at most {MAX_NAME_LEN} characters, so that the crate `cap-<name>` stays within \
             the 64 characters of a package name and every file named after it within the 255 bytes of a file name — pick a shorter name"
        );
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.ends_with('_')
            && !name.contains("__");
        ensure!(
            valid,
            "add-cap: {n} is not a valid cap name: use lowercase letters, digits and single underscores, starting with a letter (e.g. demo_echo)"
        );
        // Each underscore-separated word becomes a WIT identifier word, which may not start
        // with a digit.
        ensure!(
            name.split('_').all(|w| w.chars().next().is_some_and(|c| c.is_ascii_lowercase())),
            "add-cap: {n}: every word of a cap name must start with a letter (each becomes a WIT identifier word)"
        );
        let kebab = name.replace('_', "-");
        let mut reasons = Vec::new();
        if RUST_KEYWORDS.contains(&name) {
            reasons.push(match kind {
                Kind::Static | Kind::Mux | Kind::Host => "a Rust keyword (the crate and its Rust module would not compile)".to_owned(),
                // A provider's lib.rs never spells its name, but the rule is the same for every kind.
                Kind::Dynlink => "a Rust keyword (as a static or mux cap its crate and Rust module would not compile; cap names are the same for every kind)".to_owned(),
            });
        }
        if PYTHON_KEYWORDS.contains(&name) {
            reasons.push(format!("a Python keyword (`import {name}` of its facade module would be a SyntaxError)"));
        }
        if WIT_KEYWORDS.contains(&kebab.as_str()) {
            let spelled = if kebab == name { String::new() } else { format!(" as `{kebab}`") };
            reasons.push(match kind {
                Kind::Static | Kind::Mux | Kind::Host => format!("a WIT keyword{spelled} (`package pylon:{kebab}` and `interface {kebab}` of its WIT would not parse)"),
                Kind::Dynlink => format!("a WIT keyword{spelled} (`import {kebab}` of the dynlink linker's world would not parse)"),
            });
        }
        ensure!(reasons.is_empty(), "add-cap: {n} is {} — pick another name", reasons.join(" and "));
        // wit-bindgen names the Rust module after the snake case of the WIT package, and the
        // generated lib.rs spells it as the cap's name: they must agree.
        let snake = heck::ToSnakeCase::to_snake_case(kebab.as_str());
        ensure!(snake == name, "add-cap: {n}: wit-bindgen would name its Rust module `{snake}`, not `{name}` — pick another name");
        let module = if kind == Kind::Dynlink { format!("_{name}") } else { format!("_{name}_cap") };
        let names = Names { name: name.to_owned(), kebab, module, kind };
        names.check_wit()?;
        Ok(names)
    }

    /// A backstop for the keyword list: the WIT that carries the name must parse — the cap's
    /// own, or for a provider the linker's world importing its id.
    fn check_wit(&self) -> Result<()> {
        let text = cap_wit(self).unwrap_or_else(|| {
            let plan = crate::stages::dynlink::Plan {
                path: PathBuf::from(DYNLINK_DIR).join("plan.toml"),
                sha256: String::new(),
                serve: vec![(self.kebab.clone(), self.name.clone())],
            };
            crate::stages::dynlink::linker_wit(&plan)
        });
        match wit_parser::UnresolvedPackageGroup::parse("add-cap.wit", &text) {
            Ok(_) => Ok(()),
            Err((map, e)) => bail!("add-cap: {}: the WIT it needs would not parse — pick another name\n{}", shown(&self.name), e.render(&map)),
        }
    }

    /// The Python module of the facade (`<name>.py` at the stdlib's top).
    fn facade_module(&self) -> &str {
        &self.name
    }
}

/// What the workspace already uses, by the discovery the build uses (never a hand list).
#[derive(Default)]
pub struct Taken {
    /// (cap name, crate name).
    caps: Vec<(String, String)>,
    /// (WIT package such as `pylon:zlib`, who has it).
    wit_packages: Vec<(String, String)>,
    /// (top-level Python module, what provides it), for extension modules and facades.
    modules: Vec<(String, String)>,
    /// (dynlink id, who uses it): served by a provider, linked by an extension, or planned.
    ids: Vec<(String, String)>,
}

impl Taken {
    pub fn new(caps: &[Cap], exts: &[Ext], plan_ids: &[String]) -> Taken {
        let package_of = |interface: &str| interface.split('/').next().unwrap_or(interface).to_owned();
        let mut taken = Taken::default();
        // The shared dynlink package belongs to no one cap.
        for interface in [ENDPOINT_INTERFACE, LINKER_INTERFACE] {
            taken.wit_packages.push((package_of(interface), format!("the dynlink WIT ({DYNLINK_DIR}/wit)")));
        }
        for cap in caps {
            taken.caps.push((cap.name.clone(), cap.package.clone()));
            for export in &cap.exports {
                taken.wit_packages.push((package_of(export), format!("cap `{}`", cap.name)));
            }
            for id in &cap.serves {
                taken.ids.push((id.clone(), format!("cap `{}` serves it", cap.name)));
            }
        }
        for ext in exts {
            taken.modules.push((ext.module.clone(), format!("the extension module of cpython-ext/{}", ext.module)));
            for facade in &ext.facades {
                let top = facade.install.split('/').next().unwrap_or(&facade.install);
                let module = top.strip_suffix(".py").unwrap_or(top).to_owned();
                taken.modules.push((module, format!("installed by the facade `{}` of cpython-ext/{}/ext.toml", facade.install, ext.module)));
            }
            for id in &ext.links {
                taken.ids.push((id.clone(), format!("cpython-ext/{} links it", ext.module)));
            }
        }
        for id in plan_ids {
            taken.ids.push((id.clone(), format!("{DYNLINK_DIR}/plan.toml serves it")));
        }
        taken
    }

    /// The discovered workspace at `root`, with the ids its dynlink plan serves.
    fn discover(root: &Path) -> Result<Taken> {
        let (caps, exts) = crate::stages::caps::discover(root)?;
        let plan = root.join(DYNLINK_DIR).join("plan.toml");
        let mut plan_ids = Vec::new();
        if let Ok(text) = fs::read_to_string(&plan) {
            let doc: toml_edit::DocumentMut = text.parse().with_context(|| format!("{} is not valid TOML", plan.display()))?;
            if let Some(serve) = doc.get("serve").and_then(|s| s.as_table()) {
                plan_ids.extend(serve.iter().map(|(id, _)| id.to_owned()));
            }
        }
        Ok(Taken::new(&caps, &exts, &plan_ids))
    }

    /// Fails, naming what is already there, when an identifier derived from `n` is in use.
    pub fn check(&self, n: &Names, facade: bool) -> Result<()> {
        let shown = shown(&n.name);
        let crate_name = format!("cap-{}", n.kebab);
        for (cap, package) in &self.caps {
            ensure!(*cap != n.name, "add-cap: {shown}: there is a cap of that name already (caps/{cap}) — pick another name");
            ensure!(*package != crate_name, "add-cap: {shown}: the crate name `{crate_name}` is taken by cap `{cap}` — pick another name");
        }
        // A provider has no WIT package of its own.
        let wit_package = format!("pylon:{}", n.kebab);
        if n.kind != Kind::Dynlink && let Some((_, who)) = self.wit_packages.iter().find(|(p, _)| *p == wit_package) {
            bail!("add-cap: {shown}: the WIT package `{wit_package}` is taken by {who} — pick another name");
        }
        let module_user = |m: &str| self.modules.iter().find(|(module, _)| module == m).map(|(_, who)| who.as_str());
        if let Some(who) = module_user(&n.module) {
            bail!("add-cap: {shown}: its extension module `{}` is already {who} — pick another name", n.module);
        }
        if facade && let Some(who) = module_user(n.facade_module()) {
            bail!(
                "add-cap: {shown} --facade would install `{}.py`, but the module `{}` is already {who}: one would overwrite the other \
                 — pick another name or drop --facade",
                n.name,
                n.facade_module()
            );
        }
        if n.kind == Kind::Dynlink && let Some((_, who)) = self.ids.iter().find(|(id, _)| *id == n.kebab) {
            bail!("add-cap: {shown}: the dynlink id `{}` is in use already ({who}) — pick another name", n.kebab);
        }
        Ok(())
    }
}

/// Fails when the extension module (or, with a facade, the cap's name) is a module of
/// CPython's stdlib: one of the two would shadow the other.
pub fn check_stdlib(n: &Names, facade: bool, stdlib: &[String]) -> Result<()> {
    let shown = shown(&n.name);
    let is_stdlib = |m: &str| stdlib.iter().any(|s| s == m);
    ensure!(
        !is_stdlib(&n.module),
        "add-cap: {shown}: its extension module `{}` is a module of CPython's stdlib — pick another name",
        n.module
    );
    ensure!(
        !facade || !is_stdlib(n.facade_module()),
        "add-cap: {shown} --facade would install `{}.py` over the stdlib module `{}` — pick another name or drop --facade",
        n.name,
        n.facade_module()
    );
    Ok(())
}

/// Creates the cap; on any failure removes everything it created. Every check runs before
/// the first write: the name, what the workspace already has, then the stdlib's modules
/// (`stdlib` is asked last: it may have to fetch the pinned CPython source).
pub fn add(layout: &Layout, name: &str, kind: Kind, facade: bool, stdlib: impl FnOnce() -> Result<Vec<String>>) -> Result<Vec<PathBuf>> {
    let names = Names::new(name, kind)?;
    Taken::discover(&layout.root)?.check(&names, facade)?;
    let cap_dir = layout.root.join("caps").join(&names.name);
    let ext_dir = layout.root.join("cpython-ext").join(&names.module);
    for dir in [&cap_dir, &ext_dir] {
        ensure!(!dir.exists(), "add-cap: {} already exists: a cap named {} would write into it — pick another name", dir.display(), shown(name));
    }
    check_stdlib(&names, facade, &stdlib()?)?;
    let plan = layout.root.join(DYNLINK_DIR).join("plan.toml");
    with_rollback(&[&cap_dir, &ext_dir], &plan, || write_files(layout, &names, facade, &cap_dir, &ext_dir))
}

/// Runs `write`; if it fails, removes `dirs` (which did not exist before) and restores
/// `plan`, then fails with the real cause first and what the rollback did after it.
fn with_rollback<T>(dirs: &[&Path], plan: &Path, write: impl FnOnce() -> Result<T>) -> Result<T> {
    let plan_before = fs::read(plan).ok();
    let cause = match write() {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let mut undone = Vec::new();
    let mut failed = Vec::new();
    for dir in dirs {
        // `symlink_metadata` fails for a path that was never created (even one too long
        // to create): then there is nothing to remove.
        if dir.symlink_metadata().is_err() {
            continue;
        }
        match fs::remove_dir_all(dir) {
            Ok(()) => undone.push(format!("removed {}", dir.display())),
            Err(e) => failed.push(format!("cannot remove {}: {e}", dir.display())),
        }
    }
    if let Some(bytes) = plan_before
        && fs::read(plan).ok().as_deref() != Some(bytes.as_slice())
    {
        match fs::write(plan, &bytes) {
            Ok(()) => undone.push(format!("restored {}", plan.display())),
            Err(e) => failed.push(format!("cannot restore {}: {e}", plan.display())),
        }
    }
    let note = match (undone.is_empty(), failed.is_empty()) {
        (_, false) => format!("add-cap: rollback incomplete ({}); remove what is left by hand", failed.join("; ")),
        (true, true) => "add-cap: nothing had been written".to_owned(),
        (false, true) => format!("add-cap: rolled back: {}", undone.join(", ")),
    };
    Err(anyhow!("{cause:#}\n{note}"))
}

/// A dynlink provider is useless until the plan assigns it its id: add that line.
fn add_to_plan(layout: &Layout, n: &Names) -> Result<PathBuf> {
    let path = layout.root.join(DYNLINK_DIR).join("plan.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut doc: toml_edit::DocumentMut = text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
    let serve = doc["serve"].or_insert(toml_edit::table());
    ensure!(serve.get(&n.kebab).is_none(), "{}: id `{}` is already served", path.display(), n.kebab);
    serve[n.kebab.as_str()] = toml_edit::value(&n.name);
    fs::write(&path, doc.to_string()).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn write_files(layout: &Layout, n: &Names, facade: bool, cap_dir: &Path, ext_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = vec![
        (cap_dir.join("Cargo.toml"), cap_cargo_toml(n)),
        (cap_dir.join("src/lib.rs"), cap_lib_rs(n)),
        (ext_dir.join("ext.toml"), ext_toml(n, facade)),
        (ext_dir.join("smoke").join(format!("{}_smoke.py", n.name)), smoke_test(n, facade)),
    ];
    if let Some(wit) = cap_wit(n) {
        files.push((cap_dir.join("wit").join(format!("{}.wit", n.kebab)), wit));
    }
    if facade {
        files.push((ext_dir.join(format!("{}.py", n.name)), facade_py(n)));
    }
    for (path, text) in &files {
        fs::create_dir_all(path.parent().unwrap())?;
        fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut written: Vec<PathBuf> = files.into_iter().map(|(p, _)| p).collect();
    if n.kind == Kind::Dynlink {
        written.push(add_to_plan(layout, n)?);
    }
    // The glue is generated from the new WIT exactly as `cargo xtask gen` would.
    let (caps, exts) = crate::stages::caps::discover(&layout.root)?;
    let mine: Vec<_> = exts.into_iter().filter(|e| e.module == n.module).collect();
    written.extend(crate::stages::extglue::write_all(&layout.root, &mine, &caps)?);
    Ok(written)
}

fn cap_cargo_toml(n: &Names) -> String {
    let metadata = match n.kind {
        Kind::Static => format!("kind = \"static\"\nexports = [\"pylon:{0}/{0}@0.1.0\"]\next = \"{1}\"", n.kebab, n.module),
        Kind::Mux => format!(
            "kind = \"mux\"\nexports = [\"pylon:{0}/{0}@0.1.0\"]\next = \"{1}\"\n# What `schemes()` answers; `cargo xtask test` checks they agree.\nschemes = [\"lower\", \"upper\"]",
            n.kebab, n.module
        ),
        Kind::Dynlink => format!(
            "kind = \"dynlink\"\nexports = [\"{ENDPOINT_INTERFACE}\"]\n# Ids this provider can serve; caps/dynlink/plan.toml says who serves them.\nserves = [\"{}\"]",
            n.kebab
        ),
        Kind::Host => format!("kind = \"host\"\nexports = [\"pylon:{0}/{0}@0.1.0\"]\next = \"{1}\"", n.kebab, n.module),
    };
    let crate_tail = if n.kind == Kind::Host {
        "# The host side: the application embedding pylon implements the generated trait.\n[dependencies]\nwasmtime = { version = \"=50.0.1\", default-features = false, features = [\"anyhow\", \"async\", \"component-model\", \"runtime\", \"std\"] }\n"
    } else {
        "[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n\n# The WIT glue only exists in the component; host builds test the plain Rust.\n[target.'cfg(target_arch = \"wasm32\")'.dependencies]\nwit-bindgen = \"=0.61.1\"\n"
    };
    format!(
        r#"[package]
name = "cap-{kebab}"
version = "0.1.0"
description = "The {name} cap"
edition.workspace = true
license.workspace = true
publish.workspace = true

# The one declaration of this cap: the build derives everything else from it.
[package.metadata.pylon]
{metadata}

{crate_tail}"#,
        kebab = n.kebab,
        name = n.name,
    )
}

/// The cap's own WIT; dynlink providers share `caps/dynlink/wit` instead.
fn cap_wit(n: &Names) -> Option<String> {
    let funcs = match n.kind {
        Kind::Static => "    /// An example: returns `text` unchanged, and how many bytes it has.\n    echo: func(text: string) -> tuple<string, u32>;\n",
        Kind::Mux => "    /// The schemes this one interface serves.\n    schemes: func() -> list<string>;\n    /// An example: `text` converted by `scheme`. Err: an unknown scheme, naming the known ones.\n    convert: func(scheme: string, text: string) -> result<string, string>;\n",
        Kind::Host => "    /// An example, implemented by the application: returns `text` unchanged, and how many bytes it has.\n    echo: func(text: string) -> tuple<string, u32>;\n",
        Kind::Dynlink => return None,
    };
    // A host cap's world imports the interface: the host implements what the core imports.
    let world = if n.kind == Kind::Host { format!("{}-host {{\n    import {};\n}}", n.kebab, n.kebab) } else { format!("{}-cap {{\n    export {};\n}}", n.kebab, n.kebab) };
    Some(format!(
        "package pylon:{kebab}@0.1.0;\n\n/// The {name} cap.\ninterface {kebab} {{\n{funcs}}}\n\nworld {world}\n",
        kebab = n.kebab,
        name = n.name
    ))
}

fn cap_lib_rs(n: &Names) -> String {
    let (name, kebab, m) = (&n.name, &n.kebab, &n.name);
    match n.kind {
        Kind::Host => format!(
            r#"//! The {name} cap's host side. The application embedding pylon implements [`Host`] on its
//! sandbox state and registers it: `RuntimeBuilder::host(INTERFACE, |l| add_to_linker::<_,
//! pylon::User<State>>(l, pylon::user))`. Python calls it through `_{name}_cap`; where no
//! application provides it (the `pylon` CLI), a call raises `pylon_host.HostInterfaceMissing`.

wasmtime::component::bindgen!({{
    path: "wit",
    world: "{kebab}-host",
}});

pub use pylon::{m}::{m}::{{Host, add_to_linker}};

/// The interface name as the core imports it.
pub const INTERFACE: &str = "pylon:{kebab}/{kebab}@0.1.0";

/// An example implementation: `text` back, with its length in bytes.
#[derive(Debug, Default)]
pub struct Echo;

impl Host for Echo {{
    fn echo(&mut self, text: String) -> (String, u32) {{
        let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
        (text, len)
    }}
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn echo_counts_bytes() {{
        assert_eq!(Echo.echo("pylé".into()), ("pylé".into(), 5));
    }}
}}
"#
        ),
        Kind::Static => format!(
            r#"//! The {name} cap. The logic is plain Rust, testable on the host; the WIT glue below is
//! built only for the component.

/// The example function: `text` back, with its length in bytes.
pub fn echo(text: String) -> (String, u32) {{
    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
    (text, len)
}}

#[cfg(target_arch = "wasm32")]
mod component {{
    wit_bindgen::generate!({{ path: "wit", world: "{kebab}-cap" }});

    struct Cap;

    export!(Cap);

    impl exports::pylon::{m}::{m}::Guest for Cap {{
        fn echo(text: String) -> (String, u32) {{
            crate::echo(text)
        }}
    }}
}}


#[cfg(test)]
mod tests {{
    #[test]
    fn echo_returns_text_and_length() {{
        assert_eq!(super::echo("pylé".to_owned()), ("pylé".to_owned(), 5));
    }}
}}
"#
        ),
        Kind::Mux => format!(
            r#"//! The {name} cap: one interface, several schemes picked by a parameter. The logic is
//! plain Rust, testable on the host; the WIT glue below is built only for the component.

/// Must match `schemes` in Cargo.toml (`cargo xtask test` checks it inside pylon).
pub const SCHEMES: [&str; 2] = ["lower", "upper"];

/// The example function: `text` in the case `scheme` names.
pub fn convert(scheme: &str, text: &str) -> Result<String, String> {{
    match scheme {{
        "lower" => Ok(text.to_lowercase()),
        "upper" => Ok(text.to_uppercase()),
        _ => Err(format!("unknown scheme `{{scheme}}` (known: {{}})", SCHEMES.join(", "))),
    }}
}}

#[cfg(target_arch = "wasm32")]
mod component {{
    wit_bindgen::generate!({{ path: "wit", world: "{kebab}-cap" }});

    struct Cap;

    export!(Cap);

    impl exports::pylon::{m}::{m}::Guest for Cap {{
        fn schemes() -> Vec<String> {{
            crate::SCHEMES.iter().map(|s| s.to_string()).collect()
        }}

        fn convert(scheme: String, text: String) -> Result<String, String> {{
            crate::convert(&scheme, &text)
        }}
    }}
}}

#[cfg(test)]
mod tests {{
    #[test]
    fn schemes_convert_and_unknown_is_an_error() {{
        assert_eq!(super::convert("upper", "pylé").unwrap(), "PYLÉ");
        assert_eq!(super::convert("lower", "PyLé").unwrap(), "pylé");
        assert!(super::convert("title", "x").unwrap_err().contains("lower, upper"));
    }}
}}
"#
        ),
        Kind::Dynlink => format!(
            r#"//! The {name} provider: serves id `{kebab}` through the dynlink linker. Its contract is
//! `invoke(function, input) -> result<bytes, string>`; the logic is plain Rust, testable on
//! the host, and the WIT glue below is built only for the component.

/// The example contract: function `echo` returns its input bytes.
pub fn invoke(function: &str, input: Vec<u8>) -> Result<Vec<u8>, String> {{
    match function {{
        "echo" => Ok(input),
        other => Err(format!("{name}: unknown function `{{other}}` (serves: echo)")),
    }}
}}

#[cfg(target_arch = "wasm32")]
mod component {{
    wit_bindgen::generate!({{ path: "../dynlink/wit", world: "provider" }});

    struct Provider;

    export!(Provider);

    impl exports::pylon::dynlink::endpoint::Guest for Provider {{
        fn invoke(function: String, input: Vec<u8>) -> Result<Vec<u8>, String> {{
            crate::invoke(&function, input)
        }}
    }}
}}

#[cfg(test)]
mod tests {{
    #[test]
    fn echo_and_unknown_function() {{
        assert_eq!(super::invoke("echo", b"hi".to_vec()).unwrap(), b"hi");
        assert!(super::invoke("nope", vec![]).unwrap_err().contains("unknown function `nope`"));
    }}
}}
"#
        ),
    }
}

fn ext_toml(n: &Names, facade: bool) -> String {
    let mut text = match n.kind {
        Kind::Static | Kind::Mux | Kind::Host => format!(
            "# The CPython side of the {name} cap: the generated extension module `{module}`.\nmodule = \"{module}\"\ncaps = [\"{name}\"]\nsources = []\n",
            name = n.name,
            module = n.module
        ),
        Kind::Dynlink => format!(
            "# The CPython side of id `{kebab}`: `{module}` imports the dynlink linker and resolves the id.\nmodule = \"{module}\"\ncaps = []\nlinks = [\"{kebab}\"]\nsources = []\n",
            kebab = n.kebab,
            module = n.module
        ),
    };
    if facade {
        text.push_str(&format!("\n[[facade]]\nsource = \"{0}.py\"\ninstall = \"{0}.py\"\n", n.name));
    }
    text
}

fn facade_py(n: &Names) -> String {
    let (name, module, kebab) = (&n.name, &n.module, &n.kebab);
    match n.kind {
        Kind::Static | Kind::Host => format!(
            "\"\"\"The {name} module, over the {name} cap (`{module}`).\"\"\"\n\nimport {module}\n\n\ndef echo(text):\n    \"\"\"Return `text` unchanged (through the cap).\"\"\"\n    return {module}.echo(text)[0]\n"
        ),
        Kind::Mux => format!(
            "\"\"\"The {name} module, over the {name} cap (`{module}`).\"\"\"\n\nimport {module}\n\n\ndef schemes():\n    \"\"\"The schemes the cap serves.\"\"\"\n    return {module}.schemes()\n\n\ndef convert(scheme, text):\n    \"\"\"`text` converted by `scheme`; ValueError for an unknown scheme.\"\"\"\n    try:\n        return {module}.convert(scheme, text)\n    except {module}.WitError as e:\n        raise ValueError(e.value) from None\n"
        ),
        Kind::Dynlink => format!(
            "\"\"\"The {name} module: id `{kebab}` through the dynlink linker (`{module}`).\"\"\"\n\nimport {module}\n\n# Resolved once: the plan (caps/dynlink/plan.toml) picked the provider at build time.\n_handle = {module}.resolve(\"{kebab}\")\n\n\ndef echo(data):\n    \"\"\"Return `data` (bytes) unchanged, through the provider.\"\"\"\n    return {module}.invoke(_handle, \"echo\", data)\n"
        ),
    }
}

fn smoke_test(n: &Names, facade: bool) -> String {
    let (name, module, kebab) = (&n.name, &n.module, &n.kebab);
    let mut text = match n.kind {
        Kind::Static => format!(
            "# The {name} cap is composed into pylon and callable from Python.\nimport {module}\n\nassert {module}.echo(\"pylé\") == (\"pylé\", 5)\n"
        ),
        Kind::Mux => format!(
            "# The {name} mux cap is composed into pylon; each scheme answers, an unknown one is an error.\nimport {module}\n\nassert sorted({module}.schemes()) == [\"lower\", \"upper\"]\nassert {module}.convert(\"upper\", \"pylé\") == \"PYLÉ\"\ntry:\n    {module}.convert(\"title\", \"x\")\nexcept {module}.WitError as e:\n    assert \"unknown scheme\" in e.value, e.value\nelse:\n    raise AssertionError(\"an unknown scheme was accepted\")\n"
        ),
        Kind::Host => format!(
            "# The {name} host cap is in pylon; the `pylon` CLI does not provide it, so a call raises\n# HostInterfaceMissing naming the interface (an embedding application provides it).\nimport pylon_host\nimport {module}\n\ntry:\n    {module}.echo(\"pylé\")\nexcept pylon_host.HostInterfaceMissing as e:\n    assert \"pylon:{kebab}/{kebab}@0.1.0\" in str(e), e\nelse:\n    raise AssertionError(\"a host interface nobody provides answered\")\n"
        ),
        Kind::Dynlink => format!(
            "# Id `{kebab}` resolves through the linker to the {name} provider.\nimport {module}\n\nhandle = {module}.resolve(\"{kebab}\")\nassert {module}.invoke(handle, \"echo\", b\"pyl\\xc3\\xa9\") == b\"pyl\\xc3\\xa9\"\ntry:\n    {module}.resolve(\"no-such-id\")\nexcept {module}.WitError as e:\n    assert \"no-such-id\" in e.value, e.value\nelse:\n    raise AssertionError(\"an unknown id resolved\")\n"
        ),
    };
    if facade {
        let check = match n.kind {
            Kind::Static => format!("assert {name}.echo(\"x\") == \"x\""),
            Kind::Mux => format!("assert {name}.convert(\"lower\", \"X\") == \"x\""),
            Kind::Dynlink => format!("assert {name}.echo(b\"x\") == b\"x\""),
            Kind::Host => format!("assert callable({name}.echo)"),
        };
        text.push_str(&format!("\nimport {name}\n\n{check}\n"));
    }
    text.push_str(&format!("print(\"{name} ok\")\n"));
    text
}

/// The stdlib's module names of the pinned CPython, from `Python/stdlib_module_names.h` of
/// its verified tarball (what `sys.stdlib_module_names` is built from): neither a hand list
/// nor the host's Python, whose version may differ. deps fetches the tarball if needed.
pub fn stdlib_module_names(layout: &Layout) -> Result<Vec<String>> {
    const HEADER: &str = "Python/stdlib_module_names.h";
    let tarball = crate::stages::deps::cpython_tarball(layout).with_context(|| {
        format!("add-cap: the stdlib's module names come from {HEADER} of the pinned CPython source, which could not be fetched and verified")
    })?;
    let text = duct::cmd!("tar", "-xOf", &tarball, "--wildcards", format!("*/{HEADER}"))
        .stderr_capture()
        .read()
        .with_context(|| format!("add-cap: cannot read {HEADER} from {}", tarball.display()))?;
    parse_stdlib_module_names(&text).with_context(|| format!("add-cap: {HEADER} of {}", tarball.display()))
}

/// The quoted names of `_Py_stdlib_module_names[]`, one a line (`"zlib",`).
fn parse_stdlib_module_names(header: &str) -> Result<Vec<String>> {
    let names: Vec<String> = header
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\",").map(str::to_owned))
        .collect();
    ensure!(names.iter().any(|n| n == "sys"), "lists no stdlib modules (not even `sys`)");
    Ok(names)
}

/// `cargo xtask add-cap`.
pub fn command(name: &str, kind: Kind, facade: bool) -> Result<()> {
    let layout = Layout::from_env()?;
    let written = add(&layout, name, kind, facade, || stdlib_module_names(&layout))?;
    for path in &written {
        println!("written {}", path.strip_prefix(&layout.root).unwrap_or(path).display());
    }
    let module = Names::new(name, kind)?.module;
    println!("next: cargo xtask build && cargo xtask run -- -c \"import {module}\"");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::caps::Facade;

    fn err(name: &str, kind: Kind) -> String {
        match Names::new(name, kind) {
            Ok(_) => panic!("{name:?} ({}) was accepted", kind.name()),
            Err(e) => format!("{e:#}"),
        }
    }

    /// The names as they are, without the checks of `Names::new` (what add-cap used to write).
    fn unchecked(name: &str, kind: Kind) -> Names {
        let module = if kind == Kind::Dynlink { format!("_{name}") } else { format!("_{name}_cap") };
        Names { name: name.to_owned(), kebab: name.replace('_', "-"), module, kind }
    }

    fn repo_root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
    }

    #[test]
    fn names_are_validated() {
        let n = Names::new("demo_echo", Kind::Static).unwrap();
        assert_eq!((n.kebab.as_str(), n.module.as_str()), ("demo-echo", "_demo_echo_cap"));
        assert_eq!(Names::new("demo_link", Kind::Dynlink).unwrap().module, "_demo_link");
    }

    #[test]
    fn invalid_characters_are_rejected() {
        for bad in ["Demo", "1abc", "a-b", "a__b", "a_", "a_1b", "a b", "démo", "demo.echo", "../x", "_x"] {
            let e = err(bad, Kind::Static);
            assert!(e.starts_with("add-cap: ") && e.contains("not a valid cap name") || e.contains("must start with a letter"), "{bad:?}: {e}");
        }
        assert!(err("", Kind::Static).contains("is empty"));
        assert!(err("a_1b", Kind::Static).contains("\"a_1b\": every word of a cap name must start with a letter"));
    }

    #[test]
    fn good_names_pass() {
        // `case` is a Python soft keyword, `union` a weak Rust keyword: both fine where used.
        for good in ["demo_echo", "zlib2", "case", "union", "errors", "a"] {
            for kind in Kind::ALL {
                let n = Names::new(good, kind).unwrap_or_else(|e| panic!("{good:?} ({}): {e:#}", kind.name()));
                check_stdlib(&n, true, &["sys".to_owned(), "zlib".to_owned()]).unwrap();
            }
        }
        let (caps, exts) = crate::stages::caps::discover(repo_root()).unwrap();
        let taken = Taken::new(&caps, &exts, &[]);
        for kind in Kind::ALL {
            taken.check(&Names::new("demo_echo", kind).unwrap(), true).unwrap();
        }
    }

    #[test]
    fn rust_keywords_are_rejected() {
        assert_eq!(
            err("loop", Kind::Static),
            "add-cap: \"loop\" is a Rust keyword (the crate and its Rust module would not compile) — pick another name"
        );
        for kw in ["match", "gen", "crate", "self", "abstract", "yield"] {
            assert!(err(kw, Kind::Mux).contains(&format!("\"{kw}\" is a Rust keyword")), "{kw}");
            assert!(err(kw, Kind::Dynlink).contains("is a Rust keyword"), "{kw}");
        }
    }

    #[test]
    fn python_keywords_are_rejected() {
        let e = err("def", Kind::Static);
        assert_eq!(e, "add-cap: \"def\" is a Python keyword (`import def` of its facade module would be a SyntaxError) — pick another name");
        // `return` is both: every reason is given.
        let e = err("return", Kind::Static);
        assert!(e.contains("a Rust keyword") && e.contains("and a Python keyword (`import return`"), "{e}");
        for kw in ["lambda", "nonlocal", "is", "not", "pass", "global"] {
            assert!(err(kw, Kind::Dynlink).contains("is a Python keyword"), "{kw}");
        }
    }

    #[test]
    fn wit_keywords_are_rejected() {
        assert_eq!(
            err("list", Kind::Static),
            "add-cap: \"list\" is a WIT keyword (`package pylon:list` and `interface list` of its WIT would not parse) — pick another name"
        );
        assert!(err("error_context", Kind::Mux).contains("is a WIT keyword as `error-context`"));
        assert!(err("u8", Kind::Dynlink).contains("(`import u8` of the dynlink linker's world would not parse)"));
        assert!(err("type", Kind::Static).contains("a Rust keyword") && err("type", Kind::Static).contains("and a WIT keyword"));
    }

    /// The list and the parser agree: each listed keyword breaks the WIT add-cap writes,
    /// for every kind, and `check_wit` catches it even without the list.
    #[test]
    fn wit_keyword_list_matches_wit_parser() {
        for kw in WIT_KEYWORDS {
            for kind in Kind::ALL {
                let n = unchecked(&kw.replace('-', "_"), kind);
                assert!(n.check_wit().is_err(), "`{kw}` parses as a {} cap's identifier: not a WIT keyword", kind.name());
            }
        }
        for kind in Kind::ALL {
            unchecked("demo_echo", kind).check_wit().unwrap();
        }
    }

    #[test]
    fn python_keyword_list_matches_python() {
        let Ok(out) = duct::cmd!("python3", "-c", "import keyword; print(' '.join(k for k in keyword.kwlist if k.islower()))").read() else {
            eprintln!("no python3: keyword list not compared");
            return;
        };
        assert_eq!(out.split_whitespace().collect::<Vec<_>>(), PYTHON_KEYWORDS);
    }

    /// What add-cap writes in Python compiles for the names it accepts (a soft keyword too)
    /// and does not for a keyword — the reason keywords are rejected.
    #[test]
    fn generated_python_compiles() {
        let compiles = |source: String| -> Option<bool> {
            let check = "import sys; compile(sys.stdin.read(), 'generated.py', 'exec')";
            let out = duct::cmd!("python3", "-c", check).stdin_bytes(source).stderr_null().unchecked().run().ok()?;
            Some(out.status.success())
        };
        if compiles(String::new()).is_none() {
            eprintln!("no python3: generated Python not compiled");
            return;
        }
        for kind in Kind::ALL {
            for name in ["demo_echo", "case"] {
                let n = Names::new(name, kind).unwrap();
                assert_eq!(compiles(smoke_test(&n, true)), Some(true), "{name} smoke ({})", kind.name());
                assert_eq!(compiles(facade_py(&n)), Some(true), "{name} facade ({})", kind.name());
            }
            assert_eq!(compiles(smoke_test(&unchecked("def", kind), true)), Some(false));
        }
    }

    #[test]
    fn too_long_names_are_rejected() {
        let long = "a".repeat(300);
        let e = err(&long, Kind::Static);
        assert!(e.starts_with("add-cap: \"aaaaaaaaaaaaaaaaaaaaaaaa…\" (300 characters) is too long: a cap name has at most 60 characters"), "{e}");
        Names::new(&"a".repeat(MAX_NAME_LEN), Kind::Dynlink).unwrap();
        assert!(err(&"a".repeat(MAX_NAME_LEN + 1), Kind::Dynlink).contains("too long"));
    }

    #[test]
    fn facade_clashes_with_a_discovered_facade() {
        // The real workspace: cpython-ext/_crc32c installs crc32c.py, _zlib_cap zlib.py,
        // _ids_cap the `ids` package.
        let (caps, exts) = crate::stages::caps::discover(repo_root()).unwrap();
        let taken = Taken::new(&caps, &exts, &[]);
        let e = format!("{:#}", taken.check(&Names::new("crc32c", Kind::Static).unwrap(), true).unwrap_err());
        assert_eq!(
            e,
            "add-cap: \"crc32c\" --facade would install `crc32c.py`, but the module `crc32c` is already installed by the facade \
             `crc32c.py` of cpython-ext/_crc32c/ext.toml: one would overwrite the other — pick another name or drop --facade"
        );
        // Without a facade nothing of `crc32c` (static) is taken...
        taken.check(&Names::new("crc32c", Kind::Static).unwrap(), false).unwrap();
        // ...but a provider's module `_crc32c` and its id are.
        let e = format!("{:#}", taken.check(&Names::new("crc32c", Kind::Dynlink).unwrap(), false).unwrap_err());
        assert!(e.contains("extension module `_crc32c` is already the extension module of cpython-ext/_crc32c"), "{e}");
        let e = format!("{:#}", taken.check(&Names::new("zlib", Kind::Static).unwrap(), false).unwrap_err());
        assert!(e.contains("there is a cap of that name already (caps/zlib)"), "{e}");
    }

    #[test]
    fn other_clashes_are_rejected() {
        let ext = |module: &str, install: &[&str], links: &[&str]| Ext {
            module: module.to_owned(),
            dir: PathBuf::from("cpython-ext").join(module),
            caps: vec![],
            sources: vec![],
            links: links.iter().map(|s| s.to_string()).collect(),
            facades: install.iter().map(|i| Facade { source: i.to_string(), install: i.to_string() }).collect(),
            prewarm: vec![],
            fuzz: Default::default(),
            native: None,
        };
        let exts = [ext("_uid_cap", &["ids/__init__.py", "ids/ulid.py"], &[]), ext("_hash", &[], &["hash"]), ext("_sqlite3_cap", &["_sqlite3.py"], &[])];
        let taken = Taken::new(&[], &exts, &["planned".to_owned()]);
        let check = |name: &str, kind: Kind, facade: bool| taken.check(&Names::new(name, kind).unwrap(), facade).map_err(|e| format!("{e:#}"));
        assert!(check("ids", Kind::Mux, true).unwrap_err().contains("the module `ids` is already installed by the facade `ids/__init__.py`"));
        assert!(check("sqlite3", Kind::Dynlink, false).unwrap_err().contains("`_sqlite3` is already installed by the facade `_sqlite3.py`"));
        assert!(check("hash", Kind::Dynlink, false).unwrap_err().contains("extension module `_hash`"));
        assert!(check("planned", Kind::Dynlink, false).unwrap_err().contains("the dynlink id `planned` is in use already (caps/dynlink/plan.toml serves it)"));
        assert!(check("dynlink", Kind::Static, false).unwrap_err().contains("the WIT package `pylon:dynlink` is taken by the dynlink WIT"));
        check("planned", Kind::Static, true).unwrap();
    }

    #[test]
    fn stdlib_clashes_are_rejected() {
        let stdlib: Vec<String> = ["json", "_json", "sys"].map(str::to_owned).to_vec();
        let e = format!("{:#}", check_stdlib(&Names::new("json", Kind::Static).unwrap(), true, &stdlib).unwrap_err());
        assert_eq!(e, "add-cap: \"json\" --facade would install `json.py` over the stdlib module `json` — pick another name or drop --facade");
        // The extension module `_json_cap` is no stdlib module; a provider's `_json` is.
        check_stdlib(&Names::new("json", Kind::Static).unwrap(), false, &stdlib).unwrap();
        let e = format!("{:#}", check_stdlib(&Names::new("json", Kind::Dynlink).unwrap(), false, &stdlib).unwrap_err());
        assert!(e.contains("its extension module `_json` is a module of CPython's stdlib"), "{e}");
    }

    #[test]
    fn stdlib_names_parse_from_the_header() {
        let header = "// Auto-generated by Tools/build/generate_stdlib_module_names.py.\n\nstatic const char* _Py_stdlib_module_names[] = {\n\"__future__\",\n\"_abc\",\n\"sys\",\n\"zlib\",\n};\n";
        assert_eq!(parse_stdlib_module_names(header).unwrap(), ["__future__", "_abc", "sys", "zlib"]);
        assert!(parse_stdlib_module_names("static const char* x[] = {\n};\n").is_err());
    }

    /// A scratch workspace: a cap-less Cargo workspace with the dynlink WIT and plan, and an
    /// extension with a facade (`crc32c.py`).
    fn scratch_workspace(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("pylon-addcap-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write(
            "Cargo.toml",
            "[workspace]\nresolver = \"3\"\nmembers = [\"caps/*\"]\nexclude = [\"caps/dynlink\"]\n\n[workspace.package]\nedition = \"2024\"\nlicense = \"MIT\"\npublish = false\n",
        );
        write("rust-toolchain.toml", &fs::read_to_string(repo_root().join("rust-toolchain.toml")).unwrap());
        for entry in fs::read_dir(repo_root().join(DYNLINK_DIR).join("wit")).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            write(&format!("{DYNLINK_DIR}/wit/{name}"), &fs::read_to_string(entry.path()).unwrap());
        }
        write(&format!("{DYNLINK_DIR}/plan.toml"), "[serve]\n");
        write("cpython-ext/_crc32c/ext.toml", "module = \"_crc32c\"\ncaps = []\nsources = []\n[[facade]]\nsource = \"crc32c.py\"\ninstall = \"crc32c.py\"\n");
        write("cpython-ext/_crc32c/crc32c.py", "\"\"\"A facade.\"\"\"\n");
        root
    }

    /// Every file under `root` but `target/`, with its contents.
    fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(root)
            .into_iter()
            .filter_entry(|e| e.path() != root.join("target"))
            .flatten()
            .filter(|e| e.file_type().is_file())
            .map(|e| (e.path().strip_prefix(root).unwrap().to_path_buf(), fs::read(e.path()).unwrap()))
            .collect();
        files.sort();
        files
    }

    #[test]
    fn rejected_names_write_nothing() {
        let root = scratch_workspace("reject");
        let layout = Layout::at(&root).unwrap();
        let before = tree(&root);
        let stdlib = || Ok(vec!["json".to_owned(), "sys".to_owned()]);
        let long = "a".repeat(300);
        let cases: [(&str, Kind, bool, &str); 7] = [
            ("return", Kind::Static, true, "is a Rust keyword"),
            ("loop", Kind::Static, false, "is a Rust keyword"),
            ("match", Kind::Mux, false, "is a Rust keyword"),
            ("list", Kind::Dynlink, false, "is a WIT keyword"),
            ("crc32c", Kind::Static, true, "one would overwrite the other"),
            ("json", Kind::Static, true, "over the stdlib module `json`"),
            (&long, Kind::Static, false, "is too long"),
        ];
        for (name, kind, facade, why) in cases {
            let e = format!("{:#}", add(&layout, name, kind, facade, stdlib).unwrap_err());
            assert!(e.contains(why), "{name}: {e}");
            assert!(tree(&root) == before, "add-cap {name} changed the tree");
        }
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_host_cap_is_a_host_library_whose_glue_checks_the_interface() {
        let root = scratch_workspace("host");
        let layout = Layout::at(&root).unwrap();
        let written = add(&layout, "demo_host", Kind::Host, false, || Ok(vec!["sys".to_owned()])).unwrap();
        let cargo = fs::read_to_string(root.join("caps/demo_host/Cargo.toml")).unwrap();
        assert!(cargo.contains("kind = \"host\"") && !cargo.contains("cdylib") && cargo.contains("wasmtime"), "{cargo}");
        let wit = fs::read_to_string(root.join("caps/demo_host/wit/demo-host.wit")).unwrap();
        assert!(wit.contains("world demo-host-host {\n    import demo-host;"), "{wit}");
        let lib = fs::read_to_string(root.join("caps/demo_host/src/lib.rs")).unwrap();
        assert!(lib.contains("bindgen!") && lib.contains("pub use pylon::demo_host::demo_host::{Host, add_to_linker};"), "{lib}");
        let glue = written.iter().find(|p| p.ends_with("gen/_demo_host_cap.c")).expect("glue written");
        let c = fs::read_to_string(glue).unwrap();
        assert!(c.contains("pylon_host_ready") && c.contains("\"pylon:demo-host/demo-host@0.1.0\""), "the glue does not check the interface");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn good_name_is_written_and_a_late_failure_rolls_back() {
        let root = scratch_workspace("write");
        let layout = Layout::at(&root).unwrap();
        let stdlib = || Ok(vec!["sys".to_owned()]);
        let written = add(&layout, "demo_echo", Kind::Static, true, stdlib).unwrap();
        for file in ["caps/demo_echo/Cargo.toml", "caps/demo_echo/wit/demo-echo.wit", "cpython-ext/_demo_echo_cap/demo_echo.py"] {
            assert!(written.contains(&root.join(file)), "{file} not written: {written:?}");
        }
        assert!(written.iter().any(|p| p.ends_with("gen/_demo_echo_cap.c")), "no glue: {written:?}");

        // The glue of a provider needs the dynlink WIT: broken, the last step fails.
        fs::write(root.join(DYNLINK_DIR).join("wit/broken.wit"), "this is not WIT").unwrap();
        let before = tree(&root);
        let e = format!("{:#}", add(&layout, "demo_link", Kind::Dynlink, true, stdlib).unwrap_err());
        let (cause, note) = e.rsplit_once('\n').unwrap();
        assert!(cause.starts_with("generating glue for _demo_link"), "the real cause is not first: {e}");
        assert!(note.starts_with("add-cap: rolled back: removed ") && note.contains("restored "), "{note}");
        assert!(tree(&root) == before, "the rollback left changes");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn rollback_names_the_cause_first() {
        let root = std::env::temp_dir().join(format!("pylon-addcap-rollback-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        let (made, never, plan) = (root.join("made"), root.join("x".repeat(300)), root.join("plan.toml"));
        fs::write(&plan, "[serve]\n").unwrap();
        let result: Result<()> = with_rollback(&[&made, &never], &plan, || {
            fs::create_dir_all(made.join("src"))?;
            fs::write(&plan, "[serve]\nx = \"y\"\n")?;
            // What a too-long path does: the real cause, which rollback must not hide.
            fs::create_dir_all(&never).context("cannot create the cap")
        });
        let e = format!("{:#}", result.unwrap_err());
        let lines: Vec<&str> = e.lines().collect();
        assert!(lines[0].starts_with("cannot create the cap: File name too long"), "{e}");
        assert_eq!(lines[1], format!("add-cap: rolled back: removed {}, restored {}", made.display(), plan.display()));
        assert!(!made.exists());
        assert_eq!(fs::read_to_string(&plan).unwrap(), "[serve]\n");
        fs::remove_dir_all(&root).unwrap();
    }
}
