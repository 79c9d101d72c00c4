//! The per-process part: engine, compiled component, linker and pre-instantiation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};
use wasmtime_wasi::p2::bindings::CommandPre;

use crate::bridge::{Bridge, BridgeCall, BridgeFn, BridgeResult};
use crate::sandbox::Sandbox;
use crate::state::{Bridged, SandboxState};
use crate::{cache, devnull, guard, locate, root};

/// Maximum native stack the guest may use. CPython's own WASI test runner uses
/// `max-wasm-stack=8388608`; wasmtime's default (512 KiB) makes deep but legal Python
/// recursion trap instead of raising `RecursionError`.
const MAX_WASM_STACK: usize = 8 << 20;

/// How often the engine's epoch advances: the granularity of time limits, and how often a
/// busy sandbox yields its thread to others.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// wasmtime-wasi does filesystem calls on the guest's thread instead of bouncing each one
/// through tokio's blocking pool (CPython start-up does hundreds of stats and opens); the
/// null device's descriptors (`devnull`) are made the same way.
pub(crate) const ALLOW_BLOCKING: bool = true;

/// Where the guest sees the stdlib directory (`lib/` next to the component). CPython's
/// getpath finds `lib/python3.13/os.py` upward from `argv[0]`, `/usr/local/bin/python3.13`.
pub(crate) const GUEST_STDLIB: &str = "/usr/local/lib";

/// The engine configuration of every run (and of [`precompile`], whose output it loads):
/// with `interruptible`, compiled code checks the epoch (time limits); wasmtime's
/// compatibility hash covers that setting, so both kinds of code live side by side in the cache.
pub(crate) fn engine(interruptible: bool) -> Result<Engine> {
    let mut config = Config::new();
    config.max_wasm_stack(MAX_WASM_STACK);
    // The guest runs on a fiber stack (every call is async): room for `max_wasm_stack` plus
    // the host calls on top of it.
    config.async_stack_size(MAX_WASM_STACK + (1 << 20));
    // Time limits and fair sharing of threads among sandboxes: compiled code checks the
    // epoch at function entries and loop back-edges. Measured on CPython's eval loop: 20-50 %
    // slower (see `RuntimeBuilder::interruptible`).
    config.epoch_interruption(interruptible);
    // The snapshot's memory image (CPython's heap after init, tens of MiB) is mapped
    // copy-on-write from the compiled file only when wasmtime treats it as dense; past the
    // default 16 MiB it would be copied into every instance instead. (Part of
    // `cache::ENGINE_SETTINGS`: wasmtime's compatibility hash does not cover it.)
    config.memory_guaranteed_dense_image_size(64 << 20);
    Engine::new(&config).map_err(anyhow::Error::from).context("creating the wasmtime engine")
}

/// How a component's compiled code was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompiledCode {
    /// Loaded from the compiled-code cache.
    Cached,
    /// Compiled now and written to the cache.
    Compiled,
    /// Compiled now; no cache directory.
    Uncached,
}

impl From<cache::Outcome> for CompiledCode {
    fn from(o: cache::Outcome) -> Self {
        match o {
            cache::Outcome::Hit | cache::Outcome::Resealed => CompiledCode::Cached,
            cache::Outcome::Compiled => CompiledCode::Compiled,
            cache::Outcome::Uncached => CompiledCode::Uncached,
        }
    }
}

/// Compiles the component at `wasm` (default: found as [`RuntimeBuilder::component`]
/// describes) into the compiled-code cache, so that the first sandbox after a build does not
/// compile for seconds: the snapshot with and without epoch checks, the cold core without.
/// Returns each file, whether that code is interruptible, how it was obtained and how long
/// that took.
pub fn precompile(wasm: Option<&Path>) -> Result<Vec<(PathBuf, bool, CompiledCode, Duration)>> {
    let component = locate::find_component(wasm.map(|p| p.to_string_lossy().into_owned()).as_deref())?;
    let mut cache = cache::Cache::new(cache::default_dir());
    let mut done = Vec::new();
    for interruptible in [false, true] {
        let engine = engine(interruptible)?;
        let cold = component.cold.as_ref().filter(|_| !interruptible);
        for path in std::iter::once(&component.wasm).chain(cold) {
            let started = Instant::now();
            let (_, outcome) = cache.load(&engine, path)?;
            done.push((path.clone(), interruptible, outcome.into(), started.elapsed()));
        }
    }
    Ok(done)
}

type HostLink<U> = Box<dyn Fn(&mut Linker<SandboxState<U>>) -> wasmtime::Result<()> + Send + Sync>;

/// Configures a [`Runtime`]: which component, the cache, host interfaces and bridge
/// functions. `U` is the application's per-sandbox state, which host caps implement their
/// traits on.
pub struct RuntimeBuilder<U: 'static> {
    wasm: Option<PathBuf>,
    cache_dir: Option<Option<PathBuf>>,
    hosts: Vec<(String, HostLink<U>)>,
    bridge: Bridge,
    preload: bool,
    interruptible: bool,
}

impl<U: Send + 'static> RuntimeBuilder<U> {
    /// The component to run (`pylon.wasm`; its stdlib is `lib/` beside it, its cold core
    /// `pylon-cold.wasm`). Default: `$PYLON_WASM`, else `build/pylon.wasm` searched upward
    /// from the current directory, then from the executable's directory.
    pub fn component(mut self, wasm: impl Into<PathBuf>) -> Self {
        self.wasm = Some(wasm.into());
        self
    }

    /// The compiled-code cache directory; `None` compiles in memory every time. Default:
    /// `$PYLON_CACHE_DIR`, else `$XDG_CACHE_HOME/pylon`, else `~/.cache/pylon`.
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = Some(dir);
        self
    }

    /// Provides the host interface `interface` (e.g. `example:kv/kv@0.1.0`) with `link`,
    /// typically a host cap's generated `add_to_linker`:
    /// `|l| kv::add_to_linker::<_, pylon::User<State>>(l, pylon::user)`. Python modules of
    /// interfaces nobody provides raise `pylon_host.HostInterfaceMissing` when called.
    pub fn host<F>(mut self, interface: &str, link: F) -> Self
    where
        F: Fn(&mut Linker<SandboxState<U>>) -> wasmtime::Result<()> + Send + Sync + 'static,
    {
        self.bridge.provided.insert(interface.to_owned());
        self.hosts.push((interface.to_owned(), Box::new(link)));
        self
    }

    /// Registers `f` as the bridge function `name`: Python's `pylon_host.call(name, ...)`.
    /// An `Err(message)` raises `pylon_host.HostError` with the message.
    pub fn bridge<F>(mut self, name: &str, f: F) -> Self
    where
        F: Fn(BridgeCall) -> BridgeResult + Send + Sync + 'static,
    {
        self.bridge.fns.insert(name.to_owned(), BridgeFn::Sync(Box::new(f)));
        self
    }

    /// Like [`RuntimeBuilder::bridge`], for an `async` function: the Python caller blocks
    /// until the future is ready, the host thread serves other sandboxes meanwhile.
    pub fn bridge_async<F, Fut>(mut self, name: &str, f: F) -> Self
    where
        F: Fn(BridgeCall) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = BridgeResult> + Send + 'static,
    {
        self.bridge.fns.insert(name.to_owned(), BridgeFn::Async(Box::new(move |call| Box::pin(f(call)))));
        self
    }

    /// Whether sandboxes can be stopped while they compute (default: yes). Interruptible
    /// code checks wasmtime's epoch at every function entry and loop back-edge, which on
    /// CPython's interpreter loop costs 20-50 % of pure-Python speed (measured side by side,
    /// README); without it [`Sandbox::timeout`] is refused, and busy sandboxes do not yield
    /// their thread to others. The `pylon` CLI turns it on only for `--timeout`.
    pub fn interruptible(mut self, interruptible: bool) -> Self {
        self.interruptible = interruptible;
        self
    }

    /// Loads only what the first sandbox needs, when it needs it (the CLI: one run, maybe
    /// on the cold core). Default: [`RuntimeBuilder::build`] loads and links the snapshot,
    /// so that its errors surface there.
    pub fn lazy(mut self) -> Self {
        self.preload = false;
        self
    }

    /// Creates the runtime: the engine, the epoch ticker, the guest's root directory, and
    /// (unless [`RuntimeBuilder::lazy`]) the compiled and linked snapshot.
    pub fn build(self) -> Result<Runtime<U>> {
        let component = locate::find_component(self.wasm.as_ref().map(|p| p.to_string_lossy().into_owned()).as_deref())?;
        let cache_dir = self.cache_dir.unwrap_or_else(cache::default_dir);
        let root = root::GuestRoot::prepare(cache_dir.as_deref()).context("cannot prepare the guest's root directory")?;
        let engine = engine(self.interruptible)?;
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
            protected.push(guard::Protected::new("the application running pylon", &exe));
        }
        let null = devnull::NullDevice { root: root.root_id, dev: root.dev_id, allow_blocking: ALLOW_BLOCKING };
        let mut bridge = self.bridge;
        bridge.provided.insert(cap_host_bridge::INTERFACE.to_owned());
        let inner = Inner {
            _ticker: self.interruptible.then(|| Ticker::start(&engine)),
            interruptible: self.interruptible,
            engine,
            component,
            cache_dir,
            root,
            null,
            protected,
            hosts: self.hosts,
            bridge: Arc::new(bridge),
            snapshot: OnceLock::new(),
            cold: OnceLock::new(),
        };
        let runtime = Runtime { inner: Arc::new(inner) };
        if self.preload {
            runtime.inner.core(false)?;
        }
        Ok(runtime)
    }
}

/// One per process: create it once and share it (it is `Send + Sync`, and cloning is cheap);
/// every [`Sandbox`] it makes starts from the same compiled, linked and pre-instantiated
/// component.
pub struct Runtime<U: 'static = ()> {
    pub(crate) inner: Arc<Inner<U>>,
}

impl<U: 'static> Clone for Runtime<U> {
    fn clone(&self) -> Self {
        Runtime { inner: self.inner.clone() }
    }
}

impl<U: Send + 'static> Runtime<U> {
    /// Starts configuring a runtime.
    pub fn builder() -> RuntimeBuilder<U> {
        RuntimeBuilder {
            wasm: None,
            cache_dir: None,
            hosts: Vec::new(),
            bridge: Bridge::default(),
            preload: true,
            interruptible: true,
        }
    }

    /// A new sandbox whose application state is `U::default()`.
    pub fn sandbox(&self) -> Sandbox<U>
    where
        U: Default,
    {
        Sandbox::new(self.clone(), U::default())
    }

    /// A new sandbox with the application state `user`.
    pub fn sandbox_with(&self, user: U) -> Sandbox<U> {
        Sandbox::new(self.clone(), user)
    }

    /// The component this runtime runs (the snapshot, when it has one).
    pub fn component_path(&self) -> &Path {
        &self.inner.component.wasm
    }

    /// The host interfaces the component imports (everything but WASI), sorted.
    pub fn host_interfaces(&self) -> Result<Vec<String>> {
        Ok(self.inner.core(false)?.host_imports.clone())
    }

    /// The host interfaces the component imports that this runtime does not provide: their
    /// Python modules raise `pylon_host.HostInterfaceMissing` when called.
    pub fn missing_host_interfaces(&self) -> Result<Vec<String>> {
        let provided = &self.inner.bridge.provided;
        Ok(self.host_interfaces()?.into_iter().filter(|i| !provided.contains(i)).collect())
    }

    /// How the snapshot's compiled code was obtained (loading it if needed).
    pub fn compiled_code(&self) -> Result<CompiledCode> {
        Ok(self.inner.core(false)?.compiled)
    }
}

pub(crate) struct Inner<U: 'static> {
    pub engine: Engine,
    pub component: locate::Component,
    pub cache_dir: Option<PathBuf>,
    /// The directory behind the guest's `/` (or `/dev`); a private one is removed with the runtime.
    pub root: root::GuestRoot,
    pub null: devnull::NullDevice,
    /// What a writable mount may not expose.
    pub protected: Vec<guard::Protected>,
    hosts: Vec<(String, HostLink<U>)>,
    pub bridge: Arc<Bridge>,
    snapshot: OnceLock<Result<Core<U>, String>>,
    cold: OnceLock<Result<Core<U>, String>>,
    /// Compiled with epoch checks (time limits possible).
    pub interruptible: bool,
    _ticker: Option<Ticker>,
}

/// A compiled, linked component, ready to instantiate.
pub(crate) struct Core<U: 'static> {
    pub path: PathBuf,
    pub pre: CommandPre<SandboxState<U>>,
    pub compiled: CompiledCode,
    pub load_time: Duration,
    /// Non-WASI imports, sorted.
    pub host_imports: Vec<String>,
}

impl<U: Send + 'static> Inner<U> {
    /// The snapshot (or the only component), or with `cold` the cold core beside it.
    pub fn core(&self, cold: bool) -> Result<&Core<U>> {
        let (cell, path) = match (&self.component.cold, cold) {
            (Some(cold_path), true) => (&self.cold, cold_path),
            _ => (&self.snapshot, &self.component.wasm),
        };
        cell.get_or_init(|| self.load(path).map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    fn load(&self, path: &Path) -> Result<Core<U>> {
        let started = Instant::now();
        let mut cache = cache::Cache::new(self.cache_dir.clone());
        let (component, outcome) = cache.load(&self.engine, path)?;
        let host_imports = host_imports(&self.engine, &component);
        let mut linker = Linker::<SandboxState<U>>::new(&self.engine);
        // The async p2 linker (every run is async: host calls may be) includes
        // `wasi:cli/exit.exit-with-code` (stable since WASI 0.2.12); the component's adapter
        // reports 0..=255 through it.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        devnull::shadow(&mut linker, self.null)
            .map_err(anyhow::Error::from)
            .context("linking the guest's /dev/null")?;
        cap_host_bridge::add_to_linker::<_, Bridged>(&mut linker, |s| &mut s.bridge)
            .map_err(anyhow::Error::from)
            .context("linking the host bridge")?;
        for (interface, link) in &self.hosts {
            link(&mut linker)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("linking host interface {interface}"))?;
        }
        // What nobody provides is defined as traps; the generated Python modules of host
        // caps ask `provided` before their first call and raise instead of calling them.
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(anyhow::Error::from)
            .context("stubbing the host interfaces nobody provides")?;
        // Type-checked and resolved once; each instance then only allocates and initializes.
        let pre = linker
            .instantiate_pre(&component)
            .and_then(CommandPre::new)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("linking {}", path.display()))?;
        Ok(Core { path: path.to_path_buf(), pre, compiled: outcome.into(), load_time: started.elapsed(), host_imports })
    }
}

/// The names of the component's imports other than WASI's.
fn host_imports(engine: &Engine, component: &Component) -> Vec<String> {
    let mut names: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .filter(|name| !name.starts_with("wasi:"))
        .collect();
    names.sort();
    names
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until the runtime is dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: &Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.clone(), stop.clone());
        std::thread::Builder::new()
            .name("pylon-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("cannot start the epoch thread");
        Ticker { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Runtime<()>>();
        check::<Runtime<String>>();
    }
}
