/* The copying maps of wasi-posix/mman.c, for CPython's mmapmodule.c only (it includes this
 * instead of <sys/mman.h> on WASI: a patch in deps/patches.toml). The functions carry their
 * own names because zig links its libc.a, which holds wasi-libc's emulation of mmap, ahead
 * of any archive of ours: a second `mmap` would be a duplicate symbol. */
#ifndef PYLON_MMAN_H
#define PYLON_MMAN_H

#ifndef _WASI_EMULATED_MMAN
#define _WASI_EMULATED_MMAN
#endif
#include <sys/mman.h>

void *pylon_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset);
int pylon_munmap(void *addr, size_t length);
int pylon_msync(void *addr, size_t length, int flags);

#define mmap pylon_mmap
#define munmap pylon_munmap
#define msync pylon_msync

#endif
