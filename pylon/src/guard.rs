//! What the guest must never be able to write.
//!
//! The runner executes native code that it loads from the compiled-code cache, and it runs
//! the component and stdlib it finds on disk. A guest that could write any of those through a
//! read-write mount would plant code that runs outside the sandbox (the cache) or inside every
//! later sandbox (the component, the stdlib, the runner's guest `/`). So a read-write mount is refused when it
//! contains one of them, or lies inside one of them, after resolving symlinks and `..`.

use std::fmt;
use std::path::{Component, Path, PathBuf};

/// A host path the guest must not be able to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protected {
    /// What it is, for the message: "the compiled-code cache", "the Python component", …
    pub what: &'static str,
    /// Resolved as far as it exists (see [`resolve`]).
    pub path: PathBuf,
}

impl Protected {
    /// `path` need not exist yet (the cache directory is created on first use): the part
    /// that exists is resolved, the rest appended.
    pub fn new(what: &'static str, path: &Path) -> Protected {
        Protected {
            what,
            path: resolve(path),
        }
    }
}

/// A read-write mount that would let the guest write a protected path.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    /// The option as the user wrote it, e.g. `--dir .`.
    pub option: String,
    /// The mount's resolved host directory.
    pub mount: PathBuf,
    pub protected: Protected,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.protected;
        let relation = if p.path.starts_with(&self.mount) {
            "contains"
        } else {
            "lies inside"
        };
        write!(
            f,
            "refusing {}: the read-write mount {} {relation} {} {}, which the guest could then \
             overwrite; mount it read-only with --dir-ro, mount another directory",
            self.option,
            self.mount.display(),
            p.what,
            p.path.display(),
        )?;
        if p.what == CACHE {
            write!(f, ", or move the cache with PYLON_CACHE_DIR")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

/// The `what` of the compiled-code cache (its message also suggests `PYLON_CACHE_DIR`).
pub const CACHE: &str = "the compiled-code cache";
/// The `what` of the runner's shared directory mounted at the guest's `/` (see `root`): a
/// guest that could write it would change what every later guest sees at `/`. It lies in
/// the cache, so the cache's entry covers it too; it is named on its own so that this holds
/// wherever it moves. (A private per-run root, used without a cache, is not protected: a
/// guest writing it changes only its own view, and refusing `--dir /tmp` for it would be
/// wrong.)
pub const ROOT: &str = "the guest's root directory";

/// Checks every read-write mount (`option` as written, resolved host directory) against
/// every protected path; the first conflict is returned.
pub fn check_writable_mounts<'a>(
    mounts: impl IntoIterator<Item = (String, &'a Path)>,
    protected: &[Protected],
) -> Result<(), Refused> {
    for (option, mount) in mounts {
        let mount = resolve(mount);
        for p in protected {
            if p.path.starts_with(&mount) || mount.starts_with(&p.path) {
                return Err(Refused {
                    option,
                    mount,
                    protected: p.clone(),
                });
            }
        }
    }
    Ok(())
}

/// `path` made absolute, with its longest existing prefix canonicalized (symlinks and `..`
/// resolved) and the remaining components appended; `..` in the remainder is folded
/// lexically, since nothing there exists to be a symlink.
pub fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canon) = existing.canonicalize() {
            let mut out = canon;
            for c in rest.iter().rev() {
                match c {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn scratch(name: &str) -> PathBuf {
        let root =
            std::env::temp_dir().join(format!("pylon-guard-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        root.canonicalize().unwrap()
    }

    #[test]
    fn resolve_handles_missing_tails_and_dotdot() {
        let root = scratch("resolve");
        fs::create_dir_all(root.join("a")).unwrap();
        assert_eq!(resolve(&root.join("a/./b/c")), root.join("a/b/c"));
        assert_eq!(resolve(&root.join("a/x/../y")), root.join("a/y"));
        assert_eq!(resolve(&root.join("a/../a")), root.join("a"));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn mount_containing_or_inside_a_protected_path_is_refused() {
        let root = scratch("mounts");
        let home = root.join("home");
        fs::create_dir_all(home.join("work")).unwrap();
        // The cache does not exist yet: a mount of its would-be ancestor is still refused.
        let protected = [Protected::new(CACHE, &home.join(".cache/pylon"))];
        let err = check_writable_mounts([("--dir .".to_owned(), home.as_path())], &protected)
            .unwrap_err();
        assert_eq!(err.mount, home);
        let msg = err.to_string();
        assert!(msg.contains("--dir ."), "{msg}");
        assert!(msg.contains(&home.join(".cache/pylon").display().to_string()), "{msg}");
        assert!(msg.contains("--dir-ro") && msg.contains("PYLON_CACHE_DIR"), "{msg}");

        // A mount beside the cache is fine; one inside it is not.
        assert!(
            check_writable_mounts([("--dir w".to_owned(), home.join("work").as_path())], &protected)
                .is_ok()
        );
        fs::create_dir_all(home.join(".cache/pylon/index")).unwrap();
        let inside = home.join(".cache/pylon/index");
        let err = check_writable_mounts([("--dir i".to_owned(), inside.as_path())], &protected)
            .unwrap_err();
        assert!(err.to_string().contains("lies inside"), "{err}");
        fs::remove_dir_all(&root).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_resolved_on_both_sides() {
        let root = scratch("links");
        fs::create_dir_all(root.join("real/cache")).unwrap();
        fs::create_dir_all(root.join("elsewhere")).unwrap();
        // The cache is reached through a link; the mount names the real directory.
        std::os::unix::fs::symlink(root.join("real"), root.join("elsewhere/link")).unwrap();
        let protected = [Protected::new(CACHE, &root.join("elsewhere/link/cache"))];
        assert!(
            check_writable_mounts([("--dir r".to_owned(), root.join("real").as_path())], &protected)
                .is_err()
        );
        // And the other way round: the mount is a link to the cache's parent.
        let protected = [Protected::new(CACHE, &root.join("real/cache"))];
        assert!(
            check_writable_mounts(
                [("--dir l".to_owned(), root.join("elsewhere/link").as_path())],
                &protected
            )
            .is_err()
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
