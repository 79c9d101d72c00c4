//! The guest's stdout and stderr: the host's, except that a closed pipe reads as EPIPE.
//!
//! wasmtime-wasi reports a write to a closed pipe as `StreamError::Closed`, which the preview1
//! adapter can only turn into EIO, so `print()` into `| head` raised `OSError: [Errno 29] I/O
//! error`. Reported instead as a failed operation that carries the `io::Error`,
//! `filesystem-error-code` maps it to `pipe`, the adapter to EPIPE, and CPython raises
//! `BrokenPipeError` as it does natively.

use std::io::Write as _;

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

/// Which of the host's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostOutput {
    Stdout,
    Stderr,
}

/// The most a single write may carry, as reported by `check_write` (wasmtime-wasi's own
/// stdio uses the same 64 KiB).
const WRITE_BUDGET: usize = 64 << 10;

impl HostOutput {
    fn write_all(self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            HostOutput::Stdout => std::io::stdout().write_all(bytes),
            HostOutput::Stderr => std::io::stderr().write_all(bytes),
        }
    }

    fn flush(self) -> std::io::Result<()> {
        match self {
            HostOutput::Stdout => std::io::stdout().flush(),
            HostOutput::Stderr => std::io::stderr().flush(),
        }
    }
}

impl IsTerminal for HostOutput {
    fn is_terminal(&self) -> bool {
        match self {
            HostOutput::Stdout => std::io::IsTerminal::is_terminal(&std::io::stdout()),
            HostOutput::Stderr => std::io::IsTerminal::is_terminal(&std::io::stderr()),
        }
    }
}

impl StdoutStream for HostOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(*self)
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // Only WASIp3 asks for this; the p2 command never does.
        match self {
            HostOutput::Stdout => std::io::stdout().async_stream(),
            HostOutput::Stderr => std::io::stderr().async_stream(),
        }
    }
}

/// Every failure is a failed operation carrying its `io::Error`; none is `Closed`.
fn failed(e: std::io::Error) -> StreamError {
    StreamError::LastOperationFailed(e.into())
}

impl OutputStream for HostOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if bytes.len() > WRITE_BUDGET {
            return Err(StreamError::Trap(wasmtime::format_err!("write exceeded budget")));
        }
        self.write_all(&bytes).map_err(failed)
    }

    fn flush(&mut self) -> StreamResult<()> {
        HostOutput::flush(*self).map_err(failed)
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

#[async_trait::async_trait]
impl Pollable for HostOutput {
    async fn ready(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_a_failed_operation_with_its_errno() {
        let e = failed(std::io::Error::from_raw_os_error(libc::EPIPE));
        match e {
            StreamError::LastOperationFailed(err) => {
                let io = err.downcast_ref::<std::io::Error>().expect("io::Error kept");
                assert_eq!(io.kind(), std::io::ErrorKind::BrokenPipe);
            }
            other => panic!("expected LastOperationFailed, got {other:?}"),
        }
    }
}
