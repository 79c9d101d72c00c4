/* umask(): the file mode creation mask, recorded and answered.
 *
 * WASI has no permission bits: files are created without a mode and `st_mode` carries only
 * the file type. Programs still ask for the mask the POSIX way, setting one to read the old
 * one back (pip's unpacking does `os.umask(0); os.umask(old)` before it installs a wheel),
 * so pylon keeps a process-wide mask with the usual default, 022, and returns the previous
 * value as POSIX says. Setting it changes nothing on disk, because there is nothing there
 * for it to change. */

#include <sys/stat.h>

static mode_t creation_mask = 022;

mode_t umask(mode_t mask) {
    mode_t previous = creation_mask;
    creation_mask = mask & 0777;
    return previous;
}
