//! The host side of the bridge cap: the trait the pylon runtime implements (`Host`) and the
//! `add_to_linker` that registers it. `call` is `async` on the host: a Python caller blocks
//! while the host thread serves other sandboxes.

wasmtime::component::bindgen!({
    path: "wit",
    world: "host",
    imports: { "pylon:host/bridge.call": async, default: trappable },
});

pub use pylon::host::bridge::{CallError, Host, add_to_linker};

/// The interface name as the core imports it.
pub const INTERFACE: &str = "pylon:host/bridge@0.1.0";
