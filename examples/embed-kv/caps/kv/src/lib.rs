//! embed-kv's host cap: the traits the application implements (`Host`, `HostStore`) and
//! the `add_to_linker` it registers them with. `lookup` is `async` on the host.

wasmtime::component::bindgen!({
    path: "wit",
    world: "kv-host",
    imports: { "example:kv/kv.lookup": async, default: trappable },
    with: { "example:kv/kv.store": StoreHandle },
});

pub use example::kv::kv::{Host, HostStore, add_to_linker};

/// The interface name as the core imports it.
pub const INTERFACE: &str = "example:kv/kv@0.1.0";

/// What a Python `Store` object refers to on the host: the store's name.
#[derive(Debug, Clone)]
pub struct StoreHandle {
    pub name: String,
}
