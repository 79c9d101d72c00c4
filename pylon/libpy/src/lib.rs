//! Links pylon's libpython bundle (`build/<profile>/libpy/`, written by `cargo xtask build`)
//! into a Rust program for `wasm32-wasip1`: the role of WebAssembly Language Runtimes'
//! `wlr-libpy`, for this checkout's CPython.
//!
//! Its build script finds the bundle (`$PYLON_LIBPY_DIR`, else this checkout's
//! `build/$PYLON_LIBPY_PROFILE/libpy`, `release` by default), and emits the link lines of
//! `libpy.toml`: libpython, an inittab, the static dependencies and the `-l` libraries of the
//! pinned zig's wasi-libc. A dependency's `rustc-link-arg` does not reach the final link, so
//! the stack size and initial memory are exported for the guest's own build script, as
//! `DEP_PYLON_LIBPY_LINK_ARGS` (space-separated, for a cc-style linker), with
//! `DEP_PYLON_LIBPY_LIB_DIR`, `DEP_PYLON_LIBPY_INCLUDE` and `DEP_PYLON_LIBPY_PYO3_CONFIG`
//! (a `PYO3_CONFIG_FILE`).
//!
//! Link lines of an unused crate are dropped: a guest must name this crate in its code
//! (`use pylon_libpy as _;`). On other targets the build script does nothing.
#![no_std]

/// Where the runner mounts the stdlib (`/usr/local/lib/python3.13`): CPython's `home` for a
/// guest that initialises it without an argv0 (`Python::initialize`), as `PYTHONHOME`.
pub const PYTHON_HOME: &str = "/usr/local";

/// The CPython version the bundle holds.
pub const PYTHON_VERSION: &str = "3.13";
