//! The sqlite3 cap: SQLite for pylon, whose WASI CPython has no `_sqlite3`.
//!
//! [`engine`] is a small safe layer over SQLite's C API shaped after what CPython's
//! `Modules/_sqlite` needs (batches of rows, whole parameter lists, executemany in one
//! call); the component glue, built only for Wasm, exports it as
//! `pylon:sqlite3/sqlite3@0.1.0`. The Python facade (`cpython-ext/_sqlite3_cap/_sqlite3.py`)
//! turns it back into CPython's `_sqlite3` module, under the unchanged `sqlite3` package.

pub mod engine;
#[cfg(target_os = "wasi")]
mod wasi_vfs;

#[cfg(target_arch = "wasm32")]
mod component;
