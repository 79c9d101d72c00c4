//! What one sandbox's wasmtime store holds: WASI, the memory limit, the bridge, and the
//! application's own state `U`.

use std::marker::PhantomData;

use wasmtime::component::{HasData, ResourceTable};
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bridge::BridgeHost;

/// The data of one sandbox's store. Host caps reach the application's part, `U`, through
/// [`User`] and [`user`]:
/// `my_cap::add_to_linker::<_, pylon::User<State>>(linker, pylon::user)`.
pub struct SandboxState<U> {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) bridge: BridgeHost,
    user: U,
}

impl<U> SandboxState<U> {
    pub(crate) fn new(wasi: WasiCtx, limiter: MemoryLimiter, bridge: BridgeHost, user: U) -> Self {
        SandboxState { wasi, table: ResourceTable::new(), limiter, bridge, user }
    }

    /// The application's state of this sandbox.
    pub fn user(&mut self) -> &mut U {
        &mut self.user
    }

    /// Takes the application's state back (after the run).
    pub fn into_user(self) -> U {
        self.user
    }
}

impl<U: Send> WasiView for SandboxState<U> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The [`HasData`] projection of a store onto the application's state `U`: what a host cap's
/// `add_to_linker::<_, User<U>>` takes, with [`user`] as the getter.
pub struct User<U>(PhantomData<fn() -> U>);

impl<U: 'static> HasData for User<U> {
    type Data<'a> = &'a mut U;
}

/// The getter for [`User`]: the application's state of a sandbox.
pub fn user<U>(state: &mut SandboxState<U>) -> &mut U {
    &mut state.user
}

/// The bridge's projection (`pylon:host/bridge`, implemented by the runtime itself).
pub(crate) struct Bridged;

impl HasData for Bridged {
    type Data<'a> = &'a mut BridgeHost;
}

/// Caps every linear memory of the component together (CPython's and each cap's): a
/// `memory.grow` past the limit fails, which CPython's allocator reports as `MemoryError`.
#[derive(Debug, Default)]
pub(crate) struct MemoryLimiter {
    pub limit: Option<u64>,
    /// Bytes held by all memories now, and at most.
    pub total: u64,
    pub peak: u64,
    /// A growth was refused.
    pub hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let grown = self.total + (desired.saturating_sub(current)) as u64;
        if self.limit.is_some_and(|limit| grown > limit) {
            self.hit = true;
            return Ok(false);
        }
        self.total = grown;
        self.peak = self.peak.max(grown);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, _desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_covers_all_memories_together() {
        let mut l = MemoryLimiter { limit: Some(100), ..Default::default() };
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(l.memory_growing(0, 30, None).unwrap());
        // A second memory may not take what the first one holds.
        assert!(!l.memory_growing(30, 50, None).unwrap());
        assert!(l.hit);
        assert!(l.memory_growing(30, 40, None).unwrap());
        assert_eq!((l.total, l.peak), (100, 100));
    }
}
