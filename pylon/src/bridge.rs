//! The untyped host bridge: `pylon_host.call(name, *args, **kwargs)` in Python reaches the
//! closure the application registered under `name`, with the arguments as JSON.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use cap_host_bridge::CallError;
use serde_json::{Map, Value};

/// One call from Python: `pylon_host.call(name, *args, **kwargs)`.
#[derive(Clone, Debug, PartialEq)]
pub struct BridgeCall {
    /// The name it was called by.
    pub name: String,
    /// The positional arguments, decoded from JSON.
    pub args: Vec<Value>,
    /// The keyword arguments, decoded from JSON.
    pub kwargs: Map<String, Value>,
}

impl BridgeCall {
    /// Positional argument `i`, or an error message naming the function and the index.
    pub fn arg(&self, i: usize) -> Result<&Value, String> {
        self.args
            .get(i)
            .ok_or_else(|| format!("{}() takes at least {} positional arguments ({} given)", self.name, i + 1, self.args.len()))
    }

    /// Keyword argument `name`, if given.
    pub fn kwarg(&self, name: &str) -> Option<&Value> {
        self.kwargs.get(name)
    }
}

/// What a bridge function returns: a JSON value, or the message of the Python exception
/// (`pylon_host.HostError`) the caller gets.
pub type BridgeResult = Result<Value, String>;
type BoxFuture = Pin<Box<dyn Future<Output = BridgeResult> + Send>>;

pub(crate) enum BridgeFn {
    Sync(Box<dyn Fn(BridgeCall) -> BridgeResult + Send + Sync>),
    Async(Box<dyn Fn(BridgeCall) -> BoxFuture + Send + Sync>),
}

/// The functions and host interfaces an application registered; shared by its sandboxes.
#[derive(Default)]
pub(crate) struct Bridge {
    pub fns: BTreeMap<String, BridgeFn>,
    /// Host interfaces the application links (the bridge's own included).
    pub provided: BTreeSet<String>,
}

/// The bridge's state in one sandbox's store.
pub(crate) struct BridgeHost(pub Arc<Bridge>);

impl BridgeHost {
    fn decode(name: String, payload: &str) -> Result<BridgeCall, CallError> {
        let value: Value = serde_json::from_str(payload).map_err(|e| CallError::Failed(format!("malformed payload: {e}")))?;
        let mut call = BridgeCall { name, args: Vec::new(), kwargs: Map::new() };
        if let Value::Object(mut o) = value {
            if let Some(Value::Array(a)) = o.remove("args") {
                call.args = a;
            }
            if let Some(Value::Object(k)) = o.remove("kwargs") {
                call.kwargs = k;
            }
        }
        Ok(call)
    }
}

impl cap_host_bridge::Host for BridgeHost {
    async fn call(&mut self, name: String, payload: String) -> Result<String, CallError> {
        let bridge = self.0.clone();
        let Some(f) = bridge.fns.get(&name) else {
            return Err(CallError::Unknown(name));
        };
        let call = Self::decode(name, &payload)?;
        let result = match f {
            BridgeFn::Sync(f) => f(call),
            BridgeFn::Async(f) => f(call).await,
        };
        let value = result.map_err(CallError::Failed)?;
        serde_json::to_string(&value).map_err(|e| CallError::Failed(format!("cannot encode the result: {e}")))
    }

    fn provided(&mut self, name: String) -> wasmtime::Result<bool> {
        Ok(self.0.provided.contains(&name))
    }
}
