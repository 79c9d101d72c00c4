//! One run: a fresh instance with its own mounts, environment, stdio and limits.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryInputPipe, SinkOutputStream};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder};

use crate::bridge::BridgeHost;
use crate::outcome::{Outcome, Start, Stopped};
use crate::runtime::{ALLOW_BLOCKING, GUEST_STDLIB, Runtime};
use crate::state::{MemoryLimiter, SandboxState};
use crate::stdio::{Captured, HostOutput, OutputLimitReached};
use crate::{guard, limits, root, start};

/// Guest path of the interpreter. CPython's getpath searches upward from `argv[0]`'s
/// directory for `lib/python3.13/os.py`, which is why the stdlib is mounted at `/usr/local/lib`.
pub(crate) const PYTHON_ARGV0: &str = "/usr/local/bin/python3.13";

/// What a sandbox runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// Python source, as `python -c`.
    Source(String),
    /// A module, as `python -m`.
    Module(String),
    /// A script file on the host; its directory is mounted read-only at the same path.
    Script(PathBuf),
    /// The program read from stdin, as `python -`.
    Stdin,
    /// A whole python command line after `argv[0]` (options included), as the `pylon` CLI
    /// passes it; `script` is the index of the script path in it, if one is run.
    CommandLine { args: Vec<String>, script: Option<usize> },
}

impl Program {
    /// `python -c SOURCE`.
    pub fn source(code: impl Into<String>) -> Program {
        Program::Source(code.into())
    }

    /// `python -m MODULE`.
    pub fn module(name: impl Into<String>) -> Program {
        Program::Module(name.into())
    }

    /// `python SCRIPT`.
    pub fn script(path: impl Into<PathBuf>) -> Program {
        Program::Script(path.into())
    }
}

/// Where the guest's stdout or stderr goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Kept in memory and returned in the [`Outcome`] (up to [`Sandbox::capture_limit`]).
    Capture,
    /// The host process's own stream.
    Inherit,
    /// Discarded.
    Discard,
}

/// What the guest reads from stdin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stdin {
    /// End of file at once.
    Empty,
    /// These bytes, then end of file.
    Bytes(Vec<u8>),
    /// The host process's stdin.
    Inherit,
}

struct Mount {
    host: PathBuf,
    guest: String,
    read_only: bool,
    /// How the user spelled it, for messages (`--dir X::Y` in the CLI).
    label: String,
}

/// A run being configured: create it with [`Runtime::sandbox`], then [`Sandbox::run`] (or
/// [`Sandbox::run_blocking`]). Deny by default: no host files, no host environment, no
/// network unless granted here.
pub struct Sandbox<U: 'static> {
    runtime: Runtime<U>,
    user: U,
    args: Vec<String>,
    env: Vec<(String, String)>,
    mounts: Vec<Mount>,
    cwd: Option<String>,
    stdin: Stdin,
    stdout: Output,
    stderr: Output,
    capture_limit: Option<usize>,
    timeout: Option<Duration>,
    max_memory: Option<u64>,
    allow_net: bool,
    no_snapshot: bool,
}

impl<U: Send + 'static> Sandbox<U> {
    pub(crate) fn new(runtime: Runtime<U>, user: U) -> Self {
        Sandbox {
            runtime,
            user,
            args: Vec::new(),
            env: Vec::new(),
            mounts: Vec::new(),
            cwd: None,
            stdin: Stdin::Empty,
            stdout: Output::Capture,
            stderr: Output::Capture,
            capture_limit: None,
            timeout: None,
            max_memory: None,
            allow_net: false,
            no_snapshot: false,
        }
    }

    /// Appends `sys.argv[1:]` arguments of the program.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable in the guest (none are inherited from the host).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Mounts the host directory `host` at `guest` (absolute), read-only or read-write.
    pub fn mount(self, host: impl Into<PathBuf>, guest: impl Into<String>, read_only: bool) -> Self {
        let (host, guest) = (host.into(), guest.into());
        let label = format!("mount {}::{guest}", host.display());
        self.mount_labeled(label, host, guest, read_only)
    }

    /// [`Sandbox::mount`], named `label` in error messages (the CLI passes its `--dir ...`).
    pub fn mount_labeled(mut self, label: impl Into<String>, host: impl Into<PathBuf>, guest: impl Into<String>, read_only: bool) -> Self {
        self.mounts.push(Mount { host: host.into(), guest: guest.into(), read_only, label: label.into() });
        self
    }

    /// Starts the guest in `dir` (absolute, inside a mount; default `/`).
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// What the guest reads from stdin (default: nothing).
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = stdin;
        self
    }

    /// Where stdout goes (default: captured).
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    /// Where stderr goes (default: captured).
    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = output;
        self
    }

    /// Stops the sandbox ([`Stopped::OutputLimit`]) when captured stdout or stderr passes
    /// `bytes`; what fit is kept. Default: no limit.
    pub fn capture_limit(mut self, bytes: usize) -> Self {
        self.capture_limit = Some(bytes);
        self
    }

    /// Stops the sandbox ([`Stopped::TimeLimit`]) after `limit`, counted from the start of
    /// instantiation, whether it computes or waits in a host or WASI call. Needs an
    /// interruptible runtime (the default; [`crate::RuntimeBuilder::interruptible`]).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Caps all linear memories together at `bytes`: past it, allocations fail, which
    /// Python raises as `MemoryError`.
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// Allows network access and name lookups.
    pub fn allow_net(mut self, allow: bool) -> Self {
        self.allow_net = allow;
        self
    }

    /// Starts the cold core instead of resuming the snapshot (runs with interpreter
    /// options, `PYTHON*` variables or the prompt start cold anyway).
    pub fn no_snapshot(mut self, cold: bool) -> Self {
        self.no_snapshot = cold;
        self
    }

    /// Runs `program` on this thread, on a current-thread tokio runtime of its own. Not
    /// from inside a tokio runtime: use [`Sandbox::run`] there.
    pub fn run_blocking(self, program: Program) -> Result<Outcome> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start a tokio runtime for the sandbox")?;
        rt.block_on(self.run(program))
    }

    /// Runs `program` to its end, or until a limit stops it. `Err` means it never started
    /// (a bad mount, a missing script, start-up data the adapter cannot hold, a component
    /// that does not load); everything after that is an [`Outcome`].
    pub async fn run(self, program: Program) -> Result<Outcome> {
        let debug = std::env::var_os("PYLON_DEBUG_CACHE").is_some_and(|v| v != "0" && !v.is_empty());
        let runtime = self.runtime.clone();
        let inner = &runtime.inner;
        if self.timeout.is_some() && !inner.interruptible {
            bail!("a sandbox timeout needs an interruptible runtime (RuntimeBuilder::interruptible(true)): this one cannot stop running code");
        }
        let prepared = self.prepare(program)?;
        let core = inner.core(matches!(prepared.start, Start::Cold(_)))?;
        if debug {
            match &prepared.start {
                Start::Snapshot => eprintln!("pylon: start: the pre-initialized snapshot"),
                Start::Cold(reason) => eprintln!("pylon: start: the cold core ({reason})"),
                Start::Only => eprintln!("pylon: start: {} (no snapshot beside it)", core.path.display()),
            }
            let what = match core.compiled {
                crate::CompiledCode::Cached => "cache hit",
                crate::CompiledCode::Compiled => "compiled and cached",
                crate::CompiledCode::Uncached => "compiled (no cache)",
            };
            eprintln!("pylon: {what}: {} (loaded and linked in {:.1?})", core.path.display(), core.load_time);
        }
        let started = Instant::now();
        let deadline = prepared.timeout.map(|t| started + t);
        let state = SandboxState::new(
            prepared.wasi,
            MemoryLimiter { limit: prepared.max_memory, ..Default::default() },
            BridgeHost(inner.bridge.clone()),
            prepared.user,
        );
        let mut store = Store::new(&inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Every tick: stop at the deadline, else let other sandboxes on this thread run.
        if inner.interruptible {
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |_| match deadline {
                Some(d) if Instant::now() >= d => Err(wasmtime::Error::new(TimeLimitReached)),
                _ => Ok(UpdateDeadline::Yield(1)),
            });
        }
        let mut instantiated = Duration::ZERO;
        let run = async {
            let command = core.pre.instantiate_async(&mut store).await?;
            instantiated = started.elapsed();
            command.wasi_cli_run().call_run(&mut store).await
        };
        // The epoch check stops running code; this also stops one waiting in a host call.
        let result = match prepared.timeout {
            Some(limit) => tokio::time::timeout(limit, run)
                .await
                .unwrap_or_else(|_| Err(wasmtime::Error::new(TimeLimitReached))),
            None => run.await,
        };
        let elapsed = started.elapsed();
        if debug {
            eprintln!("pylon: timings: instantiate {instantiated:.1?}, resume or start + program {:.1?}", elapsed - instantiated);
        }
        let limiter = &store.data().limiter;
        let (exit_code, stopped) = match result {
            Ok(Ok(())) => (0, None),
            Ok(Err(())) => (1, None),
            Err(e) => classify(e, prepared.timeout, limiter),
        };
        let peak_memory = limiter.peak;
        drop(store);
        Ok(Outcome {
            exit_code,
            stopped,
            stdout: prepared.captured_stdout.map(|c| c.take()).unwrap_or_default(),
            stderr: prepared.captured_stderr.map(|c| c.take()).unwrap_or_default(),
            start: prepared.start,
            peak_memory,
            elapsed,
            instantiate: instantiated,
        })
    }

    /// Resolves the program, mounts, environment and the core to start.
    fn prepare(self, program: Program) -> Result<Prepared<U>> {
        let inner = &self.runtime.inner;
        let component = &inner.component;
        let mut preopens = vec![Preopen { host: component.stdlib.clone(), guest: GUEST_STDLIB.to_owned(), read_only: true }];
        // (canonical host dir, guest path) of each user mount, to spot identity mappings.
        let mut user_mounts = Vec::new();
        for m in &self.mounts {
            let canon = m.host.canonicalize().with_context(|| format!("{}: {}", m.label, m.host.display()))?;
            if !canon.is_dir() {
                bail!("{}: not a directory", m.label);
            }
            user_mounts.push((canon.clone(), m.guest.clone()));
            preopens.push(Preopen { host: canon, guest: root::fold(&m.guest), read_only: m.read_only });
        }
        guard::check_writable_mounts(
            self.mounts
                .iter()
                .zip(&preopens[1..])
                .filter(|(m, _)| !m.read_only)
                .map(|(m, p)| (m.label.clone(), p.host.as_path())),
            &inner.protected,
        )?;

        let (mut python_args, script_index) = match program {
            Program::Source(code) => (vec!["-c".to_owned(), code], None),
            Program::Module(name) => (vec!["-m".to_owned(), name], None),
            Program::Stdin => (vec!["-".to_owned()], None),
            Program::Script(path) => (vec![path.to_str().context("script path is not valid UTF-8")?.to_owned()], Some(0)),
            Program::CommandLine { args, script } => (args, script),
        };
        python_args.extend(self.args);
        if let Some(i) = script_index {
            let script = script_path(&python_args[i])?;
            // A file: its directory (so sibling modules import, as sys.path[0] is that
            // directory). A directory with `__main__.py`: just that directory.
            let dir = if script.is_dir() { script.clone() } else { script.parent().unwrap_or(Path::new("/")).to_path_buf() };
            let dir_str = dir
                .to_str()
                .with_context(|| format!("script directory {} is not valid UTF-8", dir.display()))?
                .to_owned();
            // Already visible at the same path through an identity mount? Then keep the
            // user's mount (which may be writable) and don't shadow it with a read-only one.
            let covered = user_mounts.iter().any(|(host, guest)| Path::new(guest) == host.as_path() && dir.starts_with(host));
            if !covered {
                preopens.push(Preopen { host: dir, guest: dir_str, read_only: true });
            }
            python_args[i] = script.to_str().context("script path is not valid UTF-8")?.to_owned();
        }

        // The runner's `/` unless the user mounts one; else its `/dev` unless the user mounts
        // one too (see `root` and `devnull`). First, so that any mount at the same guest path
        // would win in wasi-libc (the last registered does), though none is added then.
        let root = &inner.root;
        let mounted = |key: &str| preopens.iter().any(|p| root::preopen_key(&p.guest) == key);
        let runner_mount = if !mounted("") {
            Some((root.dir.clone(), "/"))
        } else if !mounted(root::DEV) {
            Some((root.dev(), "/dev"))
        } else {
            None
        };
        if let Some((host, guest)) = runner_mount {
            preopens.insert(0, Preopen { host, guest: guest.to_owned(), read_only: true });
        }

        let mut env = self.env;
        if let Some(cwd) = &self.cwd {
            let cwd = guest_dir(cwd, &preopens, root)?;
            env.push(("PWD".to_owned(), cwd));
        }
        let mut argv = Vec::with_capacity(python_args.len() + 1);
        argv.push(PYTHON_ARGV0.to_owned());
        argv.extend(python_args);
        limits::check(&argv, &env, preopens.len())?;

        // The snapshot, unless this run needs the cold core (see `start`).
        let start = match &component.cold {
            None => Start::Only,
            Some(_) if self.no_snapshot => Start::Cold("--no-snapshot".to_owned()),
            Some(_) => {
                let tty = self.stdin == Stdin::Inherit && std::io::IsTerminal::is_terminal(&std::io::stdin());
                match start::cold_reason(&argv[1..], &env, tty) {
                    Some(reason) => Start::Cold(reason),
                    None => Start::Snapshot,
                }
            }
        };

        let mut b = WasiCtxBuilder::new();
        match self.stdin {
            Stdin::Empty => b.stdin(ClosedInputStream),
            Stdin::Bytes(bytes) => b.stdin(MemoryInputPipe::new(bytes)),
            Stdin::Inherit => b.inherit_stdin(),
        };
        let output = |which: Output, host: HostOutput, name: &'static str, b: &mut WasiCtxBuilder| match which {
            Output::Inherit => {
                if host == HostOutput::Stdout { b.stdout(host) } else { b.stderr(host) };
                None
            }
            Output::Discard => {
                if host == HostOutput::Stdout { b.stdout(SinkOutputStream) } else { b.stderr(SinkOutputStream) };
                None
            }
            Output::Capture => {
                let c = Captured::new(name, self.capture_limit);
                if host == HostOutput::Stdout { b.stdout(c.clone()) } else { b.stderr(c.clone()) };
                Some(c)
            }
        };
        let captured_stdout = output(self.stdout, HostOutput::Stdout, "stdout", &mut b);
        let captured_stderr = output(self.stderr, HostOutput::Stderr, "stderr", &mut b);
        b.allow_blocking_current_thread(ALLOW_BLOCKING).args(&argv).envs(&env);
        for p in &preopens {
            let perms = if p.read_only { FsPerms::ReadOnly } else { FsPerms::ReadWrite };
            b.preopened_dir(&p.host, &p.guest, perms)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot mount {} at {}", p.host.display(), p.guest))?;
        }
        if self.allow_net {
            b.inherit_network().allow_ip_name_lookup(true).allow_tcp(true).allow_udp(true);
        } else {
            b.allow_ip_name_lookup(false).allow_tcp(false).allow_udp(false);
        }
        Ok(Prepared {
            wasi: b.build(),
            start,
            user: self.user,
            timeout: self.timeout,
            max_memory: self.max_memory,
            captured_stdout,
            captured_stderr,
        })
    }
}

struct Preopen {
    host: PathBuf,
    guest: String,
    read_only: bool,
}

struct Prepared<U> {
    wasi: WasiCtx,
    start: Start,
    user: U,
    timeout: Option<Duration>,
    max_memory: Option<u64>,
    captured_stdout: Option<Captured>,
    captured_stderr: Option<Captured>,
}

/// The error the epoch callback stops a sandbox with.
#[derive(Debug)]
struct TimeLimitReached;

impl std::fmt::Display for TimeLimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("time limit reached")
    }
}

impl std::error::Error for TimeLimitReached {}

fn classify(e: wasmtime::Error, timeout: Option<Duration>, limiter: &MemoryLimiter) -> (i32, Option<Stopped>) {
    if let Some(exit) = e.downcast_ref::<I32Exit>() {
        return (exit.0, None);
    }
    if e.downcast_ref::<TimeLimitReached>().is_some() {
        return (crate::TIME_LIMIT_EXIT, Some(Stopped::TimeLimit { limit: timeout.unwrap_or_default() }));
    }
    if let Some(o) = e.downcast_ref::<OutputLimitReached>() {
        return (crate::OUTPUT_LIMIT_EXIT, Some(Stopped::OutputLimit { stream: o.stream, limit: o.limit }));
    }
    let trap = e.downcast_ref::<wasmtime::Trap>().is_some();
    // A refused growth, then a trap (CPython aborting on a failed allocation) or a failed
    // instantiation: the memory limit, not a crash of its own.
    if limiter.hit && let Some(limit) = limiter.limit {
        return (crate::MEMORY_LIMIT_EXIT, Some(Stopped::MemoryLimit { limit }));
    }
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
            message.push_str(&format!("\n    ... {} more frames", lines.len() - MAX_LINES));
        }
    }
    if trap { (crate::TRAP_EXIT, Some(Stopped::Trap { message })) } else { (1, Some(Stopped::HostError { message })) }
}

/// Canonical absolute path of the script, or CPython's own wording when it is missing.
fn script_path(arg: &str) -> Result<PathBuf> {
    Path::new(arg).canonicalize().or_else(|e| {
        let shown = std::path::absolute(arg).unwrap_or_else(|_| PathBuf::from(arg));
        let errno = e.raw_os_error().map(|n| format!("[Errno {n}] ")).unwrap_or_default();
        let msg = e.to_string();
        // Drop Rust's " (os error N)" suffix; CPython shows "[Errno N] message".
        let msg = msg.split(" (os error").next().unwrap_or(&msg);
        bail!("can't open file '{}': {errno}{msg}", shown.display())
    })
}

/// The working directory checked against the mounts the way wasi-libc will resolve it
/// (folded, then the longest matching preopen name, the last registered among equal ones):
/// it must be a directory on the host inside that mount. Returned folded (`root::fold`), the
/// form the guest's `os.getcwd()` will report.
fn guest_dir(cwd: &str, preopens: &[Preopen], runner: &root::GuestRoot) -> Result<String> {
    let shown = root::fold(cwd);
    let normal = &shown[1..];
    let mut best: Option<(&Preopen, &str)> = None;
    for p in preopens.iter().rev() {
        let key = root::preopen_key(&p.guest);
        let rest = if key.is_empty() {
            Some(normal)
        } else {
            normal.strip_prefix(key).filter(|r| r.is_empty() || r.starts_with('/'))
        };
        if let Some(rest) = rest
            && best.is_none_or(|(b, _)| key.len() > root::preopen_key(&b.guest).len())
        {
            best = Some((p, rest.trim_start_matches('/')));
        }
    }
    let not_mounted = || {
        anyhow::anyhow!("--cwd {cwd}: {shown} is not a directory inside any mount; mount one there with --dir HOST::{shown}")
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
        None => bail!("--cwd {cwd}: {} (the mount at {}) is not a directory", host.display(), mount.guest),
    }
}
