//! `cargo xtask test`: what CI runs. cargo's tests, the build, the committed manifest,
//! verify, the smoke tests on both starts, the sandbox, mux and dynlink checks, a short
//! fuzzing of every cap, a conformance subset, pip, add-cap in a copy, and the
//! reproducibility check.

use anyhow::{Context, Result, bail, ensure};
use duct::cmd;
use std::path::Path;

use crate::commands::build::{self, BuildArgs};
use crate::commands::{add_cap, conformance, fuzz, repro, sandbox, smoke, thirdparty, verify};
use crate::helpers::layout::{Layout, Profile};
use crate::helpers::progress::Step;
use crate::helpers::runner;
use crate::stages::manifest::Manifest;
use crate::stages::{caps, deps};


/// cargo's tests, the build, the committed manifest, verify, the smoke tests, a short
/// fuzzing of every cap, and (unless told not to) the reproducibility check.
pub fn command(with_repro: bool) -> Result<()> {
    let layout = Layout::from_env()?;
    let cargo = runner::cargo();
    let step = Step::start("cargo test (workspace)");
    // The runner's tests build in release, sharing wasmtime with the runner binary.
    cmd!(&cargo, "test", "--workspace", "--exclude", "pylon").dir(&layout.root).run().context("cargo test failed")?;
    step.done();

    let args = BuildArgs::default();
    let built = build::build(&layout, &args)?;
    check_committed_manifest(&layout)?;
    // After the build: the library's doc example runs a real sandbox of this build.
    let step = Step::start("cargo test --release -p pylon (unit tests and the doc example)");
    let wasm = layout.profile_dir(Profile::Release).join("pylon.wasm");
    cmd!(&cargo, "test", "--release", "-p", "pylon")
        .dir(&layout.root)
        .env("PYLON_WASM", &wasm)
        .run()
        .context("cargo test -p pylon failed")?;
    step.done();

    let report = verify::check(&layout.root, &built.manifest, Some(verify::DEFAULT_LINK));
    report.print()?;
    if !report.ok() {
        bail!("verify failed right after the build");
    }

    let step = Step::start("cargo xtask flags: compile against Python.h and the native libraries' headers with what it reports");
    crate::commands::flags::self_check(&built, &layout.cache.join("flags-check"))?;
    step.done();

    relink_check(&layout, &built)?;
    let runner = runner::build(&layout)?;
    let scratch = smoke_scratch(&layout);
    // Every smoke test on both starts: the snapshot, and the cold core beside it (run
    // directly, so that the runner has no snapshot to choose).
    let cold = wasm.with_file_name(build::COLD_FILE);
    let step = Step::start("smoke tests inside pylon, resumed from the snapshot and started cold");
    let (mut passed, mut failed) = (0, 0);
    for file in smoke::smoke_files(&layout.root)? {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (start, component) in [("snapshot", &wasm), ("cold", &cold)] {
            let failures = smoke::run_one(&runner, component, &file, &scratch, Some(&built.native_python))?;
            if failures.is_empty() {
                passed += 1;
                println!("smoke {name} ({start}) ... ok");
            } else {
                failed += 1;
                println!("smoke {name} ({start}) ... FAILED");
                for f in failures {
                    println!("    {}", f.replace('\n', "\n    "));
                }
            }
        }
    }
    step.done();
    println!("smoke: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} smoke test(s) failed");
    }
    sandbox::snapshot_check(&runner, &wasm, &layout.cache.join("sandbox-snapshot"))?;
    sandbox::check(&runner, &wasm, &layout.cache.join("sandbox"))?;
    embed_kv_check(&layout, &wasm)?;
    guests_check(&runner, &built)?;
    mux_schemes_check(&layout, &runner, &wasm)?;
    dynlink_swap_check(&layout, &built, &runner)?;
    let step = Step::start(format!("fuzz every cap: {} random calls each, seed {}", fuzz::CI_CALLS, fuzz::CI_SEED));
    fuzz::run_all(&layout, &runner, fuzz::CI_CALLS, fuzz::CI_SEED, &[])?;
    step.done();
    conformance_subset(&layout, &runner)?;
    thirdparty::pip_check(&layout, &runner, &wasm, &thirdparty::inputs(&layout)?)?;
    add_cap_in_copy(&layout, &runner)?;
    if with_repro {
        repro::check(&layout, &built)?;
    }
    Ok(())
}


/// `examples/embed-kv`, the application that embeds pylon through its library: it prints
/// what it checked and `embed-kv: ok` last when every check held.
fn embed_kv_check(layout: &Layout, wasm: &Path) -> Result<()> {
    let step = Step::start("examples/embed-kv: an application embedding pylon (cargo run --release -p embed-kv)");
    let out = cmd!(runner::cargo(), "run", "--release", "--quiet", "-p", "embed-kv")
        .dir(&layout.root)
        .env("PYLON_WASM", wasm)
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        println!("    {line}");
    }
    ensure!(
        out.status.success() && text.lines().last() == Some("embed-kv: ok"),
        "examples/embed-kv failed ({}): its last line is not `embed-kv: ok`",
        out.status
    );
    step.done();
    Ok(())
}

/// The libpython bundle relinks the core: linked from `build/release/libpy` alone with the
/// core's compiler, a `python.wasm` imports and exports exactly what make's does (the
/// out-of-tree caps' relinked cores start from this link).
fn relink_check(layout: &Layout, built: &build::Built) -> Result<()> {
    let step = Step::start("relink the core from the libpython bundle; compare its imports and exports with make's python.wasm");
    let bundle = layout.profile_dir(Profile::Release).join(crate::stages::libpy::DIR);
    let out = layout.cache.join("relink-check").join("python.wasm");
    let started = std::time::Instant::now();
    crate::stages::libpy::relink(&bundle, &built.toolchain, None, &[], &out)?;
    let link_time = started.elapsed();
    let (relinked, made) = (interface_of(&out)?, interface_of(&built.wasi.python_wasm)?);
    ensure!(
        relinked == made,
        "the core relinked from {} differs from make's {}:\n  relinked: {relinked:?}\n  make's:   {made:?}",
        bundle.display(),
        built.wasi.python_wasm.display()
    );
    println!(
        "    relinked in {:.2} s: {} imports, {} exports, as make's ({} vs {} bytes: the archives pull only what is referenced)",
        link_time.as_secs_f64(),
        made.0.len(),
        made.1.len(),
        std::fs::metadata(&out)?.len(),
        std::fs::metadata(&built.wasi.python_wasm)?.len()
    );
    step.done();
    Ok(())
}

/// A module's imports (`module.name`) and export names, sorted.
fn interface_of(wasm: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let bytes = std::fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        match payload.with_context(|| format!("cannot parse {}", wasm.display()))? {
            wasmparser::Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import?;
                    imports.push(format!("{}.{}", import.module, import.name));
                }
            }
            wasmparser::Payload::ExportSection(section) => {
                for export in section {
                    exports.push(export?.name.to_owned());
                }
            }
            _ => {}
        }
    }
    imports.sort();
    exports.sort();
    Ok((imports, exports))
}

/// Each Rust guest of examples/ under the runner (which gives it the stdlib of its build):
/// it prints what it checked and `<name>: ok` last when every check held.
fn guests_check(runner: &Path, built: &build::Built) -> Result<()> {
    ensure!(!built.guests.is_empty(), "no Rust guest was built (examples/pyo3-person declares one)");
    for (name, wasm) in &built.guests {
        let step = Step::start(format!("guest {name}: pylon --wasm {}", wasm.display()));
        let out = cmd!(runner, "--wasm", wasm).stderr_to_stdout().stdout_capture().unchecked().run()?;
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            println!("    {line}");
        }
        let ok = crate::stages::guests::ok_line(name);
        ensure!(
            out.status.success() && text.lines().last() == Some(ok.as_str()),
            "guest {name} failed ({}): its last line is not `{ok}`",
            out.status
        );
        step.done();
    }
    Ok(())
}

/// Derived from each mux cap's declaration: inside pylon, its extension's `schemes()`
/// answers exactly the `schemes` of its Cargo.toml.
fn mux_schemes_check(layout: &Layout, runner: &std::path::Path, wasm: &std::path::Path) -> Result<()> {
    let (caps, _) = caps::discover(&layout.root)?;
    for cap in caps.iter().filter(|c| c.kind == caps::Kind::Mux) {
        let ext = cap.ext.as_deref().unwrap_or_default();
        let code = format!("import {ext}; print(','.join(sorted({ext}.schemes())))");
        let wasm = wasm.display().to_string();
        let out = cmd!(runner, "--wasm", &wasm, "-c", &code).read().with_context(|| format!("mux cap `{}`: {ext}.schemes() failed", cap.name))?;
        let mut declared = cap.schemes.clone();
        declared.sort();
        ensure!(
            out.trim() == declared.join(","),
            "mux cap `{}`: {ext}.schemes() answers `{}`, {} declares `{}`",
            cap.name,
            out.trim(),
            cap.dir.join("Cargo.toml").display(),
            declared.join(",")
        );
        println!("mux {}: schemes {} ... ok", cap.name, declared.join(", "));
    }
    Ok(())
}


/// The dynlink promise, tested: for each id, serving it by another provider rebuilds the
/// linker and the composition but leaves the core component's sha256 alone; the linking
/// extensions' smoke tests pass with every provider.
fn dynlink_swap_check(layout: &Layout, built: &build::Built, runner: &std::path::Path) -> Result<()> {
    let Some(dynlink) = &built.manifest.dynlink else { return Ok(()) };
    let (caps, exts) = caps::discover(&layout.root)?;
    let smoke_files: Vec<std::path::PathBuf> = smoke::smoke_files(&layout.root)?
        .into_iter()
        .filter(|f| exts.iter().any(|e| !e.links.is_empty() && f.starts_with(&e.dir)))
        .collect();
    let sha = |m: &Manifest, name: &str| m.artifacts.iter().find(|a| a.name == name).map(|a| a.sha256.clone()).unwrap_or_default();
    let plan = crate::stages::dynlink::Plan::load(&layout.root, std::path::Path::new(&dynlink.plan))?.for_exts(&caps, &exts)?;
    for swap in crate::stages::dynlink::write_swaps(&layout.root, &plan, &caps)? {
        let args = BuildArgs { plan: Some(swap.plan.clone()), ..BuildArgs::default() };
        let swapped = build::build(layout, &args)?;
        let (core, core2) = (sha(&built.manifest, "core"), sha(&swapped.manifest, "core"));
        let (linker, linker2) = (sha(&built.manifest, "linker"), sha(&swapped.manifest, "linker"));
        let (pylon, pylon2) = (&built.manifest.pylon_sha256, &swapped.manifest.pylon_sha256);
        let (id, to) = (&swap.id, &swap.to);
        println!("dynlink swap `{id}`: {} -> {to} ({})", swap.from, swap.plan.display());
        println!("    core   {} -> {}", &core[..16], &core2[..16]);
        println!("    linker {} -> {}", &linker[..16], &linker2[..16]);
        println!("    pylon  {} -> {}", &pylon[..16], &pylon2[..16]);
        ensure!(core == core2, "serving `{id}` by `{to}` changed the core component");
        ensure!(linker != linker2, "serving `{id}` by `{to}` left the linker unchanged");
        ensure!(pylon != pylon2, "serving `{id}` by `{to}` left pylon.wasm unchanged");
        let wasm = build::output_dir(layout, &args).join("pylon.wasm");
        for file in &smoke_files {
            let failures = smoke::run_one(runner, &wasm, file, &layout.cache.join("smoke"), Some(&swapped.native_python))?;
            ensure!(failures.is_empty(), "with `{id}` served by `{to}`, {} failed:\n{}", file.display(), failures.join("\n"));
        }
        println!("    smoke ({} file(s)) with {to} ... ok", smoke_files.len());
    }
    Ok(())
}


/// The build must reproduce the committed manifest: otherwise either the change altered
/// the artifacts (commit the new manifest so it is reviewed) or the build is not
/// reproducible on this machine.
fn check_committed_manifest(layout: &Layout) -> Result<()> {
    if !layout.root.join(".git").exists() {
        return Ok(());
    }
    let diff = cmd!("git", "diff", "--stat", "--", "caps-manifest.toml").dir(&layout.root).read()?;
    if !diff.trim().is_empty() {
        bail!(
            "the build's caps-manifest.toml differs from the committed one ({}); \
             review `git diff caps-manifest.toml` and commit it with the change that caused it",
            diff.trim()
        );
    }
    Ok(())
}


/// The part of the conformance sweep that fits CI's time: quick suites on both sides, held
/// to the same share as the sweep. The full sweep is `cargo xtask conformance`.
const CI_CONFORMANCE: &[&str] = &["test_zlib", "test_gzip", "test_json", "test_csv"];


fn conformance_subset(layout: &Layout, runner: &Path) -> Result<()> {
    let args = BuildArgs { keep_tests: true, ..BuildArgs::default() };
    let built = build::build(layout, &args)?;
    let wasm = build::output_dir(layout, &args).join("pylon.wasm");
    let targets = conformance::Targets { runner, wasm: &wasm, native: &built.native_python };
    let suites: Vec<String> = CI_CONFORMANCE.iter().map(|s| s.to_string()).collect();
    let results = conformance::run(layout, &targets, &suites)?;
    let short = conformance::short_of(&results, 0.95);
    if !short.is_empty() {
        bail!("conformance below 95 % of native passes: {}", short.join(", "));
    }
    Ok(())
}


/// add-cap of every kind in a copy of the workspace, then one build there and the new caps'
/// smoke tests: proves a scaffolded cap needs no edit anywhere else.
/// Where smoke tests get their `{tmp}` directories. Not in the build cache: with
/// PYLON_CACHE_DIR set, that is also the runner's compiled-code cache, and the runner
/// refuses a read-write mount inside it.
fn smoke_scratch(layout: &Layout) -> std::path::PathBuf {
    runner::target_dir(layout).join("pylon-smoke")
}


fn add_cap_in_copy(layout: &Layout, runner: &std::path::Path) -> Result<()> {
    let copy = layout.root.join("target/add-cap-check/pylon");
    let demos = [
        ("demo_echo", caps::Kind::Static),
        ("demo_mux", caps::Kind::Mux),
        ("demo_link", caps::Kind::Dynlink),
        ("demo_host", caps::Kind::Host),
    ];
    let step = Step::start(format!("add-cap of each kind in a copy of the workspace ({})", copy.display()));
    deps::remove_dir_if_exists(copy.parent().unwrap())?;
    repro::copy_sources(&layout.root, &copy)?;
    let xtask = std::env::current_exe()?;
    // The copy shares this checkout's cache (downloads, native python, zig), not its outputs.
    let in_copy = |args: &[&str]| {
        cmd(&xtask, args)
            .env("CARGO_MANIFEST_DIR", copy.join("xtask"))
            .env("PYLON_CACHE_DIR", &layout.cache)
            .dir(&copy)
            .run()
    };
    for (name, kind) in demos {
        in_copy(&["add-cap", name, "--kind", kind.name(), "--facade"]).with_context(|| format!("add-cap {name} --kind {} failed in the copy", kind.name()))?;
    }
    in_copy(&["build"]).context("the build after add-cap failed")?;
    let wasm = copy.join("build/release/pylon.wasm");
    for (name, kind) in demos {
        let module = add_cap::Names::new(name, kind)?.module;
        let smoke = copy.join(format!("cpython-ext/{module}/smoke/{name}_smoke.py"));
        let failures = smoke::run_one(runner, &wasm, &smoke, &smoke_scratch(layout), None)?;
        if !failures.is_empty() {
            bail!("the scaffolded {} cap's smoke test failed:\n{}", kind.name(), failures.join("\n"));
        }
    }
    step.done();
    deps::remove_dir_if_exists(copy.parent().unwrap())?;
    println!("add-cap: demo_echo (static), demo_mux (mux), demo_link (dynlink), demo_host (host) scaffolded, built, composed and imported in a copy of the workspace");
    Ok(())
}
