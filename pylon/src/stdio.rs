//! The guest's stdout and stderr: the host's (`HostOutput`), or captured in memory
//! (`Captured`).
//!
//! The host's are the host's, except that a closed pipe reads as EPIPE.
//! wasmtime-wasi reports a write to a closed pipe as `StreamError::Closed`, which the preview1
//! adapter can only turn into EIO, so `print()` into `| head` raised `OSError: [Errno 29] I/O
//! error`. Reported instead as a failed operation that carries the `io::Error`,
//! `filesystem-error-code` maps it to `pipe`, the adapter to EPIPE, and CPython raises
//! `BrokenPipeError` as it does natively.

use std::io::Write as _;
use std::sync::{Arc, Mutex};

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

/// Output kept in memory, up to an optional limit; past it the sandbox is stopped with
/// `OutputLimitReached` (what fit is kept).
#[derive(Clone)]
pub struct Captured {
    buf: Arc<Mutex<Vec<u8>>>,
    stream: &'static str,
    limit: Option<usize>,
}

/// The trap a write past the capture limit raises.
#[derive(Debug)]
pub struct OutputLimitReached {
    pub stream: &'static str,
    pub limit: usize,
}

impl std::fmt::Display for OutputLimitReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "captured {} passed its limit of {} bytes", self.stream, self.limit)
    }
}

impl std::error::Error for OutputLimitReached {}

impl Captured {
    pub fn new(stream: &'static str, limit: Option<usize>) -> Self {
        Captured { buf: Arc::default(), stream, limit }
    }

    /// What was written.
    pub fn take(self) -> Vec<u8> {
        std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl IsTerminal for Captured {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Captured {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        // Only WASIp3 asks for this; the p2 command never does.
        Box::new(tokio::io::sink())
    }
}

impl OutputStream for Captured {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        if bytes.len() > WRITE_BUDGET {
            return Err(StreamError::Trap(wasmtime::format_err!("write exceeded budget")));
        }
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        match self.limit {
            Some(limit) if buf.len() + bytes.len() > limit => {
                let room = limit - buf.len();
                buf.extend_from_slice(&bytes[..room]);
                Err(StreamError::Trap(wasmtime::Error::new(OutputLimitReached { stream: self.stream, limit })))
            }
            _ => {
                buf.extend_from_slice(&bytes);
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

#[async_trait::async_trait]
impl Pollable for Captured {
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

    #[test]
    fn capture_keeps_what_fits_then_stops() {
        let c = Captured::new("stdout", Some(5));
        let mut s = c.clone();
        s.write(Bytes::from_static(b"abc")).unwrap();
        match s.write(Bytes::from_static(b"defg")) {
            Err(StreamError::Trap(e)) => assert_eq!(e.downcast_ref::<OutputLimitReached>().unwrap().limit, 5),
            other => panic!("expected the limit trap, got {other:?}"),
        }
        assert_eq!(c.take(), b"abcde");
    }
}
