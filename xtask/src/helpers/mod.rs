//! What stages and commands share: paths, hashing and atomic writes, progress lines, the
//! zig compiler wrapper, cargo.

/// `cargo xtask zig-cc`: the compiler wrapper CPython's build calls.
pub mod cc;
/// sha256 of files and trees, stage keys, atomic writes.
pub mod digest;
/// Where the workspace, the cache and the build outputs are.
pub mod layout;
/// `==> stage` / `done in N s` lines.
pub mod progress;
/// cargo and the `pylon` runner binary.
pub mod runner;
/// Section-level rewrites of core wasm modules.
pub mod wasm;
