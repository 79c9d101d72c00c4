/* mmap for CPython's `mmap` module on WASI.
 *
 * WASI has no virtual memory to map a file into, so a mapping is a copy: mmap() reads the
 * file's range into memory. wasi-libc's own emulation (-lwasi-emulated-mman) does the same
 * but drops every write to a MAP_SHARED map and has no msync(), so `mmap.flush()` would not
 * link and a changed map would quietly never reach its file. Here a shared, writable map is
 * written back with pwrite() by msync() (`mmap.flush()`) and by munmap() (`mmap.close()`),
 * to the descriptor it was made from — and only while that descriptor still names the same
 * file (device and inode checked), never into whatever file reuses the number later: then
 * msync() fails with EBADF. What differs from a real mapping, and is documented:
 *   - other openers of the file see a shared map's writes only after flush() or close();
 *   - writes to the file made after mmap() are not seen through the map;
 *   - a map must be flushed or closed before its file is closed, or its writes are lost
 *     (CPython's mmap.close() does not report munmap()'s error).
 * Only the flags CPython uses are accepted; anything else is EINVAL, as wasi-libc's.
 *
 * The functions are named pylon_mmap/pylon_munmap/pylon_msync and only mmapmodule.c calls
 * them, through include/pylon_mman.h (which says why they are renamed). configure is told
 * there is no mmap (deps/config.site-wasi), so the rest of CPython (obmalloc's arenas)
 * keeps using malloc. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "pylon_mman.h"
#include <unistd.h>

/* In front of each map's bytes; 16-byte aligned so the map is aligned like malloc's. */
struct map {
    size_t length;
    off_t offset;
    int fd;
    int writeback;
    dev_t dev;
    ino_t ino;
    struct map *next;
} __attribute__((aligned(16)));

/* Every live map, so msync() can find the one an address lies in (WASI is single-threaded). */
static struct map *maps;

static struct map *containing(const char *addr, size_t length) {
    for (struct map *m = maps; m != NULL; m = m->next) {
        const char *body = (const char *)(m + 1);
        if (addr >= body && addr <= body + m->length && length <= (size_t)(body + m->length - addr))
            return m;
    }
    return NULL;
}

void *pylon_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) {
    (void)addr;
    int kind = flags & (MAP_SHARED | MAP_PRIVATE);
    if ((kind != MAP_SHARED && kind != MAP_PRIVATE) || (flags & ~(MAP_SHARED | MAP_PRIVATE | MAP_ANONYMOUS)) != 0 ||
        prot == PROT_NONE || (prot & ~(PROT_READ | PROT_WRITE)) != 0 || length == 0 || offset < 0) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    size_t total;
    if (__builtin_add_overflow(length, sizeof(struct map), &total)) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    struct map *map = aligned_alloc(16, (total + 15) & ~(size_t)15);
    if (map == NULL) {
        errno = ENOMEM;
        return MAP_FAILED;
    }
    memset(map, 0, sizeof *map);
    map->length = length;
    map->offset = offset;
    map->fd = -1;
    char *body = (char *)(map + 1);
    memset(body, 0, length);
    if ((flags & MAP_ANONYMOUS) == 0) {
        struct stat st;
        if (fstat(fd, &st) != 0) {
            free(map);
            return MAP_FAILED;
        }
        size_t done = 0;
        while (done < length) {
            ssize_t n = pread(fd, body + done, length - done, offset + (off_t)done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                int saved = errno;
                free(map);
                errno = saved;
                return MAP_FAILED;
            }
            if (n == 0)
                break; /* past the end of the file: zeros, as a real map's last page */
            done += (size_t)n;
        }
        if (kind == MAP_SHARED && (prot & PROT_WRITE)) {
            map->writeback = 1;
            map->fd = fd;
            map->dev = st.st_dev;
            map->ino = st.st_ino;
        }
    }
    map->next = maps;
    maps = map;
    return body;
}

/* Writes [addr, addr+length) of a shared map back to its file. */
static int write_back(struct map *map, const char *from, size_t length) {
    struct stat st;
    if (fstat(map->fd, &st) != 0 || st.st_dev != map->dev || st.st_ino != map->ino) {
        errno = EBADF;
        return -1;
    }
    const char *body = (const char *)(map + 1);
    off_t at = map->offset + (off_t)(from - body);
    size_t done = 0;
    while (done < length) {
        ssize_t n = pwrite(map->fd, from + done, length - done, at + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* mmap.flush(offset, size) passes a range inside one map (offset a multiple of the page). */
int pylon_msync(void *addr, size_t length, int flags) {
    (void)flags;
    struct map *map = containing(addr, length);
    if (map == NULL) {
        errno = ENOMEM; /* POSIX: the range is not mapped */
        return -1;
    }
    return map->writeback ? write_back(map, addr, length) : 0;
}

/* CPython unmaps only whole maps, at the address mmap() returned. */
int pylon_munmap(void *addr, size_t length) {
    struct map **link = &maps;
    while (*link != NULL && (char *)(*link + 1) != (char *)addr)
        link = &(*link)->next;
    struct map *map = *link;
    if (map == NULL || map->length != length) {
        errno = EINVAL;
        return -1;
    }
    *link = map->next;
    int result = 0;
    if (map->writeback)
        result = write_back(map, addr, length);
    int saved = errno;
    free(map);
    errno = saved;
    return result;
}

