/* <pwd.h> for pylon: wasi-libc has none (WASI has no users). The database is the fixed one
 * of wasi-posix/identity.c: the sandbox user `pylon` and `root`, the owner WASI reports for
 * every file. Layout and names as in musl's <pwd.h>. */
#ifndef PYLON_WASI_POSIX_PWD_H
#define PYLON_WASI_POSIX_PWD_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct passwd {
    char *pw_name;
    char *pw_passwd;
    uid_t pw_uid;
    gid_t pw_gid;
    char *pw_gecos;
    char *pw_dir;
    char *pw_shell;
};

void setpwent(void);
void endpwent(void);
struct passwd *getpwent(void);

struct passwd *getpwuid(uid_t);
struct passwd *getpwnam(const char *);
int getpwuid_r(uid_t, struct passwd *, char *, size_t, struct passwd **);
int getpwnam_r(const char *, struct passwd *, char *, size_t, struct passwd **);

#ifdef __cplusplus
}
#endif

#endif
