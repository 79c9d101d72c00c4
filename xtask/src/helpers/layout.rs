//! Where things live: the repo, the cache of fetched and built inputs, the build outputs.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The build profiles of the CPython core.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Profile {
    /// Optimised, no DWARF, custom sections stripped: the artifact users run.
    #[default]
    Release,
    /// Optimised lightly, with DWARF and the name section kept.
    Debug,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Release => "release",
            Profile::Debug => "debug",
        }
    }

    /// CPython's `OPT` (optimisation and debug flags) for the WASI build of this profile;
    /// configure's default would add `-g -O3`.
    pub fn opt_flags(self) -> &'static str {
        match self {
            Profile::Release => "-DNDEBUG -O2 -Wall",
            Profile::Debug => "-DNDEBUG -O1 -g -Wall",
        }
    }
}

/// Paths of one checkout. The cache defaults to `target/pylon-cache` so that `cargo clean`
/// resets it; `PYLON_CACHE_DIR` moves it (e.g. to share it between checkouts).
#[derive(Clone, Debug)]
pub struct Layout {
    pub root: PathBuf,
    pub cache: PathBuf,
    pub build: PathBuf,
}

impl Layout {
    pub fn from_env() -> Result<Layout> {
        // `cargo run` sets the manifest dir of xtask; the workspace is its parent.
        let root = match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(dir) => PathBuf::from(dir)
                .parent()
                .context("xtask's manifest dir has no parent")?
                .to_path_buf(),
            None => std::env::current_dir()?,
        };
        Layout::at(&root)
    }

    pub fn at(root: &Path) -> Result<Layout> {
        let root = root
            .canonicalize()
            .with_context(|| format!("workspace root {} not found", root.display()))?;
        let cache = match std::env::var_os("PYLON_CACHE_DIR") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => root.join("target/pylon-cache"),
        };
        std::fs::create_dir_all(&cache)
            .with_context(|| format!("cannot create cache dir {}", cache.display()))?;
        let cache = cache.canonicalize()?;
        Ok(Layout { build: root.join("build"), root, cache })
    }

    pub fn deps_dir(&self) -> PathBuf {
        self.root.join("deps")
    }

    pub fn downloads(&self) -> PathBuf {
        self.cache.join("downloads")
    }

    pub fn profile_dir(&self, profile: Profile) -> PathBuf {
        self.build.join(profile.name())
    }

    /// The committed manifest describes the default (release) build; other profiles keep
    /// theirs next to their artifacts.
    pub fn manifest_path(&self, profile: Profile) -> PathBuf {
        match profile {
            Profile::Release => self.root.join("caps-manifest.toml"),
            _ => self.profile_dir(profile).join("caps-manifest.toml"),
        }
    }
}
