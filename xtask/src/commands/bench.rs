//! `cargo xtask bench`: pylon against the native build python from the same tarball, side
//! by side in one run: startup (`-c pass`, and with a typical program's imports; compiled
//! code cached), resumed from the snapshot and started cold, and small pure-Python
//! workloads; peak RSS per process; fresh instances inside one process. Prints ratios and
//! writes `target/pylon-bench.json`. Timings never gate tests.

use anyhow::{Context, Result, bail, ensure};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::commands::build::Built;
use crate::commands::build::{self, BuildArgs};
use crate::helpers::layout::{Layout, Profile};
use crate::helpers::progress::Step;
use crate::helpers::runner;
use crate::stages::caps;

pub fn run(layout: &Layout, built: &Built, runner: &Path, runs: usize) -> Result<()> {
    let runs = runs.max(1);
    let wasm = layout.profile_dir(Profile::Release).join("pylon.wasm");
    let wasm_arg = wasm.display().to_string();
    let native = &built.native_python;
    // The first starts compile both cores and fill the runner's code cache.
    let step = Step::start("warm the runner's compiled-code cache (snapshot and cold core)");
    time(runner, &["--wasm", &wasm_arg, "-c", "pass"])?;
    time(runner, &["--wasm", &wasm_arg, "--no-snapshot", "-c", "pass"])?;
    step.done();

    let mut cases: Vec<(String, Vec<String>)> = vec![
        ("startup (-c pass)".into(), vec!["-c".into(), "pass".into()]),
        ("startup + imports".into(), vec!["-c".into(), IMPORTS.into()]),
    ];
    for file in scripts(&layout.root.join("pylon/bench"))? {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        cases.push((name, vec![file.display().to_string()]));
    }

    println!(
        "{:<20} {:>11} {:>11} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "case", "native ms", "pylon ms", "cold ms", "ratio", "cold/nat", "nat MiB", "pylon MiB", "cold MiB"
    );
    println!("{:<20} (MiB: peak RSS, then in brackets the private part at exit, RssAnon)", "");
    let mut rows = Vec::new();
    for (name, args) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut pylon_args: Vec<&str> = vec!["--wasm", &wasm_arg];
        pylon_args.extend(&args);
        let mut cold_args: Vec<&str> = vec!["--wasm", &wasm_arg, "--no-snapshot"];
        cold_args.extend(&args);
        // Interleave the sides so that machine noise hits them alike.
        let (mut n, mut p, mut c) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            n.push(time_rss(native, &args)?);
            p.push(time_rss(runner, &pylon_args)?);
            c.push(time_rss(runner, &cold_args)?);
        }
        let (n, p, c) = (median(n), median(p), median(c));
        let ratio = p.0.as_secs_f64() / n.0.as_secs_f64();
        let cold_ratio = c.0.as_secs_f64() / n.0.as_secs_f64();
        println!(
            "{name:<20} {:>11.1} {:>11.1} {:>11.1} {ratio:>8.2}x {cold_ratio:>8.2}x {:>9} {:>9} {:>9}",
            ms(n.0),
            ms(p.0),
            ms(c.0),
            format!("{:.1}({:.1})", mib(n.1), mib(n.2)),
            format!("{:.1}({:.1})", mib(p.1), mib(p.2)),
            format!("{:.1}({:.1})", mib(c.1), mib(c.2))
        );
        rows.push(serde_json::json!({
            "case": name, "native_ms": ms(n.0), "pylon_ms": ms(p.0), "cold_ms": ms(c.0),
            "ratio": ratio, "cold_ratio": cold_ratio,
            "native_peak_rss_kib": n.1, "pylon_peak_rss_kib": p.1, "cold_peak_rss_kib": c.1,
            "native_anon_rss_kib": n.2, "pylon_anon_rss_kib": p.2, "cold_anon_rss_kib": c.2,
        }));
    }

    // In one process: fresh instances of the loaded snapshot, each running `-c pass`.
    let step = Step::start(format!("in-process: {INSTANCES} fresh instances of the snapshot, each running -c pass"));
    let out = duct::cmd(runner, ["--wasm", &wasm_arg, "-c", "pass"])
        .env("PYLON_BENCH_INSTANCES", INSTANCES.to_string())
        .stdout_null()
        .stderr_capture()
        .unchecked()
        .run()?;
    step.done();
    let said = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "the in-process measurement failed: {said}");
    let mut in_process = serde_json::Map::new();
    for line in said.lines() {
        let parts: Vec<&str> = line.split('\t').collect();
        if let [name, median, p99] = parts[..] {
            let unit = if name.ends_with("_us") { "us" } else { "pages" };
            println!("in-process {name:<24} median {median:>7} {unit:<5}  p99 {p99:>7} {unit}");
            in_process.insert(name.to_owned(), serde_json::json!({"median": median.parse::<f64>()?, "p99": p99.parse::<f64>()?}));
        }
    }
    let report = serde_json::json!({
        "runs": runs,
        "statistic": "median wall time and peak RSS of whole processes; in-process: median and p99 over fresh instances",
        "pylon_sha256": built.manifest.pylon_sha256,
        "cases": rows,
        "in_process_instances": INSTANCES,
        "in_process": in_process,
    });
    let out = crate::helpers::runner::target_dir(layout).join("pylon-bench.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("report: {}", out.display());
    Ok(())
}

/// The second start-up case: what a typical program imports first.
const IMPORTS: &str = "import json, re, sqlite3, zlib, decimal, datetime";
/// Fresh instances measured in one process.
const INSTANCES: usize = 1000;

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

/// Wall time and peak resident set (KiB) of one process, from `wait4`.
/// Wall time, peak RSS and the private (anonymous) RSS at exit, in KiB, of one run of `exe`.
/// Peak RSS counts pages of files mapped, shared with other processes; for pylon that is
/// mostly the compiled file, and it moves with how much of it is in the page cache.
///
/// Not `ru_maxrss`: Linux records the parent's high-water mark into the child at `exec`,
/// so a child of this large process would report this one's. Instead the child is traced
/// (`PTRACE_O_TRACEEXIT`) and its own `VmHWM` read from `/proc` when it stops on the way out.
fn time_rss(exe: &Path, args: &[&str]) -> Result<(Duration, u64, u64)> {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(exe);
    command.args(args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    // SAFETY: ptrace(TRACEME) is async-signal-safe and touches no memory of ours.
    unsafe {
        command.pre_exec(|| {
            if libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    let child = command.spawn().with_context(|| format!("cannot run {}", exe.display()))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut memory_kib = None;
    loop {
        // SAFETY: `pid` is our child; `status` is a valid out-parameter.
        ensure!(unsafe { libc::waitpid(pid, &mut status, 0) } == pid, "waitpid failed for {}", exe.display());
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            break;
        }
        let mut signal = 0;
        if libc::WIFSTOPPED(status) {
            let sig = libc::WSTOPSIG(status);
            let event = (status >> 16) & 0xff;
            if event == libc::PTRACE_EVENT_EXIT {
                memory_kib = status_kib(pid, "VmHWM:").zip(status_kib(pid, "RssAnon:"));
            } else if sig == libc::SIGTRAP && event == 0 {
                // The stop after exec: from here on, stop once more on the way out.
                unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, libc::PTRACE_O_TRACEEXIT as libc::c_long) };
            } else {
                signal = sig;
            }
        }
        // SAFETY: resumes our stopped tracee, passing on a signal it was stopped by.
        unsafe { libc::ptrace(libc::PTRACE_CONT, pid, 0, signal as libc::c_long) };
    }
    let took = start.elapsed();
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("{} {} failed (status {status})", exe.display(), args.join(" "));
    }
    let (peak, anon) = memory_kib.with_context(|| format!("no VmHWM/RssAnon read for {}", exe.display()))?;
    Ok((took, peak, anon))
}

/// A `/proc/PID/status` field of a live (here: exiting) process, in KiB.
fn status_kib(pid: libc::pid_t, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median<T: Ord + Copy>(mut v: Vec<T>) -> T {
    v.sort();
    v[v.len() / 2]
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `cargo xtask bench`.
pub fn command(runs: usize) -> Result<()> {
    let layout = Layout::from_env()?;
    let args = BuildArgs::default();
    let built = build::build(&layout, &args)?;
    let runner = runner::build(&layout)?;
    run(&layout, &built, &runner, runs)?;
    // In-pylon measurements, once per provider of each dynlink id.
    let mut variants = vec![("plan".to_owned(), layout.profile_dir(Profile::Release).join("pylon.wasm"))];
    if let Some(dynlink) = &built.manifest.dynlink {
        let (caps, exts) = caps::discover(&layout.root)?;
        let plan = crate::stages::dynlink::Plan::load(&layout.root, std::path::Path::new(&dynlink.plan))?.for_exts(&caps, &exts)?;
        variants[0].0 = plan.serve.iter().map(|(id, p)| format!("{id}={p}")).collect::<Vec<_>>().join(",");
        for swap in crate::stages::dynlink::write_swaps(&layout.root, &plan, &caps)? {
            let args = BuildArgs { plan: Some(swap.plan.clone()), ..BuildArgs::default() };
            build::build(&layout, &args)?;
            variants.push((format!("{}={}", swap.id, swap.to), build::output_dir(&layout, &args).join("pylon.wasm")));
        }
    }
    in_pylon(&layout, &runner, &variants)?;
    embedding(&layout)
}

/// `embed-kv --bench`: what an application embedding pylon sees — ns per call by linkage
/// (typed host, bridge, static cap, plain Python) in one sandbox, sandboxes per second on
/// this machine's threads, memory per live sandbox, and 100 concurrent async host calls.
fn embedding(layout: &Layout) -> Result<()> {
    let step = Step::start("embedding: cargo run --release -p embed-kv -- --bench");
    let wasm = layout.profile_dir(Profile::Release).join("pylon.wasm");
    let out = duct::cmd(runner::cargo(), ["run", "--release", "--quiet", "-p", "embed-kv", "--", "--bench"])
        .dir(&layout.root)
        .env("PYLON_WASM", &wasm)
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .run()?;
    step.done();
    ensure!(out.status.success(), "embed-kv --bench failed:\n{}", String::from_utf8_lossy(&out.stderr));
    println!("{:<52} {:>10} unit", "embedding (median where repeated)", "value");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let [name, value, unit] = line.split('\t').collect::<Vec<_>>()[..] {
            println!("{name:<52} {value:>10} {unit}");
        }
    }
    Ok(())
}
