//! `pylon`: runs CPython 3.13 compiled to a WASI command component (`build/pylon.wasm`) on
//! wasmtime, with a python-like command line and a deny-by-default sandbox.
//!
//! Exit status: Python's own (0..=255 when the component's adapter reports it through
//! `wasi:cli/exit.exit-with-code`; only 0/1 through the stock adapter's `exit(result)`), 2 for
//! runner usage/setup errors (like CPython's usage errors), 134 for wasm traps (CPython's
//! `abort()` is a trap under WASI), 1 for other host-side failures while running.

mod cache;
mod cli;
mod devnull;
mod guard;
mod limits;
mod locate;
mod root;
mod run;
mod start;
mod stdio;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use cli::{Command, Options};
use run::{Ended, Guest, Preopen};

/// Keep in sync with the `=` pin in Cargo.toml (only used for `--version`).
const WASMTIME_VERSION: &str = "50.0.1";
/// Where the stdlib directory (`lib/` next to the component) appears in the guest.
const GUEST_STDLIB: &str = "/usr/local/lib";

fn main() -> ExitCode {
    let code = real_main();
    // Guest output goes through Rust's (line-buffered) stdout; make sure nothing is lost.
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    ExitCode::from((code & 0xff) as u8)
}

/// `--precompile`: the component and the cold core beside it, compiled into the cache (or
/// found there), so that the first run after a build does not compile for seconds.
fn precompile(wasm: Option<&str>) -> anyhow::Result<()> {
    let component = locate::find_component(wasm)?;
    let engine = run::engine()?;
    let mut cache = cache::Cache::new(cache::default_dir());
    for path in std::iter::once(&component.wasm).chain(component.cold.as_ref()) {
        let started = std::time::Instant::now();
        let (_, outcome) = cache.load(&engine, path)?;
        let what = match outcome {
            cache::Outcome::Hit | cache::Outcome::Resealed => "cached",
            cache::Outcome::Compiled => "compiled",
            cache::Outcome::Uncached => "compiled (no cache directory: nothing kept)",
        };
        println!("pylon: {what} {} in {:.1?}", path.display(), started.elapsed());
    }
    Ok(())
}

fn real_main() -> i32 {
    let mut args = Vec::new();
    for (i, a) in std::env::args_os().skip(1).enumerate() {
        match a.into_string() {
            Ok(s) => args.push(s),
            Err(a) => {
                // WASI arguments are Unicode strings; there is no way to pass raw bytes.
                eprintln!(
                    "pylon: argument {} is not valid UTF-8: {}",
                    i + 1,
                    a.to_string_lossy()
                );
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
        Ok(Command::Precompile(wasm)) => {
            return match precompile(wasm.as_deref()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("pylon: {e:#}");
                    2
                }
            };
        }
        Ok(Command::Run(o)) => o,
        Err(e) => {
            eprintln!("pylon: {e}\nTry `pylon --help` for more information.");
            return 2;
        }
    };
    let guest = match prepare(opts) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("pylon: {e:#}");
            return 2;
        }
    };

    // Run on a thread with a big stack: the guest's wasm frames live on the native stack.
    let worker = std::thread::Builder::new()
        .name("pylon-guest".into())
        .stack_size(run::THREAD_STACK)
        .spawn(move || {
            let mut cache = cache::Cache::new(guest.cache_dir.clone());
            run::run(guest, &mut cache)
        });
    let result = match worker {
        Ok(handle) => match handle.join() {
            Ok(r) => r,
            // The panic message has already been printed by the default hook.
            Err(_) => return 101,
        },
        Err(e) => {
            eprintln!("pylon: cannot start the guest thread: {e}");
            return 2;
        }
    };
    match result {
        Ok(Ended::Exit(code)) => code,
        Ok(Ended::Crashed { message, trap }) => {
            let _ = std::io::stdout().flush();
            if trap {
                eprintln!("pylon: Python crashed (WebAssembly trap): {message}");
                run::TRAP_EXIT
            } else {
                eprintln!("pylon: error while running Python: {message}");
                1
            }
        }
        Err(e) => {
            eprintln!("pylon: {e:#}");
            2
        }
    }
}

/// Resolves the component, argv, environment and mounts.
fn prepare(opts: Options) -> Result<Guest> {
    let component = locate::find_component(opts.wasm.as_deref())?;

    let mut preopens = vec![Preopen {
        host: component.stdlib.clone(),
        guest: GUEST_STDLIB.to_owned(),
        read_only: true,
    }];
    // (canonical host dir, guest path) of each user mount, to spot identity mappings.
    let mut user_mounts = Vec::new();
    for m in &opts.mounts {
        let opt = if m.read_only { "--dir-ro" } else { "--dir" };
        let host = Path::new(&m.host);
        let canon = host
            .canonicalize()
            .with_context(|| format!("{opt} {}", m.host))?;
        if !canon.is_dir() {
            bail!("{opt} {}: not a directory", m.host);
        }
        user_mounts.push((canon.clone(), m.guest.clone()));
        preopens.push(Preopen {
            host: canon,
            guest: root::fold(&m.guest),
            read_only: m.read_only,
        });
    }

    let cache_dir = cache::default_dir();
    let root = root::GuestRoot::prepare(cache_dir.as_deref())
        .context("cannot prepare the guest's root directory")?;
    let mut protected = vec![
        guard::Protected::new("the Python component", &component.wasm),
        guard::Protected::new("the Python component", &component.named),
        guard::Protected::new("the Python stdlib", &component.stdlib),
    ];
    if let Some(cold) = &component.cold {
        protected.push(guard::Protected::new("the Python component", cold));
    }
    if let Some(dir) = &cache_dir {
        protected.push(guard::Protected::new(guard::CACHE, dir));
    }
    if !root.is_private() {
        protected.push(guard::Protected::new(guard::ROOT, &root.dir));
    }
    if let Ok(exe) = std::env::current_exe() {
        protected.push(guard::Protected::new("the pylon runner", &exe));
    }
    guard::check_writable_mounts(
        opts.mounts
            .iter()
            .zip(&preopens[1..])
            .filter(|(m, _)| !m.read_only)
            .map(|(m, p)| {
                let written = if m.guest == m.host {
                    format!("--dir {}", m.host)
                } else {
                    format!("--dir {}::{}", m.host, m.guest)
                };
                (written, p.host.as_path())
            }),
        &protected,
    )?;

    let mut python_args = opts.python_args;
    if let Some(i) = opts.script_index {
        let script = script_path(&python_args[i])?;
        // A file: its directory (so sibling modules import, as sys.path[0] is that directory).
        // A directory with `__main__.py`: just that directory.
        let dir = if script.is_dir() {
            script.clone()
        } else {
            script.parent().unwrap_or(Path::new("/")).to_path_buf()
        };
        let dir_str = dir
            .to_str()
            .with_context(|| format!("script directory {} is not valid UTF-8", dir.display()))?
            .to_owned();
        // Already visible at the same path through an identity `--dir`? Then keep the user's
        // mount (which may be writable) and don't shadow it with a read-only one.
        let covered = user_mounts
            .iter()
            .any(|(host, guest)| Path::new(guest) == host.as_path() && dir.starts_with(host));
        if !covered {
            preopens.push(Preopen {
                host: dir,
                guest: dir_str,
                read_only: true,
            });
        }
        python_args[i] = script
            .to_str()
            .context("script path is not valid UTF-8")?
            .to_owned();
    }

    // The runner's `/` unless the user mounts one; else its `/dev` unless the user mounts
    // one too (see `root` and `devnull`). First, so that any mount at the same guest path
    // would win in wasi-libc (the last registered does), though none is added then.
    let mounted = |key: &str| preopens.iter().any(|p| root::preopen_key(&p.guest) == key);
    let runner_mount = if !mounted("") {
        Some((root.dir.clone(), "/"))
    } else if !mounted(root::DEV) {
        Some((root.dev(), "/dev"))
    } else {
        None
    };
    if let Some((host, guest)) = runner_mount {
        let preopen = Preopen {
            host,
            guest: guest.to_owned(),
            read_only: true,
        };
        preopens.insert(0, preopen);
    }

    let mut env = Vec::new();
    for v in opts.env {
        match v.value {
            Some(value) => env.push((v.name, value)),
            // `--env NAME`: copy from the host if set; silently skip otherwise.
            None => match std::env::var(&v.name) {
                Ok(value) => env.push((v.name, value)),
                Err(std::env::VarError::NotPresent) => {}
                Err(std::env::VarError::NotUnicode(_)) => {
                    bail!("--env {}: the host value is not valid UTF-8", v.name)
                }
            },
        }
    }

    if let Some(cwd) = &opts.cwd {
        let cwd = guest_dir(cwd, &preopens, &root)?;
        env.push(("PWD".to_owned(), cwd));
    }

    let mut argv = Vec::with_capacity(python_args.len() + 1);
    argv.push(cli::PYTHON_ARGV0.to_owned());
    argv.extend(python_args);
    limits::check(&argv, &env, preopens.len())?;
    // The snapshot, unless this run needs the cold core (see `start`).
    let (wasm, start) = match &component.cold {
        None => (component.wasm, run::Start::Only),
        Some(cold) if opts.no_snapshot => (cold.clone(), run::Start::Cold("--no-snapshot".to_owned())),
        Some(cold) => {
            let tty = std::io::IsTerminal::is_terminal(&std::io::stdin());
            match start::cold_reason(&argv[1..], &env, tty) {
                Some(reason) => (cold.clone(), run::Start::Cold(reason)),
                None => (component.wasm, run::Start::Snapshot),
            }
        }
    };
    let null = devnull::NullDevice {
        root: root.root_id,
        dev: root.dev_id,
        allow_blocking: run::ALLOW_BLOCKING,
    };
    Ok(Guest {
        wasm,
        start,
        cache_dir,
        _root: root,
        null,
        argv,
        env,
        preopens,
        allow_net: opts.allow_net,
    })
}

/// Canonical absolute path of the script, or CPython's own wording when it is missing.
fn script_path(arg: &str) -> Result<PathBuf> {
    Path::new(arg).canonicalize().or_else(|e| {
        let shown = std::path::absolute(arg).unwrap_or_else(|_| PathBuf::from(arg));
        let errno = e
            .raw_os_error()
            .map(|n| format!("[Errno {n}] "))
            .unwrap_or_default();
        let msg = e.to_string();
        // Drop Rust's " (os error N)" suffix; CPython shows "[Errno N] message".
        let msg = msg.split(" (os error").next().unwrap_or(&msg);
        bail!("can't open file '{}': {errno}{msg}", shown.display())
    })
}

/// `--cwd GUEST` checked against the mounts the way wasi-libc will resolve it (folded, then
/// the longest matching preopen name, the last registered among equal ones): it must be a
/// directory on the host inside that mount. Returned folded (`root::fold`), the form the
/// guest's `os.getcwd()` will report.
fn guest_dir(cwd: &str, preopens: &[Preopen], runner: &root::GuestRoot) -> Result<String> {
    let shown = root::fold(cwd);
    let normal = &shown[1..];
    let mut best: Option<(&Preopen, &str)> = None;
    for p in preopens.iter().rev() {
        let key = root::preopen_key(&p.guest);
        let rest = if key.is_empty() {
            Some(normal)
        } else {
            normal
                .strip_prefix(key)
                .filter(|r| r.is_empty() || r.starts_with('/'))
        };
        if let Some(rest) = rest
            && best.is_none_or(|(b, _)| key.len() > root::preopen_key(&b.guest).len())
        {
            best = Some((p, rest.trim_start_matches('/')));
        }
    }
    let not_mounted = || {
        anyhow::anyhow!(
            "--cwd {cwd}: {shown} is not a directory inside any mount; mount one there with \
             --dir HOST::{shown}"
        )
    };
    let Some((mount, rest)) = best else {
        return Err(not_mounted());
    };
    let host = mount.host.join(rest);
    // Inside the mount after resolving symlinks, as the guest's own lookups must stay.
    let inside = host
        .canonicalize()
        .ok()
        .filter(|h| h.is_dir() && mount.host.canonicalize().is_ok_and(|m| h.starts_with(m)));
    match inside {
        Some(_) => Ok(shown),
        // The runner's own directories hold only its mount points: say what to mount.
        None if mount.host == runner.dir || mount.host == runner.dev() => Err(not_mounted()),
        None => bail!(
            "--cwd {cwd}: {} (the mount at {}) is not a directory",
            host.display(),
            mount.guest
        ),
    }
}
