//! embed-kv: an application that embeds pylon through its library.
//!
//! It provides a typed host cap (`example:kv/kv`: a `Store` resource kept on the host and an
//! async `lookup`), registers an untyped bridge function, runs Python snippets that use
//! both, shows a time limit stopping a busy loop, a memory limit raising `MemoryError`, an
//! output cap, and a trapped sandbox that leaves the runtime serving,
//! runs 100 sandboxes concurrently, and prints `embed-kv: ok` last when every check held
//! (exit status 1 otherwise). Run it after `cargo xtask build`:
//! `cargo run --release -p embed-kv`. With `--bench` it measures instead (what
//! `cargo xtask bench` reports): ns per call of a typed host call, a bridge call, a static
//! cap call and a plain Python call; sandboxes per second; memory per live sandbox; and 100
//! concurrent sandboxes each awaiting a 50 ms async host call.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use embed_kv_cap::StoreHandle;
use pylon::wasmtime::component::{Resource, ResourceTable};
use pylon::{Program, Runtime, Stopped};

/// The application's stores, shared by all its sandboxes.
type Stores = Arc<Mutex<HashMap<String, BTreeMap<String, String>>>>;

/// What each sandbox's host side holds: its resource handles, and the shared stores.
struct App {
    table: ResourceTable,
    stores: Stores,
}

impl App {
    fn with_store<R>(&mut self, handle: &Resource<StoreHandle>, f: impl FnOnce(&mut BTreeMap<String, String>) -> R) -> pylon::wasmtime::Result<R> {
        let name = self.table.get(handle)?.name.clone();
        let mut stores = self.stores.lock().unwrap();
        Ok(f(stores.entry(name).or_default()))
    }
}

impl embed_kv_cap::HostStore for App {
    fn new(&mut self, name: String) -> pylon::wasmtime::Result<Resource<StoreHandle>> {
        self.stores.lock().unwrap().entry(name.clone()).or_default();
        Ok(self.table.push(StoreHandle { name })?)
    }

    fn get(&mut self, store: Resource<StoreHandle>, key: String) -> pylon::wasmtime::Result<Option<String>> {
        self.with_store(&store, |s| s.get(&key).cloned())
    }

    fn set(&mut self, store: Resource<StoreHandle>, key: String, value: String) -> pylon::wasmtime::Result<()> {
        self.with_store(&store, |s| {
            s.insert(key, value);
        })
    }

    fn delete(&mut self, store: Resource<StoreHandle>, key: String) -> pylon::wasmtime::Result<bool> {
        self.with_store(&store, |s| s.remove(&key).is_some())
    }

    fn keys(&mut self, store: Resource<StoreHandle>) -> pylon::wasmtime::Result<Vec<String>> {
        self.with_store(&store, |s| s.keys().cloned().collect())
    }

    fn drop(&mut self, store: Resource<StoreHandle>) -> pylon::wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl embed_kv_cap::Host for App {
    /// A slow backing service: 50 ms, during which the thread serves other sandboxes.
    async fn lookup(&mut self, key: String) -> Result<String, String> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        match key.as_str() {
            "" => Err("empty key".to_owned()),
            k => Ok(format!("value-of-{k}")),
        }
    }
}

fn runtime() -> Result<Runtime<App>> {
    Runtime::<App>::builder()
        .host(embed_kv_cap::INTERFACE, |linker| {
            embed_kv_cap::add_to_linker::<_, pylon::User<App>>(linker, pylon::user)
        })
        .bridge("greet", |call| {
            let name = call.arg(0)?.as_str().ok_or("greet(name): name must be a string")?;
            let punctuation = call.kwarg("punctuation").and_then(|p| p.as_str()).unwrap_or(".");
            Ok(serde_json::json!(format!("hello, {name}{punctuation}")))
        })
        .bridge("noop", |_| Ok(serde_json::Value::Null))
        .bridge_async("park", |_| async move {
            PARKED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            RELEASE.acquire().await.map_err(|e| e.to_string())?.forget();
            Ok(serde_json::Value::Null)
        })
        .bridge_async("slow_double", |call| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let n = call.arg(0)?.as_i64().ok_or("slow_double(n): n must be an integer")?;
            Ok(serde_json::json!(n * 2))
        })
        .build()
        .context("creating the pylon runtime (run `cargo xtask build` first)")
}

async fn run(rt: &Runtime<App>, stores: &Stores, code: &str) -> Result<pylon::Outcome> {
    let app = App { table: ResourceTable::new(), stores: stores.clone() };
    rt.sandbox_with(app).timeout(Duration::from_secs(30)).run(Program::source(code)).await
}

/// Runs `code`, which must succeed and print exactly `expected`.
async fn check(rt: &Runtime<App>, stores: &Stores, what: &str, code: &str, expected: &str) -> Result<()> {
    let outcome = run(rt, stores, code).await?;
    ensure!(
        outcome.success() && outcome.stdout_text() == expected,
        "{what}: expected {expected:?}, got exit {} {:?}\nstdout: {}\nstderr: {}",
        outcome.exit_code,
        outcome.stopped,
        outcome.stdout_text(),
        outcome.stderr_text()
    );
    println!("{what}: ok ({:.1?})", outcome.elapsed);
    Ok(())
}

async fn checks() -> Result<()> {
    let stores: Stores = Arc::default();
    let rt = runtime()?;
    println!("host interfaces imported: {}", rt.host_interfaces()?.join(", "));
    ensure!(rt.missing_host_interfaces()?.is_empty(), "missing host interfaces: {:?}", rt.missing_host_interfaces()?);

    check(
        &rt,
        &stores,
        "typed host cap (Store resource)",
        "import _kv_host\n\
         s = _kv_host.Store('users')\n\
         s.set('ada', 'lovelace'); s.set('alan', 'turing')\n\
         assert s.delete('alan') and not s.delete('nobody')\n\
         print(s.get('ada'), s.get('alan'), s.keys())\n\
         s.close()",
        "lovelace None ['ada']\n",
    )
    .await?;
    // Kept by the host, so a fresh sandbox sees it.
    check(&rt, &stores, "host state across sandboxes", "import _kv_host\nprint(_kv_host.Store('users').get('ada'))", "lovelace\n").await?;
    check(
        &rt,
        &stores,
        "async typed host call",
        "import _kv_host, time\n\
         t = time.monotonic(); v = _kv_host.lookup('answer'); dt = time.monotonic() - t\n\
         assert dt >= 0.045, dt\n\
         try:\n    _kv_host.lookup('')\n\
         except _kv_host.WitError as e:\n    print(v, e.value)",
        "value-of-answer empty key\n",
    )
    .await?;
    check(
        &rt,
        &stores,
        "bridge calls",
        "import pylon_host\n\
         print(pylon_host.call('greet', 'pylon', punctuation='!'), pylon_host.call('slow_double', 21))\n\
         try:\n    pylon_host.call('nope')\n\
         except pylon_host.UnknownHostFunction as e:\n    print('unknown:', 'nope' in str(e))\n\
         try:\n    pylon_host.call('greet', 5)\n\
         except pylon_host.HostError as e:\n    print('error:', e)",
        "hello, pylon! 42\nunknown: True\nerror: host function 'greet' failed: greet(name): name must be a string\n",
    )
    .await?;

    // A busy loop, stopped by the time limit.
    let app = App { table: ResourceTable::new(), stores: stores.clone() };
    let started = Instant::now();
    let busy = rt.sandbox_with(app).timeout(Duration::from_secs(1)).run(Program::source("while True: pass")).await?;
    let took = started.elapsed();
    ensure!(
        matches!(busy.stopped, Some(Stopped::TimeLimit { .. })) && busy.exit_code == pylon::TIME_LIMIT_EXIT,
        "the busy loop was not stopped by the time limit: {busy:?}"
    );
    ensure!(took < Duration::from_secs(2), "the 1 s time limit took {took:.2?} to stop the loop");
    println!("time limit: `while True: pass` stopped after {took:.2?} (limit 1 s)");

    // 1 GiB under a 128 MiB cap: Python's MemoryError, and the sandbox goes on.
    let app = App { table: ResourceTable::new(), stores: stores.clone() };
    let big = rt
        .sandbox_with(app)
        .max_memory(128 << 20)
        .run(Program::source("try:\n    b = bytearray(1 << 30)\nexcept MemoryError:\n    print('MemoryError')\nprint(len(bytearray(1 << 20)))"))
        .await?;
    ensure!(big.success() && big.stdout_text() == "MemoryError\n1048576\n", "memory limit: {big:?}");
    println!("memory limit: bytearray(1 GiB) under --max-memory 128M raised MemoryError (peak {} MiB)", big.peak_memory >> 20);

    // Captured output past its cap stops the sandbox; what fit is kept.
    let app = App { table: ResourceTable::new(), stores: stores.clone() };
    let loud = rt.sandbox_with(app).capture_limit(1000).run(Program::source("while True: print('x' * 99)")).await?;
    ensure!(
        matches!(loud.stopped, Some(Stopped::OutputLimit { stream: "stdout", limit: 1000 })) && loud.stdout.len() == 1000,
        "output limit: {:?}, {} bytes kept",
        loud.stopped,
        loud.stdout.len()
    );
    println!("output limit: an endless print stopped at its 1000-byte capture limit");

    // A trap (CPython's abort) ends that sandbox only; the next one runs as usual.
    let app = App { table: ResourceTable::new(), stores: stores.clone() };
    let crashed = rt.sandbox_with(app).run(Program::source("import os; os.abort()")).await?;
    ensure!(matches!(crashed.stopped, Some(Stopped::Trap { .. })) && crashed.exit_code == pylon::TRAP_EXIT, "abort: {crashed:?}");
    check(&rt, &stores, "a sandbox after a trapped one", "print(6 * 7)", "42\n").await?;

    // A runtime that does not provide the cap: the module says which interface is missing.
    let bare = Runtime::<()>::builder().build()?;
    ensure!(bare.missing_host_interfaces()?.contains(&embed_kv_cap::INTERFACE.to_owned()), "{:?}", bare.missing_host_interfaces()?);
    let missing = bare
        .sandbox()
        .run(Program::source("import _kv_host, pylon_host\ntry:\n    _kv_host.lookup('k')\nexcept pylon_host.HostInterfaceMissing as e:\n    print(e)"))
        .await?;
    ensure!(missing.success() && missing.stdout_text().contains("example:kv/kv@0.1.0"), "missing interface: {missing:?}");
    println!("missing host interface: {}", missing.stdout_text().trim());

    // 100 sandboxes at once, each waiting 50 ms in the async lookup.
    const N: usize = 100;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..N {
        let (rt, stores) = (rt.clone(), stores.clone());
        tasks.push(tokio::spawn(async move {
            let code = format!("import _kv_host\nprint(_kv_host.lookup('k{i}'))");
            run(&rt, &stores, &code).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let outcome = task.await??;
        ensure!(outcome.success() && outcome.stdout_text() == format!("value-of-k{i}\n"), "sandbox {i}: {outcome:?}");
    }
    let took = started.elapsed();
    println!("{N} concurrent sandboxes, each awaiting a 50 ms async host call: {took:.2?} in all");
    if took > Duration::from_secs(N as u64 * 50 / 1000) {
        bail!("{N} concurrent sandboxes took {took:.2?}: no faster than running them one by one");
    }
    Ok(())
}

/// Sandboxes parked in the bridge's `park` (the memory measurement), and their release.
static PARKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static RELEASE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(0);

/// The per-call costs, measured inside one sandbox (`name<TAB>value<TAB>unit` lines).
const CALL_COSTS: &str = r#"
import time, _kv_host, _zlib_cap, pylon_host
N = 20_000
def per_call_ns(fn, *args):
    batches = []
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(N):
            fn(*args)
        batches.append((time.perf_counter_ns() - start) / N)
    return sorted(batches)[2]
def identity(x):
    return x
s = _kv_host.Store('bench'); s.set('k', 'v')
print(f"call: plain Python function	{per_call_ns(identity, 1):.0f}	ns/call")
print(f"call: static cap (_zlib_cap.crc32)	{per_call_ns(_zlib_cap.crc32, b'', 0):.0f}	ns/call")
print(f"call: typed host cap (Store.get)	{per_call_ns(s.get, 'k'):.0f}	ns/call")
print(f"call: bridge (pylon_host.call('noop'))	{per_call_ns(pylon_host.call, 'noop'):.0f}	ns/call")
"#;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn bench() -> Result<()> {
    let stores: Stores = Arc::default();
    let rt = runtime()?;
    let costs = run(&rt, &stores, CALL_COSTS).await?;
    ensure!(costs.success(), "call costs: {costs:?}");
    print!("{}", costs.stdout_text());

    // Sandboxes created and run to their end per second, all threads busy.
    for (what, code) in [("pass", "pass"), ("json round trip", "import json
assert json.loads(json.dumps({'a': [1, 2, 3]}))['a'][2] == 3")] {
        const M: usize = 400;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..M {
            let (rt, stores) = (rt.clone(), stores.clone());
            tasks.push(tokio::spawn(async move { run(&rt, &stores, code).await }));
        }
        for t in tasks {
            let o = t.await??;
            ensure!(o.success(), "{what}: {o:?}");
        }
        let per_s = M as f64 / started.elapsed().as_secs_f64();
        println!("sandboxes/s: {what}	{per_s:.0}	sandboxes/s");
    }

    // Memory per live sandbox: K of them parked in a host call at once.
    const K: usize = 50;
    let before = rss_kib();
    PARKED.store(0, std::sync::atomic::Ordering::SeqCst);
    let mut tasks = Vec::new();
    for _ in 0..K {
        let (rt, stores) = (rt.clone(), stores.clone());
        tasks.push(tokio::spawn(async move {
            run(&rt, &stores, "import json, pylon_host
x = [json.dumps(i) for i in range(1000)]
pylon_host.call('park')").await
        }));
    }
    while PARKED.load(std::sync::atomic::Ordering::SeqCst) < K {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let during = rss_kib();
    let mut peak = 0;
    RELEASE.add_permits(K);
    for t in tasks {
        let o = t.await??;
        ensure!(o.success(), "parked sandbox: {o:?}");
        peak = peak.max(o.peak_memory);
    }
    println!("memory per live sandbox (RSS)	{:.2}	MiB", (during.saturating_sub(before)) as f64 / 1024.0 / K as f64);
    println!("memory per live sandbox (linear memory held)	{:.1}	MiB", peak as f64 / (1 << 20) as f64);

    // 100 sandboxes at once, each awaiting a 50 ms async host call.
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (rt, stores) = (rt.clone(), stores.clone());
        tasks.push(tokio::spawn(async move { run(&rt, &stores, &format!("import _kv_host
_kv_host.lookup('k{i}')")).await }));
    }
    for t in tasks {
        ensure!(t.await??.success(), "concurrent lookup failed");
    }
    println!("100 concurrent sandboxes x 50 ms async host call	{:.0}	ms", started.elapsed().as_secs_f64() * 1e3);
    Ok(())
}

fn main() {
    let tokio = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    if std::env::args().nth(1).as_deref() == Some("--bench") {
        if let Err(e) = tokio.block_on(bench()) {
            eprintln!("embed-kv --bench: FAILED: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    match tokio.block_on(checks()) {
        Ok(()) => println!("embed-kv: ok"),
        Err(e) => {
            eprintln!("embed-kv: FAILED: {e:#}");
            std::process::exit(1);
        }
    }
}
