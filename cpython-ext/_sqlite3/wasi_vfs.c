/* SQLite's `unix` VFS on WASI, adjusted at run time through its system-call table
 * (xSetSystemCall), so that the amalgamation is compiled as shipped.
 *
 * WASI has no byte-range locks: wasi-libc's fcntl(F_SETLK) fails with EINVAL. Here the
 * lock calls succeed without locking anything, and F_GETLK says nobody else holds one.
 * The unix VFS tracks the locks of every connection to a file (by inode) inside the
 * process, so the connections of one pylon instance keep SQLite's SHARED / RESERVED /
 * PENDING / EXCLUSIVE semantics ("database is locked", readers during a write). What is
 * not provided is locking against other processes writing the same file at the same time:
 * a mounted database must not be written from outside while pylon writes it
 * (`?vfs=unix-dotfile` in a URI takes SQLite's lock-directory scheme instead).
 *
 * Called by sqlite3_initialize() (compiled with SQLITE_EXTRA_INIT=pylon_sqlite3_wasi_init).
 */
#include <fcntl.h>
#include <stdarg.h>

#include "sqlite3.h"

/* sqlite3.c's fallbacks for the constants wasi-libc lacks (SQLITE_WASI, 32-bit long). */
#ifndef F_UNLCK
#define F_UNLCK 2
#endif
#ifndef F_GETLK
#define F_GETLK 12
#define F_SETLK 13
#define F_SETLKW 14
#endif

static int pylon_fcntl(int fd, int cmd, ...) {
    va_list args;
    int rc;
    va_start(args, cmd);
    switch (cmd) {
    case F_GETLK: {
        struct flock *lock = va_arg(args, struct flock *);
        lock->l_type = F_UNLCK;
        rc = 0;
        break;
    }
    case F_SETLK:
    case F_SETLKW:
        rc = 0;
        break;
    default:
        rc = fcntl(fd, cmd, va_arg(args, int));
        break;
    }
    va_end(args);
    return rc;
}

int pylon_sqlite3_wasi_init(const char *unused) {
    (void)unused;
    sqlite3_vfs *vfs = sqlite3_vfs_find("unix");
    if (vfs == 0 || vfs->xSetSystemCall == 0) {
        return SQLITE_ERROR;
    }
    return vfs->xSetSystemCall(vfs, "fcntl", (sqlite3_syscall_ptr)pylon_fcntl);
}
