//! pylon: CPython 3.13 compiled to a WebAssembly component, run in a sandbox on wasmtime.
//!
//! An application creates one [`Runtime`] per process (it loads and compiles the component
//! once, links WASI and the host interfaces, and pre-instantiates), then runs any number of
//! [`Sandbox`]es from it: each is a fresh interpreter resumed from the build's
//! pre-initialized snapshot, with only the mounts, environment and limits it was given.
//! Sandboxes are independent and cheap (about a millisecond to start); many run at once on a
//! few threads, since every one is a future and host calls may be `async`.
//!
//! ```
//! use std::time::Duration;
//!
//! # fn main() -> anyhow::Result<()> {
//! // Finds build/pylon.wasm as the CLI does; register host functions here.
//! let runtime = pylon::Runtime::<()>::builder()
//!     .bridge("add", |call| {
//!         let (a, b) = (call.arg(0)?.as_i64(), call.arg(1)?.as_i64());
//!         Ok(serde_json::json!(a.zip(b).map(|(a, b)| a + b)))
//!     })
//!     .build()?;
//! let outcome = runtime
//!     .sandbox()
//!     .timeout(Duration::from_secs(2))
//!     .max_memory(128 << 20)
//!     .run_blocking(pylon::Program::source(
//!         "import pylon_host; print(pylon_host.call('add', 2, 3))",
//!     ))?;
//! assert!(outcome.success(), "{outcome:?}");
//! assert_eq!(outcome.stdout_text(), "5\n");
//! # Ok(())
//! # }
//! ```
//!
//! Typed host interfaces are caps of kind `host`: a WIT interface declared in a crate's
//! `[package.metadata.pylon]`, which the core imports and the application implements with
//! the trait `bindgen!` generates; see [`RuntimeBuilder::host`] and `examples/embed-kv`.
//!
//! Limits: [`Sandbox::timeout`] stops CPU-bound Python (epoch interruption) and blocking host
//! calls alike; [`Sandbox::max_memory`] caps all of the component's linear memories together,
//! so an allocation past it is Python's `MemoryError`; [`Sandbox::capture_limit`] caps
//! captured output. A sandbox that hit a limit or trapped is discarded; the runtime goes on
//! serving others.

mod bridge;
mod cache;
mod devnull;
mod guard;
pub mod limits;
mod locate;
mod outcome;
mod root;
mod runtime;
mod sandbox;
mod start;
mod state;
mod stdio;

pub use bridge::BridgeCall;
pub use outcome::{Outcome, Start, Stopped};
pub use runtime::{CompiledCode, Runtime, RuntimeBuilder, precompile};
pub use sandbox::{Output, Program, Sandbox, Stdin};
pub use state::{SandboxState, User, user};

/// Re-exported so that host caps and applications link against the same wasmtime.
pub use wasmtime;

/// Exit status of a sandbox that trapped, CPython's `abort()` on a fatal error included
/// (wasi-libc implements `abort` as `unreachable`): 128 + SIGABRT, as a native python's
/// abort gives in a shell and as `wasmtime run` reports.
pub const TRAP_EXIT: i32 = 134;
/// Exit status of a sandbox stopped by its time limit (what `timeout(1)` uses).
pub const TIME_LIMIT_EXIT: i32 = 124;
/// Exit status of a sandbox stopped by its memory limit outside Python's reach (CPython's
/// own allocations fail as `MemoryError`, which is exit status 1 when uncaught).
pub const MEMORY_LIMIT_EXIT: i32 = 125;
/// Exit status of a sandbox stopped because its captured output passed its limit.
pub const OUTPUT_LIMIT_EXIT: i32 = 126;
