/* pylon's additions to wasi-libc's <unistd.h>: the sandbox identity (wasi-posix/identity.c).
 *
 * wasi-libc hides getuid() and friends under __wasilibc_unmodified_upstream because WASI
 * has no users; pylon defines them for one fixed sandbox user, so CPython's posixmodule.c
 * builds its own os.getuid()/os.getgroups()/os.getlogin() (configure finds the functions
 * in libpylon_posix.a) and socketmodule.c its socket.gethostname(). */
#include_next <unistd.h>

#ifndef PYLON_WASI_POSIX_UNISTD_H
#define PYLON_WASI_POSIX_UNISTD_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

uid_t getuid(void);
uid_t geteuid(void);
gid_t getgid(void);
gid_t getegid(void);
int getgroups(int, gid_t[]);
char *getlogin(void);
int getlogin_r(char *, size_t);
int gethostname(char *, size_t);

#ifdef __cplusplus
}
#endif

#endif
