//! `cargo xtask add-cap NAME`: scaffolds a cap that builds, composes and passes its smoke
//! test at once — the crate with its WIT and one example function, the CPython extension
//! with its generated glue, and a smoke test. Nothing else needs editing: the build finds
//! both through cargo_metadata and `cpython-ext/*/ext.toml`.

use anyhow::{Context, Result, bail, ensure};
use std::fs;
use std::path::{Path, PathBuf};

use crate::deps::remove_dir_if_exists;
use crate::layout::Layout;

pub struct Names {
    /// `demo_echo`: the directory under `caps/`, the manifest's name.
    pub name: String,
    /// `demo-echo`: WIT and Cargo spelling.
    pub kebab: String,
    /// `_demo_echo_cap`: the CPython extension module.
    pub module: String,
}

impl Names {
    pub fn new(name: &str) -> Result<Names> {
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
        Ok(Names { name: name.to_owned(), kebab: name.replace('_', "-"), module: format!("_{name}_cap") })
    }
}

/// Creates the cap; on any failure removes everything it created.
pub fn add(layout: &Layout, name: &str, facade: bool, stdlib_names: &[String]) -> Result<Vec<PathBuf>> {
    let names = Names::new(name)?;
    ensure!(
        !stdlib_names.iter().any(|m| *m == names.name || *m == names.module),
        "`{name}` clashes with the stdlib module `{name}`; pick another name"
    );
    let cap_dir = layout.root.join("caps").join(&names.name);
    let ext_dir = layout.root.join("cpython-ext").join(&names.module);
    for dir in [&cap_dir, &ext_dir] {
        ensure!(!dir.exists(), "{} already exists: a cap named `{name}` is already there", dir.display());
    }
    let result = write_files(layout, &names, facade, &cap_dir, &ext_dir);
    if result.is_err() {
        remove_dir_if_exists(&cap_dir)?;
        remove_dir_if_exists(&ext_dir)?;
    }
    result
}

fn write_files(layout: &Layout, n: &Names, facade: bool, cap_dir: &Path, ext_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = vec![
        (cap_dir.join("Cargo.toml"), cap_cargo_toml(n)),
        (cap_dir.join("wit").join(format!("{}.wit", n.kebab)), cap_wit(n)),
        (cap_dir.join("src/lib.rs"), cap_lib_rs(n)),
        (ext_dir.join("ext.toml"), ext_toml(n, facade)),
        (ext_dir.join("smoke").join(format!("{}.py", n.name)), smoke_test(n, facade)),
    ];
    if facade {
        files.push((ext_dir.join(format!("{}.py", n.name)), facade_py(n)));
    }
    for (path, text) in &files {
        fs::create_dir_all(path.parent().unwrap())?;
        fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut written: Vec<PathBuf> = files.into_iter().map(|(p, _)| p).collect();
    // The glue is generated from the new WIT exactly as `cargo xtask gen` would.
    let (caps, exts) = crate::caps::discover(&layout.root)?;
    let mine: Vec<_> = exts.into_iter().filter(|e| e.module == n.module).collect();
    written.extend(crate::extglue::write_all(&layout.root, &mine, &caps)?);
    Ok(written)
}

fn cap_cargo_toml(n: &Names) -> String {
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
kind = "static"
exports = ["pylon:{kebab}/{kebab}@0.1.0"]
ext = "{module}"

[lib]
crate-type = ["cdylib", "rlib"]

# The WIT glue only exists in the component; host builds test the plain Rust.
[target.'cfg(target_arch = "wasm32")'.dependencies]
wit-bindgen = "=0.61.1"
"#,
        kebab = n.kebab,
        name = n.name,
        module = n.module
    )
}

fn cap_wit(n: &Names) -> String {
    format!(
        r#"package pylon:{kebab}@0.1.0;

/// The {name} cap.
interface {kebab} {{
    /// An example: returns `text` unchanged, and how many bytes it has.
    echo: func(text: string) -> tuple<string, u32>;
}}

world {kebab}-cap {{
    export {kebab};
}}
"#,
        kebab = n.kebab,
        name = n.name
    )
}

fn cap_lib_rs(n: &Names) -> String {
    let rust_mod = n.name.clone();
    format!(
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

    impl exports::pylon::{rust_mod}::{rust_mod}::Guest for Cap {{
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
"#,
        name = n.name,
        kebab = n.kebab,
    )
}

fn ext_toml(n: &Names, facade: bool) -> String {
    let mut text = format!(
        "# The CPython side of the {name} cap: the generated extension module `{module}`.\nmodule = \"{module}\"\ncaps = [\"{name}\"]\nsources = []\n",
        name = n.name,
        module = n.module
    );
    if facade {
        text.push_str(&format!("\n[[facade]]\nsource = \"{0}.py\"\ninstall = \"{0}.py\"\n", n.name));
    }
    text
}

fn facade_py(n: &Names) -> String {
    format!(
        "\"\"\"The {name} module, over the {name} cap (`{module}`).\"\"\"\n\nimport {module}\n\n\ndef echo(text):\n    \"\"\"Return `text` unchanged (through the cap).\"\"\"\n    return {module}.echo(text)[0]\n",
        name = n.name,
        module = n.module
    )
}

fn smoke_test(n: &Names, facade: bool) -> String {
    let mut text = format!(
        "# The {name} cap is composed into pylon and callable from Python.\nimport {module}\n\nassert {module}.echo(\"pylé\") == (\"pylé\", 5)\n",
        name = n.name,
        module = n.module
    );
    if facade {
        text.push_str(&format!("\nimport {0}\n\nassert {0}.echo(\"x\") == \"x\"\n", n.name));
    }
    text.push_str(&format!("print(\"{} ok\")\n", n.name));
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
        let n = Names::new("demo_echo").unwrap();
        assert_eq!((n.kebab.as_str(), n.module.as_str()), ("demo-echo", "_demo_echo_cap"));
        for bad in ["", "Demo", "1abc", "a-b", "a__b", "a_", "a_1b", "a b"] {
            assert!(Names::new(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
