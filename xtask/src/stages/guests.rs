//! Rust guests: programs under `examples/` that embed pylon's CPython themselves (through
//! pyo3 and the libpython bundle) instead of running on the core. Each is declared once, by
//! `[package.metadata.pylon] guest = "<target>"` in its own `Cargo.toml`, built with the
//! pinned toolchain for that target, and made a component with the core's adapter, so the
//! pylon runner can run it with the stdlib.
//!
//! Link mode: the guest is linked by zig against zig's wasi-libc (`-Clink-self-contained=no`,
//! rustc's linker being this binary under [`cc::GUEST_LINKER_NAME`]). That is the libc
//! CPython was compiled and patched against (`deps/patches.toml`); Rust's self-contained
//! wasi-libc is another build of another version, and nothing promises two wasi-libc builds
//! agree on their ABI (PEP 816), so all C in a guest sees one libc.

use anyhow::{Context, Result, bail, ensure};
use std::fs;
use std::path::{Path, PathBuf};

use crate::helpers::cc;
use crate::helpers::digest::{StageKey, copy_atomic, sha256_file, write_atomic};
use crate::helpers::layout::{Layout, Profile};
use crate::helpers::progress::Step;
use crate::stages::deps::Zig;

/// Where the guests' components go under `build/<profile>/`.
pub const DIR: &str = "guests";
/// The only target a guest can name today: what the libpython bundle is built for.
pub const TARGET: &str = "wasm32-wasip1";
/// The line a guest prints last when its own checks hold (`cargo xtask test` looks for it).
pub fn ok_line(name: &str) -> String {
    format!("{name}: ok")
}

/// A guest found under `examples/`.
#[derive(Clone, Debug)]
pub struct Guest {
    /// The package name, also the component's file stem.
    pub name: String,
    pub manifest: PathBuf,
}

/// Every `examples/*/Cargo.toml` whose package declares `[package.metadata.pylon] guest`,
/// sorted by directory. Examples are their own workspaces; `--no-deps` reads them offline.
pub fn discover(root: &Path) -> Result<Vec<Guest>> {
    let examples = root.join("examples");
    let Ok(entries) = fs::read_dir(&examples) else { return Ok(vec![]) };
    let mut manifests: Vec<PathBuf> = entries.flatten().map(|e| e.path().join("Cargo.toml")).filter(|p| p.is_file()).collect();
    manifests.sort();
    let mut guests = Vec::new();
    for manifest in manifests {
        let metadata = cargo_metadata::MetadataCommand::new()
            .cargo_path(crate::helpers::runner::cargo())
            .manifest_path(&manifest)
            .no_deps()
            .exec()
            .with_context(|| format!("cargo metadata failed for {}", manifest.display()))?;
        for package in &metadata.packages {
            if package.manifest_path.as_std_path() != manifest {
                continue;
            }
            let Some(target) = package.metadata.get("pylon").and_then(|p| p.get("guest")) else { continue };
            let target = target.as_str().unwrap_or_default();
            ensure!(
                target == TARGET,
                "{}: [package.metadata.pylon] guest = {target:?}; the libpython bundle is built for {TARGET:?} only",
                manifest.display()
            );
            guests.push(Guest { name: package.name.to_string(), manifest: manifest.clone() });
        }
    }
    Ok(guests)
}

/// What building the guests needs: the bundle they link (its copy in `build/<profile>/libpy`,
/// the directory `pylon-libpy` reads) and the pinned zig.
pub struct GuestInputs<'a> {
    pub libpy_dir: &'a Path,
    pub zig: &'a Zig,
}

/// A built guest component in the cache.
pub struct BuiltGuest {
    pub name: String,
    pub component: PathBuf,
}

/// The environment a guest's `cargo build --target wasm32-wasip1` runs with: the guest
/// linker, rustc's flags, pyo3's config and the bundle (`cargo xtask flags` prints it, so a
/// guest built by hand links the same way).
pub fn cargo_env(layout: &Layout, inputs: &GuestInputs) -> Result<Vec<(String, String)>> {
    let rustflags = format!("-Clink-self-contained=no {}", crate::helpers::runner::remap_rustflags(layout));
    let mut env = vec![
        ("CARGO_TARGET_WASM32_WASIP1_LINKER".to_owned(), linker_link(layout)?.display().to_string()),
        ("CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS".to_owned(), rustflags),
        ("PYO3_CONFIG_FILE".to_owned(), inputs.libpy_dir.join(crate::stages::libpy::PYO3_CONFIG).display().to_string()),
        ("PYLON_LIBPY_DIR".to_owned(), inputs.libpy_dir.display().to_string()),
        (cc::ZIG_ENV.to_owned(), inputs.zig.exe.display().to_string()),
    ];
    for (k, v) in inputs.zig.env() {
        env.push((k.to_owned(), v.display().to_string()));
    }
    Ok(env)
}

/// Builds each guest with cargo in the environment `env` ([`cargo_env`]; incremental: its
/// own target dir `target/guests`), then makes its module a component, cached by the
/// module's sha256 and the adapter's recipe.
pub fn build(layout: &Layout, guests: &[Guest], profile: Profile, env: &[(String, String)]) -> Result<Vec<BuiltGuest>> {
    let target_dir = crate::helpers::runner::target_dir(layout).join("guests");
    let mut built = Vec::new();
    for guest in guests {
        let step = Step::start(format!("guest {}: cargo build --release --target {TARGET}", guest.name));
        let dir = guest.manifest.parent().unwrap();
        let args: Vec<std::ffi::OsString> = ["build", "--release", "--locked", "--quiet", "--target", TARGET, "--target-dir"]
            .into_iter()
            .map(Into::into)
            .chain([target_dir.clone().into_os_string()])
            .collect();
        let mut cmd = duct::cmd(crate::helpers::runner::cargo(), args)
        .dir(dir)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        cmd.stdout_to_stderr().run().with_context(|| format!("building the guest `{}` ({}) failed", guest.name, guest.manifest.display()))?;
        let module = target_dir.join(TARGET).join("release").join(format!("{}.wasm", guest.name));
        ensure!(module.is_file(), "guest `{}`: cargo did not produce {}", guest.name, module.display());
        let component = componentize(layout, &guest.name, &module, profile)?;
        step.done();
        built.push(BuiltGuest { name: guest.name.clone(), component });
    }
    Ok(built)
}

/// `<cache>/guest-linker/<recipe hash>/pylon-wasm32-wasi-clang`, a link to this binary (see
/// [`cc::guest_link`]), remade when it points elsewhere. cargo relinks when the linker's path
/// changes, so the recipe in the path makes a changed linker relink the guests.
fn linker_link(layout: &Layout) -> Result<PathBuf> {
    let xtask = std::env::current_exe().context("cannot find the xtask binary for the guest linker")?;
    let mut recipe = StageKey::new("guest-linker");
    recipe.add_str("recipe", cc::GUEST_LINKER_RECIPE);
    let dir = layout.cache.join("guest-linker").join(&recipe.finish()[..16]);
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let link = dir.join(cc::GUEST_LINKER_NAME);
    if fs::read_link(&link).is_ok_and(|t| t == xtask) {
        return Ok(link);
    }
    let pending = dir.join(format!(".{}.pending", cc::GUEST_LINKER_NAME));
    let _ = fs::remove_file(&pending);
    std::os::unix::fs::symlink(&xtask, &pending).with_context(|| format!("cannot link {} to {}", pending.display(), xtask.display()))?;
    fs::rename(&pending, &link).with_context(|| format!("cannot move into {}", link.display()))?;
    Ok(link)
}

/// The guest's module as a component with the core's preview1 command adapter (exit codes
/// included), in `<cache>/guests/<key>/<name>.wasm`.
fn componentize(layout: &Layout, name: &str, module: &Path, profile: Profile) -> Result<PathBuf> {
    let mut key = StageKey::new("guest-component");
    key.add_str("recipe", crate::stages::component::RECIPE)
        .add_str("profile", profile.name())
        .add_str("module", &sha256_file(module)?);
    let out = layout.cache.join("guests").join(key.finish()).join(format!("{name}.wasm"));
    if out.is_file() {
        return Ok(out);
    }
    let component = crate::stages::component::core_component(module, profile, &[], |_| Ok(()))
        .with_context(|| format!("guest `{name}`"))?;
    write_atomic(&out, &component)?;
    Ok(out)
}

/// Copies the built guests to `build/<profile>/guests/` and removes what is no longer a guest.
pub fn install(out: &Path, built: &[BuiltGuest]) -> Result<Vec<PathBuf>> {
    let dir = out.join(DIR);
    let mut files = Vec::new();
    for guest in built {
        let to = dir.join(format!("{}.wasm", guest.name));
        copy_atomic(&guest.component, &to)?;
        files.push(to);
    }
    if let Ok(entries) = fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if !files.contains(&path) {
                if path.is_dir() {
                    bail!("{} is a directory; only guest components belong in {}", path.display(), dir.display());
                }
                fs::remove_file(&path).with_context(|| format!("cannot remove the stale {}", path.display()))?;
            }
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    /// The guests are found from their own Cargo.toml, nowhere else.
    #[test]
    fn discovers_the_pyo3_example() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let guests = super::discover(root).unwrap();
        let names: Vec<&str> = guests.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["pyo3-person"]);
        assert!(guests[0].manifest.ends_with("examples/pyo3-person/Cargo.toml"));
    }
}
