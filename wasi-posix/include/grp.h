/* <grp.h> for pylon: wasi-libc has none. The groups of wasi-posix/identity.c: `pylon`, the
 * sandbox user's only group, and `root`. Layout and names as in musl's <grp.h>. */
#ifndef PYLON_WASI_POSIX_GRP_H
#define PYLON_WASI_POSIX_GRP_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct group {
    char *gr_name;
    char *gr_passwd;
    gid_t gr_gid;
    char **gr_mem;
};

struct group *getgrgid(gid_t);
struct group *getgrnam(const char *);
int getgrgid_r(gid_t, struct group *, char *, size_t, struct group **);
int getgrnam_r(const char *, struct group *, char *, size_t, struct group **);

struct group *getgrent(void);
void endgrent(void);
void setgrent(void);

#ifdef __cplusplus
}
#endif

#endif
