//! CPython 3.13's `Modules/zlibmodule.c`, ported to Rust on zlib-rs's zlib API.
//!
//! Plain Rust with no WIT types, so that it is tested on the host. Every function follows
//! its C counterpart statement by statement (same zlib calls, same flush modes, same output
//! buffer growth, same order of checks) because CPython's observable behaviour — which
//! error, which message, what ends up in `unused_data` and `unconsumed_tail` — falls out of
//! those details. Where CPython raises something other than `zlib.error`, the message is
//! one of the constants below and the facade picks the exception type from it.
//!
//! Nothing here panics on any input: zlib-rs reports corrupt data as status codes, output
//! growth uses `try_reserve`, and slicing is checked.

use core::ffi::{CStr, c_int, c_ulong};
use libz_rs_sys::{self as z, z_stream};

pub const MAX_WBITS: i32 = 15;
pub const DEFLATED: i32 = 8;
pub const DEF_MEM_LEVEL: i32 = 8;
pub const DEF_BUF_SIZE: usize = 16 * 1024;
pub const Z_DEFAULT_STRATEGY: i32 = 0;

pub const Z_NO_FLUSH: i32 = 0;
pub const Z_PARTIAL_FLUSH: i32 = 1;
pub const Z_SYNC_FLUSH: i32 = 2;
pub const Z_FULL_FLUSH: i32 = 3;
pub const Z_FINISH: i32 = 4;
pub const Z_BLOCK: i32 = 5;

const Z_OK: c_int = 0;
const Z_STREAM_END: c_int = 1;
const Z_NEED_DICT: c_int = 2;
const Z_STREAM_ERROR: c_int = -2;
const Z_DATA_ERROR: c_int = -3;
const Z_MEM_ERROR: c_int = -4;
const Z_BUF_ERROR: c_int = -5;
const Z_VERSION_ERROR: c_int = -6;

/// Messages CPython raises as `ValueError` rather than `zlib.error`.
pub const VALUE_ERRORS: &[&str] = &[
    INVALID_INIT,
    INVALID_DICT,
    DEFLATE_SET_DICT,
    INCONSISTENT_STATE,
    LENGTH_NOT_POSITIVE,
];
/// Messages CPython raises as `MemoryError`.
pub const MEMORY_ERRORS: &[&str] = &[
    OOM_COMPRESSING,
    OOM_DECOMPRESSING,
    OOM_COMPRESSOBJ,
    OOM_DECOMPRESSOBJ,
    OOM_OUTPUT,
];
/// Messages CPython raises as `OverflowError`.
pub const OVERFLOW_ERRORS: &[&str] = &[ZDICT_TOO_LONG];

pub const INVALID_INIT: &str = "Invalid initialization option";
pub const INVALID_DICT: &str = "Invalid dictionary";
pub const DEFLATE_SET_DICT: &str = "deflateSetDictionary()";
pub const INCONSISTENT_STATE: &str = "Inconsistent stream state";
pub const LENGTH_NOT_POSITIVE: &str = "length must be greater than zero";
pub const BAD_LEVEL: &str = "Bad compression level";
pub const OOM_COMPRESSING: &str = "Out of memory while compressing data";
pub const OOM_DECOMPRESSING: &str = "Out of memory while decompressing data";
pub const OOM_COMPRESSOBJ: &str = "Can't allocate memory for compression object";
pub const OOM_DECOMPRESSOBJ: &str = "Can't allocate memory for decompression object";
pub const OOM_OUTPUT: &str = "Unable to allocate output buffer.";
pub const ZDICT_TOO_LONG: &str = "zdict length does not fit in an unsigned int";

/// A failure as CPython reports it: the zlib status code and the exception's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: i32,
    pub message: String,
}

impl Error {
    fn new(code: c_int, message: &str) -> Self {
        Error { code, message: message.to_owned() }
    }
}

type Result<T> = core::result::Result<T, Error>;

/// `zlib_error()`: "Error %d %s[: %.200s]" with zlib's own message, or a fallback for the
/// codes zlib leaves without one.
fn zlib_error(zst: &z_stream, err: c_int, msg: &str) -> Error {
    let zmsg: Option<String> = if err == Z_VERSION_ERROR {
        Some("library version mismatch".into())
    } else if !zst.msg.is_null() {
        // SAFETY: zlib-rs only ever stores pointers to static NUL-terminated strings here.
        Some(unsafe { CStr::from_ptr(zst.msg) }.to_string_lossy().into_owned())
    } else {
        match err {
            Z_BUF_ERROR => Some("incomplete or truncated stream".into()),
            Z_STREAM_ERROR => Some("inconsistent stream state".into()),
            Z_DATA_ERROR => Some("invalid input data".into()),
            _ => None,
        }
    };
    let message = match zmsg {
        None => format!("Error {err} {msg}"),
        Some(m) => format!("Error {err} {msg}: {}", m.chars().take(200).collect::<String>()),
    };
    Error { code: err, message }
}

/// A new, uninitialised stream, boxed because zlib's state points back at it: it must not
/// move once `*Init2_` has run.
fn new_stream() -> Box<z_stream> {
    let mut zst = Box::new(z_stream::default());
    idle_output(&mut zst);
    zst
}

/// No output space, but a non-null `next_out`: zlib-rs's `inflateCopy` refuses a stream
/// whose `next_out` is NULL, where CPython (on stock zlib) can copy any live object.
fn idle_output(zst: &mut z_stream) {
    zst.next_out = core::ptr::NonNull::<u8>::dangling().as_ptr();
    zst.avail_out = 0;
}

fn deflate_init(zst: &mut z_stream, level: i32, method: i32, wbits: i32, mem_level: i32, strategy: i32) -> c_int {
    // SAFETY: zst is a valid, default-initialised z_stream; zlibVersion() is NUL-terminated.
    unsafe {
        z::deflateInit2_(
            zst,
            level,
            method,
            wbits,
            mem_level,
            strategy,
            z::zlibVersion(),
            core::mem::size_of::<z_stream>() as c_int,
        )
    }
}

fn inflate_init(zst: &mut z_stream, wbits: i32) -> c_int {
    // SAFETY: as for deflate_init.
    unsafe { z::inflateInit2_(zst, wbits, z::zlibVersion(), core::mem::size_of::<z_stream>() as c_int) }
}

// The zlib entry points below accept any z_stream: one whose state is NULL (never
// initialised, or ended) gets Z_STREAM_ERROR, exactly as CPython relies on.
fn deflate(zst: &mut z_stream, flush: c_int) -> c_int {
    // SAFETY: next_in/avail_in and next_out/avail_out always describe live buffers when
    // this is called (set by `InputCursor::arrange` and `OutputBuffer::arm`).
    unsafe { z::deflate(zst, flush) }
}
fn inflate(zst: &mut z_stream, flush: c_int) -> c_int {
    // SAFETY: as for deflate.
    unsafe { z::inflate(zst, flush) }
}
fn deflate_end(zst: &mut z_stream) -> c_int {
    // SAFETY: a valid z_stream; its state is freed and set to NULL.
    unsafe { z::deflateEnd(zst) }
}
fn inflate_end(zst: &mut z_stream) -> c_int {
    // SAFETY: as for deflate_end.
    unsafe { z::inflateEnd(zst) }
}

/// CPython's `_BlocksOutputBuffer`: output grows by blocks of 32 KiB, 64 KiB, 256 KiB, ...
/// and zlib is handed one block at a time. The block sizes matter where CPython's results
/// depend on how much input zlib consumed (`max_length` and `unconsumed_tail`), so they are
/// kept; the blocks themselves are one contiguous `Vec`.
struct OutputBuffer {
    buf: Vec<u8>,
    /// Sum of the block sizes so far; `allocated - buf.len()` is the current avail_out.
    allocated: usize,
    blocks: usize,
    max_length: Option<usize>,
    /// avail_out given to zlib by the last `arm`.
    armed: usize,
}

const KB: usize = 1024;
const MB: usize = 1024 * 1024;
const BUFFER_BLOCK_SIZE: [usize; 17] = [
    32 * KB,
    64 * KB,
    256 * KB,
    MB,
    4 * MB,
    8 * MB,
    16 * MB,
    16 * MB,
    32 * MB,
    32 * MB,
    32 * MB,
    32 * MB,
    64 * MB,
    64 * MB,
    128 * MB,
    128 * MB,
    256 * MB,
];

/// The first block of `decompress(bufsize)` and `Decompress.flush(length)` is capped here
/// (CPython allocates it whole): the output is the same, and a huge `bufsize` cannot exhaust
/// a 32-bit Wasm memory before any data exists.
const MAX_INITIAL_BUF_SIZE: usize = 16 * MB;

impl OutputBuffer {
    /// `_BlocksOutputBuffer_InitAndGrow`: first block of 32 KiB, or `max_length` if smaller.
    fn init_and_grow(max_length: Option<usize>) -> Result<Self> {
        let block = match max_length {
            Some(m) if m < BUFFER_BLOCK_SIZE[0] => m,
            _ => BUFFER_BLOCK_SIZE[0],
        };
        let mut out = OutputBuffer { buf: Vec::new(), allocated: 0, blocks: 0, max_length, armed: 0 };
        out.add_block(block)?;
        Ok(out)
    }

    /// `_BlocksOutputBuffer_InitWithSize`.
    fn init_with_size(size: usize) -> Result<Self> {
        let mut out = OutputBuffer { buf: Vec::new(), allocated: 0, blocks: 0, max_length: None, armed: 0 };
        out.add_block(size.min(MAX_INITIAL_BUF_SIZE))?;
        Ok(out)
    }

    /// `_BlocksOutputBuffer_Grow`.
    fn grow(&mut self) -> Result<()> {
        let mut block = BUFFER_BLOCK_SIZE[self.blocks.min(BUFFER_BLOCK_SIZE.len() - 1)];
        if let Some(max) = self.max_length {
            block = block.min(max.saturating_sub(self.allocated));
        }
        self.add_block(block)
    }

    fn add_block(&mut self, size: usize) -> Result<()> {
        let total = self.allocated.checked_add(size).ok_or_else(|| Error::new(Z_MEM_ERROR, OOM_OUTPUT))?;
        self.buf
            .try_reserve_exact(total - self.buf.len())
            .map_err(|_| Error::new(Z_MEM_ERROR, OOM_OUTPUT))?;
        self.allocated = total;
        self.blocks += 1;
        Ok(())
    }

    fn avail_out(&self) -> usize {
        self.allocated - self.buf.len()
    }

    fn data_size(&self) -> usize {
        self.buf.len()
    }

    /// Point zlib's output at the free part of the current block.
    fn arm(&mut self, zst: &mut z_stream) {
        self.armed = self.avail_out().min(u32::MAX as usize);
        zst.next_out = self.buf.spare_capacity_mut().as_mut_ptr().cast();
        zst.avail_out = self.armed as u32;
    }

    /// Take into account what zlib wrote since `arm`.
    fn commit(&mut self, zst: &mut z_stream) {
        let written = self.armed.saturating_sub(zst.avail_out as usize);
        // SAFETY: zlib initialised exactly `written` bytes from the armed position, which
        // lies within the reserved capacity.
        unsafe { self.buf.set_len(self.buf.len() + written) };
        self.armed = 0;
        idle_output(zst);
    }

    fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// One zlib call with the output armed and committed around it.
fn run(out: &mut OutputBuffer, zst: &mut z_stream, f: impl FnOnce(&mut z_stream) -> c_int) -> c_int {
    out.arm(zst);
    let err = f(zst);
    out.commit(zst);
    err
}

/// The input side: `arrange_input_buffer` feeds zlib at most u32::MAX bytes at a time;
/// `remains` counts what has not been handed over yet.
struct InputCursor<'a> {
    data: &'a [u8],
    remains: usize,
}

impl<'a> InputCursor<'a> {
    fn start(zst: &mut z_stream, data: &'a [u8]) -> Self {
        zst.next_in = data.as_ptr();
        zst.avail_in = 0;
        InputCursor { data, remains: data.len() }
    }

    fn arrange(&mut self, zst: &mut z_stream) {
        let n = self.remains.min(u32::MAX as usize);
        zst.avail_in = n as u32;
        self.remains -= n;
    }

    /// The input zlib has not consumed: `data + len - next_in`.
    fn rest(&self, zst: &z_stream) -> &'a [u8] {
        let left = self.remains.saturating_add(zst.avail_in as usize);
        let start = self.data.len().saturating_sub(left);
        self.data.get(start..).unwrap_or(&[])
    }
}

/// `zlib.compress(data, level, wbits)`.
pub fn compress(data: &[u8], level: i32, wbits: i32) -> Result<Vec<u8>> {
    let mut out = OutputBuffer::init_and_grow(None)?;
    let mut zst = new_stream();
    let mut input = InputCursor::start(&mut zst, data);
    let mut err = deflate_init(&mut zst, level, DEFLATED, wbits, DEF_MEM_LEVEL, Z_DEFAULT_STRATEGY);
    match err {
        Z_OK => {}
        Z_MEM_ERROR => return Err(Error::new(err, OOM_COMPRESSING)),
        Z_STREAM_ERROR => return Err(Error::new(err, BAD_LEVEL)),
        _ => {
            let e = zlib_error(&zst, err, "while compressing data");
            deflate_end(&mut zst);
            return Err(e);
        }
    }
    loop {
        input.arrange(&mut zst);
        let flush = if input.remains == 0 { Z_FINISH } else { Z_NO_FLUSH };
        loop {
            if out.avail_out() == 0
                && let Err(e) = out.grow()
            {
                deflate_end(&mut zst);
                return Err(e);
            }
            err = run(&mut out, &mut zst, |s| deflate(s, flush));
            if err == Z_STREAM_ERROR {
                let e = zlib_error(&zst, err, "while compressing data");
                deflate_end(&mut zst);
                return Err(e);
            }
            if out.avail_out() != 0 {
                break;
            }
        }
        if flush == Z_FINISH {
            break;
        }
    }
    err = deflate_end(&mut zst);
    if err == Z_OK {
        Ok(out.finish())
    } else {
        Err(zlib_error(&zst, err, "while finishing compression"))
    }
}

/// `zlib.decompress(data, wbits, bufsize)`; `bufsize` 0 means 1, as in CPython.
pub fn decompress(data: &[u8], wbits: i32, bufsize: usize) -> Result<Vec<u8>> {
    let mut out = OutputBuffer::init_with_size(bufsize.max(1))?;
    let mut zst = new_stream();
    let mut input = InputCursor::start(&mut zst, data);
    let mut err = inflate_init(&mut zst, wbits);
    match err {
        Z_OK => {}
        Z_MEM_ERROR => return Err(Error::new(err, OOM_DECOMPRESSING)),
        _ => {
            let e = zlib_error(&zst, err, "while preparing to decompress data");
            inflate_end(&mut zst);
            return Err(e);
        }
    }
    loop {
        input.arrange(&mut zst);
        let flush = if input.remains == 0 { Z_FINISH } else { Z_NO_FLUSH };
        loop {
            if out.avail_out() == 0
                && let Err(e) = out.grow()
            {
                inflate_end(&mut zst);
                return Err(e);
            }
            err = run(&mut out, &mut zst, |s| inflate(s, flush));
            match err {
                Z_OK | Z_BUF_ERROR | Z_STREAM_END => {}
                Z_MEM_ERROR => {
                    inflate_end(&mut zst);
                    return Err(Error::new(err, OOM_DECOMPRESSING));
                }
                _ => {
                    let e = zlib_error(&zst, err, "while decompressing data");
                    inflate_end(&mut zst);
                    return Err(e);
                }
            }
            if out.avail_out() != 0 {
                break;
            }
        }
        if err == Z_STREAM_END || input.remains == 0 {
            break;
        }
    }
    if err != Z_STREAM_END {
        let e = zlib_error(&zst, err, "while decompressing data");
        inflate_end(&mut zst);
        return Err(e);
    }
    err = inflate_end(&mut zst);
    if err != Z_OK {
        return Err(zlib_error(&zst, err, "while finishing decompression"));
    }
    Ok(out.finish())
}

/// `zlib.crc32(data, value)`.
pub fn crc32(data: &[u8], value: u32) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(value);
    h.update(data);
    h.finalize()
}

/// `zlib.adler32(data, value)`.
pub fn adler32(data: &[u8], value: u32) -> u32 {
    // SAFETY: data.as_ptr() is valid for data.len() bytes.
    unsafe { z::adler32_z(value as c_ulong, data.as_ptr(), data.len()) as u32 }
}

/// The zlib-rs version string, e.g. "1.3.1-zlib-rs-0.6.8" (CPython's ZLIB_VERSION and
/// ZLIB_RUNTIME_VERSION; its test suite reads the part before the first '-').
pub fn version() -> String {
    // SAFETY: zlibVersion() returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(z::zlibVersion()) }.to_string_lossy().into_owned()
}

/// A `zlib.Compress` object.
pub struct Compressor {
    zst: Box<z_stream>,
    /// `is_initialised`: false after `flush(Z_FINISH)` ended the stream (and for a copy
    /// that failed), so Drop does not end it twice.
    initialised: bool,
}

impl Compressor {
    /// `zlib.compressobj(level, method, wbits, memLevel, strategy, zdict)`.
    pub fn new(level: i32, method: i32, wbits: i32, mem_level: i32, strategy: i32, zdict: Option<&[u8]>) -> Result<Self> {
        if zdict.is_some_and(|d| d.len() > u32::MAX as usize) {
            return Err(Error::new(Z_STREAM_ERROR, ZDICT_TOO_LONG));
        }
        let mut this = Compressor { zst: new_stream(), initialised: false };
        let err = deflate_init(&mut this.zst, level, method, wbits, mem_level, strategy);
        match err {
            Z_OK => {
                this.initialised = true;
                let Some(dict) = zdict else { return Ok(this) };
                // SAFETY: an initialised stream; dict is valid for dict.len() bytes.
                let err = unsafe { z::deflateSetDictionary(&mut *this.zst, dict.as_ptr(), dict.len() as u32) };
                match err {
                    Z_OK => Ok(this),
                    Z_STREAM_ERROR => Err(Error::new(err, INVALID_DICT)),
                    _ => Err(Error::new(err, DEFLATE_SET_DICT)),
                }
            }
            Z_MEM_ERROR => Err(Error::new(err, OOM_COMPRESSOBJ)),
            Z_STREAM_ERROR => Err(Error::new(err, INVALID_INIT)),
            _ => Err(zlib_error(&this.zst, err, "while creating compression object")),
        }
    }

    /// `Compress.compress(data)`.
    pub fn compress(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        let zst = &mut *self.zst;
        let mut input = InputCursor::start(zst, data);
        let mut out = OutputBuffer::init_and_grow(None)?;
        loop {
            input.arrange(zst);
            loop {
                if out.avail_out() == 0 {
                    out.grow()?;
                }
                let err = run(&mut out, zst, |s| deflate(s, Z_NO_FLUSH));
                if err == Z_STREAM_ERROR {
                    return Err(zlib_error(zst, err, "while compressing data"));
                }
                if out.avail_out() != 0 {
                    break;
                }
            }
            if input.remains == 0 {
                break;
            }
        }
        Ok(out.finish())
    }

    /// `Compress.flush(mode)`: Z_FINISH ends the stream; flushing again is an error.
    pub fn flush(&mut self, mode: i32) -> Result<Vec<u8>> {
        if mode == Z_NO_FLUSH {
            return Ok(Vec::new());
        }
        let zst = &mut *self.zst;
        zst.avail_in = 0;
        let mut out = OutputBuffer::init_and_grow(None)?;
        let mut err;
        loop {
            if out.avail_out() == 0 {
                out.grow()?;
            }
            err = run(&mut out, zst, |s| deflate(s, mode));
            if err == Z_STREAM_ERROR {
                return Err(zlib_error(zst, err, "while flushing"));
            }
            if out.avail_out() != 0 {
                break;
            }
        }
        if err == Z_STREAM_END && mode == Z_FINISH {
            err = deflate_end(zst);
            if err != Z_OK {
                return Err(zlib_error(zst, err, "while finishing compression"));
            }
            self.initialised = false;
        } else if err != Z_OK && err != Z_BUF_ERROR {
            return Err(zlib_error(zst, err, "while flushing"));
        }
        Ok(out.finish())
    }

    /// `Compress.copy()`; an ended stream cannot be copied (ValueError).
    pub fn copy(&mut self) -> Result<Self> {
        let mut new = Compressor { zst: new_stream(), initialised: false };
        // SAFETY: both are valid z_streams; deflateCopy checks the source's state.
        let err = unsafe { z::deflateCopy(&mut *new.zst, &mut *self.zst) };
        match err {
            Z_OK => {
                new.initialised = true;
                Ok(new)
            }
            Z_STREAM_ERROR => Err(Error::new(err, INCONSISTENT_STATE)),
            Z_MEM_ERROR => Err(Error::new(err, OOM_COMPRESSOBJ)),
            _ => Err(zlib_error(&self.zst, err, "while copying compression object")),
        }
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        if self.initialised {
            deflate_end(&mut self.zst);
        }
    }
}

/// A `zlib.Decompress` object.
pub struct Decompressor {
    zst: Box<z_stream>,
    initialised: bool,
    unused_data: Vec<u8>,
    unconsumed_tail: Vec<u8>,
    eof: bool,
    zdict: Option<Vec<u8>>,
}

impl Decompressor {
    /// `zlib.decompressobj(wbits, zdict)`: a raw stream gets the dictionary now, a zlib
    /// stream when its header asks for it.
    pub fn new(wbits: i32, zdict: Option<&[u8]>) -> Result<Self> {
        let mut this = Decompressor {
            zst: new_stream(),
            initialised: false,
            unused_data: Vec::new(),
            unconsumed_tail: Vec::new(),
            eof: false,
            zdict: zdict.map(<[u8]>::to_vec),
        };
        let err = inflate_init(&mut this.zst, wbits);
        match err {
            Z_OK => {
                this.initialised = true;
                if this.zdict.is_some() && wbits < 0 {
                    this.set_inflate_zdict()?;
                }
                Ok(this)
            }
            Z_STREAM_ERROR => Err(Error::new(err, INVALID_INIT)),
            Z_MEM_ERROR => Err(Error::new(err, OOM_DECOMPRESSOBJ)),
            _ => Err(zlib_error(&this.zst, err, "while creating decompression object")),
        }
    }

    fn set_inflate_zdict(&mut self) -> Result<()> {
        let dict = self.zdict.as_deref().unwrap_or(&[]);
        if dict.len() > u32::MAX as usize {
            return Err(Error::new(Z_STREAM_ERROR, ZDICT_TOO_LONG));
        }
        // SAFETY: a valid z_stream; dict is valid for dict.len() bytes.
        let err = unsafe { z::inflateSetDictionary(&mut *self.zst, dict.as_ptr(), dict.len() as u32) };
        if err != Z_OK {
            return Err(zlib_error(&self.zst, err, "while setting zdict"));
        }
        Ok(())
    }

    /// `save_unconsumed_input()`: input past the end of the stream is appended to
    /// `unused_data`; input left because of `max_length` becomes `unconsumed_tail`.
    /// `had_tail` is whether `unconsumed_tail` was non-empty before the call.
    ///
    /// Like CPython, when a call that started with a non-empty tail reaches the end of the
    /// stream, the leftover goes to both `unused_data` and `unconsumed_tail`.
    fn save_unconsumed_input(&mut self, input: &InputCursor<'_>, had_tail: bool, err: c_int) {
        // `data + len - next_in`, before avail_in is cleared: next_in does not move.
        let rest = input.rest(&self.zst);
        if err == Z_STREAM_END && self.zst.avail_in > 0 {
            self.unused_data.extend_from_slice(rest);
            self.zst.avail_in = 0;
        }
        if self.zst.avail_in > 0 || had_tail {
            self.unconsumed_tail = rest.to_vec();
        }
    }

    /// `Decompress.decompress(data, max_length)`; `max_length` 0 means no limit.
    pub fn decompress(&mut self, data: &[u8], max_length: usize) -> Result<Vec<u8>> {
        let max_length = if max_length == 0 { None } else { Some(max_length) };
        let had_tail = !self.unconsumed_tail.is_empty();
        let mut input = InputCursor::start(&mut self.zst, data);
        let mut out = OutputBuffer::init_and_grow(max_length)?;
        let mut err = Z_OK;
        'outer: loop {
            input.arrange(&mut self.zst);
            loop {
                if out.avail_out() == 0 {
                    if Some(out.data_size()) == max_length {
                        break 'outer;
                    }
                    out.grow()?;
                }
                err = run(&mut out, &mut self.zst, |s| inflate(s, Z_SYNC_FLUSH));
                match err {
                    Z_OK | Z_BUF_ERROR | Z_STREAM_END => {}
                    Z_NEED_DICT if self.zdict.is_some() => self.set_inflate_zdict()?,
                    _ => break 'outer,
                }
                if !(out.avail_out() == 0 || err == Z_NEED_DICT) {
                    break;
                }
            }
            if err == Z_STREAM_END || input.remains == 0 {
                break;
            }
        }
        self.save_unconsumed_input(&input, had_tail, err);
        if err == Z_STREAM_END {
            // CPython only ends the stream in flush(), which keeps copy() working.
            self.eof = true;
        } else if err != Z_OK && err != Z_BUF_ERROR {
            return Err(zlib_error(&self.zst, err, "while decompressing data"));
        }
        Ok(out.finish())
    }

    /// `Decompress.flush(length)`: decompress the unconsumed tail to the end; errors in the
    /// data are not reported (as in CPython), the output so far is returned.
    pub fn flush(&mut self, length: usize) -> Result<Vec<u8>> {
        if length == 0 {
            return Err(Error::new(Z_STREAM_ERROR, LENGTH_NOT_POSITIVE));
        }
        let data = core::mem::take(&mut self.unconsumed_tail);
        let mut input = InputCursor::start(&mut self.zst, &data);
        let mut out = match OutputBuffer::init_with_size(length) {
            Ok(out) => out,
            Err(e) => {
                self.unconsumed_tail = data;
                return Err(e);
            }
        };
        let mut err;
        'outer: loop {
            input.arrange(&mut self.zst);
            let flush = if input.remains == 0 { Z_FINISH } else { Z_NO_FLUSH };
            loop {
                if out.avail_out() == 0
                    && let Err(e) = out.grow()
                {
                    self.unconsumed_tail = data;
                    return Err(e);
                }
                err = run(&mut out, &mut self.zst, |s| inflate(s, flush));
                match err {
                    Z_OK | Z_BUF_ERROR | Z_STREAM_END => {}
                    _ => break 'outer,
                }
                if !(out.avail_out() == 0 || err == Z_NEED_DICT) {
                    break;
                }
            }
            if err == Z_STREAM_END || input.remains == 0 {
                break;
            }
        }
        let had_tail = !data.is_empty();
        self.save_unconsumed_input(&input, had_tail, err);
        if err == Z_STREAM_END {
            self.eof = true;
            self.initialised = false;
            err = inflate_end(&mut self.zst);
            if err != Z_OK {
                return Err(zlib_error(&self.zst, err, "while finishing decompression"));
            }
        }
        Ok(out.finish())
    }

    /// `Decompress.copy()`; a stream ended by `flush()` cannot be copied (ValueError).
    pub fn copy(&self) -> Result<Self> {
        let mut new = Decompressor {
            zst: new_stream(),
            initialised: false,
            unused_data: Vec::new(),
            unconsumed_tail: Vec::new(),
            eof: false,
            zdict: None,
        };
        // SAFETY: both are valid z_streams; inflateCopy checks the source's state.
        let err = unsafe { z::inflateCopy(&mut *new.zst, &*self.zst) };
        match err {
            Z_OK => {}
            Z_STREAM_ERROR => return Err(Error::new(err, INCONSISTENT_STATE)),
            Z_MEM_ERROR => return Err(Error::new(err, OOM_DECOMPRESSOBJ)),
            _ => return Err(zlib_error(&self.zst, err, "while copying decompression object")),
        }
        new.initialised = true;
        new.unused_data = self.unused_data.clone();
        new.unconsumed_tail = self.unconsumed_tail.clone();
        new.zdict = self.zdict.clone();
        new.eof = self.eof;
        Ok(new)
    }

    pub fn unused_data(&self) -> &[u8] {
        &self.unused_data
    }

    pub fn unconsumed_tail(&self) -> &[u8] {
        &self.unconsumed_tail
    }

    pub fn eof(&self) -> bool {
        self.eof
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        if self.initialised {
            inflate_end(&mut self.zst);
        }
    }
}

#[cfg(test)]
mod tests;
