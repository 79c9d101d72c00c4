//! Locking on WASI. WASI has no byte-range locks (`fcntl(F_SETLK)` fails with EINVAL in
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

/// Points the `unix` VFS's `fcntl` at [`wasi_fcntl`] and makes `unix` the default VFS.
pub fn install() {
    unsafe {
        let vfs = ffi::sqlite3_vfs_find(c"unix".as_ptr());
        if vfs.is_null() {
            return;
        }
        if let Some(set) = (*vfs).xSetSystemCall {
            let f: unsafe extern "C" fn(c_int, c_int, *const c_void) -> c_int = wasi_fcntl;
            set(vfs, c"fcntl".as_ptr() as *const c_char, Some(core::mem::transmute::<_, unsafe extern "C" fn()>(f)));
        }
        ffi::sqlite3_vfs_register(vfs, 1);
    }
}
