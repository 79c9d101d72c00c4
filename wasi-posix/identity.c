/* The sandbox identity: who a pylon program runs as.
 *
 * WASI has no users, groups or host name, and wasi-libc defines none of getuid(),
 * getpwuid(), gethostname()... Programs that ask anyway (pip's `from os import getuid`,
 * getpass.getuser(), platformdirs, pathlib's owner()) should get one fixed, documented
 * answer rather than an AttributeError, so pylon links these definitions into the core and
 * CPython's configure finds them (its own posixmodule.c, pwdmodule.c and grpmodule.c then
 * build as on any POSIX system):
 *
 *   user  pylon  uid 1000, gid 1000, groups [1000], home /home/pylon, shell /bin/sh
 *   group pylon  gid 1000, members: pylon
 *   root         uid 0 / gid 0 — in the database only because WASI reports uid 0 and gid 0
 *                as the owner of every file (st_uid, st_gid), and those need a name too.
 *   host name    localhost
 *
 * Nothing here grants anything: the sandbox's rights are its mounts. The home directory
 * does not exist unless the runner mounts one there (`--dir DIR::/home/pylon`). There is
 * no setuid() and no way to change identity, as WASI has nothing to change. */

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define SANDBOX_UID 1000
#define SANDBOX_GID 1000
#define SANDBOX_USER "pylon"
#define SANDBOX_HOST "localhost"

uid_t getuid(void) { return SANDBOX_UID; }
uid_t geteuid(void) { return SANDBOX_UID; }
gid_t getgid(void) { return SANDBOX_GID; }
gid_t getegid(void) { return SANDBOX_GID; }

int getgroups(int size, gid_t list[]) {
    if (size == 0)
        return 1;
    if (size < 0) {
        errno = EINVAL;
        return -1;
    }
    list[0] = SANDBOX_GID;
    return 1;
}

static char login_name[] = SANDBOX_USER;

char *getlogin(void) { return login_name; }

/* Copies `text` with its NUL into buf[size]; ERANGE (the value getlogin_r and the *_r
 * lookups return) when it does not fit. */
static int copy_out(const char *text, char *buf, size_t size) {
    size_t len = strlen(text);
    if (buf == NULL || len >= size)
        return ERANGE;
    memcpy(buf, text, len + 1);
    return 0;
}

int getlogin_r(char *buf, size_t size) { return copy_out(SANDBOX_USER, buf, size); }

int gethostname(char *name, size_t len) {
    /* POSIX leaves truncation unspecified; like glibc, refuse it. */
    if (copy_out(SANDBOX_HOST, name, len) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* The user database. */

static struct passwd users[] = {
    {"root", "x", 0, 0, "root", "/root", "/bin/sh"},
    {SANDBOX_USER, "x", SANDBOX_UID, SANDBOX_GID, "pylon sandbox user", "/home/pylon", "/bin/sh"},
};
#define NUSERS (sizeof users / sizeof users[0])

/* Strings of an entry copied into the caller's buffer, for the reentrant lookups. */
static int fill_passwd(const struct passwd *from, struct passwd *pw, char *buf, size_t size) {
    const char *fields[] = {from->pw_name, from->pw_passwd, from->pw_gecos, from->pw_dir, from->pw_shell};
    char **into[] = {&pw->pw_name, &pw->pw_passwd, &pw->pw_gecos, &pw->pw_dir, &pw->pw_shell};
    size_t used = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        size_t len = strlen(fields[i]) + 1;
        if (buf == NULL || size - used < len)
            return ERANGE;
        memcpy(buf + used, fields[i], len);
        *into[i] = buf + used;
        used += len;
    }
    pw->pw_uid = from->pw_uid;
    pw->pw_gid = from->pw_gid;
    return 0;
}

static const struct passwd *user_by_uid(uid_t uid) {
    for (size_t i = 0; i < NUSERS; i++)
        if (users[i].pw_uid == uid)
            return &users[i];
    return NULL;
}

static const struct passwd *user_by_name(const char *name) {
    for (size_t i = 0; i < NUSERS; i++)
        if (name != NULL && strcmp(users[i].pw_name, name) == 0)
            return &users[i];
    return NULL;
}

/* The non-reentrant lookups hand out the static entries: callers must not write to them,
 * which is also the rule for the static storage of any libc's getpwuid(). */
struct passwd *getpwuid(uid_t uid) { return (struct passwd *)user_by_uid(uid); }
struct passwd *getpwnam(const char *name) { return (struct passwd *)user_by_name(name); }

static int passwd_r(const struct passwd *found, struct passwd *pw, char *buf, size_t size, struct passwd **result) {
    *result = NULL;
    if (found == NULL)
        return 0; /* not found is not an error */
    int err = fill_passwd(found, pw, buf, size);
    if (err == 0)
        *result = pw;
    return err;
}

int getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t size, struct passwd **result) {
    return passwd_r(user_by_uid(uid), pw, buf, size, result);
}

int getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t size, struct passwd **result) {
    return passwd_r(user_by_name(name), pw, buf, size, result);
}

static size_t next_user;
void setpwent(void) { next_user = 0; }
void endpwent(void) { next_user = 0; }
struct passwd *getpwent(void) { return next_user < NUSERS ? &users[next_user++] : NULL; }

/* The group database. */

static char *root_members[] = {NULL};
static char *pylon_members[] = {SANDBOX_USER, NULL};
static struct group groups[] = {
    {"root", "x", 0, root_members},
    {SANDBOX_USER, "x", SANDBOX_GID, pylon_members},
};
#define NGROUPS (sizeof groups / sizeof groups[0])

static const struct group *group_by_gid(gid_t gid) {
    for (size_t i = 0; i < NGROUPS; i++)
        if (groups[i].gr_gid == gid)
            return &groups[i];
    return NULL;
}

static const struct group *group_by_name(const char *name) {
    for (size_t i = 0; i < NGROUPS; i++)
        if (name != NULL && strcmp(groups[i].gr_name, name) == 0)
            return &groups[i];
    return NULL;
}

struct group *getgrgid(gid_t gid) { return (struct group *)group_by_gid(gid); }
struct group *getgrnam(const char *name) { return (struct group *)group_by_name(name); }

/* Copies a group into buf: the member pointer array first (aligned), then the strings. */
static int fill_group(const struct group *from, struct group *gr, char *buf, size_t size) {
    size_t nmem = 0;
    while (from->gr_mem[nmem] != NULL)
        nmem++;
    if (buf == NULL)
        return ERANGE;
    size_t pad = (uintptr_t)buf % sizeof(char *) ? sizeof(char *) - (uintptr_t)buf % sizeof(char *) : 0;
    size_t used = pad + (nmem + 1) * sizeof(char *);
    if (used > size)
        return ERANGE;
    char **mem = (char **)(buf + pad);
    const char *name_pw[] = {from->gr_name, from->gr_passwd};
    char **into[] = {&gr->gr_name, &gr->gr_passwd};
    for (size_t i = 0; i < 2 + nmem; i++) {
        const char *text = i < 2 ? name_pw[i] : from->gr_mem[i - 2];
        size_t len = strlen(text) + 1;
        if (size - used < len)
            return ERANGE;
        memcpy(buf + used, text, len);
        if (i < 2)
            *into[i] = buf + used;
        else
            mem[i - 2] = buf + used;
        used += len;
    }
    mem[nmem] = NULL;
    gr->gr_mem = mem;
    gr->gr_gid = from->gr_gid;
    return 0;
}

static int group_r(const struct group *found, struct group *gr, char *buf, size_t size, struct group **result) {
    *result = NULL;
    if (found == NULL)
        return 0;
    int err = fill_group(found, gr, buf, size);
    if (err == 0)
        *result = gr;
    return err;
}

int getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t size, struct group **result) {
    return group_r(group_by_gid(gid), gr, buf, size, result);
}

int getgrnam_r(const char *name, struct group *gr, char *buf, size_t size, struct group **result) {
    return group_r(group_by_name(name), gr, buf, size, result);
}

static size_t next_group;
void setgrent(void) { next_group = 0; }
void endgrent(void) { next_group = 0; }
struct group *getgrent(void) { return next_group < NGROUPS ? &groups[next_group++] : NULL; }
