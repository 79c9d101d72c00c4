//! `cargo xtask bench`: pylon against the native build python from the same tarball, side
//! by side in one run: startup (`-c pass`, compiled code cached) and small pure-Python
//! workloads. Prints ratios and writes `target/pylon-bench.json`. Timings never gate tests.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::layout::{Layout, Profile};
use crate::pipeline::Built;
use crate::progress::Step;

pub fn run(layout: &Layout, built: &Built, runner: &Path, runs: usize) -> Result<()> {
    let runs = runs.max(1);
    let wasm = layout.profile_dir(Profile::Release).join("pylon.wasm");
    let native = &built.native_python;
    // The first start compiles the component and fills the runner's code cache.
    let step = Step::start("warm the runner's compiled-code cache");
    time(runner, &["--wasm", &wasm.display().to_string(), "-c", "pass"])?;
    step.done();

    let mut cases: Vec<(String, Vec<String>)> = vec![("startup (-c pass)".into(), vec!["-c".into(), "pass".into()])];
    for file in scripts(&layout.root.join("pylon/bench"))? {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        cases.push((name, vec![file.display().to_string()]));
    }

    println!("{:<20} {:>12} {:>12} {:>8}", "case", "native (ms)", "pylon (ms)", "ratio");
    let mut rows = Vec::new();
    for (name, args) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut pylon_args: Vec<&str> = vec!["--wasm", wasm.to_str().unwrap()];
        pylon_args.extend(&args);
        // Interleave the two sides so that machine noise hits both alike.
        let (mut n, mut p) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            n.push(time(native, &args)?);
            p.push(time(runner, &pylon_args)?);
        }
        let (n, p) = (median(n), median(p));
        let ratio = p.as_secs_f64() / n.as_secs_f64();
        println!("{name:<20} {:>12.1} {:>12.1} {ratio:>7.2}x", ms(n), ms(p));
        rows.push(serde_json::json!({"case": name, "native_ms": ms(n), "pylon_ms": ms(p), "ratio": ratio}));
    }
    let report = serde_json::json!({
        "runs": runs,
        "statistic": "median wall time of whole processes",
        "pylon_sha256": built.manifest.pylon_sha256,
        "cases": rows,
    });
    let out = crate::runner::target_dir(layout).join("pylon-bench.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("report: {}", out.display());
    Ok(())
}

/// `pylon/bench/in-pylon/*.py` time calls inside one process and print `name<TAB>value<TAB>unit`
/// lines: caps have no native counterpart to compare with, so these compare the linkage
/// modes and the dynlink providers with each other. Runs each script in every variant
/// (pylon.wasm built with each provider) and prints one column per variant.
pub fn in_pylon(layout: &Layout, runner: &Path, variants: &[(String, std::path::PathBuf)]) -> Result<()> {
    let files = scripts(&layout.root.join("pylon/bench/in-pylon"))?;
    let step = Step::start(format!("in-pylon measurements ({} script(s) x {} variant(s))", files.len(), variants.len()));
    let mut rows: Vec<(String, String, Vec<String>)> = Vec::new();
    for (i, (_, wasm)) in variants.iter().enumerate() {
        for file in &files {
            let run = duct::cmd(runner, ["--wasm", &wasm.display().to_string(), &file.display().to_string()])
                .stdout_capture()
                .stderr_capture()
                .unchecked()
                .run()?;
            if !run.status.success() {
                bail!("{} failed inside {}:\n{}", file.display(), wasm.display(), String::from_utf8_lossy(&run.stderr));
            }
            let out = String::from_utf8_lossy(&run.stdout);
            for line in out.lines() {
                let parts: Vec<&str> = line.split('\t').collect();
                let [name, value, unit] = parts[..] else { continue };
                let pos = match rows.iter().position(|r| r.0 == name) {
                    Some(p) => p,
                    None => {
                        rows.push((name.to_owned(), unit.to_owned(), vec![String::new(); variants.len()]));
                        rows.len() - 1
                    }
                };
                rows[pos].2[i] = value.to_owned();
            }
        }
    }
    step.done();
    print!("{:<40} {:>8}", "in pylon (median)", "unit");
    for (label, _) in variants {
        print!(" {label:>24}");
    }
    println!();
    for (name, unit, values) in &rows {
        print!("{name:<40} {unit:>8}");
        for v in values {
            print!(" {v:>24}");
        }
        println!();
    }
    Ok(())
}

/// The `*.py` files directly in `dir`, sorted.
fn scripts(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    Ok(files)
}

fn time(exe: &Path, args: &[&str]) -> Result<Duration> {
    let start = Instant::now();
    let out = duct::cmd(exe, args).stdout_null().stderr_capture().unchecked().run()?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!("{} {} failed: {}", exe.display(), args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
