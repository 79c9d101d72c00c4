//! SQLite's `unix` VFS on WASI: two adjustments, made at run time through the VFS's
//! system-call table (`xSetSystemCall`), so the amalgamation is compiled as shipped.
//!
//! **Positioned I/O.** Without `USE_PREAD` the VFS reads and writes with `lseek` + `read` /
//! `write`. The wasip2 libc serves `read` from an input stream it keeps per descriptor, and a
//! stream that once hit the end of the file stays there: a connection that opened a database
//! while it was empty (SQLite reads the header at open) then never saw the pages another
//! connection wrote ("file is not a database"). `pread`/`pwrite` are single
//! `descriptor.read`/`write` calls at an offset, with no stream, so `read`/`write` are
//! replaced by them at the descriptor's current offset.
//!
//! **Locking.** WASI has no byte-range locks (`fcntl(F_SETLK)` fails with EINVAL in
//! wasi-libc), and SQLite's own WASI default, the `unix-dotfile` VFS, takes one exclusive
//! lock for readers and writers alike (two connections cannot even read at once) and leaves
//! a stale `<db>.lock` directory behind a killed process.
//!
//! This cap keeps SQLite's regular `unix` VFS (POSIX locking) as the default and makes its
//! `fcntl` lock calls succeed without locking anything. The `unix` VFS tracks the locks of
//! every connection to a file (by inode) inside the process, so the connections of one pylon
//! instance see exactly SQLite's usual SHARED/RESERVED/PENDING/EXCLUSIVE semantics
//! (`database is locked`, readers during a write transaction, ...). What is not provided is
//! locking against *other processes* using the same file at the same time: mounted databases
//! must not be written concurrently from outside. (`unix-dotfile` stays available with
//! `?vfs=unix-dotfile` in a URI for that case.)

use core::ffi::{c_char, c_int, c_void};

use libsqlite3_sys as ffi;

// SQLite's WASI fallbacks for the constants wasi-libc lacks (sqlite3.c, `SQLITE_WASI`).
const F_UNLCK: i16 = 2;
const F_GETLK: c_int = 12;
const F_SETLK: c_int = 13;
const F_SETLKW: c_int = 14;

unsafe extern "C" {
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn pread(fd: c_int, buf: *mut c_void, count: usize, offset: i64) -> isize;
    fn pwrite(fd: c_int, buf: *const c_void, count: usize, offset: i64) -> isize;
    fn lseek(fd: c_int, offset: i64, whence: c_int) -> i64;
}

const SEEK_SET: c_int = 0;
const SEEK_CUR: c_int = 1;

/// `read` as `pread` at the current offset, which it then advances.
unsafe extern "C" fn wasi_read(fd: c_int, buf: *mut c_void, count: usize) -> isize {
    let offset = unsafe { lseek(fd, 0, SEEK_CUR) };
    if offset < 0 {
        return -1;
    }
    let got = unsafe { pread(fd, buf, count, offset) };
    if got > 0 {
        unsafe { lseek(fd, offset + got as i64, SEEK_SET) };
    }
    got
}

/// `write` as `pwrite` at the current offset, which it then advances.
unsafe extern "C" fn wasi_write(fd: c_int, buf: *const c_void, count: usize) -> isize {
    let offset = unsafe { lseek(fd, 0, SEEK_CUR) };
    if offset < 0 {
        return -1;
    }
    let put = unsafe { pwrite(fd, buf, count, offset) };
    if put > 0 {
        unsafe { lseek(fd, offset + put as i64, SEEK_SET) };
    }
    put
}

/// SQLite calls its `fcntl` slot as `int (*)(int, int, ...)`. In the WebAssembly C ABI a
/// variadic callee receives the variadic arguments as a pointer to a buffer holding them
/// in order, each at its natural alignment: here one pointer or one int, at offset 0.
unsafe extern "C" fn wasi_fcntl(fd: c_int, cmd: c_int, varargs: *const c_void) -> c_int {
    match cmd {
        F_GETLK => {
            // Nobody else holds a lock: `struct flock` starts with `short l_type`.
            let lock = unsafe { *(varargs as *const *mut i16) };
            unsafe { *lock = F_UNLCK };
            0
        }
        F_SETLK | F_SETLKW => 0,
        _ => {
            let arg = unsafe { *(varargs as *const c_int) };
            unsafe { fcntl(fd, cmd, arg) }
        }
    }
}

/// Points the `unix` VFS's `fcntl`, `read` and `write` at the functions above (the slots
/// are shared by all `unix*` VFSes) and makes `unix` the default VFS.
pub fn install() {
    unsafe {
        let vfs = ffi::sqlite3_vfs_find(c"unix".as_ptr());
        if vfs.is_null() {
            return;
        }
        if let Some(set) = (*vfs).xSetSystemCall {
            let fcntl_fn: unsafe extern "C" fn(c_int, c_int, *const c_void) -> c_int = wasi_fcntl;
            let read_fn: unsafe extern "C" fn(c_int, *mut c_void, usize) -> isize = wasi_read;
            let write_fn: unsafe extern "C" fn(c_int, *const c_void, usize) -> isize = wasi_write;
            let slots: [(&core::ffi::CStr, unsafe extern "C" fn()); 3] = [
                (c"fcntl", core::mem::transmute::<_, unsafe extern "C" fn()>(fcntl_fn)),
                (c"read", core::mem::transmute::<_, unsafe extern "C" fn()>(read_fn)),
                (c"write", core::mem::transmute::<_, unsafe extern "C" fn()>(write_fn)),
            ];
            for (name, f) in slots {
                set(vfs, name.as_ptr() as *const c_char, Some(f));
            }
        }
        ffi::sqlite3_vfs_register(vfs, 1);
    }
}
