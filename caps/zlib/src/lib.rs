//! The zlib cap: CPython's `zlib` module for pylon, whose WASI CPython has no zlib.
//!
//! [`engine`] is CPython's `zlibmodule.c` ported to Rust on zlib-rs (pure Rust, so it
//! builds for wasm32-wasip2 with no C toolchain); the component glue, built only for Wasm,
//! exports it as `pylon:zlib/zlib@0.1.0`. The Python facade (`cpython-ext/_zlib_cap/zlib.py`)
//! turns it back into the stdlib `zlib` module.

pub mod engine;

#[cfg(target_arch = "wasm32")]
mod component;
