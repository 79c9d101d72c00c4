//! `pylon`: runs CPython 3.13 compiled to a WASI command component (`build/pylon.wasm`) on
//! wasmtime, with a python-like command line and a deny-by-default sandbox. A thin client
//! of the `pylon` library: it parses arguments and maps the outcome to an exit status.
//!
//! Exit status: Python's own (0..=255), 2 for runner usage/setup errors (like CPython's
//! usage errors), 124/125/126 for the time, memory and output limits, 134 for wasm traps
//! (CPython's `abort()` is a trap under WASI), 1 for other host-side failures while running.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Result, bail};

use cli::{Command, Options};
use pylon::{CompiledCode, Output, Program, Runtime, Sandbox, Stdin};

/// Keep in sync with the `=` pin in Cargo.toml (only used for `--version`).
const WASMTIME_VERSION: &str = "50.0.1";

fn main() -> ExitCode {
    let code = real_main();
    // Guest output goes through Rust's (line-buffered) stdout; make sure nothing is lost.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    ExitCode::from((code & 0xff) as u8)
}

fn real_main() -> i32 {
    let mut args = Vec::new();
    for (i, a) in std::env::args_os().skip(1).enumerate() {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => {
                // WASI arguments are Unicode strings; there is no way to pass raw bytes.
                eprintln!("pylon: argument {} is not valid UTF-8: {}", i + 1, a.to_string_lossy());
                return 2;
            }
        }
    }
    let opts = match cli::parse(&args) {
        Ok(Command::Help) => {
            print!("{}", cli::usage());
            return 0;
        }
        Ok(Command::Version) => {
            println!(
                "pylon {} (wasmtime {WASMTIME_VERSION}; runs CPython 3.13 as a WASI component)",
                env!("CARGO_PKG_VERSION")
            );
            return 0;
        }
        Ok(Command::Precompile(wasm)) => return precompile(wasm.as_deref()),
        Ok(Command::Run(o)) => o,
        Err(e) => {
            eprintln!("pylon: {e}\nTry `pylon --help` for more information.");
            return 2;
        }
    };
    // Epoch checks cost pure-Python speed: compiled in only when a time limit needs them.
    let mut builder = Runtime::<()>::builder().lazy().interruptible(opts.timeout.is_some());
    if let Some(wasm) = &opts.wasm {
        builder = builder.component(wasm);
    }
    let runtime = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pylon: {e:#}");
            return 2;
        }
    };
    if let Some(n) = bench_instances() {
        return match bench(&runtime, &opts, n) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("pylon: {e:#}");
                2
            }
        };
    }
    let sandbox = match sandbox(&runtime, &opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pylon: {e:#}");
            return 2;
        }
    };
    let program = Program::CommandLine { args: opts.python_args.clone(), script: opts.script_index };
    match sandbox.run_blocking(program) {
        Ok(outcome) => {
            if let Some(stopped) = &outcome.stopped {
                let _ = std::io::stdout().flush();
                eprintln!("pylon: {stopped}");
            }
            outcome.exit_code
        }
        Err(e) => {
            eprintln!("pylon: {e:#}");
            2
        }
    }
}

/// `--precompile`: the component and the cold core beside it, compiled into the cache (or
/// found there), so that the first run after a build does not compile for seconds.
fn precompile(wasm: Option<&str>) -> i32 {
    match pylon::precompile(wasm.map(std::path::Path::new)) {
        Ok(done) => {
            for (path, interruptible, how, took) in done {
                let what = match how {
                    CompiledCode::Cached => "cached",
                    CompiledCode::Compiled => "compiled",
                    CompiledCode::Uncached => "compiled (no cache directory: nothing kept)",
                };
                let kind = if interruptible { " (interruptible, for time limits)" } else { "" };
                println!("pylon: {what} {}{kind} in {took:.1?}", path.display());
            }
            0
        }
        Err(e) => {
            eprintln!("pylon: {e:#}");
            2
        }
    }
}

/// The sandbox the options describe: the host's stdio, and only the mounts, environment
/// and limits given.
fn sandbox(runtime: &Runtime, opts: &Options) -> Result<Sandbox<()>> {
    let mut s = runtime
        .sandbox()
        .stdin(Stdin::Inherit)
        .stdout(Output::Inherit)
        .stderr(Output::Inherit)
        .allow_net(opts.allow_net)
        .no_snapshot(opts.no_snapshot);
    for m in &opts.mounts {
        let opt = if m.read_only { "--dir-ro" } else { "--dir" };
        let label = if m.guest == m.host { format!("{opt} {}", m.host) } else { format!("{opt} {}::{}", m.host, m.guest) };
        s = s.mount_labeled(label, &m.host, &m.guest, m.read_only);
    }
    for v in &opts.env {
        match &v.value {
            Some(value) => s = s.env(&v.name, value),
            // `--env NAME`: copy from the host if set; silently skip otherwise.
            None => match std::env::var(&v.name) {
                Ok(value) => s = s.env(&v.name, value),
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => bail!("--env {}: the host value is not valid UTF-8", v.name),
            },
        }
    }
    if let Some(cwd) = &opts.cwd {
        s = s.cwd(cwd);
    }
    if let Some(t) = opts.timeout {
        s = s.timeout(t);
    }
    if let Some(m) = opts.max_memory {
        s = s.max_memory(m);
    }
    Ok(s)
}

/// `PYLON_BENCH_INSTANCES=N`: the in-process measurement of `cargo xtask bench` — N fresh
/// sandboxes of the loaded component in this process, each running the program to its end.
fn bench_instances() -> Option<usize> {
    std::env::var("PYLON_BENCH_INSTANCES").ok()?.parse().ok().filter(|n| *n > 0)
}

/// Runs `n` sandboxes one after another and prints, on stderr, the median and p99 of
/// instantiate and of instantiate + run, in microseconds (`instances<TAB>...` lines).
fn bench(runtime: &Runtime, opts: &Options, n: usize) -> Result<i32> {
    let tokio = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (mut inst, mut total, mut faults) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let faults_before = minor_faults();
        let program = Program::CommandLine { args: opts.python_args.clone(), script: opts.script_index };
        let outcome = tokio.block_on(sandbox(runtime, opts)?.run(program))?;
        if !outcome.success() {
            eprintln!("pylon: bench instance failed: {:?}", outcome.stopped);
            return Ok(outcome.exit_code.max(1));
        }
        inst.push(outcome.instantiate);
        total.push(outcome.elapsed);
        // Each minor fault is a page first touched by this instance: copied from the
        // snapshot's image on write, or zero-filled.
        faults.push(minor_faults().saturating_sub(faults_before));
    }
    let stat = |v: &mut Vec<std::time::Duration>, q: f64| {
        v.sort();
        v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e6
    };
    eprintln!("instances\t{n}");
    eprintln!("instantiate_us\t{:.0}\t{:.0}", stat(&mut inst, 0.5), stat(&mut inst, 0.99));
    eprintln!("instantiate_and_run_us\t{:.0}\t{:.0}", stat(&mut total, 0.5), stat(&mut total, 0.99));
    faults.sort();
    eprintln!("minor_faults\t{}\t{}", faults[n / 2], faults[((n - 1) as f64 * 0.99).round() as usize]);
    Ok(0)
}

/// This process's minor page faults so far (`/proc/self/stat`, field 10); 0 where unknown.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces: count from the closing parenthesis.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace().nth(7).and_then(|f| f.parse().ok()).unwrap_or(0)
}
