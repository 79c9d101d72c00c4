//! Stage: the pre-initialized snapshot. The WASI build's `python.wasm` is started once, here,
//! in-process under wasmtime (WASI preview 1, sealed: a fixed environment, the runner's mount
//! layout, fixed clocks and randomness), through its `wizer-initialize` export
//! (cpython-ext/_pylon_snapshot/snapshot.c): CPython initializes and imports the prewarm list.
//! Wizer saves memory and globals into a new core module whose `_start` is the resume entry.
//! The caps are not there during init: their imports are traps, which also keeps any module
//! whose import calls a cap off the prewarm list.

use anyhow::{Context, Result, anyhow, bail, ensure};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtxBuilder};

use crate::helpers::digest::{StageKey, write_atomic};
use crate::helpers::progress::{self, Step};
use crate::stages::stdlib::{GUEST_LIB, TREE_DIR};

/// Part of the stage key: how the snapshot is made.
const RECIPE: &str = "snapshot v2: wasmtime-wizer 50.0.1, init `wizer-initialize`, `pylon_resume_start` renamed `_start`, wasmtime-wasi p1 sealed, file identities sealed by wasi-libc";

/// Modules every snapshot imports beyond what `python -c pass` does: what typical programs
/// start with. Extensions add theirs with `prewarm = [...]` in their ext.toml.
pub const DEFAULT_PREWARM: &[&str] = &[
    "_pylon_resume",
    "argparse",
    "asyncio",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "functools",
    "json",
    "pathlib",
    "random",
    "re",
    "tempfile",
    "traceback",
    "typing",
];

/// The runner's `argv[0]` (pylon/src/cli.rs): the executable CPython's getpath starts from.
pub const ARGV0: &str = "/usr/local/bin/python3.13";
/// The runner's `/` holds its own mount points (pylon/src/root.rs); so does the init's.
const ROOT_LAYOUT: &[(&str, bool)] = &[("dev", true), ("dev/null", false), ("usr", true), ("usr/local", true), ("usr/local/lib", true)];

/// Which string-hash secret the snapshot's interpreters share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashSeed {
    /// Derived from the stage key: reproducible, public with the artifact.
    PerBuild,
    /// Drawn from the host's randomness for this build only; not recorded.
    Private,
}

impl HashSeed {
    pub fn policy(&self) -> &'static str {
        match self {
            HashSeed::PerBuild => "per-build",
            HashSeed::Private => "private",
        }
    }
}

pub struct SnapshotInputs<'a> {
    /// The WASI build's command module.
    pub python_wasm: &'a Path,
    /// The key of that build.
    pub wasi_key: &'a str,
    /// The stdlib tree (`lib/python3.13/` in the guest) and its stage key.
    pub stdlib: &'a Path,
    pub stdlib_key: &'a str,
    pub prewarm: Vec<String>,
    pub seed: HashSeed,
    pub source_date_epoch: u64,
    /// Keep DWARF and names (the debug profile). In release they go: zig's own wasi-libc
    /// objects carry DWARF with the absolute path of the cache they were built in.
    pub keep_debug: bool,
}

/// What the stage made.
pub struct Snapshot {
    /// The pre-initialized core module.
    pub module: PathBuf,
    pub key: String,
    /// The recorded seed (`None` when private).
    pub hash_seed: Option<u32>,
    pub policy: HashSeed,
    pub prewarm: Vec<String>,
}

/// Builds (or finds in the cache) the snapshot of `inputs.python_wasm`.
pub fn snapshot(cache: &Path, inputs: &SnapshotInputs, force: bool) -> Result<Snapshot> {
    let mut key = StageKey::new("snapshot");
    key.add_str("recipe", RECIPE)
        .add_str("wasi", inputs.wasi_key)
        .add_str("stdlib", inputs.stdlib_key)
        .add_str("prewarm", &inputs.prewarm.join(","))
        .add_str("argv0", ARGV0)
        .add_str("seed", inputs.seed.policy())
        .add_str("source-date-epoch", &inputs.source_date_epoch.to_string())
        .add_str("keep-debug", if inputs.keep_debug { "yes" } else { "no" });
    let key = key.finish();
    let (seed, name) = match inputs.seed {
        HashSeed::PerBuild => (seed_from_key(&key), format!("snapshot-{}.wasm", &key[..16])),
        HashSeed::Private => (private_seed()?, format!("snapshot-private-{}.wasm", &key[..16])),
    };
    let path = cache.join(&name);
    let recorded = (inputs.seed == HashSeed::PerBuild).then_some(seed);
    let made = Snapshot { module: path.clone(), key: key.clone(), hash_seed: recorded, policy: inputs.seed.clone(), prewarm: inputs.prewarm.clone() };
    // A private snapshot is drawn anew by every build that asks for one.
    if !force && inputs.seed == HashSeed::PerBuild && path.exists() {
        progress::cached("snapshot", &key);
        return Ok(made);
    }
    let step = Step::start(format!("snapshot: initialize CPython and import {} prewarm modules (Wizer)", inputs.prewarm.len()));
    let work = cache.join(format!("snapshot-work-{}", &key[..16]));
    let result = wizen(inputs, seed, &work);
    let _ = fs::remove_dir_all(&work);
    let bytes = crate::helpers::wasm::strip_custom_sections(&result?, inputs.keep_debug)?;
    write_atomic(&path, &bytes)?;
    step.done();
    Ok(made)
}

/// A seed in CPython's range (1..=4294967295; 0 would turn hashing's randomization off).
fn seed_from_key(key: &str) -> u32 {
    let n = u32::from_str_radix(&key[..8], 16).expect("the stage key is hex");
    n.max(1)
}

fn private_seed() -> Result<u32> {
    let mut bytes = [0u8; 4];
    use std::io::Read;
    fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).context("cannot read /dev/urandom for a private hash seed")?;
    Ok(u32::from_le_bytes(bytes).max(1))
}

/// The init's filesystem: the runner's root layout, and the stdlib under `lib/`, linked
/// (not copied) from the stage's input tree.
fn mount_tree(work: &Path, stdlib: &Path) -> Result<(PathBuf, PathBuf)> {
    let _ = fs::remove_dir_all(work);
    let root = work.join("root");
    for (rel, dir) in ROOT_LAYOUT {
        let path = root.join(rel);
        if *dir {
            fs::create_dir_all(&path)?;
        } else {
            fs::write(&path, b"")?;
        }
    }
    let lib = work.join("lib");
    let tree = lib.join(TREE_DIR);
    for entry in walkdir::WalkDir::new(stdlib).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot walk {}", stdlib.display()))?;
        let rel = entry.path().strip_prefix(stdlib)?;
        let to = tree.join(rel);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&to)?;
        } else if entry.file_type().is_file() && rel != Path::new(crate::stages::stdlib::STAMP) {
            fs::hard_link(entry.path(), &to).or_else(|_| fs::copy(entry.path(), &to).map(|_| ()))?;
        }
    }
    // As in build/<profile>/lib: getpath finds exec_prefix by this directory.
    fs::create_dir_all(tree.join("lib-dynload"))?;
    Ok((root, lib))
}

fn wizen(inputs: &SnapshotInputs, seed: u32, work: &Path) -> Result<Vec<u8>> {
    let wasm = fs::read(inputs.python_wasm).with_context(|| format!("cannot read {}", inputs.python_wasm.display()))?;
    let (root, lib) = mount_tree(work, inputs.stdlib)?;
    let stdout = MemoryOutputPipe::new(1 << 20);
    let stderr = MemoryOutputPipe::new(1 << 20);
    let epoch = Duration::from_secs(inputs.source_date_epoch);
    let mut wasi = WasiCtxBuilder::new();
    wasi.args(&[ARGV0])
        .env("PYLON_SNAPSHOT_HASH_SEED", seed.to_string())
        .env("PYLON_SNAPSHOT_PREWARM", inputs.prewarm.join(","))
        .env("PYLON_SNAPSHOT_ARGV0", ARGV0)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .secure_random(SplitMix(0x5eed_0001))
        .insecure_random(SplitMix(0x5eed_0002))
        .insecure_random_seed(0x5eed_0003)
        .wall_clock(FixedWall(epoch))
        .monotonic_clock(FixedMonotonic);
    wasi.preopened_dir(&root, "/", FsPerms::ReadOnly).map_err(|e| anyhow!("{e:#}")).context("cannot mount the init's /")?;
    wasi.preopened_dir(&lib, GUEST_LIB, FsPerms::ReadOnly).map_err(|e| anyhow!("{e:#}")).context("cannot mount the stdlib for the init")?;

    let mut config = wasmtime::Config::new();
    config.relaxed_simd_deterministic(true);
    // CPython's own WASI runner gives it 8 MiB of native stack for deep recursion.
    config.max_wasm_stack(8 << 20);
    config.async_stack_size(9 << 20);
    let engine = wasmtime::Engine::new(&config).map_err(|e| anyhow!("{e:#}"))?;
    let mut store = wasmtime::Store::new(&engine, wasi.build_p1());
    let wizer = {
        let mut w = wasmtime_wizer::Wizer::new();
        w.init_func("wizer-initialize").func_rename("_start", "pylon_resume_start");
        w
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build().context("cannot start a tokio runtime")?;
    let result = runtime.block_on(wizer.run(&mut store, &wasm, async |store, module| {
        let mut linker = wasmtime::Linker::new(store.engine());
        wasmtime_wasi::p1::add_to_linker_async(&mut linker, |cx| cx)?;
        // The caps are composed in later: calling one during init traps.
        linker.define_unknown_imports_as_traps(module)?;
        linker.instantiate_async(store, module).await
    }));
    let said = |pipe: &MemoryOutputPipe| String::from_utf8_lossy(&pipe.contents()).into_owned();
    let (out, err) = (said(&stdout), said(&stderr));
    let snapshot = match result {
        Ok(bytes) => bytes,
        Err(e) => bail!("the snapshot's init failed: {e:#}\nstdout:\n{out}\nstderr:\n{err}"),
    };
    ensure!(out.is_empty() && err.is_empty(), "the snapshot's init wrote output (a prewarm module that prints?):\nstdout:\n{out}\nstderr:\n{err}");
    Ok(snapshot)
}

/// A deterministic stand-in for the host's randomness during init (splitmix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl rand_core::TryRng for SplitMix {
    type Error = std::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.next() as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

/// The wall clock stops at `SOURCE_DATE_EPOCH` during init.
struct FixedWall(Duration);

impl HostWallClock for FixedWall {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(1)
    }
    fn now(&self) -> Duration {
        self.0
    }
}

/// The monotonic clock stands at zero during init.
struct FixedMonotonic;

impl HostMonotonicClock for FixedMonotonic {
    fn resolution(&self) -> u64 {
        1
    }
    fn now(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeds_are_in_cpythons_range() {
        assert_eq!(super::seed_from_key("00000000ffff"), 1);
        assert_eq!(super::seed_from_key("ffffffff0000"), u32::MAX);
    }
}
