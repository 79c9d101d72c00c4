//! How a sandbox ended.

use std::fmt;
use std::time::Duration;

/// Which core a run started (see [`crate::Sandbox::no_snapshot`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start {
    /// The pre-initialized snapshot.
    Snapshot,
    /// The cold core beside it, for this reason (an interpreter option, the prompt, ...).
    Cold(String),
    /// A component without a snapshot beside it.
    Only,
}

/// Why a sandbox did not finish on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// [`crate::Sandbox::timeout`] ran out, in Python code or in a blocking call.
    TimeLimit { limit: Duration },
    /// [`crate::Sandbox::max_memory`] was reached where Python could not raise
    /// `MemoryError` (instantiation, or CPython aborting on a failed allocation).
    MemoryLimit { limit: u64 },
    /// Captured output passed [`crate::Sandbox::capture_limit`].
    OutputLimit { stream: &'static str, limit: usize },
    /// A WebAssembly trap: the message and the innermost frames of the wasm backtrace.
    Trap { message: String },
    /// A host function or the runtime failed while the guest ran.
    HostError { message: String },
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stopped::TimeLimit { limit } => write!(f, "time limit of {:.3} s reached", limit.as_secs_f64()),
            Stopped::MemoryLimit { limit } => write!(f, "memory limit of {} reached", human_bytes(*limit)),
            Stopped::OutputLimit { stream, limit } => {
                write!(f, "captured {stream} passed its limit of {}", human_bytes(*limit as u64))
            }
            Stopped::Trap { message } => write!(f, "Python crashed (WebAssembly trap): {message}"),
            Stopped::HostError { message } => write!(f, "error while running Python: {message}"),
        }
    }
}

/// `128 MiB`, `1.5 GiB`, `512 bytes`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            let v = n as f64 / size as f64;
            return if n.is_multiple_of(size) { format!("{} {unit}", n / size) } else { format!("{v:.1} {unit}") };
        }
    }
    format!("{n} bytes")
}

/// The result of running a [`crate::Sandbox`].
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Python's exit status (`sys.exit(n)`; 1 for an uncaught exception), or for a stopped
    /// sandbox [`crate::TIME_LIMIT_EXIT`], [`crate::MEMORY_LIMIT_EXIT`],
    /// [`crate::OUTPUT_LIMIT_EXIT`], [`crate::TRAP_EXIT`], or 1 for a host error.
    pub exit_code: i32,
    /// Set when the sandbox was stopped instead of finishing.
    pub stopped: Option<Stopped>,
    /// Captured stdout (empty unless [`crate::Output::Capture`]).
    pub stdout: Vec<u8>,
    /// Captured stderr (empty unless [`crate::Output::Capture`]).
    pub stderr: Vec<u8>,
    /// Which core ran.
    pub start: Start,
    /// The most linear memory the sandbox held at once, all memories together, in bytes.
    pub peak_memory: u64,
    /// Wall time from the start of instantiation to the end.
    pub elapsed: Duration,
    /// Of that, instantiation (zero if it did not finish).
    pub instantiate: Duration,
}

impl Outcome {
    /// Finished on its own with exit status 0.
    pub fn success(&self) -> bool {
        self.stopped.is_none() && self.exit_code == 0
    }

    /// Captured stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Captured stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(128 << 20), "128 MiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
        assert_eq!(human_bytes(512), "512 bytes");
        let s = Stopped::MemoryLimit { limit: 128 << 20 };
        assert_eq!(s.to_string(), "memory limit of 128 MiB reached");
    }
}
