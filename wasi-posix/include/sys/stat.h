/* pylon's addition to wasi-libc's <sys/stat.h>: umask() (wasi-posix/umask.c).
 *
 * wasi-libc hides umask() under __wasilibc_unmodified_upstream because WASI has no
 * permission bits; pylon defines it as a recorded mask, so CPython builds os.umask(). */
#include_next <sys/stat.h>

#ifndef PYLON_WASI_POSIX_SYS_STAT_H
#define PYLON_WASI_POSIX_SYS_STAT_H

#ifdef __cplusplus
extern "C" {
#endif

mode_t umask(mode_t);

#ifdef __cplusplus
}
#endif

#endif
