//! The guest's `/`: a directory the runner owns, mounted read-only.
//!
//! wasi-libc resolves every path through the preopens alone (the longest matching prefix
//! wins; among equal ones the last registered). With only the stdlib at `/usr/local/lib` and
//! the user's mounts, nothing answered for `/` itself, so `os.chdir('/')`, `os.listdir('/')`
//! and `os.getcwd()`-relative tools such as pytest failed although `/` is the guest's
//! working directory. The runner therefore mounts a small directory of its own at `/` unless
//! the user mounts something there; more specific mounts still win inside it.
//!
//! The directory holds only the runner's own mount points, so that walking down from `/`
//! finds them: `dev/`, with an empty placeholder file `null` (see `devnull`, which makes that
//! name the host's null device), and `usr/local/lib/` (the stdlib's mount point). It lives in
//! the compiled-code cache, which read-write mounts can never reach (`guard`); without a
//! usable cache directory it is a fresh private directory under the host's temp directory,
//! removed at exit (a guest that reached it through a mount of the temp directory would
//! only change its own view of `/`). The cached one is shared by concurrent runners and
//! never written once complete: it is built aside and renamed into place, and one that does
//! not have exactly this layout is rebuilt.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The root's name inside the cache directory; a new layout needs a new name, since older
/// runners sharing the cache check for theirs.
const ROOT_NAME: &str = "guest-root-v1";

/// Every entry of the root, parents first: (relative path, is a directory). Anything else
/// found in it makes it not ours.
const LAYOUT: &[(&str, bool)] = &[
    ("dev", true),
    ("dev/null", false),
    ("usr", true),
    ("usr/local", true),
    ("usr/local/lib", true),
];

/// Where the runner's `/dev` is inside the root, and the placeholder of the null device.
pub const DEV: &str = "dev";

/// (device, inode) of a directory, to recognise it behind a guest descriptor.
pub type DirId = (u64, u64);

/// The guest's root directory on the host.
#[derive(Debug)]
pub struct GuestRoot {
    /// Canonical path of the root.
    pub dir: PathBuf,
    /// Identities of the root and of its `dev/`.
    pub root_id: DirId,
    pub dev_id: DirId,
    /// A private fallback (no cache directory), removed when the run is over.
    remove_on_drop: bool,
}

impl Drop for GuestRoot {
    fn drop(&mut self) {
        if self.remove_on_drop {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl GuestRoot {
    /// The root inside `cache` when that works, else a private temporary one.
    pub fn prepare(cache: Option<&Path>) -> io::Result<GuestRoot> {
        if let Some(cache) = cache
            && let Ok(dir) = in_cache(cache)
        {
            return GuestRoot::at(dir, false);
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("pylon-root-{}-{nanos:09}", std::process::id()));
        // `create`, not `create_all`: a directory already there (planted) is not taken.
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        if let Err(e) = build(&dir) {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        GuestRoot::at(dir, true)
    }

    fn at(dir: PathBuf, remove_on_drop: bool) -> io::Result<GuestRoot> {
        let id = |p: &Path| fs::metadata(p).map(|m| (m.dev(), m.ino()));
        let dir = dir.canonicalize()?;
        Ok(GuestRoot {
            root_id: id(&dir)?,
            dev_id: id(&dir.join(DEV))?,
            dir,
            remove_on_drop,
        })
    }

    /// The runner's `/dev` on the host.
    pub fn dev(&self) -> PathBuf {
        self.dir.join(DEV)
    }

    /// A private root of this run only (no usable cache directory), not shared by others.
    pub fn is_private(&self) -> bool {
        self.remove_on_drop
    }
}

/// `cache/guest-root-v1`, built if missing or not exactly [`LAYOUT`].
fn in_cache(cache: &Path) -> io::Result<PathBuf> {
    let dir = cache.join(ROOT_NAME);
    if has_layout(&dir) {
        return Ok(dir);
    }
    fs::create_dir_all(cache)?;
    let tmp = cache.join(format!(".{ROOT_NAME}.{}.tmp", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir(&tmp)?;
    build(&tmp)?;
    // Something else under our name (an interrupted older build, a file): it is ours to
    // replace. `remove_dir_all` does not follow a symlink there, it removes the link.
    if fs::symlink_metadata(&dir).is_ok() && !has_layout(&dir) {
        let _ = fs::remove_dir_all(&dir).or_else(|_| fs::remove_file(&dir));
    }
    let renamed = fs::rename(&tmp, &dir);
    if renamed.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    // Losing the race to another runner is fine as long as its root is complete.
    if has_layout(&dir) {
        Ok(dir)
    } else {
        Err(renamed
            .err()
            .unwrap_or_else(|| io::Error::other("the guest root changed while being built")))
    }
}

fn build(dir: &Path) -> io::Result<()> {
    for (rel, is_dir) in LAYOUT {
        let p = dir.join(rel);
        if *is_dir {
            fs::create_dir(&p)?;
        } else {
            fs::File::create(&p)?;
        }
    }
    Ok(())
}

/// Exactly the entries of [`LAYOUT`], with their kinds, no symlink anywhere, files empty.
fn has_layout(dir: &Path) -> bool {
    let is_real_dir = |p: &Path| fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if !is_real_dir(dir) {
        return false;
    }
    let mut dirs = vec![""];
    dirs.extend(LAYOUT.iter().filter(|(_, d)| *d).map(|(p, _)| *p));
    for parent in dirs {
        let Ok(entries) = fs::read_dir(dir.join(parent)) else {
            return false;
        };
        let mut found = 0;
        for entry in entries {
            let Ok(entry) = entry else { return false };
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return false;
            };
            let rel = if parent.is_empty() {
                name.to_owned()
            } else {
                format!("{parent}/{name}")
            };
            let Some((_, is_dir)) = LAYOUT.iter().find(|(p, _)| *p == rel) else {
                return false;
            };
            let Ok(meta) = fs::symlink_metadata(entry.path()) else {
                return false;
            };
            let ok = if *is_dir {
                meta.is_dir()
            } else {
                meta.is_file() && meta.len() == 0
            };
            if !ok {
                return false;
            }
            found += 1;
        }
        let expected = LAYOUT
            .iter()
            .filter(|(p, _)| Path::new(p).parent() == Some(Path::new(parent)))
            .count();
        if found != expected {
            return false;
        }
    }
    true
}

/// `path` as an absolute guest path with `.`, `..` (never above `/`) and repeated or trailing
/// `/` folded, as the patched wasi-libc folds every path it looks up (`deps/patches.toml`);
/// a relative path is taken from `/`, the working directory mount names are relative to. A
/// mount must be named this way to be found at all: `/a/./b` would never match a folded
/// lookup of `/a/b`.
pub fn fold(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
    }
    format!("/{}", parts.join("/"))
}

/// A guest path as wasi-libc compares it with preopen names: leading `/` and `./` removed,
/// `.` as the empty string, trailing `/` ignored. `""` is the root.
pub fn preopen_key(guest: &str) -> &str {
    let mut p = guest;
    loop {
        if let Some(rest) = p.strip_prefix('/') {
            p = rest;
        } else if let Some(rest) = p.strip_prefix("./") {
            p = rest;
        } else if p == "." {
            p = "";
        } else {
            break;
        }
    }
    p.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("pylon-root-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        root
    }

    #[test]
    fn built_once_then_reused_and_rebuilt_when_damaged() {
        let cache = scratch("cache");
        let a = GuestRoot::prepare(Some(&cache)).unwrap();
        assert_eq!(a.dir, cache.join(ROOT_NAME).canonicalize().unwrap());
        assert!(a.dev().join("null").is_file());
        assert!(a.dir.join("usr/local/lib").is_dir());
        let b = GuestRoot::prepare(Some(&cache)).unwrap();
        assert_eq!(
            (a.root_id, a.dev_id),
            (b.root_id, b.dev_id),
            "reused, not rebuilt"
        );
        drop((a, b));
        assert!(cache.join(ROOT_NAME).is_dir(), "the cached root is kept");

        // Something extra in it, or a non-empty placeholder: not ours any more.
        fs::write(cache.join(ROOT_NAME).join("etc"), "x").unwrap();
        assert!(!has_layout(&cache.join(ROOT_NAME)));
        let c = GuestRoot::prepare(Some(&cache)).unwrap();
        assert!(has_layout(&c.dir) && !c.dir.join("etc").exists());
        fs::write(c.dev().join("null"), "grown").unwrap();
        assert!(!has_layout(&c.dir));
        assert!(has_layout(&GuestRoot::prepare(Some(&cache)).unwrap().dir));
        // No temporary build directories are left behind.
        let names: Vec<_> = fs::read_dir(&cache)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [ROOT_NAME]);
        fs::remove_dir_all(&cache).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_in_place_of_the_root_is_replaced() {
        let cache = scratch("link");
        fs::create_dir_all(cache.join("elsewhere")).unwrap();
        build(&cache.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(cache.join("elsewhere"), cache.join(ROOT_NAME)).unwrap();
        let r = GuestRoot::prepare(Some(&cache)).unwrap();
        assert_eq!(r.dir, cache.join(ROOT_NAME).canonicalize().unwrap());
        assert!(
            !fs::symlink_metadata(cache.join(ROOT_NAME))
                .unwrap()
                .is_symlink()
        );
        assert!(
            cache.join("elsewhere/dev/null").exists(),
            "the link's target is untouched"
        );
        fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn without_a_cache_a_private_root_is_removed_at_the_end() {
        let r = GuestRoot::prepare(None).unwrap();
        let dir = r.dir.clone();
        assert!(has_layout(&dir));
        drop(r);
        assert!(!dir.exists());
        // An unusable cache directory (a file) falls back the same way.
        let cache = scratch("file");
        fs::write(cache.join("c"), "").unwrap();
        let r = GuestRoot::prepare(Some(&cache.join("c"))).unwrap();
        assert!(!r.dir.starts_with(&cache));
        fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn preopen_keys_follow_wasi_libc() {
        for root in ["/", "//", ".", "./", "/./"] {
            assert_eq!(preopen_key(root), "", "{root}");
        }
        assert_eq!(preopen_key("/dev/"), "dev");
        assert_eq!(preopen_key("./dev"), "dev");
        assert_eq!(preopen_key("/usr/local/lib"), "usr/local/lib");
    }

    #[test]
    fn folding_is_lexical_and_stays_under_the_root() {
        for (path, folded) in [
            ("/", "/"),
            (".", "/"),
            ("data", "/data"),
            ("./data/", "/data"),
            ("/a/./b//c/", "/a/b/c"),
            ("/a/../b", "/b"),
            ("/../../x", "/x"),
            ("/a/b/..", "/a"),
        ] {
            assert_eq!(fold(path), folded, "{path}");
        }
    }
}
