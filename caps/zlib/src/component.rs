//! The WIT glue: a thin wrapper around [`crate::engine`]. Resources get `&self`, so each
//! holds its engine object in a `RefCell` (a component instance is single-threaded and
//! never re-entered while a call runs).

use core::cell::RefCell;

use crate::engine;

wit_bindgen::generate!({ path: "wit", world: "zlib-cap" });

use exports::pylon::zlib::zlib::{Compressor, Decompressor, Guest, GuestCompressor, GuestDecompressor, ZlibError};

struct Cap;

export!(Cap);

fn err(e: engine::Error) -> ZlibError {
    ZlibError { code: e.code, message: e.message }
}

/// A `u64` size from the interface; anything past the address space means "no limit".
fn size(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Re-entry would be a bug in the host; report it instead of trapping.
fn busy() -> ZlibError {
    ZlibError { code: -2, message: "Error -2 while using the stream: object in use".into() }
}

impl Guest for Cap {
    type Compressor = CompressorRes;
    type Decompressor = DecompressorRes;

    fn compress(data: Vec<u8>, level: i32, wbits: i32) -> Result<Vec<u8>, ZlibError> {
        engine::compress(&data, level, wbits).map_err(err)
    }

    fn decompress(data: Vec<u8>, wbits: i32, bufsize: u64) -> Result<Vec<u8>, ZlibError> {
        engine::decompress(&data, wbits, size(bufsize)).map_err(err)
    }

    fn crc32(data: Vec<u8>, value: u32) -> u32 {
        engine::crc32(&data, value)
    }

    fn adler32(data: Vec<u8>, value: u32) -> u32 {
        engine::adler32(&data, value)
    }

    fn version() -> String {
        engine::version()
    }
}

struct CompressorRes(RefCell<engine::Compressor>);

impl GuestCompressor for CompressorRes {
    fn create(
        level: i32,
        method: i32,
        wbits: i32,
        mem_level: i32,
        strategy: i32,
        zdict: Option<Vec<u8>>,
    ) -> Result<Compressor, ZlibError> {
        let c = engine::Compressor::new(level, method, wbits, mem_level, strategy, zdict.as_deref()).map_err(err)?;
        Ok(Compressor::new(CompressorRes(RefCell::new(c))))
    }

    fn compress(&self, data: Vec<u8>) -> Result<Vec<u8>, ZlibError> {
        self.0.try_borrow_mut().map_err(|_| busy())?.compress(&data).map_err(err)
    }

    fn flush(&self, mode: i32) -> Result<Vec<u8>, ZlibError> {
        self.0.try_borrow_mut().map_err(|_| busy())?.flush(mode).map_err(err)
    }

    fn copy(&self) -> Result<Compressor, ZlibError> {
        let c = self.0.try_borrow_mut().map_err(|_| busy())?.copy().map_err(err)?;
        Ok(Compressor::new(CompressorRes(RefCell::new(c))))
    }
}

struct DecompressorRes(RefCell<engine::Decompressor>);

impl GuestDecompressor for DecompressorRes {
    fn create(wbits: i32, zdict: Option<Vec<u8>>) -> Result<Decompressor, ZlibError> {
        let d = engine::Decompressor::new(wbits, zdict.as_deref()).map_err(err)?;
        Ok(Decompressor::new(DecompressorRes(RefCell::new(d))))
    }

    fn decompress(&self, data: Vec<u8>, max_length: u64) -> Result<Vec<u8>, ZlibError> {
        self.0.try_borrow_mut().map_err(|_| busy())?.decompress(&data, size(max_length)).map_err(err)
    }

    fn flush(&self, length: u64) -> Result<Vec<u8>, ZlibError> {
        self.0.try_borrow_mut().map_err(|_| busy())?.flush(size(length)).map_err(err)
    }

    fn copy(&self) -> Result<Decompressor, ZlibError> {
        let d = self.0.try_borrow().map_err(|_| busy())?.copy().map_err(err)?;
        Ok(Decompressor::new(DecompressorRes(RefCell::new(d))))
    }

    fn unused_data(&self) -> Vec<u8> {
        self.0.try_borrow().map(|d| d.unused_data().to_vec()).unwrap_or_default()
    }

    fn unconsumed_tail(&self) -> Vec<u8> {
        self.0.try_borrow().map(|d| d.unconsumed_tail().to_vec()).unwrap_or_default()
    }

    fn eof(&self) -> bool {
        self.0.try_borrow().map(|d| d.eof()).unwrap_or(false)
    }
}
