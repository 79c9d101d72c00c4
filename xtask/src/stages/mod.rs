//! The build pipeline, one module per stage, in the order data flows:
//!
//! `deps → native → cpython (+ native build python) → libpy → guests → stdlib → snapshot → caps → extglue → component → dynlink →
//! compose → manifest`
//!
//! Each stage takes typed inputs, writes one output (a cache directory or file named by
//! the sha256 of its inputs, see `helpers::digest::StageKey`) and returns where it is.
//! Stages use each other's types and the helpers, never `crate::commands`;
//! `commands::build` runs them in this order.

/// Pinned inputs: fetch, check sha256, unpack zig, apply `deps/patches.toml`.
pub mod deps;
/// Native C libraries (SQLite, libbz2, liblzma) as static archives for CPython's own modules.
pub mod native;
/// CPython: the native build python, then the WASI `python.wasm` with the extensions.
pub mod cpython;
/// The stdlib tree the guest mounts: sources and unchecked-hash bytecode.
pub mod stdlib;
/// The pre-initialized snapshot of `python.wasm` (wasmtime-wizer).
pub mod snapshot;
/// The caps: discovered through `cargo_metadata`, built for wasm32-wasip2.
pub mod caps;
/// The CPython side of each cap: generated C glue (`gen/`) from its WIT.
pub mod extglue;
/// The libpython bundle: libpython without its inittab, the inittabs, each extension's
/// archive, headers, a pyo3 config; for Rust guests and relinked cores.
pub mod libpy;
/// Rust guests under `examples/` that embed CPython through the libpython bundle.
pub mod guests;
/// A core module made a component (wit-component and the preview1 adapter).
pub mod component;
/// The dynlink linker, generated from `caps/dynlink/plan.toml`.
pub mod dynlink;
/// wac composition: the caps plugged into the core.
pub mod compose;
/// `caps-manifest.toml`: the sha256 of every artifact.
pub mod manifest;
