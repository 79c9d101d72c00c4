//! Finding the Python component and its stdlib.

use std::env;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

/// Where the build puts the component, relative to the repository root.
const COMPONENT_REL: &str = "build/pylon.wasm";

/// The component to run and the stdlib directory that belongs to it.
#[derive(Debug)]
pub struct Component {
    /// Canonical (symlink-resolved) path of the `.wasm` file.
    pub wasm: PathBuf,
    /// The path by which it was found (`--wasm`, `$PYLON_WASM` or `build/pylon.wasm`), made
    /// absolute but not resolved: when it is a symlink, the link must be protected too.
    pub named: PathBuf,
    /// `lib/` next to the canonical wasm file: the stdlib tree `python3.13/` (with `lib-dynload/`).
    pub stdlib: PathBuf,
    /// The cold core beside a snapshot (`pylon-cold.wasm` next to the canonical file), when
    /// there is one: the component is then the pre-initialized snapshot.
    pub cold: Option<PathBuf>,
}

/// The cold core's file name beside the snapshot (xtask/src/commands/build.rs writes both).
pub const COLD_FILE: &str = "pylon-cold.wasm";

/// `--wasm`, else `$PYLON_WASM`, else `build/pylon.wasm` upward from the current directory,
/// else upward from the runner executable (which lives in `target/<profile>/` of the repo, so
/// `pylon` works from anywhere when run straight out of the build tree).
pub fn find_component(explicit: Option<&str>) -> Result<Component> {
    let (named, wasm) = if let Some(p) = explicit {
        (absolute(Path::new(p)), existing_file(Path::new(p), "--wasm")?)
    } else if let Some(p) = env::var_os("PYLON_WASM").filter(|p| !p.is_empty()) {
        (absolute(Path::new(&p)), existing_file(Path::new(&p), "$PYLON_WASM")?)
    } else {
        let mut roots = Vec::new();
        if let Ok(cwd) = env::current_dir() {
            roots.push(cwd);
        }
        if let Some(dir) = env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(Path::to_path_buf))
        {
            roots.push(dir);
        }
        match roots.iter().find_map(|r| search_upward(r)) {
            Some(p) => p,
            None => {
                let looked: Vec<String> = roots
                    .iter()
                    .map(|r| format!("{} and its parents", r.display()))
                    .collect();
                bail!(
                    "no Python component found (looked for {COMPONENT_REL} in {}; \
                     --wasm and PYLON_WASM not set); run `cargo xtask build`",
                    looked.join(", ")
                );
            }
        }
    };
    let stdlib = stdlib_for(&wasm);
    if !stdlib.is_dir() {
        bail!(
            "the Python stdlib is missing: expected directory {} next to {}; \
             run `cargo xtask build`",
            stdlib.display(),
            wasm.display()
        );
    }
    let cold = wasm
        .parent()
        .map(|d| d.join(COLD_FILE))
        .filter(|c| c.is_file() && wasm.file_name() != Some(COLD_FILE.as_ref()));
    Ok(Component {
        wasm,
        named,
        stdlib,
        cold,
    })
}

/// `lib/` beside the component; for a Rust guest in `build/<profile>/guests/` (it embeds
/// CPython itself), the `lib/` of the build it was linked from.
fn stdlib_for(wasm: &Path) -> PathBuf {
    let Some(dir) = wasm.parent() else { return PathBuf::from("lib") };
    let beside = dir.join("lib");
    match dir.parent() {
        Some(build) if !beside.is_dir() && dir.file_name() == Some(GUESTS_DIR.as_ref()) => build.join("lib"),
        _ => beside,
    }
}

/// Where `cargo xtask build` puts the Rust guests (xtask/src/stages/guests.rs).
pub const GUESTS_DIR: &str = "guests";

fn existing_file(p: &Path, source: &str) -> Result<PathBuf> {
    match p.canonicalize() {
        Ok(canon) if canon.is_file() => Ok(canon),
        Ok(canon) => bail!("{} (from {source}) is not a file", canon.display()),
        Err(e) => bail!(
            "no Python component found at {} (from {source}): {e}; run `cargo xtask build`",
            p.display()
        ),
    }
}

/// (the path found, its canonical form)
fn search_upward(start: &Path) -> Option<(PathBuf, PathBuf)> {
    start
        .ancestors()
        .map(|d| d.join(COMPONENT_REL))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok().map(|c| (absolute(&p), c)))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn search_upward_finds_build_dir_and_resolves_symlinks() {
        let root = env::temp_dir().join(format!("pylon-locate-test-{}", std::process::id()));
        let deep = root.join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir_all(root.join("real/lib")).unwrap();
        std::fs::write(root.join("real/pylon.wasm"), b"\0asm").unwrap();
        std::fs::create_dir_all(root.join("a/build")).unwrap();
        std::os::unix::fs::symlink(
            root.join("real/pylon.wasm"),
            root.join("a/build/pylon.wasm"),
        )
        .unwrap();

        let (named, found) = search_upward(&deep).unwrap();
        assert_eq!(found, root.join("real/pylon.wasm").canonicalize().unwrap());
        assert_eq!(named, root.join("a/build/pylon.wasm"));
        let c = find_component(Some(root.join("a/build/pylon.wasm").to_str().unwrap())).unwrap();
        assert_eq!(c.stdlib, root.join("real/lib").canonicalize().unwrap());

        let missing = find_component(Some("/nonexistent/pylon.wasm")).unwrap_err();
        assert!(format!("{missing:#}").contains("at /nonexistent/pylon.wasm (from --wasm)"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_guest_uses_the_stdlib_of_its_build() {
        let root = env::temp_dir().join(format!("pylon-locate-guest-{}", std::process::id()));
        std::fs::create_dir_all(root.join("release/lib")).unwrap();
        std::fs::create_dir_all(root.join("release/guests")).unwrap();
        std::fs::create_dir_all(root.join("other")).unwrap();
        assert_eq!(stdlib_for(&root.join("release/guests/g.wasm")), root.join("release/lib"));
        assert_eq!(stdlib_for(&root.join("release/pylon.wasm")), root.join("release/lib"));
        // Only a directory named for the guests falls back to its parent's lib/.
        assert_eq!(stdlib_for(&root.join("other/g.wasm")), root.join("other/lib"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
