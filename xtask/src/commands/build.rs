//! `cargo xtask build`: runs the stages in order and writes `build/<profile>/` and the
//! manifest. Each stage is skipped when the sha256 of its inputs did not change.

use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

use crate::helpers::cc::CoreToolchain;
use crate::helpers::digest::{StageKey, copy_atomic, sha256_file, sha256_tree, sync_tree, write_atomic};
use crate::helpers::layout::{Layout, Profile};
use crate::helpers::progress::{self, Step};
use crate::stages::caps::{self, Cap, Ext};
use crate::stages::component;
use crate::stages::compose;
use crate::stages::cpython::{self, WasiRecipe};
use crate::stages::deps::{self, Inputs, remove_dir_if_exists};
use crate::stages::native;
use crate::stages::dynlink::{self, Plan};
use crate::stages::extglue;
use crate::stages::guests::{self, GuestInputs};
use crate::stages::libpy::{self, Libpy, LibpyInputs};
use crate::stages::manifest::{Artifact, CapRow, DynlinkRow, Manifest, Pins, SnapshotRow};
use crate::stages::snapshot::{self, HashSeed, SnapshotInputs};
use crate::stages::stdlib::{self, StdlibInputs};

/// What a build produced.
pub struct Built {
    pub inputs: Inputs,
    pub native_python: PathBuf,
    pub manifest: Manifest,
    /// How C was compiled for the core, and what it was linked with (`cargo xtask flags`).
    pub toolchain: CoreToolchain,
    pub libraries: Vec<native::Library>,
    pub wasi: cpython::WasiPython,
    /// The libpython bundle, in the cache (`build/<profile>/libpy/` is its copy).
    pub libpy: Libpy,
    /// Each Rust guest and its component in `build/<profile>/guests/`.
    pub guests: Vec<(String, PathBuf)>,
    /// The environment the guests were built with (`cargo xtask flags`).
    pub guest_env: Vec<(String, String)>,
}

pub fn build(layout: &Layout, args: &BuildArgs) -> Result<Built> {
    let started = std::time::Instant::now();
    let (all_caps, all_exts) = caps::discover(&layout.root)?;
    let (selected, exts) = caps::select(&all_caps, &all_exts, args.caps.as_deref())?;
    let generated = extglue::check_fresh(&layout.root, &exts, &selected)?;
    let linked = exts.iter().any(|e| !e.links.is_empty());
    let plan = Plan::load(&layout.root, &plan_path(args))?.for_exts(&selected, &exts)?;

    let inputs = deps::prepare(layout, false)?;
    let toolchain = CoreToolchain::new(&inputs.zig, args.profile, inputs.pins.source_date_epoch)?;
    // Each native extension's library, for the native build python and for the core.
    let (mut host_libraries, mut libraries) = (Vec::new(), Vec::new());
    for ext in &exts {
        let Some(spec) = &ext.native else { continue };
        let tree = native::locate(layout, &inputs, spec, &ext.module)?;
        host_libraries.push(native::build(layout, &toolchain, spec, &tree, &ext.module, &ext.dir, native::Target::Host)?);
        libraries.push(native::build(layout, &toolchain, spec, &tree, &ext.module, &ext.dir, native::Target::Wasi)?);
    }
    let native = cpython::native(layout, &inputs, &host_libraries, args.force)?;
    // Host caps are the embedder's: nothing to build or plug, their imports stay open.
    let components: Vec<caps::Cap> = selected.iter().filter(|c| c.kind.is_component()).cloned().collect();
    let cap_files = caps::build(layout, &components, &inputs.zig)?;
    let glue = extglue::prepare(&exts, &generated, &libraries)?;
    let recipe = WasiRecipe {
        profile: args.profile,
        toolchain: &toolchain,
        setup_local: &glue.setup_local,
        tree_files: &glue.tree_files,
    };
    let wasi = cpython::wasi(layout, &inputs, &native, &recipe, args.force)?;
    let libpy = libpy::bundle(
        layout,
        &LibpyInputs { profile: args.profile, wasi: &wasi, toolchain: &toolchain, extensions: &glue.modules },
        args.force,
    )?;

    let stdlib = stdlib::package(
        &layout.cache,
        &StdlibInputs {
            native: &native,
            wasi: &wasi,
            remap: path_remap(layout, &wasi.dir, native.exe.parent().unwrap()),
            overlays: glue.facades.clone(),
        },
        args.force,
    )?;

    let stdlib_key = stdlib.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let snap = snapshot::snapshot(
        &layout.cache,
        &SnapshotInputs {
            python_wasm: &wasi.python_wasm,
            wasi_key: &wasi.key,
            stdlib: &stdlib,
            stdlib_key: &stdlib_key,
            prewarm: prewarm_list(&exts),
            seed: if args.private_hash_seed { HashSeed::Private } else { HashSeed::PerBuild },
            source_date_epoch: inputs.pins.source_date_epoch,
            keep_debug: args.profile == Profile::Debug,
        },
        args.force,
    )?;

    // Two cores from one build: the snapshot's, and the cold one beside it for what a
    // snapshot cannot start exactly (interpreter options, the REPL; see pylon/src/start.rs).
    let core = core_component(layout, &wasi.python_wasm, &wasi.key, component::SNAPSHOT_EXPORTS, args.profile, &exts, &selected, args.force)?;
    let snap_core = core_component(layout, &snap.module, &snap.key, &[], args.profile, &exts, &selected, args.force)?;
    let read = |file: &PathBuf| fs::read(file).with_context(|| format!("cannot read {}", file.display()));
    let mut plugs = Vec::new();
    for (cap, file) in components.iter().zip(&cap_files) {
        if let Some(ext) = &cap.ext {
            plugs.push(compose::Plug { name: cap.name.clone(), ext: ext.clone(), bytes: read(file)? });
        }
    }
    // Dynlink providers are reached through the linker: one more plug, made from the plan.
    let linker_bundle = if linked {
        let step = Step::start(format!("dynlink: generate the linker from {} and wire its providers", plan.path.display()));
        let linker = dynlink::linker_component(&layout.root, &plan)?;
        let mut providers = Vec::new();
        for (cap, file) in components.iter().zip(&cap_files) {
            if plan.providers().contains(&cap.name.as_str()) {
                providers.push((cap.name.as_str(), read(file)?));
            }
        }
        let bundle = dynlink::bundle(&linker, &plan, &providers)?;
        step.done();
        let linking: Vec<&str> = exts.iter().filter(|e| !e.links.is_empty()).map(|e| e.module.as_str()).collect();
        plugs.push(compose::Plug { name: "linker".to_owned(), ext: linking.join(", "), bytes: bundle.clone() });
        Some(bundle)
    } else {
        None
    };
    let step = Step::start(format!("compose: plug {} component(s) into the snapshot's core and the cold core with wac", plugs.len()));
    let host: Vec<String> = selected.iter().filter(|c| c.kind == caps::Kind::Host).flat_map(|c| c.exports.clone()).collect();
    let pylon = compose::compose(&fs::read(&snap_core)?, &plugs, &host).context("composition of the snapshot failed")?;
    let pylon_cold = compose::compose(&fs::read(&core)?, &plugs, &host).context("composition of the cold core failed")?;
    step.done();

    // Outputs: everything under build/<profile>/, replaced file by file atomically.
    let out = output_dir(layout, args);
    let core_out = out.join("core.wasm");
    let pylon_out = out.join("pylon.wasm");
    let cold_out = out.join(COLD_FILE);
    let snapshot_out = out.join("snapshot.wasm");
    copy_atomic(&core, &core_out)?;
    copy_atomic(&snap.module, &snapshot_out)?;
    write_atomic(&cold_out, &pylon_cold)?;
    // Builds before the tree had `lib/python313.zip`, which would come first on sys.path.
    remove_file_if_exists(&out.join("lib/python313.zip"))?;
    write_atomic(&pylon_out, &pylon)?;
    let linker_out = out.join("linker.wasm");
    match &linker_bundle {
        Some(bytes) => write_atomic(&linker_out, bytes)?,
        None => fs::remove_file(&linker_out).or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?,
    }
    // `lib/python3.13/`: the stdlib, the empty platform-library dir (it tells CPython's
    // getpath where exec_prefix is), and in a conformance build CPython's `test` package.
    let stdlib_out = out.join("lib").join(stdlib::TREE_DIR);
    sync_tree(&stdlib, &stdlib_out, &[stdlib::STAMP], &["lib-dynload", "test"])?;
    fs::create_dir_all(stdlib_out.join("lib-dynload"))?;
    if args.keep_tests {
        let guest = format!("{}/{}/test", stdlib::GUEST_LIB, stdlib::TREE_DIR);
        let tree = stdlib::test_tree(&layout.cache, &native, &wasi, &format!("{guest}/"), args.force)?;
        sync_tree(&tree.join("test"), &stdlib_out.join("test"), &[], &[])?;
    }
    if args.profile == Profile::Release && is_default_build(args) {
        point_default_at(&layout.build.join("pylon.wasm"), Path::new("release/pylon.wasm"))?;
    }

    let artifact = |name: &str, path: &Path| -> Result<Artifact> {
        let rel = path.strip_prefix(&layout.root)?.to_string_lossy().into_owned();
        // A directory is one artifact too, by the digest of its tree; its path ends in `/`.
        if path.is_dir() {
            let (sha256, size) = sha256_tree(path)?;
            return Ok(Artifact { name: name.to_owned(), path: format!("{rel}/"), sha256, size });
        }
        Ok(Artifact { name: name.to_owned(), path: rel, sha256: sha256_file(path)?, size: fs::metadata(path)?.len() })
    };
    let mut artifacts = vec![
        artifact("core", &core_out)?,
        artifact("stdlib", &stdlib_out)?,
        artifact("pylon", &pylon_out)?,
        artifact("snapshot", &snapshot_out)?,
        artifact("pylon-cold", &cold_out)?,
    ];
    if linker_bundle.is_some() {
        artifacts.push(artifact("linker", &linker_out)?);
    }
    // The native libraries linked into the core, each as its own row.
    let native_out = out.join("native");
    remove_dir_if_exists(&native_out)?;
    for library in &libraries {
        let to = native_out.join(format!("lib{}.a", library.name));
        copy_atomic(&library.archive, &to)?;
        artifacts.push(artifact(&format!("native-{}", library.name), &to)?);
    }
    // The libpython bundle: the whole tree, and each archive, as rows.
    let libpy_out = out.join(libpy::DIR);
    sync_tree(&libpy.dir, &libpy_out, &[cpython::STAMP], &[])?;
    artifacts.push(artifact("libpy", &libpy_out)?);
    for archive in libpy.layout.archives(true).into_iter().chain([libpy.layout.main.as_str(), libpy.layout.inittab_core.as_str()]) {
        let name = archive.trim_start_matches("lib/").trim_end_matches(".a").trim_end_matches(".o");
        artifacts.push(artifact(&format!("libpy-{name}"), &libpy_out.join(archive))?);
    }
    // The Rust guests of examples/, linked against that copy of the bundle.
    let guest_list = guests::discover(&layout.root)?;
    let guest_env = guests::cargo_env(layout, &GuestInputs { libpy_dir: &libpy_out, zig: &inputs.zig })?;
    let built_guests = guests::build(layout, &guest_list, args.profile, &guest_env)?;
    let mut guest_files = Vec::new();
    for (guest, file) in built_guests.iter().zip(guests::install(&out, &built_guests)?) {
        artifacts.push(artifact(&format!("guest-{}", guest.name), &file)?);
        guest_files.push((guest.name.clone(), file));
    }
    let mut cap_rows = Vec::new();
    for cap in &all_caps {
        let artifact = match components.iter().position(|c| c.name == cap.name) {
            // A host cap's artifact is the WIT the core was built against, the embedder's
            // contract: copied beside the components.
            _ if cap.kind == caps::Kind::Host => {
                let out = out.join("caps").join(format!("{}.wit", cap.name));
                sync_tree(&cap.wit, &out, &[], &[])?;
                artifact(&cap.name, &out)?
            }
            Some(i) => {
                let out = out.join("caps").join(format!("{}.wasm", cap.name));
                copy_atomic(&cap_files[i], &out)?;
                artifact(&cap.name, &out)?
            }
            // Left out of this build (`--caps`): a placeholder row keeps the cap visible.
            None => Artifact {
                name: cap.name.clone(),
                path: format!("build/{}/caps/{}.wasm", args.profile.name(), cap.name),
                sha256: crate::stages::manifest::PLACEHOLDER.to_owned(),
                size: 0,
            },
        };
        cap_rows.push(CapRow {
            name: cap.name.clone(),
            kind: cap.kind.name().to_owned(),
            version: cap.version.clone(),
            interfaces: cap.exports.clone(),
            schemes: cap.schemes.clone(),
            serves: cap.serves.clone(),
            artifact,
        });
    }
    // A cap that left the workspace leaves no file behind in build/<profile>/caps/.
    let kept: Vec<String> = cap_rows.iter().filter_map(|r| r.artifact.path.rsplit('/').find(|p| !p.is_empty()).map(str::to_owned)).collect();
    if let Ok(entries) = fs::read_dir(out.join("caps")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !kept.contains(&name) {
                let path = entry.path();
                if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) }
                    .with_context(|| format!("cannot remove the stale {}", path.display()))?;
            }
        }
    }
    let manifest = Manifest {
        profile: args.profile.name().to_owned(),
        pins: Pins {
            rust: rust_pin(layout)?,
            zig: inputs.pins.zig.version.clone(),
            zig_sha256: inputs.pins.zig.sha256.clone(),
            cpython: inputs.pins.cpython.version.clone(),
            cpython_sha256: inputs.pins.cpython.sha256.clone(),
            source_date_epoch: inputs.pins.source_date_epoch,
            adapter: component::RECIPE.to_owned(),
        },
        pylon_sha256: artifacts[2].sha256.clone(),
        artifacts,
        caps: cap_rows,
        snapshot: Some(SnapshotRow {
            hash_seed_policy: snap.policy.policy().to_owned(),
            hash_seed: snap.hash_seed.map(u64::from),
            prewarm: snap.prewarm.clone(),
        }),
        dynlink: linked.then(|| DynlinkRow {
            plan: plan.path.to_string_lossy().into_owned(),
            plan_sha256: plan.sha256.clone(),
            serve: plan.serve.clone(),
        }),
    };
    // A conformance build (with `test/`) or one with another plan is not the default
    // build: its manifest stays with it.
    let manifest_path = if is_default_build(args) { layout.manifest_path(args.profile) } else { out.join("caps-manifest.toml") };
    write_atomic(&manifest_path, manifest.render().as_bytes())?;
    eprintln!(
        "built {} ({} bytes, sha256 {}) in {:.1} s; manifest: {}",
        pylon_out.strip_prefix(&layout.root).unwrap_or(&pylon_out).display(),
        manifest.pylon().map_or(0, |a| a.size),
        manifest.pylon_sha256,
        started.elapsed().as_secs_f64(),
        manifest_path.display()
    );
    Ok(Built { inputs, native_python: native.exe, manifest, toolchain, libraries, wasi, libpy, guests: guest_files, guest_env })
}

fn remove_file_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| format!("cannot remove {}", path.display())),
        _ => Ok(()),
    }
}

/// The cold core's composition, beside `pylon.wasm` (the runner looks for it there).
pub const COLD_FILE: &str = "pylon-cold.wasm";

/// The snapshot's prewarm list: the build's default, then each extension's own entries.
fn prewarm_list(exts: &[Ext]) -> Vec<String> {
    let mut list: Vec<String> = snapshot::DEFAULT_PREWARM.iter().map(|s| s.to_string()).collect();
    for name in exts.iter().flat_map(|e| &e.prewarm) {
        if !list.contains(name) {
            list.push(name.clone());
        }
    }
    list
}

/// `build/<profile>/`, `build/<profile>-tests/` for a conformance build,
/// `build/<profile>-private/` for one with a private hash seed, or
/// `build/<profile>-plan-<stem>/` for a build with another dynlink plan.
pub fn output_dir(layout: &Layout, args: &BuildArgs) -> PathBuf {
    let dir = layout.profile_dir(args.profile);
    let mut name = args.profile.name().to_owned();
    if args.keep_tests {
        name.push_str("-tests");
    }
    if args.private_hash_seed {
        name.push_str("-private");
    }
    if let Some(stem) = other_plan(args) {
        name.push_str(&format!("-plan-{stem}"));
    }
    dir.with_file_name(name)
}

/// The dynlink plan this build uses, relative to the root when it is the default one.
fn plan_path(args: &BuildArgs) -> PathBuf {
    args.plan.clone().unwrap_or_else(dynlink::default_plan_path)
}

/// The file stem of a plan other than the default one.
fn other_plan(args: &BuildArgs) -> Option<String> {
    let plan = args.plan.as_ref()?;
    let default = dynlink::default_plan_path();
    if plan == &default || plan.ends_with(&default) {
        return None;
    }
    Some(plan.file_stem().map_or_else(|| "plan".to_owned(), |s| s.to_string_lossy().into_owned()))
}

/// The build whose manifest is the committed `caps-manifest.toml`.
fn is_default_build(args: &BuildArgs) -> bool {
    !args.keep_tests && !args.private_hash_seed && other_plan(args).is_none()
}

/// A core component, cached by the core module it wraps (`module_key` names its bytes).
#[allow(clippy::too_many_arguments)]
fn core_component(
    layout: &Layout,
    module: &Path,
    module_key: &str,
    drop_exports: &[&str],
    profile: Profile,
    exts: &[Ext],
    caps: &[Cap],
    force: bool,
) -> Result<PathBuf> {
    let mut key = StageKey::new("core-component");
    key.add_str("module", module_key)
        .add_str("drop-exports", &drop_exports.join(","))
        .add_str("profile", profile.name())
        .add_str("recipe", component::RECIPE);
    for cap in caps {
        for file in walk_files(&cap.wit_dir())? {
            let rel = file.strip_prefix(&layout.root).unwrap_or(&file);
            key.add_str("wit", &rel.display().to_string()).add("contents", &fs::read(&file)?);
        }
        key.add_str("exports", &cap.exports.join(","));
    }
    let key = key.finish();
    let path = layout.cache.join(format!("core-{}.wasm", &key[..16]));
    if !force && path.exists() {
        progress::cached("core component", &key);
        return Ok(path);
    }
    let name = module.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let step = Step::start(format!("core component of {name}: wit-component + preview1 command adapter"));
    let bytes = component::core_component(module, profile, drop_exports, |m| extglue::embed_imports(&layout.root, m, exts, caps))?;
    write_atomic(&path, &bytes)?;
    step.done();
    Ok(path)
}

/// Absolute paths of this machine that may end up in text artifacts, and the stable names
/// they are given there.
fn path_remap(layout: &Layout, wasi_dir: &Path, native_dir: &Path) -> Vec<(String, String)> {
    let mut remap = vec![
        (wasi_dir.display().to_string(), "/cpython".to_owned()),
        (native_dir.display().to_string(), "/cpython-native".to_owned()),
        (layout.cache.display().to_string(), "/pylon-cache".to_owned()),
        (layout.root.display().to_string(), "/pylon".to_owned()),
    ];
    if let Ok(exe) = std::env::current_exe() {
        remap.push((exe.display().to_string(), "xtask".to_owned()));
    }
    remap
}

/// `build/pylon.wasm` → the default profile's file, as a relative symlink.
fn point_default_at(link: &Path, target: &Path) -> Result<()> {
    if fs::read_link(link).is_ok_and(|t| t == target) {
        return Ok(());
    }
    let tmp = crate::helpers::digest::pending_path(link);
    fs::remove_file(&tmp).ok();
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, link).with_context(|| format!("cannot point {} at {}", link.display(), target.display()))
}

/// The Rust release pinned in `rust-toolchain.toml`.
pub fn rust_pin(layout: &Layout) -> Result<String> {
    let path = layout.root.join("rust-toolchain.toml");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: toml_edit::DocumentMut = text.parse()?;
    doc.get("toolchain")
        .and_then(|t| t.get("channel"))
        .and_then(|c| c.as_str())
        .map(str::to_owned)
        .with_context(|| format!("{}: no [toolchain] channel", path.display()))
}

/// The files under `dir`, sorted, for stage keys.
fn walk_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    Ok(files)
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct BuildArgs {
    /// Which build: `release` (no DWARF, stripped) or `debug` (DWARF and names kept).
    #[arg(long, value_enum, default_value_t = Profile::Release)]
    pub profile: Profile,
    /// Rebuild every stage even when its inputs did not change.
    #[arg(long)]
    pub force: bool,
    /// Keep CPython's `test` package in the stdlib (for conformance runs).
    #[arg(long)]
    pub keep_tests: bool,
    /// Build only these caps (comma-separated names); the others get placeholder rows.
    #[arg(long, value_delimiter = ',')]
    pub caps: Option<Vec<String>>,
    /// Another dynlink plan than caps/dynlink/plan.toml; such a build goes to
    /// `build/<profile>-plan-<file stem>/`, with its own manifest.
    #[arg(long)]
    pub plan: Option<std::path::PathBuf>,
    /// Give the snapshot a secret string-hash seed drawn on this machine (for services that
    /// hash untrusted keys); such a build goes to `build/<profile>-private/` and its
    /// manifest records the policy, not the seed.
    #[arg(long)]
    pub private_hash_seed: bool,
}

/// `cargo xtask build`.
pub fn command(args: &BuildArgs) -> Result<()> {
    let layout = Layout::from_env()?;
    build(&layout, args)?;
    // So that the first run after a build starts at once: when there is a runner already
    // (a first build leaves building it to `cargo xtask run`), it fills its cache now.
    if crate::helpers::runner::target_dir(&layout).join("release/pylon").exists() {
        let runner = crate::helpers::runner::build(&layout)?;
        crate::helpers::runner::precompile(&runner, &output_dir(&layout, args).join("pylon.wasm"))?;
    }
    Ok(())
}
