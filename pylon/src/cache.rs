//! Compiled-code cache.
//!
//! Compiling the 7 MB CPython component with Cranelift takes seconds; loading precompiled code
//! takes milliseconds. Artifacts are keyed by the component's sha256 plus a hash of everything
//! wasmtime says affects compatibility (wasmtime version, target, CPU features, tunables), so
//! a rebuilt component, a new wasmtime or a different machine sharing `$HOME` never picks up
//! stale code. Hashing the component costs ~15-20 ms per start, so a side index remembers the
//! sha256 per (canonical path, size, mtime, inode) and we hash only when that changes.
//!
//! The artifact is native code that this process executes, so it is only used while it is
//! provably the file we wrote: its *seal* records its sha256 and the file's identity (device,
//! inode, size, mtime, ctime) as it was right after writing. Any write through the filesystem
//! changes the ctime, so a start whose artifact still matches its seal's identity costs one
//! `fstat`; one that does not is re-hashed, and re-sealed if the bytes are still ours, or
//! recompiled and overwritten if they are not. A damaged entry costs one compile, never a
//! broken runner. (Keeping the guest from writing the cache at all is `guard`'s job.)
//!
//! Layout of the cache directory:
//! - `<sha256>-<engine-key>.cwasm`: serialized component (wasmtime's own format)
//! - `<sha256>-<engine-key>.seal`: `pylon-seal-v1`, the artifact's sha256, its identity
//! - `index/<sha256(path)[..32]>`: `pylon-index-v1`, size, mtime ns, inode, sha256, path
//!
//! Every write goes to a temporary file in the same directory followed by `rename`, so
//! concurrent `pylon` processes never see half-written files. Every read opens without
//! blocking and without following symlinks and takes regular files only, so a FIFO or a
//! device planted in the cache cannot hang or feed the runner. Any cache failure only costs
//! speed: we warn once and carry on without the cache.

use std::fmt::Write as _;
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

const INDEX_MAGIC: &str = "pylon-index-v1";
const SEAL_MAGIC: &str = "pylon-seal-v1";
/// Index entries and seals are a few hundred bytes; anything larger is not ours.
const SMALL_FILE_MAX: u64 = 64 << 10;

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
    /// Loaded from the cache; the artifact matched its seal without reading it.
    Hit,
    /// Loaded from the cache after re-hashing an artifact whose identity had changed (a copy,
    /// a restore) but whose bytes were still the sealed ones.
    Resealed,
    Compiled,
    Uncached,
}

pub struct Cache {
    dir: Option<PathBuf>,
    warned: bool,
}

/// What the cache holds for one artifact.
enum Cached {
    Loaded(Component, Outcome),
    /// Nothing usable and nothing wrong (first use, or written by an older runner).
    Absent,
    /// Something is there but is not what we sealed: the reason, for the warning.
    Damaged(String),
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

        let stem = format!("{sha}-{}", engine_key(engine));
        let artifact = dir.join(format!("{stem}.cwasm"));
        let seal = dir.join(format!("{stem}.seal"));
        match load_sealed(engine, &artifact, &seal) {
            Cached::Loaded(c, outcome) => return Ok((c, outcome)),
            Cached::Absent => {}
            Cached::Damaged(why) => eprintln!(
                "pylon: warning: compiled-code cache entry {} {why}; recompiling",
                artifact.display()
            ),
        }

        let bytes = match bytes {
            Some(b) => b,
            None => read_wasm(wasm)?,
        };
        let code = engine
            .precompile_component(&bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("compiling {}", wasm.display()))?;
        if let Err(e) = store_sealed(&artifact, &seal, &code) {
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

/// Loads `artifact` if it is still what `seal` says we wrote.
fn load_sealed(engine: &Engine, artifact: &Path, seal: &Path) -> Cached {
    let (mut file, meta) = match open_regular(artifact) {
        Ok(Some(opened)) => opened,
        Ok(None) => return Cached::Absent,
        Err(e) => return Cached::Damaged(format!("cannot be used ({e})")),
    };
    let Some((sealed_sha, sealed_id)) = read_seal(seal) else {
        return Cached::Absent;
    };
    let id = Identity::of(&meta);
    let mut outcome = Outcome::Hit;
    if id != sealed_id {
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        if let Err(e) = file.read_to_end(&mut bytes) {
            return Cached::Damaged(format!("cannot be read ({e})"));
        }
        if hex(&Sha256::digest(&bytes)) != sealed_sha {
            return Cached::Damaged("does not match the sha256 in its seal".to_owned());
        }
        // Our bytes under a new identity (copied, restored): seal it anew.
        let _ = write_atomic(seal, seal_text(&sealed_sha, &id).as_bytes());
        outcome = Outcome::Resealed;
    }
    // SAFETY: the bytes are the ones `Engine::precompile_component` produced for a
    // compatible engine: the open file is the one whose identity (or, above, whose sha256)
    // matches the seal we wrote next to it. wasmtime additionally checks the header,
    // version and engine configuration and fails cleanly otherwise.
    match unsafe { Component::deserialize_file(engine, same_file_path(&file, artifact)) } {
        Ok(c) => Cached::Loaded(c, outcome),
        Err(e) => Cached::Damaged(format!("was refused by wasmtime ({e})")),
    }
}

/// Writes the artifact, then its seal with the identity the artifact has on disk.
fn store_sealed(artifact: &Path, seal: &Path, code: &[u8]) -> Result<()> {
    // The old seal goes first, so no moment pairs it with the new artifact.
    match fs::remove_file(seal) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    write_atomic(artifact, code)?;
    let meta = fs::symlink_metadata(artifact)?;
    let sha = hex(&Sha256::digest(code));
    write_atomic(seal, seal_text(&sha, &Identity::of(&meta)).as_bytes())
}

fn seal_text(sha: &str, id: &Identity) -> String {
    format!(
        "{SEAL_MAGIC}\n{sha}\n{} {} {} {} {}\n",
        id.dev, id.ino, id.size, id.mtime_ns, id.ctime_ns
    )
}

fn read_seal(seal: &Path) -> Option<(String, Identity)> {
    let text = read_small(seal)?;
    let mut lines = text.lines();
    if lines.next()? != SEAL_MAGIC {
        return None;
    }
    let sha = lines.next()?;
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut n = lines.next()?.split(' ');
    let id = Identity {
        dev: n.next()?.parse().ok()?,
        ino: n.next()?.parse().ok()?,
        size: n.next()?.parse().ok()?,
        mtime_ns: n.next()?.parse().ok()?,
        ctime_ns: n.next()?.parse().ok()?,
    };
    Some((sha.to_owned(), id))
}

/// Opens `path` for reading if it is a regular file: never blocks (a FIFO), never follows a
/// symlink. `Ok(None)` when there is nothing there.
fn open_regular(path: &Path) -> std::io::Result<Option<(fs::File, fs::Metadata)>> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC,
    );
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(Some((file, meta)))
}

/// A small regular file's text, or `None` for anything else.
fn read_small(path: &Path) -> Option<String> {
    let (file, meta) = open_regular(path).ok()??;
    if meta.len() > SMALL_FILE_MAX {
        return None;
    }
    let mut text = String::new();
    file.take(SMALL_FILE_MAX).read_to_string(&mut text).ok()?;
    Some(text)
}

/// A path that opens the very file `file` is, so that what wasmtime maps is what we checked
/// even if `path` were replaced in between (Linux: `/proc/self/fd/N`).
fn same_file_path(file: &fs::File, path: &Path) -> PathBuf {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let proc = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
        if proc.exists() {
            return proc;
        }
    }
    let _ = file;
    path.to_path_buf()
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

/// A file's identity as the filesystem reports it. Unlike the mtime, the ctime cannot be set
/// back by a writer: every write, truncation, `utimes` or rename moves it.
#[derive(Debug, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Identity {
    fn of(meta: &fs::Metadata) -> Identity {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
            Identity {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.size(),
                mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
                ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            }
        }
        #[cfg(not(unix))]
        {
            // No ctime: never trust an identity, always re-hash.
            let _ = meta;
            Identity {
                dev: u64::MAX,
                ino: u64::MAX,
                size: u64::MAX,
                mtime_ns: -1,
                ctime_ns: -1,
            }
        }
    }
}

fn read_index(index_file: &Path, wasm: &Path, stamp: &Stamp) -> Option<String> {
    let text = read_small(index_file)?;
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
/// What the artifact depends on beyond wasmtime's compatibility hash: settings that shape
/// the compiled file without being part of that hash (measured: changing
/// `memory_guaranteed_dense_image_size` kept the key, and the old artifact then copied the
/// snapshot's memory into every instance instead of mapping it). Bump it with `runtime::engine`.
pub const ENGINE_SETTINGS: &str = "pylon-engine-v3: dense image 64 MiB";

fn engine_key(engine: &Engine) -> String {
    let mut h = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    ENGINE_SETTINGS.hash(&mut h);
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
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        // A leftover from a crashed run with our pid: ours to replace.
        let _ = fs::remove_file(&tmp);
        let mut f = options.open(&tmp)?;
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
        let dir = scratch("index");
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

    fn cwasm_in(dir: &Path) -> PathBuf {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .unwrap()
    }

    /// A scratch directory holding `c.wasm` (the empty component) and a cache for it.
    fn fixture(name: &str) -> (PathBuf, PathBuf, Engine, Cache) {
        let root = scratch(name);
        let wasm = root.join("c.wasm");
        fs::write(&wasm, EMPTY_COMPONENT).unwrap();
        let cache = Cache::new(Some(root.join("cache")));
        (root, wasm, Engine::default(), cache)
    }

    fn scratch(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("pylon-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        root
    }

    #[test]
    fn load_compiles_then_hits_and_recovers() {
        let (root, wasm, engine, mut cache) = fixture("load");

        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Compiled);
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Hit);

        // A corrupt artifact is recompiled and overwritten.
        let artifact = cwasm_in(&root.join("cache"));
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

    /// Damage that keeps the size (a disk error, a stray `dd`) is caught by the seal: the
    /// entry is recompiled once, then hits again.
    #[test]
    fn damage_in_place_costs_one_compile() {
        let (root, wasm, engine, mut cache) = fixture("damage");
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Compiled);
        let artifact = cwasm_in(&root.join("cache"));
        let mut bytes = fs::read(&artifact).unwrap();
        let len = bytes.len();
        let pristine = bytes.clone();
        for b in &mut bytes[len / 2..len / 2 + 16] {
            *b ^= 0xff;
        }
        {
            use std::io::{Seek, SeekFrom};
            let mut f = fs::OpenOptions::new().write(true).open(&artifact).unwrap();
            f.seek(SeekFrom::Start(0)).unwrap();
            f.write_all(&bytes).unwrap();
        }
        assert_eq!(fs::metadata(&artifact).unwrap().len() as usize, len);
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Compiled);
        assert_eq!(fs::read(&artifact).unwrap(), pristine);
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Hit);
        fs::remove_dir_all(&root).unwrap();
    }

    /// A copied or restored cache keeps working: the bytes are re-hashed once and re-sealed.
    #[test]
    fn same_bytes_under_a_new_identity_are_resealed() {
        let (root, wasm, engine, mut cache) = fixture("reseal");
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Compiled);
        let artifact = cwasm_in(&root.join("cache"));
        let copy = root.join("copy");
        fs::copy(&artifact, &copy).unwrap();
        fs::rename(&copy, &artifact).unwrap();
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Resealed);
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Hit);

        // No seal (an entry from an older runner): recompiled, not trusted.
        let seal = artifact.with_extension("seal");
        fs::remove_file(&seal).unwrap();
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Compiled);
        assert!(seal.is_file());
        fs::remove_dir_all(&root).unwrap();
    }

    /// FIFOs and symlinks planted where cache files go neither hang nor redirect the runner.
    #[cfg(unix)]
    #[test]
    fn fifos_and_symlinks_in_the_cache_are_skipped() {
        let (root, wasm, engine, mut cache) = fixture("fifo");
        let dir = root.join("cache");
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Compiled);
        let artifact = cwasm_in(&dir);
        let index = fs::read_dir(dir.join("index")).unwrap().next().unwrap().unwrap().path();
        for path in [&index, &artifact] {
            fs::remove_file(path).unwrap();
            let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
            assert!(status.success());
        }
        // Would block forever on open(2) without O_NONBLOCK.
        let (tx, rx) = std::sync::mpsc::channel();
        let (w, d) = (wasm.clone(), dir.clone());
        std::thread::spawn(move || {
            let mut cache = Cache::new(Some(d));
            let _ = tx.send(cache.load(&Engine::default(), &w).map(|r| r.1).ok());
        });
        let outcome = rx.recv_timeout(std::time::Duration::from_secs(20)).expect("load hung on a FIFO");
        assert_eq!(outcome, Some(Outcome::Compiled));
        assert!(fs::symlink_metadata(&artifact).unwrap().is_file());

        // A symlink to a file of the same bytes elsewhere is not followed.
        let elsewhere = root.join("elsewhere.cwasm");
        fs::copy(&artifact, &elsewhere).unwrap();
        fs::remove_file(&artifact).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &artifact).unwrap();
        assert_eq!(cache.load(&engine, &wasm).unwrap().1, Outcome::Compiled);
        assert!(fs::symlink_metadata(&artifact).unwrap().is_file());
        fs::remove_dir_all(&root).unwrap();
    }
}
