//! Compiled-code cache.
//!
//! Compiling the 7 MB CPython component with Cranelift takes seconds; loading precompiled code
//! takes milliseconds. Artifacts are keyed by the component's sha256 plus a hash of everything
//! wasmtime says affects compatibility (wasmtime version, target, CPU features, tunables), so
//! a rebuilt component, a new wasmtime or a different machine sharing `$HOME` never picks up
//! stale code. Hashing the component costs ~15-20 ms per start, so a side index remembers the
//! sha256 per (canonical path, size, mtime, inode) and we hash only when that changes.
//!
//! Layout of the cache directory:
//! - `<sha256>-<engine-key>.cwasm`: serialized component (wasmtime's own format)
//! - `index/<sha256(path)[..32]>`: `pylon-index-v1`, size, mtime ns, inode, sha256, path
//!
//! Every write goes to a temporary file in the same directory followed by `rename`, so
//! concurrent `pylon` processes never see half-written files. Any cache failure only costs
//! speed: we warn once and carry on without the cache.

use std::fmt::Write as _;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

const INDEX_MAGIC: &str = "pylon-index-v1";

/// Cache directory: `$PYLON_CACHE_DIR`, else `$XDG_CACHE_HOME/pylon`, else `$HOME/.cache/pylon`.
pub fn default_dir() -> Option<PathBuf> {
    dir_from(|k| std::env::var_os(k))
}

fn dir_from(get: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let var = |k| get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    var("PYLON_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("pylon")))
        .or_else(|| var("HOME").map(|d| d.join(".cache/pylon")))
}

/// How a component was obtained; reported with `PYLON_DEBUG_CACHE=1` and used by tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    Compiled,
    Uncached,
}

pub struct Cache {
    dir: Option<PathBuf>,
    warned: bool,
}

impl Cache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Cache { dir, warned: false }
    }

    /// Loads the component at `wasm` (a canonical path), from the cache when possible.
    pub fn load(&mut self, engine: &Engine, wasm: &Path) -> Result<(Component, Outcome)> {
        let Some(dir) = self.dir.clone() else {
            self.warn(format_args!(
                "no cache directory (set PYLON_CACHE_DIR or HOME); compiling without cache"
            ));
            return Ok((compile(engine, &read_wasm(wasm)?)?, Outcome::Uncached));
        };
        if let Err(e) = fs::create_dir_all(dir.join("index")) {
            self.warn(format_args!(
                "cannot create cache directory {}: {e}",
                dir.display()
            ));
            return Ok((compile(engine, &read_wasm(wasm)?)?, Outcome::Uncached));
        }

        let meta = fs::metadata(wasm).with_context(|| format!("reading {}", wasm.display()))?;
        let stamp = Stamp::of(&meta);
        let index_file = dir
            .join("index")
            .join(&hex(&Sha256::digest(path_bytes(wasm)))[..32]);

        // The component bytes, if we had to read them to hash them.
        let mut bytes = None;
        let sha = match read_index(&index_file, wasm, &stamp) {
            Some(sha) => sha,
            None => {
                let b = read_wasm(wasm)?;
                let sha = hex(&Sha256::digest(&b));
                let entry = format!(
                    "{INDEX_MAGIC}\n{}\n{}\n{}\n{sha}\n{}\n",
                    stamp.size,
                    stamp.mtime_ns,
                    stamp.ino,
                    wasm.display()
                );
                if let Err(e) = write_atomic(&index_file, entry.as_bytes()) {
                    self.warn(format_args!("cannot write {}: {e:#}", index_file.display()));
                }
                bytes = Some(b);
                sha
            }
        };

        let artifact = dir.join(format!("{sha}-{}.cwasm", engine_key(engine)));
        if artifact.is_file() {
            // SAFETY: the file was written by us (atomically, via rename) from
            // `Engine::precompile_component` for a compatible engine; wasmtime additionally
            // checks the header, version and engine configuration and fails cleanly otherwise.
            if let Ok(c) = unsafe { Component::deserialize_file(engine, &artifact) } {
                return Ok((c, Outcome::Hit));
            }
            // Stale or corrupt: fall through, recompile and overwrite.
        }

        let bytes = match bytes {
            Some(b) => b,
            None => read_wasm(wasm)?,
        };
        let code = engine
            .precompile_component(&bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("compiling {}", wasm.display()))?;
        if let Err(e) = write_atomic(&artifact, &code) {
            self.warn(format_args!("cannot write {}: {e:#}", artifact.display()));
        }
        // SAFETY: `code` was just produced by `precompile_component` on this very engine.
        let component = unsafe { Component::deserialize(engine, &code)? };
        Ok((component, Outcome::Compiled))
    }

    fn warn(&mut self, msg: std::fmt::Arguments<'_>) {
        if !self.warned {
            self.warned = true;
            eprintln!("pylon: warning: compiled-code cache disabled: {msg}");
        }
    }
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component> {
    Component::new(engine, bytes)
        .map_err(anyhow::Error::from)
        .context("compiling the Python component")
}

fn read_wasm(wasm: &Path) -> Result<Vec<u8>> {
    fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))
}

/// What we compare to decide that a file is unchanged without reading it.
struct Stamp {
    size: u64,
    mtime_ns: i128,
    ino: u64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        let mtime_ns = meta
            .modified()
            .ok()
            .map(|t| match t.duration_since(UNIX_EPOCH) {
                Ok(d) => d.as_nanos() as i128,
                Err(e) => -(e.duration().as_nanos() as i128),
            })
            .unwrap_or(0);
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let ino = 0;
        Stamp {
            size: meta.len(),
            mtime_ns,
            ino,
        }
    }
}

fn read_index(index_file: &Path, wasm: &Path, stamp: &Stamp) -> Option<String> {
    let text = fs::read_to_string(index_file).ok()?;
    let mut lines = text.lines();
    let ok = lines.next() == Some(INDEX_MAGIC)
        && lines.next()? == stamp.size.to_string()
        && lines.next()? == stamp.mtime_ns.to_string()
        && lines.next()? == stamp.ino.to_string();
    let sha = lines.next()?;
    // The file name is a truncated hash of the path: make sure it really is our path.
    let ok = ok && lines.next()? == wasm.display().to_string();
    (ok && sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha.to_owned())
}

/// 16 hex digits of a sha256 over wasmtime's precompile-compatibility hash (version, target,
/// CPU features, tunables, wasm features).
fn engine_key(engine: &Engine) -> String {
    let mut h = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex(&h.0.finalize())[..16].to_owned()
}

/// Feeds `Hash` input into sha256, which (unlike `DefaultHasher`) is stable forever.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        let d = self.0.clone().finalize();
        u64::from_le_bytes(d[..8].try_into().unwrap())
    }
}

fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().context("cache path has no parent")?;
    let name = path
        .file_name()
        .context("cache path has no file name")?
        .to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(Into::into)
}

fn path_bytes(p: &Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()).to_vec()
    }
    #[cfg(not(unix))]
    {
        p.to_string_lossy().into_owned().into_bytes()
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_precedence() {
        fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<std::ffi::OsString> {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.into())
        }
        let all = [
            ("PYLON_CACHE_DIR", "/c"),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(dir_from(env(&all)), Some(PathBuf::from("/c")));
        let empty_pylon = [
            ("PYLON_CACHE_DIR", ""),
            ("XDG_CACHE_HOME", "/x"),
            ("HOME", "/h"),
        ];
        assert_eq!(dir_from(env(&empty_pylon)), Some(PathBuf::from("/x/pylon")));
        assert_eq!(
            dir_from(env(&[("HOME", "/h")])),
            Some(PathBuf::from("/h/.cache/pylon"))
        );
        assert_eq!(dir_from(env(&[])), None);
    }

    #[test]
    fn index_roundtrip_and_invalidation() {
        let dir = std::env::temp_dir().join(format!("pylon-cache-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let wasm = dir.join("x.wasm");
        fs::write(&wasm, b"\0asm").unwrap();
        let stamp = Stamp::of(&fs::metadata(&wasm).unwrap());
        let idx = dir.join("idx");
        let sha = hex(&Sha256::digest(b"\0asm"));
        let entry = format!(
            "{INDEX_MAGIC}\n{}\n{}\n{}\n{sha}\n{}\n",
            stamp.size,
            stamp.mtime_ns,
            stamp.ino,
            wasm.display()
        );
        write_atomic(&idx, entry.as_bytes()).unwrap();
        assert_eq!(read_index(&idx, &wasm, &stamp), Some(sha));
        let changed = Stamp {
            size: stamp.size + 1,
            ..stamp
        };
        assert_eq!(read_index(&idx, &wasm, &changed), None);
        assert_eq!(read_index(&idx, &dir.join("other.wasm"), &changed), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// The smallest valid component: magic + component-model version/layer.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    #[test]
    fn load_compiles_then_hits_and_recovers() {
        let root = std::env::temp_dir().join(format!("pylon-cache-load-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        let wasm = root.join("c.wasm");
        fs::write(&wasm, EMPTY_COMPONENT).unwrap();
        let engine = Engine::default();
        let mut cache = Cache::new(Some(root.join("cache")));

        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Compiled);
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Hit);

        // A corrupt artifact is recompiled and overwritten.
        let artifact = fs::read_dir(root.join("cache"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .unwrap();
        fs::write(&artifact, b"garbage").unwrap();
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Compiled);
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Hit);
        assert!(!cache.warned);

        // An unusable cache directory only costs speed.
        let mut broken = Cache::new(Some(wasm.join("not-a-dir")));
        assert_eq!(broken.load(&engine, &wasm).unwrap().1, Outcome::Uncached);
        assert!(broken.warned);
        fs::remove_dir_all(&root).unwrap();
    }
}
