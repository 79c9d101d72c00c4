//! `cargo xtask add-cap NAME [--kind static|mux|dynlink]`: scaffolds a cap that builds,
//! composes and passes its smoke test at once — the crate with its WIT and one example
//! function, the CPython extension with its generated glue, and a smoke test. Nothing else
//! needs editing: the build finds both through cargo_metadata and `cpython-ext/*/ext.toml`
//! (a dynlink provider also gets its line in the plan, `caps/dynlink/plan.toml`).

use anyhow::{Context, Result, bail, ensure};
use std::fs;
use std::path::{Path, PathBuf};

use crate::caps::{DYNLINK_DIR, ENDPOINT_INTERFACE, Kind};
use crate::deps::remove_dir_if_exists;
use crate::layout::Layout;

pub struct Names {
    /// `demo_echo`: the directory under `caps/`, the manifest's name.
    pub name: String,
    /// `demo-echo`: WIT and Cargo spelling, and a dynlink provider's id.
    pub kebab: String,
    /// `_demo_echo_cap` (static, mux) or `_demo_echo` (dynlink): the CPython extension.
    pub module: String,
    pub kind: Kind,
}

impl Names {
    pub fn new(name: &str, kind: Kind) -> Result<Names> {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.ends_with('_')
            && !name.contains("__");
        ensure!(
            valid,
            "`{name}` is not a valid cap name: use lowercase letters, digits and single underscores, starting with a letter (e.g. demo_echo)"
        );
        // Each underscore-separated word becomes a WIT identifier word, which may not start
        // with a digit.
        ensure!(
            name.split('_').all(|w| w.chars().next().is_some_and(|c| c.is_ascii_lowercase())),
            "`{name}`: every word of a cap name must start with a letter (WIT identifiers)"
        );
        let module = if kind == Kind::Dynlink { format!("_{name}") } else { format!("_{name}_cap") };
        Ok(Names { name: name.to_owned(), kebab: name.replace('_', "-"), module, kind })
    }
}

/// Creates the cap; on any failure removes everything it created.
pub fn add(layout: &Layout, name: &str, kind: Kind, facade: bool, stdlib_names: &[String]) -> Result<Vec<PathBuf>> {
    let names = Names::new(name, kind)?;
    ensure!(
        !stdlib_names.iter().any(|m| *m == names.name || *m == names.module),
        "`{name}` clashes with the stdlib module `{name}`; pick another name"
    );
    let cap_dir = layout.root.join("caps").join(&names.name);
    let ext_dir = layout.root.join("cpython-ext").join(&names.module);
    for dir in [&cap_dir, &ext_dir] {
        ensure!(!dir.exists(), "{} already exists: a cap named `{name}` is already there", dir.display());
    }
    let plan = layout.root.join(DYNLINK_DIR).join("plan.toml");
    let plan_before = fs::read(&plan).ok();
    let result = write_files(layout, &names, facade, &cap_dir, &ext_dir);
    if result.is_err() {
        remove_dir_if_exists(&cap_dir)?;
        remove_dir_if_exists(&ext_dir)?;
        if let Some(bytes) = plan_before {
            fs::write(&plan, bytes).with_context(|| format!("cannot restore {}", plan.display()))?;
        }
    }
    result
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
    let (caps, exts) = crate::caps::discover(&layout.root)?;
    let mine: Vec<_> = exts.into_iter().filter(|e| e.module == n.module).collect();
    written.extend(crate::extglue::write_all(&layout.root, &mine, &caps)?);
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

[lib]
crate-type = ["cdylib", "rlib"]

# The WIT glue only exists in the component; host builds test the plain Rust.
[target.'cfg(target_arch = "wasm32")'.dependencies]
wit-bindgen = "=0.61.1"
"#,
        kebab = n.kebab,
        name = n.name,
    )
}

/// The cap's own WIT; dynlink providers share `caps/dynlink/wit` instead.
fn cap_wit(n: &Names) -> Option<String> {
    let funcs = match n.kind {
        Kind::Static => "    /// An example: returns `text` unchanged, and how many bytes it has.\n    echo: func(text: string) -> tuple<string, u32>;\n",
        Kind::Mux => "    /// The schemes this one interface serves.\n    schemes: func() -> list<string>;\n    /// An example: `text` converted by `scheme`. Err: an unknown scheme, naming the known ones.\n    convert: func(scheme: string, text: string) -> result<string, string>;\n",
        Kind::Dynlink => return None,
    };
    Some(format!(
        "package pylon:{kebab}@0.1.0;\n\n/// The {name} cap.\ninterface {kebab} {{\n{funcs}}}\n\nworld {kebab}-cap {{\n    export {kebab};\n}}\n",
        kebab = n.kebab,
        name = n.name
    ))
}

fn cap_lib_rs(n: &Names) -> String {
    let (name, kebab, m) = (&n.name, &n.kebab, &n.name);
    match n.kind {
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
        Kind::Static | Kind::Mux => format!(
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
        Kind::Static => format!(
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
        Kind::Dynlink => format!(
            "# Id `{kebab}` resolves through the linker to the {name} provider.\nimport {module}\n\nhandle = {module}.resolve(\"{kebab}\")\nassert {module}.invoke(handle, \"echo\", b\"pyl\\xc3\\xa9\") == b\"pyl\\xc3\\xa9\"\ntry:\n    {module}.resolve(\"no-such-id\")\nexcept {module}.WitError as e:\n    assert \"no-such-id\" in e.value, e.value\nelse:\n    raise AssertionError(\"an unknown id resolved\")\n"
        ),
    };
    if facade {
        let check = match n.kind {
            Kind::Static => format!("assert {name}.echo(\"x\") == \"x\""),
            Kind::Mux => format!("assert {name}.convert(\"lower\", \"X\") == \"x\""),
            Kind::Dynlink => format!("assert {name}.echo(b\"x\") == b\"x\""),
        };
        text.push_str(&format!("\nimport {name}\n\n{check}\n"));
    }
    text.push_str(&format!("print(\"{name} ok\")\n"));
    text
}

/// The stdlib's module names, from the build python when there is one, else the host's.
pub fn stdlib_module_names(native: Option<&Path>) -> Result<Vec<String>> {
    let python = native.map(|p| p.display().to_string()).unwrap_or_else(|| "python3".to_owned());
    let out = duct::cmd!(python, "-c", "import sys; print('\\n'.join(sorted(sys.stdlib_module_names)))")
        .read()
        .context("cannot ask Python for the stdlib's module names")?;
    let names: Vec<String> = out.lines().map(str::to_owned).collect();
    if names.is_empty() {
        bail!("Python listed no stdlib modules");
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        let n = Names::new("demo_echo", Kind::Static).unwrap();
        assert_eq!((n.kebab.as_str(), n.module.as_str()), ("demo-echo", "_demo_echo_cap"));
        assert_eq!(Names::new("demo_link", Kind::Dynlink).unwrap().module, "_demo_link");
        for bad in ["", "Demo", "1abc", "a-b", "a__b", "a_", "a_1b", "a b"] {
            assert!(Names::new(bad, Kind::Static).is_err(), "{bad:?} was accepted");
        }
    }
}
