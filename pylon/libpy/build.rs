//! Emits the link lines of pylon's libpython bundle for a wasm32-wasi guest (see lib.rs).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=PYLON_LIBPY_DIR");
    println!("cargo:rerun-if-env-changed=PYLON_LIBPY_PROFILE");
    let target = env::var("TARGET").unwrap_or_default();
    if !target.starts_with("wasm32-wasi") {
        return;
    }
    if let Err(message) = emit() {
        // A build script's panic shows its message; say what to do.
        panic!("pylon-libpy: {message}");
    }
}

fn emit() -> Result<(), String> {
    let dir = bundle_dir()?;
    let manifest_path = dir.join("libpy.toml");
    println!("cargo:rerun-if-changed={}", manifest_path.display());
    let text = fs::read_to_string(&manifest_path).map_err(|e| {
        format!(
            "no libpython bundle at {} ({e}): run `cargo xtask build` in the pylon checkout, or point PYLON_LIBPY_DIR at a bundle",
            dir.display()
        )
    })?;
    let doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let string = |key: &str| -> Result<String, String> {
        doc.get(key)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("{}: no `{key}`", manifest_path.display()))
    };
    let strings = |key: &str| -> Result<Vec<String>, String> {
        let array = doc
            .get(key)
            .and_then(|v| v.as_array())
            .ok_or_else(|| format!("{}: no `{key}` list", manifest_path.display()))?;
        Ok(array
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect())
    };
    let schema = doc.get("schema").and_then(|v| v.as_integer());
    if schema != Some(1) {
        return Err(format!(
            "{}: schema {schema:?}, this crate reads schema 1",
            manifest_path.display()
        ));
    }

    let mut archives = vec![string("libpython")?];
    if env::var_os("CARGO_FEATURE_EXTENSIONS").is_some() {
        archives.push(string("inittab")?);
        let tables = doc.get("extension").and_then(|v| v.as_array_of_tables());
        for table in tables.into_iter().flatten() {
            archives.extend(
                table
                    .get("archive")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
            );
        }
    } else {
        archives.push(string("inittab_core")?);
    }
    archives.extend(strings("dependencies")?);

    let mut search: Vec<PathBuf> = Vec::new();
    for archive in &archives {
        let path = dir.join(archive);
        if !path.is_file() {
            return Err(format!(
                "{}: lists {archive}, which is not in the bundle",
                manifest_path.display()
            ));
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let parent = path.parent().unwrap().to_path_buf();
        if !search.contains(&parent) {
            println!("cargo:rustc-link-search=native={}", parent.display());
            search.push(parent);
        }
        println!("cargo:rustc-link-lib=static={}", lib_name(&path)?);
    }
    for lib in strings("system_libs")? {
        println!("cargo:rustc-link-lib={lib}");
    }

    println!("cargo:lib_dir={}", dir.join("lib").display());
    println!(
        "cargo:include={}",
        dir.join(string("include_dir")?).display()
    );
    println!(
        "cargo:pyo3_config={}",
        dir.join("pyo3-config.txt").display()
    );
    println!(
        "cargo:link_args={}",
        cc_link_args(&strings("link_args")?).join(" ")
    );
    Ok(())
}

/// `$PYLON_LIBPY_DIR`, else `build/<profile>/libpy` of the checkout this crate is in.
fn bundle_dir() -> Result<PathBuf, String> {
    if let Some(dir) = env::var_os("PYLON_LIBPY_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let profile = env::var("PYLON_LIBPY_PROFILE").unwrap_or_else(|_| "release".to_owned());
    let here = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    // pylon/libpy → the checkout's root.
    let root = here
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot find the checkout above pylon/libpy")?;
    Ok(root.join("build").join(profile).join("libpy"))
}

/// `lib/libfoo.a` → `foo`.
fn lib_name(archive: &Path) -> Result<String, String> {
    let file = archive
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    file.strip_prefix("lib")
        .and_then(|f| f.strip_suffix(".a"))
        .map(str::to_owned)
        .ok_or_else(|| format!("{} is not named lib<name>.a", archive.display()))
}

/// The core's link flags for a cc-style linker: `-z stack-size=N` (two words, as make passes
/// them to zig cc) becomes `-Wl,-z,stack-size=N`.
fn cc_link_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "-z" {
            if let Some(value) = words.next() {
                out.push(format!("-Wl,-z,{value}"));
            }
        } else {
            out.push(word.clone());
        }
    }
    out
}
