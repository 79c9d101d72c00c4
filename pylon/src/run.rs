//! Running the component: engine, WASI context and the exit-status protocol.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::cache::{Cache, Outcome};
use crate::stdio::HostOutput;

/// Maximum native stack the guest may use. CPython's own WASI test runner uses
/// `max-wasm-stack=8388608`; wasmtime's default (512 KiB) makes deep but legal Python recursion
/// trap instead of raising `RecursionError`.
const MAX_WASM_STACK: usize = 8 << 20;
/// The guest runs on a dedicated thread whose stack comfortably exceeds `MAX_WASM_STACK`
/// (wasmtime needs headroom for host calls on top of the guest's frames). Untouched stack
/// pages cost nothing.
pub const THREAD_STACK: usize = MAX_WASM_STACK * 4;

/// Exit status for a wasm trap, including CPython's `abort()` on a fatal error (wasi-libc
/// implements `abort` as `unreachable`). 134 = 128 + SIGABRT, what a native python's abort gives
/// in a shell and what `wasmtime run` uses.
pub const TRAP_EXIT: i32 = 134;

/// wasmtime-wasi does filesystem calls on the guest's thread (see `wasi_ctx`); the null
/// device's descriptors (`devnull`) are made the same way.
pub const ALLOW_BLOCKING: bool = true;

/// A directory to preopen, already resolved by the caller.
pub struct Preopen {
    pub host: PathBuf,
    pub guest: String,
    pub read_only: bool,
}

/// Which core a run starts, and why (reported with `PYLON_DEBUG_CACHE=1`).
pub enum Start {
    /// The pre-initialized snapshot.
    Snapshot,
    /// The cold core beside it, for this reason.
    Cold(String),
    /// A component without a snapshot beside it.
    Only,
}

/// Everything the guest gets to see.
pub struct Guest {
    pub wasm: PathBuf,
    pub start: Start,
    /// Compiled-code cache; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub preopens: Vec<Preopen>,
    pub allow_net: bool,
    /// The directory behind the guest's `/` (or `/dev`); kept until the run is over, since a
    /// private one is removed when dropped.
    pub _root: crate::root::GuestRoot,
    pub null: crate::devnull::NullDevice,
}

/// How the guest ended, as far as the process exit status is concerned.
pub enum Ended {
    /// `exit-with-code(n)` → n, `exit(ok|err)` → 0|1, normal return → 0.
    Exit(i32),
    /// Trap or host error: message already formatted, exit status chosen by `main`.
    Crashed { message: String, trap: bool },
}

struct Host {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// The one engine configuration of every run (and of `--precompile`, whose output it loads).
pub fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.max_wasm_stack(MAX_WASM_STACK);
    // Unused (we run synchronously), but wasmtime-wasi compiles in wasmtime's `async` feature
    // and wasmtime then insists that fiber stacks could hold `max_wasm_stack`.
    config.async_stack_size(MAX_WASM_STACK + (1 << 20));
    // The snapshot's memory image (CPython's heap after init, tens of MiB) is mapped
    // copy-on-write from the compiled file only when wasmtime treats it as dense; past the
    // default 16 MiB it would be copied into every instance instead. (Part of
    // `cache::ENGINE_SETTINGS`: wasmtime's compatibility hash does not cover it.)
    config.memory_guaranteed_dense_image_size(64 << 20);
    Engine::new(&config)
        .map_err(anyhow::Error::from)
        .context("creating the wasmtime engine")
}

fn wasi_ctx(g: &Guest) -> Result<WasiCtx> {
    let mut b = WasiCtxBuilder::new();
    // Only what the user granted: no inherited env, no host dirs unless preopened, no network.
    b.inherit_stdin()
        .stdout(HostOutput::Stdout)
        .stderr(HostOutput::Stderr)
        // Synchronous embedding: do filesystem calls on this thread instead of bouncing each
        // one through tokio's blocking pool (CPython start-up does hundreds of stats/opens).
        .allow_blocking_current_thread(ALLOW_BLOCKING)
        .args(&g.argv)
        .envs(&g.env);
    for p in &g.preopens {
        let perms = if p.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        b.preopened_dir(&p.host, &p.guest, perms)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("cannot mount {} at {}", p.host.display(), p.guest))?;
    }
    if g.allow_net {
        b.inherit_network()
            .allow_ip_name_lookup(true)
            .allow_tcp(true)
            .allow_udp(true);
    } else {
        b.allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false);
    }
    Ok(b.build())
}

/// Loads (from cache or by compiling), instantiates and runs the component.
/// `Err` means we never got to run it (setup problem).
pub fn run(g: Guest, cache: &mut Cache) -> Result<Ended> {
    let debug = std::env::var_os("PYLON_DEBUG_CACHE").is_some_and(|v| v != "0" && !v.is_empty());
    let t0 = Instant::now();
    let engine = engine()?;
    let (component, outcome) = cache.load(&engine, &g.wasm)?;
    let loaded = t0.elapsed();
    if debug {
        match &g.start {
            Start::Snapshot => eprintln!("pylon: start: the pre-initialized snapshot"),
            Start::Cold(reason) => eprintln!("pylon: start: the cold core ({reason})"),
            Start::Only => eprintln!("pylon: start: {} (no snapshot beside it)", g.wasm.display()),
        }
        let what = match outcome {
            Outcome::Hit => "cache hit",
            Outcome::Resealed => "cache hit (re-hashed and re-sealed)",
            Outcome::Compiled => "compiled and cached",
            Outcome::Uncached => "compiled (no cache)",
        };
        eprintln!(
            "pylon: {what}: {} in {:.1?}",
            g.wasm.display(),
            t0.elapsed()
        );
    }

    let mut linker = Linker::<Host>::new(&engine);
    // The sync p2 linker includes `wasi:cli/exit.exit-with-code` (stable since WASI 0.2.12, no
    // unstable LinkOptions needed). The stock preview1 command adapter 50.0.1 only imports
    // `exit(result)`, so its `proc_exit(n)` collapses every n != 0 to 1; a component built
    // with an adapter whose `proc_exit` calls `exit-with-code(n)` gets full 0..=255 statuses
    // here without any runner change. Both surface as `I32Exit`.
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .map_err(anyhow::Error::from)
        .context("linking WASI")?;
    crate::devnull::shadow(&mut linker, g.null)
        .map_err(anyhow::Error::from)
        .context("linking the guest's /dev/null")?;
    // Type-checked and resolved once; each instance then only allocates and initializes.
    let pre = linker
        .instantiate_pre(&component)
        .and_then(CommandPre::new)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("linking {}", g.wasm.display()))?;
    if let Some(n) = bench_instances() {
        return bench(&engine, &pre, &g, n);
    }
    let mut store = Store::new(
        &engine,
        Host {
            ctx: wasi_ctx(&g)?,
            table: ResourceTable::new(),
        },
    );
    let command = pre
        .instantiate(&mut store)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("instantiating {}", g.wasm.display()))?;
    let instantiated = t0.elapsed();
    if debug {
        eprintln!("pylon: ready to run after {instantiated:.1?}");
    }

    let ended = match command.wasi_cli_run().call_run(&mut store) {
        Ok(Ok(())) => Ended::Exit(0),
        Ok(Err(())) => Ended::Exit(1),
        Err(e) => classify(e),
    };
    if debug {
        eprintln!(
            "pylon: timings: load {loaded:.1?}, instantiate {:.1?}, resume or start + program {:.1?}",
            instantiated - loaded,
            t0.elapsed() - instantiated
        );
    }
    Ok(ended)
}

/// `PYLON_BENCH_INSTANCES=N`: the in-process measurement of `cargo xtask bench` — N fresh
/// instances of the loaded component in this process, each running the program to its end.
fn bench_instances() -> Option<usize> {
    std::env::var("PYLON_BENCH_INSTANCES").ok()?.parse().ok().filter(|n| *n > 0)
}

/// Runs `n` instances one after another and prints, on stderr, the median and p99 of
/// instantiate and of instantiate + run, in microseconds (`instances<TAB>...` lines).
fn bench(engine: &Engine, pre: &CommandPre<Host>, g: &Guest, n: usize) -> Result<Ended> {
    let (mut inst, mut total) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut faults = Vec::with_capacity(n);
    for _ in 0..n {
        let faults_before = minor_faults();
        let t = Instant::now();
        let mut store = Store::new(engine, Host { ctx: wasi_ctx(g)?, table: ResourceTable::new() });
        let command = pre.instantiate(&mut store).map_err(anyhow::Error::from)?;
        inst.push(t.elapsed());
        match command.wasi_cli_run().call_run(&mut store) {
            Ok(Ok(())) => {}
            Ok(Err(())) => return Ok(Ended::Exit(1)),
            Err(e) => match classify(e) {
                Ended::Exit(0) => {}
                other => return Ok(other),
            },
        }
        total.push(t.elapsed());
        // Each minor fault is a page first touched by this instance: copied from the
        // snapshot's image on write, or zero-filled.
        faults.push(minor_faults().saturating_sub(faults_before));
        drop(store);
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
    Ok(Ended::Exit(0))
}

/// This process's minor page faults so far (`/proc/self/stat`, field 10); 0 where unknown.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces: count from the closing parenthesis.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    rest.split_whitespace().nth(7).and_then(|f| f.parse().ok()).unwrap_or(0)
}

fn classify(e: wasmtime::Error) -> Ended {
    if let Some(exit) = e.downcast_ref::<I32Exit>() {
        return Ended::Exit(exit.0);
    }
    let trap = e.downcast_ref::<wasmtime::Trap>().is_some();
    // The root cause ("wasm trap: ...") plus the wasm backtrace, which names CPython's C
    // functions; not `{:?}`, which would add the host's Rust backtrace under RUST_BACKTRACE.
    let mut message = e.root_cause().to_string();
    if let Some(bt) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
        // The component is stripped, so frames are mostly `<wasm function N>`: keep the
        // innermost ones, which locate the crash, and don't bury the message.
        const MAX_LINES: usize = 16;
        let text = bt.to_string();
        let lines: Vec<&str> = text.lines().collect();
        message.push('\n');
        message.push_str(&lines[..lines.len().min(MAX_LINES)].join("\n"));
        if lines.len() > MAX_LINES {
            message.push_str(&format!(
                "\n    ... {} more frames",
                lines.len() - MAX_LINES
            ));
        }
    }
    Ended::Crashed { message, trap }
}
